//! `imapsync batch`: many accounts against real Dovecot servers, the job store in SQLite or in
//! a real PostgreSQL started by the test; batches interrupted (INT, kill -9) and resumed;
//! three worker processes on one database with one killed in the middle of an account.

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use imapsync_batch::plan::JobState;
use imapsync_batch::store::{self, Job};
use imapsync_testkit::verify::{CompareOptions, compare, snapshot_at};
use imapsync_testkit::{Corpus, CorpusSpec, Dovecot, FaultProxy, Faults, Layout, Postgres, fill};

use common::{Run, bin, run_in};

/// Users `{prefix}1..={n}` with password `pw-{prefix}{i}` on a new Dovecot.
fn server(layout: Layout, users: &[String], quota_kib: Option<u64>) -> Dovecot {
    let mut b = Dovecot::builder(layout).no_tls();
    for u in users {
        b = b.user(u, &format!("pw-{u}"));
    }
    if let Some(q) = quota_kib {
        b = b.quota_storage_kib(q);
    }
    b.start().expect("dovecot")
}

fn names(prefix: &str, n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("{prefix}{i}")).collect()
}

fn corpus(seed: u64, messages: usize, folders: usize) -> Corpus {
    Corpus::generate(&CorpusSpec {
        seed,
        messages,
        folders,
        edge_cases: false,
        ..CorpusSpec::small()
    })
}

fn plain() -> Vec<String> {
    [
        "--nossl1",
        "--notls1",
        "--nossl2",
        "--notls2",
        "--nofoldersizes",
        "--nofoldersizesatend",
    ]
    .map(String::from)
    .to_vec()
}

fn line(h1: &Dovecot, u1: &str, p1: &str, h2: &Dovecot, u2: &str, p2: &str) -> String {
    format!(
        "127.0.0.1:{};{u1};{p1};127.0.0.1:{};{u2};{p2};",
        h1.port(),
        h2.port()
    )
}

fn batch(dir: &Path, args: &[String], env: &[(&str, &str)]) -> Run {
    let mut a = vec!["batch".to_string()];
    a.extend(args.iter().cloned());
    run_in(dir, &a, env)
}

fn spawn(dir: &Path, args: &[String], out: &str) -> Child {
    let log = std::fs::File::create(dir.join(out)).expect("output file");
    Command::new(bin())
        .arg("batch")
        .args(args)
        .current_dir(dir)
        .env("HOME", dir)
        .env("XDG_STATE_HOME", dir.join("state-home"))
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("clone"))
        .stderr(log)
        .spawn()
        .expect("spawn imapsync batch")
}

fn jobs(location: &str) -> Vec<Job> {
    store::open(location, false)
        .and_then(|s| s.jobs())
        .expect("reading the job store")
}

fn by_user(jobs: &[Job]) -> HashMap<String, Job> {
    jobs.iter()
        .map(|j| (format!("{}@{}", j.user1, j.host1), j.clone()))
        .collect()
}

fn wait_until(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let end = Instant::now() + timeout;
    while !f() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn wait_exit(c: &mut Child, timeout: Duration) -> i32 {
    let end = Instant::now() + timeout;
    loop {
        if let Some(s) = c.try_wait().expect("wait") {
            use std::os::unix::process::ExitStatusExt;
            return s.code().unwrap_or_else(|| 128 + s.signal().unwrap_or(0));
        }
        if Instant::now() > end {
            let _ = c.kill();
            panic!("batch did not end within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn signal(c: &Child, sig: i32) {
    // SAFETY: signalling a child we started.
    unsafe {
        libc::kill(c.id() as libc::pid_t, sig);
    }
}

/// host2's account `u2` holds exactly what host1's `u1` holds (bytes, flags, dates; a
/// duplicate is a difference).
fn assert_exact(h1: &Dovecot, u1: &str, h2: &Dovecot, u2: &str) {
    let a = snapshot_at("127.0.0.1", h1.port(), u1, &format!("pw-{u1}"), None).expect("snap1");
    let b = snapshot_at("127.0.0.1", h2.port(), u2, &format!("pw-{u2}"), None).expect("snap2");
    assert!(
        a.values().map(Vec::len).sum::<usize>() > 0,
        "{u1}: empty source"
    );
    let diffs = compare(
        &a,
        &b,
        &CompareOptions {
            allow_extra_empty: true,
            ..CompareOptions::default()
        },
    );
    assert!(diffs.is_empty(), "{u1} -> {u2}:\n{}", diffs.join("\n"));
}

fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_default()
}

#[test]
fn a_batch_with_mixed_failures_ends_with_the_right_statuses_reports_and_exit_code() {
    let good = names("a", 18);
    let bad = names("bad", 2);
    let quota = names("q", 2);
    let all1: Vec<String> = good.iter().chain(&bad).chain(&quota).cloned().collect();
    let h1 = server(Layout::DotPrefix, &all1, None);
    let h2 = server(
        Layout::Slash,
        &good.iter().chain(&bad).cloned().collect::<Vec<_>>(),
        None,
    );
    let h2q = server(Layout::Slash, &quota, Some(60));
    for (i, u) in all1.iter().enumerate() {
        let (n, f) = if u.starts_with('q') { (40, 2) } else { (6, 2) };
        fill(&h1, u, &format!("pw-{u}"), &corpus(i as u64 + 1, n, f)).expect("fill");
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    // Passwords by reference for two accounts: a passfile, an environment variable.
    std::fs::write(d.join("a1.pass"), "pw-a1\n").expect("passfile");
    let unreachable = closed_port();
    let mut lines = vec![
        "# tens of accounts, some of them bound to fail".to_string(),
        String::new(),
    ];
    for u in &good {
        let (p1, p2) = match u.as_str() {
            "a1" => (
                format!("file:{}", d.join("a1.pass").display()),
                "pw-a1".to_string(),
            ),
            "a2" => ("pw-a2".to_string(), "env:A2_PASSWORD".to_string()),
            _ => (format!("pw-{u}"), format!("pw-{u}")),
        };
        lines.push(line(&h1, u, &p1, &h2, u, &p2));
    }
    lines.push(line(&h1, "bad1", "WRONG", &h2, "bad1", "pw-bad1"));
    lines.push(line(&h1, "bad2", "pw-bad2", &h2, "bad2", "WRONG"));
    for u in &good[..2] {
        lines.push(format!(
            "127.0.0.1:{unreachable};{u};x;127.0.0.1:{};{u};pw-{u}",
            h2.port()
        ));
    }
    for u in &quota {
        lines.push(line(
            &h1,
            u,
            &format!("pw-{u}"),
            &h2q,
            u,
            &format!("pw-{u}"),
        ));
    }
    std::fs::write(d.join("accounts.txt"), lines.join("\n") + "\n").expect("accounts");
    let mut args: Vec<String> = [
        "run",
        "--accounts",
        "accounts.txt",
        "--jobs",
        "6",
        "--max-attempts",
        "2",
        "--retry-backoff",
        "0.2",
    ]
    .map(String::from)
    .to_vec();
    args.extend(plain());
    let started = Instant::now();
    let r = batch(d, &args, &[("A2_PASSWORD", "pw-a2")]);
    eprintln!("first batch: {:.1} s", started.elapsed().as_secs_f64());
    assert_eq!(r.code, 1, "{}", r.show());
    assert!(
        !r.out.contains("pw-a"),
        "a password was printed:\n{}",
        r.out
    );
    assert!(r.has("batch: exiting with return value 1"), "{}", r.show());
    let store = d.join("imapsync-batch.sqlite").display().to_string();
    let js = by_user(&jobs(&store));
    assert_eq!(js.len(), 24);
    let h1k = format!("127.0.0.1:{}", h1.port());
    for u in &good {
        let j = &js[&format!("{u}@{h1k}")];
        assert_eq!(
            (j.state, j.exit_code, j.attempts),
            (JobState::Done, Some(0), 1),
            "{u}: {j:?}"
        );
        assert!(j.transferred >= 6 && j.bytes > 0, "{u}: {j:?}");
        assert_exact(&h1, u, &h2, u);
        let log = read(Path::new(&d.join(j.log_file.as_deref().expect("log"))));
        assert!(log.contains("Exiting with return value 0"), "{u}: {log}");
        assert!(
            !log.contains(&format!("pw-{u}")),
            "{u}: password in its log"
        );
    }
    for (u, code) in [("bad1", 161), ("bad2", 162)] {
        let j = &js[&format!("{u}@{h1k}")];
        assert_eq!(
            (j.state, j.exit_code, j.attempts),
            (JobState::Refused, Some(code), 1),
            "{u}: {j:?}"
        );
        assert!(
            j.last_error
                .as_deref()
                .unwrap_or("")
                .contains("AUTHENTICATIONFAILED"),
            "{j:?}"
        );
    }
    for u in &good[..2] {
        let j = &js[&format!("{u}@127.0.0.1:{unreachable}")];
        assert_eq!(
            (j.state, j.exit_code, j.attempts),
            (JobState::Failed, Some(101), 2),
            "{u}: {j:?}"
        );
    }
    for u in &quota {
        let j = &js[&format!("{u}@{h1k}")];
        assert_eq!(
            (j.state, j.exit_code),
            (JobState::Held, Some(113)),
            "{u}: {j:?}"
        );
    }
    // Reports: one record per account.
    let csv = batch(d, &["report".into(), "--format".into(), "csv".into()], &[]);
    assert_eq!(csv.code, 0, "{}", csv.show());
    assert_eq!(csv.out.lines().count(), 25);
    assert_eq!(csv.out.lines().filter(|l| l.contains(",done,")).count(), 18);
    let json = batch(d, &["report".into(), "--format".into(), "json".into()], &[]);
    let doc: serde_json::Value = serde_json::from_str(&json.out).expect("json report");
    assert_eq!(doc["batch"]["by_status"]["done"], 18);
    assert_eq!(doc["batch"]["by_status"]["refused"], 2);
    assert_eq!(doc["batch"]["by_status"]["failed"], 2);
    assert_eq!(doc["batch"]["by_status"]["held"], 2);
    assert_eq!(doc["accounts"].as_array().map(Vec::len), Some(24));
    let html = batch(
        d,
        &["report", "--format", "html", "--output", "report.html"].map(String::from),
        &[],
    );
    assert_eq!(html.code, 0, "{}", html.show());
    let page = read(&d.join("report.html"));
    assert!(
        page.contains("<polyline") && page.contains("bytes per account"),
        "charts"
    );
    assert!(page.contains(">a17<") && page.contains("AUTHENTICATIONFAILED"));
    // The accounts to run again, as the account file had them.
    let f = batch(
        d,
        &["report".into(), "--format".into(), "failures".into()],
        &[],
    );
    let rerun: Vec<&str> = f.out.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(rerun.len(), 6, "{}", f.out);
    for l in &rerun {
        assert!(
            lines.contains(&l.to_string()),
            "{l} is not a line of the account file"
        );
    }
    let status = batch(d, &["status".into()], &[]);
    assert!(
        status.out.contains("done 18, failed 2, held 2, refused 2"),
        "{}",
        status.out
    );
    // Fixed passwords: only the refused accounts run again when asked; the others keep
    // their state and are not redone.
    let fixed: Vec<String> = lines
        .iter()
        .map(|l| {
            if l.contains(";bad1;WRONG;") {
                line(&h1, "bad1", "pw-bad1", &h2, "bad1", "pw-bad1")
            } else if l.contains(";bad2;WRONG;") {
                line(&h1, "bad2", "pw-bad2", &h2, "bad2", "pw-bad2")
            } else {
                l.clone()
            }
        })
        .collect();
    std::fs::write(d.join("accounts.txt"), fixed.join("\n") + "\n").expect("accounts");
    let mut again = args.clone();
    again.push("--retry-refused".into());
    let r = batch(d, &again, &[("A2_PASSWORD", "pw-a2")]);
    assert_eq!(r.code, 1, "{}", r.show());
    let js2 = by_user(&jobs(&store));
    for u in ["bad1", "bad2"] {
        assert_eq!(js2[&format!("{u}@{h1k}")].state, JobState::Done, "{u}");
        assert_exact(&h1, u, &h2, u);
    }
    for (k, j) in &js {
        if j.state != JobState::Refused {
            let now = &js2[k];
            assert_eq!(
                (now.state, now.total_attempts, now.finished_at),
                (j.state, j.total_attempts, j.finished_at),
                "{k} was run again"
            );
        }
    }
}

/// Accounts slowed down (`--maxmessagespersecond`) so that the batch can be interrupted while
/// some are done and others run.
fn slow_batch_setup(
    n: usize,
    messages: usize,
) -> (
    Dovecot,
    Dovecot,
    tempfile::TempDir,
    Vec<String>,
    Vec<String>,
) {
    let users = names("s", n);
    let h1 = server(Layout::DotPrefix, &users, None);
    let h2 = server(Layout::Slash, &users, None);
    for (i, u) in users.iter().enumerate() {
        fill(
            &h1,
            u,
            &format!("pw-{u}"),
            &corpus(100 + i as u64, messages, 3),
        )
        .expect("fill");
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let lines: Vec<String> = users
        .iter()
        .map(|u| line(&h1, u, &format!("pw-{u}"), &h2, u, &format!("pw-{u}")))
        .collect();
    std::fs::write(dir.path().join("accounts.txt"), lines.join("\n")).expect("accounts");
    (h1, h2, dir, users, lines)
}

fn count(js: &[Job], s: JobState) -> usize {
    js.iter().filter(|j| j.state == s).count()
}

#[test]
fn interrupted_by_ctrl_c_then_killed_the_batch_resumes_without_redoing_or_duplicating() {
    let (h1, h2, dir, users, _) = slow_batch_setup(8, 30);
    let d = dir.path();
    let store = d.join("imapsync-batch.sqlite").display().to_string();
    let mut args: Vec<String> = [
        "run",
        "--accounts",
        "accounts.txt",
        "--jobs",
        "2",
        "--lease",
        "3",
    ]
    .map(String::from)
    .to_vec();
    args.extend(plain());
    args.extend(["--maxmessagespersecond".to_string(), "30".to_string()]);
    // 1. Ctrl-C while some accounts are done and others run.
    let mut c = spawn(d, &args, "run1.out");
    wait_until("two accounts done", Duration::from_secs(60), || {
        Path::new(&store).exists() && {
            let js = jobs(&store);
            count(&js, JobState::Done) >= 2 && count(&js, JobState::Running) >= 1
        }
    });
    signal(&c, libc::SIGINT);
    assert_eq!(
        wait_exit(&mut c, Duration::from_secs(30)),
        130,
        "{}",
        read(&d.join("run1.out"))
    );
    let out1 = read(&d.join("run1.out"));
    assert!(out1.contains("got signal 2"), "{out1}");
    let after1 = jobs(&store);
    assert_eq!(count(&after1, JobState::Running), 0, "{after1:?}");
    let done1: Vec<Job> = after1
        .iter()
        .filter(|j| j.state == JobState::Done)
        .cloned()
        .collect();
    assert!(done1.len() >= 2 && done1.len() < 8, "{after1:?}");
    // Interrupted accounts wait for the next run, their run not counted as an attempt.
    assert!(
        after1
            .iter()
            .filter(|j| j.state == JobState::Pending && j.total_attempts > 0)
            .all(|j| j.attempts == 0 && j.exit_code.is_some_and(|c| c > 128)),
        "{after1:?}"
    );
    // 2. Resumed, then killed (-9) while accounts run.
    let mut c = spawn(d, &args, "run2.out");
    wait_until(
        "one more account done, one running",
        Duration::from_secs(60),
        || {
            let js = jobs(&store);
            count(&js, JobState::Done) > done1.len() && count(&js, JobState::Running) >= 1
        },
    );
    signal(&c, libc::SIGKILL);
    wait_exit(&mut c, Duration::from_secs(10));
    let after2 = jobs(&store);
    assert!(
        count(&after2, JobState::Running) >= 1,
        "kill -9 leaves running accounts: {after2:?}"
    );
    // 3. Run again: everything ends, nothing finished before is redone.
    let r = run_in(d, &[vec!["batch".to_string()], args.clone()].concat(), &[]);
    assert_eq!(r.code, 0, "{}", r.show());
    assert!(
        r.has("were running when the last batch stopped"),
        "{}",
        r.show()
    );
    let end = jobs(&store);
    assert_eq!(count(&end, JobState::Done), 8, "{end:?}");
    for j in &done1 {
        let now = end.iter().find(|e| e.id == j.id).expect("job");
        assert_eq!(
            (now.total_attempts, now.finished_at),
            (j.total_attempts, j.finished_at),
            "{} was redone",
            j.user1
        );
    }
    for u in &users {
        assert_exact(&h1, u, &h2, u);
    }
}

#[test]
fn three_workers_on_postgres_with_one_killed_mid_account() {
    let Some(pg) = Postgres::start_or_skip("three workers on PostgreSQL") else {
        return;
    };
    let url = pg.create_database().expect("database");
    let (h1, h2, dir, users, _) = slow_batch_setup(12, 30);
    let d = dir.path();
    // Every connection goes through a proxy that counts them, on each side.
    let p1 = FaultProxy::start(("127.0.0.1", h1.port()), Faults::new()).expect("proxy1");
    let p2 = FaultProxy::start(("127.0.0.1", h2.port()), Faults::new()).expect("proxy2");
    // Passwords by reference (passfiles), so workers need no account file.
    let mut lines = Vec::new();
    for u in &users {
        let pf = d.join(format!("{u}.pass"));
        std::fs::write(&pf, format!("pw-{u}\n")).expect("passfile");
        let pf = format!("file:{}", pf.display());
        lines.push(format!(
            "127.0.0.1:{};{u};{pf};127.0.0.1:{};{u};{pf};",
            p1.port(),
            p2.port()
        ));
    }
    std::fs::write(d.join("accounts.txt"), lines.join("\n")).expect("accounts");
    // Accounts of 2 connection pairs, 3 workers of 2 slots: 12 connections wanted per host,
    // 10 allowed (A and B can not take every free slot: C always gets one).
    let cap = 10;
    let mut args: Vec<String> = [
        "run",
        "--store",
        &url,
        "--accounts",
        "accounts.txt",
        "--jobs",
        "2",
        "--lease",
        "3",
        "--max-per-host1",
        &cap.to_string(),
        "--max-per-host2",
        &cap.to_string(),
        "--connections1",
        "2",
        "--connections2",
        "2",
        "--maxmessagespersecond",
        "15",
    ]
    .map(String::from)
    .to_vec();
    args.extend(plain());
    let mut a = spawn(d, &args, "a.out");
    wait_until("the batch in the database", Duration::from_secs(30), || {
        store::open(&url, false)
            .and_then(|s| s.config())
            .is_ok_and(|c| c.is_some())
    });
    let worker: Vec<String> = ["worker", "--store", &url, "--jobs", "2"]
        .map(String::from)
        .to_vec();
    let mut b = spawn(d, &worker, "b.out");
    let mut c = spawn(d, &worker, "c.out");
    let c_tag = format!(":{}:", c.id());
    wait_until(
        "worker C in the middle of an account",
        Duration::from_secs(60),
        || {
            jobs(&url).iter().any(|j| {
                j.state == JobState::Running
                    && j.owner.as_deref().is_some_and(|o| o.contains(&c_tag))
                    && j.transferred > 0
            })
        },
    );
    let victim: Vec<i64> = jobs(&url)
        .iter()
        .filter(|j| {
            j.state == JobState::Running && j.owner.as_deref().is_some_and(|o| o.contains(&c_tag))
        })
        .map(|j| j.id)
        .collect();
    signal(&c, libc::SIGKILL);
    wait_exit(&mut c, Duration::from_secs(10));
    let code_a = wait_exit(&mut a, Duration::from_secs(180));
    let code_b = wait_exit(&mut b, Duration::from_secs(60));
    assert_eq!(code_a, 0, "{}", read(&d.join("a.out")));
    assert_eq!(code_b, 0, "{}", read(&d.join("b.out")));
    let end = jobs(&url);
    assert_eq!(count(&end, JobState::Done), 12, "{end:?}");
    for id in &victim {
        let j = end.iter().find(|j| j.id == *id).expect("victim");
        assert!(
            j.total_attempts >= 2,
            "taken over after the lease expired: {j:?}"
        );
        assert!(!j.owner.as_deref().unwrap_or("").contains(&c_tag));
    }
    // All three workers ran accounts.
    let outs = [
        read(&d.join("a.out")),
        read(&d.join("b.out")),
        read(&d.join("c.out")),
    ];
    for (name, o) in ["a", "b", "c"].iter().zip(&outs) {
        assert!(
            o.contains("batch: start "),
            "worker {name} ran nothing:\n{o}"
        );
    }
    for u in &users {
        assert_exact(&h1, u, &h2, u);
    }
    // The per-host caps held over all workers, counted at the proxies.
    let (s1, s2) = (p1.stats(), p2.stats());
    assert!(
        s1.peak_open <= cap && s2.peak_open <= cap,
        "peaks {} and {} over the cap {cap}",
        s1.peak_open,
        s2.peak_open
    );
    assert!(
        s1.peak_open > 4,
        "accounts ran in parallel (peak {})",
        s1.peak_open
    );
    // The per-account state lives in the same database.
    let mut client = pg.client(&url).expect("client");
    let n: i64 = client
        .query_one("SELECT COUNT(*) FROM imapsync_state_account", &[])
        .expect("state rows")
        .get(0);
    assert_eq!(n, 12);
    let status = batch(d, &["status".into(), "--store".into(), url.clone()], &[]);
    assert!(status.out.contains("done 12"), "{}", status.show());
}
