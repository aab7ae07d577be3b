//! Bad input gets a clear error, the right exit code, and loses nothing: wrong passwords,
//! unreachable hosts, TLS that can't be had, a folder host2 refuses, a message host2
//! refuses, a server that stops answering.

mod common;

use std::time::Duration;

use common::{Pair, message};
use imapsync_testkit::{Direction, Dovecot, FaultProxy, Faults, Layout};

fn replace(args: &mut [String], key: &str, value: &str) {
    let i = args.iter().position(|a| a == key).expect("key present");
    args[i + 1] = value.to_string();
}

#[test]
fn wrong_password_exits_161_or_162() {
    let p = Pair::new(Layout::Slash, Layout::Slash);
    let mut a = p.base_args();
    replace(&mut a, "--password1", "wrong");
    let r = common::run_in(p.dir.path(), &a, &[]);
    assert_eq!(r.code, 161, "{}", r.show());
    assert!(r.has("Host1 failure: Error login on"), "{}", r.show());
    assert!(r.has("EXIT_AUTHENTICATION_FAILURE_USER1"), "{}", r.show());

    let mut a = p.base_args();
    replace(&mut a, "--password2", "wrong");
    let r = common::run_in(p.dir.path(), &a, &[]);
    assert_eq!(r.code, 162, "{}", r.show());
    assert!(r.has("Host2 failure: Error login on"), "{}", r.show());

    // Both wrong: one error each, the tie goes to the class that sorts first (host1).
    replace(&mut a, "--password1", "wrong");
    let r = common::run_in(p.dir.path(), &a, &[]);
    assert_eq!(r.code, 161, "{}", r.show());
    assert_eq!(r.errors(), 2, "{}", r.show());
}

#[test]
fn unreachable_hosts_exit_101_or_102() {
    let p = Pair::new(Layout::Slash, Layout::Slash);
    let mut a = p.base_args();
    replace(&mut a, "--host1", "no-such-host.invalid");
    let r = common::run_in(p.dir.path(), &a, &[]);
    assert_eq!(r.code, 101, "{}", r.show());
    assert!(
        r.has("can not open imap connection on host1"),
        "{}",
        r.show()
    );

    // A port where nothing listens (bind then drop to get a free one).
    let free = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let mut a = p.base_args();
    replace(&mut a, "--port2", &free.to_string());
    let r = common::run_in(p.dir.path(), &a, &[]);
    assert_eq!(r.code, 102, "{}", r.show());
    assert!(
        r.has("can not open imap connection on host2"),
        "{}",
        r.show()
    );
}

#[test]
fn no_encryption_possible_refuses_to_send_the_password_exit_12() {
    let h1 = Dovecot::builder(Layout::Slash)
        .no_tls()
        .start()
        .expect("host1");
    let h2 = Dovecot::start(Layout::Slash).expect("host2");
    let p = Pair::with(h1, h2);
    let r = p.run(&[]);
    assert_eq!(r.code, 12, "{}", r.show());
    assert!(r.has("not sending the password"), "{}", r.show());
    assert!(r.has("--nossl1 --notls1"), "no hint:\n{}", r.show());
    // Asked for explicitly, clear text is allowed.
    let r = p.run(&["--nossl1", "--notls1"]);
    assert_eq!(r.code, 0, "{}", r.show());
}

#[test]
fn untrusted_certificate_is_a_tls_failure_with_a_hint() {
    let p = Pair::new(Layout::Slash, Layout::Slash);
    let mut a = p.base_args();
    let i = a.iter().position(|x| x == "--sslargs1").expect("sslargs1");
    a.drain(i..i + 2);
    let r = common::run_in(p.dir.path(), &a, &[]);
    assert_eq!(r.code, 12, "{}", r.show());
    assert!(r.has("SSL_verify_mode=0"), "{}", r.show());
    // Verification off (imapsync's own default) works; implicit TLS on the TLS port too.
    let r = p.run(&["--sslargs1", "SSL_verify_mode=0"]);
    assert_eq!(r.code, 0, "{}", r.show());
    let mut a = p.base_args();
    replace(&mut a, "--port1", &p.h1.tls_port().to_string());
    a.push("--ssl1".into());
    let r = common::run_in(p.dir.path(), &a, &[]);
    assert_eq!(r.code, 0, "{}", r.show());
    assert!(
        r.has("implicit TLS with certificate verified"),
        "{}",
        r.show()
    );
}

#[test]
fn folder_host2_refuses_is_counted_and_others_go_on_exit_116() {
    let p = Pair::new(Layout::Slash, Layout::Slash);
    let mut c = p.imap1();
    for f in ["Good", "Bad", "AlsoGood"] {
        c.create(f).expect("create");
        c.append(f, &[], None, &message(f, f, f)).expect("append");
    }
    // Dovecot refuses names starting with '~'.
    let r = p.run(&["--regextrans2", "s/^Bad$/~Bad/"]);
    assert_eq!(r.code, 116, "{}", r.show());
    assert!(
        r.has("Could not create folder [~Bad] from [Bad]"),
        "{}",
        r.show()
    );
    assert!(r.has("EXIT_ERR_CREATE"), "{}", r.show());
    let s2 = p.snap2();
    assert_eq!(s2.get("Good").map(Vec::len), Some(1));
    assert_eq!(s2.get("AlsoGood").map(Vec::len), Some(1));
}

#[test]
fn message_too_big_for_host2_is_skipped_and_reported() {
    let h1 = Dovecot::start(Layout::Slash).expect("host1");
    let h2 = Dovecot::builder(Layout::Slash)
        .max_mail_size(20_000)
        .start()
        .expect("host2");
    let p = Pair::with(h1, h2);
    let mut c = p.imap1();
    c.append("INBOX", &[], None, &message("ok1", "ok", "fine"))
        .expect("append");
    let big_uid = c
        .append(
            "INBOX",
            &[],
            None,
            &message("big", "big", &"z".repeat(60_000)),
        )
        .expect("append");
    c.append("INBOX", &[], None, &message("ok2", "ok", "fine"))
        .expect("append");
    let r = p.run(&[]);
    // Dovecot answers NO [LIMIT] "Mail size is larger than ...": skipped and reported, the
    // others are copied, the summary says the sync is not finished.
    assert_eq!(r.code, 0, "{}", r.show());
    assert!(r.has(&format!("msg INBOX/{big_uid} {{")), "{}", r.show());
    assert!(
        r.has("skipped: host2 refuses it as too big"),
        "{}",
        r.show()
    );
    assert_eq!(r.num("Messages transferred"), 2, "{}", r.show());
    assert!(r.has("The sync is not finished"), "{}", r.show());
    assert_eq!(p.snap2().get("INBOX").map(Vec::len), Some(2));
    // A rerun tries the refused one again (and only it).
    let r = p.run(&[]);
    assert_eq!(r.num("Messages transferred"), 0, "{}", r.show());
    assert!(
        r.has("skipped: host2 refuses it as too big"),
        "{}",
        r.show()
    );
}

#[test]
fn host2_over_quota_stops_with_exit_113() {
    let h1 = Dovecot::start(Layout::Slash).expect("host1");
    let h2 = Dovecot::builder(Layout::Slash)
        .quota_messages(3)
        .start()
        .expect("host2");
    let p = Pair::with(h1, h2);
    let mut c = p.imap1();
    for i in 0..10 {
        c.append("INBOX", &[], None, &message(&format!("q{i}"), "q", "q"))
            .expect("append");
    }
    let r = p.run(&[]);
    assert_eq!(r.code, 113, "{}", r.show());
    assert!(r.has("over quota"), "{}", r.show());
    assert!(r.has("EXIT_OVERQUOTA"), "{}", r.show());
    // It stopped instead of failing on every remaining message.
    assert!(r.errors() <= 2, "{}", r.show());
    assert_eq!(p.snap2().get("INBOX").map(Vec::len), Some(3));
}

#[test]
fn stalled_server_times_out_naming_the_side() {
    let p = Pair::new(Layout::Slash, Layout::Slash);
    // Forward the greeting and a little more, then stall.
    let proxy = FaultProxy::start(
        (p.h2.host(), p.h2.port()),
        Faults::new().stall_after(Direction::Down, 300),
    )
    .expect("proxy");
    let mut a = p.base_args();
    replace(&mut a, "--port2", &proxy.port().to_string());
    a.extend([
        "--timeout2".to_string(),
        "2".to_string(),
        "--reconnectretry2".into(),
        "0".into(),
    ]);
    let started = std::time::Instant::now();
    let r = common::run_in(p.dir.path(), &a, &[]);
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "took {:?}",
        started.elapsed()
    );
    assert_ne!(r.code, 0, "{}", r.show());
    assert!(r.has("Host2"), "{}", r.show());
    assert!(r.has("--timeout"), "no timeout mentioned:\n{}", r.show());
}
