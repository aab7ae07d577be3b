//! Gmail: labels both ways against the shim's Gmail emulation on real Dovecot servers
//! (X-GM-EXT-1: labels are folders underneath, see `imapsync_testkit::gmail`), and Gmail's
//! daily transfer limit as a clean stop.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{Pair, message};
use imapsync_testkit::gmail::GMAIL_CAPABILITY;
use imapsync_testkit::{Dovecot, Layout, Shim, TestImap};

/// A Gmail-like Dovecot announcing X-GM-EXT-1.
fn gmail_server() -> Dovecot {
    Dovecot::builder(Layout::GmailLike)
        .add_capability(GMAIL_CAPABILITY)
        .start()
        .expect("dovecot")
}

fn gmail_shim(d: &Dovecot, user: &str) -> Shim {
    let pass = d.password_of(user).expect("user");
    Shim::gmail((d.host(), d.port()), user, &pass, vec![]).expect("shim")
}

fn through(shim: &Shim, user: &str, pass: &str) -> TestImap {
    let mut c = TestImap::connect_timeout("127.0.0.1", shim.port(), Duration::from_secs(10))
        .expect("connect");
    c.login(user, pass).expect("login");
    c
}

/// Appends `id` to `folder` through the Gmail shim and gives it `labels`.
fn put(c: &mut TestImap, folder: &str, id: &str, flags: &[&str], labels: &str) {
    let uid = c
        .append(folder, flags, None, &message(id, id, id))
        .expect("append");
    if !labels.is_empty() {
        c.select(folder).expect("select");
        c.command(&format!("UID STORE {uid} +X-GM-LABELS ({labels})"))
            .expect("label");
    }
}

/// Host1, a Gmail account:
/// * m1 in INBOX, Work and Important; m2 in Work only; m3 archived (All Mail only);
/// * m4 in INBOX and Starred; m5 archived but Important.
fn fill_gmail(c: &mut TestImap) {
    c.create("Work").expect("create");
    put(c, "INBOX", "m1", &["\\Seen"], "Work \\Important");
    put(c, "Work", "m2", &[], "");
    put(c, "[Gmail]/All Mail", "m3", &["\\Seen"], "");
    put(c, "INBOX", "m4", &["\\Flagged"], "\\Starred");
    put(c, "[Gmail]/Important", "m5", &[], "");
}

/// Message-IDs by folder (direct to the server, under the emulation).
fn ids(d: &Dovecot, user: &str) -> BTreeMap<String, Vec<String>> {
    let mut c = d.connect(user).expect("direct");
    c.snapshot()
        .expect("snapshot")
        .into_iter()
        .map(|(f, msgs)| {
            let mut v: Vec<String> = msgs
                .into_iter()
                .filter_map(|m| m.message_id)
                .map(|id| {
                    id.trim_matches(['<', '>'])
                        .trim_end_matches("@example.org")
                        .to_string()
                })
                .collect();
            v.sort();
            (f, v)
        })
        .filter(|(_, v)| !v.is_empty())
        .collect()
}

fn want(rows: &[(&str, &[&str])]) -> BTreeMap<String, Vec<String>> {
    rows.iter()
        .map(|(f, v)| (f.to_string(), v.iter().map(|s| s.to_string()).collect()))
        .collect()
}

fn plain_args(p: &Pair, shim1: &Shim, shim2: Option<&Shim>, extra: &[&str]) -> Vec<String> {
    let mut a = p.args_via(1, shim1.port(), &[]);
    if let Some(s2) = shim2 {
        common::set_arg(&mut a, "--port2", &s2.port().to_string());
    }
    // The shims read the protocol: no TLS through them.
    a.extend(common::strings(&[
        "--nossl1", "--notls1", "--nossl2", "--notls2",
    ]));
    a.extend(common::strings(extra));
    a
}

#[test]
fn gmail_to_gmail_copies_each_message_once_with_its_labels() {
    let p = Pair::with(gmail_server(), gmail_server());
    let (s1, s2) = (gmail_shim(&p.h1, "user1"), gmail_shim(&p.h2, "user2"));
    fill_gmail(&mut through(&s1, "user1", "pass1"));
    let before = ids(&p.h1, "user1");
    let args = plain_args(&p, &s1, Some(&s2), &["--gmail1", "--gmail2"]);
    let r = common::run_in(p.dir.path(), &args, &[]);
    assert_eq!(r.code, 0, "{}", r.show());
    assert!(r.has("Labels: both hosts are Gmail"), "{}", r.show());
    assert_eq!(
        r.num("Messages transferred"),
        5,
        "one APPEND per message:\n{}",
        r.show()
    );
    // Host2 holds what host1 holds, folder by folder (labels), each message once.
    assert_eq!(ids(&p.h2, "user2"), before, "{}", r.show());
    assert_eq!(
        before,
        want(&[
            ("INBOX", &["m1", "m4"]),
            ("Work", &["m1", "m2"]),
            ("[Gmail]/All Mail", &["m1", "m2", "m3", "m4", "m5"]),
            ("[Gmail]/Important", &["m1", "m5"]),
            ("[Gmail]/Starred", &["m4"]),
        ])
    );
    // A rerun copies nothing and stores no label.
    let r = common::run_in(p.dir.path(), &args, &[]);
    assert_eq!(r.code, 0, "{}", r.show());
    assert_eq!(r.num("Messages transferred"), 0, "{}", r.show());
    assert!(!r.has("X-GM-LABELS ("), "{}", r.show());
    // A label added on host1 reaches host2's copy (--resynclabels), nothing is copied.
    let mut c1 = through(&s1, "user1", "pass1");
    c1.create("Later").expect("create");
    c1.select("Work").expect("select");
    let m2 = c1.uid_search("HEADER Message-ID m2@").expect("search");
    c1.command(&format!("UID STORE {} +X-GM-LABELS (Later)", m2[0]))
        .expect("label");
    let r = common::run_in(
        p.dir.path(),
        &[args.clone(), common::strings(&["--debuglabels"])].concat(),
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.show());
    assert_eq!(r.num("Messages transferred"), 0, "{}", r.show());
    assert!(r.has("+X-GM-LABELS (Later)"), "{}", r.show());
    assert!(
        r.has("copied through folder [[Gmail]/All Mail], not here"),
        "{}",
        r.show()
    );
    assert_eq!(ids(&p.h2, "user2"), ids(&p.h1, "user1"));
}

#[test]
fn gmail_to_a_plain_server_copies_per_label_and_all_mail_only_once() {
    let p = Pair::with(
        gmail_server(),
        Dovecot::start(Layout::Slash).expect("dovecot"),
    );
    let s1 = gmail_shim(&p.h1, "user1");
    fill_gmail(&mut through(&s1, "user1", "pass1"));
    let args = plain_args(&p, &s1, None, &["--gmail1", "--synclabels"]);
    let r = common::run_in(p.dir.path(), &args, &[]);
    assert_eq!(r.code, 0, "{}", r.show());
    assert!(r.has("each label is synced as a folder"), "{}", r.show());
    assert_eq!(
        ids(&p.h2, "user2"),
        want(&[
            ("INBOX", &["m1", "m4"]),
            ("Work", &["m1", "m2"]),
            // Only what no label folder holds; Important before All Mail.
            ("Important", &["m5"]),
            ("All Mail", &["m3"]),
        ]),
        "{}",
        r.show()
    );
    assert_eq!(r.num("Messages transferred"), 6, "{}", r.show());
    let r = common::run_in(p.dir.path(), &args, &[]);
    assert_eq!(r.num("Messages transferred"), 0, "{}", r.show());
}

#[test]
fn gmail_daily_limit_stops_cleanly_and_a_rerun_goes_on() {
    // --gmail2 against a local server (its host and TLS overridden, as a user would for a
    // test), with a small ceiling standing in for Gmail's 500 MB a day.
    let p = Pair::new(Layout::Slash, Layout::Slash);
    let mut c = p.imap1();
    for i in 0..12 {
        let id = format!("d{i}");
        c.append("INBOX", &[], None, &message(&id, &id, &"x".repeat(2000)))
            .expect("append");
    }
    // Gmail has no MULTIAPPEND: one APPEND at a time, as there.
    let gmail2 = ["--gmail2", "--nossl2", "--nomultiappend"];
    let r = p.run(&[&gmail2[..], &["--exitwhenover", "5000"]].concat());
    assert_eq!(r.code, 118, "{}", r.show());
    assert!(r.has("Maximum bytes transferred reached"), "{}", r.show());
    assert!(
        r.has("Gmail allows about 500.000 MB of IMAP upload to an account a day"),
        "{}",
        r.show()
    );
    assert!(r.has("Run the same command again after "), "{}", r.show());
    let copied = r.num("Messages transferred");
    assert!((3..12).contains(&copied), "{}", r.show());
    let r = p.run(&[&gmail2[..], &["--exitwhenover", "0"]].concat());
    assert_eq!(r.code, 0, "{}", r.show());
    assert_eq!(r.num("Messages transferred"), 12 - copied, "{}", r.show());
}

#[test]
fn what_will_not_fit_on_host2_is_told_up_front() {
    // Host2: 40 KiB of quota, messages over 20,000 bytes refused (APPENDLIMIT).
    let h2 = Dovecot::builder(Layout::Slash)
        .quota_storage_kib(40)
        .max_mail_size(20_000)
        .advertise_appendlimit()
        .start()
        .expect("dovecot");
    let p = Pair::with(Dovecot::start(Layout::Slash).expect("dovecot"), h2);
    let mut c = p.imap1();
    c.create("Big").expect("create");
    for i in 0..2 {
        let id = format!("big{i}");
        c.append("Big", &[], None, &message(&id, &id, &"b".repeat(30_000)))
            .expect("append");
    }
    for i in 0..10 {
        let id = format!("small{i}");
        c.append("INBOX", &[], None, &message(&id, &id, &"s".repeat(5_000)))
            .expect("append");
    }
    let r = p.run(&[]);
    let out = &r.out;
    let looping = out.find("++++ Looping").expect("folder loop");
    let limit = out
        .find("Warning: Host2: 2 messages (")
        .unwrap_or_else(|| panic!("no APPENDLIMIT warning:\n{}", r.show()));
    assert!(
        out[limit..].starts_with("Warning: Host2: 2 messages (60.")
            && out[limit..]
                .contains("in 1 folders are bigger than host2's APPENDLIMIT of 20000 bytes"),
        "{}",
        r.show()
    );
    let quota = out
        .find("Warning: Host2: Quota limit will be exceeded! Over ")
        .unwrap_or_else(|| panic!("no quota warning:\n{}", r.show()));
    assert!(
        out[quota..].contains(": 10 messages (") && out[quota..].contains("to bring from host1"),
        "the 2 big ones are not brought:\n{}",
        r.show()
    );
    assert!(
        limit < looping && quota < looping,
        "told before copying:\n{}",
        r.show()
    );
    // The big ones are listed and summed at the end; the quota stops the copy (113).
    assert_eq!(r.code, 113, "{}", r.show());
    assert_eq!(
        r.stat("Messages skipped as too big")
            .as_deref()
            .map(|v| v.starts_with("2 messages, 60")),
        Some(true),
        "{}",
        r.show()
    );
}
