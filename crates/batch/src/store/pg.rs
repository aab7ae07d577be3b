//! The job store in PostgreSQL, shared by every worker machine. Tables are created and
//! upgraded by the tool (versioned in `imapsync_schema`, under an advisory lock). Every
//! writing transaction first takes a transaction-level advisory lock of the batch, so claims,
//! lease renewals and ends are serialized: the per-host connection caps are a constraint over
//! many rows, which row locks (`FOR UPDATE SKIP LOCKED`) can not enforce — two workers could
//! each claim a different account of a full host, neither seeing the other's claim. A claim
//! is a few statements, so serializing them costs nothing next to accounts that run for
//! minutes. Readers (`batch status`, reports) do not take the lock.

use std::cell::RefCell;
use std::collections::HashMap;

use imapsync_state::pgconn::{self, PgConn, PgError};
use postgres::types::{ToSql, Type};

use super::{Db, Result, Row, StoreError, Tx, Val, numbered};

const STEPS: &[&str] = &["
CREATE TABLE IF NOT EXISTS imapsync_batch(key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS imapsync_jobs(
    id BIGSERIAL PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    line BIGINT NOT NULL,
    host1 TEXT NOT NULL, user1 TEXT NOT NULL, secret1 TEXT NOT NULL,
    host2 TEXT NOT NULL, user2 TEXT NOT NULL, secret2 TEXT NOT NULL,
    extra TEXT NOT NULL,
    conns BIGINT NOT NULL,
    state TEXT NOT NULL,
    pass TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    total_attempts BIGINT NOT NULL DEFAULT 0,
    owner TEXT,
    lease_until DOUBLE PRECISION,
    not_before DOUBLE PRECISION,
    reserved BIGINT NOT NULL DEFAULT 0,
    started_at DOUBLE PRECISION, finished_at DOUBLE PRECISION, duration DOUBLE PRECISION,
    exit_code BIGINT,
    transferred BIGINT NOT NULL DEFAULT 0,
    skipped BIGINT NOT NULL DEFAULT 0,
    errors BIGINT NOT NULL DEFAULT 0,
    bytes BIGINT NOT NULL DEFAULT 0,
    last_error TEXT,
    log_file TEXT
);
CREATE INDEX IF NOT EXISTS imapsync_jobs_state ON imapsync_jobs(state);
CREATE TABLE IF NOT EXISTS imapsync_events(
    id BIGSERIAL PRIMARY KEY,
    job BIGINT NOT NULL,
    at DOUBLE PRECISION NOT NULL,
    transferred BIGINT NOT NULL,
    bytes BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS imapsync_hosts(host TEXT PRIMARY KEY, last_start DOUBLE PRECISION NOT NULL);
"];

pub struct PgDb {
    conn: PgConn,
}

fn err(shown: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Db {
        store: shown.to_string(),
        reason: e.to_string(),
    }
}

impl PgDb {
    pub fn open(url: &str) -> Result<PgDb> {
        let shown = pgconn::mask_url(url);
        let conn = PgConn::connect_reconnecting(
            url,
            &format!(
                "imapsync-batch {} on {}",
                std::process::id(),
                imapsync_state::hostname()
            ),
        )
        .map_err(|e| err(&shown, e))?;
        conn.call(|c| Ok(pgconn::migrate(c, "batch", STEPS)))
            .map_err(|e| err(&shown, e))?
            .map_err(|e| err(&shown, format!("creating the batch tables: {e}")))?;
        Ok(PgDb { conn })
    }

    fn run<T: Send + 'static>(
        &self,
        lock: bool,
        f: impl FnOnce(&mut dyn Tx) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let shown = self.conn.shown().to_string();
        let s2 = shown.clone();
        let key = pgconn::lock_key("imapsync-batch-claims");
        self.conn
            .call(move |c| {
                let mut tx = c.transaction()?;
                if lock {
                    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&key])?;
                }
                let r = {
                    let mut t = PgTx {
                        tx: &mut tx,
                        shown: &s2,
                    };
                    f(&mut t)
                };
                match r {
                    Ok(v) => {
                        tx.commit()?;
                        Ok(Ok(v))
                    }
                    Err(e) => Ok(Err(e)),
                }
            })
            .map_err(|e: PgError| err(&shown, e))?
    }
}

struct PgTx<'a, 'b> {
    tx: &'a mut postgres::Transaction<'b>,
    shown: &'a str,
}

thread_local! {
    // Prepared statements of the connection served by this thread (one per thread).
    static STATEMENTS: RefCell<HashMap<String, postgres::Statement>> = RefCell::new(HashMap::new());
}

impl PgTx<'_, '_> {
    fn statement(&mut self, sql: &str) -> Result<postgres::Statement> {
        if let Some(s) = STATEMENTS.with(|m| m.borrow().get(sql).cloned()) {
            return Ok(s);
        }
        let st = self
            .tx
            .prepare(&numbered(sql))
            .map_err(|e| err(self.shown, pgconn::render(&e)))?;
        STATEMENTS.with(|m| m.borrow_mut().insert(sql.to_string(), st.clone()));
        Ok(st)
    }

    /// An error; prepared statements are forgotten (the connection may be a new one next time).
    fn failed(&self, e: &postgres::Error) -> StoreError {
        STATEMENTS.with(|m| m.borrow_mut().clear());
        err(self.shown, pgconn::render(e))
    }

    fn params(st: &postgres::Statement, vals: &[Val]) -> Vec<Box<dyn ToSql + Sync + Send>> {
        st.params()
            .iter()
            .zip(vals)
            .map(|(ty, v)| param(v, ty))
            .collect()
    }
}

fn param(v: &Val, ty: &Type) -> Box<dyn ToSql + Sync + Send> {
    let int = |i: i64| -> Box<dyn ToSql + Sync + Send> {
        if *ty == Type::INT4 {
            Box::new(i as i32)
        } else if *ty == Type::INT2 {
            Box::new(i as i16)
        } else if *ty == Type::FLOAT8 {
            Box::new(i as f64)
        } else if *ty == Type::BOOL {
            Box::new(i != 0)
        } else if *ty == Type::TEXT || *ty == Type::VARCHAR {
            Box::new(i.to_string())
        } else {
            Box::new(i)
        }
    };
    match v {
        Val::Null => {
            if *ty == Type::INT8 {
                Box::new(None::<i64>)
            } else if *ty == Type::INT4 {
                Box::new(None::<i32>)
            } else if *ty == Type::FLOAT8 {
                Box::new(None::<f64>)
            } else if *ty == Type::BOOL {
                Box::new(None::<bool>)
            } else {
                Box::new(None::<String>)
            }
        }
        Val::Int(i) => int(*i),
        Val::Real(f) => {
            if *ty == Type::FLOAT8 {
                Box::new(*f)
            } else if *ty == Type::TEXT || *ty == Type::VARCHAR {
                Box::new(f.to_string())
            } else {
                int(*f as i64)
            }
        }
        Val::Text(t) => {
            if *ty == Type::INT8 || *ty == Type::INT4 {
                int(t.parse().unwrap_or(0))
            } else if *ty == Type::FLOAT8 {
                Box::new(t.parse::<f64>().unwrap_or(0.0))
            } else {
                Box::new(t.clone())
            }
        }
    }
}

fn value(row: &postgres::Row, i: usize) -> Val {
    let ty = row.columns()[i].type_().clone();
    let get = |v: Option<Val>| v.unwrap_or(Val::Null);
    if ty == Type::INT8 {
        get(row.get::<_, Option<i64>>(i).map(Val::Int))
    } else if ty == Type::INT4 {
        get(row.get::<_, Option<i32>>(i).map(|v| Val::Int(v.into())))
    } else if ty == Type::INT2 {
        get(row.get::<_, Option<i16>>(i).map(|v| Val::Int(v.into())))
    } else if ty == Type::FLOAT8 {
        get(row.get::<_, Option<f64>>(i).map(Val::Real))
    } else if ty == Type::FLOAT4 {
        get(row.get::<_, Option<f32>>(i).map(|v| Val::Real(v.into())))
    } else if ty == Type::BOOL {
        get(row.get::<_, Option<bool>>(i).map(|b| Val::Int(b.into())))
    } else {
        get(row
            .try_get::<_, Option<String>>(i)
            .ok()
            .flatten()
            .map(Val::Text))
    }
}

impl Tx for PgTx<'_, '_> {
    fn exec(&mut self, sql: &str, params: &[Val]) -> Result<u64> {
        let st = self.statement(sql)?;
        let p = Self::params(&st, params);
        let refs: Vec<&(dyn ToSql + Sync)> =
            p.iter().map(|b| &**b as &(dyn ToSql + Sync)).collect();
        self.tx.execute(&st, &refs).map_err(|e| self.failed(&e))
    }

    fn query(&mut self, sql: &str, params: &[Val]) -> Result<Vec<Row>> {
        let st = self.statement(sql)?;
        let p = Self::params(&st, params);
        let refs: Vec<&(dyn ToSql + Sync)> =
            p.iter().map(|b| &**b as &(dyn ToSql + Sync)).collect();
        let rows = self.tx.query(&st, &refs).map_err(|e| self.failed(&e))?;
        Ok(rows
            .iter()
            .map(|r| (0..r.len()).map(|i| value(r, i)).collect())
            .collect())
    }
}

impl Db for PgDb {
    fn shown(&self) -> String {
        self.conn.shown().to_string()
    }

    fn shared(&self) -> bool {
        true
    }

    fn tx<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut dyn Tx) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        self.run(true, f)
    }

    fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut dyn Tx) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        self.run(false, f)
    }

    fn now(&self) -> Result<f64> {
        let shown = self.conn.shown().to_string();
        self.conn
            .call(|c| {
                Ok(c.query_one(
                    "SELECT CAST(EXTRACT(EPOCH FROM clock_timestamp()) AS DOUBLE PRECISION)",
                    &[],
                )?
                .get::<_, f64>(0))
            })
            .map_err(|e| err(&shown, e))
    }
}
