//! The IO::Socket::SSL arguments as rustls settings, and the verifier's rules, without a
//! server (the handshakes themselves are tested against Dovecot in the CLI's tests).

use super::*;

#[test]
fn ssl_version_as_io_socket_ssl_spells_it() {
    let both = Ok(TlsVersions {
        tls12: true,
        tls13: true,
    });
    let only12 = Ok(TlsVersions {
        tls12: true,
        tls13: false,
    });
    let only13 = Ok(TlsVersions {
        tls12: false,
        tls13: true,
    });
    // (SSL_version, allowed)
    let table: &[(&str, &Result<TlsVersions, String>)] = &[
        ("SSLv23", &both),
        ("SSLv2/3", &both),
        ("SSLv23:!SSLv3:!SSLv2", &both),
        ("!SSLv2:!SSLv3", &both),
        ("!SSLv2 : !SSLv3", &both),
        ("TLSv1_2", &only12),
        ("tlsv12", &only12),
        ("TLSv12", &only12),
        ("TLSv1_3", &only13),
        ("TLSv13", &only13),
        ("SSLv23:!TLSv1_3", &only12),
        ("!TLSv1_3", &only12),
        ("!TLSv1_2:!TLSv1_1:!TLSv1", &only13),
        ("TLSv1_2:!TLSv1_3", &only12),
        ("TLSv1_2:TLSv1_2", &only12),
    ];
    for (spec, want) in table {
        assert_eq!(&TlsVersions::parse(spec), *want, "{spec}");
    }
    // Refused, with the reason.
    let refused: &[(&str, &str)] = &[
        ("TLSv1", "leaves TLSv1: only TLSv1_2 and TLSv1_3"),
        ("TLSv1_1", "leaves TLSv1_1"),
        ("SSLv3", "leaves SSLv3"),
        ("!TLSv1_2:!TLSv1_3", "leaves SSLv2, SSLv3, TLSv1, TLSv1_1"),
        ("TLSv1_2:!TLSv1_2", "no protocol at all"),
        ("TLSv1_2:TLSv1_3", "only one protocol can be named"),
        ("TLSv1.2", "unknown protocol"),
        ("", "unknown protocol"),
        ("TLS1_2", "unknown protocol"),
    ];
    for (spec, why) in refused {
        match TlsVersions::parse(spec) {
            Err(e) => assert!(e.contains(why), "{spec}: {e}"),
            Ok(v) => panic!("{spec} accepted as {v:?}"),
        }
    }
}

#[test]
fn fingerprints_as_io_socket_ssl_spells_them() {
    let sha256_hex = "ab".repeat(32);
    let with_colons = vec!["AB"; 32].join(":");
    // (SSL_fingerprint, digest, public key)
    let table: &[(String, Digest, bool)] = &[
        (format!("sha256${sha256_hex}"), Digest::Sha256, false),
        (format!("SHA256${with_colons}"), Digest::Sha256, false),
        (format!("sha256$pub${sha256_hex}"), Digest::Sha256, true),
        (sha256_hex.clone(), Digest::Sha256, false),
        ("11".repeat(20), Digest::Sha1, false),
        (format!("sha1${}", "11".repeat(20)), Digest::Sha1, false),
        ("22".repeat(16), Digest::Md5, false),
        (format!("sha384${}", "33".repeat(48)), Digest::Sha384, false),
        (
            format!("sha512$pub${}", "44".repeat(64)),
            Digest::Sha512,
            true,
        ),
    ];
    for (spec, digest, public_key) in table {
        let f = Fingerprint::parse(spec).unwrap_or_else(|e| panic!("{spec}: {e}"));
        assert_eq!((f.digest, f.public_key), (*digest, *public_key), "{spec}");
    }
    assert_eq!(
        Fingerprint::parse(&format!("sha256${with_colons}"))
            .map(|f| f.value)
            .ok(),
        Some(vec![0xab; 32])
    );
    for bad in [
        "sha256$xyz",
        "sha256$abc",
        "sha256$abab",
        "whirlpool$abab",
        "a$b$c$abab",
        "abab",
        "",
    ] {
        assert!(Fingerprint::parse(bad).is_err(), "{bad} accepted");
    }
}

fn der(pem: &str) -> CertificateDer<'static> {
    rustls_pemfile::certs(&mut pem.as_bytes())
        .next()
        .and_then(Result::ok)
        .expect("a certificate")
}

#[test]
fn fingerprints_match_the_certificate_or_its_key() {
    let pki = imapsync_testkit::tls::pki().expect("test PKI (openssl)");
    let leaf = der(&pki.cert_chain_pem);
    let ca = der(&pki.ca_pem);
    let text = fingerprint_text(leaf.as_ref());
    let f = Fingerprint::parse(&text).expect("our own fingerprint text parses");
    assert!(f.matches(leaf.as_ref()));
    assert!(!f.matches(ca.as_ref()));
    let key = x509::parse(leaf.as_ref()).expect("leaf").public_key;
    let hex: String = Digest::Sha1
        .digest(&key)
        .iter()
        .map(|b| format!("{b:02X}:"))
        .collect();
    let f = Fingerprint::parse(&format!("sha1$pub${}", hex.trim_end_matches(':')))
        .expect("pub fingerprint");
    assert!(f.matches(leaf.as_ref()));
    assert!(!f.matches(ca.as_ref()));
}

/// The verifier of `opts`, with the presented certificate `cert` for `host`.
fn verify(opts: &TlsOptions, cert: &CertificateDer<'_>, host: &str) -> Result<(), String> {
    let v = verifier(opts, provider(), Arc::default())?;
    let name = server_name(host)?;
    v.verify_server_cert(cert, &[], &name, &[], UnixTime::now())
        .map(|_| ())
        .map_err(|e| e.to_string())
}

#[test]
fn a_certificate_given_as_trusted_is_trusted_as_the_server_certificate() {
    let dir = tempfile::tempdir().expect("tempdir");
    let own = imapsync_testkit::tls::self_signed("mail.example").expect("self-signed (openssl)");
    let other = imapsync_testkit::tls::self_signed("other.example").expect("self-signed");
    let file = dir.path().join("own.pem");
    std::fs::write(&file, &own.cert_pem).expect("write");
    let cert = der(&own.cert_pem);
    // Not trusted by default.
    let default = TlsOptions::verifying();
    assert!(verify(&default, &cert, "127.0.0.1").is_err());
    // webpki alone refuses it even as a trust anchor: it is a CA used as an end entity.
    let plain = webpki_or_platform(vec![cert.clone()], provider()).expect("verifier");
    let err = plain
        .verify_server_cert(
            &cert,
            &[],
            &server_name("mail.example").expect("name"),
            &[],
            UnixTime::now(),
        )
        .expect_err("webpki refuses a CA as end entity");
    assert!(format!("{err:?}").contains("CaUsedAsEndEntity"), "{err:?}");
    // Given in SSL_ca_file: trusted, for whatever name it is reached by (it is pinned).
    let mut given = TlsOptions::verifying();
    given.ca_file = Some(file.clone());
    assert_eq!(verify(&given, &cert, "127.0.0.1"), Ok(()));
    assert_eq!(verify(&given, &cert, "mail.example"), Ok(()));
    // Another self-signed certificate is not.
    let err = verify(&given, &der(&other.cert_pem), "other.example").expect_err("other");
    assert!(!err.is_empty());
    // The same through a directory (SSL_ca_path), and through a fingerprint.
    let mut by_dir = TlsOptions::verifying();
    by_dir.ca_path = Some(dir.path().to_path_buf());
    assert_eq!(verify(&by_dir, &cert, "127.0.0.1"), Ok(()));
    let mut by_fp = TlsOptions::verifying();
    by_fp.fingerprints = vec![Fingerprint::parse(&fingerprint_text(cert.as_ref())).expect("fp")];
    assert_eq!(verify(&by_fp, &cert, "127.0.0.1"), Ok(()));
    assert!(verify(&by_fp, &der(&other.cert_pem), "127.0.0.1").is_err());
}

#[test]
fn version_1_certificates_are_told_apart() {
    let v1 = imapsync_testkit::tls::self_signed_v1("old.example").expect("v1 (openssl)");
    let v3 = imapsync_testkit::tls::self_signed("new.example").expect("v3 (openssl)");
    assert!(is_v1(&der(&v1.cert_pem)));
    assert!(!is_v1(&der(&v3.cert_pem)));
    let info = x509::parse(der(&v1.cert_pem).as_ref()).expect("v1 parses");
    assert_eq!(
        (info.version, info.subject.as_str()),
        (1, "/CN=old.example")
    );
}

#[test]
fn the_verified_name_can_be_another_one() {
    let pki = imapsync_testkit::tls::pki().expect("test PKI (openssl)");
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &pki.ca_pem).expect("write");
    let leaf = der(&pki.cert_chain_pem);
    let mut o = TlsOptions::verifying();
    o.ca_file = Some(ca);
    assert_eq!(verify(&o, &leaf, "localhost"), Ok(()));
    let err = verify(&o, &leaf, "imap.example").expect_err("wrong name");
    assert!(err.contains("not valid for name"), "{err}");
    o.verify_name = Some("localhost".into());
    assert_eq!(verify(&o, &leaf, "imap.example"), Ok(()));
    // SSL_hostname: the handshake's name.
    o.sni = Some("localhost".into());
    assert_eq!(
        handshake_name("imap.example", &o).map(|n| n.to_str().into_owned()),
        Ok("localhost".to_string())
    );
    o.sni = Some(String::new());
    assert!(!prepare(&o).expect("config").config.enable_sni);
}

#[test]
fn unreadable_files_are_clear_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("missing.pem");
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "no certificate here\n").expect("write");
    let mut o = TlsOptions::verifying();
    o.ca_file = Some(missing.clone());
    let e = client_config(&o).err().unwrap_or_default();
    assert!(
        e.contains("SSL_ca_file") && e.contains("can not read"),
        "{e}"
    );
    o.ca_file = Some(empty.clone());
    let e = client_config(&o).err().unwrap_or_default();
    assert!(e.contains("no certificate found in SSL_ca_file"), "{e}");
    let mut o = TlsOptions::verifying();
    o.client_cert = Some(ClientCert {
        cert_file: empty.clone(),
        key_file: empty,
    });
    let e = client_config(&o).err().unwrap_or_default();
    assert!(e.contains("SSL_cert_file"), "{e}");
    let pki = imapsync_testkit::tls::pki().expect("test PKI (openssl)");
    let cert = dir.path().join("cert.pem");
    std::fs::write(&cert, &pki.cert_chain_pem).expect("write");
    o.client_cert = Some(ClientCert {
        cert_file: cert.clone(),
        key_file: cert,
    });
    let e = client_config(&o).err().unwrap_or_default();
    assert!(e.contains("no private key"), "{e}");
}
