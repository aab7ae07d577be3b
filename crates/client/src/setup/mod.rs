//! Establishing a logged-in session: connect, greeting, TLS (implicit or STARTTLS),
//! capabilities, authentication, COMPRESS, ID — one command at a time, then the connection is
//! handed to the pipelined [`engine`](crate::engine).
//!
//! The encryption policy is imapsync's, made safe ([`policy`] has every rule as a table):
//! * `--sslN` (or port 993): implicit TLS; `--tlsN`: STARTTLS, required (on 143 when no port
//!   is given); `--sslN --tlsN` together is refused as the TLS failure it is for imapsync;
//! * nothing said: imapsync probes port 993 with TLS and falls back to port 143 (+ STARTTLS when
//!   offered). We probe the same way, once per side (`--nosslcheck`: no probe), but a
//!   certificate that fails verification is an error, never a silent downgrade;
//! * if neither TLS form is possible, the password is not sent unless the user asked for plain
//!   text explicitly (`--nosslN --notlsN`, or `--notlsN` with an explicit port); a PREAUTH
//!   greeting gets the same rule, since the session itself would run in clear text.
//!
//! After STARTTLS every byte the server sent before the handshake is discarded and the
//! capabilities are read again (RFC 3501 §6.2.1; STARTTLS command injection).
//!
//! Layout: [`policy`] decides (pure, table-tested), [`net`] reaches the server, [`wire`] runs
//! one command at a time, [`states`] are the set-up states as types (a password can only be
//! sent from the states that allow it), [`auth`] has one piece per mechanism.

use std::sync::Arc;
use std::time::Duration;

use imapsync_proto::caps::Capabilities;

use crate::engine::{Connection, Tracer};
use crate::error::{SetupError, Side};
use crate::oauth::TokenSource;
use crate::secret::Secret;
use crate::tls::TlsOptions;

mod auth;
mod net;
mod ntlm;
mod policy;
mod states;
mod wire;

use states::{Greeted, Greeting};
use wire::Wire;

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
    /// SASL OAUTHBEARER (RFC 7628) with an access token.
    OAuthBearer,
    /// An access token with XOAUTH2 or OAUTHBEARER, whichever the server offers (XOAUTH2
    /// when it offers both or neither).
    OAuth,
    /// XOAUTH2 with a ready-made base64 string.
    XOAuth2Direct,
    /// The server greets with PREAUTH.
    PreAuth,
    /// NTLM (NTLMv2, MS-NLMP), legacy Exchange; `--domainN`.
    Ntlm,
    /// SASL EXTERNAL (RFC 4422): the TLS client certificate authenticates.
    External,
    /// Kerio's X-MASTERAUTH: MD5 challenge with the master password, then `X-SETUSER user`.
    XMasterAuth,
}

impl AuthMech {
    pub fn name(&self) -> &'static str {
        match self {
            AuthMech::Login => "LOGIN",
            AuthMech::Plain => "PLAIN",
            AuthMech::SaslLogin => "LOGIN",
            AuthMech::CramMd5 => "CRAM-MD5",
            AuthMech::XOAuth2 | AuthMech::XOAuth2Direct | AuthMech::OAuth => "XOAUTH2",
            AuthMech::OAuthBearer => "OAUTHBEARER",
            AuthMech::PreAuth => "PREAUTH",
            AuthMech::Ntlm => "NTLM",
            AuthMech::External => "EXTERNAL",
            AuthMech::XMasterAuth => "X-MASTERAUTH",
        }
    }

    /// The mechanisms that send an OAuth2 access token.
    pub fn is_oauth(&self) -> bool {
        matches!(
            self,
            AuthMech::XOAuth2 | AuthMech::OAuthBearer | AuthMech::OAuth | AuthMech::XOAuth2Direct
        )
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
    /// `--nosslcheck`: no probe of port 993 when nothing else was said.
    pub no_sslcheck: bool,
}

/// What the probe of port 993 found, shared by every connection of one side (clones of the
/// options share it): the probe is made once per run, as imapsync does.
#[derive(Clone, Debug, Default)]
pub struct ProbeMemo(std::sync::Arc<std::sync::OnceLock<policy::Probed>>);

impl ProbeMemo {
    fn get(&self) -> Option<policy::Probed> {
        self.0.get().copied()
    }

    fn set(&self, found: policy::Probed) {
        let _ = self.0.set(found);
    }
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
    /// Where the OAuth mechanisms get their token on every connection (`None`: the
    /// password is the token).
    pub oauth: Option<Arc<dyn TokenSource>>,
    /// Authentication identity (admin) for PLAIN / PROXYAUTH / EXTERNAL.
    pub authuser: Option<String>,
    /// NTLM domain (`--domainN`).
    pub domain: Option<String>,
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
    /// What the probe of port 993 found (kept for the other connections of this side).
    pub probe: ProbeMemo,
    /// Tests only: connect to `to` where the plan says port `from` (the well-known ports 993
    /// and 143 stand for test servers on random ports).
    pub port_map: Vec<(u16, u16)>,
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
            .field("oauth", &self.oauth.as_ref().map(|o| o.describe()))
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
            oauth: None,
            authuser: None,
            domain: None,
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
            probe: ProbeMemo::default(),
            port_map: Vec::new(),
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

/// Opens a session and logs in (unless `no_login`), returning the running connection.
pub async fn connect(opts: &ConnectOptions) -> Result<(Connection, SessionInfo), SetupError> {
    let plan = policy::transport_plan(&opts.security, opts.port, opts.probe.get());
    let opened = net::open(opts, plan).await?;
    if let Some(found) = opened.probed {
        opts.probe.set(found);
    }
    let info = SessionInfo {
        address: opened.address.to_string(),
        port: opened.port,
        tls: opened.transport.is_tls(),
        notes: opened.notes,
        ..SessionInfo::default()
    };
    let wire = Wire::new(
        opts.side,
        opened.transport,
        opts.timeout,
        opts.tracer.clone(),
    );
    let authenticated = match Greeted::read(wire, info).await? {
        Greeting::PreAuth(pre) if opts.no_login => {
            return Ok(pre.connect_only(opts));
        }
        Greeting::PreAuth(pre) => pre.accept(opts)?,
        Greeting::Greeted(greeted) => {
            let ready = greeted.secure(opts).await?;
            if opts.no_login {
                return Ok(ready.connect_only(opts));
            }
            ready.authenticate(opts).await?
        }
    };
    authenticated.start(opts).await
}

#[cfg(test)]
mod tests;
