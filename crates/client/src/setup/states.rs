//! The set-up states as types. Each transition consumes its state, so a step can not be
//! skipped or taken twice, and [`authenticate`] takes only the two states where sending a
//! password is allowed — the clear-text rule is a type, not a branch:
//!
//! ```text
//! Greeted ──[implicit TLS, or STARTTLS]──────────→ Secured ──────┐
//!    │    ──[clear text allowed by the user]─────→ PlainAllowed ─┴─ authenticate ─→ Authenticated ─→ engine
//!    │    ──[clear text nobody asked for]────────→ Refused(Greeted): no login
//!    └─[PREAUTH greeting]─→ PreAuthenticated ──[encrypted, or clear text asked for]─→ Authenticated
//! ```
//!
//! A PREAUTH greeting is held to the rule of a login ([`policy::preauth_step`]): no password
//! goes, but the mail would, and STARTTLS is no longer possible once authenticated.

use imapsync_proto::caps::Capabilities;
use imapsync_proto::command::cmd;
use imapsync_proto::response::{Code, Response, StatusKind, Untagged};

use super::policy::{self, PreauthStep, TlsStep};
use super::wire::Wire;
use super::{ConnectOptions, SessionInfo, auth};
use crate::deflate::{Deflater, Inflater};
use crate::engine::{self, Connection, EngineConfig};
use crate::error::SetupError;

/// What every state carries: the connection and what has been learnt so far.
pub(super) struct Link {
    wire: Wire,
    info: SessionInfo,
}

impl Link {
    /// Capabilities announced before authentication (at the greeting, again after STARTTLS).
    fn set_caps_before_login(&mut self, caps: Capabilities) {
        self.info.caps_before_login = caps.clone();
        self.wire.caps = caps;
    }

    /// Starts the engine on this connection.
    fn hand_over(
        self,
        compress: Option<(Deflater, Inflater)>,
        opts: &ConnectOptions,
    ) -> (Connection, SessionInfo) {
        let Link { wire, mut info } = self;
        let (transport, leftover, caps) = wire.into_parts();
        info.caps = caps.clone();
        let conn = engine::start(transport, leftover, compress, caps, engine_config(opts));
        (conn, info)
    }
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

/// The server said OK: connected, capabilities known, not authenticated, and not yet known
/// whether a password may be sent. It can not log in.
pub(super) struct Greeted {
    link: Link,
}

/// After reading the greeting.
pub(super) enum Greeting {
    Greeted(Greeted),
    /// PREAUTH: logged in by the server (no password is ever sent).
    PreAuth(PreAuthenticated),
}

/// The server greeted with PREAUTH: logged in, not yet known whether the session may run on
/// this connection.
pub(super) struct PreAuthenticated {
    link: Link,
}

/// Encrypted (implicit TLS, or STARTTLS done): a password may go.
pub(super) struct Secured {
    link: Link,
}

/// Clear text, explicitly allowed by the user: a password may go.
pub(super) struct PlainAllowed {
    link: Link,
}

/// Ready to authenticate, or not allowed to.
pub(super) enum Unauthenticated {
    Secured(Secured),
    PlainAllowed(PlainAllowed),
    /// No TLS and clear text was not asked for: connecting is fine, logging in is not.
    Refused(Greeted),
}

/// Logged in.
pub(super) struct Authenticated {
    link: Link,
    mech: &'static str,
}

/// The states in which authentication is allowed.
pub(super) trait MayAuthenticate: sealed::Sealed {
    #[doc(hidden)]
    fn into_link(self) -> Link;
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::Secured {}
    impl Sealed for super::PlainAllowed {}
}

impl MayAuthenticate for Secured {
    fn into_link(self) -> Link {
        self.link
    }
}

impl MayAuthenticate for PlainAllowed {
    fn into_link(self) -> Link {
        self.link
    }
}

impl Greeted {
    /// Reads the greeting and the capabilities (from the greeting, else by CAPABILITY).
    pub(super) async fn read(wire: Wire, info: SessionInfo) -> Result<Greeting, SetupError> {
        let mut link = Link { wire, info };
        let greeting = match link.wire.read_response().await? {
            Response::Untagged(Untagged::Status(st)) => st,
            other => return Err(SetupError::Greeting(format!("{other:?}"))),
        };
        link.info.greeting = greeting.full_text();
        let preauth = match greeting.kind {
            StatusKind::Ok => false,
            StatusKind::Preauth => true,
            _ => return Err(SetupError::Greeting(link.info.greeting)),
        };
        let caps = match greeting.code {
            Some(Code::Capability(c)) => Capabilities::new(c),
            _ => link.wire.capability().await?.unwrap_or_default(),
        };
        link.set_caps_before_login(caps);
        Ok(if preauth {
            Greeting::PreAuth(PreAuthenticated { link })
        } else {
            Greeting::Greeted(Greeted { link })
        })
    }

    /// Goes to TLS when [`policy::tls_step`] says so and tells whether a password may be sent.
    pub(super) async fn secure(self, opts: &ConnectOptions) -> Result<Unauthenticated, SetupError> {
        let mut link = self.link;
        let step = policy::tls_step(
            &opts.security,
            link.wire.is_tls(),
            link.wire.caps.has("STARTTLS"),
        );
        Ok(match step {
            TlsStep::Encrypted => Unauthenticated::Secured(Secured { link }),
            TlsStep::StartTlsInsideTls => {
                return Err(inside_tls(opts));
            }
            TlsStep::StartTls => {
                let (_, st) = link.wire.command(&cmd::starttls()).await?;
                if !st.is_ok() {
                    return Err(SetupError::Tls(format!(
                        "STARTTLS refused: {}",
                        st.full_text()
                    )));
                }
                let (wire, notes) = link.wire.upgrade(&opts.host, &opts.tls).await?;
                link.wire = wire;
                link.info.notes.extend(notes);
                link.info.tls = true;
                link.info.starttls = true;
                let caps = link.wire.capability().await?.unwrap_or_default();
                link.set_caps_before_login(caps);
                Unauthenticated::Secured(Secured { link })
            }
            TlsStep::StartTlsNotOffered => {
                return Err(SetupError::Tls(format!(
                    "can not go to tls encryption on {}: STARTTLS not offered by the server",
                    opts.host
                )));
            }
            TlsStep::ClearTextAllowed => Unauthenticated::PlainAllowed(PlainAllowed { link }),
            TlsStep::ClearTextRefused => Unauthenticated::Refused(Greeted { link }),
        })
    }
}

/// `--sslN --tlsN`: the error imapsync ends with (exit 12), without the round trip.
fn inside_tls(opts: &ConnectOptions) -> SetupError {
    let n = opts.side.number();
    SetupError::Tls(format!(
        "STARTTLS inside TLS: --ssl{n} already encrypts the connection and --tls{n} asks for STARTTLS on top of it; give only one of them"
    ))
}

impl PreAuthenticated {
    /// Hands the connection to the engine without more (`--justconnect`).
    pub(super) fn connect_only(self, opts: &ConnectOptions) -> (Connection, SessionInfo) {
        self.link.hand_over(None, opts)
    }

    /// Accepts the server's PREAUTH where [`policy::preauth_step`] allows it.
    pub(super) fn accept(self, opts: &ConnectOptions) -> Result<Authenticated, SetupError> {
        let link = self.link;
        let n = opts.side.number();
        let where_ = format!("{}:{}", opts.host, link.info.port);
        match policy::preauth_step(
            &opts.security,
            link.wire.is_tls(),
            link.wire.caps.has("STARTTLS"),
        ) {
            PreauthStep::Accept => Ok(Authenticated {
                link,
                mech: "PREAUTH",
            }),
            PreauthStep::TlsImpossible if opts.security.ssl == Some(true) => Err(inside_tls(opts)),
            PreauthStep::TlsImpossible => Err(SetupError::Tls(format!(
                "the server on {where_} pre-authenticated the connection (PREAUTH) before TLS: STARTTLS is no longer possible and the session would run in clear text (use --ssl{n} for implicit TLS, or --nossl{n} --notls{n} to accept clear text)"
            ))),
            PreauthStep::ClearTextRefused => Err(SetupError::NoEncryption(format!(
                "{}: the server on {where_} pre-authenticated the connection (PREAUTH) without TLS and plain text was not asked for; not running the session in clear text (use --nossl{n} --notls{n} to allow it)",
                opts.side
            ))),
        }
    }
}

impl Unauthenticated {
    /// Hands the connection to the engine without logging in (`--justconnect`).
    pub(super) fn connect_only(self, opts: &ConnectOptions) -> (Connection, SessionInfo) {
        let link = match self {
            Unauthenticated::Secured(s) => s.link,
            Unauthenticated::PlainAllowed(p) => p.link,
            Unauthenticated::Refused(g) => g.link,
        };
        link.hand_over(None, opts)
    }

    /// Logs in where that is allowed; refuses to send a password in clear text nobody asked
    /// for.
    pub(super) async fn authenticate(
        self,
        opts: &ConnectOptions,
    ) -> Result<Authenticated, SetupError> {
        match self {
            Unauthenticated::Secured(s) => authenticate(s, opts).await,
            Unauthenticated::PlainAllowed(p) => authenticate(p, opts).await,
            Unauthenticated::Refused(g) => Err(SetupError::NoEncryption(format!(
                "{}: no TLS possible on {}:{} and plain text was not asked for; not sending the password (use --nossl{n} --notls{n} to allow a clear-text login)",
                opts.side,
                opts.host,
                g.link.info.port,
                n = opts.side.number()
            ))),
        }
    }
}

/// Authentication, only from a state where a password may be sent.
pub(super) async fn authenticate<S: MayAuthenticate>(
    state: S,
    opts: &ConnectOptions,
) -> Result<Authenticated, SetupError> {
    let mut link = state.into_link();
    let mech = auth::authenticate(&mut link.wire, opts).await?;
    Ok(Authenticated { link, mech })
}

impl Authenticated {
    /// COMPRESS=DEFLATE when asked for and offered, then the engine; ID is sent (not waited
    /// for) when offered.
    pub(super) async fn start(
        self,
        opts: &ConnectOptions,
    ) -> Result<(Connection, SessionInfo), SetupError> {
        let Authenticated { mut link, mech } = self;
        link.info.mech = mech.to_string();
        let mut compress = None;
        if opts.compress && link.wire.caps.has("COMPRESS=DEFLATE") {
            let (_, st) = link.wire.command(&cmd::compress_deflate()).await?;
            if st.is_ok() {
                compress = Some(link.wire.start_compression()?);
                link.info.compressed = true;
            } else {
                link.info.notes.push(format!(
                    "{}: COMPRESS refused: {}",
                    opts.side,
                    st.full_text()
                ));
            }
        }
        let (conn, info) = link.hand_over(compress, opts);
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
}
