//! Copying messages: host1 `UID FETCH ... BODY.PEEK[]` streamed into host2 `APPEND`.
//!
//! Two loops run concurrently in the folder's task:
//! * the **fetcher** pipelines FETCH commands on the host1 connection — small messages in
//!   batches, each large one alone — and hands each body over as soon as it is known: a small
//!   body whole (a zero-copy slice of the response), a large one as a [`Body::Stream`] whose
//!   chunks flow while the literal is still arriving, so no message is ever held whole;
//! * the **appender** writes APPENDs back to back on the host2 connection (non-synchronizing
//!   literals when the server allows), grouping small messages into MULTIAPPEND commands when
//!   offered. A refused MULTIAPPEND is retried message by message, so one bad message never
//!   fails its neighbours.
//!
//! Before each APPEND the intent is journalled in the state store; the APPENDUID answer turns
//! it into a UID-map entry. A connection failure aborts the copy with the intents left open:
//! the folder is then listed again and whatever arrived is recognised by identity.
//!
//! Memory is bounded by named limits: bytes of small bodies in flight
//! ([`SMALL_BYTES_IN_FLIGHT`]), APPEND commands in flight ([`APPENDS_IN_FLIGHT`]) and the
//! chunk buffer of a streamed body ([`STREAM_CHUNKS`]).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};

use imapsync_client::pushback::{self, PushBack};
use imapsync_client::{Body, BodySender, ConnError, Connection, Item, Pending, body_channel};
use imapsync_plan::rewrite::Rewritten;
use imapsync_proto::command::cmd::{self, AppendItem};
use imapsync_proto::response::{BodyData, Code, Status, Untagged};
use imapsync_proto::seqset::UidSet;
use imapsync_state::MapEntry;

/// Messages up to this size are fetched in batches and may share a MULTIAPPEND.
pub const SMALL_MESSAGE: u64 = 192 * 1024;
/// Messages per FETCH batch.
pub const FETCH_BATCH_COUNT: usize = 64;
/// Bytes per FETCH batch.
pub const FETCH_BATCH_BYTES: u64 = 1024 * 1024;
/// FETCH commands queued ahead on host1.
pub const FETCHES_AHEAD: usize = 3;
/// Bytes of small bodies fetched but not yet handed to the host2 writer, for the whole run
/// (all folders copied in parallel share it; see [`memory_budget`]).
pub const SMALL_BYTES_IN_FLIGHT: usize = 6 * 1024 * 1024;

/// The run-wide budget of small bodies in flight.
pub fn memory_budget() -> Arc<Semaphore> {
    Arc::new(Semaphore::new(SMALL_BYTES_IN_FLIGHT))
}
/// APPEND commands in flight on host2.
pub const APPENDS_IN_FLIGHT: usize = 8;
/// Messages per MULTIAPPEND.
pub const MULTIAPPEND_COUNT: usize = 32;
/// Bytes per MULTIAPPEND.
pub const MULTIAPPEND_BYTES: u64 = 1024 * 1024;
/// Chunks buffered between host1 and host2 for a streamed body.
pub const STREAM_CHUNKS: usize = 16;
/// A literal in a batch that unexpectedly exceeds the stream threshold is collected up to this.
const MAX_COLLECTED_LITERAL: u64 = 512 * 1024 * 1024;

/// A message to copy.
#[derive(Clone, Debug)]
pub struct CopyItem {
    pub uid: u32,
    /// RFC822.SIZE on host1 (an estimate; the literal length is authoritative).
    pub size: u64,
    /// Flags for host2 (already filtered).
    pub flags: Vec<String>,
    pub internaldate: Option<String>,
    /// Bytes to put in front of the message (`--addheader`).
    pub prefix: Option<Bytes>,
}

/// What happened to one message.
#[derive(Clone, Debug)]
pub enum Outcome {
    /// Appended; host2 UID when the server told (UIDPLUS).
    Copied { uid2: Option<u32>, bytes: u64 },
    /// Host2 refused the APPEND.
    Refused {
        status: Status,
        bytes: u64,
        /// The message's `Subject:` (for the error line), when its header was seen.
        subject: String,
    },
    /// Host2 refused the message as too big (`[TOOBIG]`, APPENDLIMIT): skipped, reported.
    TooBig { status: Status, bytes: u64 },
    /// A rewrite rule said not to copy it (`--skipmess`, `--maxlinelength`, a failed rule).
    Skipped { reason: String },
    /// Host1 could not deliver the message.
    FetchFailed { reason: String },
    /// Not sent: its intent could not be journalled (the state store can not be written).
    NotJournalled { reason: String },
}

/// The intent journal: written before each APPEND is sent, settled when host2 answers.
/// Journal before act: an APPEND whose intent could not be written is not sent.
pub trait Journal: Sync {
    /// Records the intents of one APPEND command about to be sent; returns their ids (or
    /// none when the run keeps no journal). An error means the command must not be sent.
    fn before_append(&self, items: &[&CopyItem], uidnext2: Option<u32>)
    -> Result<Vec<i64>, String>;
    /// Host2 confirmed these messages of one APPEND command, with their UIDs: the intents
    /// become UID-map entries, together.
    fn settle(&self, done: &[(i64, MapEntry)]);
    /// These APPENDs certainly did not store anything (refused, or retried as another
    /// command).
    fn discard(&self, intents: &[i64]);
}

/// Progress and reporting: each message's outcome as it happens.
pub trait Progress: Sync {
    fn outcome(&self, item: &CopyItem, outcome: Outcome);
    /// Host2 pushed back (throttling, `[INUSE]`, ...): `n` messages are sent again after
    /// `wait`, one APPEND at a time.
    fn pushed_back(&self, _status: &Status, _wait: std::time::Duration, _n: usize) {}
}

/// Client-side throttling (`--maxmessagespersecond` and friends).
pub trait Throttle: Sync {
    /// How long to wait before the next APPEND.
    fn pause(&self) -> Option<std::time::Duration>;
}

/// When to stop sending (`--exitwhenover` reached, host2 over quota, errors max, a signal).
pub trait Stop: Sync {
    /// No new APPEND may start.
    fn stop(&self) -> bool;
    /// An APPEND of `bytes` is sent (counted toward `--exitwhenover` until it is known not to
    /// have stored anything).
    fn started(&self, _bytes: u64) {}
    /// An APPEND that was started stored nothing (refused, or sent again later).
    fn not_stored(&self, _bytes: u64) {}
}

/// The four jobs around a copy, each its own small piece.
#[derive(Clone, Copy)]
pub struct Hooks<'a> {
    pub journal: &'a dyn Journal,
    pub progress: &'a dyn Progress,
    pub throttle: &'a dyn Throttle,
    pub stop: &'a dyn Stop,
}

/// No journal (`--nostate`, `--dry`).
pub struct NoJournal;

impl Journal for NoJournal {
    fn before_append(&self, _: &[&CopyItem], _: Option<u32>) -> Result<Vec<i64>, String> {
        Ok(Vec::new())
    }
    fn settle(&self, _: &[(i64, MapEntry)]) {}
    fn discard(&self, _: &[i64]) {}
}

/// Times a refused APPEND is retried after a transient refusal (throttling, INUSE, ...).
pub const MAX_APPEND_RETRIES: u32 = 4;

/// Settings of one copy.
#[derive(Clone)]
pub struct CopyOptions {
    pub folder2: String,
    pub multiappend: bool,
    /// Host2 UIDNEXT when the copy starts (journalled with the intents).
    pub uidnext2: Option<u32>,
    /// A rewrite of whole messages (`--regexmess`, `--skipmess`, ...). When set, every body
    /// is held whole (nothing is streamed), since the rewrite needs all of it.
    pub transform: Option<Transformer>,
}

impl std::fmt::Debug for CopyOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CopyOptions")
            .field("folder2", &self.folder2)
            .field("multiappend", &self.multiappend)
            .field("transform", &self.transform.is_some())
            .finish()
    }
}

/// A whole-message rewrite (see [`imapsync_plan::rewrite`]).
pub type Transformer = Arc<dyn Fn(&Bytes) -> Rewritten + Send + Sync>;

struct Fetched {
    idx: usize,
    body: Body,
    permit: Option<OwnedSemaphorePermit>,
    /// The first bytes of a streamed body, as they pass (for the error line of a refusal).
    head: Option<Head>,
}

/// The start of a streamed body, kept while it passes.
type Head = Arc<std::sync::Mutex<Vec<u8>>>;

/// Bytes of a streamed body kept to name it in an error line.
const HEAD_KEPT: usize = 16 * 1024;

/// The `Subject:` of a message (or of its first bytes), unfolded, for error lines.
fn subject_of(msg: &[u8]) -> String {
    imapsync_plan::identity::parse_header_fields(msg)
        .iter()
        .find(|f| f.name.eq_ignore_ascii_case(b"subject"))
        .map(|f| String::from_utf8_lossy(&f.value).trim().to_string())
        .unwrap_or_default()
}

enum FetchEnd {
    Done,
    Failed(usize, String),
}

/// Copies `items` (in order). Returns when every message has an outcome, or with the error of
/// a connection that failed (outcomes already reported stay valid).
pub async fn copy(
    c1: &Connection,
    c2: &Connection,
    items: &[CopyItem],
    opts: &CopyOptions,
    budget: Arc<Semaphore>,
    hooks: Hooks<'_>,
) -> Result<(), ConnError> {
    if items.is_empty() {
        return Ok(());
    }
    let (tx, rx) = mpsc::channel::<Result<Fetched, FetchEnd>>(256);
    let fetcher = fetch_loop(c1, items, opts.transform.is_some(), tx, budget);
    let appender = append_loop(c2, items, rx, opts, hooks);
    let (f, a) = tokio::join!(fetcher, appender);
    a?;
    f
}

/// A group of messages fetched by one command.
enum Group {
    Batch(Vec<usize>),
    Large(usize),
}

fn groups(items: &[CopyItem], whole: bool) -> Vec<Group> {
    let mut out = Vec::new();
    let mut cur: Vec<usize> = Vec::new();
    let mut cur_bytes = 0u64;
    for (i, it) in items.iter().enumerate() {
        if it.size > SMALL_MESSAGE && whole {
            // Held whole for a rewrite: fetched alone, collected.
            if !cur.is_empty() {
                out.push(Group::Batch(std::mem::take(&mut cur)));
                cur_bytes = 0;
            }
            out.push(Group::Batch(vec![i]));
            continue;
        }
        if it.size > SMALL_MESSAGE {
            if !cur.is_empty() {
                out.push(Group::Batch(std::mem::take(&mut cur)));
                cur_bytes = 0;
            }
            out.push(Group::Large(i));
            continue;
        }
        if !cur.is_empty()
            && (cur.len() >= FETCH_BATCH_COUNT || cur_bytes + it.size > FETCH_BATCH_BYTES)
        {
            out.push(Group::Batch(std::mem::take(&mut cur)));
            cur_bytes = 0;
        }
        cur_bytes += it.size;
        cur.push(i);
    }
    if !cur.is_empty() {
        out.push(Group::Batch(cur));
    }
    out
}

/// A FETCH queued on host1: batches are sent at once and their answers collected (a
/// collecting command never holds up the connection's reader, even when the server runs
/// pipelined FETCHes in parallel and interleaves their answers); a large message is sent
/// only when its turn comes and streamed, so at most one streaming command is ever in flight
/// on the connection and it is always being read.
enum Queued {
    Batch(Vec<usize>, Pending, Option<OwnedSemaphorePermit>),
    Large(usize),
}

/// Permits for `bytes` of the memory budget (capped so one big batch can always proceed).
async fn reserve(budget: &Arc<Semaphore>, bytes: u64) -> Option<OwnedSemaphorePermit> {
    let n = bytes.clamp(1, SMALL_BYTES_IN_FLIGHT as u64 / 2) as u32;
    budget.clone().acquire_many_owned(n).await.ok()
}

async fn fetch_loop(
    c1: &Connection,
    items: &[CopyItem],
    whole: bool,
    tx: mpsc::Sender<Result<Fetched, FetchEnd>>,
    budget: Arc<Semaphore>,
) -> Result<(), ConnError> {
    let groups = groups(items, whole);
    let mut queued: VecDeque<Queued> = VecDeque::new();
    let mut next = 0usize;
    loop {
        while queued.len() < FETCHES_AHEAD && next < groups.len() {
            queued.push_back(match &groups[next] {
                Group::Batch(idxs) => {
                    // The batch's bytes are reserved before asking for them; they are released
                    // when host2 has confirmed the APPEND that carried them.
                    let bytes: u64 = idxs.iter().map(|&i| items[i].size).sum();
                    let permit = reserve(&budget, bytes).await;
                    let set = UidSet::from_uids(idxs.iter().map(|&i| items[i].uid));
                    Queued::Batch(
                        idxs.clone(),
                        c1.submit(cmd::uid_fetch(&set, "UID BODY.PEEK[]", None, false)),
                        permit,
                    )
                }
                Group::Large(i) => Queued::Large(*i),
            });
            next += 1;
        }
        match queued.pop_front() {
            None => break,
            Some(Queued::Batch(idxs, pending, permit)) => {
                let done = pending.await?;
                deliver_batch(items, &idxs, done, &tx, permit).await;
            }
            Some(Queued::Large(i)) => {
                let set = UidSet::from_uids([items[i].uid]);
                let stream = c1.stream(cmd::uid_fetch(&set, "UID BODY.PEEK[]", None, false));
                read_group(items, &[i], stream, &tx, &budget).await?;
            }
        }
    }
    let _ = tx.send(Err(FetchEnd::Done)).await;
    Ok(())
}

/// Hands over the bodies of a collected batch, in the batch's order.
async fn deliver_batch(
    items: &[CopyItem],
    idxs: &[usize],
    done: imapsync_client::Done,
    tx: &mpsc::Sender<Result<Fetched, FetchEnd>>,
    mut permit: Option<OwnedSemaphorePermit>,
) {
    let mut bodies: HashMap<u32, Option<Bytes>> = HashMap::new();
    for u in done.untagged {
        if let Untagged::Fetch { items: it, .. } = u
            && let Some(uid) = it.uid
            && let Some(section) = it.sections.iter().find(|s| s.section.is_empty())
        {
            bodies.insert(uid, section.data.bytes().cloned());
        }
    }
    for &idx in idxs {
        match bodies.remove(&items[idx].uid) {
            Some(Some(body)) => {
                // This body's share of the batch's reservation travels with it.
                let share = permit.as_mut().and_then(|p| {
                    let n = (body.len() as u64)
                        .min(items[idx].size)
                        .min(p.num_permits() as u64) as usize;
                    if n == p.num_permits() {
                        None
                    } else {
                        p.split(n.max(1))
                    }
                });
                let share = share.or_else(|| {
                    if idx == *idxs.last().unwrap_or(&idx) {
                        permit.take()
                    } else {
                        None
                    }
                });
                let _ = tx
                    .send(Ok(Fetched {
                        idx,
                        body: Body::Bytes(body),
                        permit: share,
                        head: None,
                    }))
                    .await;
            }
            Some(None) => {
                let _ = tx
                    .send(Err(FetchEnd::Failed(
                        idx,
                        "could not be fetched: the server returned NIL as body".into(),
                    )))
                    .await;
            }
            None => {
                let why = if done.status.is_ok() {
                    "could not be fetched: the message is no longer on host1".to_string()
                } else {
                    format!("could not be fetched: {}", done.status.full_text())
                };
                let _ = tx.send(Err(FetchEnd::Failed(idx, why))).await;
            }
        }
    }
}

/// Reads the answer of one FETCH of `idxs`: a single large message is streamed to host2 as
/// its literal arrives; in a batch each literal is collected. Every message gets a body or a
/// failure.
async fn read_group(
    items: &[CopyItem],
    idxs: &[usize],
    mut stream: imapsync_client::ItemStream,
    tx: &mpsc::Sender<Result<Fetched, FetchEnd>>,
    budget: &Arc<Semaphore>,
) -> Result<(), ConnError> {
    let mut g = GroupReader {
        items,
        idxs,
        tx,
        budget,
        single: if idxs.len() == 1 {
            idxs.first().copied()
        } else {
            None
        },
        delivered: vec![false; idxs.len()],
        streaming: None,
        head: None,
        collected: None,
        stream_dead: false,
    };
    let mut status: Option<Status> = None;
    while let Some(item) = stream.next().await {
        match item {
            Item::LiteralStart(len) => g.literal_start(len).await?,
            Item::LiteralChunk(c) => g.chunk(c).await,
            Item::LiteralEnd => {
                g.streaming = None;
                g.head = None;
            }
            Item::Untagged(Untagged::Fetch { items: it, .. }) => g.fetched(it).await,
            Item::Untagged(_) => {}
            Item::Done(Ok(st)) => {
                status = Some(st);
                break;
            }
            Item::Done(Err(e)) => {
                if let Some(s) = g.streaming.take() {
                    s.fail(format!("host1 connection failed: {e}")).await;
                }
                return Err(e);
            }
        }
    }
    g.finish(status.as_ref()).await;
    match status {
        Some(_) => Ok(()),
        None => Err(ConnError::Closed { bye: None }),
    }
}

/// The state of [`read_group`].
struct GroupReader<'a> {
    items: &'a [CopyItem],
    idxs: &'a [usize],
    tx: &'a mpsc::Sender<Result<Fetched, FetchEnd>>,
    budget: &'a Arc<Semaphore>,
    /// The one large message of a group of one.
    single: Option<usize>,
    /// Per position in `idxs`: a body or a failure was handed over.
    delivered: Vec<bool>,
    /// A literal being streamed to host2 (single large message).
    streaming: Option<BodySender>,
    /// Its first bytes, kept for an error line.
    head: Option<Head>,
    /// A literal being collected (batch).
    collected: Option<BytesMut>,
    /// Host2's side of the stream went away: the rest of the literal is read and dropped.
    stream_dead: bool,
}

impl GroupReader<'_> {
    fn position(&self, idx: usize) -> Option<usize> {
        self.idxs.iter().position(|&i| i == idx)
    }

    async fn literal_start(&mut self, len: u64) -> Result<(), ConnError> {
        let Some(idx) = self.single else {
            if len > MAX_COLLECTED_LITERAL {
                return Err(ConnError::Protocol(format!(
                    "literal of {len} bytes in a batch"
                )));
            }
            self.collected = Some(BytesMut::with_capacity(len as usize));
            return Ok(());
        };
        let (s, r) = body_channel(len, STREAM_CHUNKS);
        self.streaming = Some(s);
        self.stream_dead = false;
        if let Some(p) = self.position(idx) {
            self.delivered[p] = true;
        }
        let head = Head::default();
        self.head = Some(head.clone());
        let sent = self
            .tx
            .send(Ok(Fetched {
                idx,
                body: Body::Stream(r),
                permit: None,
                head: Some(head),
            }))
            .await;
        self.stream_dead = sent.is_err();
        Ok(())
    }

    async fn chunk(&mut self, c: Bytes) {
        if let Some(head) = &self.head
            && let Ok(mut h) = head.lock()
            && h.len() < HEAD_KEPT
        {
            let n = (HEAD_KEPT - h.len()).min(c.len());
            h.extend_from_slice(&c[..n]);
        }
        if let Some(s) = &self.streaming {
            if !self.stream_dead && !s.send(c).await {
                self.stream_dead = true;
            }
        } else if let Some(b) = &mut self.collected {
            b.extend_from_slice(&c);
        }
    }

    /// A FETCH answer: hands over its body unless it was streamed already.
    async fn fetched(&mut self, it: imapsync_proto::response::FetchItems) {
        let Some(uid) = it.uid else { return };
        let Some(p) = self.idxs.iter().position(|&i| self.items[i].uid == uid) else {
            return;
        };
        let Some(section) = it.sections.iter().find(|s| s.section.is_empty()) else {
            return;
        };
        if self.delivered[p] {
            return; // streamed already
        }
        let idx = self.idxs[p];
        let body = match &section.data {
            BodyData::Bytes(b) => b.clone(),
            BodyData::Streamed(_) => match self.collected.take() {
                Some(b) => b.freeze(),
                None => return,
            },
            BodyData::Nil => {
                self.delivered[p] = true;
                let why = "the server returned NIL as body".to_string();
                let _ = self.tx.send(Err(FetchEnd::Failed(idx, why))).await;
                return;
            }
        };
        self.delivered[p] = true;
        let want = (body.len().min(SMALL_BYTES_IN_FLIGHT)) as u32;
        let permit = self
            .budget
            .clone()
            .acquire_many_owned(want.max(1))
            .await
            .ok();
        let fetched = Fetched {
            idx,
            body: Body::Bytes(body),
            permit,
            head: None,
        };
        let _ = self.tx.send(Ok(fetched)).await;
    }

    /// The answer ended: a literal cut short fails its stream; every message not handed over
    /// fails with the reason.
    async fn finish(&mut self, status: Option<&Status>) {
        if let Some(s) = self.streaming.take() {
            s.fail("host1 answer ended inside a literal".into()).await;
        }
        let why = match status {
            Some(st) if !st.is_ok() => format!("could not be fetched: {}", st.full_text()),
            _ => "could not be fetched: the message is no longer on host1".to_string(),
        };
        for (p, &idx) in self.idxs.iter().enumerate() {
            if !self.delivered[p] {
                let _ = self.tx.send(Err(FetchEnd::Failed(idx, why.clone()))).await;
            }
        }
    }
}

struct InFlightAppend {
    idxs: Vec<usize>,
    /// Memory budget held until host2 answers.
    _permits: Vec<OwnedSemaphorePermit>,
    /// Bodies kept to retry one by one if a MULTIAPPEND is refused.
    bodies: Option<Vec<Bytes>>,
    intents: Vec<i64>,
    lens: Vec<u64>,
    /// The first bytes of a streamed body.
    head: Option<Head>,
    fut: Pending,
}

/// A small body waiting for the next MULTIAPPEND.
type Batched = (usize, Bytes, Option<OwnedSemaphorePermit>);

async fn append_loop(
    c2: &Connection,
    items: &[CopyItem],
    mut rx: mpsc::Receiver<Result<Fetched, FetchEnd>>,
    opts: &CopyOptions,
    hooks: Hooks<'_>,
) -> Result<(), ConnError> {
    let mut st = AppendState {
        c2,
        items,
        opts,
        hooks,
        multi: opts.multiappend && c2.caps().has("MULTIAPPEND"),
        limit: APPENDS_IN_FLIGHT,
        retries: HashMap::new(),
        retry_queue: VecDeque::new(),
        pause: None,
        batch: Vec::new(),
        batch_bytes: 0,
        inflight: VecDeque::new(),
        closed: false,
        halted: false,
    };
    loop {
        if (st.hooks.stop.stop() || st.halted) && !st.closed {
            // Nothing new is sent; what is in flight completes.
            st.closed = true;
            st.batch.clear();
            rx.close();
            while rx.try_recv().is_ok() {}
        }
        if let Some(d) = st.pause.take() {
            tokio::time::sleep(d).await;
        }
        st.send_retries();
        if st.closed && st.inflight.is_empty() && st.batch.is_empty() && st.retry_queue.is_empty() {
            return Ok(());
        }
        if st.take_ready(&mut rx) {
            continue;
        }
        let can_take = !st.closed && st.inflight.len() < st.limit;
        if st.inflight.is_empty() && !can_take {
            continue;
        }
        tokio::select! {
            biased;
            r = async { match st.inflight.front_mut() { Some(f) => (&mut f.fut).await, None => std::future::pending().await } }, if !st.inflight.is_empty() => {
                if let Some(f) = st.inflight.pop_front() {
                    st.completed(f, r)?;
                    if let Some(d) = st.hooks.throttle.pause() {
                        st.pause = Some(st.pause.map_or(d, |p| p.max(d)));
                    }
                }
            }
            m = rx.recv(), if can_take => st.received(m),
        }
    }
}

struct AppendState<'a> {
    c2: &'a Connection,
    items: &'a [CopyItem],
    opts: &'a CopyOptions,
    hooks: Hooks<'a>,
    /// MULTIAPPEND is wanted and offered.
    multi: bool,
    /// APPEND commands allowed in flight; drops to 1 once the server has pushed back.
    limit: usize,
    retries: HashMap<usize, u32>,
    /// Messages to send again after the pause.
    retry_queue: VecDeque<(usize, Bytes)>,
    /// Wait this long before sending anything more (the server asked for it).
    pause: Option<std::time::Duration>,
    /// Small bodies waiting for the next MULTIAPPEND.
    batch: Vec<Batched>,
    batch_bytes: u64,
    inflight: VecDeque<InFlightAppend>,
    /// No more bodies are taken (all fetched, or stopping).
    closed: bool,
    /// The journal can not be written: nothing more is sent.
    halted: bool,
}

impl AppendState<'_> {
    /// Sends again what the server pushed back, within the window.
    fn send_retries(&mut self) {
        while self.inflight.len() < self.limit {
            let Some((idx, b)) = self.retry_queue.pop_front() else {
                break;
            };
            self.submit(vec![(idx, b)], Vec::new());
        }
    }

    /// Takes a body that is ready without waiting; true when one was taken. When none is,
    /// what is batched goes out.
    fn take_ready(&mut self, rx: &mut mpsc::Receiver<Result<Fetched, FetchEnd>>) -> bool {
        if !self.closed && self.inflight.len() < self.limit {
            match rx.try_recv() {
                Ok(msg) => {
                    self.received(Some(msg));
                    return true;
                }
                Err(mpsc::error::TryRecvError::Empty) => self.flush(),
                Err(mpsc::error::TryRecvError::Disconnected) => {
                    self.closed = true;
                    return true;
                }
            }
        } else if self.closed {
            self.flush();
        }
        false
    }

    fn received(&mut self, m: Option<Result<Fetched, FetchEnd>>) {
        match m {
            Some(Ok(f)) => self.accept(f),
            Some(Err(FetchEnd::Done)) | None => self.closed = true,
            Some(Err(FetchEnd::Failed(idx, why))) => self
                .hooks
                .progress
                .outcome(&self.items[idx], Outcome::FetchFailed { reason: why }),
        }
    }

    fn accept(&mut self, f: Fetched) {
        match f.body {
            Body::Bytes(b) => {
                let Some(b) = self.prepared(f.idx, b) else {
                    return;
                };
                if self.multi {
                    if !self.batch.is_empty()
                        && (self.batch.len() >= MULTIAPPEND_COUNT
                            || self.batch_bytes + b.len() as u64 > MULTIAPPEND_BYTES)
                    {
                        self.flush();
                    }
                    self.batch_bytes += b.len() as u64;
                    self.batch.push((f.idx, b, f.permit));
                } else {
                    self.submit(vec![(f.idx, b)], f.permit.into_iter().collect());
                }
            }
            Body::Stream(r) => {
                // Keep order: what is batched goes first.
                self.flush();
                self.submit_stream(f.idx, r, f.head);
            }
        }
    }

    /// The body as it is sent: rewritten (or skipped), with the `--addheader` line.
    fn prepared(&mut self, idx: usize, b: Bytes) -> Option<Bytes> {
        let item = &self.items[idx];
        let b = match self.opts.transform.as_ref().map(|t| t(&b)) {
            None | Some(Rewritten::Keep) => b,
            Some(Rewritten::Replace(n)) => Bytes::from(n),
            Some(Rewritten::Skip(reason)) => {
                self.hooks
                    .progress
                    .outcome(item, Outcome::Skipped { reason });
                return None;
            }
        };
        Some(match &item.prefix {
            Some(p) => {
                let mut v = BytesMut::with_capacity(p.len() + b.len());
                v.extend_from_slice(p);
                v.extend_from_slice(&b);
                v.freeze()
            }
            None => b,
        })
    }

    /// Journals the intents of these messages; `None` (each message reported, nothing more
    /// sent) when the journal can not be written.
    fn journal(&mut self, idxs: &[usize]) -> Option<Vec<i64>> {
        let refs: Vec<&CopyItem> = idxs.iter().map(|&i| &self.items[i]).collect();
        match self.hooks.journal.before_append(&refs, self.opts.uidnext2) {
            Ok(ids) => Some(ids),
            Err(reason) => {
                self.halted = true;
                for it in refs {
                    self.hooks.progress.outcome(
                        it,
                        Outcome::NotJournalled {
                            reason: reason.clone(),
                        },
                    );
                }
                None
            }
        }
    }

    fn submit_stream(&mut self, idx: usize, r: imapsync_client::BodyReceiver, head: Option<Head>) {
        // An unsent stream is dropped: the fetcher discards the rest of the literal.
        if self.hooks.stop.stop() {
            self.closed = true;
            return;
        }
        let Some(intents) = self.journal(&[idx]) else {
            return;
        };
        let it = &self.items[idx];
        let len = r.len;
        self.hooks.stop.started(len);
        let c = cmd::append(
            self.opts.folder2.as_bytes(),
            &[AppendItem {
                flags: it.flags.clone(),
                internaldate: it.internaldate.clone(),
                len,
            }],
        );
        let fut = self.c2.submit_with(c, vec![Body::Stream(r)]);
        self.inflight.push_back(InFlightAppend {
            _permits: Vec::new(),
            idxs: vec![idx],
            bodies: None,
            intents,
            lens: vec![len],
            head,
            fut,
        });
    }

    fn flush(&mut self) {
        if self.batch.is_empty() {
            return;
        }
        self.batch_bytes = 0;
        let mut permits = Vec::new();
        let taken: Vec<(usize, Bytes)> = self
            .batch
            .drain(..)
            .map(|(i, b, p)| {
                permits.extend(p);
                (i, b)
            })
            .collect();
        self.submit(taken, permits);
    }

    fn submit(&mut self, msgs: Vec<(usize, Bytes)>, permits: Vec<OwnedSemaphorePermit>) {
        if self.hooks.stop.stop() {
            // Nothing new starts (--exitwhenover reached, stopping): these stay missing.
            self.closed = true;
            return;
        }
        let idxs: Vec<usize> = msgs.iter().map(|(i, _)| *i).collect();
        let Some(intents) = self.journal(&idxs) else {
            return;
        };
        self.hooks
            .stop
            .started(msgs.iter().map(|(_, b)| b.len() as u64).sum());
        let append_items: Vec<AppendItem> = msgs
            .iter()
            .map(|(i, b)| AppendItem {
                flags: self.items[*i].flags.clone(),
                internaldate: self.items[*i].internaldate.clone(),
                len: b.len() as u64,
            })
            .collect();
        let c = cmd::append(self.opts.folder2.as_bytes(), &append_items);
        let bodies: Vec<Body> = msgs.iter().map(|(_, b)| Body::Bytes(b.clone())).collect();
        let fut = self.c2.submit_with(c, bodies);
        self.inflight.push_back(InFlightAppend {
            _permits: permits,
            idxs,
            lens: msgs.iter().map(|(_, b)| b.len() as u64).collect(),
            // Kept (cheap: shared buffers) to send again after a transient refusal.
            bodies: Some(msgs.into_iter().map(|(_, b)| b).collect()),
            intents,
            head: None,
            fut,
        });
    }

    fn completed(
        &mut self,
        f: InFlightAppend,
        r: Result<imapsync_client::Done, ConnError>,
    ) -> Result<(), ConnError> {
        let done = r?;
        if done.is_ok() {
            self.stored(&f, &done.status);
            return Ok(());
        }
        self.hooks.stop.not_stored(f.lens.iter().sum());
        let decision = pushback::of_status(&done.status);
        if let PushBack::Retry(delay) = decision
            && self.retry_later(&f, &done.status, delay)
        {
            return Ok(());
        }
        if f.idxs.len() > 1
            && let Some(bodies) = f.bodies
        {
            // The MULTIAPPEND failed as a whole: nothing was stored. Retry one by one, so one
            // bad message never fails its neighbours. Its intents are superseded.
            self.hooks.journal.discard(&f.intents);
            for (idx, b) in f.idxs.into_iter().zip(bodies) {
                self.submit(vec![(idx, b)], Vec::new());
            }
            return Ok(());
        }
        self.hooks.journal.discard(&f.intents);
        for (k, &idx) in f.idxs.iter().enumerate() {
            let bytes = f.lens.get(k).copied().unwrap_or(0);
            let status = done.status.clone();
            let outcome = if decision == PushBack::TooBig {
                Outcome::TooBig { status, bytes }
            } else {
                let subject = match (&f.bodies, &f.head) {
                    (Some(bodies), _) => bodies.get(k).map(|b| subject_of(b)).unwrap_or_default(),
                    (None, Some(h)) => h.lock().map(|h| subject_of(&h)).unwrap_or_default(),
                    (None, None) => String::new(),
                };
                Outcome::Refused {
                    status,
                    bytes,
                    subject,
                }
            };
            self.hooks.progress.outcome(&self.items[idx], outcome);
        }
        Ok(())
    }

    /// Host2 stored the messages of one command: their intents become map entries (when
    /// APPENDUID told the UIDs), together, then each is reported.
    fn stored(&mut self, f: &InFlightAppend, status: &Status) {
        let uids: Vec<u32> = match &status.code {
            Some(Code::AppendUid { uids, .. }) => uids.expand(100_000).unwrap_or_default(),
            _ => Vec::new(),
        };
        let uids_ok = uids.len() == f.idxs.len();
        let uid2_of = |k: usize| if uids_ok { uids.get(k).copied() } else { None };
        // Without UIDPLUS the intents stay open: the next run matches by identity.
        let settled: Vec<(i64, MapEntry)> = f
            .idxs
            .iter()
            .enumerate()
            .filter_map(|(k, &idx)| {
                let intent = f.intents.get(k).copied()?;
                let uid2 = uid2_of(k)?;
                let it = &self.items[idx];
                Some((
                    intent,
                    MapEntry {
                        uid1: it.uid,
                        uid2,
                        flags: Some(it.flags.join(" ")),
                    },
                ))
            })
            .collect();
        if !settled.is_empty() {
            self.hooks.journal.settle(&settled);
        }
        for (k, &idx) in f.idxs.iter().enumerate() {
            let bytes = f.lens.get(k).copied().unwrap_or(0);
            self.hooks.progress.outcome(
                &self.items[idx],
                Outcome::Copied {
                    uid2: uid2_of(k),
                    bytes,
                },
            );
        }
    }

    /// A transient refusal: wait as told, slow down, send the same messages again (up to
    /// [`MAX_APPEND_RETRIES`] times). False when no retry is left (or the bodies were
    /// streamed and are gone).
    fn retry_later(
        &mut self,
        f: &InFlightAppend,
        status: &Status,
        delay: std::time::Duration,
    ) -> bool {
        let Some(bodies) = &f.bodies else {
            return false;
        };
        let attempt = f
            .idxs
            .iter()
            .map(|i| self.retries.get(i).copied().unwrap_or(0))
            .max()
            .unwrap_or(0)
            + 1;
        if attempt > MAX_APPEND_RETRIES {
            return false;
        }
        self.hooks.journal.discard(&f.intents);
        for (&idx, b) in f.idxs.iter().zip(bodies) {
            self.retries.insert(idx, attempt);
            self.retry_queue.push_back((idx, b.clone()));
        }
        let wait = delay.max(pushback::backoff(attempt));
        self.hooks.progress.pushed_back(status, wait, f.idxs.len());
        self.pause = Some(self.pause.map_or(wait, |p| p.max(wait)));
        self.limit = 1;
        true
    }
}
