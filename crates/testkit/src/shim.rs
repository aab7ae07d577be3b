//! `Shim`: an IMAP-aware fault-injection proxy for tests, placed in front of a real server
//! (usually a [`Dovecot`](crate::Dovecot)) and running on its own tokio runtime thread like
//! [`FaultProxy`](crate::FaultProxy).
//!
//! By default it forwards every byte unchanged. It reads the client-to-server stream as IMAP
//! commands (tag, name, arguments, `{n}`/`{n+}`/`~{n}` literals) and the server-to-client
//! stream as responses (lines and literals, so it knows which tagged response ends which
//! command and where responses begin), and lets [`Rule`]s act on chosen commands or
//! connections:
//!
//! * answer a command itself instead of forwarding it ([`Action::Reply`],
//!   [`Action::ReplyThenClose`]): the command and its literals are swallowed; for a
//!   synchronizing literal the shim sends its own `+ go ahead` so the client sends the bytes;
//! * delay it ([`Action::Delay`]), drop the connection when it arrives
//!   ([`Action::CloseBeforeForward`]) or after part of its literal
//!   ([`Action::CloseMidLiteral`]), or add an untagged response before its tagged answer
//!   ([`Action::InjectUntagged`]);
//! * per connection, replace the greeting ([`Action::RewriteGreeting`]), or answer
//!   `* BYE ...` after it or instead of it and close (Gmail's answer to one connection too
//!   many: [`Action::ByeAfterGreeting`], [`Action::ByeInsteadOfGreeting`]).
//!
//! ```no_run
//! use imapsync_testkit::{Dovecot, Layout};
//! use imapsync_testkit::shim::{Action, Rule, Shim, When};
//! let server = Dovecot::start(Layout::Slash)?;
//! let shim = Shim::start(
//!     (server.host(), server.port()),
//!     vec![
//!         // The second APPEND of the whole run is refused once.
//!         Rule::new(When::command("APPEND").nth(2), Action::Reply("NO [OVERQUOTA] Quota exceeded".into())),
//!         // Every third connection is turned away like Gmail does.
//!         Rule::new(When::Connection(3), Action::ByeAfterGreeting("Too many simultaneous connections".into())),
//!     ],
//! )?;
//! // ... point the client at 127.0.0.1:shim.port() ...
//! let stats = shim.stats();
//! assert_eq!(stats.fired[0], 1);
//! # Ok::<(), anyhow::Error>(())
//! ```
//!
//! Matching: for each command, every command-level rule whose [`When`] matches counts it
//! (that count is what `nth` refers to); the first of them whose `nth` is reached and whose
//! `times` budget is not used up fires, one action per command. The arguments regex is
//! matched against the command's first line after its name (e.g. `INBOX (\Seen) {310}` for
//! an APPEND). Greeting-level actions are chosen once per connection, when it is accepted,
//! among rules with [`When::Always`] or [`When::Connection`].
//!
//! What the shim understands of the protocol: lines after `AUTHENTICATE` (SASL responses)
//! and `IDLE` (`DONE`) until their tagged answer are forwarded without being read as
//! commands; after a successful `STARTTLS` or `COMPRESS` everything is forwarded raw. A
//! server answering a synchronizing literal with a tagged response instead of `+` is
//! understood (the client then does not send the literal). Its own answers are written to
//! the client only between two server responses. Nothing waits forever: connecting to the
//! target times out after 10 s, a connection silent for [`IDLE_TIMEOUT`] is closed, and when
//! one side has closed the other gets 5 s to finish.

use std::collections::{BTreeMap, HashMap};
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use regex::bytes::{Regex, RegexBuilder};
use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt, BufWriter};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::mpsc;

use crate::background::Background;
use crate::gmail::{self, GmailEmu, Index};

/// A connection with no traffic in either direction for this long is closed.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(120);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const GRACE: Duration = Duration::from_secs(5);
/// A command or response line longer than this (without its literals) closes the connection.
const MAX_LINE: usize = 64 << 20;

/// Which commands or connections a rule is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum When {
    /// Every command of every connection (for greeting actions: every connection).
    Always,
    /// Every command of the n-th client connection (1-based, in accept order); for greeting
    /// actions, that connection.
    Connection(u64),
    /// Commands by name (case-insensitive, e.g. `"APPEND"`, `"uid fetch"`), optionally only the
    /// n-th one, only those whose arguments match a regex, only on one connection. Build with
    /// [`When::command`] and the methods below.
    Command {
        name: String,
        nth: Option<Nth>,
        arg_regex: Option<String>,
        connection: Option<u64>,
    },
}

/// Which occurrence of a matching command (1-based).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Nth {
    /// The n-th matching command over the whole shim (all connections).
    Shim(usize),
    /// The n-th matching command of each connection.
    Connection(usize),
}

impl When {
    /// Every command called `name` (case-insensitive; `"UID FETCH"` for UID commands).
    pub fn command(name: &str) -> When {
        When::Command {
            name: norm_name(name),
            nth: None,
            arg_regex: None,
            connection: None,
        }
    }

    /// Only the n-th matching command over the whole shim (1-based). No effect on the other
    /// variants.
    pub fn nth(self, n: usize) -> When {
        self.with_nth(Nth::Shim(n))
    }

    /// Only the n-th matching command of each connection (1-based).
    pub fn nth_in_connection(self, n: usize) -> When {
        self.with_nth(Nth::Connection(n))
    }

    fn with_nth(self, n: Nth) -> When {
        match self {
            When::Command {
                name,
                arg_regex,
                connection,
                ..
            } => When::Command {
                name,
                nth: Some(n),
                arg_regex,
                connection,
            },
            other => other,
        }
    }

    /// Only commands whose first line after the name matches `regex` (`regex::bytes` syntax,
    /// ASCII mode: `\b`, `\w` are ASCII classes), e.g. `r#"^"?Trash\b"#` for an APPEND to
    /// `Trash`, quoted or not.
    pub fn args(self, regex: &str) -> When {
        match self {
            When::Command {
                name,
                nth,
                connection,
                ..
            } => When::Command {
                name,
                nth,
                arg_regex: Some(regex.to_string()),
                connection,
            },
            other => other,
        }
    }

    /// Only commands of the n-th connection (1-based).
    pub fn on_connection(self, n: u64) -> When {
        match self {
            When::Command {
                name,
                nth,
                arg_regex,
                ..
            } => When::Command {
                name,
                nth,
                arg_regex,
                connection: Some(n),
            },
            other => other,
        }
    }
}

/// What to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Answer the command with `TAG <text>` (e.g. `NO [OVERQUOTA] Quota exceeded`) instead of
    /// forwarding it; the command and its literals never reach the server.
    Reply(String),
    /// Like [`Action::Reply`], then close the connection.
    ReplyThenClose(String),
    /// Wait this long, then forward the command (later client bytes wait too).
    Delay(Duration),
    /// Close the connection when the command arrives; the server never sees it.
    CloseBeforeForward,
    /// Forward the command and the first `after_bytes` bytes of its literals, then close. A
    /// command without literal is not forwarded at all; the server never sees a complete
    /// command.
    CloseMidLiteral { after_bytes: u64 },
    /// Forward the command and send `* <text>` to the client just before its tagged answer.
    InjectUntagged(String),
    /// Greeting action: forward the server's greeting, then send `* BYE <text>` and close.
    ByeAfterGreeting(String),
    /// Greeting action: send `* BYE <text>` instead of the greeting and close.
    ByeInsteadOfGreeting(String),
    /// Greeting action: send `* <text>` (e.g. `OK [CAPABILITY IMAP4rev1] ready`) instead of
    /// the server's greeting.
    RewriteGreeting(String),
}

impl Action {
    fn is_greeting(&self) -> bool {
        matches!(
            self,
            Action::ByeAfterGreeting(_)
                | Action::ByeInsteadOfGreeting(_)
                | Action::RewriteGreeting(_)
        )
    }
}

/// A rule: when, what, and at most how many times in total (`None`: unlimited).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    pub when: When,
    pub action: Action,
    pub times: Option<usize>,
}

impl Rule {
    /// A rule without limit on the number of times it fires.
    pub fn new(when: When, action: Action) -> Rule {
        Rule {
            when,
            action,
            times: None,
        }
    }

    /// Fire at most `n` times in total.
    pub fn times(mut self, n: usize) -> Rule {
        self.times = Some(n);
        self
    }
}

/// Counters readable while the shim runs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ShimStats {
    /// Client connections accepted.
    pub connections: u64,
    /// Connections currently open.
    pub active: u64,
    /// Commands seen by upper-case name (`LOGIN`, `UID FETCH`, ...), whether forwarded or not.
    pub commands: BTreeMap<String, u64>,
    /// How many times each rule fired, in the order of the current rules.
    pub fired: Vec<u64>,
}

impl ShimStats {
    /// Commands seen with this name (case-insensitive).
    pub fn commands_named(&self, name: &str) -> u64 {
        self.commands.get(&norm_name(name)).copied().unwrap_or(0)
    }
}

fn norm_name(name: &str) -> String {
    name.split_whitespace()
        .map(str::to_ascii_uppercase)
        .collect::<Vec<_>>()
        .join(" ")
}

/// A rule ready to match, with its counters.
struct Compiled {
    rule: Rule,
    args: Option<Regex>,
    matched: AtomicUsize,
    fired: AtomicUsize,
}

impl Compiled {
    /// Takes one unit of the `times` budget.
    fn take(&self) -> bool {
        let limit = self.rule.times.unwrap_or(usize::MAX);
        self.fired
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |f| {
                (f < limit).then_some(f + 1)
            })
            .is_ok()
    }
}

struct RuleSet {
    rules: Vec<Compiled>,
}

impl RuleSet {
    fn compile(rules: Vec<Rule>) -> Result<RuleSet> {
        let mut out = Vec::new();
        for rule in rules {
            let args = match &rule.when {
                When::Command {
                    arg_regex: Some(re),
                    ..
                } => Some(
                    RegexBuilder::new(re)
                        .unicode(false)
                        .build()
                        .with_context(|| format!("bad shim regex {re:?}"))?,
                ),
                _ => None,
            };
            out.push(Compiled {
                rule,
                args,
                matched: AtomicUsize::new(0),
                fired: AtomicUsize::new(0),
            });
        }
        Ok(RuleSet { rules: out })
    }

    /// The greeting action for connection `conn`, if any.
    fn greeting(&self, conn: u64) -> Option<(usize, Action)> {
        self.rules.iter().enumerate().find_map(|(i, c)| {
            let applies = match c.rule.when {
                When::Always => true,
                When::Connection(k) => k == conn,
                When::Command { .. } => false,
            };
            (applies && c.rule.action.is_greeting() && c.take()).then(|| (i, c.rule.action.clone()))
        })
    }

    /// The action for a command, counting it for every rule it matches.
    fn command(
        &self,
        conn: u64,
        per_conn: &mut Vec<usize>,
        name: &str,
        args: &[u8],
    ) -> Option<(usize, Action)> {
        per_conn.resize(self.rules.len(), 0);
        let mut chosen = None;
        for (i, c) in self.rules.iter().enumerate() {
            if c.rule.action.is_greeting() {
                continue;
            }
            let (applies, nth) = match &c.rule.when {
                When::Always => (true, None),
                When::Connection(k) => (*k == conn, None),
                When::Command {
                    name: n,
                    nth,
                    connection,
                    ..
                } => (
                    *n == name
                        && connection.is_none_or(|k| k == conn)
                        && c.args.as_ref().is_none_or(|re| re.is_match(args)),
                    *nth,
                ),
            };
            if !applies {
                continue;
            }
            let global = c.matched.fetch_add(1, Ordering::SeqCst) + 1;
            per_conn[i] += 1;
            let due = match nth {
                None => true,
                Some(Nth::Shim(k)) => global == k,
                Some(Nth::Connection(k)) => per_conn[i] == k,
            };
            if chosen.is_none() && due && c.take() {
                chosen = Some((i, c.rule.action.clone()));
            }
        }
        chosen
    }
}

struct Shared {
    target: SocketAddr,
    rules: Mutex<Arc<RuleSet>>,
    connections: AtomicU64,
    active: AtomicU64,
    commands: Mutex<BTreeMap<String, u64>>,
    events: Mutex<Vec<String>>,
    /// Gmail's extensions emulated on top of the server ([`Shim::gmail`]).
    gmail: Option<Arc<GmailEmu>>,
}

impl Shared {
    fn event(&self, s: String) {
        if let Ok(mut e) = self.events.lock() {
            e.push(s);
        }
    }

    fn count(&self, name: &str) {
        if let Ok(mut c) = self.commands.lock() {
            *c.entry(name.to_string()).or_default() += 1;
        }
    }
}

/// A running shim; stops on [`Shim::stop`] or drop.
pub struct Shim {
    server: Background,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Shim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shim")
            .field("addr", &self.server.addr())
            .field("target", &self.shared.target)
            .finish()
    }
}

impl Shim {
    /// Listen on `127.0.0.1:0` and forward to `target`, applying `rules` (an invalid
    /// argument regex is an error).
    pub fn start(target: impl ToSocketAddrs, rules: Vec<Rule>) -> Result<Shim> {
        Self::start_with(target, rules, None)
    }

    /// Like [`Shim::start`], and emulates Gmail's IMAP extensions (X-GM-LABELS fetch and
    /// store, X-GM-MSGID, All Mail as the set of all messages) on top of the server for the
    /// account `user` (see [`crate::gmail`] for how). The server must announce
    /// [`gmail::GMAIL_CAPABILITY`] itself (e.g. `DovecotBuilder::add_capability`).
    pub fn gmail(
        target: impl ToSocketAddrs,
        user: &str,
        pass: &str,
        rules: Vec<Rule>,
    ) -> Result<Shim> {
        let addr = target
            .to_socket_addrs()
            .context("resolving the shim target")?
            .next()
            .ok_or_else(|| anyhow!("shim target resolves to nothing"))?;
        Self::start_with(addr, rules, Some(Arc::new(GmailEmu::new(addr, user, pass))))
    }

    fn start_with(
        target: impl ToSocketAddrs,
        rules: Vec<Rule>,
        gmail: Option<Arc<GmailEmu>>,
    ) -> Result<Shim> {
        let target = target
            .to_socket_addrs()
            .context("resolving the shim target")?
            .next()
            .ok_or_else(|| anyhow!("shim target resolves to nothing"))?;
        let rules = RuleSet::compile(rules)?;
        let shared = Arc::new(Shared {
            target,
            rules: Mutex::new(Arc::new(rules)),
            connections: AtomicU64::new(0),
            active: AtomicU64::new(0),
            commands: Mutex::new(BTreeMap::new()),
            events: Mutex::new(Vec::new()),
            gmail,
        });
        let sh = shared.clone();
        let server = Background::start("imapshim", move |sock, n| handle(sock, n, sh.clone()))?;
        Ok(Shim { server, shared })
    }

    /// Listening port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.server.addr().port()
    }

    /// Listening address.
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// Replace the rules (and their counters) for connections accepted from now on.
    pub fn set_rules(&self, rules: Vec<Rule>) -> Result<()> {
        let set = Arc::new(RuleSet::compile(rules)?);
        if let Ok(mut r) = self.shared.rules.lock() {
            *r = set;
        }
        Ok(())
    }

    /// Current counters.
    pub fn stats(&self) -> ShimStats {
        let fired = self
            .shared
            .rules
            .lock()
            .map(|r| {
                r.rules
                    .iter()
                    .map(|c| c.fired.load(Ordering::SeqCst) as u64)
                    .collect()
            })
            .unwrap_or_default();
        ShimStats {
            connections: self.shared.connections.load(Ordering::SeqCst),
            active: self.shared.active.load(Ordering::SeqCst),
            commands: self
                .shared
                .commands
                .lock()
                .map(|c| c.clone())
                .unwrap_or_default(),
            fired,
        }
    }

    /// Human-readable log: rules fired, connections closed and why.
    pub fn events(&self) -> Vec<String> {
        self.shared
            .events
            .lock()
            .map(|e| e.clone())
            .unwrap_or_default()
    }

    /// Stop listening and close every connection.
    pub fn stop(mut self) {
        self.server.stop();
    }
}

/// How a pump ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Exit {
    /// Its input side reached EOF (the other pump may go on).
    Eof,
    /// The connection must be dropped now.
    Close,
}

/// Messages from the client-side pump to the single writer towards the client.
enum ToClient {
    Bytes(Vec<u8>),
    BytesThenClose(Vec<u8>),
}

/// State of a synchronizing literal the client announced in a forwarded command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cont {
    Waiting,
    Go,
    Refused,
}

/// Per-connection state shared by the two pumps (never locked across an await).
#[derive(Default)]
struct ConnState {
    /// Tag of the command whose synchronizing literal awaits the server's `+`.
    awaiting: Option<(Vec<u8>, Cont)>,
    /// Until the tagged answer of this command, client lines are not commands (SASL, IDLE).
    raw_until: Option<Vec<u8>>,
    /// STARTTLS/COMPRESS in flight: on its tagged OK both directions become raw.
    switch_on_ok: Option<Vec<u8>>,
    raw: bool,
    /// Untagged texts to send before the tagged answer of a command.
    inject: HashMap<Vec<u8>, Vec<String>>,
    /// Gmail emulation: the folder selected last, the label index of the last FETCH of
    /// labels, the APPENDs in flight (tag → folder).
    selected: String,
    index: Option<Arc<Index>>,
    appends: HashMap<Vec<u8>, String>,
}

struct Ctx {
    n: u64,
    shared: Arc<Shared>,
    rules: Arc<RuleSet>,
    state: Mutex<ConnState>,
    to_client: mpsc::UnboundedSender<ToClient>,
}

impl Ctx {
    fn with<R>(&self, f: impl FnOnce(&mut ConnState) -> R) -> Option<R> {
        self.state.lock().ok().map(|mut s| f(&mut s))
    }

    fn raw(&self) -> bool {
        self.with(|s| s.raw).unwrap_or(false)
    }

    fn fired(&self, i: usize, what: &str) {
        self.shared
            .event(format!("conn {}: rule {i} fired: {what}", self.n));
    }
}

async fn handle(client: TcpStream, n: u64, shared: Arc<Shared>) {
    shared.connections.fetch_add(1, Ordering::SeqCst);
    let rules = shared
        .rules
        .lock()
        .map(|r| r.clone())
        .unwrap_or_else(|_| Arc::new(RuleSet { rules: Vec::new() }));
    let server =
        match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(shared.target)).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                shared.event(format!("conn {n}: target unreachable: {e}"));
                return;
            }
            Err(_) => {
                shared.event(format!("conn {n}: connecting to the target timed out"));
                return;
            }
        };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    shared.active.fetch_add(1, Ordering::SeqCst);
    let greeting = rules.greeting(n);
    let (tx, rx) = mpsc::unbounded_channel();
    let ctx = Ctx {
        n,
        shared: shared.clone(),
        rules,
        state: Mutex::new(ConnState::default()),
        to_client: tx,
    };
    let (mut cr, mut cw) = client.into_split();
    let (mut sr, mut sw) = server.into_split();
    let outcome = {
        let up = up_pump(&mut cr, &mut sw, &ctx);
        let down = down_pump(&mut sr, &mut cw, rx, &ctx, greeting);
        tokio::pin!(up, down);
        let (mut up_done, mut down_done) = (false, false);
        loop {
            tokio::select! {
                e = &mut up, if !up_done => {
                    if e == Exit::Close { break Exit::Close; }
                    up_done = true;
                }
                e = &mut down, if !down_done => {
                    if e == Exit::Close { break Exit::Close; }
                    down_done = true;
                }
                _ = tokio::time::sleep(GRACE), if up_done || down_done => break Exit::Close,
            }
            if up_done && down_done {
                break Exit::Eof;
            }
        }
    };
    shared.active.fetch_sub(1, Ordering::SeqCst);
    shared.event(format!(
        "conn {n}: closed ({})",
        if outcome == Exit::Close {
            "by the shim"
        } else {
            "clean"
        }
    ));
    // Logged before the sockets close, so a client that saw the close finds the event.
    drop((cr, cw, sr, sw));
}

/// `{n}`, `{n+}` or `~{n}` at the end of a line (with its line ending): the length and whether
/// the literal is synchronizing.
fn literal_at_end(line: &[u8]) -> Option<(u64, bool)> {
    let mut l = line;
    while let Some((&last, rest)) = l.split_last() {
        if last == b'\n' || last == b'\r' {
            l = rest;
        } else {
            break;
        }
    }
    let body = l.strip_suffix(b"}")?;
    let open = body.iter().rposition(|&b| b == b'{')?;
    let mut digits = &body[open + 1..];
    let mut sync = true;
    if let Some(d) = digits.strip_suffix(b"+") {
        digits = d;
        sync = false;
    }
    if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = std::str::from_utf8(digits).ok()?.parse().ok()?;
    Some((n, sync))
}

fn words(line: &[u8]) -> impl Iterator<Item = &[u8]> {
    line.split(|&b| b == b' ' || b == b'\r' || b == b'\n')
        .filter(|w| !w.is_empty())
}

/// Tag, upper-case command name (`UID FETCH`, ...) and the arguments of a command's first line.
fn parse_command(line: &[u8]) -> Option<(Vec<u8>, String, Vec<u8>)> {
    let trimmed = line
        .strip_suffix(b"\n")
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .unwrap_or(line);
    let sp = trimmed.iter().position(|&b| b == b' ')?;
    let tag = trimmed[..sp].to_vec();
    let rest = &trimmed[sp + 1..];
    let word_end = |s: &[u8]| s.iter().position(|&b| b == b' ').unwrap_or(s.len());
    let e = word_end(rest);
    let mut name = String::from_utf8_lossy(&rest[..e]).to_ascii_uppercase();
    let mut args = rest.get(e + 1..).unwrap_or(b"");
    if name == "UID" && !args.is_empty() {
        let e2 = word_end(args);
        name = format!(
            "UID {}",
            String::from_utf8_lossy(&args[..e2]).to_ascii_uppercase()
        );
        args = args.get(e2 + 1..).unwrap_or(b"");
    }
    if tag.is_empty() || name.is_empty() {
        return None;
    }
    Some((tag, name, args.to_vec()))
}

/// What happens to the current command.
enum Fate {
    Forward,
    /// Swallowed; answered with these bytes when complete (then closed when `close`).
    Swallow {
        reply: Vec<u8>,
        close: bool,
    },
    /// Forwarded until this many more literal bytes, then the connection is dropped.
    CloseMid {
        left: u64,
    },
}

enum Up {
    Line,
    /// A synchronizing literal of this length was forwarded; the server decides.
    AwaitCont(u64),
    Literal(u64),
}

async fn write_to<W: AsyncWrite + Unpin>(w: &mut W, data: &[u8]) -> bool {
    w.write_all(data).await.is_ok()
}

/// Client to server: splits commands, applies rules, forwards.
async fn up_pump(cr: &mut OwnedReadHalf, sw: &mut OwnedWriteHalf, ctx: &Ctx) -> Exit {
    // Flushed before every read and every wait.
    let sw = &mut BufWriter::with_capacity(64 * 1024, sw);
    let mut buf: Vec<u8> = Vec::new();
    let mut tmp = vec![0u8; 64 * 1024];
    let mut st = Up::Line;
    let mut cmd: Option<(Vec<u8>, Fate)> = None;
    let mut per_conn = Vec::new();
    loop {
        // Handle everything buffered.
        loop {
            if ctx.raw() {
                if !buf.is_empty() && !write_to(sw, &buf).await {
                    return Exit::Close;
                }
                buf.clear();
                break;
            }
            match st {
                Up::AwaitCont(n) => {
                    if buf.is_empty() {
                        break;
                    }
                    let refused = ctx
                        .with(|s| matches!(s.awaiting.take(), Some((_, Cont::Refused))))
                        .unwrap_or(false);
                    if refused {
                        // The server answered instead of `+`: the client moved on.
                        cmd = None;
                        st = Up::Line;
                    } else {
                        st = Up::Literal(n);
                    }
                }
                Up::Literal(left) => {
                    if buf.is_empty() {
                        break;
                    }
                    let k = (left.min(buf.len() as u64)) as usize;
                    let chunk: Vec<u8> = buf.drain(..k).collect();
                    match cmd.as_mut().map(|c| &mut c.1) {
                        Some(Fate::Swallow { .. }) => {}
                        Some(Fate::CloseMid { left: allow }) => {
                            if k as u64 >= *allow {
                                let part = &chunk[..*allow as usize];
                                let _ = write_to(sw, part).await;
                                let _ = sw.flush().await;
                                ctx.shared.event(format!(
                                    "conn {}: closed in the middle of a literal",
                                    ctx.n
                                ));
                                // Let the bytes reach the server before the close.
                                tokio::time::sleep(Duration::from_millis(20)).await;
                                return Exit::Close;
                            }
                            *allow -= k as u64;
                            if !write_to(sw, &chunk).await {
                                return Exit::Close;
                            }
                        }
                        _ => {
                            if !write_to(sw, &chunk).await {
                                return Exit::Close;
                            }
                        }
                    }
                    let left = left - k as u64;
                    st = if left == 0 {
                        Up::Line
                    } else {
                        Up::Literal(left)
                    };
                }
                Up::Line => {
                    let Some(lf) = buf.iter().position(|&b| b == b'\n') else {
                        if buf.len() > MAX_LINE {
                            return Exit::Close;
                        }
                        break;
                    };
                    let mut line: Vec<u8> = buf.drain(..=lf).collect();
                    let lit = literal_at_end(&line);
                    if cmd.is_none() {
                        let raw_line = ctx.with(|s| s.raw_until.is_some()).unwrap_or(false);
                        let parsed = if raw_line { None } else { parse_command(&line) };
                        let Some((tag, name, args)) = parsed else {
                            // SASL response, DONE, empty line, junk: forwarded as is.
                            if !write_to(sw, &line).await {
                                return Exit::Close;
                            }
                            continue;
                        };
                        ctx.shared.count(&name);
                        let emulated = match &ctx.shared.gmail {
                            Some(gm) => gmail_command(ctx, gm, &tag, &name, &args, &mut line).await,
                            None => None,
                        };
                        let action = match emulated {
                            Some(_) => None,
                            None => ctx.rules.command(ctx.n, &mut per_conn, &name, &args),
                        };
                        let fate = match action {
                            None if emulated.is_some() => Fate::Swallow {
                                reply: emulated.unwrap_or_default(),
                                close: false,
                            },
                            None => Fate::Forward,
                            Some((i, a)) => {
                                ctx.fired(
                                    i,
                                    &format!("{a:?} on {name} {}", String::from_utf8_lossy(&tag)),
                                );
                                let close = matches!(a, Action::ReplyThenClose(_));
                                match a {
                                    Action::Reply(t) | Action::ReplyThenClose(t) => {
                                        let mut reply = tag.clone();
                                        reply.push(b' ');
                                        reply.extend_from_slice(t.as_bytes());
                                        reply.extend_from_slice(b"\r\n");
                                        Fate::Swallow { reply, close }
                                    }
                                    Action::Delay(d) => {
                                        let _ = sw.flush().await;
                                        tokio::time::sleep(d).await;
                                        Fate::Forward
                                    }
                                    Action::CloseBeforeForward => {
                                        // Earlier commands do reach the server.
                                        let _ = sw.flush().await;
                                        return Exit::Close;
                                    }
                                    Action::CloseMidLiteral { after_bytes } => {
                                        if lit.is_none() {
                                            let _ = sw.flush().await;
                                            return Exit::Close;
                                        }
                                        Fate::CloseMid { left: after_bytes }
                                    }
                                    Action::InjectUntagged(t) => {
                                        ctx.with(|s| {
                                            s.inject.entry(tag.clone()).or_default().push(t)
                                        });
                                        Fate::Forward
                                    }
                                    // Greeting actions are never chosen for commands.
                                    _ => Fate::Forward,
                                }
                            }
                        };
                        if !matches!(fate, Fate::Swallow { .. }) {
                            match name.as_str() {
                                "AUTHENTICATE" | "IDLE" => {
                                    ctx.with(|s| s.raw_until = Some(tag.clone()));
                                }
                                "STARTTLS" | "COMPRESS" => {
                                    ctx.with(|s| s.switch_on_ok = Some(tag.clone()));
                                }
                                _ => {}
                            }
                        }
                        cmd = Some((tag, fate));
                    }
                    // The line belongs to the current command.
                    let Some((tag, fate)) = cmd.as_ref() else {
                        continue;
                    };
                    match fate {
                        Fate::Swallow { reply, close } => match lit {
                            Some((n, sync)) => {
                                if sync {
                                    let _ = ctx
                                        .to_client
                                        .send(ToClient::Bytes(b"+ go ahead\r\n".to_vec()));
                                }
                                st = Up::Literal(n);
                            }
                            None => {
                                let msg = if *close {
                                    ToClient::BytesThenClose(reply.clone())
                                } else {
                                    ToClient::Bytes(reply.clone())
                                };
                                let close = *close;
                                let _ = ctx.to_client.send(msg);
                                cmd = None;
                                if close {
                                    // The writer closes once the answer is out.
                                    let _ = sw.flush().await;
                                    return std::future::pending::<Exit>().await;
                                }
                            }
                        },
                        Fate::CloseMid { .. } if lit.is_none() => {
                            // The command ends before enough literal bytes: never complete it.
                            let _ = sw.flush().await;
                            return Exit::Close;
                        }
                        Fate::Forward | Fate::CloseMid { .. } => {
                            if let Some((_, true)) = lit {
                                let t = tag.clone();
                                ctx.with(|s| s.awaiting = Some((t, Cont::Waiting)));
                            }
                            if !write_to(sw, &line).await {
                                return Exit::Close;
                            }
                            match lit {
                                Some((n, true)) => st = Up::AwaitCont(n),
                                Some((n, false)) => st = Up::Literal(n),
                                None => cmd = None,
                            }
                        }
                    }
                }
            }
        }
        let _ = sw.flush().await;
        match tokio::time::timeout(IDLE_TIMEOUT, cr.read(&mut tmp)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                // An unterminated last line still reaches the server, unless swallowed.
                if !matches!(cmd, Some((_, Fate::Swallow { .. }))) {
                    let _ = write_to(sw, &buf).await;
                }
                let _ = sw.shutdown().await;
                return Exit::Eof;
            }
            Ok(Ok(k)) => buf.extend_from_slice(&tmp[..k]),
            Err(_) => {
                ctx.shared.event(format!("conn {}: idle timeout", ctx.n));
                return Exit::Close;
            }
        }
    }
}

/// Is this the first line of a status response or a continuation (no literal detection)?
fn is_status_line(line: &[u8]) -> bool {
    if line.first() == Some(&b'+') {
        return true;
    }
    let mut w = words(line);
    let (Some(_), Some(word)) = (w.next(), w.next()) else {
        return false;
    };
    matches!(
        word.to_ascii_uppercase().as_slice(),
        b"OK" | b"NO" | b"BAD" | b"BYE" | b"PREAUTH"
    )
}

enum Down {
    Line,
    Literal(u64),
}

/// Server to client: splits responses, answers for the shim between them, injects.
async fn down_pump(
    sr: &mut OwnedReadHalf,
    cw: &mut OwnedWriteHalf,
    mut rx: mpsc::UnboundedReceiver<ToClient>,
    ctx: &Ctx,
    greeting: Option<(usize, Action)>,
) -> Exit {
    // Flushed before every read and every wait.
    let cw = &mut BufWriter::with_capacity(64 * 1024, cw);
    let mut buf: Vec<u8> = Vec::new();
    let mut tmp = vec![0u8; 64 * 1024];
    let mut st = Down::Line;
    // Inside a response (after a line ending in a literal header).
    let mut mid = false;
    let mut greeted = false;
    loop {
        loop {
            if ctx.raw() {
                if !buf.is_empty() && !write_to(cw, &buf).await {
                    return Exit::Close;
                }
                buf.clear();
                break;
            }
            match st {
                Down::Literal(left) => {
                    if buf.is_empty() {
                        break;
                    }
                    let k = (left.min(buf.len() as u64)) as usize;
                    if !write_to(cw, &buf[..k]).await {
                        return Exit::Close;
                    }
                    buf.drain(..k);
                    let left = left - k as u64;
                    st = if left == 0 {
                        Down::Line
                    } else {
                        Down::Literal(left)
                    };
                }
                Down::Line => {
                    let Some(lf) = buf.iter().position(|&b| b == b'\n') else {
                        if buf.len() > MAX_LINE {
                            return Exit::Close;
                        }
                        break;
                    };
                    let line: Vec<u8> = buf.drain(..=lf).collect();
                    let first = !mid;
                    if first && !greeted {
                        greeted = true;
                        if let Some((i, a)) = &greeting {
                            ctx.fired(*i, &format!("{a:?}"));
                            match a {
                                Action::RewriteGreeting(t) => {
                                    if !write_to(cw, format!("* {t}\r\n").as_bytes()).await {
                                        return Exit::Close;
                                    }
                                    continue;
                                }
                                Action::ByeAfterGreeting(t) => {
                                    let _ = write_to(cw, &line).await;
                                    let _ = write_to(cw, format!("* BYE {t}\r\n").as_bytes()).await;
                                    let _ = cw.flush().await;
                                    return Exit::Close;
                                }
                                Action::ByeInsteadOfGreeting(t) => {
                                    let _ = write_to(cw, format!("* BYE {t}\r\n").as_bytes()).await;
                                    let _ = cw.flush().await;
                                    return Exit::Close;
                                }
                                _ => {}
                            }
                        }
                    }
                    let mut switch_after = false;
                    let mut line = line;
                    if let Some(gm) = &ctx.shared.gmail {
                        gmail_response(ctx, gm, first, &mut line).await;
                    }
                    if first {
                        let mut w = words(&line);
                        let tag = w.next().unwrap_or(b"").to_vec();
                        let status = w.next().unwrap_or(b"").to_ascii_uppercase();
                        if tag == b"+" || line.first() == Some(&b'+') {
                            ctx.with(|s| {
                                if let Some((_, c @ Cont::Waiting)) = s.awaiting.as_mut() {
                                    *c = Cont::Go;
                                }
                            });
                        } else if tag != b"*" {
                            let injected = ctx
                                .with(|s| {
                                    if let Some((t, c @ Cont::Waiting)) = s.awaiting.as_mut()
                                        && *t == tag
                                    {
                                        *c = Cont::Refused;
                                    }
                                    if s.raw_until.as_deref() == Some(&tag[..]) {
                                        s.raw_until = None;
                                    }
                                    if s.switch_on_ok.as_deref() == Some(&tag[..]) {
                                        s.switch_on_ok = None;
                                        // Raw from now on: set before the OK leaves, so the
                                        // client's first TLS/deflate bytes are never parsed.
                                        switch_after = status == b"OK";
                                        s.raw = switch_after;
                                    }
                                    s.inject.remove(&tag).unwrap_or_default()
                                })
                                .unwrap_or_default();
                            for t in injected {
                                if !write_to(cw, format!("* {t}\r\n").as_bytes()).await {
                                    return Exit::Close;
                                }
                            }
                        }
                    }
                    if !write_to(cw, &line).await {
                        return Exit::Close;
                    }
                    if switch_after {
                        continue;
                    }
                    let lit = if first && is_status_line(&line) {
                        None
                    } else {
                        literal_at_end(&line)
                    };
                    match lit {
                        Some((n, _)) => {
                            mid = true;
                            st = Down::Literal(n);
                        }
                        None => mid = false,
                    }
                }
            }
        }
        let _ = cw.flush().await;
        let boundary = matches!(st, Down::Line) && !mid;
        tokio::select! {
            m = rx.recv(), if boundary => match m {
                Some(ToClient::Bytes(b)) => {
                    if !write_to(cw, &b).await {
                        return Exit::Close;
                    }
                }
                Some(ToClient::BytesThenClose(b)) => {
                    let _ = write_to(cw, &b).await;
                    let _ = cw.flush().await;
                    return Exit::Close;
                }
                None => return Exit::Close,
            },
            r = tokio::time::timeout(IDLE_TIMEOUT, sr.read(&mut tmp)) => match r {
                Ok(Ok(0)) | Ok(Err(_)) => {
                    // The server's last bytes, then the answers the shim still owes.
                    let _ = write_to(cw, &buf).await;
                    while let Ok(m) = rx.try_recv() {
                        let (ToClient::Bytes(b) | ToClient::BytesThenClose(b)) = m;
                        let _ = write_to(cw, &b).await;
                    }
                    let _ = cw.shutdown().await;
                    return Exit::Eof;
                }
                Ok(Ok(k)) => buf.extend_from_slice(&tmp[..k]),
                Err(_) => return Exit::Close,
            },
        }
    }
}

/// Runs a blocking step of the Gmail emulation off the shim's thread.
async fn blocking<R: Send + 'static>(f: impl FnOnce() -> Result<R> + Send + 'static) -> Result<R> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(anyhow!("gmail emulation: {e}")))
}

/// The Gmail emulation of a client command: `Some(answer)` when the shim answers it itself
/// (a label STORE); otherwise it may rewrite `line` (a FETCH of labels) and notes what the
/// answers need (selected folder, APPEND target).
async fn gmail_command(
    ctx: &Ctx,
    gm: &Arc<GmailEmu>,
    tag: &[u8],
    name: &str,
    args: &[u8],
    line: &mut Vec<u8>,
) -> Option<Vec<u8>> {
    let args = String::from_utf8_lossy(args).into_owned();
    match name {
        "SELECT" | "EXAMINE" => {
            if let Some((n, _)) = gmail::astring(&args) {
                ctx.with(|s| s.selected = n);
            }
            None
        }
        "APPEND" => {
            if let Some((n, _)) = gmail::astring(&args) {
                ctx.with(|s| s.appends.insert(tag.to_vec(), n));
            }
            None
        }
        "FETCH" | "UID FETCH" => {
            let items = gmail::rewrite_fetch(&args)?;
            let g = gm.clone();
            match blocking(move || g.index()).await {
                Ok(ix) => {
                    ctx.with(|s| s.index = Some(Arc::new(ix)));
                }
                Err(e) => ctx
                    .shared
                    .event(format!("conn {}: gmail index: {e:#}", ctx.n)),
            }
            let mut l = tag.to_vec();
            l.extend_from_slice(format!(" {name} {items}\r\n").as_bytes());
            *line = l;
            None
        }
        "UID STORE" => {
            let (set, st) = gmail::parse_store(&args)?;
            let selected = ctx.with(|s| s.selected.clone()).unwrap_or_default();
            let g = gm.clone();
            let r = blocking(move || g.store(&selected, &set, &st)).await;
            let mut reply = tag.to_vec();
            match r {
                Ok(()) => reply.extend_from_slice(b" OK Success\r\n"),
                Err(e) => {
                    ctx.shared
                        .event(format!("conn {}: gmail label store: {e:#}", ctx.n));
                    reply.extend_from_slice(format!(" NO [CANNOT] {e}\r\n").as_bytes());
                }
            }
            Some(reply)
        }
        _ => None,
    }
}

/// The Gmail emulation of a server response line: FETCH answers carry Gmail's items instead
/// of `X-GUID`; an APPEND's OK waits for the copies in All Mail.
async fn gmail_response(ctx: &Ctx, gm: &Arc<GmailEmu>, first: bool, line: &mut Vec<u8>) {
    if line.windows(7).any(|w| w == b"X-GUID ") {
        let (ix, selected) = ctx
            .with(|s| (s.index.clone(), s.selected.clone()))
            .unwrap_or_default();
        if let Some(ix) = ix
            && let Some(new) = gmail::rewrite_response(line, &ix, &selected)
        {
            *line = new;
        }
        return;
    }
    if !first {
        return;
    }
    let tag = words(line).next().unwrap_or(b"").to_vec();
    if tag == b"*" || tag == b"+" {
        return;
    }
    let Some(folder) = ctx.with(|s| s.appends.remove(&tag)).flatten() else {
        return;
    };
    if let Some(uids) = gmail::appenduid(line) {
        let g = gm.clone();
        if let Err(e) = blocking(move || g.appended(&folder, &uids)).await {
            ctx.shared
                .event(format!("conn {}: gmail copy to All Mail: {e:#}", ctx.n));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_lines() {
        assert_eq!(
            parse_command(b"a1 uid fetch 1:* (FLAGS)\r\n"),
            Some((b"a1".to_vec(), "UID FETCH".into(), b"1:* (FLAGS)".to_vec()))
        );
        assert_eq!(
            parse_command(b"A2 APPEND INBOX {5+}\r\n"),
            Some((b"A2".to_vec(), "APPEND".into(), b"INBOX {5+}".to_vec()))
        );
        assert_eq!(
            parse_command(b"t NOOP\r\n"),
            Some((b"t".to_vec(), "NOOP".into(), Vec::new()))
        );
        assert_eq!(parse_command(b"DONE\r\n"), None);
        assert_eq!(parse_command(b"\r\n"), None);
        assert_eq!(literal_at_end(b"a LOGIN {5}\r\n"), Some((5, true)));
        assert_eq!(literal_at_end(b"a LOGIN {5+}\r\n"), Some((5, false)));
        assert_eq!(literal_at_end(b"a APPEND x ~{12}\n"), Some((12, true)));
        assert_eq!(literal_at_end(b"a LOGIN {x}\r\n"), None);
        assert_eq!(literal_at_end(b"a LOGIN {99999999999999999999}\r\n"), None);
        assert!(is_status_line(b"a1 OK done {5}\r\n"));
        assert!(is_status_line(b"+ go\r\n"));
        assert!(!is_status_line(b"* 1 FETCH (BODY[] {5}\r\n"));
    }

    #[test]
    fn rule_matching_counts_and_budgets() {
        let set = RuleSet::compile(vec![
            Rule::new(
                When::command("append").nth(2),
                Action::Reply("NO [OVERQUOTA] x".into()),
            ),
            Rule::new(
                When::command("APPEND").args("^Trash "),
                Action::Reply("NO [TOOBIG] y".into()),
            )
            .times(1),
            Rule::new(
                When::command("noop").nth_in_connection(2),
                Action::CloseBeforeForward,
            ),
            Rule::new(
                When::Connection(2),
                Action::ByeAfterGreeting("Too many".into()),
            ),
        ])
        .expect("rules");
        let mut c1 = Vec::new();
        let mut c2 = Vec::new();
        let fired = |r: Option<(usize, Action)>| r.map(|x| x.0);
        assert_eq!(fired(set.command(1, &mut c1, "APPEND", b"INBOX {3}")), None);
        assert_eq!(
            fired(set.command(1, &mut c1, "APPEND", b"INBOX {3}")),
            Some(0)
        );
        assert_eq!(
            fired(set.command(2, &mut c2, "APPEND", b"Trash {3}")),
            Some(1)
        );
        assert_eq!(fired(set.command(2, &mut c2, "APPEND", b"Trash {3}")), None);
        assert_eq!(fired(set.command(1, &mut c1, "NOOP", b"")), None);
        assert_eq!(fired(set.command(2, &mut c2, "NOOP", b"")), None);
        assert_eq!(fired(set.command(1, &mut c1, "NOOP", b"")), Some(2));
        assert_eq!(fired(set.command(2, &mut c2, "NOOP", b"")), Some(2));
        assert_eq!(set.greeting(1), None);
        assert_eq!(fired(set.greeting(2)), Some(3));
        assert!(
            RuleSet::compile(vec![Rule::new(
                When::command("X").args("("),
                Action::CloseBeforeForward
            )])
            .is_err()
        );
    }
}
