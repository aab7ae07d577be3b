//! The pipelined connection engine.
//!
//! A logged-in connection is driven by two tokio tasks that own its two halves: the *writer*
//! takes commands from an unbounded queue, tags them and writes them back to back; the
//! *reader* frames and parses responses and routes them to the command they answer. Callers
//! hold a cheap [`Connection`] handle and get a future ([`Pending`]) or a stream of items
//! ([`ItemStream`]) per command, so many commands can be in flight at once.
//!
//! The send window follows mbsync's rules:
//! * at most `pipeline_depth` commands are in flight (a semaphore permit per command, released
//!   when its tagged response arrives);
//! * a literal is sent non-synchronizing (`{N+}`) when [`Capabilities::literal_nonsync`] allows
//!   it (LITERAL+, or LITERAL- and N ≤ 4096); otherwise the writer flushes, waits for the
//!   server's `+` and only then sends the bytes — nothing else is written meanwhile, so a
//!   refused literal never desynchronises the stream (the reader tells the writer when the
//!   tagged answer arrives instead of `+`);
//! * bytes are flushed when no further command is immediately ready, so pipelined commands
//!   share TCP segments.
//!
//! Untagged responses go to the oldest command in flight (servers answer pipelined commands in
//! order); with none in flight they are unsolicited and only traced (BYE is remembered).
//!
//! A message body can be a stream ([`BodyReceiver`]) fed by another connection: it is written
//! into the literal as it arrives. If that source fails mid-literal, the literal can't be
//! completed truthfully, so the connection is dropped — the server then discards the partial
//! APPEND — and every command in flight fails with [`ConnError::BodySource`]; the executor
//! reconciles through its journal.
//!
//! Any I/O error, timeout (`--timeout`, counted only while commands are in flight), framing or
//! parse error kills the connection: all its commands fail with the same [`ConnError`].

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot, watch};

use imapsync_proto::caps::Capabilities;
use imapsync_proto::command::{Command, Part, Target};
use imapsync_proto::framer::{Event, Framer, Limits};
use imapsync_proto::response::{self, Response, Status, StatusKind, Untagged};

use crate::deflate::{Deflater, Inflater};
use crate::error::{ConnError, Side};
use crate::pushback;

/// Receives trace lines (`--debugimap`); secrets are already masked.
pub type Tracer = Arc<dyn Fn(Side, &str) + Send + Sync>;

/// Write out once this many bytes are buffered.
const FLUSH_AT: usize = 256 * 1024;
/// Items buffered per streamed command before the reader waits for the consumer.
const STREAM_CAPACITY: usize = 64;
/// Largest response line printed whole in traces.
const TRACE_MAX: usize = 2000;

/// Settings of a running connection.
#[derive(Clone)]
pub struct EngineConfig {
    pub side: Side,
    /// Inactivity limit while commands are in flight; `None` = wait forever.
    pub timeout: Option<Duration>,
    /// Commands in flight at most.
    pub pipeline_depth: usize,
    /// Literals above this size are streamed to [`ItemStream`] consumers.
    pub stream_threshold: u64,
    pub tracer: Option<Tracer>,
}

impl std::fmt::Debug for EngineConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineConfig")
            .field("side", &self.side)
            .field("timeout", &self.timeout)
            .field("pipeline_depth", &self.pipeline_depth)
            .finish()
    }
}

/// The answer to a command.
#[derive(Clone, Debug)]
pub struct Done {
    pub untagged: Vec<Untagged>,
    pub status: Status,
}

impl Done {
    pub fn is_ok(&self) -> bool {
        self.status.kind == StatusKind::Ok
    }
}

/// What a streamed command yields, in order.
#[derive(Debug)]
pub enum Item {
    Untagged(Untagged),
    /// A large literal of this length starts (its response follows after `LiteralEnd`).
    LiteralStart(u64),
    LiteralChunk(Bytes),
    LiteralEnd,
    Done(Result<Status, ConnError>),
}

/// A message body to send as a literal.
#[derive(Debug)]
pub enum Body {
    Bytes(Bytes),
    Stream(BodyReceiver),
}

impl Body {
    pub fn len(&self) -> u64 {
        match self {
            Body::Bytes(b) => b.len() as u64,
            Body::Stream(s) => s.len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Receiving end of a streamed body.
#[derive(Debug)]
pub struct BodyReceiver {
    pub len: u64,
    rx: mpsc::Receiver<Result<Bytes, String>>,
}

/// Sending end of a streamed body.
#[derive(Debug, Clone)]
pub struct BodySender {
    tx: mpsc::Sender<Result<Bytes, String>>,
}

impl BodySender {
    /// Sends a chunk; false when the receiving side is gone.
    pub async fn send(&self, chunk: Bytes) -> bool {
        self.tx.send(Ok(chunk)).await.is_ok()
    }

    /// Tells the receiver the source failed.
    pub async fn fail(&self, why: String) {
        let _ = self.tx.send(Err(why)).await;
    }
}

/// A body channel of `len` bytes holding at most `capacity` chunks in flight.
pub fn body_channel(len: u64, capacity: usize) -> (BodySender, BodyReceiver) {
    let (tx, rx) = mpsc::channel(capacity.max(1));
    (BodySender { tx }, BodyReceiver { len, rx })
}

enum Sink {
    Collect(oneshot::Sender<Result<Done, ConnError>>),
    Stream(mpsc::Sender<Item>),
}

struct Job {
    cmd: Command,
    bodies: VecDeque<Body>,
    sink: Sink,
}

/// A command whose tag has been written.
struct InFlight {
    tag: String,
    name: &'static str,
    target: Target,
    sink: Sink,
    collected: Vec<Untagged>,
    _permit: OwnedSemaphorePermit,
}

enum Cont {
    Go,
    Rejected,
}

struct Shared {
    side: Side,
    caps: Capabilities,
    jobs: mpsc::UnboundedSender<Job>,
    dead: watch::Receiver<Option<ConnError>>,
    /// Ends the connection from the owner's side ([`Connection::reset`]).
    kill: Arc<watch::Sender<Option<ConnError>>>,
    closing: AtomicBool,
    /// The owner gave up on this connection (it is then never reported alive again).
    abandoned: AtomicBool,
    bye: Mutex<Option<String>>,
    /// Told each time a command is sent again after a transient refusal.
    pushback_hook: Mutex<Option<PushbackHook>>,
    /// The server confirmed `ENABLE QRESYNC` on this connection.
    qresync: AtomicBool,
}

/// Called with the refused command's name, the server's answer and the wait before it is
/// sent again.
pub type PushbackHook = Arc<dyn Fn(&str, &Status, Duration) + Send + Sync>;

/// Times [`Connection::run`] sends a read-only or idempotent command again after the server
/// refused it as a transient condition (throttling, `[INUSE]`, `[UNAVAILABLE]`, ...).
pub const MAX_COMMAND_RETRIES: u32 = 5;

/// Commands that can be sent again as they are when the server refused them as busy: they
/// read, or their effect does not depend on how many times it happens.
fn retryable(name: &str) -> bool {
    matches!(
        name,
        "SELECT"
            | "EXAMINE"
            | "STATUS"
            | "LIST"
            | "LSUB"
            | "UID FETCH"
            | "UID SEARCH"
            | "UID STORE"
            | "SEARCH"
            | "FETCH"
            | "NAMESPACE"
            | "CAPABILITY"
            | "NOOP"
            | "SUBSCRIBE"
            | "GETQUOTAROOT"
            | "ENABLE"
            | "ID"
    )
}

/// Handle to a running connection. Clones share the connection.
#[derive(Clone)]
pub struct Connection {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Connection({})", self.shared.side)
    }
}

/// Future of a submitted command.
pub struct Pending {
    inner: Pin<Box<dyn Future<Output = Result<Done, ConnError>> + Send>>,
}

impl Future for Pending {
    type Output = Result<Done, ConnError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.inner.as_mut().poll(cx)
    }
}

/// Items of a streamed command.
pub struct ItemStream {
    rx: mpsc::Receiver<Item>,
}

impl ItemStream {
    /// Next item; after `Item::Done` (or a dead connection) returns `None`.
    pub async fn next(&mut self) -> Option<Item> {
        self.rx.recv().await
    }
}

impl Connection {
    pub fn side(&self) -> Side {
        self.shared.side
    }

    pub fn caps(&self) -> &Capabilities {
        &self.shared.caps
    }

    /// Why the connection died, if it did.
    pub fn dead(&self) -> Option<ConnError> {
        self.shared.dead.borrow().clone()
    }

    pub fn is_alive(&self) -> bool {
        self.dead().is_none() && !self.shared.abandoned.load(Ordering::Relaxed)
    }

    /// Stops trusting this connection: it reports dead from now on and closes when the last
    /// handle is dropped.
    pub fn abandon(&self) {
        self.shared.abandoned.store(true, Ordering::Relaxed);
    }

    /// Ends the connection now: what is pending fails with `why` (the owner reconnects and
    /// goes on; used when a signal asks to reconnect both sides).
    pub fn reset(&self, why: &str) {
        self.shared.abandoned.store(true, Ordering::Relaxed);
        set_dead(
            &self.shared.kill,
            ConnError::Io(format!("closed on request: {why}")),
        );
    }

    /// Text of a BYE the server sent, if any.
    pub fn bye(&self) -> Option<String> {
        self.shared.bye.lock().ok().and_then(|b| b.clone())
    }

    fn enqueue(&self, cmd: Command, bodies: Vec<Body>, sink: Sink) {
        let job = Job {
            cmd,
            bodies: bodies.into(),
            sink,
        };
        if let Err(mpsc::error::SendError(job)) = self.shared.jobs.send(job) {
            let err = self.dead().unwrap_or(ConnError::Shutdown);
            fail_sink(job.sink, err);
        }
    }

    /// Queues a command; the returned future resolves with its answer. The command is queued
    /// at once, so several `submit`s before awaiting are pipelined in that order.
    pub fn submit(&self, cmd: Command) -> Pending {
        self.submit_with(cmd, Vec::new())
    }

    /// Like [`submit`](Self::submit) with bodies for the command's External literals.
    ///
    /// A command that only reads or is idempotent is sent again, after the wait the server
    /// suggests (or an exponential back-off), when the server refuses it as a transient
    /// condition (throttling, `[INUSE]`, `[UNAVAILABLE]`, ...); the last answer is returned.
    pub fn submit_with(&self, cmd: Command, bodies: Vec<Body>) -> Pending {
        let retry = (bodies.is_empty() && retryable(cmd.name)).then(|| (self.clone(), cmd.clone()));
        let rx = self.send_collect(cmd, bodies);
        Pending {
            inner: Box::pin(async move {
                let done = rx.await.unwrap_or(Err(ConnError::Shutdown))?;
                match retry {
                    Some((conn, cmd)) => conn.retry_refused(cmd, done).await,
                    None => Ok(done),
                }
            }),
        }
    }

    fn send_collect(
        &self,
        cmd: Command,
        bodies: Vec<Body>,
    ) -> oneshot::Receiver<Result<Done, ConnError>> {
        let (tx, rx) = oneshot::channel();
        self.enqueue(cmd, bodies, Sink::Collect(tx));
        rx
    }

    /// Sends `cmd` again while the server refuses it as busy, up to [`MAX_COMMAND_RETRIES`].
    async fn retry_refused(&self, cmd: Command, mut done: Done) -> Result<Done, ConnError> {
        let mut attempt = 0;
        loop {
            if done.is_ok() || attempt >= MAX_COMMAND_RETRIES {
                return Ok(done);
            }
            let Some(wait) = pushback::retry_wait(&done.status, attempt + 1) else {
                return Ok(done);
            };
            attempt += 1;
            self.pushed_back(cmd.name, &done.status, wait);
            tokio::time::sleep(wait).await;
            done = self
                .send_collect(cmd.clone(), Vec::new())
                .await
                .unwrap_or(Err(ConnError::Shutdown))?;
        }
    }

    /// Runs a command and waits for its answer (see [`submit_with`](Self::submit_with) about
    /// refusals that are sent again).
    pub async fn run(&self, cmd: Command) -> Result<Done, ConnError> {
        self.submit(cmd).await
    }

    /// Sends `ENABLE QRESYNC` (RFC 7162) when the server offers it, without waiting: it must
    /// come before the first SELECT, and the answer is read before that SELECT's, so
    /// [`qresync_enabled`](Self::qresync_enabled) is settled by the time a mailbox is
    /// selected.
    pub fn enable_qresync(&self) {
        if self.caps().has("QRESYNC") {
            drop(self.send_collect(
                imapsync_proto::command::cmd::enable(&["QRESYNC"]),
                Vec::new(),
            ));
        }
    }

    /// Whether QRESYNC is enabled on this connection.
    pub fn qresync_enabled(&self) -> bool {
        self.shared.qresync.load(Ordering::Relaxed)
    }

    /// Sets the function told about each command sent again after a push-back.
    pub fn set_pushback_hook(&self, hook: PushbackHook) {
        if let Ok(mut h) = self.shared.pushback_hook.lock() {
            *h = Some(hook);
        }
    }

    /// Tells the push-back hook, if any.
    pub fn pushed_back(&self, command: &str, status: &Status, wait: Duration) {
        let hook = self
            .shared
            .pushback_hook
            .lock()
            .ok()
            .and_then(|h| h.clone());
        if let Some(h) = hook {
            h(command, status, wait);
        }
    }

    /// Queues a command whose responses are delivered one by one, large literals in chunks.
    pub fn stream(&self, cmd: Command) -> ItemStream {
        let (tx, rx) = mpsc::channel(STREAM_CAPACITY);
        self.enqueue(cmd, Vec::new(), Sink::Stream(tx));
        ItemStream { rx }
    }

    /// LOGOUT, waiting briefly for the answer.
    pub async fn logout(&self) {
        self.shared.closing.store(true, Ordering::Relaxed);
        let fut = self.submit(imapsync_proto::command::cmd::logout());
        let _ = tokio::time::timeout(Duration::from_secs(5), fut).await;
    }
}

fn fail_sink(sink: Sink, err: ConnError) {
    match sink {
        Sink::Collect(tx) => {
            let _ = tx.send(Err(err));
        }
        Sink::Stream(tx) => {
            let _ = tx.try_send(Item::Done(Err(err)));
        }
    }
}

/// Starts the engine on a logged-in stream (a [`Transport`](crate::transport::Transport) in
/// production, any byte stream in tests). `leftover` holds bytes already read past the last
/// answer of the set-up phase.
pub fn start<S>(
    transport: S,
    leftover: BytesMut,
    compress: Option<(Deflater, Inflater)>,
    caps: Capabilities,
    config: EngineConfig,
) -> Connection
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let (jobs_tx, jobs_rx) = mpsc::unbounded_channel();
    let (dead_tx, dead_rx) = watch::channel(None);
    let dead_tx = Arc::new(dead_tx);
    let (reg_tx, reg_rx) = mpsc::unbounded_channel();
    let (cont_tx, cont_rx) = mpsc::unbounded_channel();
    let awaiting: Arc<Mutex<Option<String>>> = Arc::new(Mutex::new(None));
    let shared = Arc::new(Shared {
        side: config.side,
        caps: caps.clone(),
        jobs: jobs_tx,
        dead: dead_rx.clone(),
        kill: dead_tx.clone(),
        closing: AtomicBool::new(false),
        abandoned: AtomicBool::new(false),
        bye: Mutex::new(None),
        pushback_hook: Mutex::new(None),
        qresync: AtomicBool::new(false),
    });
    let (rd, wr) = tokio::io::split(transport);
    let (deflater, inflater) = match compress {
        Some((d, i)) => (Some(d), Some(i)),
        None => (None, None),
    };
    let writer = Writer {
        wr,
        jobs: jobs_rx,
        reg: reg_tx,
        cont: cont_rx,
        awaiting: awaiting.clone(),
        window: Arc::new(Semaphore::new(config.pipeline_depth.max(1))),
        out: Vec::with_capacity(64 * 1024),
        zout: Vec::new(),
        deflater,
        caps,
        config: config.clone(),
        dead_tx: dead_tx.clone(),
        dead_rx: dead_rx.clone(),
        next_tag: 1,
    };
    let mut framer = Framer::new(Limits {
        stream_threshold: config.stream_threshold,
        ..Limits::default()
    });
    framer.buffer().extend_from_slice(&leftover);
    let reader = Reader {
        rd,
        framer,
        inflater,
        raw: BytesMut::new(),
        reg: reg_rx,
        cont: cont_tx,
        awaiting,
        inflight: VecDeque::new(),
        config,
        dead_tx,
        dead_rx,
        shared: shared.clone(),
        streaming_to: None,
    };
    tokio::spawn(writer.run());
    tokio::spawn(reader.run());
    Connection { shared }
}

fn set_dead(dead_tx: &watch::Sender<Option<ConnError>>, err: ConnError) {
    dead_tx.send_if_modified(|d| {
        if d.is_none() {
            *d = Some(err);
            true
        } else {
            false
        }
    });
}

struct Writer<S> {
    wr: WriteHalf<S>,
    jobs: mpsc::UnboundedReceiver<Job>,
    reg: mpsc::UnboundedSender<InFlight>,
    cont: mpsc::UnboundedReceiver<Cont>,
    awaiting: Arc<Mutex<Option<String>>>,
    window: Arc<Semaphore>,
    out: Vec<u8>,
    zout: Vec<u8>,
    deflater: Option<Deflater>,
    caps: Capabilities,
    config: EngineConfig,
    dead_tx: Arc<watch::Sender<Option<ConnError>>>,
    dead_rx: watch::Receiver<Option<ConnError>>,
    next_tag: u64,
}

impl<S: AsyncWrite> Writer<S> {
    async fn run(mut self) {
        let result = self.run_inner().await;
        if let Err(e) = result {
            set_dead(&self.dead_tx, e);
        }
        // Fail what is still queued.
        let err = self.dead_rx.borrow().clone().unwrap_or(ConnError::Shutdown);
        self.jobs.close();
        while let Ok(job) = self.jobs.try_recv() {
            fail_sink(job.sink, err.clone());
        }
        let _ = self.wr.shutdown().await;
    }

    async fn run_inner(&mut self) -> Result<(), ConnError> {
        loop {
            if let Some(e) = self.dead_rx.borrow().clone() {
                return Err(e);
            }
            let job = match self.jobs.try_recv() {
                Ok(job) => job,
                Err(mpsc::error::TryRecvError::Disconnected) => {
                    self.flush().await?;
                    return Ok(());
                }
                Err(mpsc::error::TryRecvError::Empty) => {
                    self.flush().await?;
                    tokio::select! {
                        j = self.jobs.recv() => match j {
                            Some(j) => j,
                            None => return Ok(()),
                        },
                        _ = self.dead_rx.changed() => continue,
                    }
                }
            };
            let permit = match self.window.clone().try_acquire_owned() {
                Ok(p) => p,
                Err(_) => {
                    self.flush().await?;
                    tokio::select! {
                        p = self.window.clone().acquire_owned() => match p {
                            Ok(p) => p,
                            Err(_) => return Err(ConnError::Shutdown),
                        },
                        _ = self.dead_rx.changed() => {
                            fail_sink(job.sink, self.dead_rx.borrow().clone().unwrap_or(ConnError::Shutdown));
                            continue;
                        }
                    }
                }
            };
            self.write_job(job, permit).await?;
        }
    }

    async fn write_job(&mut self, job: Job, permit: OwnedSemaphorePermit) -> Result<(), ConnError> {
        let tag = format!("A{}", self.next_tag);
        self.next_tag += 1;
        let Job {
            cmd,
            mut bodies,
            sink,
        } = job;
        if let Some(t) = &self.config.tracer {
            t(self.config.side, &format!("C: {tag} {}", cmd.trace()));
        }
        // Register before writing: the answer may come back before we finish.
        let inflight = InFlight {
            tag: tag.clone(),
            name: cmd.name,
            target: cmd.target.clone(),
            sink,
            collected: Vec::new(),
            _permit: permit,
        };
        if self.reg.send(inflight).is_err() {
            return Err(ConnError::Shutdown);
        }
        self.out.extend_from_slice(tag.as_bytes());
        self.out.push(b' ');
        for part in cmd.parts {
            match part {
                Part::Text(t) => self.out.extend_from_slice(&t),
                Part::Literal(data) => {
                    if !self.literal_header(&tag, data.len() as u64).await? {
                        return Ok(()); // refused: the reader has completed the command
                    }
                    self.out.extend_from_slice(&data);
                }
                Part::External { len } => {
                    let Some(body) = bodies.pop_front() else {
                        return Err(ConnError::Protocol(format!(
                            "{}: no body supplied for a literal",
                            cmd.name
                        )));
                    };
                    if body.len() != len {
                        return Err(ConnError::Protocol(format!(
                            "{}: body of {} bytes for a literal of {len}",
                            cmd.name,
                            body.len()
                        )));
                    }
                    if !self.literal_header(&tag, len).await? {
                        return Ok(());
                    }
                    self.write_body(body).await?;
                }
            }
            if self.out.len() >= FLUSH_AT {
                self.flush().await?;
            }
        }
        self.out.extend_from_slice(b"\r\n");
        Ok(())
    }

    /// Writes `{len}` or `{len+}`; for a synchronizing literal waits for the `+`. Returns false
    /// when the server refused the literal (answered the command instead).
    async fn literal_header(&mut self, tag: &str, len: u64) -> Result<bool, ConnError> {
        if self.caps.literal_nonsync(len) {
            self.out
                .extend_from_slice(format!("{{{len}+}}\r\n").as_bytes());
            return Ok(true);
        }
        self.out
            .extend_from_slice(format!("{{{len}}}\r\n").as_bytes());
        if let Ok(mut a) = self.awaiting.lock() {
            *a = Some(tag.to_string());
        }
        self.flush().await?;
        let wait = async {
            tokio::select! {
                c = self.cont.recv() => Ok(c),
                _ = self.dead_rx.changed() => Err(self.dead_rx.borrow().clone().unwrap_or(ConnError::Shutdown)),
            }
        };
        let got = match self.config.timeout {
            Some(t) => tokio::time::timeout(t, wait)
                .await
                .map_err(|_| ConnError::Timeout(t))??,
            None => wait.await?,
        };
        if let Ok(mut a) = self.awaiting.lock() {
            *a = None;
        }
        match got {
            Some(Cont::Go) => Ok(true),
            Some(Cont::Rejected) => Ok(false),
            None => Err(ConnError::Shutdown),
        }
    }

    async fn write_body(&mut self, body: Body) -> Result<(), ConnError> {
        match body {
            Body::Bytes(b) => {
                if self.deflater.is_none() && b.len() >= FLUSH_AT {
                    self.flush().await?;
                    self.write_raw_plain(&b).await?;
                } else {
                    self.out.extend_from_slice(&b);
                }
            }
            Body::Stream(mut s) => {
                let mut sent: u64 = 0;
                while sent < s.len {
                    let chunk = tokio::select! {
                        c = s.rx.recv() => c,
                        _ = self.dead_rx.changed() => return Err(self.dead_rx.borrow().clone().unwrap_or(ConnError::Shutdown)),
                    };
                    match chunk {
                        Some(Ok(c)) => {
                            if sent + c.len() as u64 > s.len {
                                return Err(ConnError::BodySource(format!(
                                    "source sent more than the {} bytes announced",
                                    s.len
                                )));
                            }
                            sent += c.len() as u64;
                            if self.deflater.is_none()
                                && self.out.is_empty()
                                && c.len() >= 16 * 1024
                            {
                                self.write_raw_plain(&c).await?;
                            } else {
                                self.out.extend_from_slice(&c);
                                if self.out.len() >= FLUSH_AT {
                                    self.flush().await?;
                                }
                            }
                        }
                        Some(Err(why)) => return Err(ConnError::BodySource(why)),
                        None => {
                            return Err(ConnError::BodySource(format!(
                                "source ended after {sent} of {} bytes",
                                s.len
                            )));
                        }
                    }
                }
            }
        }
        Ok(())
    }

    async fn write_raw_plain(&mut self, data: &[u8]) -> Result<(), ConnError> {
        let fut = self.wr.write_all(data);
        match self.config.timeout {
            Some(t) => tokio::time::timeout(t, fut)
                .await
                .map_err(|_| ConnError::Timeout(t))?
                .map_err(|e| ConnError::Io(e.to_string())),
            None => fut.await.map_err(|e| ConnError::Io(e.to_string())),
        }
    }

    async fn flush(&mut self) -> Result<(), ConnError> {
        if self.out.is_empty() {
            return Ok(());
        }
        let data: &[u8] = if let Some(d) = &mut self.deflater {
            self.zout.clear();
            d.compress(&self.out, &mut self.zout)
                .map_err(|e| ConnError::Io(format!("compression: {e}")))?;
            &self.zout
        } else {
            &self.out
        };
        let timeout = self.config.timeout;
        let fut = async {
            self.wr.write_all(data).await?;
            self.wr.flush().await
        };
        let r = match timeout {
            Some(t) => tokio::time::timeout(t, fut)
                .await
                .map_err(|_| ConnError::Timeout(t))?,
            None => fut.await,
        };
        r.map_err(|e| ConnError::Io(e.to_string()))?;
        self.out.clear();
        Ok(())
    }
}

struct Reader<S> {
    rd: ReadHalf<S>,
    framer: Framer,
    inflater: Option<Inflater>,
    raw: BytesMut,
    reg: mpsc::UnboundedReceiver<InFlight>,
    cont: mpsc::UnboundedSender<Cont>,
    awaiting: Arc<Mutex<Option<String>>>,
    inflight: VecDeque<InFlight>,
    config: EngineConfig,
    dead_tx: Arc<watch::Sender<Option<ConnError>>>,
    dead_rx: watch::Receiver<Option<ConnError>>,
    shared: Arc<Shared>,
    /// The command receiving the literal being streamed.
    streaming_to: Option<String>,
}

impl<S: AsyncRead> Reader<S> {
    async fn run(mut self) {
        let err = match self.run_inner().await {
            Ok(()) => ConnError::Shutdown,
            Err(e) => e,
        };
        set_dead(&self.dead_tx, err);
        let err = self.dead_rx.borrow().clone().unwrap_or(ConnError::Shutdown);
        self.drain_registrations();
        for f in self.inflight.drain(..) {
            fail_sink(f.sink, err.clone());
        }
        self.reg.close();
        while let Ok(f) = self.reg.try_recv() {
            fail_sink(f.sink, err.clone());
        }
    }

    fn drain_registrations(&mut self) {
        while let Ok(f) = self.reg.try_recv() {
            self.inflight.push_back(f);
        }
    }

    async fn run_inner(&mut self) -> Result<(), ConnError> {
        loop {
            // Hand out everything already buffered.
            loop {
                self.drain_registrations();
                // Collecting commands keep their literals whole; streaming ones get chunks.
                let streams = self
                    .inflight
                    .iter()
                    .any(|f| matches!(f.sink, Sink::Stream(_)));
                let threshold = if streams {
                    self.config.stream_threshold
                } else {
                    self.framer.limits().max_response as u64
                };
                self.framer.set_stream_threshold(threshold);
                let ev = self
                    .framer
                    .next_event()
                    .map_err(|e| ConnError::Protocol(e.to_string()))?;
                let Some(ev) = ev else { break };
                self.handle(ev).await?;
            }
            if let Some(e) = self.dead_rx.borrow().clone() {
                return Err(e);
            }
            // Read more.
            self.drain_registrations();
            let busy = !self.inflight.is_empty();
            let n = {
                let buf = if self.inflater.is_some() {
                    &mut self.raw
                } else {
                    self.framer.buffer()
                };
                buf.reserve(64 * 1024);
                let read = self.rd.read_buf(buf);
                let timeout = if busy { self.config.timeout } else { None };
                tokio::select! {
                    r = async {
                        match timeout {
                            Some(t) => tokio::time::timeout(t, read).await.map_err(|_| ConnError::Timeout(t))?,
                            None => read.await,
                        }.map_err(|e| ConnError::Io(e.to_string()))
                    } => r?,
                    _ = self.dead_rx.changed() => {
                        return Err(self.dead_rx.borrow().clone().unwrap_or(ConnError::Shutdown));
                    }
                    // New work registered while idle: restart the read with a timeout.
                    f = self.reg.recv(), if !busy => {
                        if let Some(f) = f { self.inflight.push_back(f); }
                        continue;
                    }
                }
            };
            if n == 0 {
                let bye = self.shared.bye.lock().ok().and_then(|b| b.clone());
                if self.shared.closing.load(Ordering::Relaxed) && self.inflight.is_empty() {
                    return Ok(());
                }
                return Err(ConnError::Closed { bye });
            }
            if let Some(inf) = &mut self.inflater {
                inf.decompress(&self.raw, self.framer.buffer())
                    .map_err(|e| ConnError::Protocol(format!("decompression: {e}")))?;
                self.raw.clear();
            }
        }
    }

    fn trace(&self, line: &str) {
        if let Some(t) = &self.config.tracer {
            t(self.config.side, line);
        }
    }

    async fn handle(&mut self, ev: Event) -> Result<(), ConnError> {
        match ev {
            Event::LiteralStart { len, head } => {
                self.trace(&format!(
                    "S: {}<literal of {len} bytes streamed>",
                    String::from_utf8_lossy(&head)
                ));
                let uid = uid_in_head(&head);
                let idx = self
                    .inflight
                    .iter()
                    .position(|f| fetch_target(f, uid))
                    .or_else(|| (!self.inflight.is_empty()).then_some(0));
                self.streaming_to = idx
                    .and_then(|i| self.inflight.get(i))
                    .map(|f| f.tag.clone());
                self.send_stream_item(Item::LiteralStart(len)).await;
                Ok(())
            }
            Event::LiteralChunk(c) => {
                self.send_stream_item(Item::LiteralChunk(c)).await;
                Ok(())
            }
            Event::LiteralEnd => {
                self.send_stream_item(Item::LiteralEnd).await;
                self.streaming_to = None;
                Ok(())
            }
            Event::Response(frame) => {
                if self.config.tracer.is_some() {
                    let shown = if frame.bytes.len() > TRACE_MAX {
                        format!(
                            "{}... <{} bytes>",
                            String::from_utf8_lossy(&frame.bytes[..TRACE_MAX]),
                            frame.bytes.len()
                        )
                    } else {
                        String::from_utf8_lossy(&frame.bytes).trim_end().to_string()
                    };
                    self.trace(&format!("S: {shown}"));
                }
                let resp =
                    response::parse(&frame).map_err(|e| ConnError::Protocol(e.to_string()))?;
                self.route(resp).await
            }
        }
    }

    async fn send_stream_item(&mut self, item: Item) {
        let Some(tag) = &self.streaming_to else {
            return;
        };
        if let Some(f) = self.inflight.iter().find(|f| &f.tag == tag)
            && let Sink::Stream(tx) = &f.sink
        {
            // A consumer that went away just stops receiving.
            let _ = tx.send(item).await;
        }
    }

    async fn route(&mut self, resp: Response) -> Result<(), ConnError> {
        match resp {
            Response::Continuation { .. } => {
                let waiting = self.awaiting.lock().map(|a| a.is_some()).unwrap_or(false);
                if waiting {
                    let _ = self.cont.send(Cont::Go);
                    Ok(())
                } else {
                    Err(ConnError::Protocol(
                        "unexpected continuation request from the server".into(),
                    ))
                }
            }
            Response::Tagged { tag, status } => {
                let Some(idx) = self.inflight.iter().position(|f| f.tag == tag) else {
                    return Err(ConnError::Protocol(format!("answer for unknown tag {tag}")));
                };
                // Tagged answer to the command waiting for `+`: the literal was refused.
                let refused = self
                    .awaiting
                    .lock()
                    .map(|mut a| {
                        if a.as_deref() == Some(tag.as_str()) {
                            *a = None;
                            true
                        } else {
                            false
                        }
                    })
                    .unwrap_or(false);
                if refused {
                    let _ = self.cont.send(Cont::Rejected);
                }
                let Some(f) = self.inflight.remove(idx) else {
                    return Ok(());
                };
                if f.name == "ENABLE"
                    && status.kind == StatusKind::Ok
                    && f.collected.iter().any(|u| {
                        matches!(u, Untagged::Enabled(v) if v.iter().any(|e| e.eq_ignore_ascii_case("QRESYNC")))
                    })
                {
                    self.shared.qresync.store(true, Ordering::Relaxed);
                }
                match f.sink {
                    Sink::Collect(tx) => {
                        let _ = tx.send(Ok(Done {
                            untagged: f.collected,
                            status,
                        }));
                    }
                    Sink::Stream(tx) => {
                        let _ = tx.send(Item::Done(Ok(status))).await;
                    }
                }
                Ok(())
            }
            Response::Untagged(u) => {
                if let Untagged::Status(s) = &u
                    && s.kind == StatusKind::Bye
                    && let Ok(mut b) = self.shared.bye.lock()
                {
                    *b = Some(s.text.clone());
                }
                let idx = self
                    .inflight
                    .iter()
                    .position(|f| accepts(f, &u))
                    .or_else(|| (!self.inflight.is_empty()).then_some(0));
                if let Some(f) = idx.and_then(|i| self.inflight.get_mut(i)) {
                    match &f.sink {
                        Sink::Collect(_) => f.collected.push(u),
                        Sink::Stream(tx) => {
                            let _ = tx.send(Item::Untagged(u)).await;
                        }
                    }
                }
                Ok(())
            }
        }
    }
}

/// The UID of a FETCH response from its beginning (`* 3 FETCH (UID 17 BODY[] {N}`).
fn uid_in_head(head: &[u8]) -> Option<u32> {
    let text = std::str::from_utf8(head).ok()?;
    let upper = text.to_ascii_uppercase();
    let start = upper.find("FETCH (")? + 7;
    let mut words = upper[start..].split([' ', '(', ')']);
    while let Some(w) = words.next() {
        if w == "UID" {
            return words.next().and_then(|n| n.parse().ok());
        }
    }
    None
}

fn is_fetch_like(name: &str) -> bool {
    matches!(name, "UID FETCH" | "FETCH" | "UID STORE" | "STORE")
}

/// Does this command want a FETCH response about `uid`?
fn fetch_target(f: &InFlight, uid: Option<u32>) -> bool {
    if !is_fetch_like(f.name) {
        return false;
    }
    match (&f.target, uid) {
        (Target::Uids(set), Some(u)) => set.contains(u),
        _ => true,
    }
}

/// Which in-flight command an untagged response belongs to. Servers may run pipelined
/// commands in parallel and interleave their answers (Dovecot does for FETCH and SEARCH), so
/// answers are matched by kind and, where they say it, by UID or mailbox.
fn accepts(f: &InFlight, u: &Untagged) -> bool {
    let n = f.name;
    match u {
        Untagged::Fetch { items, .. } => fetch_target(f, items.uid),
        Untagged::Search { .. } => matches!(n, "UID SEARCH" | "SEARCH" | "UID SORT" | "SORT"),
        Untagged::ESearch(es) => match &es.tag {
            Some(t) => *t == f.tag,
            None => matches!(n, "UID SEARCH" | "SEARCH"),
        },
        Untagged::List(_) => n == "LIST",
        Untagged::Lsub(_) => n == "LSUB",
        Untagged::MailboxStatus { mailbox, .. } => match (&f.target, n) {
            (Target::Mailbox(m), "STATUS") => {
                m == mailbox
                    || (m.eq_ignore_ascii_case(b"INBOX") && mailbox.eq_ignore_ascii_case(b"INBOX"))
            }
            (_, "LIST") => true,
            _ => false,
        },
        Untagged::Namespace { .. } => n == "NAMESPACE",
        Untagged::Capability(_) => matches!(n, "CAPABILITY" | "LOGIN" | "AUTHENTICATE"),
        Untagged::Id(_) => n == "ID",
        Untagged::Enabled(_) => n == "ENABLE",
        Untagged::Quota { .. } | Untagged::QuotaRoot { .. } => {
            matches!(n, "GETQUOTAROOT" | "GETQUOTA")
        }
        // `VANISHED (EARLIER)` answers a UID FETCH with the VANISHED modifier (or a SELECT
        // with QRESYNC); a plain VANISHED is an unsolicited expunge notice.
        Untagged::Vanished { earlier: true, .. } => {
            matches!(n, "SELECT" | "EXAMINE" | "UID FETCH")
        }
        Untagged::Flags(_) | Untagged::Exists(_) | Untagged::Recent(_) => {
            matches!(n, "SELECT" | "EXAMINE")
        }
        Untagged::Vanished { earlier: false, .. } => false,
        Untagged::Status(s) => s.code.is_some() && matches!(n, "SELECT" | "EXAMINE"),
        Untagged::Expunge(_) | Untagged::Other(_) => false,
    }
}

#[cfg(test)]
mod tests;
