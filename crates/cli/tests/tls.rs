//! TLS and the authentication mechanisms that depend on it, against real Dovecot servers:
//! self-signed certificates given as trusted or pinned by fingerprint, `SSL_version`,
//! `SSL_hostname`/`SSL_verifycn_name`, `--debugssl`, the port 993 probe (`--sslcheck`),
//! `--tlsN` alone, `--sslN --tlsN`, `--authmechN PREAUTH` without PREAUTH, SASL EXTERNAL with
//! a client certificate, `--releasecheck` without a network.
//!
//! The probe and `--tlsN` alone use the well-known ports 993 and 143; the hidden
//! `IMAPSYNC_RS_TEST_PORT_MAP` sends those to the test servers.

mod common;

use std::time::{Duration, Instant};

use common::{Pair, Run, message, run_in, set_arg};
use imapsync_testkit::{Dovecot, Layout};

fn seed(p: &Pair) {
    let mut c = p.imap1();
    c.append("INBOX", &["\\Seen"], None, &message("tls1", "a", "a"))
        .expect("append");
}

/// `args` without `key` and its value.
fn without(mut args: Vec<String>, key: &str) -> Vec<String> {
    if let Some(i) = args.iter().position(|a| a == key) {
        args.drain(i..i + 2);
    }
    args
}

fn with(mut args: Vec<String>, extra: &[&str]) -> Vec<String> {
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

/// The `sha256$...` fingerprint our failure message proposes.
fn proposed_fingerprint(r: &Run) -> String {
    let at = r
        .out
        .find("SSL_fingerprint=sha256$")
        .unwrap_or_else(|| panic!("no fingerprint proposed:\n{}", r.show()));
    r.out[at + "SSL_fingerprint=".len()..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '$')
        .collect()
}

#[test]
fn a_self_signed_certificate_is_trusted_when_given_or_pinned() {
    let own = imapsync_testkit::tls::self_signed("mail.example").expect("self-signed (openssl)");
    let h1 = Dovecot::builder(Layout::Slash)
        .server_cert(own.clone())
        .start()
        .expect("host1");
    let p = Pair::with(h1, Dovecot::start(Layout::Slash).expect("host2"));
    seed(&p);
    let pem = p.dir.path().join("mail.example.pem");
    std::fs::write(&pem, &own.cert_pem).expect("write");
    let base = without(p.base_args(), "--sslargs1");

    // Not trusted by default: a TLS failure that shows the certificate and how to trust it.
    let r = run_in(p.dir.path(), &base, &[]);
    assert_eq!(r.code, 12, "{}", r.show());
    assert!(r.has("subject [/CN=mail.example]"), "{}", r.show());
    let fingerprint = proposed_fingerprint(&r);

    // Given in SSL_ca_file (as `openssl req -x509` made it: CA:TRUE, no subject alternative
    // name, reached as 127.0.0.1): trusted, the sync runs. Ignored arguments are said, and
    // the release check answers at once without a network.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let url = format!("http://127.0.0.1:{closed}/prj/imapsync/VERSION");
    let a = with(
        base.clone(),
        &[
            "--sslargs1",
            &format!("SSL_ca_file={}", pem.display()),
            "--sslargs1",
            "SSL_cipher_list=DEFAULT:!DH",
            "--domain1",
            "CORP",
            "--releasecheck",
        ],
    );
    let t = Instant::now();
    let r = run_in(
        p.dir.path(),
        &a,
        &[("IMAPSYNC_RS_RELEASECHECK_URL", url.as_str())],
    );
    assert_eq!(r.code, 0, "{}", r.show());
    assert_eq!(r.num("Messages transferred"), 1);
    p.assert_same();
    assert!(
        r.has("Warning: --sslargs1 SSL_cipher_list has no equivalent here and is ignored: rustls offers its own list"),
        "{}",
        r.show()
    );
    assert!(
        r.has("Warning: --domain1 is used only with --authmech1 NTLM"),
        "{}",
        r.show()
    );
    assert!(
        r.has("Imapsync public release is unknown.( Use --noreleasecheck to avoid this release check. )"),
        "{}",
        r.show()
    );
    assert!(!r.has("Check if a new imapsync release is available"));
    assert!(t.elapsed() < Duration::from_secs(60));

    // Pinned by the fingerprint we proposed, on the implicit TLS port; --debugssl 1 shows
    // the session and the certificate, --debugssl 0 does not.
    let mut a = with(
        base.clone(),
        &[
            "--sslargs1",
            &format!("SSL_fingerprint={fingerprint}"),
            "--ssl1",
            "--justlogin",
        ],
    );
    set_arg(&mut a, "--port1", &p.h1.tls_port().to_string());
    let r = run_in(p.dir.path(), &a, &[]);
    assert_eq!(r.code, 0, "{}", r.show());
    assert!(r.has("Host1: TLS protocol TLSv1_"), "{}", r.show());
    assert!(
        r.has(
            "Host1: TLS server certificate: subject [/CN=mail.example] issuer [/CN=mail.example] names [] valid from ["
        ),
        "{}",
        r.show()
    );
    assert!(
        r.has(&format!("fingerprint [{fingerprint}]")),
        "{}",
        r.show()
    );
    assert!(
        r.has("SSL debug mode level is --debugssl 1"),
        "{}",
        r.show()
    );
    let r = run_in(p.dir.path(), &with(a.clone(), &["--debugssl", "0"]), &[]);
    assert_eq!(r.code, 0, "{}", r.show());
    assert!(!r.has("TLS protocol"), "{}", r.show());
    // Another fingerprint does not pin it.
    let mut a = with(
        base,
        &[
            "--sslargs1",
            &format!("SSL_fingerprint=sha256${}", "00".repeat(32)),
            "--justlogin",
        ],
    );
    set_arg(&mut a, "--port1", &p.h1.port().to_string());
    let r = run_in(p.dir.path(), &a, &[]);
    assert_eq!(r.code, 12, "{}", r.show());
}

#[test]
fn versions_names_and_contradictions() {
    let p = Pair::new(Layout::Slash, Layout::Slash);
    let tls_port = p.h1.tls_port().to_string();
    let implicit = |extra: &[&str]| {
        let mut a = with(p.base_args(), &["--ssl1", "--justlogin"]);
        set_arg(&mut a, "--port1", &tls_port);
        run_in(p.dir.path(), &with(a, extra), &[])
    };
    // SSL_version as IO::Socket::SSL spells it.
    let r = implicit(&["--ssl1_ssl_version", "TLSv1_2"]);
    assert_eq!(r.code, 0, "{}", r.show());
    assert!(r.has("Host1: TLS protocol TLSv1_2,"), "{}", r.show());
    let r = implicit(&["--sslargs1", "SSL_version=SSLv23:!SSLv2:!SSLv3:!TLSv1_2"]);
    assert_eq!(r.code, 0, "{}", r.show());
    assert!(r.has("Host1: TLS protocol TLSv1_3,"), "{}", r.show());
    let r = implicit(&["--sslargs1", "SSL_version=TLSv1_1"]);
    assert_eq!(r.code, 64, "{}", r.show());
    assert!(
        r.has("--sslargs1 SSL_version=TLSv1_1: SSL_version \"TLSv1_1\" leaves TLSv1_1: only TLSv1_2 and TLSv1_3 are spoken here"),
        "{}",
        r.show()
    );
    // The verified name: SSL_verifycn_name replaces it, SSL_hostname too (and is the SNI).
    let r = implicit(&["--sslargs1", "SSL_verifycn_name=imap.example"]);
    assert_eq!(r.code, 12, "{}", r.show());
    assert!(r.has("not valid for name"), "{}", r.show());
    let r = implicit(&["--sslargs1", "SSL_hostname=localhost"]);
    assert_eq!(r.code, 0, "{}", r.show());
    // STARTTLS inside TLS: a TLS failure, as imapsync's (exit 12).
    let r = implicit(&["--tls1"]);
    assert_eq!(r.code, 12, "{}", r.show());
    assert!(r.has("STARTTLS inside TLS"), "{}", r.show());
    assert!(r.has("EXIT_TLS_FAILURE"), "{}", r.show());
    // PREAUTH asked for, and Dovecot greets with OK: exit 16, no password sent.
    let r = p.run(&["--authmech1", "PREAUTH", "--justlogin"]);
    assert_eq!(r.code, 16, "{}", r.show());
    assert!(
        r.has("Host1 failure: error login on host1 [127.0.0.1] with user [user1] auth [PREAUTH]"),
        "{}",
        r.show()
    );
    assert!(r.has("EXIT_AUTHENTICATION_FAILURE"), "{}", r.show());
}

#[test]
fn the_993_probe_and_tls_alone() {
    let p = Pair::new(Layout::Slash, Layout::Slash);
    let no_port = without(p.base_args(), "--port1");
    let map = |p993: u16, p143: u16| format!("993:{p993},143:{p143}");
    let run = |extra: &[&str], ports: &str| {
        run_in(
            p.dir.path(),
            &with(with(no_port.clone(), extra), &["--justlogin"]),
            &[("IMAPSYNC_RS_TEST_PORT_MAP", ports)],
        )
    };
    let good = map(p.h1.tls_port(), p.h1.port());
    // Nothing said: imapsync's probe finds TLS on 993.
    let r = run(&[], &good);
    assert_eq!(r.code, 0, "{}", r.show());
    assert!(
        r.has("Host1: probing ssl on port 993 ( use --nosslcheck to avoid this ssl probe )"),
        "{}",
        r.show()
    );
    assert!(
        r.has("Host1: sslcheck detected open ssl port 993 so turning ssl on"),
        "{}",
        r.show()
    );
    assert!(r.has("Host1: implicit TLS with certificate verified"));
    // --nosslcheck, and --tls1 alone: STARTTLS on 143, no probe.
    for extra in ["--nosslcheck", "--tls1"] {
        let r = run(&[extra], &good);
        assert_eq!(r.code, 0, "{extra}: {}", r.show());
        assert!(!r.has("probing ssl"), "{extra}: {}", r.show());
        assert!(
            r.has("Host1: STARTTLS with certificate verified"),
            "{extra}: {}",
            r.show()
        );
    }
    // 993 closed, or speaking plain IMAP: 143 with STARTTLS.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    for ports in [map(closed, p.h1.port()), map(p.h1.port(), p.h1.port())] {
        let r = run(&[], &ports);
        assert_eq!(r.code, 0, "{ports}: {}", r.show());
        assert!(
            r.has(
                "Host1: sslcheck did not detected open ssl port 993. Will use standard 143 port."
            ),
            "{ports}: {}",
            r.show()
        );
        assert!(
            r.has("Host1: STARTTLS with certificate verified"),
            "{}",
            r.show()
        );
    }
    // A certificate refused on 993 is the answer, not a reason to go to 143.
    let untrusted = without(no_port.clone(), "--sslargs1");
    let r = run_in(
        p.dir.path(),
        &with(untrusted, &["--justlogin"]),
        &[("IMAPSYNC_RS_TEST_PORT_MAP", good.as_str())],
    );
    assert_eq!(r.code, 12, "{}", r.show());
    assert!(!r.has("did not detected"), "{}", r.show());
}

#[test]
fn external_login_with_a_client_certificate() {
    let h1 = Dovecot::builder(Layout::Slash)
        .client_cert_logins()
        .start()
        .expect("host1");
    let p = Pair::with(h1, Dovecot::start(Layout::Slash).expect("host2"));
    seed(&p);
    let cert = imapsync_testkit::tls::client_cert("user1").expect("client certificate");
    let (cert_file, key_file) = (p.dir.path().join("c.pem"), p.dir.path().join("k.pem"));
    std::fs::write(&cert_file, &cert.cert_pem).expect("write");
    std::fs::write(&key_file, &cert.key_pem).expect("write");
    // No password for host1 at all: the certificate is the credential.
    let base = with(
        without(p.base_args(), "--password1"),
        &["--authmech1", "EXTERNAL"],
    );
    let r = run_in(
        p.dir.path(),
        &with(
            base.clone(),
            &[
                "--sslargs1",
                &format!("SSL_cert_file={}", cert_file.display()),
                "--sslargs1",
                &format!("SSL_key_file={}", key_file.display()),
            ],
        ),
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.show());
    assert!(
        r.has("Host1: success login on [127.0.0.1] with user [user1] auth [EXTERNAL]"),
        "{}",
        r.show()
    );
    assert_eq!(r.num("Messages transferred"), 1);
    p.assert_same();
    // Without the certificate: refused, no LOGIN attempt.
    let r = run_in(p.dir.path(), &with(base, &["--justlogin"]), &[]);
    assert_eq!(r.code, 161, "{}", r.show());
    assert!(r.has("auth [EXTERNAL]"), "{}", r.show());
}

#[test]
fn a_version_1_certificate_works_where_it_is_accepted() {
    // webpki does not read X.509 v1 certificates; OpenSSL (so imapsync) does. Accepted as
    // they are (verification off, or given as trusted), they work here too.
    let v1 = imapsync_testkit::tls::self_signed_v1("old.example").expect("v1 (openssl)");
    let h1 = Dovecot::builder(Layout::Slash)
        .server_cert(v1.clone())
        .start()
        .expect("host1");
    let p = Pair::with(h1, Dovecot::start(Layout::Slash).expect("host2"));
    seed(&p);
    let pem = p.dir.path().join("old.pem");
    std::fs::write(&pem, &v1.cert_pem).expect("write");
    let base = without(p.base_args(), "--sslargs1");
    let r = run_in(p.dir.path(), &with(base.clone(), &["--justlogin"]), &[]);
    assert_eq!(r.code, 12, "{}", r.show());
    let r = run_in(
        p.dir.path(),
        &with(
            base.clone(),
            &["--sslargs1", "SSL_verify_mode=0", "--justlogin"],
        ),
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.show());
    assert!(
        r.has("Host1: STARTTLS with certificate NOT verified"),
        "{}",
        r.show()
    );
    let r = run_in(
        p.dir.path(),
        &with(
            base,
            &["--sslargs1", &format!("SSL_ca_file={}", pem.display())],
        ),
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.show());
    assert_eq!(r.num("Messages transferred"), 1);
}
