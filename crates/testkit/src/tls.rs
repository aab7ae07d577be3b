//! A throwaway certificate authority and server certificate, made once per process
//! with the `openssl` command line tool (a dependency of `dovecot-core`, so it is
//! present wherever Dovecot is).
//!
//! The server certificate is a leaf (CA:FALSE, SAN `localhost`, `127.0.0.1`, `::1`,
//! EKU serverAuth) signed by a separate CA certificate: webpki/rustls reject a
//! self-signed certificate that is also marked as a CA when it is used as the end
//! entity, so tests trust [`Pki::ca_pem`] and the server presents the leaf.

use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

use anyhow::{Context, Result, bail};

/// PEM texts of the per-process test PKI.
#[derive(Clone, Debug)]
pub struct Pki {
    /// CA certificate (what clients should trust).
    pub ca_pem: String,
    /// Server certificate followed by the CA certificate (chain).
    pub cert_chain_pem: String,
    /// Server private key (PKCS#8).
    pub key_pem: String,
    /// CA private key (to sign client certificates, [`client_cert`]).
    pub ca_key_pem: String,
}

/// A certificate and its private key, PEM.
#[derive(Clone, Debug)]
pub struct CertKey {
    pub cert_pem: String,
    pub key_pem: String,
}

static PKI: OnceLock<Pki> = OnceLock::new();
static PKI_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

const OPENSSL_CNF: &str = "\
[req]
distinguished_name = dn
prompt = no
[dn]
CN = imapsync-testkit
[v3_ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[v3_leaf]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost,IP:127.0.0.1,IP:::1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
";

fn openssl(dir: &Path, args: &[&str]) -> Result<()> {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .env("OPENSSL_CONF", dir.join("openssl.cnf"))
        .output()
        .context("running `openssl` (install the openssl package)")?;
    if !out.status.success() {
        bail!(
            "openssl {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// The process-wide test PKI (generated on first use).
pub fn pki() -> Result<&'static Pki> {
    if let Some(p) = PKI.get() {
        return Ok(p);
    }
    let _guard = PKI_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(p) = PKI.get() {
        return Ok(p);
    }
    let dir = tempfile::Builder::new()
        .prefix("itk-pki-")
        .tempdir()
        .context("creating a temp dir for the test certificates")?;
    let d = dir.path();
    std::fs::write(d.join("openssl.cnf"), OPENSSL_CNF)?;
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut a = vec![
        "req",
        "-x509",
        "-config",
        "openssl.cnf",
        "-extensions",
        "v3_ca",
    ];
    a.extend(ec);
    a.extend([
        "-days",
        "3650",
        "-subj",
        "/CN=imapsync-testkit CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
    ]);
    openssl(d, &a)?;
    let mut a = vec!["req", "-new", "-config", "openssl.cnf"];
    a.extend(ec);
    a.extend([
        "-subj",
        "/CN=localhost",
        "-keyout",
        "leaf.key",
        "-out",
        "leaf.csr",
    ]);
    openssl(d, &a)?;
    let serial = format!(
        "0x{:x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|t| t.as_nanos())
            .unwrap_or(1)
            ^ std::process::id() as u128
    );
    openssl(
        d,
        &[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-set_serial",
            &serial,
            "-days",
            "3650",
            "-extfile",
            "openssl.cnf",
            "-extensions",
            "v3_leaf",
            "-out",
            "leaf.pem",
        ],
    )?;
    let ca_pem = std::fs::read_to_string(d.join("ca.pem"))?;
    let leaf = std::fs::read_to_string(d.join("leaf.pem"))?;
    let key_pem = std::fs::read_to_string(d.join("leaf.key"))?;
    let ca_key_pem = std::fs::read_to_string(d.join("ca.key"))?;
    let p = Pki {
        cert_chain_pem: format!("{leaf}{ca_pem}"),
        ca_pem,
        key_pem,
        ca_key_pem,
    };
    let _ = PKI.set(p);
    PKI.get().context("test PKI not stored")
}

/// A self-signed certificate as `openssl req -x509 -subj /CN=<cn>` makes it with openssl's
/// default extensions: `CA:TRUE`, no subject alternative name (what many small servers run
/// with, and what webpki refuses as an end entity).
pub fn self_signed(cn: &str) -> Result<CertKey> {
    make_self_signed(cn, true)
}

/// A self-signed X.509 version 1 certificate (no extensions at all), as older `openssl req
/// -x509` set-ups made them.
pub fn self_signed_v1(cn: &str) -> Result<CertKey> {
    make_self_signed(cn, false)
}

fn make_self_signed(cn: &str, v3: bool) -> Result<CertKey> {
    let dir = tempfile::Builder::new()
        .prefix("itk-selfsigned-")
        .tempdir()
        .context("creating a temp dir for a self-signed certificate")?;
    let d = dir.path();
    // Debian's default openssl.cnf for `req -x509`: its v3_ca extensions.
    let cnf = if v3 {
        "[req]\ndistinguished_name = dn\nx509_extensions = v3_ca\n[dn]\n[v3_ca]\n\
         subjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid:always,issuer\n\
         basicConstraints = critical,CA:true\n"
    } else {
        "[req]\ndistinguished_name = dn\n[dn]\n"
    };
    std::fs::write(d.join("openssl.cnf"), cnf)?;
    openssl(
        d,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "3650",
            "-subj",
            &format!("/CN={cn}"),
            "-keyout",
            "key.pem",
            "-out",
            "cert.pem",
        ],
    )?;
    Ok(CertKey {
        cert_pem: std::fs::read_to_string(d.join("cert.pem"))?,
        key_pem: std::fs::read_to_string(d.join("key.pem"))?,
    })
}

/// A client certificate for `/CN=<cn>` (EKU clientAuth) signed by the test CA of [`pki`],
/// which testkit's Dovecot trusts for client certificates.
pub fn client_cert(cn: &str) -> Result<CertKey> {
    let pki = pki()?;
    let dir = tempfile::Builder::new()
        .prefix("itk-client-")
        .tempdir()
        .context("creating a temp dir for a client certificate")?;
    let d = dir.path();
    std::fs::write(d.join("openssl.cnf"), OPENSSL_CNF)?;
    std::fs::write(
        d.join("client.cnf"),
        "[v3_client]\nbasicConstraints = critical,CA:FALSE\nkeyUsage = critical,digitalSignature\nextendedKeyUsage = clientAuth\n",
    )?;
    std::fs::write(d.join("ca.pem"), &pki.ca_pem)?;
    std::fs::write(d.join("ca.key"), &pki.ca_key_pem)?;
    openssl(
        d,
        &[
            "req",
            "-new",
            "-config",
            "openssl.cnf",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-subj",
            &format!("/CN={cn}"),
            "-keyout",
            "key.pem",
            "-out",
            "req.csr",
        ],
    )?;
    let serial = format!(
        "0x{:x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|t| t.as_nanos())
            .unwrap_or(2)
            ^ 0x5a5a
    );
    openssl(
        d,
        &[
            "x509",
            "-req",
            "-in",
            "req.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-set_serial",
            &serial,
            "-days",
            "3650",
            "-extfile",
            "client.cnf",
            "-extensions",
            "v3_client",
            "-out",
            "cert.pem",
        ],
    )?;
    Ok(CertKey {
        cert_pem: std::fs::read_to_string(d.join("cert.pem"))?,
        key_pem: std::fs::read_to_string(d.join("key.pem"))?,
    })
}
