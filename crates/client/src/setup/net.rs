//! Reaching the server: name resolution, TCP (with imapsync's port 993 probe), TLS.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpStream;

use super::policy::{self, ProbeFailure, Probed, TransportPlan};
use super::{ConnectOptions, Inet};
use crate::error::{SetupError, Side};
use crate::tls::{self, TlsOptions};
use crate::transport::Transport;

/// A connected stream, encrypted when the plan said implicit TLS.
pub(super) struct Opened {
    pub(super) transport: Transport,
    pub(super) address: SocketAddr,
    pub(super) port: u16,
    /// Lines to print: what the probe found, the TLS session (`--debugssl`).
    pub(super) notes: Vec<String>,
    /// What the probe of port 993 found, when this connection probed.
    pub(super) probed: Option<Probed>,
}

/// Carries out a [`TransportPlan`].
pub(super) async fn open(opts: &ConnectOptions, plan: TransportPlan) -> Result<Opened, SetupError> {
    let (port, tls) = match plan {
        TransportPlan::ImplicitTls { port } => (port, true),
        TransportPlan::Plain { port } => (port, false),
        TransportPlan::Probe => return probe(opts).await,
    };
    let (tcp, address) = tcp_to(opts, port, opts.timeout).await?;
    let (transport, notes) = if tls {
        tls_wrap(tcp, &opts.host, &opts.tls, opts.timeout, opts.side).await?
    } else {
        (Transport::Plain(tcp), Vec::new())
    };
    Ok(Opened {
        transport,
        address,
        port,
        notes,
        probed: None,
    })
}

/// imapsync's `--sslcheck` probe: implicit TLS on 993 when a TLS session can be had there,
/// else port 143 ([`policy::probe_falls_back`] says which failures move on), with imapsync's
/// lines.
async fn probe(opts: &ConnectOptions) -> Result<Opened, SetupError> {
    let side = opts.side;
    let n = side.number();
    let mut notes = vec![format!(
        "{side}: probing ssl on port 993 ( use --nosslcheck to avoid this ssl probe ) "
    )];
    // A filtered port 993 must not stall the start for the system's connect timeout.
    let probe_timeout = Some(
        opts.timeout
            .unwrap_or(Duration::from_secs(120))
            .min(Duration::from_secs(10)),
    );
    let (failure, error) = match tcp_to(opts, 993, probe_timeout).await {
        Err(e) => (ProbeFailure::Unreachable, e),
        Ok((tcp, address)) => {
            match handshake(tcp, &opts.host, &opts.tls, probe_timeout, side).await {
                Ok((transport, tls_notes)) => {
                    notes.push(format!(
                        "{side}: sslcheck detected open ssl port 993 so turning ssl on (use --nossl{n} --notls{n} to turn off SSL and TLS wizardry)"
                    ));
                    notes.extend(tls_notes);
                    return Ok(Opened {
                        transport,
                        address,
                        port: 993,
                        notes,
                        probed: Some(Probed::Tls),
                    });
                }
                Err(Refused::Certificate(e)) => (ProbeFailure::Certificate, e),
                Err(Refused::Other(e)) => (ProbeFailure::Handshake, e),
            }
        }
    };
    if !policy::probe_falls_back(failure) {
        return Err(error);
    }
    notes.push(format!(
        "{side}: sslcheck did not detected open ssl port 993. Will use standard 143 port. ({error})"
    ));
    let (tcp, address) = tcp_to(opts, 143, opts.timeout).await?;
    Ok(Opened {
        transport: Transport::Plain(tcp),
        address,
        port: 143,
        notes,
        probed: Some(Probed::Clear),
    })
}

async fn tcp_to(
    opts: &ConnectOptions,
    port: u16,
    timeout: Option<Duration>,
) -> Result<(TcpStream, SocketAddr), SetupError> {
    let port = opts
        .port_map
        .iter()
        .find(|(from, _)| *from == port)
        .map_or(port, |(_, to)| *to);
    let addrs = resolve(&opts.host, port, opts.inet).await?;
    tcp_connect(&addrs, timeout, opts.keepalive).await
}

async fn resolve(host: &str, port: u16, inet: Option<Inet>) -> Result<Vec<SocketAddr>, SetupError> {
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| SetupError::Resolve {
            host: host.to_string(),
            reason: e.to_string(),
        })?
        .filter(|a| match inet {
            Some(Inet::V4) => a.is_ipv4(),
            Some(Inet::V6) => a.is_ipv6(),
            None => true,
        })
        .collect();
    if addrs.is_empty() {
        return Err(SetupError::Resolve {
            host: host.to_string(),
            reason: "no address".into(),
        });
    }
    Ok(addrs)
}

async fn tcp_connect(
    addrs: &[SocketAddr],
    timeout: Option<Duration>,
    keepalive: bool,
) -> Result<(TcpStream, SocketAddr), SetupError> {
    let mut last = String::new();
    for addr in addrs {
        let fut = TcpStream::connect(addr);
        let r = match timeout {
            Some(t) => match tokio::time::timeout(t, fut).await {
                Ok(r) => r,
                Err(_) => {
                    last = format!("no answer within {t:?}");
                    continue;
                }
            },
            None => fut.await,
        };
        match r {
            Ok(s) => {
                let _ = s.set_nodelay(true);
                if keepalive {
                    set_keepalive(&s);
                }
                return Ok((s, *addr));
            }
            Err(e) => last = e.to_string(),
        }
    }
    Err(SetupError::Connect {
        addr: addrs
            .iter()
            .map(|a| a.to_string())
            .collect::<Vec<_>>()
            .join(", "),
        reason: last,
    })
}

fn set_keepalive(s: &TcpStream) {
    use std::os::fd::AsRawFd;
    let one: libc::c_int = 1;
    // SAFETY: setsockopt on a socket fd we own, with a pointer to a live c_int and its size.
    unsafe {
        let _ = libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_KEEPALIVE,
            (&one as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}

/// A failed TLS handshake: the server's certificate was refused, or something else.
enum Refused {
    Certificate(SetupError),
    Other(SetupError),
}

impl From<Refused> for SetupError {
    fn from(r: Refused) -> Self {
        match r {
            Refused::Certificate(e) | Refused::Other(e) => e,
        }
    }
}

/// The TLS handshake on `tcp`; returns the stream and the lines `--debugssl` asks for.
pub(super) async fn tls_wrap(
    tcp: TcpStream,
    host: &str,
    opts: &TlsOptions,
    timeout: Option<Duration>,
    side: Side,
) -> Result<(Transport, Vec<String>), SetupError> {
    Ok(handshake(tcp, host, opts, timeout, side).await?)
}

async fn handshake(
    tcp: TcpStream,
    host: &str,
    opts: &TlsOptions,
    timeout: Option<Duration>,
    side: Side,
) -> Result<(Transport, Vec<String>), Refused> {
    let other = |m: String| Refused::Other(SetupError::Tls(m));
    let prepared = tls::prepare(opts).map_err(other)?;
    let name = tls::handshake_name(host, opts).map_err(other)?;
    let connector = tokio_rustls::TlsConnector::from(Arc::clone(&prepared.config));
    let fut = connector.connect(name, tcp);
    let result = match timeout {
        Some(t) => tokio::time::timeout(t, fut)
            .await
            .map_err(|_| other(format!("no TLS handshake within {t:?}")))?,
        None => fut.await,
    };
    let stream = match result {
        Ok(s) => s,
        Err(e) => {
            let refused_cert = e
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
                .is_some_and(|r| matches!(r, rustls::Error::InvalidCertificate(_)));
            if !refused_cert {
                return Err(other(e.to_string()));
            }
            let presented = prepared
                .presented
                .lock()
                .ok()
                .and_then(|p| p.as_ref().map(|c| c.as_ref().to_vec()));
            return Err(Refused::Certificate(SetupError::Tls(certificate_refused(
                &e.to_string(),
                presented.as_deref(),
                side.number(),
            ))));
        }
    };
    let notes = tls::describe(stream.get_ref().1, opts.debug)
        .into_iter()
        .map(|l| format!("{side}: {l}"))
        .collect();
    Ok((Transport::Tls(Box::new(stream)), notes))
}

/// A refused server certificate, with what it is and how to trust it.
fn certificate_refused(error: &str, presented: Option<&[u8]>, n: u8) -> String {
    let mut msg = format!("{error} (certificates are verified by default");
    if let Some(der) = presented {
        msg.push_str(&format!(
            "; the server presented {}; trust its CA, or this very certificate, with --sslargs{n} SSL_ca_file=FILE, pin it with --sslargs{n} SSL_fingerprint={}",
            tls::certificate_text(der),
            tls::fingerprint_text(der)
        ));
    } else {
        msg.push_str(&format!("; trust a CA with --sslargs{n} SSL_ca_file=FILE"));
    }
    msg.push_str(&format!(
        ", or turn verification off with --sslargs{n} SSL_verify_mode=0)"
    ));
    msg
}
