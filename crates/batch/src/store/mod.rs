//! The job store: one row per account with its status, attempts, pass, counts, bytes,
//! duration, exit code, last error and log; the batch's settings; progress samples; and the
//! per-host start times. SQLite (one file per batch, 0600) on one machine, PostgreSQL when
//! several machines share the batch. Both run the same SQL through a small [`Db`] interface,
//! so the claim, lease and cap logic exists once, and one test suite runs over both.
//!
//! **Claims and leases.** A worker claims an account in one transaction that is serialized
//! with every other claim of the batch (SQLite: `BEGIN IMMEDIATE`; PostgreSQL: a
//! transaction-level advisory lock): it reads the accounts that may start (pending, retry,
//! or running under an expired lease), the connections reserved on each host by running
//! accounts with live leases, and the last start per host1; [`crate::plan::pick`] chooses;
//! the row becomes `running` with the worker as owner and `lease_until = now + lease`. The
//! worker renews the lease while it runs the account (heartbeat, which also records progress),
//! and finishing, releasing or renewing all check the owner, so a worker that lost its lease
//! changes nothing. Time is the database's clock on PostgreSQL, so workers' clocks may differ.

use std::collections::HashMap;
use std::sync::Arc;

use crate::plan::{self, Candidate, HostLoad, JobState, Limits, Pick, RetryPolicy, RetrySet};

pub mod pg;
pub mod sqlite;

/// A value going to or coming from the database.
#[derive(Clone, Debug, PartialEq)]
pub enum Val {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
}

impl Val {
    pub fn int(&self) -> i64 {
        match self {
            Val::Int(i) => *i,
            Val::Real(f) => *f as i64,
            Val::Text(t) => t.parse().unwrap_or(0),
            Val::Null => 0,
        }
    }

    pub fn real(&self) -> Option<f64> {
        match self {
            Val::Int(i) => Some(*i as f64),
            Val::Real(f) => Some(*f),
            Val::Text(t) => t.parse().ok(),
            Val::Null => None,
        }
    }

    pub fn text(&self) -> String {
        match self {
            Val::Text(t) => t.clone(),
            Val::Int(i) => i.to_string(),
            Val::Real(f) => f.to_string(),
            Val::Null => String::new(),
        }
    }

    pub fn opt_text(&self) -> Option<String> {
        match self {
            Val::Null => None,
            v => Some(v.text()),
        }
    }
}

impl From<i64> for Val {
    fn from(v: i64) -> Val {
        Val::Int(v)
    }
}
impl From<u32> for Val {
    fn from(v: u32) -> Val {
        Val::Int(i64::from(v))
    }
}
impl From<u64> for Val {
    fn from(v: u64) -> Val {
        Val::Int(v as i64)
    }
}
impl From<f64> for Val {
    fn from(v: f64) -> Val {
        Val::Real(v)
    }
}
impl From<&str> for Val {
    fn from(v: &str) -> Val {
        Val::Text(v.to_string())
    }
}
impl From<String> for Val {
    fn from(v: String) -> Val {
        Val::Text(v)
    }
}
impl<T: Into<Val>> From<Option<T>> for Val {
    fn from(v: Option<T>) -> Val {
        v.map_or(Val::Null, Into::into)
    }
}

pub type Row = Vec<Val>;

/// A job store error (never holds a password).
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    #[error("job store {store}: {reason}")]
    Db { store: String, reason: String },
    #[error(
        "job store {store} is in use by another `batch run` ({owner}); watch it with `imapsync batch status`"
    )]
    Busy { store: String, owner: String },
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// Statements inside one transaction (`?` placeholders, in order).
pub trait Tx {
    fn exec(&mut self, sql: &str, params: &[Val]) -> Result<u64>;
    fn query(&mut self, sql: &str, params: &[Val]) -> Result<Vec<Row>>;
}

/// What a backend provides: serialized transactions, single statements, and the clock.
pub trait Db: Send + Sync + 'static {
    /// The store's location without password.
    fn shown(&self) -> String;
    /// Shared by several machines (PostgreSQL).
    fn shared(&self) -> bool;
    /// Runs `f` in a transaction serialized with every other claim of the batch; commits when
    /// it returns `Ok`.
    fn tx<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut dyn Tx) -> Result<T> + Send + 'static,
    ) -> Result<T>;
    /// Runs `f` in a read-only transaction that does not wait for claims.
    fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut dyn Tx) -> Result<T> + Send + 'static,
    ) -> Result<T>;
    /// Current time, UNIX seconds (the database's clock when shared).
    fn now(&self) -> Result<f64>;
}

/// An account as the batch imports it (no inline password).
#[derive(Clone, Debug, PartialEq)]
pub struct NewJob {
    pub key: String,
    pub line: usize,
    pub host1: String,
    pub user1: String,
    pub secret1: String,
    pub host2: String,
    pub user2: String,
    pub secret2: String,
    pub extra: Vec<String>,
    /// Connection pairs the account asks for (its `--connections1/2`).
    pub conns: u32,
    /// Refused at import (a usage error in its options), with why.
    pub refused: Option<String>,
}

/// An account as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct Job {
    pub id: i64,
    pub key: String,
    pub line: usize,
    pub host1: String,
    pub user1: String,
    pub secret1: String,
    pub host2: String,
    pub user2: String,
    pub secret2: String,
    pub extra: Vec<String>,
    pub conns: u32,
    pub state: JobState,
    pub pass: String,
    /// Runs in this pass; all runs ever.
    pub attempts: u32,
    pub total_attempts: u32,
    pub owner: Option<String>,
    pub lease_until: Option<f64>,
    pub not_before: Option<f64>,
    pub reserved: u32,
    pub started_at: Option<f64>,
    pub finished_at: Option<f64>,
    /// Seconds of the last run.
    pub duration: Option<f64>,
    pub exit_code: Option<i32>,
    pub transferred: u64,
    pub skipped: u64,
    pub errors: u64,
    pub bytes: u64,
    pub last_error: Option<String>,
    pub log_file: Option<String>,
}

impl Job {
    /// `user1 on host1 -> user2 on host2`.
    pub fn name(&self) -> String {
        format!(
            "{}@{} -> {}@{}",
            self.user1, self.host1, self.user2, self.host2
        )
    }
}

/// Live counters of a running account.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    pub transferred: u64,
    pub skipped: u64,
    pub errors: u64,
    pub bytes: u64,
}

/// The end of a run of an account.
#[derive(Clone, Debug, PartialEq)]
pub struct Finish {
    pub state: JobState,
    pub not_before: Option<f64>,
    pub exit_code: i32,
    pub progress: Progress,
    pub duration: f64,
    pub last_error: Option<String>,
    pub log_file: Option<String>,
    /// The run does not count as an attempt (interrupted by the operator).
    pub uncount: bool,
}

/// A claim's answer.
#[derive(Clone, Debug, PartialEq)]
pub enum Claim {
    Job(Box<Job>),
    /// Nothing may start now; ask again within this many seconds.
    Later(f64),
    /// Nothing left to start, nor running anywhere: the batch is over.
    Finished,
}

/// The batch's settings, written by `batch run`, read by every worker.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct BatchConfig {
    pub pass: String,
    /// imapsync options for every account.
    pub options: Vec<String>,
    pub limits: Limits,
    pub retry: RetryPolicy,
    /// Lease length, seconds.
    pub lease: f64,
    /// The account file (for the list of failures).
    pub accounts_file: Option<String>,
}

/// One progress sample.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Event {
    pub job: i64,
    pub at: f64,
    pub transferred: u64,
    pub bytes: u64,
}

/// What an import did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Imported {
    pub added: usize,
    pub restarted: usize,
    pub kept: usize,
}

/// The job store of a batch.
pub trait JobStore: Send + Sync {
    fn shown(&self) -> String;
    fn shared(&self) -> bool;
    fn now(&self) -> Result<f64>;
    fn config(&self) -> Result<Option<BatchConfig>>;
    fn save_config(&self, c: &BatchConfig) -> Result<()>;
    /// Adds or updates the accounts; a new pass restarts every account of the file, the same
    /// pass restarts the ones `retry` says (the others keep their state).
    fn import(&self, jobs: &[NewJob], pass: &str, retry: RetrySet) -> Result<Imported>;
    /// Accounts left `running` by a crashed `batch run` on a store nobody else uses.
    fn recover_all(&self) -> Result<usize>;
    /// Claims an account for `worker`; `inline` = this worker has the account file's inline
    /// passwords.
    fn claim(&self, worker: &str, inline: bool) -> Result<Claim>;
    /// Renews the lease (for `lease` seconds) and records progress; `false` when the worker
    /// no longer owns the account.
    fn heartbeat(&self, worker: &str, id: i64, lease: f64, p: Progress) -> Result<bool>;
    /// Records the end of a run; `false` when the worker no longer owned the account.
    fn finish(&self, worker: &str, id: i64, f: &Finish) -> Result<bool>;
    fn jobs(&self) -> Result<Vec<Job>>;
    fn events(&self) -> Result<Vec<Event>>;
    /// Accounts per state.
    fn counts(&self) -> Result<plan::Counts>;
}

const JOB_COLUMNS: &str = "id, key, line, host1, user1, secret1, host2, user2, secret2, extra, conns, state, pass,
    attempts, total_attempts, owner, lease_until, not_before, reserved, started_at, finished_at, duration,
    exit_code, transferred, skipped, errors, bytes, last_error, log_file";

fn job_of(r: &Row) -> Job {
    let opt_f = |i: usize| r.get(i).and_then(Val::real);
    let n = |i: usize| r.get(i).map_or(0, Val::int);
    let t = |i: usize| r.get(i).map(Val::text).unwrap_or_default();
    Job {
        id: n(0),
        key: t(1),
        line: n(2) as usize,
        host1: t(3),
        user1: t(4),
        secret1: t(5),
        host2: t(6),
        user2: t(7),
        secret2: t(8),
        extra: serde_json::from_str(&t(9)).unwrap_or_default(),
        conns: n(10) as u32,
        state: JobState::parse(&t(11)).unwrap_or(JobState::Pending),
        pass: t(12),
        attempts: n(13) as u32,
        total_attempts: n(14) as u32,
        owner: r.get(15).and_then(Val::opt_text),
        lease_until: opt_f(16),
        not_before: opt_f(17),
        reserved: n(18) as u32,
        started_at: opt_f(19),
        finished_at: opt_f(20),
        duration: opt_f(21),
        exit_code: r.get(22).and_then(|v| v.opt_text()).map(|_| n(22) as i32),
        transferred: n(23) as u64,
        skipped: n(24) as u64,
        errors: n(25) as u64,
        bytes: n(26) as u64,
        last_error: r.get(27).and_then(Val::opt_text),
        log_file: r.get(28).and_then(Val::opt_text),
    }
}

/// The job store over any [`Db`].
pub struct SqlStore<D: Db> {
    db: Arc<D>,
}

impl<D: Db> SqlStore<D> {
    pub fn new(db: D) -> SqlStore<D> {
        SqlStore { db: Arc::new(db) }
    }

    fn tx<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut dyn Tx) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        self.db.tx(f)
    }
}

fn get_meta(tx: &mut dyn Tx, key: &str) -> Result<Option<String>> {
    Ok(tx
        .query(
            "SELECT value FROM imapsync_batch WHERE key = ?",
            &[key.into()],
        )?
        .first()
        .and_then(|r| r.first())
        .and_then(Val::opt_text))
}

fn set_meta(tx: &mut dyn Tx, key: &str, value: &str) -> Result<()> {
    tx.exec(
        "INSERT INTO imapsync_batch(key, value) VALUES(?, ?)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        &[key.into(), value.into()],
    )
    .map(|_| ())
}

fn config_of(m: &HashMap<String, String>) -> Option<BatchConfig> {
    let num = |k: &str| m.get(k).and_then(|v| v.parse::<f64>().ok());
    Some(BatchConfig {
        pass: m.get("pass")?.clone(),
        options: m
            .get("options")
            .and_then(|o| serde_json::from_str(o).ok())
            .unwrap_or_default(),
        limits: Limits {
            max_per_host1: num("max_per_host1").map(|v| v as u32),
            max_per_host2: num("max_per_host2").map(|v| v as u32),
            stagger: num("stagger"),
        },
        retry: RetryPolicy {
            max_attempts: num("max_attempts").map_or(3, |v| v as u32),
            backoff_base: num("backoff").unwrap_or(30.0),
        },
        lease: num("lease").unwrap_or(60.0),
        accounts_file: m.get("accounts_file").cloned().filter(|s| !s.is_empty()),
    })
}

fn read_config(tx: &mut dyn Tx) -> Result<Option<BatchConfig>> {
    let rows = tx.query("SELECT key, value FROM imapsync_batch", &[])?;
    let m: HashMap<String, String> = rows.iter().map(|r| (r[0].text(), r[1].text())).collect();
    Ok(config_of(&m))
}

impl<D: Db> JobStore for SqlStore<D> {
    fn shown(&self) -> String {
        self.db.shown()
    }

    fn shared(&self) -> bool {
        self.db.shared()
    }

    fn now(&self) -> Result<f64> {
        self.db.now()
    }

    fn config(&self) -> Result<Option<BatchConfig>> {
        self.db.read(read_config)
    }

    fn save_config(&self, c: &BatchConfig) -> Result<()> {
        let c = c.clone();
        self.tx(move |tx| {
            let opt = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
            set_meta(tx, "pass", &c.pass)?;
            set_meta(
                tx,
                "options",
                &serde_json::Value::from(c.options.clone()).to_string(),
            )?;
            set_meta(
                tx,
                "max_per_host1",
                &opt(c.limits.max_per_host1.map(f64::from)),
            )?;
            set_meta(
                tx,
                "max_per_host2",
                &opt(c.limits.max_per_host2.map(f64::from)),
            )?;
            set_meta(tx, "stagger", &opt(c.limits.stagger))?;
            set_meta(tx, "max_attempts", &c.retry.max_attempts.to_string())?;
            set_meta(tx, "backoff", &c.retry.backoff_base.to_string())?;
            set_meta(tx, "lease", &c.lease.to_string())?;
            set_meta(
                tx,
                "accounts_file",
                c.accounts_file.as_deref().unwrap_or(""),
            )?;
            Ok(())
        })
    }

    fn import(&self, jobs: &[NewJob], pass: &str, retry: RetrySet) -> Result<Imported> {
        let jobs = jobs.to_vec();
        let pass = pass.to_string();
        let shown = self.db.shown();
        self.tx(move |tx| {
            let old_pass = get_meta(tx, "pass")?;
            let new_pass = old_pass.as_ref().is_some_and(|p| *p != pass);
            if new_pass {
                let running = tx.query(
                    "SELECT COUNT(*) FROM imapsync_jobs WHERE state = 'running'",
                    &[],
                )?;
                let n = running.first().and_then(|r| r.first()).map_or(0, Val::int);
                if n > 0 {
                    return Err(StoreError::Db {
                        store: shown,
                        reason: format!(
                            "{n} accounts are still running in pass {:?}: let them end (or stop their workers and wait for their leases to expire) before starting pass {pass:?}",
                            old_pass.unwrap_or_default()
                        ),
                    });
                }
            }
            let mut done = Imported::default();
            for j in &jobs {
                let extra = serde_json::Value::from(j.extra.clone()).to_string();
                let existing = tx.query(
                    "SELECT id, state FROM imapsync_jobs WHERE key = ?",
                    &[j.key.clone().into()],
                )?;
                let id = match existing.first() {
                    Some(r) => {
                        tx.exec(
                            "UPDATE imapsync_jobs SET line = ?, host1 = ?, user1 = ?, secret1 = ?, host2 = ?, user2 = ?,
                                    secret2 = ?, extra = ?, conns = ? WHERE id = ?",
                            &[
                                (j.line as i64).into(),
                                j.host1.clone().into(),
                                j.user1.clone().into(),
                                j.secret1.clone().into(),
                                j.host2.clone().into(),
                                j.user2.clone().into(),
                                j.secret2.clone().into(),
                                extra.clone().into(),
                                j.conns.into(),
                                r[0].clone(),
                            ],
                        )?;
                        let state = JobState::parse(&r[1].text()).unwrap_or(JobState::Pending);
                        let restart = if new_pass {
                            state != JobState::Running
                        } else {
                            retry.restarts(state) && state != JobState::Running
                        };
                        if restart && (new_pass || state != JobState::Pending) {
                            tx.exec(
                                "UPDATE imapsync_jobs SET state = 'pending', attempts = 0, not_before = NULL, pass = ?
                                  WHERE id = ?",
                                &[pass.clone().into(), r[0].clone()],
                            )?;
                            done.restarted += 1;
                        } else {
                            done.kept += 1;
                        }
                        r[0].int()
                    }
                    None => {
                        let rows = tx.query(
                            "INSERT INTO imapsync_jobs(key, line, host1, user1, secret1, host2, user2, secret2, extra, conns,
                                              state, pass, attempts, total_attempts, reserved, transferred, skipped,
                                              errors, bytes)
                             VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, 0, 0, 0, 0, 0, 0, 0) RETURNING id",
                            &[
                                j.key.clone().into(),
                                (j.line as i64).into(),
                                j.host1.clone().into(),
                                j.user1.clone().into(),
                                j.secret1.clone().into(),
                                j.host2.clone().into(),
                                j.user2.clone().into(),
                                j.secret2.clone().into(),
                                extra.clone().into(),
                                j.conns.into(),
                                pass.clone().into(),
                            ],
                        )?;
                        done.added += 1;
                        rows.first().and_then(|r| r.first()).map_or(0, Val::int)
                    }
                };
                if let Some(why) = &j.refused {
                    tx.exec(
                        "UPDATE imapsync_jobs SET state = 'refused', exit_code = 64, last_error = ? WHERE id = ?",
                        &[why.clone().into(), id.into()],
                    )?;
                }
            }
            set_meta(tx, "pass", &pass)?;
            Ok(done)
        })
    }

    fn recover_all(&self) -> Result<usize> {
        self.tx(|tx| {
            let n = tx.exec(
                "UPDATE imapsync_jobs SET state = 'pending', owner = NULL, lease_until = NULL, reserved = 0,
                        attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END
                  WHERE state = 'running'",
                &[],
            )?;
            Ok(n as usize)
        })
    }

    fn claim(&self, worker: &str, inline: bool) -> Result<Claim> {
        let worker = worker.to_string();
        let now = self.db.now()?;
        self.tx(move |tx| {
            let cfg = read_config(tx)?.unwrap_or_default();
            let lease = if cfg.lease > 0.0 { cfg.lease } else { 60.0 };
            // Only what the choice needs; the chosen row is read whole afterwards.
            let rows = tx.query(
                "SELECT id, host1, host2, conns, not_before FROM imapsync_jobs
                  WHERE (state IN ('pending', 'retry') OR (state = 'running' AND lease_until < ?))
                    AND (? = 1 OR (secret1 <> 'inline' AND secret2 <> 'inline'))
                  ORDER BY CASE WHEN state = 'running' THEN 0 ELSE 1 END, id
                  LIMIT 1000",
                &[now.into(), i64::from(inline).into()],
            )?;
            if rows.is_empty() {
                let left = tx.query(
                    "SELECT COUNT(*) FROM imapsync_jobs WHERE state IN ('pending', 'retry', 'running')",
                    &[],
                )?;
                let n = left.first().and_then(|r| r.first()).map_or(0, Val::int);
                return Ok(if n == 0 {
                    Claim::Finished
                } else {
                    Claim::Later(1.0)
                });
            }
            let mut load = HostLoad::default();
            for (side, col) in [(1u8, "host1"), (2u8, "host2")] {
                let used = tx.query(
                    &format!(
                        "SELECT {col}, CAST(SUM(reserved) AS BIGINT) FROM imapsync_jobs
                          WHERE state = 'running' AND lease_until >= ? GROUP BY {col}"
                    ),
                    &[now.into()],
                )?;
                for r in used {
                    *load
                        .used
                        .entry((side, plan::host_key(&r[0].text())))
                        .or_insert(0) += r[1].int() as u32;
                }
            }
            for r in tx.query("SELECT host, last_start FROM imapsync_hosts", &[])? {
                load.last_start
                    .insert(r[0].text(), r[1].real().unwrap_or(0.0));
            }
            let cands: Vec<Candidate> = rows
                .iter()
                .map(|r| Candidate {
                    host1: r[1].text(),
                    host2: r[2].text(),
                    conns: r[3].int() as u32,
                    not_before: r[4].real(),
                })
                .collect();
            match plan::pick(&cands, &load, &cfg.limits, now) {
                Pick::Nothing => Ok(Claim::Later(1.0)),
                Pick::Wait { seconds } => Ok(Claim::Later(seconds.min(1.0))),
                Pick::Take { index, reserved } => {
                    let id = rows[index][0].int();
                    let n = tx.exec(
                        "UPDATE imapsync_jobs SET state = 'running', owner = ?, lease_until = ?, reserved = ?,
                                attempts = attempts + 1, total_attempts = total_attempts + 1,
                                started_at = ?, not_before = NULL, transferred = 0, skipped = 0, errors = 0,
                                bytes = 0
                          WHERE id = ? AND (state IN ('pending', 'retry') OR lease_until < ?)",
                        &[
                            worker.into(),
                            (now + lease).into(),
                            reserved.into(),
                            now.into(),
                            id.into(),
                            now.into(),
                        ],
                    )?;
                    if n != 1 {
                        return Ok(Claim::Later(0.01));
                    }
                    tx.exec(
                        "INSERT INTO imapsync_hosts(host, last_start) VALUES(?, ?)
                         ON CONFLICT (host) DO UPDATE SET last_start = excluded.last_start",
                        &[plan::host_key(&cands[index].host1).into(), now.into()],
                    )?;
                    let row = tx.query(
                        &format!("SELECT {JOB_COLUMNS} FROM imapsync_jobs WHERE id = ?"),
                        &[id.into()],
                    )?;
                    match row.first() {
                        Some(r) => Ok(Claim::Job(Box::new(job_of(r)))),
                        None => Ok(Claim::Later(0.01)),
                    }
                }
            }
        })
    }

    fn heartbeat(&self, worker: &str, id: i64, lease: f64, p: Progress) -> Result<bool> {
        let worker = worker.to_string();
        let now = self.db.now()?;
        self.tx(move |tx| {
            let n = tx.exec(
                "UPDATE imapsync_jobs SET lease_until = ?, transferred = ?, skipped = ?, errors = ?, bytes = ?
                  WHERE id = ? AND owner = ? AND state = 'running'",
                &[
                    (now + lease).into(),
                    p.transferred.into(),
                    p.skipped.into(),
                    p.errors.into(),
                    p.bytes.into(),
                    id.into(),
                    worker.into(),
                ],
            )?;
            if n == 1 {
                tx.exec(
                    "INSERT INTO imapsync_events(job, at, transferred, bytes) VALUES(?, ?, ?, ?)",
                    &[id.into(), now.into(), p.transferred.into(), p.bytes.into()],
                )?;
            }
            Ok(n == 1)
        })
    }

    fn finish(&self, worker: &str, id: i64, f: &Finish) -> Result<bool> {
        let worker = worker.to_string();
        let f = f.clone();
        let now = self.db.now()?;
        self.tx(move |tx| {
            let p = f.progress;
            let n = tx.exec(
                "UPDATE imapsync_jobs SET state = ?, owner = NULL, lease_until = NULL, reserved = 0, not_before = ?,
                        finished_at = ?, duration = ?, exit_code = ?, transferred = ?, skipped = ?, errors = ?,
                        bytes = ?, last_error = ?, log_file = COALESCE(?, log_file),
                        attempts = CASE WHEN ? = 1 AND attempts > 0 THEN attempts - 1 ELSE attempts END
                  WHERE id = ? AND owner = ? AND state = 'running'",
                &[
                    f.state.as_str().into(),
                    f.not_before.map(|d| now + d).into(),
                    now.into(),
                    f.duration.into(),
                    i64::from(f.exit_code).into(),
                    p.transferred.into(),
                    p.skipped.into(),
                    p.errors.into(),
                    p.bytes.into(),
                    f.last_error.clone().into(),
                    f.log_file.clone().into(),
                    i64::from(f.uncount).into(),
                    id.into(),
                    worker.into(),
                ],
            )?;
            if n == 1 {
                tx.exec(
                    "INSERT INTO imapsync_events(job, at, transferred, bytes) VALUES(?, ?, ?, ?)",
                    &[id.into(), now.into(), p.transferred.into(), p.bytes.into()],
                )?;
            }
            Ok(n == 1)
        })
    }

    fn jobs(&self) -> Result<Vec<Job>> {
        self.db.read(|tx| {
            Ok(tx
                .query(
                    &format!("SELECT {JOB_COLUMNS} FROM imapsync_jobs ORDER BY id"),
                    &[],
                )?
                .iter()
                .map(job_of)
                .collect())
        })
    }

    fn events(&self) -> Result<Vec<Event>> {
        self.db.read(|tx| {
            Ok(tx
                .query(
                    "SELECT job, at, transferred, bytes FROM imapsync_events ORDER BY at, id",
                    &[],
                )?
                .iter()
                .map(|r| Event {
                    job: r[0].int(),
                    at: r[1].real().unwrap_or(0.0),
                    transferred: r[2].int() as u64,
                    bytes: r[3].int() as u64,
                })
                .collect())
        })
    }

    fn counts(&self) -> Result<plan::Counts> {
        self.db.read(|tx| {
            let mut c = plan::Counts::new();
            for r in tx.query(
                "SELECT state, COUNT(*) FROM imapsync_jobs GROUP BY state",
                &[],
            )? {
                if let Some(s) = JobState::parse(&r[0].text()) {
                    c.insert(s, r[1].int() as u64);
                }
            }
            Ok(c)
        })
    }
}

/// Opens the job store at `location`: a `postgres://` URL, or a SQLite file path. `exclusive`
/// (SQLite only) takes the batch's lock: one `batch run` per file at a time.
pub fn open(location: &str, exclusive: bool) -> Result<Box<dyn JobStore>> {
    if imapsync_state::pgconn::is_url(location) {
        Ok(Box::new(SqlStore::new(pg::PgDb::open(location)?)))
    } else {
        Ok(Box::new(SqlStore::new(sqlite::SqliteDb::open(
            std::path::Path::new(location),
            exclusive,
        )?)))
    }
}

/// Turns `?` placeholders into `$1, $2, ...` (PostgreSQL), outside quoted strings.
pub fn numbered(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut n = 0;
    let mut quoted = false;
    for c in sql.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                out.push(c);
            }
            '?' if !quoted => {
                n += 1;
                out.push('$');
                out.push_str(&n.to_string());
            }
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn placeholders_are_numbered_outside_strings() {
        assert_eq!(
            super::numbered("a = ? AND b = '?' AND c IN (?, ?)"),
            "a = $1 AND b = '?' AND c IN ($2, $3)"
        );
    }
}
