//! Establishing a logged-in session: connect, greeting, TLS (implicit or STARTTLS),
//! capabilities, authentication, COMPRESS, ID — one command at a time, then the connection is
//! handed to the pipelined [`engine`](crate::engine).
//!
//! The encryption policy is imapsync's, made safe:
//! * `--sslN` (or port 993): implicit TLS; `--tlsN`: STARTTLS, required;
//! * nothing said: imapsync probes port 993 with TLS and falls back to port 143 (+ STARTTLS when
//!   offered). We probe the same way, but only a refused or unreachable port 993 falls back;
//!   a certificate that fails verification is an error, never a silent downgrade;
//! * if neither TLS form is possible, the password is not sent unless the user asked for plain
//!   text explicitly (`--nosslN --notlsN`, or `--notlsN` with an explicit port).
//!
//! After STARTTLS every byte the server sent before the handshake is discarded and the
//! capabilities are read again (RFC 3501 §6.2.1; STARTTLS command injection).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use imapsync_proto::caps::Capabilities;
use imapsync_proto::command::{Command, Part, cmd};
use imapsync_proto::framer::{Event, Framer};
use imapsync_proto::response::{self, Code, Response, Status, StatusKind, Untagged};

use crate::deflate::{Deflater, Inflater};
use crate::engine::{self, Connection, EngineConfig, Tracer};
use crate::error::{ConnError, SetupError, Side};
use crate::secret::Secret;
use crate::tls::{self, TlsOptions};
use crate::transport::Transport;

/// How to authenticate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthMech {
    /// The LOGIN command (imapsync's default).
    Login,
    /// SASL PLAIN (RFC 4616), with SASL-IR when offered.
    Plain,
    /// SASL LOGIN.
    SaslLogin,
    /// SASL CRAM-MD5 (RFC 2195).
    CramMd5,
    /// SASL XOAUTH2 with an access token (Google/Microsoft).
    XOAuth2,
    /// XOAUTH2 with a ready-made base64 string.
    XOAuth2Direct,
    /// The server greets with PREAUTH.
    PreAuth,
}

impl AuthMech {
    pub fn name(&self) -> &'static str {
        match self {
            AuthMech::Login => "LOGIN",
            AuthMech::Plain => "PLAIN",
            AuthMech::SaslLogin => "LOGIN",
            AuthMech::CramMd5 => "CRAM-MD5",
            AuthMech::XOAuth2 | AuthMech::XOAuth2Direct => "XOAUTH2",
            AuthMech::PreAuth => "PREAUTH",
        }
    }
}

/// Encryption wishes as given on the command line.
#[derive(Clone, Debug, Default)]
pub struct Security {
    /// `--sslN` / `--nosslN`.
    pub ssl: Option<bool>,
    /// `--tlsN` / `--notlsN`.
    pub tls: Option<bool>,
    /// The port was given explicitly (`--portN` or `host:port`).
    pub port_given: bool,
}

/// Everything needed to open one session.
#[derive(Clone)]
pub struct ConnectOptions {
    pub side: Side,
    pub host: String,
    /// Explicit port; `None` = 993 with implicit TLS or 143.
    pub port: Option<u16>,
    pub security: Security,
    pub tls: TlsOptions,
    pub timeout: Option<Duration>,
    pub user: String,
    pub password: Secret,
    pub mech: AuthMech,
    /// Authentication identity (admin) for PLAIN / PROXYAUTH.
    pub authuser: Option<String>,
    pub proxyauth: bool,
    /// Retry with LOGIN when another mechanism fails (imapsync `--trylogin`).
    pub trylogin: bool,
    pub compress: bool,
    /// Send ID when offered.
    pub send_id: bool,
    pub id_params: Vec<(String, String)>,
    pub inet: Option<Inet>,
    pub keepalive: bool,
    pub pipeline_depth: usize,
    pub stream_threshold: u64,
    pub tracer: Option<Tracer>,
    /// Only connect (no login).
    pub no_login: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Inet {
    V4,
    V6,
}

impl std::fmt::Debug for ConnectOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectOptions")
            .field("side", &self.side)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("password", &self.password)
            .field("mech", &self.mech)
            .finish()
    }
}

impl ConnectOptions {
    pub fn new(side: Side, host: &str, user: &str, password: Secret) -> Self {
        ConnectOptions {
            side,
            host: host.to_string(),
            port: None,
            security: Security::default(),
            tls: TlsOptions::verifying(),
            timeout: Some(Duration::from_secs(120)),
            user: user.to_string(),
            password,
            mech: AuthMech::Login,
            authuser: None,
            proxyauth: false,
            trylogin: true,
            compress: false,
            send_id: true,
            id_params: Vec::new(),
            inet: None,
            keepalive: true,
            pipeline_depth: 64,
            stream_threshold: imapsync_proto::framer::DEFAULT_STREAM_THRESHOLD,
            tracer: None,
            no_login: false,
        }
    }
}

/// What we learnt while setting up.
#[derive(Clone, Debug, Default)]
pub struct SessionInfo {
    pub address: String,
    pub port: u16,
    pub tls: bool,
    pub starttls: bool,
    pub greeting: String,
    pub caps_before_login: Capabilities,
    pub caps: Capabilities,
    pub server_id: Vec<(String, Option<String>)>,
    pub compressed: bool,
    pub notes: Vec<String>,
    /// The mechanism that logged in (`LOGIN`, `PLAIN`, ...).
    pub mech: String,
}

/// A sequential connection used during set-up.
struct Setup {
    side: Side,
    stream: Option<Transport>,
    framer: Framer,
    timeout: Option<Duration>,
    tracer: Option<Tracer>,
    caps: Capabilities,
    tag: u64,
    /// Text of a `* BYE` the server sent, told when it then closes.
    bye: Option<String>,
}

impl Setup {
    fn trace(&self, line: &str) {
        if let Some(t) = &self.tracer {
            t(self.side, line);
        }
    }

    fn stream(&mut self) -> Result<&mut Transport, ConnError> {
        self.stream.as_mut().ok_or(ConnError::Shutdown)
    }

    async fn with_timeout<T>(
        timeout: Option<Duration>,
        fut: impl std::future::Future<Output = std::io::Result<T>>,
    ) -> Result<T, ConnError> {
        match timeout {
            Some(t) => tokio::time::timeout(t, fut)
                .await
                .map_err(|_| ConnError::Timeout(t))?
                .map_err(|e| ConnError::Io(e.to_string())),
            None => fut.await.map_err(|e| ConnError::Io(e.to_string())),
        }
    }

    /// Reads one complete response.
    async fn read_response(&mut self) -> Result<Response, ConnError> {
        loop {
            match self
                .framer
                .next_event()
                .map_err(|e| ConnError::Protocol(e.to_string()))?
            {
                Some(Event::Response(frame)) => {
                    self.trace(&format!(
                        "S: {}",
                        String::from_utf8_lossy(&frame.bytes).trim_end()
                    ));
                    let r =
                        response::parse(&frame).map_err(|e| ConnError::Protocol(e.to_string()))?;
                    if let Response::Untagged(Untagged::Status(st)) = &r
                        && st.kind == StatusKind::Bye
                    {
                        self.bye = Some(st.full_text());
                    }
                    return Ok(r);
                }
                Some(_) => {
                    return Err(ConnError::Protocol(
                        "unexpected large literal during set-up".into(),
                    ));
                }
                None => {}
            }
            let timeout = self.timeout;
            let stream = self.stream.as_mut().ok_or(ConnError::Shutdown)?;
            let buf = self.framer.buffer();
            buf.reserve(16 * 1024);
            let n = Self::with_timeout(timeout, stream.read_buf(buf)).await?;
            if n == 0 {
                return Err(ConnError::Closed {
                    bye: self.bye.clone(),
                });
            }
        }
    }

    async fn write(&mut self, data: &[u8]) -> Result<(), ConnError> {
        let timeout = self.timeout;
        let stream = self.stream()?;
        Self::with_timeout(timeout, async {
            stream.write_all(data).await?;
            stream.flush().await
        })
        .await
    }

    /// Sends a command, answering `+` continuations for literals, and collects the answer.
    async fn command(&mut self, c: &Command) -> Result<(Vec<Untagged>, Status), ConnError> {
        self.tag += 1;
        let tag = format!("S{}", self.tag);
        self.trace(&format!("C: {tag} {}", c.trace()));
        let mut buf = format!("{tag} ").into_bytes();
        let mut untagged = Vec::new();
        for part in &c.parts {
            match part {
                Part::Text(t) => buf.extend_from_slice(t),
                Part::Literal(data) => {
                    let len = data.len() as u64;
                    if self.caps.literal_nonsync(len) {
                        buf.extend_from_slice(format!("{{{len}+}}\r\n").as_bytes());
                    } else {
                        buf.extend_from_slice(format!("{{{len}}}\r\n").as_bytes());
                        self.write(&buf).await?;
                        buf.clear();
                        loop {
                            match self.read_response().await? {
                                Response::Continuation { .. } => break,
                                Response::Untagged(u) => untagged.push(u),
                                Response::Tagged { status, .. } => return Ok((untagged, status)),
                            }
                        }
                    }
                    buf.extend_from_slice(data);
                }
                Part::External { .. } => {
                    return Err(ConnError::Protocol("external literal during set-up".into()));
                }
            }
        }
        buf.extend_from_slice(b"\r\n");
        self.write(&buf).await?;
        self.finish(&tag, untagged).await
    }

    async fn finish(
        &mut self,
        tag: &str,
        mut untagged: Vec<Untagged>,
    ) -> Result<(Vec<Untagged>, Status), ConnError> {
        loop {
            match self.read_response().await? {
                Response::Tagged { tag: t, status } if t == tag => return Ok((untagged, status)),
                Response::Tagged { tag: t, .. } => {
                    return Err(ConnError::Protocol(format!("answer for unknown tag {t}")));
                }
                Response::Untagged(u) => untagged.push(u),
                Response::Continuation { .. } => {
                    return Err(ConnError::Protocol(
                        "unexpected continuation request".into(),
                    ));
                }
            }
        }
    }

    /// A SASL exchange: `AUTHENTICATE mech [ir]`, then `respond` answers each challenge.
    async fn authenticate(
        &mut self,
        mech: &str,
        initial: Option<String>,
        mut respond: impl FnMut(&[u8]) -> Option<String>,
    ) -> Result<(Vec<Untagged>, Status), ConnError> {
        let sasl_ir = self.caps.has("SASL-IR");
        let (ir, pending) = match initial {
            Some(i) if sasl_ir => (Some(i), None),
            other => (None, other),
        };
        let c = cmd::authenticate(mech, ir.as_deref());
        self.tag += 1;
        let tag = format!("S{}", self.tag);
        self.trace(&format!("C: {tag} {}", c.trace()));
        let mut line = format!("{tag} ").into_bytes();
        for p in &c.parts {
            if let Part::Text(t) = p {
                line.extend_from_slice(t);
            }
        }
        line.extend_from_slice(b"\r\n");
        self.write(&line).await?;
        let mut pending = pending;
        let mut untagged = Vec::new();
        loop {
            match self.read_response().await? {
                Response::Continuation { text } => {
                    let answer = if let Some(p) = pending.take() {
                        p
                    } else {
                        let challenge = B64.decode(text.trim()).unwrap_or_default();
                        // No answer = abort the exchange with "*".
                        respond(&challenge).unwrap_or_else(|| "*".to_string())
                    };
                    self.trace("C: <SASL response MASKED>");
                    let mut l = answer.into_bytes();
                    l.extend_from_slice(b"\r\n");
                    self.write(&l).await?;
                }
                Response::Untagged(u) => untagged.push(u),
                Response::Tagged { tag: t, status } if t == tag => return Ok((untagged, status)),
                Response::Tagged { tag: t, .. } => {
                    return Err(ConnError::Protocol(format!("answer for unknown tag {t}")));
                }
            }
        }
    }
}

fn caps_from(untagged: &[Untagged], status: &Status) -> Option<Capabilities> {
    if let Some(Code::Capability(c)) = &status.code {
        return Some(Capabilities::new(c.clone()));
    }
    untagged.iter().find_map(|u| match u {
        Untagged::Capability(c) => Some(Capabilities::new(c.clone())),
        _ => None,
    })
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

async fn tls_wrap(
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

/// Opens a session and logs in (unless `no_login`), returning the running connection.
pub async fn connect(opts: &ConnectOptions) -> Result<(Connection, SessionInfo), SetupError> {
    let mut info = SessionInfo::default();
    let sec = &opts.security;
    // Decide implicit TLS and the port.
    let explicit_port = opts.port;
    let (mut implicit, port, probing) = match (sec.ssl, explicit_port) {
        (Some(true), p) => (true, p.unwrap_or(993), false),
        (Some(false), p) => (false, p.unwrap_or(143), false),
        (None, Some(993)) => (true, 993, false),
        (None, Some(p)) => (false, p, false),
        (None, None) => (true, 993, sec.tls != Some(true)),
    };
    let (tcp, addr, port) = if probing {
        // imapsync's probe: try 993 first; only an unreachable port falls back to 143.
        let addrs993 = resolve(&opts.host, 993, opts.inet).await?;
        let probe_timeout = Some(
            opts.timeout
                .unwrap_or(Duration::from_secs(120))
                .min(Duration::from_secs(10)),
        );
        match tcp_connect(&addrs993, probe_timeout, opts.keepalive).await {
            Ok((s, a)) => (s, a, 993),
            Err(_) => {
                implicit = false;
                info.notes.push(format!(
                    "{}: port 993 not reachable, using port 143",
                    opts.side
                ));
                let addrs = resolve(&opts.host, 143, opts.inet).await?;
                let (s, a) = tcp_connect(&addrs, opts.timeout, opts.keepalive).await?;
                (s, a, 143)
            }
        }
    } else {
        let addrs = resolve(&opts.host, port, opts.inet).await?;
        let (s, a) = tcp_connect(&addrs, opts.timeout, opts.keepalive).await?;
        (s, a, port)
    };
    info.address = addr.to_string();
    info.port = port;
    let transport = if implicit {
        info.tls = true;
        tls_wrap(tcp, &opts.host, &opts.tls, opts.timeout).await?
    } else {
        Transport::Plain(tcp)
    };
    let mut s = Setup {
        side: opts.side,
        stream: Some(transport),
        framer: Framer::default(),
        timeout: opts.timeout,
        tracer: opts.tracer.clone(),
        caps: Capabilities::default(),
        tag: 0,
        bye: None,
    };
    // Greeting.
    let greeting = match s.read_response().await? {
        Response::Untagged(Untagged::Status(st)) => st,
        other => return Err(SetupError::Greeting(format!("{other:?}"))),
    };
    info.greeting = greeting.full_text();
    let preauth = match greeting.kind {
        StatusKind::Ok => false,
        StatusKind::Preauth => true,
        _ => return Err(SetupError::Greeting(greeting.full_text())),
    };
    s.caps = match &greeting.code {
        Some(Code::Capability(c)) => Capabilities::new(c.clone()),
        _ => {
            let (u, st) = s.command(&cmd::capability()).await?;
            caps_from(&u, &st).unwrap_or_default()
        }
    };
    // STARTTLS.
    if !implicit && !preauth {
        let offered = s.caps.has("STARTTLS");
        let want = match sec.tls {
            Some(true) => true,
            Some(false) => false,
            None => offered,
        };
        if want {
            if !offered && sec.tls == Some(true) {
                return Err(SetupError::Tls(format!(
                    "can not go to tls encryption on {}: STARTTLS not offered by the server",
                    opts.host
                )));
            }
            let (_, st) = s.command(&cmd::starttls()).await?;
            if !st.is_ok() {
                return Err(SetupError::Tls(format!(
                    "STARTTLS refused: {}",
                    st.full_text()
                )));
            }
            let Some(Transport::Plain(tcp)) = s.stream.take() else {
                return Err(SetupError::Tls("STARTTLS on a non-plain stream".into()));
            };
            // Discard anything sent before the handshake.
            s.framer = Framer::default();
            s.stream = Some(tls_wrap(tcp, &opts.host, &opts.tls, opts.timeout).await?);
            info.tls = true;
            info.starttls = true;
            let (u, st) = s.command(&cmd::capability()).await?;
            s.caps = caps_from(&u, &st).unwrap_or_default();
        } else {
            let explicit_plain =
                sec.tls == Some(false) && (sec.ssl == Some(false) || sec.port_given);
            if !explicit_plain && !opts.no_login {
                return Err(SetupError::NoEncryption(format!(
                    "{}: no TLS possible on {}:{} and plain text was not asked for; not sending the password (use --nossl{n} --notls{n} to allow a clear-text login)",
                    opts.side,
                    opts.host,
                    port,
                    n = opts.side.number()
                )));
            }
        }
    }
    info.caps_before_login = s.caps.clone();
    if opts.no_login {
        let transport = s.stream.take().ok_or(ConnError::Shutdown)?;
        let conn = engine::start(
            transport,
            s.framer.buffer().split(),
            None,
            s.caps.clone(),
            engine_config(opts),
        );
        info.caps = s.caps.clone();
        return Ok((conn, info));
    }
    // Authentication.
    info.mech = if preauth {
        "PREAUTH".into()
    } else {
        login(&mut s, opts).await?
    };
    // COMPRESS.
    let mut compress = None;
    if opts.compress && s.caps.has("COMPRESS=DEFLATE") {
        let (_, st) = s.command(&cmd::compress_deflate()).await?;
        if st.is_ok() {
            let mut inflater = Inflater::default();
            let pending = s.framer.buffer().split();
            let mut plain = BytesMut::new();
            inflater
                .decompress(&pending, &mut plain)
                .map_err(|e| ConnError::Protocol(format!("decompression: {e}")))?;
            s.framer.buffer().extend_from_slice(&plain);
            compress = Some((Deflater::default(), inflater));
            info.compressed = true;
        } else {
            info.notes.push(format!(
                "{}: COMPRESS refused: {}",
                opts.side,
                st.full_text()
            ));
        }
    }
    info.caps = s.caps.clone();
    let transport = s.stream.take().ok_or(ConnError::Shutdown)?;
    let leftover = s.framer.buffer().split();
    let conn = engine::start(
        transport,
        leftover,
        compress,
        s.caps.clone(),
        engine_config(opts),
    );
    // ID (RFC 2971): sent, not waited for — its answer needs no round trip of ours.
    if opts.send_id && conn.caps().has("ID") {
        let params: Vec<(&str, &str)> = opts
            .id_params
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        drop(conn.submit(cmd::id(&params)));
    }
    Ok((conn, info))
}

fn engine_config(opts: &ConnectOptions) -> EngineConfig {
    EngineConfig {
        side: opts.side,
        timeout: opts.timeout,
        pipeline_depth: opts.pipeline_depth,
        stream_threshold: opts.stream_threshold,
        tracer: opts.tracer.clone(),
    }
}

async fn login(s: &mut Setup, opts: &ConnectOptions) -> Result<String, SetupError> {
    let started = Instant::now();
    let user = opts.user.as_str();
    let pass = opts.password.expose();
    let mut mech = opts.mech.clone();
    if opts.authuser.is_some() && mech == AuthMech::Login && !opts.proxyauth {
        mech = AuthMech::Plain;
    }
    if mech == AuthMech::Login && s.caps.has("LOGINDISABLED") && s.caps.has("AUTH=PLAIN") {
        mech = AuthMech::Plain;
    }
    let fail = |st: &Status, mech: &str| {
        SetupError::Auth(format!(
            "Error login on [{}] with user [{}] auth [{}]: {}",
            opts.host,
            user,
            mech,
            st.full_text()
        ))
    };
    // PROXYAUTH: log in as the admin, then switch.
    let (login_user, login_pass) = if opts.proxyauth {
        (opts.authuser.clone().unwrap_or_default(), pass)
    } else {
        (user.to_string(), pass)
    };
    let result = match &mech {
        AuthMech::Login | AuthMech::PreAuth => {
            s.command(&cmd::login(login_user.as_bytes(), login_pass.as_bytes()))
                .await?
        }
        AuthMech::Plain => {
            let (authz, authc) = match (&opts.authuser, opts.proxyauth) {
                (Some(admin), false) => (user, admin.as_str()),
                _ => ("", login_user.as_str()),
            };
            let ir = B64.encode(format!("{authz}\0{authc}\0{login_pass}"));
            s.authenticate("PLAIN", Some(ir), |_| None).await?
        }
        AuthMech::SaslLogin => {
            let u = B64.encode(&login_user);
            let p = B64.encode(login_pass);
            let mut step = 0;
            s.authenticate("LOGIN", None, move |_| {
                step += 1;
                Some(if step == 1 { u.clone() } else { p.clone() })
            })
            .await?
        }
        AuthMech::CramMd5 => {
            let u = login_user.clone();
            let p = login_pass.to_string();
            s.authenticate("CRAM-MD5", None, move |challenge| {
                let digest = hmac_md5(p.as_bytes(), challenge);
                let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
                Some(B64.encode(format!("{u} {hex}")))
            })
            .await?
        }
        AuthMech::XOAuth2 => {
            let ir = B64.encode(format!("user={user}\x01auth=Bearer {pass}\x01\x01"));
            // On failure the server sends a JSON error as a challenge; answer empty.
            s.authenticate("XOAUTH2", Some(ir), |_| Some(String::new()))
                .await?
        }
        AuthMech::XOAuth2Direct => {
            s.authenticate("XOAUTH2", Some(pass.to_string()), |_| Some(String::new()))
                .await?
        }
    };
    let (untagged, status) = result;
    if !status.is_ok() {
        if opts.trylogin && mech != AuthMech::Login && opts.authuser.is_none() && s.stream.is_some()
        {
            let (u2, st2) = s
                .command(&cmd::login(user.as_bytes(), pass.as_bytes()))
                .await?;
            if st2.is_ok() {
                s.caps = caps_from(&u2, &st2).unwrap_or(s.caps.clone());
                return Ok("LOGIN".into());
            }
        }
        return Err(fail(&status, mech.name()));
    }
    match caps_from(&untagged, &status) {
        Some(c) => s.caps = c,
        None => {
            let (u, st) = s.command(&cmd::capability()).await?;
            if let Some(c) = caps_from(&u, &st) {
                s.caps = c;
            }
        }
    }
    if opts.proxyauth {
        let (_, st) = s.command(&cmd::proxyauth(user.as_bytes())).await?;
        if !st.is_ok() {
            return Err(fail(&st, "PROXYAUTH"));
        }
    }
    let _ = started;
    Ok(mech.name().to_string())
}

/// HMAC-MD5 (RFC 2104) for CRAM-MD5.
fn hmac_md5(key: &[u8], msg: &[u8]) -> [u8; 16] {
    use md5::{Digest, Md5};
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..16].copy_from_slice(&Md5::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let mut ipad = [0x36u8; 64];
    let mut opad = [0x5cu8; 64];
    for i in 0..64 {
        ipad[i] ^= k[i];
        opad[i] ^= k[i];
    }
    let inner = Md5::new().chain_update(ipad).chain_update(msg).finalize();
    let outer = Md5::new().chain_update(opad).chain_update(inner).finalize();
    outer.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_md5_rfc2202() {
        let hex = |d: [u8; 16]| d.iter().map(|b| format!("{b:02x}")).collect::<String>();
        assert_eq!(
            hex(hmac_md5(&[0x0b; 16], b"Hi There")),
            "9294727a3638bb1c13f48ef8158bfc9d"
        );
        assert_eq!(
            hex(hmac_md5(b"Jefe", b"what do ya want for nothing?")),
            "750c783e6ab0b503eaa86e310a5db738"
        );
        // RFC 2195 example
        assert_eq!(
            hex(hmac_md5(
                b"tanstaaftanstaaf",
                b"<1896.697170952@postoffice.reston.mci.net>"
            )),
            "b913a602c7eda7a495b4e6e7334d3890"
        );
    }
}
