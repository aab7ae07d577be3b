//! imapsync's behaviour at the edges, as scripts that wrap it see it: usage text, the lines
//! early exits end with, justconnect on one side, password on standard input, per-side
//! timeouts, the just* modes, imapsync's usage errors. Checked side by side with imapsync
//! 2.229 against the same servers.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::{Pair, run_in, strings};
use imapsync_testkit::{Corpus, Layout, fill};

/// The closing line every run ends with, as imapsync prints it.
fn exiting(r: &common::Run, code: i32) -> bool {
    r.out.lines().any(|l| {
        l.starts_with(&format!("Exiting with return value {code} ("))
            && l.contains(" nb_errors/max_errors PID ")
    })
}

#[test]
fn usage_text_has_imapsyncs_layout() {
    let dir = tempfile::tempdir().expect("tempdir");
    let r = run_in(dir.path(), &[], &[]);
    assert_eq!(r.code, 0);
    assert!(r.out.starts_with("Name:\n"), "{}", r.show());
    let at = |h: &str| {
        r.out
            .find(h)
            .unwrap_or_else(|| panic!("{h} missing:\n{}", r.out))
    };
    assert!(at("\nVersion:\n") < at("\nUsage:\n") && at("\nUsage:\n") < at("\nOptions:\n"));
    assert!(r.out.contains("Homepage: https://imapsync.lamiral.info/"));
}

#[test]
fn imapsyncs_usage_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let r = run_in(dir.path(), &strings(&["--delete", "2"]), &[]);
    assert_eq!(r.code, 64, "{}", r.show());
    assert!(
        r.has("May be you mean --delete2 instead of --delete 2"),
        "{}",
        r.show()
    );
    let r = run_in(
        dir.path(),
        &strings(&[
            "--host1",
            "a",
            "--user1",
            "u",
            "--password1",
            "p",
            "--host2",
            "b",
            "--user2",
            "v",
            "--password2",
            "q",
            "--usecache",
            "--skipcrossduplicates",
        ]),
        &[],
    );
    assert_eq!(r.code, 64, "{}", r.show());
    assert!(
        r.has("can not have both --usecache and --skipcrossduplicates"),
        "{}",
        r.show()
    );
}

#[test]
fn justbanner_connects_nowhere_and_ends_with_the_exit_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Hosts that do not exist: nothing is looked up.
    let r = run_in(
        dir.path(),
        &strings(&[
            "--justbanner",
            "--host1",
            "nowhere.invalid",
            "--user1",
            "u",
            "--host2",
            "nowhere.invalid",
            "--user2",
            "v",
        ]),
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.show());
    assert!(r.has("Exiting because of --justbanner"), "{}", r.show());
    assert!(exiting(&r, 0), "{}", r.show());
    assert!(!r.has("connecting"), "{}", r.show());
}

#[test]
fn one_host_only_is_a_justconnect_on_that_side() {
    let p = Pair::new(Layout::Slash, Layout::DotPrefix);
    for (n, server) in [(1, &p.h1), (2, &p.h2)] {
        let args = strings(&[
            &format!("--host{n}"),
            server.host(),
            &format!("--port{n}"),
            &server.port().to_string(),
            &format!("--sslargs{n}"),
            &format!("SSL_ca_file={}", server.ca_cert_path().display()),
        ]);
        let r = run_in(p.dir.path(), &args, &[]);
        assert_eq!(r.code, 0, "{}", r.show());
        assert!(
            r.has(&format!(
                "Host{n}: Will just connect to 127.0.0.1 without login"
            )),
            "{}",
            r.show()
        );
        assert!(r.has(&format!("Host{n} banner: ")), "{}", r.show());
        assert!(
            r.has("Exiting after a justconnect on host(s): 127.0.0.1 "),
            "{}",
            r.show()
        );
        assert!(exiting(&r, 0), "{}", r.show());
        assert!(!r.has("++++ Statistics"), "{}", r.show());
    }
    // A side that can not be reached: exit 10, as imapsync.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = dead.local_addr().map(|a| a.port()).expect("port");
    drop(dead);
    let r = run_in(
        p.dir.path(),
        &strings(&["--host1", "127.0.0.1", "--port1", &port.to_string()]),
        &[],
    );
    assert_eq!(r.code, 10, "{}", r.show());
    assert!(
        r.has("Host1: Can not open imap connection on [127.0.0.1]"),
        "{}",
        r.show()
    );
    assert!(exiting(&r, 10), "{}", r.show());
}

#[test]
fn the_password_is_read_from_standard_input_when_not_given() {
    let p = Pair::new(Layout::Slash, Layout::Slash);
    let mut args = p.base_args();
    // Drop --password1 and its value.
    let i = args
        .iter()
        .position(|a| a == "--password1")
        .expect("--password1");
    args.drain(i..i + 2);
    args.push("--justlogin".into());
    let mut child = Command::new(common::bin())
        .args(&args)
        .current_dir(p.dir.path())
        .env("HOME", p.dir.path())
        .env("XDG_STATE_HOME", p.dir.path().join("state"))
        .env_remove("IMAPSYNC_PASSWORD1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"pass1\n")
        .expect("write the password");
    let o = child.wait_with_output().expect("wait");
    let (out, err) = (
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
    );
    assert_eq!(o.status.code(), Some(0), "{out}\n{err}");
    assert!(
        err.contains("What's the password for user1 at 127.0.0.1?"),
        "{err}"
    );
    assert!(out.contains("Host1: success login on"), "{out}");
    assert!(
        !out.contains("pass1") && !err.contains("pass1\n"),
        "the password is never printed"
    );
    // Nothing on standard input: a clear usage error, nothing attempted.
    let r = run_in(p.dir.path(), &args, &[]);
    assert_eq!(r.code, 64, "{}", r.show());
    assert!(r.has("No password for user1"), "{}", r.show());
}

#[test]
fn just_modes_end_as_imapsync_does() {
    let p = Pair::new(Layout::DotPrefix, Layout::Slash);
    fill(&p.h1, "user1", "pass1", &Corpus::small()).expect("fill");
    let r = p.sync(&["--justlogin", "--timeout1", "33"]);
    assert!(
        r.has("Host1: imap connection timeout is 33 seconds"),
        "{}",
        r.show()
    );
    assert!(
        r.has("Host2: imap connection timeout is 120 seconds"),
        "{}",
        r.show()
    );
    for mode in [
        "--justlogin",
        "--justfolderlists",
        "--justautomap",
        "--justfoldersizes",
    ] {
        let r = p.sync(&[mode]);
        assert!(r.has(&format!("Exiting because of {mode}")), "{}", r.show());
        assert!(exiting(&r, 0), "{}", r.show());
        assert!(
            !r.has("++++ Statistics"),
            "{mode}: no statistics block\n{}",
            r.show()
        );
    }
    // --justfoldersizes: imapsync's table, with each folder's biggest message and the
    // difference line, then the totals and the time spent.
    let r = p.sync(&["--justfoldersizes"]);
    let inbox1 = r
        .out
        .lines()
        .find(|l| l.starts_with("Host1 folder ") && l.contains("[INBOX] "))
        .unwrap_or_else(|| panic!("no INBOX line:\n{}", r.out));
    assert!(
        inbox1.contains(" Size: ")
            && inbox1.contains(" Messages: ")
            && inbox1.contains(" Biggest: "),
        "{inbox1}"
    );
    assert!(r.has("does not exist yet"), "{}", r.show());
    assert!(
        r.out.lines().any(|l| l.starts_with("Host2-Host1 ")),
        "{}",
        r.show()
    );
    for total in [
        "Host1 Nb folders:",
        "Host1 Nb messages:",
        "Host1 Total size:",
        "Host1 Biggest message:",
        "Host2 Biggest message:",
        "Time spent on sizing:",
    ] {
        assert!(r.has(total), "{total}\n{}", r.show());
    }
    // --justfolders goes through the folders and prints the statistics.
    let r = p.sync(&["--justfolders", "--dry"]);
    assert!(r.has("++++ Statistics"), "{}", r.show());
    // A sync: each copy line ends with imapsync's ETA.
    let r = p.sync(&[]);
    let copies: Vec<&str> = r
        .out
        .lines()
        .filter(|l| l.starts_with("msg ") && l.contains(" copied to "))
        .collect();
    assert!(!copies.is_empty(), "{}", r.show());
    assert!(
        copies
            .iter()
            .all(|l| l.contains(" copied ETA: ") && l.ends_with(" msgs left")),
        "{copies:?}"
    );
    assert!(
        copies
            .last()
            .is_some_and(|l| l.ends_with(" 0/63 msgs left")),
        "{copies:?}"
    );
}

#[test]
fn a_server_that_can_not_search_is_listed_in_full_and_ages_filtered_on_our_side() {
    use imapsync_testkit::shim::{Action, Rule, Shim, When};
    let h1 = imapsync_testkit::Dovecot::builder(Layout::DotPrefix)
        .no_tls()
        .start()
        .expect("host1");
    let h2 = imapsync_testkit::Dovecot::start(Layout::Slash).expect("host2");
    let p = Pair::with(h1, h2);
    let mut c = p.imap1();
    c.append(
        "INBOX",
        &[],
        Some("01-Jan-2001 10:00:00 +0000"),
        &common::message("old", "old", "old"),
    )
    .expect("append");
    c.append("INBOX", &[], None, &common::message("new", "new", "new"))
        .expect("append");
    // Host1 answers every SEARCH with nothing.
    let shim = Shim::start(
        (p.h1.host(), p.h1.port()),
        vec![Rule::new(
            When::command("UID SEARCH"),
            Action::Reply("OK SEARCH completed".into()),
        )],
    )
    .expect("shim");
    let mut a = p.args_via(1, shim.port(), &["--nossl1", "--notls1", "--maxage", "365"]);
    a.push("--nofoldersizes".into());
    let r = run_in(p.dir.path(), &a, &[]);
    assert_eq!(r.code, 0, "{}", r.show());
    assert!(
        r.has(
            "Host1: Warning, folder [INBOX] has not the same count by SELECT (2) and SEARCH ALL (0)"
        ),
        "{}",
        r.show()
    );
    assert!(
        r.has("At least one account can not SEARCH ALL. So acting like --noabletosearch"),
        "{}",
        r.show()
    );
    // Every message was listed, the old one filtered out on our side.
    assert_eq!(r.num("Messages transferred"), 1, "{}", r.show());
    let ids: Vec<String> = p
        .snap2()
        .get("INBOX")
        .map(|m| m.iter().filter_map(|m| m.message_id.clone()).collect())
        .unwrap_or_default();
    assert_eq!(ids, vec!["<new@example.org>".to_string()]);
    // With a server that searches, the check says so.
    let r = p.sync(&["--maxage", "365", "--nossl1", "--notls1"]);
    assert!(
        r.has("Good! SEARCH ALL works on both accounts."),
        "{}",
        r.show()
    );
}

#[test]
fn nomixfolders_keeps_folders_that_differ_by_case_apart() {
    let p = Pair::new(Layout::Slash, Layout::Slash);
    let mut c = p.imap1();
    // (Distinct Message-IDs: imapsync's identity ignores case.)
    for (f, id) in [("Work", "w-one"), ("work", "w-two")] {
        c.create(f).expect("create");
        c.append(f, &[], None, &common::message(id, f, f))
            .expect("append");
    }
    // Both map to the same host2 folder when --regextrans2 lowers the case.
    let r = p.sync(&[
        "--regextrans2",
        "s/Work/work/",
        "--nomixfolders",
        "--nofoldersizes",
    ]);
    assert!(
        r.has(
            "Folder [work] already exists and --nomixfolders is set: [work] is not synced into it"
        ),
        "{}",
        r.show()
    );
    assert_eq!(p.snap2().get("work").map(Vec::len), Some(1));
    // Merged by default, as imapsync.
    let r = p.sync(&["--regextrans2", "s/Work/work/", "--nofoldersizes"]);
    assert_eq!(r.num("Messages transferred"), 1, "{}", r.show());
    assert_eq!(p.snap2().get("work").map(Vec::len), Some(2));
}

#[test]
fn debug_options_print_what_imapsync_prints_and_no_ops_say_so() {
    let p = Pair::new(Layout::Slash, Layout::Slash);
    p.imap1()
        .append("INBOX", &[], None, &common::message("d", "d", "d"))
        .expect("append");
    let r = p.sync(&[
        "--debugfolders",
        "--debuglist",
        "--debugmemory",
        "--debugenv",
        "--debugsig",
        "--fastio1",
        "--split2",
        "100",
        "--showpasswords",
    ]);
    assert!(r.has("Folders mapping host1 -> host2:"), "{}", r.show());
    assert!(
        r.has("Host1: folder [INBOX] considering 1 messages, LIST gives: 1"),
        "{}",
        r.show()
    );
    assert!(r.has("Memory consumption: "), "{}", r.show());
    assert!(r.has("ENV HOME = "), "{}", r.show());
    assert!(r.has("kill -INT ") && r.has("# Reconnect"), "{}", r.show());
    assert!(r.has("Info: --fastio1 has no effect here:"), "{}", r.show());
    assert!(r.has("Info: --split2 has no effect here:"), "{}", r.show());
    assert!(
        r.has("Info: --showpasswords has no effect here: passwords are never printed"),
        "{}",
        r.show()
    );
    assert!(
        !r.out.contains("pass1") && !r.out.contains("pass2"),
        "{}",
        r.show()
    );
    // --modulesversion (default on) lists the main libraries; --nomodulesversion does not.
    assert!(
        r.has("Modules version list") && r.has("rustls "),
        "{}",
        r.show()
    );
    let r = p.sync(&["--nomodulesversion"]);
    assert!(!r.has("Modules version list"), "{}", r.show());
    // --exitonload refuses to start on an overloaded machine, exit 69.
    let r = run_in(
        p.dir.path(),
        &{
            let mut a = p.base_args();
            a.push("--exitonload".into());
            a
        },
        &[("IMAPSYNC_RS_TEST_LOADAVG", "999.0")],
    );
    assert_eq!(r.code, 69, "{}", r.show());
    assert!(
        r.has("Server is on heavy load (load average 999.00"),
        "{}",
        r.show()
    );
    assert!(!r.has("connecting and login"), "{}", r.show());
}

#[test]
fn missing_folders_end_as_imapsync() {
    let p = Pair::new(Layout::DotPrefix, Layout::Slash);
    let mut c = p.imap1();
    c.create("INBOX.Sent").expect("create");
    c.append("INBOX.Sent", &[], None, &common::message("s", "s", "s"))
        .expect("append");
    // --subfolder1 that host1 does not have: exit 21.
    let r = p.run(&["--subfolder1", "Nope"]);
    assert_eq!(r.code, 21, "{}", r.show());
    assert!(r.has("subfolder1 Nope does not exist"), "{}", r.show());
    // --nocheckfoldersexist: a --folder host1 lacks is not created on host2; it fails at its
    // SELECT (exit 117) and the other folders sync.
    let r = p.run(&[
        "--folder",
        "INBOX.Nope",
        "--folder",
        "INBOX.Sent",
        "--nocheckfoldersexist",
    ]);
    assert_eq!(r.code, 117, "{}", r.show());
    assert!(
        r.has("Host1 folder [INBOX.Nope]: Could not select"),
        "{}",
        r.show()
    );
    assert!(
        r.has("[INBOX.Nope]                         does not exist"),
        "{}",
        r.show()
    );
    let snap = p.snap2();
    assert!(
        !snap.contains_key("Nope"),
        "{:?}",
        snap.keys().collect::<Vec<_>>()
    );
    assert_eq!(snap.get("Sent").map(Vec::len), Some(1));
    // --folderfirst / --folderlast order the processing.
    let r = p.sync(&[
        "--folderfirst",
        "INBOX.Sent",
        "--folderlast",
        "INBOX",
        "--connections1",
        "1",
        "--dry",
    ]);
    let order: Vec<&str> = r.out.lines().filter(|l| l.starts_with("Folder ")).collect();
    assert!(
        order.first().is_some_and(|l| l.contains("[INBOX.Sent]")),
        "{order:?}"
    );
    assert!(
        order.last().is_some_and(|l| l.contains("[INBOX] ")),
        "{order:?}"
    );
}

#[test]
fn deleting_with_the_same_account_on_both_sides_is_refused() {
    // imapsync empties the account (every message is "on host2", since host2 is host1); we
    // refuse before connecting.
    let p = Pair::new(Layout::DotPrefix, Layout::Slash);
    p.imap1()
        .append("INBOX", &[], None, &common::message("keep", "k", "k"))
        .expect("append");
    let mut a = p.base_args();
    common::set_arg(&mut a, "--port2", &p.h1.port().to_string());
    common::set_arg(&mut a, "--user2", "user1");
    common::set_arg(&mut a, "--password2", "pass1");
    a.extend(strings(&["--delete1", "--delete1emptyfolders"]));
    let r = run_in(p.dir.path(), &a, &[]);
    assert_eq!(r.code, 64, "{}", r.show());
    assert!(
        r.has("host1 and host2 are the same account"),
        "{}",
        r.show()
    );
    assert_eq!(common::count(&p.snap1()), 1);
}
