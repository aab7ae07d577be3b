//! The program: parse, check, set up logging, run, print the end lines, exit code.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use imapsync_plan::display::{LogfileSpec, local_offset, setlogfile};
use imapsync_plan::errors::exit_name;
use imapsync_sync::Out;

use crate::flags;
use crate::hiargs::{self, Action, Invocation, LogSettings};

/// Where lines go: stdout and, unless `--nolog`, the log file. Both are buffered and
/// flushed at least every [`FLUSH_EVERY`], so thousands of per-message lines cost a few
/// writes, while a person watching still sees progress.
struct Tee {
    out: std::io::BufWriter<std::io::Stdout>,
    log: Option<std::io::BufWriter<std::fs::File>>,
    last_flush: std::time::Instant,
}

/// Longest time a printed line waits in a buffer.
const FLUSH_EVERY: std::time::Duration = std::time::Duration::from_millis(200);

impl Tee {
    fn write(&mut self, s: &str) {
        let _ = self.out.write_all(s.as_bytes());
        let _ = self.out.write_all(b"\n");
        if let Some(f) = &mut self.log {
            let _ = f.write_all(s.as_bytes());
            let _ = f.write_all(b"\n");
        }
        if self.last_flush.elapsed() >= FLUSH_EVERY {
            self.flush();
        }
    }

    fn flush(&mut self) {
        let _ = self.out.flush();
        if let Some(f) = &mut self.log {
            let _ = f.flush();
        }
        self.last_flush = std::time::Instant::now();
    }
}

fn now_epoch() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Opens the log file (0600, parents 0700, no symlink followed).
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

/// Runs the program with `args` (without the program name); returns the exit code.
pub fn main_with(args: Vec<String>) -> i32 {
    if args.is_empty() {
        print!("{}", flags::help_text());
        return 0;
    }
    let parsed = match flags::parse(args) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            eprintln!("{}", flags::usage_hint());
            return e.exit_code();
        }
    };
    match hiargs::resolve(parsed) {
        Ok(Action::Help) => {
            print!("{}", flags::help_text());
            0
        }
        Ok(Action::Version) => {
            println!("{}", flags::VERSION);
            0
        }
        Ok(Action::NotSupported(options)) => {
            for o in &options {
                eprintln!("option {o} is not supported yet");
            }
            eprintln!("Exiting with return value 64 ({})", exit_name(64));
            64
        }
        Ok(Action::Abort(pidfile)) => abort_other(pidfile.as_deref()),
        Ok(Action::Run(inv)) => run(*inv),
        Err(e) => {
            eprintln!("{}", e.message);
            eprintln!(
                "Exiting with return value {} ({})",
                e.exit_code,
                exit_name(e.exit_code)
            );
            e.exit_code
        }
    }
}

fn banner() -> String {
    format!(
        "Here is imapsync-rs {} (a Rust re-implementation of imapsync, option-compatible with imapsync 2.229/2.314) on {} {}",
        flags::VERSION,
        std::env::consts::OS,
        std::env::consts::ARCH
    )
}

/// Where lines go, and the log file they also go to.
struct Output {
    out: Out,
    tee: Arc<Mutex<Tee>>,
    log_path: Option<PathBuf>,
    /// Lines to print once printing starts (a log file that could not be opened).
    pre: Vec<String>,
}

impl Output {
    fn flush(&self) {
        if let Ok(mut t) = self.tee.lock() {
            t.flush();
        }
    }
}

/// Opens the log file (unless `--nolog`) and the line printer over stdout and it.
fn output(log: &LogSettings, started: f64) -> Output {
    let mut log_path: Option<PathBuf> = None;
    let mut log_file = None;
    let mut pre = Vec::new();
    if log.enabled {
        let spec = LogfileSpec {
            timestart: started,
            user1: log.user1.as_deref(),
            user2: log.user2.as_deref(),
            supplement: "",
            abort: false,
            logdir: &log.logdir,
            logfile: log.logfile.as_deref(),
        };
        let path = PathBuf::from(setlogfile(&spec, local_offset));
        match open_log(&path) {
            Ok(f) => {
                log_file = Some(f);
                log_path = Some(path);
            }
            Err(e) => pre.push(format!(
                "Warning: can not open log file {}: {e}",
                path.display()
            )),
        }
    }
    let tee = Arc::new(Mutex::new(Tee {
        out: std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout()),
        log: log_file.map(|f| std::io::BufWriter::with_capacity(64 * 1024, f)),
        last_flush: std::time::Instant::now(),
    }));
    {
        // Flush what waits in the buffers even when nothing new is printed for a while.
        let weak = Arc::downgrade(&tee);
        std::thread::spawn(move || {
            while let Some(t) = weak.upgrade() {
                if let Ok(mut t) = t.lock() {
                    t.flush();
                }
                drop(t);
                std::thread::sleep(FLUSH_EVERY);
            }
        });
    }
    let out = {
        let tee = tee.clone();
        Out::new(move |s: &str| {
            if let Ok(mut t) = tee.lock() {
                t.write(s);
            }
        })
    };
    Output {
        out,
        tee,
        log_path,
        pre,
    }
}

/// The lines every run starts with.
fn header(inv: &Invocation, o: &Output, started: f64) {
    let out = &o.out;
    out.line(banner());
    out.line(format!(
        "Transfer started at {}",
        imapsync_plan::display::localtimez_local(started)
    ));
    out.line(format!("PID is {}", std::process::id()));
    match &o.log_path {
        Some(p) => out.line(format!("Log file is {}", p.display())),
        None => out.line("No log file because of option --nolog"),
    }
    out.line(format!("Command line used: {}", inv.command_line));
    for l in o.pre.iter().chain(inv.notes.iter()) {
        out.line(l);
    }
    out.line("Info: will resync flags for already transferred messages. Use --noresyncflags to not resync flags.");
    out.line("Info: turned ON syncinternaldates, will set the internal dates (arrival dates) on host2 same as host1.");
}

/// A run: log, pidfile, the sync (or just* mode), the closing lines; returns the exit code.
fn run(mut inv: Invocation) -> i32 {
    let started = now_epoch();
    let o = output(&inv.log, started);
    let out = o.out.clone();
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
    header(&inv, &o, started);
    let pidfile = match claim_pidfile(&inv, &o) {
        Ok(p) => p,
        Err(code) => {
            o.flush();
            return code;
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            out.line(format!("Failure: can not start the runtime: {e}"));
            return 1;
        }
    };
    if inv.releasecheck {
        inv.config.release_line = Some(crate::release::check());
    }
    let errorsmax = inv.config.errorsmax;
    let result = runtime.block_on(imapsync_sync::run(inv.config, out.clone()));
    let code = result.exit_code;
    if result.signal.is_some() {
        out.line(format!("Exiting with return value {code}"));
        if let Some(p) = &pidfile {
            let _ = std::fs::remove_file(p);
        }
        o.flush();
        return code;
    }
    out.line(imapsync_plan::errors::exiting_line(
        code,
        result.nb_errors,
        errorsmax,
        std::process::id(),
    ));
    if let Some(p) = &pidfile {
        out.line(format!("Removing pidfile {}", p.display()));
        let _ = std::fs::remove_file(p);
    }
    match &o.log_path {
        Some(p) => out.line(format!(
            "Log file is {} ( to change it, use --logfile filepath ; or use --nolog to turn off logging )",
            p.display()
        )),
        None => out.line("No log file because of option --nolog"),
    }
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    o.flush();
    code
}

/// `--pidfilelocking` (refuse, or `--tail` the running one), then write this run's pidfile.
/// Returns the pidfile this run wrote (only that one is removed at the end), or the exit
/// code that ends the run now.
fn claim_pidfile(inv: &Invocation, o: &Output) -> Result<Option<PathBuf>, i32> {
    let out = &o.out;
    if inv.pidfilelocking
        && let Some(p) = &inv.pidfile
        && let Some((pid, other_log)) = running_owner(p)
    {
        if inv.tail {
            out.line(format!("Another imapsync (PID {pid}) is running; following its log {other_log} until it ends"));
            tail_until_exit(pid, &other_log, out);
            return Err(0);
        }
        out.line(format!(
            "pidfile {} exists and its process {pid} is running: exiting (--pidfilelocking)",
            p.display()
        ));
        out.line(format!("Exiting with return value 8 ({})", exit_name(8)));
        return Err(8);
    }
    let Some(p) = &inv.pidfile else {
        return Ok(None);
    };
    match write_pidfile(p, o.log_path.as_deref()) {
        Ok(()) => Ok(Some(p.clone())),
        Err(e) => {
            out.line(format!(
                "Warning: can not write pidfile {}: {e}",
                p.display()
            ));
            Ok(None)
        }
    }
}

/// PID and log path of a pidfile whose process is still running.
fn running_owner(path: &Path) -> Option<(i32, String)> {
    let text = std::fs::read_to_string(path).ok()?;
    let mut lines = text.lines();
    let pid: i32 = lines.next()?.trim().parse().ok()?;
    let log = lines.next().unwrap_or("").trim().to_string();
    (pid > 0 && pid as u32 != std::process::id() && process_alive(pid)).then_some((pid, log))
}

fn process_alive(pid: i32) -> bool {
    // SAFETY: kill with signal 0 only checks the process exists.
    unsafe { libc::kill(pid, 0) == 0 }
}

/// `--tail`: prints what another run appends to its log until that run ends.
fn tail_until_exit(pid: i32, log: &str, out: &Out) {
    use std::io::{Read, Seek, SeekFrom};
    let mut pos = 0u64;
    loop {
        let alive = process_alive(pid);
        let mut buf = String::new();
        if let Ok(mut f) = std::fs::File::open(log)
            && f.seek(SeekFrom::Start(pos)).is_ok()
            && let Ok(n) = f.read_to_string(&mut buf)
        {
            pos += n as u64;
            for l in buf.lines() {
                out.line(l);
            }
        }
        if !alive {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
}

/// `--abort`: stops the run whose PID is in the pidfile (TERM, then KILL after 3 s).
pub fn abort_other(pidfile: Option<&Path>) -> i32 {
    let Some(path) = pidfile else {
        eprintln!("--abort: no pidfile (--pidfile \"\")");
        return 0;
    };
    let Some((pid, _)) = running_owner(path) else {
        println!(
            "--abort: no running imapsync found through pidfile {}",
            path.display()
        );
        return 0;
    };
    println!("Sending TERM to PID {pid} (pidfile {})", path.display());
    // SAFETY: sending a signal to a PID read from our pidfile.
    unsafe {
        libc::kill(pid, libc::SIGTERM);
    }
    for _ in 0..30 {
        if !process_alive(pid) {
            println!("PID {pid} ended");
            return 0;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    println!("PID {pid} still runs after 3 s: sending KILL");
    // SAFETY: as above.
    unsafe {
        libc::kill(pid, libc::SIGKILL);
    }
    0
}

fn write_pidfile(path: &Path, log: Option<&Path>) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        && !dir.exists()
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
    }
    let mut f = imapsync_state::private_file(path, true)?;
    writeln!(f, "{}", std::process::id())?;
    writeln!(
        f,
        "{}",
        log.map(|l| l.display().to_string()).unwrap_or_default()
    )?;
    Ok(())
}
