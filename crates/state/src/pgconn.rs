//! One PostgreSQL connection owned by a thread of its own.
//!
//! The synchronous `postgres` client drives its connection on a private tokio runtime and
//! panics when called from a thread that already runs a runtime, which is where the executor
//! calls the state store from (async tasks). So the client lives on a dedicated thread and
//! callers hand it closures through a channel, waiting for the answer; on a multi-threaded
//! runtime the wait is wrapped in `block_in_place`, so the other tasks of the run keep going
//! while one waits for the database. The batch job store uses the same type.
//!
//! Passwords: taken from the URL or from `PGPASSWORD`; never shown ([`mask_url`]). The
//! connection is not encrypted (no TLS): use a private network, a Unix socket or a tunnel.

use std::sync::mpsc;
use std::time::Duration;

type Job = Box<dyn FnOnce(&mut postgres::Client) + Send>;

/// An error talking to PostgreSQL (the text never holds a password).
#[derive(Debug, Clone, thiserror::Error)]
pub enum PgError {
    #[error("{0}")]
    Config(String),
    #[error("{0}")]
    Db(String),
    #[error("the database connection is gone")]
    Gone,
}

impl PgError {
    /// The database answered with this SQLSTATE.
    pub fn is_state(&self, code: &str) -> bool {
        matches!(self, PgError::Db(t) if t.contains(&format!("[{code}]")))
    }
}

/// Renders a client error with the server's message and SQLSTATE when there is one.
pub fn render(e: &postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("{}: {} [{}]", db.severity(), db.message(), db.code().code());
    }
    let mut s = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(x) = src {
        s.push_str(": ");
        s.push_str(&x.to_string());
        src = x.source();
    }
    s
}

/// Does this location name a PostgreSQL database?
pub fn is_url(s: &str) -> bool {
    s.starts_with("postgres://") || s.starts_with("postgresql://")
}

/// The URL without its password (`postgres://user@host:port/db`).
pub fn mask_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (auth_end, _) = rest
        .char_indices()
        .find(|(_, c)| *c == '/' || *c == '?')
        .unwrap_or((rest.len(), ' '));
    let authority = &rest[..auth_end];
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
            format!("{scheme}://{user}@{host}{}", &rest[auth_end..])
        }
        None => url.to_string(),
    }
}

/// The password written in a URL, if any (so a caller can hand it over another way).
pub fn url_password(url: &str) -> Option<String> {
    let cfg: postgres::Config = url.parse().ok()?;
    cfg.get_password()
        .map(|p| String::from_utf8_lossy(p).into_owned())
}

/// A connection served by its own thread.
pub struct PgConn {
    jobs: Option<mpsc::Sender<Job>>,
    thread: Option<std::thread::JoinHandle<()>>,
    shown: String,
}

impl std::fmt::Debug for PgConn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PgConn({})", self.shown)
    }
}

impl PgConn {
    /// Connects (10 s timeout, TCP keepalives on) with `application` as application_name,
    /// which `pg_stat_activity` shows to whoever looks for the owner of a lock. A lost
    /// connection stays lost (a session-level lock would go with it).
    pub fn connect(url: &str, application: &str) -> Result<PgConn, PgError> {
        PgConn::open(url, application, false)
    }

    /// [`connect`](Self::connect), and connect again when the connection was lost (the call
    /// that found it lost fails; the next ones use the new connection). For users that hold
    /// no session state (the batch job store).
    pub fn connect_reconnecting(url: &str, application: &str) -> Result<PgConn, PgError> {
        PgConn::open(url, application, true)
    }

    fn open(url: &str, application: &str, reconnect: bool) -> Result<PgConn, PgError> {
        let shown = mask_url(url);
        let mut config: postgres::Config = url
            .parse()
            .map_err(|e| PgError::Config(format!("{shown}: {e}")))?;
        if config.get_password().is_none()
            && let Ok(p) = std::env::var("PGPASSWORD")
        {
            config.password(p);
        }
        if config.get_user().is_none() {
            let user = std::env::var("PGUSER")
                .or_else(|_| std::env::var("USER"))
                .unwrap_or_else(|_| "postgres".into());
            config.user(&user);
        }
        config
            .application_name(application)
            .connect_timeout(Duration::from_secs(10))
            .keepalives(true)
            .keepalives_idle(Duration::from_secs(30));
        let (tx, rx) = mpsc::channel::<Job>();
        let (ready_tx, ready_rx) = mpsc::sync_channel::<Result<(), String>>(1);
        let thread = std::thread::Builder::new()
            .name("imapsync-pg".into())
            .spawn(move || {
                let mut client = match config.connect(postgres::NoTls) {
                    Ok(c) => {
                        let _ = ready_tx.send(Ok(()));
                        c
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(render(&e)));
                        return;
                    }
                };
                for job in rx {
                    if reconnect
                        && client.is_closed()
                        && let Ok(c) = config.connect(postgres::NoTls)
                    {
                        client = c;
                    }
                    job(&mut client);
                }
                let _ = client.close();
            })
            .map_err(|e| PgError::Config(format!("{shown}: can not start a thread: {e}")))?;
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(PgConn {
                jobs: Some(tx),
                thread: Some(thread),
                shown,
            }),
            Ok(Err(e)) => {
                let _ = thread.join();
                Err(PgError::Db(format!("{shown}: {e}")))
            }
            Err(_) => {
                let _ = thread.join();
                Err(PgError::Gone)
            }
        }
    }

    /// The URL without its password.
    pub fn shown(&self) -> &str {
        &self.shown
    }

    /// Runs `f` with the client on the connection's thread and returns its result.
    pub fn call<T, F>(&self, f: F) -> Result<T, PgError>
    where
        T: Send + 'static,
        F: FnOnce(&mut postgres::Client) -> Result<T, postgres::Error> + Send + 'static,
    {
        let (rtx, rrx) = mpsc::sync_channel(1);
        let job: Job = Box::new(move |c| {
            let _ = rtx.send(f(c).map_err(|e| render(&e)));
        });
        self.jobs
            .as_ref()
            .ok_or(PgError::Gone)?
            .send(job)
            .map_err(|_| PgError::Gone)?;
        let wait = move || rrx.recv();
        let answer = if on_multi_thread_runtime() {
            tokio::task::block_in_place(wait)
        } else {
            wait()
        };
        match answer {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(PgError::Db(e)),
            Err(_) => Err(PgError::Gone),
        }
    }

    /// Is the connection still usable?
    pub fn is_alive(&self) -> bool {
        self.call(|c| Ok(!c.is_closed())).unwrap_or(false)
    }
}

impl Drop for PgConn {
    fn drop(&mut self) {
        // Closing the channel ends the thread, which closes the connection (and with it any
        // session-level lock it held).
        self.jobs.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn on_multi_thread_runtime() -> bool {
    tokio::runtime::Handle::try_current()
        .map(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread)
        .unwrap_or(false)
}

/// A 64-bit advisory-lock key for `name` (FNV-1a).
pub fn lock_key(name: &str) -> i64 {
    crate::fnv1a(name.as_bytes()) as i64
}

/// Who holds advisory lock `key` (the application_name and address of the session), if
/// anyone visible does.
pub fn lock_owner(c: &mut postgres::Client, key: i64) -> Result<Option<String>, postgres::Error> {
    let k = key as u64;
    let classid = (k >> 32) as u32 as i64;
    let objid = (k & 0xffff_ffff) as i64;
    let row = c.query_opt(
        "SELECT a.application_name, COALESCE(host(a.client_addr), 'local socket')
           FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
          WHERE l.locktype = 'advisory' AND l.granted AND l.classid::bigint = $1 AND l.objid::bigint = $2
          LIMIT 1",
        &[&classid, &objid],
    )?;
    Ok(row.map(|r| format!("{} from {}", r.get::<_, String>(0), r.get::<_, String>(1))))
}

/// Creates or upgrades a component's tables: `steps[i]` brings the schema from version `i`
/// to `i + 1`. Runs under a transaction-level advisory lock, so workers starting together
/// do not race; refuses a database made by a newer program.
pub fn migrate(c: &mut postgres::Client, component: &str, steps: &[&str]) -> Result<(), String> {
    let mut tx = c.transaction().map_err(|e| render(&e))?;
    tx.execute(
        "SELECT pg_advisory_xact_lock($1)",
        &[&lock_key("imapsync-schema")],
    )
    .map_err(|e| render(&e))?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS imapsync_schema(component TEXT PRIMARY KEY, version BIGINT NOT NULL)",
    )
    .map_err(|e| render(&e))?;
    let have: i64 = tx
        .query_opt(
            "SELECT version FROM imapsync_schema WHERE component = $1",
            &[&component],
        )
        .map_err(|e| render(&e))?
        .map(|r| r.get(0))
        .unwrap_or(0);
    let want = steps.len() as i64;
    if have > want {
        return Err(format!(
            "the {component} tables have schema version {have}, newer than this program ({want})"
        ));
    }
    for step in &steps[have as usize..] {
        tx.batch_execute(step).map_err(|e| render(&e))?;
    }
    if have < want {
        tx.execute(
            "INSERT INTO imapsync_schema(component, version) VALUES($1, $2)
             ON CONFLICT (component) DO UPDATE SET version = EXCLUDED.version",
            &[&component, &want],
        )
        .map_err(|e| render(&e))?;
    }
    tx.commit().map_err(|e| render(&e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_shown_without_password() {
        for (url, shown) in [
            (
                "postgres://bob:s3cr%40t@db.example:5432/mig",
                "postgres://bob@db.example:5432/mig",
            ),
            (
                "postgresql://bob:x@h/db?sslmode=disable",
                "postgresql://bob@h/db?sslmode=disable",
            ),
            ("postgres://h:5/db", "postgres://h:5/db"),
            ("postgres://bob@h/db", "postgres://bob@h/db"),
            ("postgres://u:p@h", "postgres://u@h"),
        ] {
            assert_eq!(mask_url(url), shown, "{url}");
        }
        assert_eq!(
            url_password("postgres://bob:pw@h/db").as_deref(),
            Some("pw")
        );
        assert_eq!(url_password("postgres://bob@h/db"), None);
        assert!(is_url("postgresql://x") && is_url("postgres://x") && !is_url("state/x.sqlite"));
    }

    #[test]
    fn lock_keys_differ() {
        assert_ne!(lock_key("a"), lock_key("b"));
        assert_eq!(lock_key("a"), lock_key("a"));
    }
}
