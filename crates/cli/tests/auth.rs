//! Authentication and transport: LOGIN with hard passwords, SASL PLAIN with an admin
//! identity (Dovecot master user), CRAM-MD5, master-user LOGIN syntax, COMPRESS=DEFLATE.

mod common;

use common::{Pair, message, run_in, set_arg};
use imapsync_testkit::{Dovecot, Layout, MASTER_PASSWORD, MASTER_USER, WEIRD_PASSWORD};

fn seeded() -> Pair {
    let p = Pair::new(Layout::Slash, Layout::Slash);
    let mut c = p.imap1();
    c.append("INBOX", &["\\Seen"], None, &message("auth1", "a", "a"))
        .expect("append");
    p
}

#[test]
fn login_with_a_password_full_of_special_characters() {
    let p = seeded();
    let mut c = p.h1.connect("weird").expect("weird login");
    c.append("INBOX", &[], None, &message("w", "w", "w"))
        .expect("append");
    let mut a = p.base_args();
    set_arg(&mut a, "--user1", "weird");
    set_arg(&mut a, "--password1", WEIRD_PASSWORD);
    let r = run_in(p.dir.path(), &a, &[]);
    assert_eq!(r.code, 0, "{}", r.show());
    assert_eq!(r.num("Messages transferred"), 1);
}

#[test]
fn plain_with_authuser_logs_in_as_the_user() {
    let p = seeded();
    let mut a = p.base_args();
    set_arg(&mut a, "--password1", MASTER_PASSWORD);
    a.extend(["--authuser1".to_string(), MASTER_USER.to_string()]);
    a.push("--debugimap1".to_string());
    let r = run_in(p.dir.path(), &a, &[]);
    assert_eq!(r.code, 0, "{}", r.show());
    assert!(r.has("auth [PLAIN]"), "{}", r.show());
    assert_eq!(r.num("Messages transferred"), 1);
    // The SASL payload carries the password in base64: the IMAP trace masks it too.
    use base64::Engine as _;
    let payload = base64::engine::general_purpose::STANDARD
        .encode(format!("user1\0{MASTER_USER}\0{MASTER_PASSWORD}"));
    for text in [&r.out, &r.err] {
        assert!(
            !text.contains(&payload),
            "SASL payload printed:\n{}",
            r.show()
        );
        assert!(
            !text.contains(MASTER_PASSWORD),
            "password printed:\n{}",
            r.show()
        );
    }
    assert!(r.has("AUTHENTICATE PLAIN"), "no IMAP trace:\n{}", r.show());
    // Dovecot's own master-user syntax through LOGIN.
    let mut a = p.base_args();
    set_arg(&mut a, "--user1", &format!("user1*{MASTER_USER}"));
    set_arg(&mut a, "--password1", MASTER_PASSWORD);
    let r = run_in(p.dir.path(), &a, &[]);
    assert_eq!(r.code, 0, "{}", r.show());
    // --proxyauth without --authuser is a usage error.
    let r = p.run(&["--proxyauth1"]);
    assert_eq!(r.code, 64, "{}", r.show());
}

#[test]
fn cram_md5() {
    let p = seeded();
    let r = p.run(&["--authmech1", "CRAM-MD5", "--authmd52"]);
    assert_eq!(r.code, 0, "{}", r.show());
    assert!(r.has("auth [CRAM-MD5]"), "{}", r.show());
    assert_eq!(r.num("Messages transferred"), 1);
    let r = p.run(&["--authmech1", "CRAM-MD5", "--password1", "wrong"]);
    assert_eq!(r.code, 161, "{}", r.show());
}

#[test]
fn compress_deflate_both_sides() {
    let h1 = Dovecot::builder(Layout::DotPrefix)
        .compress(true)
        .start()
        .expect("host1");
    let h2 = Dovecot::builder(Layout::Slash)
        .compress(true)
        .start()
        .expect("host2");
    let p = Pair::with(h1, h2);
    imapsync_testkit::fill(&p.h1, "user1", "pass1", &imapsync_testkit::Corpus::small())
        .expect("fill");
    let r = p.run(&["--compress1", "--compress2"]);
    assert_eq!(r.code, 0, "{}", r.show());
    assert!(r.has("Host1: COMPRESS=DEFLATE enabled"), "{}", r.show());
    assert!(r.has("Host2: COMPRESS=DEFLATE enabled"), "{}", r.show());
    p.assert_same();
}
