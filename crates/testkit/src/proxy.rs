//! `FaultProxy`: a fault-injecting TCP proxy for tests, running on its own tokio
//! runtime thread inside the test process.
//!
//! Each direction of each connection is a *delay line*: a reader task stamps every
//! chunk with `now + latency` and queues it, a writer task sleeps until the stamp and
//! forwards it. Latency is therefore added without reducing throughput (many chunks
//! are in flight at once), and order is preserved. On top of that: a bandwidth cap
//! (token bucket per direction), forwarding in small pieces, dropping the connection
//! after N bytes (RST or FIN, after delivering exactly N bytes), stalling after N bytes
//! (the socket stays open, nothing more is forwarded in that direction), dropping on
//! the K-th match of a byte pattern in the client-to-server stream (the matching
//! command never reaches the server), refusing connections, and restricting all of it
//! to chosen connection numbers (1-based, in accept order).

use std::collections::BTreeSet;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use regex::bytes::Regex;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{Notify, mpsc};
use tokio::time::Instant;

use crate::background::Background;

/// Direction of traffic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Client to server.
    Up,
    /// Server to client.
    Down,
    /// Each direction counted separately; whichever reaches the threshold first.
    Both,
}

impl Direction {
    fn includes(self, d: Direction) -> bool {
        self == Direction::Both || self == d
    }
}

/// How a dropped connection is closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Kill {
    /// TCP reset (SO_LINGER 0): the peer sees ECONNRESET.
    #[default]
    Rst,
    /// Orderly close: the peer sees EOF.
    Fin,
}

/// A set of connection numbers (1-based, in accept order).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum ConnSet {
    /// Every connection.
    #[default]
    All,
    /// No connection.
    None,
    /// Exactly these numbers.
    Only(BTreeSet<u64>),
    /// The first `k` connections.
    First(u64),
    /// Connection `n` and all later ones.
    From(u64),
    /// Odd numbers.
    Odd,
    /// Even numbers.
    Even,
}

impl ConnSet {
    /// Exactly these connection numbers.
    pub fn only<I: IntoIterator<Item = u64>>(nums: I) -> ConnSet {
        ConnSet::Only(nums.into_iter().collect())
    }

    /// Does the set contain connection `n`?
    pub fn contains(&self, n: u64) -> bool {
        match self {
            ConnSet::All => true,
            ConnSet::None => false,
            ConnSet::Only(s) => s.contains(&n),
            ConnSet::First(k) => n <= *k,
            ConnSet::From(k) => n >= *k,
            ConnSet::Odd => !n.is_multiple_of(2),
            ConnSet::Even => n.is_multiple_of(2),
        }
    }
}

/// Composable fault description (builder style). `Faults::default()` forwards cleanly.
#[derive(Clone, Debug, Default)]
pub struct Faults {
    latency_up: Duration,
    latency_down: Duration,
    rate_up: Option<u64>,
    rate_down: Option<u64>,
    chunk: Option<usize>,
    drop_after: Option<(Direction, u64)>,
    stall_after: Option<(Direction, u64)>,
    drop_on: Option<(Regex, usize)>,
    kill: Kill,
    refuse: Option<ConnSet>,
    apply_to: ConnSet,
}

impl Faults {
    /// No faults.
    pub fn new() -> Faults {
        Faults::default()
    }

    /// Add `d` of one-way delay in each direction (RTT grows by `2 * d`).
    pub fn latency(mut self, d: Duration) -> Self {
        self.latency_up = d;
        self.latency_down = d;
        self
    }

    /// One-way delay client to server.
    pub fn latency_up(mut self, d: Duration) -> Self {
        self.latency_up = d;
        self
    }

    /// One-way delay server to client.
    pub fn latency_down(mut self, d: Duration) -> Self {
        self.latency_down = d;
        self
    }

    /// Bandwidth cap in bytes per second, each direction.
    pub fn rate(mut self, bytes_per_sec: u64) -> Self {
        self.rate_up = Some(bytes_per_sec);
        self.rate_down = Some(bytes_per_sec);
        self
    }

    /// Bandwidth cap client to server.
    pub fn rate_up(mut self, bytes_per_sec: u64) -> Self {
        self.rate_up = Some(bytes_per_sec);
        self
    }

    /// Bandwidth cap server to client.
    pub fn rate_down(mut self, bytes_per_sec: u64) -> Self {
        self.rate_down = Some(bytes_per_sec);
        self
    }

    /// Forward in writes of at most `n` bytes (exercise partial reads).
    pub fn chunk(mut self, n: usize) -> Self {
        self.chunk = Some(n.max(1));
        self
    }

    /// Kill the connection once exactly `n` bytes went through in `dir`.
    pub fn drop_after(mut self, dir: Direction, n: u64) -> Self {
        self.drop_after = Some((dir, n));
        self
    }

    /// Stop forwarding `dir` after `n` bytes; the connection stays open and silent.
    /// `stall_after(Direction::Down, 0)` swallows the greeting.
    pub fn stall_after(mut self, dir: Direction, n: u64) -> Self {
        self.stall_after = Some((dir, n));
        self
    }

    /// Kill the connection when `pattern` (a regex over bytes, matches up to 256 bytes
    /// long) has matched for the `k`-th time in the client-to-server stream. Bytes
    /// before the match are forwarded, the match itself is not.
    pub fn drop_on(mut self, pattern: &str, k: usize) -> Result<Self> {
        let re = Regex::new(pattern).with_context(|| format!("bad drop_on pattern {pattern:?}"))?;
        self.drop_on = Some((re, k.max(1)));
        Ok(self)
    }

    /// Like [`Faults::drop_on`] with a literal byte string.
    pub fn drop_on_bytes(mut self, needle: &[u8], k: usize) -> Self {
        let escaped: String = needle.iter().map(|b| format!("\\x{b:02x}")).collect();
        // a pattern made only of \xNN escapes always compiles
        if let Ok(re) = Regex::new(&format!("(?-u){escaped}")) {
            self.drop_on = Some((re, k.max(1)));
        }
        self
    }

    /// How killed connections are closed (default RST).
    pub fn kill_mode(mut self, k: Kill) -> Self {
        self.kill = k;
        self
    }

    /// Accept and immediately close (per [`Faults::kill_mode`]) these connections,
    /// without contacting the target.
    pub fn refuse(mut self, set: ConnSet) -> Self {
        self.refuse = Some(set);
        self
    }

    /// Apply the other faults only to these connections (default all).
    pub fn only(mut self, set: ConnSet) -> Self {
        self.apply_to = set;
        self
    }
}

/// Counters readable while the proxy runs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProxyStats {
    /// Connections accepted (including refused ones).
    pub connections: u64,
    /// Connections refused on purpose.
    pub refused: u64,
    /// Connections currently open.
    pub active: u64,
    /// Connections open as the server sees them: from the connection to the target until the
    /// first end of stream in either direction (a client's LOGOUT answered and closed, or a
    /// client gone).
    pub open: u64,
    /// The most connections that were [`open`](Self::open) at once.
    pub peak_open: u64,
    /// Bytes delivered to the server.
    pub bytes_up: u64,
    /// Bytes delivered to the client.
    pub bytes_down: u64,
    /// Drops and stalls that fired.
    pub faults_fired: u64,
}

#[derive(Default)]
struct Counters {
    connections: AtomicU64,
    refused: AtomicU64,
    active: AtomicU64,
    open: AtomicU64,
    peak_open: AtomicU64,
    bytes_up: AtomicU64,
    bytes_down: AtomicU64,
    faults_fired: AtomicU64,
}

struct Shared {
    target: SocketAddr,
    faults: Mutex<Faults>,
    counters: Counters,
    events: Mutex<Vec<String>>,
}

impl Shared {
    fn event(&self, s: String) {
        if let Ok(mut e) = self.events.lock() {
            e.push(s);
        }
    }
}

/// A running fault proxy; stops on [`FaultProxy::stop`] or drop.
pub struct FaultProxy {
    server: Background,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for FaultProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultProxy")
            .field("addr", &self.server.addr())
            .field("target", &self.shared.target)
            .finish()
    }
}

impl FaultProxy {
    /// Listen on `127.0.0.1:0` and forward to `target` with `faults`.
    pub fn start(target: impl ToSocketAddrs, faults: Faults) -> Result<FaultProxy> {
        let target = target
            .to_socket_addrs()
            .context("resolving the proxy target")?
            .next()
            .ok_or_else(|| anyhow!("proxy target resolves to nothing"))?;
        let shared = Arc::new(Shared {
            target,
            faults: Mutex::new(faults),
            counters: Counters::default(),
            events: Mutex::new(Vec::new()),
        });
        let sh = shared.clone();
        let server = Background::start("faultproxy", move |sock, n| handle(sock, n, sh.clone()))?;
        Ok(FaultProxy { server, shared })
    }

    /// Listening port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.server.addr().port()
    }

    /// Listening address.
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// Replace the faults for connections accepted from now on.
    pub fn set_faults(&self, faults: Faults) {
        if let Ok(mut f) = self.shared.faults.lock() {
            *f = faults;
        }
    }

    /// Current counters.
    pub fn stats(&self) -> ProxyStats {
        let c = &self.shared.counters;
        ProxyStats {
            connections: c.connections.load(Ordering::SeqCst),
            refused: c.refused.load(Ordering::SeqCst),
            active: c.active.load(Ordering::SeqCst),
            open: c.open.load(Ordering::SeqCst),
            peak_open: c.peak_open.load(Ordering::SeqCst),
            bytes_up: c.bytes_up.load(Ordering::SeqCst),
            bytes_down: c.bytes_down.load(Ordering::SeqCst),
            faults_fired: c.faults_fired.load(Ordering::SeqCst),
        }
    }

    /// Human-readable log of per-connection events (refusals, faults fired, closes).
    pub fn events(&self) -> Vec<String> {
        self.shared
            .events
            .lock()
            .map(|e| e.clone())
            .unwrap_or_default()
    }

    /// Stop listening and close every proxied connection.
    pub fn stop(mut self) {
        self.server.stop();
    }
}

fn kill_stream(s: &TcpStream, mode: Kill) {
    if mode == Kill::Rst {
        let _ = s.set_zero_linger();
    }
}

/// Per-connection control block shared by the four halves of the pipeline.
struct Ctl {
    kill: Notify,
    kill_mode: AtomicU8,
    stalled_up: AtomicBool,
    stalled_down: AtomicBool,
    ended: AtomicBool,
}

impl Ctl {
    /// The first end of the connection (either direction, or a kill) leaves the open count.
    fn end(&self, shared: &Shared) {
        if !self.ended.swap(true, Ordering::SeqCst) {
            shared.counters.open.fetch_sub(1, Ordering::SeqCst);
        }
    }

    fn fire(&self, mode: Kill) {
        self.kill_mode
            .store(if mode == Kill::Rst { 1 } else { 2 }, Ordering::SeqCst);
        self.kill.notify_one();
    }
}

enum Item {
    Data(Vec<u8>, Instant),
    /// Kill the connection once everything before it has been written.
    Kill(Instant),
}

async fn handle(client: TcpStream, n: u64, shared: Arc<Shared>) {
    let c = &shared.counters;
    c.connections.fetch_add(1, Ordering::SeqCst);
    let faults = shared.faults.lock().map(|f| f.clone()).unwrap_or_default();
    if faults.refuse.as_ref().is_some_and(|r| r.contains(n)) {
        c.refused.fetch_add(1, Ordering::SeqCst);
        shared.event(format!("conn {n}: refused ({:?})", faults.kill));
        kill_stream(&client, faults.kill);
        if faults.kill == Kill::Fin {
            let mut client = client;
            let _ = client.shutdown().await;
        }
        return;
    }
    let server = match TcpStream::connect(shared.target).await {
        Ok(s) => s,
        Err(e) => {
            shared.event(format!("conn {n}: target unreachable: {e}"));
            kill_stream(&client, Kill::Rst);
            return;
        }
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    c.active.fetch_add(1, Ordering::SeqCst);
    let now_open = c.open.fetch_add(1, Ordering::SeqCst) + 1;
    c.peak_open.fetch_max(now_open, Ordering::SeqCst);
    let faulty = faults.apply_to.contains(n);
    let faults = if faulty { faults } else { Faults::default() };
    let (mut cr, mut cw) = client.into_split();
    let (mut sr, mut sw) = server.into_split();
    let ctl = Ctl {
        kill: Notify::new(),
        kill_mode: AtomicU8::new(0),
        stalled_up: AtomicBool::new(false),
        stalled_down: AtomicBool::new(false),
        ended: AtomicBool::new(false),
    };
    let outcome = {
        let up = pump(Direction::Up, &mut cr, &mut sw, &faults, &ctl, &shared, n);
        let down = pump(Direction::Down, &mut sr, &mut cw, &faults, &ctl, &shared, n);
        tokio::pin!(up, down);
        let (mut up_done, mut down_done) = (false, false);
        loop {
            tokio::select! {
                _ = &mut up, if !up_done => up_done = true,
                _ = &mut down, if !down_done => down_done = true,
                _ = ctl.kill.notified() => break ctl.kill_mode.load(Ordering::SeqCst),
            }
            if up_done && down_done {
                break 0;
            }
            // one side finished while the other is stalled on purpose: close
            if (up_done && ctl.stalled_down.load(Ordering::SeqCst))
                || (down_done && ctl.stalled_up.load(Ordering::SeqCst))
            {
                break 0;
            }
        }
    };
    match outcome {
        1 => {
            // Reunite the halves first: dropping an OwnedWriteHalf would send a FIN
            // before the reset.
            for (r, w) in [(cr, cw), (sr, sw)] {
                if let Ok(s) = r.reunite(w) {
                    kill_stream(&s, Kill::Rst);
                }
            }
        }
        2 => {
            let _ = cw.shutdown().await;
            let _ = sw.shutdown().await;
            drop((cr, cw, sr, sw));
        }
        _ => drop((cr, cw, sr, sw)),
    }
    ctl.end(&shared);
    c.active.fetch_sub(1, Ordering::SeqCst);
    shared.event(format!(
        "conn {n}: closed ({})",
        match outcome {
            1 => "killed with RST",
            2 => "killed with FIN",
            _ => "clean",
        }
    ));
}

#[allow(clippy::too_many_arguments)]
async fn pump(
    dir: Direction,
    reader: &mut OwnedReadHalf,
    writer: &mut OwnedWriteHalf,
    f: &Faults,
    ctl: &Ctl,
    shared: &Shared,
    conn: u64,
) {
    let (latency, rate) = match dir {
        Direction::Up => (f.latency_up, f.rate_up),
        _ => (f.latency_down, f.rate_down),
    };
    let (tx, mut rx) = mpsc::channel::<Item>(4096);
    let read_side = async move {
        let mut total: u64 = 0;
        let mut matches = 0usize;
        let mut carry: Vec<u8> = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        let drop_after = f.drop_after.filter(|(d, _)| d.includes(dir)).map(|x| x.1);
        let stall_after = f.stall_after.filter(|(d, _)| d.includes(dir)).map(|x| x.1);
        let stall = |ctl: &Ctl| {
            match dir {
                Direction::Up => ctl.stalled_up.store(true, Ordering::SeqCst),
                _ => ctl.stalled_down.store(true, Ordering::SeqCst),
            }
            shared.counters.faults_fired.fetch_add(1, Ordering::SeqCst);
        };
        if stall_after == Some(0) {
            stall(ctl);
            shared.event(format!("conn {conn}: stalled {dir:?} after 0 bytes"));
            return std::future::pending::<()>().await;
        }
        loop {
            let n = match reader.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let mut data = &buf[..n];
            let mut then_kill = false;
            let mut then_stall = false;
            if dir == Direction::Up
                && let Some((re, k)) = &f.drop_on
            {
                let mut hay = std::mem::take(&mut carry);
                let old = hay.len();
                hay.extend_from_slice(data);
                let mut cut = None;
                for m in re.find_iter(&hay) {
                    if m.end() <= old {
                        continue; // counted with the previous chunk
                    }
                    matches += 1;
                    if matches >= *k {
                        cut = Some(m.start().saturating_sub(old));
                        break;
                    }
                }
                carry = hay[hay.len().saturating_sub(256)..].to_vec();
                if let Some(c) = cut {
                    data = &data[..c];
                    then_kill = true;
                    shared.event(format!("conn {conn}: drop-on match #{matches}"));
                }
            }
            if let Some(limit) = drop_after
                && total + data.len() as u64 >= limit
            {
                data = &data[..(limit - total) as usize];
                then_kill = true;
                shared.event(format!("conn {conn}: drop after {limit} bytes {dir:?}"));
            }
            if let Some(limit) = stall_after
                && total + data.len() as u64 >= limit
            {
                data = &data[..(limit - total) as usize];
                then_stall = true;
                shared.event(format!("conn {conn}: stalled {dir:?} after {limit} bytes"));
            }
            total += data.len() as u64;
            let due = Instant::now() + latency;
            if !data.is_empty() && tx.send(Item::Data(data.to_vec(), due)).await.is_err() {
                return;
            }
            if then_kill {
                shared.counters.faults_fired.fetch_add(1, Ordering::SeqCst);
                let _ = tx.send(Item::Kill(due)).await;
                return std::future::pending::<()>().await;
            }
            if then_stall {
                stall(ctl);
                return std::future::pending::<()>().await;
            }
        }
        // EOF or read error: closing the channel makes the writer send FIN
        ctl.end(shared);
    };
    let write_side = async {
        let mut allowed_at = Instant::now();
        while let Some(item) = rx.recv().await {
            match item {
                Item::Data(data, due) => {
                    tokio::time::sleep_until(due).await;
                    let piece = match (f.chunk, rate) {
                        (Some(c), Some(r)) => c.min((r as usize / 50).max(1)),
                        (Some(c), None) => c,
                        (None, Some(r)) => (r as usize / 50).max(1),
                        (None, None) => data.len().max(1),
                    };
                    for p in data.chunks(piece) {
                        if let Some(r) = rate {
                            tokio::time::sleep_until(allowed_at).await;
                            let now = Instant::now();
                            let base = if allowed_at > now { allowed_at } else { now };
                            allowed_at = base + Duration::from_secs_f64(p.len() as f64 / r as f64);
                        }
                        if writer.write_all(p).await.is_err() {
                            return;
                        }
                        let ctr = match dir {
                            Direction::Up => &shared.counters.bytes_up,
                            _ => &shared.counters.bytes_down,
                        };
                        ctr.fetch_add(p.len() as u64, Ordering::SeqCst);
                    }
                }
                Item::Kill(due) => {
                    tokio::time::sleep_until(due).await;
                    let _ = writer.flush().await;
                    // let the last bytes reach the peer's receive queue before the reset
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    ctl.fire(f.kill);
                    return;
                }
            }
        }
        let _ = writer.shutdown().await;
    };
    tokio::join!(read_side, write_side);
}
