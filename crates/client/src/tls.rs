//! TLS client configuration.
//!
//! Certificates are verified by default (a deliberate divergence from imapsync, which does not
//! verify): the operating system's roots (which honour `SSL_CERT_FILE`/`SSL_CERT_DIR`), with
//! the Mozilla roots bundled in the binary as a fallback when the system has none. The
//! IO::Socket::SSL arguments imapsync passes through `--sslargsN` map onto [`TlsOptions`]:
//!
//! * `SSL_verify_mode=0` turns verification off for that side;
//! * `SSL_ca_file` / `SSL_ca_path` trust more certificates; a certificate given there that the
//!   server presents as its own is trusted as it is (a self-signed server certificate, even
//!   one marked as a CA, as `openssl req -x509` makes them);
//! * `SSL_fingerprint=algo$hex` (or `algo$pub$hex`) accepts the server certificate whose
//!   digest matches, as IO::Socket::SSL does; other certificates are verified as usual;
//! * `SSL_version` ([`TlsVersions::parse`]) limits the protocol versions;
//! * `SSL_hostname` is the name sent as SNI and verified, `SSL_verifycn_name` the name
//!   verified;
//! * `SSL_cert_file` / `SSL_key_file` present a client certificate.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};

pub mod x509;

/// TLS settings of one side.
#[derive(Clone, Debug, Default)]
pub struct TlsOptions {
    /// Verify the server certificate (default true).
    pub verify: bool,
    /// Extra trusted certificates (PEM file, `SSL_ca_file`).
    pub ca_file: Option<PathBuf>,
    /// A directory of PEM files of extra trusted certificates (`SSL_ca_path`).
    pub ca_path: Option<PathBuf>,
    /// Protocol versions allowed (`SSL_version`).
    pub versions: TlsVersions,
    /// Accepted server certificates by digest (`SSL_fingerprint`).
    pub fingerprints: Vec<Fingerprint>,
    /// Name sent as SNI and verified instead of the host (`SSL_hostname`); `Some("")` sends
    /// no SNI.
    pub sni: Option<String>,
    /// Name the certificate is verified against (`SSL_verifycn_name`).
    pub verify_name: Option<String>,
    /// Client certificate (`SSL_cert_file`, `SSL_key_file`).
    pub client_cert: Option<ClientCert>,
    /// `--debugssl`: 0 nothing, 1 protocol, cipher and server certificate, 2 the whole chain.
    pub debug: u8,
}

impl TlsOptions {
    pub fn verifying() -> Self {
        TlsOptions {
            verify: true,
            debug: 1,
            ..TlsOptions::default()
        }
    }
}

/// A client certificate and its private key (PEM files; the key may be in the certificate
/// file).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientCert {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
}

/// The protocol versions allowed. rustls speaks TLS 1.2 and 1.3 only.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TlsVersions {
    pub tls12: bool,
    pub tls13: bool,
}

impl Default for TlsVersions {
    fn default() -> Self {
        TlsVersions {
            tls12: true,
            tls13: true,
        }
    }
}

/// Protocols IO::Socket::SSL names in `SSL_version`, oldest first.
const PROTOCOLS: [&str; 6] = ["SSLv2", "SSLv3", "TLSv1", "TLSv1_1", "TLSv1_2", "TLSv1_3"];

impl TlsVersions {
    /// IO::Socket::SSL's `SSL_version`: `:`-separated protocols, each one of `SSLv2`,
    /// `SSLv3`, `SSLv23` (= any), `SSLv2/3`, `TLSv1`, `TLSv1_1`/`TLSv11`, `TLSv1_2`/`TLSv12`,
    /// `TLSv1_3`/`TLSv13` (any case), `!` in front to exclude it. One protocol named without
    /// `!` means that protocol only. What remains must include TLS 1.2 or 1.3: older
    /// protocols are not spoken here.
    pub fn parse(spec: &str) -> Result<TlsVersions, String> {
        let mut only: Option<&str> = None;
        let mut excluded: Vec<&str> = Vec::new();
        for token in spec.split(':').map(str::trim) {
            let (not, name) = match token.strip_prefix('!') {
                Some(rest) => (true, rest),
                None => (false, token),
            };
            let proto = canonical_protocol(name).ok_or_else(|| {
                format!("invalid SSL_version {spec:?}: unknown protocol {token:?}")
            })?;
            if not {
                excluded.push(proto);
            } else {
                if only.is_some_and(|o| o != proto) {
                    return Err(format!(
                        "invalid SSL_version {spec:?}: only one protocol can be named without '!'"
                    ));
                }
                only = Some(proto);
            }
        }
        let allowed =
            |p: &str| !excluded.contains(&p) && only.is_none_or(|o| o == "SSLv23" || o == p);
        let v = TlsVersions {
            tls12: allowed("TLSv1_2"),
            tls13: allowed("TLSv1_3"),
        };
        if !v.tls12 && !v.tls13 {
            let left: Vec<&str> = PROTOCOLS.into_iter().filter(|p| allowed(p)).collect();
            return Err(format!(
                "SSL_version {spec:?} leaves {}: only TLSv1_2 and TLSv1_3 are spoken here",
                if left.is_empty() {
                    "no protocol at all".to_string()
                } else {
                    left.join(", ")
                }
            ));
        }
        Ok(v)
    }

    fn list(self) -> Vec<&'static rustls::SupportedProtocolVersion> {
        let mut v = Vec::new();
        if self.tls13 {
            v.push(&rustls::version::TLS13);
        }
        if self.tls12 {
            v.push(&rustls::version::TLS12);
        }
        v
    }
}

/// IO::Socket::SSL's spelling of a protocol, normalised (`TLSv12` → `TLSv1_2`, `SSLv2/3` →
/// `SSLv23`).
fn canonical_protocol(name: &str) -> Option<&'static str> {
    Some(match name.to_ascii_lowercase().as_str() {
        "sslv2" => "SSLv2",
        "sslv3" => "SSLv3",
        "sslv23" | "sslv2/3" => "SSLv23",
        "tlsv1" => "TLSv1",
        "tlsv1_1" | "tlsv11" => "TLSv1_1",
        "tlsv1_2" | "tlsv12" => "TLSv1_2",
        "tlsv1_3" | "tlsv13" => "TLSv1_3",
        _ => return None,
    })
}

/// Digest algorithms of fingerprints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Digest {
    Md5,
    Sha1,
    Sha256,
    Sha384,
    Sha512,
}

impl Digest {
    fn name(self) -> &'static str {
        match self {
            Digest::Md5 => "md5",
            Digest::Sha1 => "sha1",
            Digest::Sha256 => "sha256",
            Digest::Sha384 => "sha384",
            Digest::Sha512 => "sha512",
        }
    }

    fn digest(self, data: &[u8]) -> Vec<u8> {
        use ring::digest;
        let algo = match self {
            Digest::Md5 => {
                use md5::Digest as _;
                return md5::Md5::digest(data).to_vec();
            }
            Digest::Sha1 => &digest::SHA1_FOR_LEGACY_USE_ONLY,
            Digest::Sha256 => &digest::SHA256,
            Digest::Sha384 => &digest::SHA384,
            Digest::Sha512 => &digest::SHA512,
        };
        digest::digest(algo, data).as_ref().to_vec()
    }
}

/// An accepted server certificate, IO::Socket::SSL's `SSL_fingerprint`: the digest of the
/// whole certificate, or with `pub$` of its public key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fingerprint {
    pub digest: Digest,
    pub public_key: bool,
    pub value: Vec<u8>,
}

impl Fingerprint {
    /// `[algo$][pub$]hex`, the hex possibly with `:`; without `algo$` the algorithm follows
    /// from the length (md5, sha1, sha256), as IO::Socket::SSL decides.
    pub fn parse(spec: &str) -> Result<Fingerprint, String> {
        let bad = |why: &str| format!("invalid SSL_fingerprint {spec:?}: {why}");
        let mut parts: Vec<&str> = spec.trim().split('$').collect();
        let hex = parts.pop().unwrap_or_default().replace(':', "");
        let public_key = parts.last() == Some(&"pub");
        if public_key {
            parts.pop();
        }
        let algo = match parts.as_slice() {
            [] => None,
            [a] => Some(a.to_ascii_lowercase()),
            _ => return Err(bad("expected [algo$][pub$]hex")),
        };
        if hex.is_empty()
            || !hex.len().is_multiple_of(2)
            || !hex.bytes().all(|b| b.is_ascii_hexdigit())
        {
            return Err(bad("the digest is not hexadecimal"));
        }
        let value: Vec<u8> = (0..hex.len())
            .step_by(2)
            .filter_map(|i| u8::from_str_radix(&hex[i..i + 2], 16).ok())
            .collect();
        let digest = match algo.as_deref() {
            Some("md5") => Digest::Md5,
            Some("sha1") => Digest::Sha1,
            Some("sha256") => Digest::Sha256,
            Some("sha384") => Digest::Sha384,
            Some("sha512") => Digest::Sha512,
            Some(other) => return Err(bad(&format!("unknown digest {other}"))),
            None => match value.len() {
                16 => Digest::Md5,
                20 => Digest::Sha1,
                32 => Digest::Sha256,
                _ => return Err(bad("can not tell the digest from its length")),
            },
        };
        if digest.digest(b"").len() != value.len() {
            return Err(bad(&format!(
                "a {} digest has {} hex digits",
                digest.name(),
                2 * digest.digest(b"").len()
            )));
        }
        Ok(Fingerprint {
            digest,
            public_key,
            value,
        })
    }

    /// Whether `cert` (DER) is the certificate this fingerprint names.
    pub fn matches(&self, cert: &[u8]) -> bool {
        let data = if self.public_key {
            match x509::parse(cert) {
                Some(info) => info.public_key,
                None => return false,
            }
        } else {
            cert.to_vec()
        };
        self.digest.digest(&data) == self.value
    }
}

/// IO::Socket::SSL's `get_fingerprint` form: `sha256$` and lower-case hex.
pub fn fingerprint_text(cert: &[u8]) -> String {
    let hex: String = Digest::Sha256
        .digest(cert)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256${hex}")
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Builds the rustls client configuration for these options (reading the files they name).
pub fn client_config(opts: &TlsOptions) -> Result<Arc<ClientConfig>, String> {
    Ok(prepare(opts)?.config)
}

/// A configuration for one handshake, and what its verifier saw.
pub(crate) struct Prepared {
    pub(crate) config: Arc<ClientConfig>,
    /// The certificate the server presented, kept to tell the user about it when it is
    /// refused.
    pub(crate) presented: Arc<Mutex<Option<CertificateDer<'static>>>>,
}

pub(crate) fn prepare(opts: &TlsOptions) -> Result<Prepared, String> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&opts.versions.list())
        .map_err(|e| format!("TLS set-up: {e}"))?;
    let presented = Arc::new(Mutex::new(None));
    let verifier = verifier(opts, provider, presented.clone())?;
    let builder = builder
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let mut config = match &opts.client_cert {
        None => builder.with_no_client_auth(),
        Some(cc) => {
            let (certs, key) = client_cert(cc)?;
            builder
                .with_client_auth_cert(certs, key)
                .map_err(|e| format!("client certificate {}: {e}", cc.cert_file.display()))?
        }
    };
    if opts.sni.as_deref() == Some("") {
        config.enable_sni = false;
    }
    Ok(Prepared {
        config: Arc::new(config),
        presented,
    })
}

/// The server certificate verifier `opts` ask for; it keeps the certificate it was shown in
/// `presented`.
fn verifier(
    opts: &TlsOptions,
    provider: Arc<rustls::crypto::CryptoProvider>,
    presented: Arc<Mutex<Option<CertificateDer<'static>>>>,
) -> Result<Arc<dyn ServerCertVerifier>, String> {
    if !opts.verify {
        return Ok(Arc::new(NoVerify(provider)));
    }
    let extra = trusted_extra(opts)?;
    let algorithms = provider.signature_verification_algorithms;
    let inner = webpki_or_platform(extra.clone(), provider)?;
    Ok(Arc::new(Checked {
        inner,
        algorithms,
        pinned: extra,
        fingerprints: opts.fingerprints.clone(),
        verify_name: match opts.verify_name.as_deref() {
            Some(n) => Some(server_name(n)?),
            None => None,
        },
        presented,
    }))
}

/// The certificates of `SSL_ca_file` and `SSL_ca_path`.
fn trusted_extra(opts: &TlsOptions) -> Result<Vec<CertificateDer<'static>>, String> {
    let mut extra = Vec::new();
    if let Some(path) = &opts.ca_file {
        let found = pem_certs(path).map_err(|e| format!("SSL_ca_file {}: {e}", path.display()))?;
        if found.is_empty() {
            return Err(format!(
                "no certificate found in SSL_ca_file {}",
                path.display()
            ));
        }
        extra.extend(found);
    }
    if let Some(dir) = &opts.ca_path {
        let entries = std::fs::read_dir(dir)
            .map_err(|e| format!("can not read SSL_ca_path {}: {e}", dir.display()))?;
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        let before = extra.len();
        for f in files {
            // Other files (hash links to the same certificates, CRLs, notes) are skipped.
            if let Ok(found) = pem_certs(&f) {
                extra.extend(found);
            }
        }
        if extra.len() == before {
            return Err(format!(
                "no certificate found in SSL_ca_path {}",
                dir.display()
            ));
        }
    }
    Ok(extra)
}

fn pem_certs(path: &std::path::Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let data = std::fs::read(path).map_err(|e| format!("can not read it: {e}"))?;
    rustls_pemfile::certs(&mut data.as_slice())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("bad certificate: {e}"))
}

fn client_cert(
    cc: &ClientCert,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), String> {
    let certs = pem_certs(&cc.cert_file)
        .map_err(|e| format!("SSL_cert_file {}: {e}", cc.cert_file.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "no certificate found in SSL_cert_file {}",
            cc.cert_file.display()
        ));
    }
    let data = std::fs::read(&cc.key_file)
        .map_err(|e| format!("can not read SSL_key_file {}: {e}", cc.key_file.display()))?;
    let key = rustls_pemfile::private_key(&mut data.as_slice())
        .map_err(|e| format!("SSL_key_file {}: {e}", cc.key_file.display()))?
        .ok_or_else(|| {
            format!(
                "no private key (unencrypted PEM) found in {}",
                cc.key_file.display()
            )
        })?;
    Ok((certs, key))
}

/// The platform's verifier with the extra roots, or (no usable system roots, e.g. a scratch
/// container) webpki with the bundled Mozilla roots.
fn webpki_or_platform(
    extra: Vec<CertificateDer<'static>>,
    provider: Arc<rustls::crypto::CryptoProvider>,
) -> Result<Arc<dyn ServerCertVerifier>, String> {
    if let Ok(v) =
        rustls_platform_verifier::Verifier::new_with_extra_roots(extra.clone(), provider.clone())
    {
        return Ok(Arc::new(v));
    }
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    for c in extra {
        // A certificate that can not be a trust anchor is still pinned by `Checked`.
        let _ = roots.add(c);
    }
    let v = rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
        .build()
        .map_err(|e| format!("TLS verifier: {e}"))?;
    Ok(v)
}

/// Verification as the options ask: a certificate given in `SSL_ca_file`/`SSL_ca_path` or
/// matching an `SSL_fingerprint` is accepted as it is; any other goes through the normal
/// verification (chain to a trusted root, name, dates).
#[derive(Debug)]
struct Checked {
    inner: Arc<dyn ServerCertVerifier>,
    algorithms: rustls::crypto::WebPkiSupportedAlgorithms,
    pinned: Vec<CertificateDer<'static>>,
    fingerprints: Vec<Fingerprint>,
    verify_name: Option<ServerName<'static>>,
    presented: Arc<Mutex<Option<CertificateDer<'static>>>>,
}

impl ServerCertVerifier for Checked {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Ok(mut seen) = self.presented.lock() {
            *seen = Some(end_entity.clone().into_owned());
        }
        let der = end_entity.as_ref();
        if self.pinned.iter().any(|c| c.as_ref() == der)
            || self.fingerprints.iter().any(|f| f.matches(der))
        {
            return Ok(ServerCertVerified::assertion());
        }
        let name = self.verify_name.as_ref().unwrap_or(server_name);
        self.inner
            .verify_server_cert(end_entity, intermediates, name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        if is_v1(cert) {
            return v1_signature(message, cert, dss, &self.algorithms, false);
        }
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        if is_v1(cert) {
            return v1_signature(message, cert, dss, &self.algorithms, true);
        }
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }

    fn requires_raw_public_keys(&self) -> bool {
        false
    }
}

/// Accepts any certificate (SSL_verify_mode=0). Signatures are still checked so the handshake
/// itself is sound.
#[derive(Debug)]
struct NoVerify(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.0.signature_verification_algorithms;
        if is_v1(cert) {
            return v1_signature(message, cert, dss, algorithms, false);
        }
        rustls::crypto::verify_tls12_signature(message, cert, dss, algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.0.signature_verification_algorithms;
        if is_v1(cert) {
            return v1_signature(message, cert, dss, algorithms, true);
        }
        rustls::crypto::verify_tls13_signature(message, cert, dss, algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// An X.509 version 1 certificate (no extensions): webpki does not read them, OpenSSL (so
/// imapsync) does; old self-signed server certificates are often such.
fn is_v1(cert: &CertificateDer<'_>) -> bool {
    x509::parse(cert.as_ref()).is_some_and(|c| c.version == 1)
}

/// The handshake signature made with the key of a version 1 certificate (accepted as it is:
/// verification off, pinned, or given as trusted). The algorithms the signature scheme maps to
/// are tried with the certificate's key (TLS 1.3: only the first, as rustls does).
fn v1_signature(
    message: &[u8],
    cert: &CertificateDer<'_>,
    dss: &DigitallySignedStruct,
    algorithms: &rustls::crypto::WebPkiSupportedAlgorithms,
    tls13: bool,
) -> Result<HandshakeSignatureValid, rustls::Error> {
    let bad = || rustls::Error::InvalidCertificate(rustls::CertificateError::BadSignature);
    let info = x509::parse(cert.as_ref()).ok_or_else(bad)?;
    let candidates = algorithms
        .mapping
        .iter()
        .find(|(scheme, _)| *scheme == dss.scheme)
        .map(|(_, algs)| *algs)
        .ok_or(rustls::Error::PeerMisbehaved(
            rustls::PeerMisbehaved::SignedHandshakeWithUnadvertisedSigScheme,
        ))?;
    let take = if tls13 { 1 } else { candidates.len() };
    candidates
        .iter()
        .take(take)
        .filter(|alg| alg.public_key_alg_id().as_ref() == info.key_algorithm.as_slice())
        .find(|alg| {
            alg.verify_signature(&info.public_key, message, dss.signature())
                .is_ok()
        })
        .map(|_| HandshakeSignatureValid::assertion())
        .ok_or_else(bad)
}

/// The server name to verify: an IP address or a DNS name.
pub fn server_name(host: &str) -> Result<ServerName<'static>, String> {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(h.to_string()).map_err(|e| format!("invalid TLS server name {host}: {e}"))
}

/// The name the handshake uses (SNI, and verification unless `SSL_verifycn_name` says
/// otherwise): `SSL_hostname` when given, else the host.
pub(crate) fn handshake_name(host: &str, opts: &TlsOptions) -> Result<ServerName<'static>, String> {
    match opts.sni.as_deref() {
        Some(name) if !name.is_empty() => server_name(name),
        _ => server_name(host),
    }
}

/// What `--debugssl` shows of an established TLS session: protocol and cipher suite, then the
/// server certificate (level 1), then every certificate of the chain (level 2 and more).
pub(crate) fn describe(conn: &rustls::ClientConnection, level: u8) -> Vec<String> {
    if level == 0 {
        return Vec::new();
    }
    let mut lines = vec![format!(
        "TLS protocol {}, cipher {}",
        conn.protocol_version()
            .map(|v| format!("{v:?}"))
            .unwrap_or_else(|| "?".into()),
        conn.negotiated_cipher_suite()
            .map(|s| format!("{:?}", s.suite()))
            .unwrap_or_else(|| "?".into())
    )];
    let chain = conn.peer_certificates().unwrap_or_default();
    for (i, cert) in chain.iter().enumerate() {
        if i > 0 && level < 2 {
            break;
        }
        let what = if i == 0 {
            "server certificate".to_string()
        } else {
            format!("chain certificate {i}")
        };
        lines.push(format!("TLS {what}: {}", certificate_text(cert.as_ref())));
    }
    lines
}

/// One certificate in one line: subject, issuer, names, validity, fingerprint.
pub(crate) fn certificate_text(der: &[u8]) -> String {
    let fp = fingerprint_text(der);
    match x509::parse(der) {
        Some(c) => format!(
            "subject [{}] issuer [{}] names [{}] valid from [{}] to [{}] fingerprint [{fp}]",
            c.subject,
            c.issuer,
            c.names.join(" "),
            c.not_before,
            c.not_after
        ),
        None => format!("(not readable) fingerprint [{fp}]"),
    }
}

#[cfg(test)]
mod tests;
