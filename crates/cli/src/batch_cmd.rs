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

use imapsync_sync::config::{Mode, SignalPlan};

use crate::flags;
use crate::hiargs::{self, Action, Invocation};

/// Runs `imapsync batch ARGS`.
pub fn main(args: Vec<String>) -> i32 {
    imapsync_batch::main(args, Arc::new(CliRunner))
}

struct CliRunner;

/// An account's options, resolved exactly as a plain run resolves them (`options_extra.txt`,
/// `--extra`, defaults, presets); `Err` is the exit code and message a plain run would end
/// with. Options that make no sense for one account of a batch are refused. A batch handles
/// signals itself: an account's run watches none, nor an abort file.
fn resolve(args: Vec<String>) -> Result<Invocation, (i32, String)> {
    let parsed = flags::parse(args).map_err(|e| (e.exit_code(), e.to_string()))?;
    let not_here = |o: &str| Err((64, format!("option --{o} is not available in a batch")));
    let mut inv = match hiargs::resolve(parsed).map_err(|e| (e.exit_code, e.message))? {
        Action::Run(inv) => *inv,
        Action::NotSupported(options) => {
            return Err((
                64,
                options
                    .iter()
                    .map(|o| format!("option {o} is not supported yet"))
                    .collect::<Vec<_>>()
                    .join("; "),
            ));
        }
        Action::Help | Action::Version => return not_here("help/--version"),
        Action::Abort { .. } => return not_here("abort"),
    };
    match inv.config.mode {
        Mode::JustConnect => return not_here("justconnect (or a missing host or user)"),
        Mode::JustBanner => return not_here("justbanner"),
        _ => {}
    }
    if inv.pidfilelocking {
        return not_here("pidfilelocking");
    }
    if inv.tail {
        return not_here("tail");
    }
    inv.config.signals = SignalPlan {
        actions: Vec::new(),
    };
    inv.config.abort_file = None;
    Ok(inv)
}

impl AccountRunner for CliRunner {
    fn check(&self, args: &[String]) -> Result<Checked, (i32, String)> {
        let inv = resolve(args.to_vec())?;
        let pairs = inv.config.pairs();
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
    let mut inv = match resolve(args) {
        Ok(i) => i,
        Err((code, msg)) => return failed(code, msg, None),
    };
    let l = &inv.log;
    let log_path = l.enabled.then(|| {
        PathBuf::from(setlogfile(
            &LogfileSpec {
                timestart: started,
                user1: l.user1.as_deref(),
                user2: l.user2.as_deref(),
                supplement: "",
                abort: false,
                logdir: &l.logdir,
                logfile: l.logfile.as_deref(),
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
    for (side, on) in [&mut inv.config.side1, &mut inv.config.side2]
        .into_iter()
        .zip(inv.debugimap)
    {
        if on {
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
    out.line(format!("Command line used: {}", inv.command_line));
    for l in &inv.notes {
        out.line(l);
    }
    let errorsmax = inv.config.errorsmax;
    let result = imapsync_sync::run_with(inv.config, out.clone(), &live.handle).await;
    if result.signal.is_some() {
        out.line(format!("Exiting with return value {}", result.exit_code));
    } else {
        out.line(imapsync_plan::errors::exiting_line(
            result.exit_code,
            result.nb_errors,
            errorsmax,
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
