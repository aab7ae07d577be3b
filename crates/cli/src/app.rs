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
    if args.first().is_some_and(|a| a == "batch") {
        return crate::batch_cmd::main(args[1..].to_vec());
    }
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
                eprintln!("{}", hiargs::not_supported_line(o));
            }
            eprintln!("Exiting with return value 64 ({})", exit_name(64));
            64
        }
        Ok(Action::Abort { pidfile, by_file }) => abort_other(pidfile.as_deref(), by_file),
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

pub(crate) fn banner() -> String {
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
    if inv.modulesversion {
        out.lines(&modules_lines());
    }
    if inv.debugenv {
        out.lines(&env_lines());
    }
    if inv.debugsig {
        let pid = std::process::id();
        for (name, action) in &inv.config.signals.actions {
            out.line(format!("kill -{name} {pid} # {action:?}"));
        }
    }
}

/// The versions of the main libraries built in (imapsync lists its Perl modules).
fn modules_lines() -> Vec<String> {
    const LOCK: &str = include_str!("../../../Cargo.lock");
    const SHOWN: &[&str] = &[
        "flate2",
        "postgres",
        "ring",
        "rusqlite",
        "rustls",
        "serde_json",
        "tokio",
        "tokio-rustls",
    ];
    let mut lines = vec!["Modules version list ( use --no-modulesversion to turn off printing this Rust crates list ):".to_string()];
    let mut name = "";
    for l in LOCK.lines() {
        if let Some(n) = l.strip_prefix("name = \"") {
            name = n.trim_end_matches('"');
        } else if let Some(v) = l.strip_prefix("version = \"")
            && SHOWN.contains(&name)
        {
            lines.push(format!("{name:<20} {}", v.trim_end_matches('"')));
        }
    }
    lines.push(format!("{:<20} {}", "imapsync-rs", flags::VERSION));
    lines
}

/// `--debugenv`: the environment, secrets masked.
fn env_lines() -> Vec<String> {
    let mut vars: Vec<(String, String)> = std::env::vars_os()
        .map(|(k, v)| {
            (
                k.to_string_lossy().into_owned(),
                v.to_string_lossy().into_owned(),
            )
        })
        .collect();
    vars.sort();
    vars.into_iter()
        .map(|(k, v)| {
            let secret = ["PASSWORD", "SECRET", "TOKEN", "PASS"]
                .iter()
                .any(|w| k.to_ascii_uppercase().contains(w));
            format!("ENV {k} = {}", if secret { "MASKED" } else { v.as_str() })
        })
        .collect()
}

/// `--exitonload`: the reason not to start, when the machine is overloaded.
fn overloaded() -> Option<String> {
    let load1 = std::env::var("IMAPSYNC_RS_TEST_LOADAVG")
        .ok()
        .or_else(|| std::fs::read_to_string("/proc/loadavg").ok())
        .and_then(|t| {
            t.split_whitespace()
                .next()
                .and_then(|w| w.parse::<f64>().ok())
        })
        .unwrap_or(0.0);
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let mem = std::fs::read_to_string("/proc/meminfo").ok().and_then(|t| {
        let kib = |key: &str| {
            t.lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|r| r.split_whitespace().next())
                .and_then(|n| n.parse::<u64>().ok())
        };
        Some((kib("MemAvailable:")?, kib("MemTotal:")?))
    });
    imapsync_plan::throttle::heavy_load(load1, cpus, mem)
}

/// `--oauthloginN`: the interactive sign-ins, each saving its token file; the side then gets
/// its tokens from that file. Exit code 161/162 when one fails.
fn oauth_logins(inv: &mut Invocation) -> Result<(), i32> {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("Failure: can not start the runtime: {e}");
            return Err(1);
        }
    };
    for l in std::mem::take(&mut inv.oauth_logins) {
        let side = if l.side == 1 {
            &mut inv.config.side1
        } else {
            &mut inv.config.side2
        };
        match runtime.block_on(crate::oauthargs::login(&l)) {
            Ok(source) => side.connect.oauth = Some(source),
            Err(e) => {
                let code = 160 + i32::from(l.side);
                println!(
                    "Host{} failure: OAuth2 sign-in for user [{}] failed: {e}",
                    l.side, l.user
                );
                println!("Exiting with return value {code} ({})", exit_name(code));
                return Err(code);
            }
        }
    }
    Ok(())
}

/// A run: log, pidfile, the sync (or just* mode), the closing lines; returns the exit code.
fn run(mut inv: Invocation) -> i32 {
    if !inv.oauth_logins.is_empty()
        && let Err(code) = oauth_logins(&mut inv)
    {
        return code;
    }
    let started = now_epoch();
    let o = output(&inv.log, started);
    let out = o.out.clone();
    for side in [&inv.config.side1, &inv.config.side2] {
        if let Some(src) = &side.connect.oauth {
            let o = out.clone();
            let s = side.connect.side;
            src.set_notifier(Arc::new(move |line: &str| o.line(format!("{s}: {line}"))));
        }
    }
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
    if inv.exitonload
        && let Some(why) = overloaded()
    {
        out.line(format!("Server is on heavy load ({why}). Be back later."));
        out.line(format!(
            "Exiting with return value 69 ({}) 1/{} nb_errors/max_errors PID {}",
            exit_name(69),
            inv.config.errorsmax,
            std::process::id()
        ));
        o.flush();
        return 69;
    }
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
/// code that ends the run now (8, as imapsync, when the pidfile can not be written or is
/// held).
fn claim_pidfile(inv: &Invocation, o: &Output) -> Result<Option<PathBuf>, i32> {
    let out = &o.out;
    let Some(p) = &inv.pidfile else {
        out.line("PID file is unset ( to set it, use --pidfile filepath ; to avoid it use --pidfile \"\" )");
        return Ok(None);
    };
    out.line(format!(
        "PID file is {} ( to change it, use --pidfile filepath ; to avoid it use --pidfile \"\" )",
        p.display()
    ));
    let refuse = |why: String| {
        out.line(why);
        out.line(format!(
            "Exiting with return value 8 ({}) 0/{} nb_errors/max_errors PID {}",
            exit_name(8),
            inv.config.errorsmax,
            std::process::id()
        ));
        Err(8)
    };
    match pidfile_owner(p) {
        Owner::None => {}
        Owner::Live(pid, other_log) if inv.pidfilelocking => {
            if inv.tail {
                out.line(format!("Another imapsync (PID {pid}) is running; following its log {other_log} until it ends"));
                tail_until_exit(pid, &other_log, out);
                return Err(0);
            }
            return refuse(format!(
                "{} already exists and its process {pid} is running, another imapsync is currently running. Aborting imapsync.",
                p.display()
            ));
        }
        Owner::Unreadable(e) if inv.pidfilelocking => {
            return refuse(format!(
                "{} already exists and can not be read ({e}), another imapsync may be currently running. Aborting imapsync.",
                p.display()
            ));
        }
        Owner::Dead(pid) if inv.pidfilelocking => out.line(format!(
            "{} already exists but its process {pid} is gone: taking it over",
            p.display()
        )),
        _ => out.line(format!(
            "{} already exists, overwriting it ( use --pidfilelocking to avoid concurrent runs )",
            p.display()
        )),
    }
    match write_pidfile(p, o.log_path.as_deref()) {
        Ok(()) => {
            out.line(format!(
                "Writing my PID {} in {}",
                std::process::id(),
                p.display()
            ));
            Ok(Some(p.clone()))
        }
        Err(e) => refuse(format!(
            "Could not open {} for writing. Check permissions or disk space: {e}",
            p.display()
        )),
    }
}

/// Who holds a pidfile.
enum Owner {
    /// No pidfile.
    None,
    /// A running process (PID, its log file).
    Live(i32, String),
    /// A process that is gone.
    Dead(i32),
    /// A pidfile that can not be read or makes no sense.
    Unreadable(String),
}

fn pidfile_owner(path: &Path) -> Owner {
    let text = match std::fs::read(path) {
        Ok(t) => String::from_utf8_lossy(&t).into_owned(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Owner::None,
        Err(e) => return Owner::Unreadable(e.to_string()),
    };
    let mut lines = text.lines();
    let Some(pid) = lines
        .next()
        .and_then(|l| l.trim().parse::<i32>().ok())
        .filter(|&p| p > 0)
    else {
        return Owner::Unreadable("no process number in it".into());
    };
    let log = lines.next().unwrap_or("").trim().to_string();
    if pid as u32 != std::process::id() && process_alive(pid) {
        Owner::Live(pid, log)
    } else {
        Owner::Dead(pid)
    }
}

/// PID and log path of a pidfile whose process is still running.
fn running_owner(path: &Path) -> Option<(i32, String)> {
    match pidfile_owner(path) {
        Owner::Live(pid, log) => Some((pid, log)),
        _ => None,
    }
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

/// `--abort`: stops the run whose PID is in the pidfile, as imapsync: QUIT, then KILL if it
/// is still there after 3 s; with `--abortbyfile`, creates its abort file instead (the run
/// stops at its next check, prints its statistics and exits 7).
pub fn abort_other(pidfile: Option<&Path>, by_file: bool) -> i32 {
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
    if by_file {
        let file = hiargs::abort_file(path, pid as u32);
        println!("touching {}", file.display());
        if let Err(e) = imapsync_state::private_file(&file, false) {
            println!("--abort: can not create {}: {e}", file.display());
            return 1;
        }
        return 0;
    }
    println!(
        "Sending signal QUIT to PID {pid} (pidfile {})",
        path.display()
    );
    // SAFETY: sending a signal to a PID read from our pidfile.
    unsafe {
        libc::kill(pid, libc::SIGQUIT);
    }
    for _ in 0..30 {
        if !process_alive(pid) {
            println!("Process PID {pid} ended.");
            return 0;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    println!("Sending signal KILL to PID {pid}");
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
