//! TLS client configuration.
//!
//! Certificates are verified by default (a deliberate divergence from imapsync, which does not
//! verify): the operating system's roots (which honour `SSL_CERT_FILE`/`SSL_CERT_DIR`), with
//! the Mozilla roots bundled in the binary as a fallback when the system has none. imapsync's
//! `--sslargsN SSL_verify_mode=0` turns verification off for that side, and
//! `--sslargsN SSL_ca_file=PATH` trusts the certificates of PATH in addition.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};

/// TLS settings of one side.
#[derive(Clone, Debug, Default)]
pub struct TlsOptions {
    /// Verify the server certificate (default true).
    pub verify: bool,
    /// Extra trusted CA certificates (PEM file).
    pub ca_file: Option<std::path::PathBuf>,
}

impl TlsOptions {
    pub fn verifying() -> Self {
        TlsOptions {
            verify: true,
            ca_file: None,
        }
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Builds the rustls client configuration for these options.
pub fn client_config(opts: &TlsOptions) -> Result<Arc<ClientConfig>, String> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS set-up: {e}"))?;
    let config = if !opts.verify {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerify(provider)))
            .with_no_client_auth()
    } else {
        let mut extra: Vec<CertificateDer<'static>> = Vec::new();
        if let Some(path) = &opts.ca_file {
            let data = std::fs::read(path)
                .map_err(|e| format!("can not read SSL_ca_file {}: {e}", path.display()))?;
            for cert in rustls_pemfile::certs(&mut data.as_slice()) {
                extra
                    .push(cert.map_err(|e| format!("bad certificate in {}: {e}", path.display()))?);
            }
            if extra.is_empty() {
                return Err(format!(
                    "no certificate found in SSL_ca_file {}",
                    path.display()
                ));
            }
        }
        let verifier: Arc<dyn ServerCertVerifier> =
            match rustls_platform_verifier::Verifier::new_with_extra_roots(
                extra.clone(),
                provider.clone(),
            ) {
                Ok(v) => Arc::new(v),
                Err(_) => {
                    // No usable system roots (scratch container): bundled Mozilla roots.
                    let mut roots = rustls::RootCertStore::empty();
                    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
                    for c in extra {
                        roots
                            .add(c)
                            .map_err(|e| format!("bad CA certificate: {e}"))?;
                    }
                    rustls::client::WebPkiServerVerifier::builder_with_provider(
                        Arc::new(roots),
                        provider,
                    )
                    .build()
                    .map_err(|e| format!("TLS verifier: {e}"))?
                }
            };
        builder
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth()
    };
    Ok(Arc::new(config))
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
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The server name to verify: an IP address or a DNS name.
pub fn server_name(host: &str) -> Result<ServerName<'static>, String> {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(h.to_string()).map_err(|e| format!("invalid TLS server name {host}: {e}"))
}
