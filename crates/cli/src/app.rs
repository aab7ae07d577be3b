//! The program: parse, check, set up logging, run, print the end lines, exit code.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use imapsync_plan::display::{LogfileSpec, local_offset, setlogfile};
use imapsync_plan::errors::exit_name;
use imapsync_sync::{Config, Out};

use crate::flags::{self, Parsed};
use crate::hiargs;

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
    let mut parsed = match flags::parse(args) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            eprintln!("{}", flags::usage_hint());
            return e.exit_code();
        }
    };
    // options_extra.txt (first line) and --extra: imapsync's restricted option set.
    let mut extra_notes = Vec::new();
    if let Ok(text) = std::fs::read_to_string("options_extra.txt") {
        let first = text.lines().next().unwrap_or("").to_string();
        let extra = flags::parse_extra(&first);
        for p in &extra.problems {
            extra_notes.push(format!("options_extra.txt: {p}"));
        }
        parsed.merge(&extra.options);
        extra_notes.push(format!("Read options from options_extra.txt: {first}"));
    }
    for e in parsed.list("extra").to_vec() {
        let extra = flags::parse_extra(&e);
        for p in &extra.problems {
            extra_notes.push(format!("--extra: {p}"));
        }
        parsed.merge(&extra.options);
    }
    if parsed.bool("help") == Some(true) {
        print!("{}", flags::help_text());
        return 0;
    }
    if parsed.bool("version") == Some(true) {
        println!("{}", flags::VERSION);
        return 0;
    }
    let unsupported = parsed.not_yet_supported();
    if !unsupported.is_empty() {
        for o in &unsupported {
            eprintln!("option {o} is not supported yet");
        }
        eprintln!("Exiting with return value 64 ({})", exit_name(64));
        return 64;
    }
    if parsed.bool("abort") == Some(true) {
        return abort_other(&parsed);
    }
    if parsed.bool("justbanner") == Some(true) {
        println!("{}", banner());
        println!("Command line used: {}", command_line(&parsed));
        return 0;
    }
    let build = |parsed: &Parsed| match hiargs::build(parsed) {
        Ok(c) => Ok(c),
        Err(e) => {
            eprintln!("{}", e.message);
            eprintln!(
                "Exiting with return value {} ({})",
                e.exit_code,
                exit_name(e.exit_code)
            );
            Err(e.exit_code)
        }
    };
    let (mut cfg, mut extras) = match build(&parsed) {
        Ok(c) => c,
        Err(code) => return code,
    };
    if !extras.oauth_logins.is_empty() {
        // Sign in first, then read the options again: the token file now has what the run
        // needs.
        if let Err(code) = oauth_logins(&extras.oauth_logins) {
            return code;
        }
        (cfg, extras) = match build(&parsed) {
            Ok(c) => c,
            Err(code) => return code,
        };
    }
    run_configured(&parsed, cfg, extras, extra_notes)
}

/// `--oauthloginN`: the interactive sign-ins, each saving its token file. Exit code 161/162
/// when one fails.
fn oauth_logins(logins: &[hiargs::OAuthLogin]) -> Result<(), i32> {
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
    for l in logins {
        if let Err(e) = runtime.block_on(crate::oauthargs::login(l)) {
            let code = 160 + i32::from(l.side);
            println!(
                "Host{} failure: OAuth2 sign-in for user [{}] failed: {e}",
                l.side, l.user
            );
            println!("Exiting with return value {code} ({})", exit_name(code));
            return Err(code);
        }
    }
    Ok(())
}

fn banner() -> String {
    format!(
        "Here is imapsync-rs {} (a Rust re-implementation of imapsync, option-compatible with imapsync 2.229/2.314) on {} {}",
        flags::VERSION,
        std::env::consts::OS,
        std::env::consts::ARCH
    )
}

fn command_line(p: &Parsed) -> String {
    format!("imapsync {}", p.masked_command_line())
}

fn run_configured(
    parsed: &Parsed,
    mut cfg: Config,
    extras: hiargs::Extras,
    notes: Vec<String>,
) -> i32 {
    let started = now_epoch();
    // Log file.
    let log_enabled = parsed.bool("log").unwrap_or(true);
    let mut log_path: Option<PathBuf> = None;
    let mut log_file = None;
    let mut pre = Vec::new();
    if log_enabled {
        let spec = LogfileSpec {
            timestart: started,
            user1: parsed.string("user1"),
            user2: parsed.string("user2"),
            supplement: "",
            abort: false,
            logdir: parsed.string("logdir").unwrap_or("LOG_imapsync"),
            logfile: parsed.string("logfile"),
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
    for side in [&cfg.side1, &cfg.side2] {
        if let Some(src) = &side.connect.oauth {
            let o = out.clone();
            let s = side.connect.side;
            src.set_notifier(Arc::new(move |line: &str| o.line(format!("{s}: {line}"))));
        }
    }
    let debug_all = parsed.bool("debugimap").unwrap_or(false);
    for (side, n) in [(&mut cfg.side1, 1), (&mut cfg.side2, 2)] {
        if debug_all || parsed.bool(&format!("debugimap{n}")).unwrap_or(false) {
            let o = out.clone();
            side.connect.tracer = Some(Arc::new(move |s, line: &str| {
                o.line(format!("{s}: {line}"))
            }));
        }
    }
    out.line(banner());
    out.line(format!(
        "Transfer started at {}",
        imapsync_plan::display::localtimez_local(started)
    ));
    out.line(format!("PID is {}", std::process::id()));
    match &log_path {
        Some(p) => out.line(format!("Log file is {}", p.display())),
        None => out.line("No log file because of option --nolog"),
    }
    out.line(format!("Command line used: {}", command_line(parsed)));
    for l in pre.iter().chain(notes.iter()).chain(extras.warnings.iter()) {
        out.line(l);
    }
    if let Some(why) = &extras.implied_justconnect {
        out.line(why);
    }
    out.line("Info: will resync flags for already transferred messages. Use --noresyncflags to not resync flags.");
    out.line("Info: turned ON syncinternaldates, will set the internal dates (arrival dates) on host2 same as host1.");
    let pidfile = pidfile_path(parsed);
    if parsed.bool("pidfilelocking").unwrap_or(false)
        && let Some(p) = &pidfile
        && let Some((pid, other_log)) = running_owner(p)
    {
        if parsed.bool("tail").unwrap_or(false) {
            out.line(format!("Another imapsync (PID {pid}) is running; following its log {other_log} until it ends"));
            tail_until_exit(pid, &other_log, &out);
            return 0;
        }
        out.line(format!(
            "pidfile {} exists and its process {pid} is running: exiting (--pidfilelocking)",
            p.display()
        ));
        out.line(format!("Exiting with return value 8 ({})", exit_name(8)));
        if let Ok(mut t) = tee.lock() {
            t.flush();
        }
        return 8;
    }
    // Only a pidfile this run wrote is removed at the end.
    let mut pidfile = pidfile;
    if let Some(p) = &pidfile
        && let Err(e) = write_pidfile(p, log_path.as_deref())
    {
        out.line(format!(
            "Warning: can not write pidfile {}: {e}",
            p.display()
        ));
        pidfile = None;
    }
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
    let code = if extras.justconnect {
        runtime.block_on(justconnect(cfg, out.clone()))
    } else {
        let result = runtime.block_on(imapsync_sync::run(cfg, out.clone()));
        if result.signal.is_some() {
            out.line(format!("Exiting with return value {}", result.exit_code));
            if let Some(p) = &pidfile {
                let _ = std::fs::remove_file(p);
            }
            if let Ok(mut t) = tee.lock() {
                t.flush();
            }
            return result.exit_code;
        }
        out.line(imapsync_plan::errors::exiting_line(
            result.exit_code,
            result.nb_errors,
            parsed
                .int("errorsmax")
                .map(|v| v.max(1) as u64)
                .unwrap_or(50),
            std::process::id(),
        ));
        result.exit_code
    };
    if let Some(p) = &pidfile {
        out.line(format!("Removing pidfile {}", p.display()));
        let _ = std::fs::remove_file(p);
    }
    match &log_path {
        Some(p) => out.line(format!(
            "Log file is {} ( to change it, use --logfile filepath ; or use --nolog to turn off logging )",
            p.display()
        )),
        None => out.line("No log file because of option --nolog"),
    }
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    if let Ok(mut t) = tee.lock() {
        t.flush();
    }
    code
}

/// `--justconnect`: connect both sides (TLS included), print banner and capabilities.
async fn justconnect(cfg: Config, out: Out) -> i32 {
    let mut code = 0;
    for sc in [&cfg.side1, &cfg.side2] {
        let o = &sc.connect;
        if o.host.is_empty() {
            continue;
        }
        let side = o.side;
        match imapsync_client::connect(o).await {
            Ok((conn, info)) => {
                out.line(format!(
                    "{side}: connected on [{}] {}",
                    o.host, info.address
                ));
                out.line(format!("{side} banner: {}", info.greeting));
                out.line(format!("{side} capability: {}", info.caps.render()));
                conn.logout().await;
            }
            Err(e) => {
                out.line(format!(
                    "{side} failure: can not open imap connection on [{}]: {e}",
                    o.host
                ));
                code = 10;
            }
        }
    }
    out.line(format!(
        "Exiting with return value {code} ({})",
        exit_name(code)
    ));
    code
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
pub fn abort_other(p: &Parsed) -> i32 {
    let Some(path) = pidfile_path(p) else {
        eprintln!("--abort: no pidfile (--pidfile \"\")");
        return 0;
    };
    let Some((pid, _)) = running_owner(&path) else {
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

fn pidfile_path(p: &Parsed) -> Option<PathBuf> {
    if let Some(given) = p.string("pidfile") {
        return (!given.is_empty()).then(|| PathBuf::from(given));
    }
    let tmpdir = match p.string("tmpdir") {
        Some(t) => PathBuf::from(t),
        None => PathBuf::from(std::env::var_os("HOME")?).join("tmp"),
    };
    Some(tmpdir.join("imapsync.pid"))
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
