//! Running it in production: servers without the modern extensions, rate limits and their
//! exit codes, pidfile locking, --abort, two runs at once on one account pair, sizes only.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Pair, message};
use imapsync_testkit::{Corpus, Dovecot, Layout, fill};

/// Capabilities a 1990s-style server lacks.
const MODERN: &[&str] = &[
    "CONDSTORE",
    "QRESYNC",
    "ESEARCH",
    "LIST-STATUS",
    "MULTIAPPEND",
    "LITERAL+",
    "UIDPLUS",
    "STATUS=SIZE",
    "SPECIAL-USE",
    "LIST-EXTENDED",
    "ENABLE",
    "ID",
    "NAMESPACE",
    "SASL-IR",
];

#[test]
fn servers_without_modern_extensions_sync_exactly_and_incrementally() {
    let h1 = Dovecot::builder(Layout::DotPrefix)
        .remove_capabilities(MODERN)
        .start()
        .expect("host1");
    let h2 = Dovecot::builder(Layout::Slash)
        .remove_capabilities(MODERN)
        .start()
        .expect("host2");
    let p = Pair::with(h1, h2);
    fill(&p.h1, "user1", "pass1", &Corpus::small()).expect("fill");
    let r = p.sync(&[]);
    assert_eq!(r.errors(), 0, "{}", r.show());
    p.assert_same();
    // Flag change and a new message: found without CONDSTORE, copied without UIDPLUS.
    let mut c = p.imap1();
    c.select("INBOX").expect("select");
    c.store_flags("1", "+FLAGS", &["\\Flagged"]).expect("store");
    c.append("INBOX", &[], None, &message("late", "l", "l"))
        .expect("append");
    let r = p.sync(&[]);
    assert_eq!(r.num("Messages transferred"), 1, "{}", r.show());
    p.assert_same();
    let r = p.sync(&[]);
    assert_eq!(r.num("Messages transferred"), 0, "{}", r.show());
    p.assert_same();
}

#[test]
fn maxmessagespersecond_paces_the_copy() {
    let p = Pair::new(Layout::Slash, Layout::Slash);
    let mut c = p.imap1();
    for i in 0..6 {
        c.append("INBOX", &[], None, &message(&format!("r{i}"), "r", "r"))
            .expect("append");
    }
    let t = Instant::now();
    let r = p.sync(&[
        "--maxmessagespersecond",
        "4",
        "--nofoldersizes",
        "--nofoldersizesatend",
    ]);
    assert_eq!(r.num("Messages transferred"), 6, "{}", r.show());
    assert!(
        t.elapsed() >= Duration::from_millis(1000),
        "6 messages at 4/s took {:?}",
        t.elapsed()
    );
}

#[test]
fn exitwhenover_stops_with_118_and_errorsmax_stops_early() {
    let p = Pair::new(Layout::Slash, Layout::Slash);
    let mut c = p.imap1();
    for i in 0..30 {
        c.append(
            "INBOX",
            &[],
            None,
            &message(&format!("e{i}"), "e", &"x".repeat(2000)),
        )
        .expect("append");
    }
    // Pipelined, several connections: exactly as imapsync, messages are copied until the
    // total reaches the limit, the one that crosses it included, and none is started after.
    let size = message("e0", "e", &"x".repeat(2000)).len() as u64;
    let expected = 5000u64.div_ceil(size);
    let r = p.run(&["--exitwhenover", "5000"]);
    assert_eq!(r.code, 118, "{}", r.show());
    assert!(r.has("Maximum bytes transferred reached"), "{}", r.show());
    assert_eq!(r.num("Messages transferred"), expected, "{}", r.show());
    assert_eq!(common::count(&p.snap2()), expected as usize);
    // The rest comes with the next run.
    let r = p.sync(&[]);
    assert!(r.num("Messages transferred") > 0);
    p.assert_same();
}

#[test]
fn pidfile_locking_abort_and_tail() {
    let p = Pair::new(Layout::DotPrefix, Layout::Slash);
    let mut spec = imapsync_testkit::CorpusSpec::small();
    spec.messages = 300;
    fill(&p.h1, "user1", "pass1", &Corpus::generate(&spec)).expect("fill");
    let pidfile = p.dir.path().join("run.pid");
    let pid_arg = pidfile.display().to_string();
    let mut a = p.base_args();
    a.extend([
        "--pidfile".into(),
        pid_arg.clone(),
        "--maxmessagespersecond".into(),
        "20".into(),
    ]);
    let mut child = Command::new(common::bin())
        .args(&a)
        .current_dir(p.dir.path())
        .env("HOME", p.dir.path())
        .env("XDG_STATE_HOME", p.dir.path().join("state-home"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    for _ in 0..100 {
        if pidfile.exists() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let text = std::fs::read_to_string(&pidfile).expect("pidfile");
    assert_eq!(
        text.lines().next(),
        Some(child.id().to_string().as_str()),
        "{text}"
    );
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&pidfile)
            .expect("meta")
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
    }
    // A second run with --pidfilelocking refuses to start: exit 8.
    let mut b = p.base_args();
    b.extend([
        "--pidfile".into(),
        pid_arg.clone(),
        "--pidfilelocking".into(),
    ]);
    let r = common::run_in(p.dir.path(), &b, &[]);
    assert_eq!(r.code, 8, "{}", r.show());
    // --abort stops the running one.
    let r = common::run_in(
        p.dir.path(),
        &common::strings(&["--abort", "--pidfile", &pid_arg]),
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.show());
    let status = child.wait().expect("wait");
    assert!(!status.success(), "the aborted run exited {status}");
    // Then a full run completes and nothing was lost or doubled.
    p.sync(&[]);
    p.assert_same();
}

#[test]
fn two_runs_at_once_on_one_account_pair_do_not_corrupt_anything() {
    let p = Pair::new(Layout::DotPrefix, Layout::Slash);
    let mut spec = imapsync_testkit::CorpusSpec::small();
    spec.messages = 200;
    fill(&p.h1, "user1", "pass1", &Corpus::generate(&spec)).expect("fill");
    let spawn = || {
        Command::new(common::bin())
            .args(p.base_args())
            .args(["--pidfile", ""])
            .current_dir(p.dir.path())
            .env("HOME", p.dir.path())
            .env("XDG_STATE_HOME", p.dir.path().join("state-home"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn")
    };
    let a = spawn();
    let b = spawn();
    let oa = a.wait_with_output().expect("a");
    let ob = b.wait_with_output().expect("b");
    let codes = [oa.status.code(), ob.status.code()];
    let both = format!(
        "{}{}",
        String::from_utf8_lossy(&oa.stdout),
        String::from_utf8_lossy(&ob.stdout)
    );
    // Whichever started second sees the state store locked and refuses with exit 8 before
    // touching either server; the other one completes.
    assert!(
        codes.contains(&Some(8)) && codes.contains(&Some(0)),
        "exit codes {codes:?}\n{both}"
    );
    assert!(both.contains("in use by another run"), "{both}");
    p.assert_same();
    let r = p.sync(&[]);
    assert_eq!(r.num("Messages transferred"), 0, "{}", r.show());
}

#[test]
fn justfoldersizes_justlogin_and_justconnect_change_nothing() {
    let p = Pair::new(Layout::DotPrefix, Layout::Slash);
    fill(&p.h1, "user1", "pass1", &Corpus::small()).expect("fill");
    let before = p.snap2();
    let r = p.sync(&["--justfoldersizes"]);
    assert!(r.has("Host1 Nb messages:"), "{}", r.show());
    assert!(r.has("Host1 Total size:"), "{}", r.show());
    let r = p.sync(&["--justlogin"]);
    assert!(r.has("success login on"), "{}", r.show());
    let r = p.sync(&["--justconnect"]);
    assert!(r.has("Host1 banner"), "{}", r.show());
    assert_eq!(p.snap2(), before);
}

#[test]
fn qresync_rerun_applies_vanished_and_changes_without_listing_every_uid() {
    use imapsync_testkit::shim::Shim;
    let h1 = Dovecot::builder(Layout::DotPrefix)
        .no_tls()
        .start()
        .expect("host1");
    let h2 = Dovecot::builder(Layout::Slash).start().expect("host2");
    let p = Pair::with(h1, h2);
    let mut c = p.imap1();
    for i in 0..10 {
        c.append("INBOX", &[], None, &message(&format!("q{i}"), "q", "q"))
            .expect("append");
    }
    // host1 through a shim (plain text), to count the commands the sync sends.
    let shim = Shim::start((p.h1.host(), p.h1.port()), Vec::new()).expect("shim");
    let args = |extra: &[&str]| {
        let mut a = p.args_via(1, shim.port(), &["--nossl1", "--notls1"]);
        a.extend(common::strings(extra));
        a
    };
    let r = common::run_in(p.dir.path(), &args(&[]), &[]);
    assert_eq!(r.code, 0, "{}", r.show());
    p.assert_same();
    // On host1: two messages expunged, one new, one flagged. host2 untouched.
    c.select("INBOX").expect("select");
    c.store_flags("2,5", "+FLAGS", &["\\Deleted"])
        .expect("store");
    c.expunge().expect("expunge");
    c.store_flags("7", "+FLAGS", &["\\Flagged"]).expect("store");
    c.append("INBOX", &[], None, &message("q-new", "q", "q"))
        .expect("append");
    let searches = shim.stats().commands_named("UID SEARCH");
    let r = common::run_in(p.dir.path(), &args(&[]), &[]);
    assert_eq!(r.code, 0, "{}", r.show());
    assert!(
        r.has("Host1: folder [INBOX] QRESYNC: 2 changed and up to 2 expunged since the last sync"),
        "{}",
        r.show()
    );
    assert_eq!(
        shim.stats().commands_named("UID SEARCH"),
        searches,
        "UIDs listed in full"
    );
    assert_eq!(r.num("Messages transferred"), 1, "{}", r.show());
    // host2 keeps the two messages expunged on host1 (no --delete2) and has the rest exact.
    let snap1 = p.snap1();
    let snap2 = p.snap2();
    let inbox1 = snap1.get("INBOX").expect("inbox1");
    let inbox2 = snap2.get("INBOX").expect("inbox2");
    assert_eq!(inbox2.len(), inbox1.len() + 2);
    for m in inbox1 {
        let twin = inbox2
            .iter()
            .find(|o| o.message_id == m.message_id)
            .unwrap_or_else(|| panic!("{:?} missing on host2", m.message_id));
        assert_eq!((&twin.sha256, &twin.flags), (&m.sha256, &m.flags));
    }
    // --delete2 lists every UID (never trusts the derived set) and makes host2 exact.
    let r = common::run_in(p.dir.path(), &args(&["--delete2"]), &[]);
    assert_eq!(r.code, 0, "{}", r.show());
    assert_eq!(r.num("Messages deleted on host2"), 2, "{}", r.show());
    p.assert_same();
    let r = common::run_in(p.dir.path(), &args(&[]), &[]);
    assert_eq!(r.num("Messages transferred"), 0, "{}", r.show());
    p.assert_same();
}
