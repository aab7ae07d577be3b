//! `imapsync batch ...`: the batch (crate `imapsync-batch`) with this command line as its
//! account runner. Each account's options are read exactly as a plain `imapsync` run reads
//! them (parser, `options_extra.txt`, `--extra`, resolved configuration), then the sync runs
//! in this process with the account's own log file (imapsync's naming, under `--logdir`).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use imapsync_batch::store::Progress;
use imapsync_batch::{AccountRunner, Checked, LiveAccount, Outcome, OutcomeFuture};
use imapsync_plan::display::{LogfileSpec, local_offset, setlogfile};
use imapsync_plan::errors::exit_name;
use imapsync_sync::{Out, RunHandle};

use crate::flags::{self, Parsed};
use crate::hiargs;

/// Runs `imapsync batch ARGS`.
pub fn main(args: Vec<String>) -> i32 {
    imapsync_batch::main(args, Arc::new(CliRunner))
}

struct CliRunner;

/// Options of a plain run that make no sense for one account of a batch.
const NOT_IN_BATCH: &[&str] = &["justconnect", "pidfilelocking", "tail", "abort"];

/// An account's options, read as `app::main_with` reads a command line; `Err` is the exit
/// code and message a plain run would end with.
fn parse(args: Vec<String>) -> Result<(Parsed, Vec<String>), (i32, String)> {
    let mut parsed = flags::parse(args).map_err(|e| (e.exit_code(), e.to_string()))?;
    let mut notes = Vec::new();
    if let Ok(text) = std::fs::read_to_string("options_extra.txt") {
        let first = text.lines().next().unwrap_or("").to_string();
        let extra = flags::parse_extra(&first);
        notes.extend(
            extra
                .problems
                .iter()
                .map(|p| format!("options_extra.txt: {p}")),
        );
        parsed.merge(&extra.options);
        notes.push(format!("Read options from options_extra.txt: {first}"));
    }
    for e in parsed.list("extra").to_vec() {
        let extra = flags::parse_extra(&e);
        notes.extend(extra.problems.iter().map(|p| format!("--extra: {p}")));
        parsed.merge(&extra.options);
    }
    let unsupported = parsed.not_yet_supported();
    if !unsupported.is_empty() {
        return Err((
            64,
            unsupported
                .iter()
                .map(|o| format!("option {o} is not supported yet"))
                .collect::<Vec<_>>()
                .join("; "),
        ));
    }
    for o in NOT_IN_BATCH {
        if parsed.bool(o) == Some(true) {
            return Err((64, format!("option --{o} is not available in a batch")));
        }
    }
    Ok((parsed, notes))
}

impl AccountRunner for CliRunner {
    fn check(&self, args: &[String]) -> Result<Checked, (i32, String)> {
        let (parsed, _) = parse(args.to_vec())?;
        let (cfg, _) = hiargs::build(&parsed).map_err(|e| (e.exit_code, e.message))?;
        let pairs = cfg.side1.connections.min(cfg.side2.connections).max(1);
        Ok(Checked {
            connections: u32::try_from(pairs).unwrap_or(u32::MAX),
        })
    }

    fn start(&self, args: Vec<String>) -> (Arc<dyn LiveAccount>, OutcomeFuture) {
        let live = Arc::new(Live {
            handle: RunHandle::new(),
            log: Mutex::new(None),
        });
        let l = live.clone();
        (live, Box::pin(async move { run_account(args, l).await }))
    }
}

/// The account's log file: buffered, flushed at least every [`FLUSH_EVERY`] and at the end.
struct Log {
    file: std::io::BufWriter<std::fs::File>,
    last_flush: Instant,
}

const FLUSH_EVERY: Duration = Duration::from_millis(500);

impl Log {
    fn line(&mut self, s: &str) {
        let _ = self.file.write_all(s.as_bytes());
        let _ = self.file.write_all(b"\n");
        if self.last_flush.elapsed() >= FLUSH_EVERY {
            let _ = self.file.flush();
            self.last_flush = Instant::now();
        }
    }
}

struct Live {
    handle: Arc<RunHandle>,
    log: Mutex<Option<Arc<Mutex<Log>>>>,
}

impl LiveAccount for Live {
    fn progress(&self) -> Progress {
        let errors = self.handle.errors().len() as u64;
        self.handle.stats().map_or(
            Progress {
                errors,
                ..Progress::default()
            },
            |s| Progress {
                transferred: s.transferred,
                skipped: s.skipped,
                errors,
                bytes: s.bytes_transferred,
            },
        )
    }

    fn stop(&self, why: &str) {
        if let Ok(l) = self.log.lock()
            && let Some(log) = l.as_ref()
            && let Ok(mut log) = log.lock()
        {
            log.line(&format!("Batch: stopping this account: {why}"));
        }
        self.handle.stop();
    }
}

fn failed(code: i32, message: String, log_file: Option<String>) -> Outcome {
    Outcome {
        exit_code: code,
        progress: Progress::default(),
        errors: vec![message],
        log_file,
    }
}

fn open_log(path: &Path) -> std::io::Result<std::fs::File> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
    }
    imapsync_state::private_file(path, true)
}

async fn run_account(args: Vec<String>, live: Arc<Live>) -> Outcome {
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    let (parsed, notes) = match parse(args) {
        Ok(p) => p,
        Err((code, msg)) => return failed(code, msg, None),
    };
    let (mut cfg, extras) = match hiargs::build(&parsed) {
        Ok(c) => c,
        Err(e) => return failed(e.exit_code, e.message, None),
    };
    let log_path = parsed.bool("log").unwrap_or(true).then(|| {
        PathBuf::from(setlogfile(
            &LogfileSpec {
                timestart: started,
                user1: parsed.string("user1"),
                user2: parsed.string("user2"),
                supplement: "",
                abort: false,
                logdir: parsed.string("logdir").unwrap_or("LOG_imapsync"),
                logfile: parsed.string("logfile"),
            },
            local_offset,
        ))
    });
    let log = match &log_path {
        Some(p) => match open_log(p) {
            Ok(f) => Some(Arc::new(Mutex::new(Log {
                file: std::io::BufWriter::with_capacity(64 * 1024, f),
                last_flush: Instant::now(),
            }))),
            Err(e) => {
                return failed(
                    74,
                    format!("can not open log file {}: {e}", p.display()),
                    None,
                );
            }
        },
        None => None,
    };
    if let Ok(mut l) = live.log.lock() {
        *l = log.clone();
    }
    let out = {
        let log = log.clone();
        Out::new(move |s: &str| {
            if let Some(log) = &log
                && let Ok(mut l) = log.lock()
            {
                l.line(s);
            }
        })
    };
    let debug_all = parsed.bool("debugimap").unwrap_or(false);
    for (side, n) in [(&mut cfg.side1, 1), (&mut cfg.side2, 2)] {
        if debug_all || parsed.bool(&format!("debugimap{n}")).unwrap_or(false) {
            let o = out.clone();
            side.connect.tracer = Some(Arc::new(move |s, line: &str| {
                o.line(format!("{s}: {line}"))
            }));
        }
    }
    out.line(crate::app::banner());
    out.line(format!(
        "Transfer started at {}",
        imapsync_plan::display::localtimez_local(started)
    ));
    out.line(format!(
        "PID is {} (a batch: this account runs inside it)",
        std::process::id()
    ));
    if let Some(p) = &log_path {
        out.line(format!("Log file is {}", p.display()));
    }
    out.line(format!(
        "Command line used: {}",
        crate::app::command_line(&parsed)
    ));
    for l in notes.iter().chain(extras.warnings.iter()) {
        out.line(l);
    }
    let result = imapsync_sync::run_with(cfg, out.clone(), &live.handle).await;
    if result.signal.is_some() {
        out.line(format!("Exiting with return value {}", result.exit_code));
    } else {
        out.line(imapsync_plan::errors::exiting_line(
            result.exit_code,
            result.nb_errors,
            parsed
                .int("errorsmax")
                .map(|v| v.max(1) as u64)
                .unwrap_or(50),
            std::process::id(),
        ));
    }
    if let Some(l) = &log
        && let Ok(mut l) = l.lock()
    {
        let _ = l.file.flush();
    }
    let s = &result.stats;
    let mut errors = live.handle.errors();
    if errors.is_empty() && result.exit_code != 0 {
        errors.push(format!(
            "exit {} ({})",
            result.exit_code,
            exit_name(result.exit_code)
        ));
    }
    Outcome {
        exit_code: result.exit_code,
        progress: Progress {
            transferred: s.transferred,
            skipped: s.skipped,
            errors: result.nb_errors,
            bytes: s.bytes_transferred,
        },
        errors,
        log_file: log_path.map(|p| p.display().to_string()),
    }
}
