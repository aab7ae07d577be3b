//! Throwaway PostgreSQL clusters: `initdb` in a private temp dir, one foreground `postgres`
//! on a random loopback port (its Unix socket in the same dir), stopped and removed on drop.
//!
//! PostgreSQL refuses to run as root, so when the tests run as root (CI) the cluster belongs
//! to the unprivileged `postgres` user of Debian's package (or `nobody`): the temp dir is
//! handed to that user and both programs run under its uid. The server is started through
//! [`crate::spawn`] with SIGQUIT (PostgreSQL's immediate shutdown) as parent-death signal, so
//! it cannot outlive the test process. Durability is off (`fsync=off`): a test cluster never
//! survives a crash of its machine anyway.
//!
//! Binaries: `$IMAPSYNC_TESTKIT_PGBIN`, else the newest `/usr/lib/postgresql/*/bin` (Debian's
//! `postgresql` package). When they are missing, [`Postgres::start`] fails with a message
//! saying how to install them; [`Postgres::start_or_skip`] returns `None` instead only when
//! `IMAPSYNC_TESTKIT_NO_POSTGRES=1` says this machine cannot have PostgreSQL, and prints so.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};

use crate::spawn::spawn_tied;

/// Environment variable naming the directory of `initdb` and `postgres`.
pub const PGBIN_ENV: &str = "IMAPSYNC_TESTKIT_PGBIN";
/// Set to `1` on a machine where PostgreSQL cannot be installed: tests that need it are
/// skipped (loudly) instead of failing.
pub const NO_POSTGRES_ENV: &str = "IMAPSYNC_TESTKIT_NO_POSTGRES";

/// A running throwaway cluster.
pub struct Postgres {
    dir: tempfile::TempDir,
    child: Option<Child>,
    port: u16,
    bin: PathBuf,
    owner: Option<(u32, u32)>,
}

impl std::fmt::Debug for Postgres {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Postgres(127.0.0.1:{})", self.port)
    }
}

/// The newest `bin` directory holding `initdb` and `postgres`.
pub fn find_bin() -> Result<PathBuf> {
    if let Some(d) = std::env::var_os(PGBIN_ENV) {
        let d = PathBuf::from(d);
        if d.join("initdb").is_file() && d.join("postgres").is_file() {
            return Ok(d);
        }
        bail!("{PGBIN_ENV}={} has no initdb and postgres", d.display());
    }
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            (bin.join("initdb").is_file() && bin.join("postgres").is_file()).then_some((v, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, b)| b).ok_or_else(|| {
        anyhow!(
            "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): \
             run scripts/deps.sh or `apt-get install postgresql`, or set {PGBIN_ENV}"
        )
    })
}

/// uid and gid of the unprivileged user clusters run as when we are root.
fn unprivileged_user() -> Result<(u32, u32)> {
    for name in ["postgres", "nobody"] {
        let c = std::ffi::CString::new(name)?;
        // SAFETY: getpwnam with a valid C string; the result is read at once, before any
        // other call that could overwrite the static buffer.
        let pw = unsafe { libc::getpwnam(c.as_ptr()) };
        if !pw.is_null() {
            // SAFETY: pw is non-null and points to a valid passwd record.
            let (uid, gid) = unsafe { ((*pw).pw_uid, (*pw).pw_gid) };
            return Ok((uid, gid));
        }
    }
    bail!("running as root and neither a `postgres` nor a `nobody` user exists")
}

fn chown(path: &Path, uid: u32, gid: u32) -> Result<()> {
    std::os::unix::fs::chown(path, Some(uid), Some(gid))
        .with_context(|| format!("chown {}", path.display()))
}

static DATABASES: AtomicU64 = AtomicU64::new(0);

impl Postgres {
    /// initdb and start a cluster (about a second).
    pub fn start() -> Result<Postgres> {
        let bin = find_bin()?;
        let dir = tempfile::Builder::new()
            .prefix("itk-postgres-")
            .tempdir()
            .context("creating the cluster's temp dir")?;
        // SAFETY: geteuid has no preconditions.
        let owner = if unsafe { libc::geteuid() } == 0 {
            let (u, g) = unprivileged_user()?;
            chown(dir.path(), u, g)?;
            Some((u, g))
        } else {
            None
        };
        let mut pg = Postgres {
            dir,
            child: None,
            port: 0,
            bin,
            owner,
        };
        let data = pg.dir.path().join("data");
        let out = pg
            .command("initdb")
            .arg("-D")
            .arg(&data)
            .args([
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ])
            .stdin(Stdio::null())
            .output()
            .context("running initdb")?;
        if !out.status.success() {
            bail!(
                "initdb failed ({}): {}{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let mut last = None;
        for _ in 0..5 {
            match pg.launch() {
                Ok(()) => return Ok(pg),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| anyhow!("postgres did not start")))
    }

    /// [`Postgres::start`], or `None` with a loud message when this machine is declared to
    /// have no PostgreSQL (`IMAPSYNC_TESTKIT_NO_POSTGRES=1`) and it is indeed missing.
    pub fn start_or_skip(test: &str) -> Option<Postgres> {
        if std::env::var(NO_POSTGRES_ENV).as_deref() == Ok("1") && find_bin().is_err() {
            eprintln!(
                "\n*** SKIPPED {test}: PostgreSQL is not installed and {NO_POSTGRES_ENV}=1 says it can not be ***\n"
            );
            return None;
        }
        Some(Postgres::start().unwrap_or_else(|e| panic!("{test}: PostgreSQL: {e:#}")))
    }

    fn command(&self, program: &str) -> Command {
        let mut c = Command::new(self.bin.join(program));
        if let Some((u, g)) = self.owner {
            use std::os::unix::process::CommandExt;
            c.uid(u).gid(g);
        }
        c.current_dir(self.dir.path());
        c
    }

    fn launch(&mut self) -> Result<()> {
        let port = crate::dovecot::pick_ports()?.0;
        let log_path = self.dir.path().join("postgres.log");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .context("opening the postgres log")?;
        if let Some((u, g)) = self.owner {
            chown(&log_path, u, g)?;
        }
        let mut cmd = self.command("postgres");
        cmd.arg("-D")
            .arg(self.dir.path().join("data"))
            .args([
                "-c",
                "listen_addresses=127.0.0.1",
                "-p",
                &port.to_string(),
                "-k",
            ])
            .arg(self.dir.path())
            .args([
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
                "-c",
                "max_connections=300",
                "-c",
                "shared_buffers=32MB",
            ])
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        let mut child = spawn_tied(cmd, libc::SIGQUIT).context("starting postgres")?;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                bail!(
                    "postgres exited at start ({status}):\n{}",
                    self.log_tail(20)
                );
            }
            if self.ping(port).is_ok() {
                self.port = port;
                self.child = Some(child);
                return Ok(());
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                bail!(
                    "postgres did not answer within 30 s:\n{}",
                    self.log_tail(20)
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn ping(&self, port: u16) -> Result<()> {
        let mut c = postgres::Client::connect(
            &format!("host=127.0.0.1 port={port} user=postgres dbname=postgres connect_timeout=2"),
            postgres::NoTls,
        )?;
        c.simple_query("SELECT 1")?;
        Ok(())
    }

    /// The TCP port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// URL of database `db` (user `postgres`, no password: the cluster trusts loopback).
    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    /// Creates a fresh, empty database and returns its URL.
    pub fn create_database(&self) -> Result<String> {
        let name = format!(
            "t{}_{}",
            std::process::id(),
            DATABASES.fetch_add(1, Ordering::SeqCst)
        );
        let mut c = postgres::Client::connect(&self.url("postgres"), postgres::NoTls)?;
        c.batch_execute(&format!("CREATE DATABASE {name}"))?;
        Ok(self.url(&name))
    }

    /// A client on database URL `url` (for assertions).
    pub fn client(&self, url: &str) -> Result<postgres::Client> {
        Ok(postgres::Client::connect(url, postgres::NoTls)?)
    }

    /// The last `n` lines of the server log.
    pub fn log_tail(&self, n: usize) -> String {
        let text =
            std::fs::read_to_string(self.dir.path().join("postgres.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SIGINT = fast shutdown (clients disconnected, clean stop).
            // SAFETY: signalling our own child.
            unsafe {
                libc::kill(child.id() as libc::pid_t, libc::SIGINT);
            }
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                if matches!(child.try_wait(), Ok(Some(_)) | Err(_)) {
                    break;
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}
