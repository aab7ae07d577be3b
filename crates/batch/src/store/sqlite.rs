//! The job store in one SQLite file (0600, never opened through a symlink), for a batch on
//! one machine. `batch run` holds an advisory lock on `<file>.lock` for as long as it runs,
//! so a second `batch run` on the same file is refused; `batch status` and `batch report`
//! only read (WAL mode lets them while the batch writes).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::types::{Value, ValueRef};
use rusqlite::{Connection, TransactionBehavior};

use super::{Db, Result, Row, StoreError, Tx, Val};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS imapsync_batch(key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS imapsync_jobs(
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    line INTEGER NOT NULL,
    host1 TEXT NOT NULL, user1 TEXT NOT NULL, secret1 TEXT NOT NULL,
    host2 TEXT NOT NULL, user2 TEXT NOT NULL, secret2 TEXT NOT NULL,
    extra TEXT NOT NULL,
    conns INTEGER NOT NULL,
    state TEXT NOT NULL,
    pass TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    total_attempts INTEGER NOT NULL DEFAULT 0,
    owner TEXT,
    lease_until REAL,
    not_before REAL,
    reserved INTEGER NOT NULL DEFAULT 0,
    started_at REAL, finished_at REAL, duration REAL,
    exit_code INTEGER,
    transferred INTEGER NOT NULL DEFAULT 0,
    skipped INTEGER NOT NULL DEFAULT 0,
    errors INTEGER NOT NULL DEFAULT 0,
    bytes INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    log_file TEXT
);
CREATE INDEX IF NOT EXISTS imapsync_jobs_state ON imapsync_jobs(state);
CREATE TABLE IF NOT EXISTS imapsync_events(
    id INTEGER PRIMARY KEY,
    job INTEGER NOT NULL,
    at REAL NOT NULL,
    transferred INTEGER NOT NULL,
    bytes INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS imapsync_hosts(host TEXT PRIMARY KEY, last_start REAL NOT NULL);
INSERT OR IGNORE INTO imapsync_batch(key, value) VALUES('schema', '1');
";

const SCHEMA_VERSION: i64 = 1;

pub struct SqliteDb {
    conn: Mutex<Connection>,
    path: PathBuf,
    _lock: Option<File>,
}

fn err(path: &Path, e: impl std::fmt::Display) -> StoreError {
    StoreError::Db {
        store: path.display().to_string(),
        reason: e.to_string(),
    }
}

impl SqliteDb {
    pub fn open(path: &Path, exclusive: bool) -> Result<SqliteDb> {
        let lock = if exclusive {
            let lock_path = PathBuf::from(format!("{}.lock", path.display()));
            let f =
                imapsync_state::private_file(&lock_path, false).map_err(|e| err(&lock_path, e))?;
            use std::os::fd::AsRawFd;
            // SAFETY: flock on a descriptor we own.
            let rc = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
            if rc != 0 {
                let owner = std::fs::read_to_string(&lock_path).unwrap_or_default();
                return Err(StoreError::Busy {
                    store: path.display().to_string(),
                    owner: format!("pid {}", owner.trim()),
                });
            }
            {
                use std::io::Write;
                let _ = f.set_len(0);
                let mut w = &f;
                let _ = writeln!(w, "{}", std::process::id());
            }
            Some(f)
        } else {
            if !path.exists() {
                return Err(err(
                    path,
                    "no such job store (start the batch with `imapsync batch run`)",
                ));
            }
            None
        };
        // Created by us, 0600, without following a symlink.
        imapsync_state::private_file(path, false).map_err(|e| err(path, e))?;
        let conn = Connection::open(path).map_err(|e| err(path, e))?;
        conn.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=10000;",
        )
        .map_err(|e| err(path, e))?;
        conn.execute_batch(SCHEMA).map_err(|e| err(path, e))?;
        let version: String = conn
            .query_row(
                "SELECT value FROM imapsync_batch WHERE key = 'schema'",
                [],
                |r| r.get(0),
            )
            .map_err(|e| err(path, e))?;
        if version.parse::<i64>().unwrap_or(0) > SCHEMA_VERSION {
            return Err(err(
                path,
                format!("schema version {version} is newer than this program ({SCHEMA_VERSION})"),
            ));
        }
        for suffix in ["-wal", "-shm"] {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(
                format!("{}{suffix}", path.display()),
                std::fs::Permissions::from_mode(0o600),
            );
        }
        Ok(SqliteDb {
            conn: Mutex::new(conn),
            path: path.to_path_buf(),
            _lock: lock,
        })
    }

    fn run<T>(
        &self,
        behavior: TransactionBehavior,
        f: impl FnOnce(&mut dyn Tx) -> Result<T>,
    ) -> Result<T> {
        let mut c = self
            .conn
            .lock()
            .map_err(|_| err(&self.path, "lock poisoned"))?;
        let tx = c
            .transaction_with_behavior(behavior)
            .map_err(|e| err(&self.path, e))?;
        let mut t = SqliteTx {
            tx: &tx,
            path: &self.path,
        };
        let v = f(&mut t)?;
        tx.commit().map_err(|e| err(&self.path, e))?;
        Ok(v)
    }
}

struct SqliteTx<'a> {
    tx: &'a rusqlite::Transaction<'a>,
    path: &'a Path,
}

fn to_value(v: &Val) -> Value {
    match v {
        Val::Null => Value::Null,
        Val::Int(i) => Value::Integer(*i),
        Val::Real(f) => Value::Real(*f),
        Val::Text(t) => Value::Text(t.clone()),
    }
}

fn of_ref(v: ValueRef<'_>) -> Val {
    match v {
        ValueRef::Null => Val::Null,
        ValueRef::Integer(i) => Val::Int(i),
        ValueRef::Real(f) => Val::Real(f),
        ValueRef::Text(t) | ValueRef::Blob(t) => Val::Text(String::from_utf8_lossy(t).into_owned()),
    }
}

impl Tx for SqliteTx<'_> {
    fn exec(&mut self, sql: &str, params: &[Val]) -> Result<u64> {
        let vals: Vec<Value> = params.iter().map(to_value).collect();
        let mut st = self.tx.prepare_cached(sql).map_err(|e| err(self.path, e))?;
        st.execute(rusqlite::params_from_iter(vals))
            .map(|n| n as u64)
            .map_err(|e| err(self.path, e))
    }

    fn query(&mut self, sql: &str, params: &[Val]) -> Result<Vec<Row>> {
        let vals: Vec<Value> = params.iter().map(to_value).collect();
        let mut st = self.tx.prepare_cached(sql).map_err(|e| err(self.path, e))?;
        let n = st.column_count();
        let rows = st
            .query_map(rusqlite::params_from_iter(vals), |r| {
                (0..n).map(|i| r.get_ref(i).map(of_ref)).collect()
            })
            .map_err(|e| err(self.path, e))?;
        rows.collect::<rusqlite::Result<Vec<Row>>>()
            .map_err(|e| err(self.path, e))
    }
}

impl Db for SqliteDb {
    fn shown(&self) -> String {
        self.path.display().to_string()
    }

    fn shared(&self) -> bool {
        false
    }

    fn tx<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut dyn Tx) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        self.run(TransactionBehavior::Immediate, f)
    }

    fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut dyn Tx) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        self.run(TransactionBehavior::Deferred, f)
    }

    fn now(&self) -> Result<f64> {
        Ok(std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0))
    }
}
