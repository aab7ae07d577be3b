//! What every task of a run shares: configuration, output, counters, errors, state store.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use imapsync_plan::errors::ErrorLog;
use imapsync_plan::folderplan::{self, Rules};
use imapsync_state::Store;

use crate::config::Config;
use crate::output::Out;
use crate::stats::Stats;

/// Shared run context.
pub struct Ctx {
    pub cfg: Arc<Config>,
    pub out: Out,
    stats: Mutex<Stats>,
    errors: Mutex<ErrorLog>,
    pub store: Option<Store>,
    abort: AtomicBool,
    pub started: Instant,
    /// Wall-clock start (UNIX seconds, fractional).
    pub started_epoch: f64,
    /// Host2's APPENDLIMIT, learnt after login.
    pub appendlimit: std::sync::OnceLock<u64>,
    /// Host2's quota, learnt after login (QUOTA).
    pub quota2: std::sync::OnceLock<imapsync_plan::fit::Quota>,
    /// Bytes of message bodies in flight, shared by every folder copied in parallel.
    pub budget: Arc<tokio::sync::Semaphore>,
    /// Connection pairs in use, at most `--connections1`/`--connections2`.
    slots: Arc<tokio::sync::Semaphore>,
    /// Round-trip time measured on the first connections (the larger side), microseconds.
    pub rtt_us: std::sync::atomic::AtomicU64,
    /// `--skipcrossduplicates`: identity keys already on host2 in folders synced so far.
    pub cross_keys: Mutex<std::collections::HashSet<String>>,
    /// `--debugcrossduplicates`: the host2 folders each of those keys is in.
    pub cross_folders: Mutex<std::collections::HashMap<String, Vec<String>>>,
    /// What folder records vouch for under this run's options.
    fingerprint: std::sync::OnceLock<String>,
    /// The SEARCH criteria each side lists with, once settled (`--checknoabletosearch` may
    /// drop a side's: it then lists everything and the ages are filtered on our side).
    searches: std::sync::OnceLock<[Option<String>; 2]>,
    /// The run's Gmail label decisions, made once both folder lists are mapped.
    pub labels: std::sync::OnceLock<imapsync_plan::labels::LabelPlan>,
    /// Bytes of APPENDs sent and not known to have failed (`--exitwhenover` counts these, so
    /// that no message starts once the limit is reached, pipelining or not).
    bytes_started: std::sync::atomic::AtomicU64,
    /// Every connection opened (for a reconnection asked by a signal).
    connections: Mutex<Vec<imapsync_client::Connection>>,
    /// The throttle's longest sleep now (`USR1` switches it).
    maxsleep: Mutex<Option<f64>>,
    /// Host1 messages in the folders to sync, from the sizes at the start (for the ETA; 0 =
    /// unknown, no ETA).
    pub h1_nb_msg_start: std::sync::atomic::AtomicU64,
}

/// A connection pair's place under the per-side connection limits.
pub type Slots = tokio::sync::OwnedSemaphorePermit;

impl Ctx {
    pub fn new(cfg: Arc<Config>, out: Out, store: Option<Store>) -> Self {
        let errorsmax = cfg.errorsmax;
        let maxsleep = cfg.rates.maxsleep;
        let pairs = cfg.pairs();
        let started_epoch = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        Ctx {
            cfg,
            out,
            stats: Mutex::new(Stats::default()),
            errors: Mutex::new(ErrorLog::new(errorsmax)),
            store,
            abort: AtomicBool::new(false),
            started: Instant::now(),
            started_epoch,
            appendlimit: std::sync::OnceLock::new(),
            quota2: std::sync::OnceLock::new(),
            budget: crate::copy::memory_budget(),
            slots: Arc::new(tokio::sync::Semaphore::new(pairs)),
            rtt_us: std::sync::atomic::AtomicU64::new(0),
            cross_keys: Mutex::new(std::collections::HashSet::new()),
            cross_folders: Mutex::new(std::collections::HashMap::new()),
            fingerprint: std::sync::OnceLock::new(),
            searches: std::sync::OnceLock::new(),
            labels: std::sync::OnceLock::new(),
            bytes_started: std::sync::atomic::AtomicU64::new(0),
            connections: Mutex::new(Vec::new()),
            maxsleep: Mutex::new(maxsleep),
            h1_nb_msg_start: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// A connection pair slot if the limits leave one free.
    pub fn try_connection_slots(&self) -> Option<Slots> {
        self.slots.clone().try_acquire_owned().ok()
    }

    /// A connection pair slot, waiting for one.
    pub async fn connection_slots(&self) -> Option<Slots> {
        self.slots.clone().acquire_owned().await.ok()
    }

    /// `--maxsize`, lowered to host2's APPENDLIMIT when it announces one.
    pub fn maxsize(&self) -> Option<u64> {
        match (self.cfg.messages.maxsize, self.appendlimit.get().copied()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Keeps a handle on a new connection, for [`Ctx::reconnect_all`].
    pub fn register(&self, c: &imapsync_client::Connection) {
        let mut all = self.connections.lock().unwrap_or_else(|p| p.into_inner());
        all.retain(|c| c.is_alive());
        all.push(c.clone());
    }

    /// Drops every live connection: their users reconnect and go on (a signal asked for it).
    /// Returns how many were dropped.
    pub fn reconnect_all(&self) -> usize {
        let all = std::mem::take(&mut *self.connections.lock().unwrap_or_else(|p| p.into_inner()));
        let live: Vec<_> = all.into_iter().filter(|c| c.is_alive()).collect();
        for c in &live {
            c.reset("a signal asked to reconnect both sides");
        }
        live.len()
    }

    /// Switches the throttle's longest sleep between 0 and its default; returns the new one.
    pub fn toggle_maxsleep(&self) -> f64 {
        use imapsync_plan::throttle;
        let mut m = self.maxsleep.lock().unwrap_or_else(|p| p.into_inner());
        let now = throttle::effective_maxsleep(*m);
        let next = if now > 0.0 {
            0.0
        } else {
            throttle::DEFAULT_MAXSLEEP
        };
        *m = Some(next);
        next
    }

    /// imapsync's ETA after a copy: from the average time per message so far and the host1
    /// messages left (empty without folder sizes at the start).
    pub fn eta(&self) -> String {
        use imapsync_plan::display;
        let start = self.h1_nb_msg_start.load(Ordering::Relaxed);
        if start == 0 {
            return String::new();
        }
        let (processed, transferred) = {
            let st = self.stats();
            (st.transferred + st.skipped, st.transferred)
        };
        let spent = self.elapsed();
        let remaining = display::time_remaining(spent, processed, start, transferred).max(0.0);
        let date = display::localtimez_local(self.started_epoch + spent + remaining);
        display::eta_line(&date, remaining, processed, start)
    }

    /// The SEARCH criteria `side` lists with (the configured ones unless
    /// [`Ctx::settle_searches`] changed them).
    pub fn search(&self, side: imapsync_client::Side) -> Option<&str> {
        let i = usize::from(side.number() - 1);
        match self.searches.get() {
            Some(s) => s[i].as_deref(),
            None => self.cfg.side(side).search.as_deref(),
        }
    }

    /// Settles the SEARCH criteria of both sides before any folder is synced; later calls
    /// change nothing.
    pub fn settle_searches(&self, searches: [Option<String>; 2]) {
        let _ = self.searches.set(searches);
    }

    /// What folder records vouch for under this run's options (and settled searches).
    pub fn fingerprint(&self) -> &str {
        self.fingerprint.get_or_init(|| {
            folderplan::fingerprint(
                self.search(imapsync_client::Side::Host1),
                self.search(imapsync_client::Side::Host2),
                &self.cfg.messages,
            )
        })
    }

    /// `--debugsleep`: sleeps as asked, saying so.
    pub async fn debugsleep(&self) {
        if let Some(d) = self.cfg.debugsleep {
            self.out.line(format!("Info: sleeping {d}s"));
            tokio::time::sleep(std::time::Duration::from_secs_f64(d)).await;
        }
    }

    /// The run's options as a folder's decisions need them.
    pub fn rules(&self) -> Rules<'_> {
        let c = &self.cfg;
        Rules {
            messages: &c.messages,
            delete: &c.delete,
            search1: self.search(imapsync_client::Side::Host1).is_some(),
            search2: self.search(imapsync_client::Side::Host2).is_some(),
            partial1: c.messages.fetch_set[0].is_some(),
            partial2: c.messages.fetch_set[1].is_some(),
            maxsize: self.maxsize(),
            now: self.started_epoch as i64,
            fingerprint: self.fingerprint(),
            labels: self.labels.get(),
        }
    }

    /// The run's label mode (off until the folders are mapped).
    pub fn label_mode(&self) -> imapsync_plan::labels::LabelMode {
        self.labels.get().map(|l| l.mode).unwrap_or_default()
    }

    /// The counters (a poisoned lock still gives access: counters are plain data).
    pub fn stats(&self) -> MutexGuard<'_, Stats> {
        match self.stats.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    pub fn errors(&self) -> MutexGuard<'_, ErrorLog> {
        match self.errors.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// Records an error (printed, counted, classified at the end). Reaching `--errorsmax`
    /// stops the run.
    pub fn error(&self, msg: impl Into<String>) {
        let mut msg = msg.into();
        self.out.line(msg.trim_end());
        // imapsync's recorded messages end with a newline; its listing relies on it.
        if !msg.ends_with('\n') {
            msg.push('\n');
        }
        let reached = {
            let mut e = self.errors();
            e.record(&msg);
            e.max_reached()
        };
        if reached {
            self.abort.store(true, Ordering::SeqCst);
        }
    }

    pub fn abort(&self) {
        self.abort.store(true, Ordering::SeqCst);
    }

    pub fn aborted(&self) -> bool {
        self.abort.load(Ordering::SeqCst)
    }

    pub fn elapsed(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }
}

impl crate::copy::Stop for Ctx {
    fn stop(&self) -> bool {
        self.aborted()
            || self
                .cfg
                .rates
                .exitwhenover
                .is_some_and(|max| self.bytes_started.load(Ordering::SeqCst) >= max)
    }

    fn started(&self, bytes: u64) {
        self.bytes_started.fetch_add(bytes, Ordering::SeqCst);
    }

    fn not_stored(&self, bytes: u64) {
        let _ = self
            .bytes_started
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |v| {
                Some(v.saturating_sub(bytes))
            });
    }
}

impl crate::copy::Throttle for Ctx {
    /// imapsync's average-rate sleeps (`--maxmessagespersecond`, `--maxbytespersecond`,
    /// `--maxbytesafter`, `--maxsleep`) over what the whole run transferred so far.
    fn pause(&self) -> Option<std::time::Duration> {
        use imapsync_plan::throttle;
        let r = &self.cfg.rates;
        let limits = throttle::ThrottleLimits {
            maxmessagespersecond: r.maxmessagespersecond,
            maxbytespersecond: r.maxbytespersecond,
            maxbytesafter: Some(r.maxbytesafter as i64),
            maxsleep: *self.maxsleep.lock().unwrap_or_else(|p| p.into_inner()),
        };
        let (n, bytes) = {
            let st = self.stats();
            (st.transferred, st.bytes_transferred)
        };
        let progress = throttle::TransferProgress {
            nb_msg_transferred: n,
            total_bytes_transferred: bytes,
            time_spent: self.elapsed(),
        };
        let debug = self.cfg.debugsleep;
        let pause = throttle::sleep_if_needed(&limits, &progress).filter(|s| *s > 0.0);
        if let Some(d) = debug {
            self.out.line(format!("Info: sleeping {d}s"));
        }
        match (pause, debug) {
            (None, None) => None,
            (a, b) => Some(std::time::Duration::from_secs_f64(
                a.unwrap_or(0.0).max(b.unwrap_or(0.0)),
            )),
        }
    }
}
