//! Signals sent to a running sync, and the abort file, as imapsync handles them: HUP prints
//! the statistics and goes on, USR1 switches the throttle's sleeps, one INT reconnects and
//! goes on, two INTs within 2 s end the run (130), `--sigexit`/`--sigignore` change that,
//! `--abort --abortbyfile` stops the run through its abort file (exit 7). Every stopped run
//! is completed by a rerun without a duplicate.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::Pair;
use imapsync_testkit::{Corpus, CorpusSpec, Layout, fill};

/// A sync slowed down to about 20 messages a second, its output going to a file.
struct Running {
    child: Child,
    out: PathBuf,
}

impl Running {
    fn start(p: &Pair, extra: &[&str]) -> Running {
        let out = p.dir.path().join(format!("out-{}.txt", rand_suffix()));
        let file = std::fs::File::create(&out).expect("output file");
        let mut args = p.base_args();
        args.extend(
            [
                "--maxmessagespersecond",
                "20",
                "--nofoldersizes",
                "--nofoldersizesatend",
            ]
            .map(String::from),
        );
        args.extend(extra.iter().map(|s| s.to_string()));
        let child = Command::new(common::bin())
            .args(&args)
            .current_dir(p.dir.path())
            .env("HOME", p.dir.path())
            .env("XDG_STATE_HOME", p.dir.path().join("state-home"))
            .stdin(Stdio::null())
            .stdout(file)
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        Running { child, out }
    }

    fn output(&self) -> String {
        std::fs::read_to_string(&self.out).unwrap_or_default()
    }

    /// Waits until the output contains `needle` (the output is flushed at least every 200 ms).
    fn wait_for(&self, needle: &str) {
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(30) {
            if self.output().contains(needle) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("{needle:?} never came:\n{}", self.output());
    }

    fn signal(&self, sig: i32) {
        // SAFETY: signalling the child we spawned.
        unsafe {
            libc::kill(self.child.id() as i32, sig);
        }
    }

    fn wait(mut self) -> (Option<i32>, String) {
        let status = self.child.wait().expect("wait");
        (status.code(), self.output())
    }
}

fn rand_suffix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

fn seeded() -> Pair {
    let p = Pair::new(Layout::DotPrefix, Layout::Slash);
    let mut spec = CorpusSpec::small();
    spec.messages = 120;
    spec.folders = 2;
    fill(&p.h1, "user1", "pass1", &Corpus::generate(&spec)).expect("fill");
    p
}

#[test]
fn hup_and_one_int_go_on_two_ints_end_the_run() {
    let p = seeded();
    let r = Running::start(&p, &[]);
    r.wait_for(" copied to ");
    r.signal(libc::SIGHUP);
    r.wait_for("Received 1 HUP signals so far. Thanks!");
    r.signal(libc::SIGINT);
    r.wait_for("Hit only 1 ctr-c to reconnect to both imap servers");
    // Still copying after the reconnection.
    let copied = r.output().matches(" copied to ").count();
    let t = Instant::now();
    while r.output().matches(" copied to ").count() <= copied + 3 {
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "nothing copied after the reconnection:\n{}",
            r.output()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(2500));
    r.signal(libc::SIGINT);
    std::thread::sleep(Duration::from_millis(300));
    r.signal(libc::SIGINT);
    let (code, out) = r.wait();
    assert_eq!(code, Some(130), "{out}");
    assert!(
        out.contains("Got two signals INT within 2 seconds. Exiting..."),
        "{out}"
    );
    assert!(out.contains("++++ Statistics"), "{out}");
    // HUP printed the statistics so far in the middle of the run.
    assert!(out.matches("++++ Statistics").count() >= 2, "{out}");
    assert!(
        !out.contains("Reconnections to host1                 : 0\n")
            || out.contains("connection lost"),
        "{out}"
    );
    let r = p.sync(&[]);
    assert!(r.num("Messages transferred") > 0, "{}", r.show());
    p.assert_same();
}

#[test]
fn sigexit_and_sigignore_change_what_signals_do() {
    let p = seeded();
    // --sigignore TERM: TERM prints the statistics and the run goes on; --sigexit INT: one
    // Ctrl-C ends it.
    let r = Running::start(&p, &["--sigignore", "TERM", "--sigexit", "INT"]);
    r.wait_for(" copied to ");
    // USR1 switches the throttle's sleeps off, then on again.
    r.signal(libc::SIGUSR1);
    r.wait_for("Resetting maxsleep to 0s");
    r.signal(libc::SIGUSR1);
    r.wait_for("Resetting maxsleep to 2s");
    r.signal(libc::SIGTERM);
    r.wait_for("Received 1 TERM signals so far. Thanks!");
    r.signal(libc::SIGINT);
    let (code, out) = r.wait();
    assert_eq!(code, Some(130), "{out}");
    assert!(out.contains("Got a signal INT"), "{out}");
    assert!(
        out.contains("You should resynchronize those accounts"),
        "{out}"
    );
    p.sync(&[]);
    p.assert_same();
}

fn pidfile(dir: &Path) -> String {
    dir.join("sync.pid").display().to_string()
}

#[test]
fn abort_by_file_stops_the_run_with_7_and_a_rerun_completes_it() {
    let p = seeded();
    let pid = pidfile(p.dir.path());
    let r = Running::start(&p, &["--pidfile", &pid]);
    r.wait_for(" copied to ");
    let a = common::run_in(
        p.dir.path(),
        &common::strings(&["--abort", "--abortbyfile", "--pidfile", &pid]),
        &[],
    );
    assert_eq!(a.code, 0, "{}", a.show());
    assert!(a.has("touching "), "{}", a.show());
    let (code, out) = r.wait();
    assert_eq!(code, Some(7), "{out}");
    assert!(out.contains("Asked to terminate by file "), "{out}");
    assert!(out.contains("++++ Statistics"), "{out}");
    assert!(
        out.contains("Exiting with return value 7 (EXIT_BY_FILE)"),
        "{out}"
    );
    let abort_files = std::fs::read_dir(p.dir.path())
        .expect("dir")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().contains("abort"))
        .count();
    assert_eq!(abort_files, 0, "the abort file is removed");
    let r = p.sync(&[]);
    assert!(
        r.num("Messages transferred") > 0,
        "{}\n=== the stopped run:\n{out}",
        r.show()
    );
    p.assert_same();
}

#[test]
fn abort_sends_quit_and_the_run_ends_with_its_statistics() {
    let p = seeded();
    let pid = pidfile(p.dir.path());
    let r = Running::start(&p, &["--pidfile", &pid]);
    r.wait_for(" copied to ");
    let a = common::run_in(
        p.dir.path(),
        &common::strings(&["--abort", "--pidfile", &pid]),
        &[],
    );
    assert_eq!(a.code, 0, "{}", a.show());
    assert!(a.has("Sending signal QUIT to PID"), "{}", a.show());
    let (code, out) = r.wait();
    assert_eq!(code, Some(131), "{out}");
    assert!(out.contains("Got a signal QUIT"), "{out}");
    p.sync(&[]);
    p.assert_same();
}
