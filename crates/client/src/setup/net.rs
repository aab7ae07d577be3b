//! Reaching the server: name resolution, TCP (with imapsync's port 993 probe), TLS.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpStream;

use super::policy::TransportPlan;
use super::{ConnectOptions, Inet};
use crate::error::SetupError;
use crate::tls::{self, TlsOptions};
use crate::transport::Transport;

/// A connected stream, encrypted when the plan said implicit TLS.
pub(super) struct Opened {
    pub(super) transport: Transport,
    pub(super) address: SocketAddr,
    pub(super) port: u16,
    /// Set when the probe of port 993 failed and port 143 was used.
    pub(super) note: Option<String>,
}

/// Carries out a [`TransportPlan`].
pub(super) async fn open(opts: &ConnectOptions, plan: TransportPlan) -> Result<Opened, SetupError> {
    let (tcp, address, port, tls, note) = match plan {
        TransportPlan::ImplicitTls { port } => {
            let (s, a) = tcp_to(opts, port, opts.timeout).await?;
            (s, a, port, true, None)
        }
        TransportPlan::Plain { port } => {
            let (s, a) = tcp_to(opts, port, opts.timeout).await?;
            (s, a, port, false, None)
        }
        TransportPlan::Probe => {
            // imapsync's probe: try 993 first; only an unreachable port falls back to 143.
            // A certificate that fails verification on 993 is an error, never a downgrade.
            let probe_timeout = Some(
                opts.timeout
                    .unwrap_or(Duration::from_secs(120))
                    .min(Duration::from_secs(10)),
            );
            let addrs = resolve(&opts.host, 993, opts.inet).await?;
            match tcp_connect(&addrs, probe_timeout, opts.keepalive).await {
                Ok((s, a)) => (s, a, 993, true, None),
                Err(_) => {
                    let note = format!("{}: port 993 not reachable, using port 143", opts.side);
                    let (s, a) = tcp_to(opts, 143, opts.timeout).await?;
                    (s, a, 143, false, Some(note))
                }
            }
        }
    };
    let transport = if tls {
        tls_wrap(tcp, &opts.host, &opts.tls, opts.timeout).await?
    } else {
        Transport::Plain(tcp)
    };
    Ok(Opened {
        transport,
        address,
        port,
        note,
    })
}

async fn tcp_to(
    opts: &ConnectOptions,
    port: u16,
    timeout: Option<Duration>,
) -> Result<(TcpStream, SocketAddr), SetupError> {
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

pub(super) async fn tls_wrap(
    tcp: TcpStream,
    host: &str,
    opts: &TlsOptions,
    timeout: Option<Duration>,
) -> Result<Transport, SetupError> {
    let config = tls::client_config(opts).map_err(SetupError::Tls)?;
    let name = tls::server_name(host).map_err(SetupError::Tls)?;
    let connector = tokio_rustls::TlsConnector::from(Arc::clone(&config));
    let fut = connector.connect(name, tcp);
    let stream = match timeout {
        Some(t) => tokio::time::timeout(t, fut)
            .await
            .map_err(|_| SetupError::Tls(format!("no TLS handshake within {t:?}")))?,
        None => fut.await,
    }
    .map_err(|e| {
        let mut msg = e.to_string();
        if msg.contains("certificate") || msg.contains("UnknownIssuer") || msg.contains("NotValidForName") {
            msg.push_str(" (certificates are verified by default; trust a CA with --sslargsN SSL_ca_file=FILE or turn verification off with --sslargsN SSL_verify_mode=0)");
        }
        SetupError::Tls(msg)
    })?;
    Ok(Transport::Tls(Box::new(stream)))
}
