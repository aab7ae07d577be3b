//! One test suite for both job stores: SQLite and a real PostgreSQL started by the test.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use imapsync_batch::plan::{JobState, Limits, RetryPolicy, RetrySet};
use imapsync_batch::store::{self, BatchConfig, Claim, Finish, JobStore, NewJob, Progress};
use imapsync_testkit::Postgres;

fn cluster() -> Option<&'static Postgres> {
    static PG: OnceLock<Option<Postgres>> = OnceLock::new();
    PG.get_or_init(|| Postgres::start_or_skip("job store (PostgreSQL half)"))
        .as_ref()
}

struct Backend {
    name: &'static str,
    location: String,
    _dir: tempfile::TempDir,
}

impl Backend {
    /// `batch run`'s handle (exclusive on SQLite).
    fn open(&self) -> Arc<dyn JobStore> {
        Arc::from(store::open(&self.location, true).expect("open store"))
    }

    /// Another process's handle (a worker, `batch status`).
    fn open_other(&self) -> Arc<dyn JobStore> {
        Arc::from(store::open(&self.location, false).expect("open store again"))
    }
}

fn backends() -> Vec<Backend> {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut v = vec![Backend {
        name: "sqlite",
        location: dir.path().join("b.sqlite").display().to_string(),
        _dir: dir,
    }];
    if let Some(pg) = cluster() {
        v.push(Backend {
            name: "postgres",
            location: pg.create_database().expect("database"),
            _dir: tempfile::tempdir().expect("tempdir"),
        });
    }
    v
}

fn job(n: usize, h1: &str, h2: &str, conns: u32) -> NewJob {
    NewJob {
        key: format!("{h1}|u{n}|{h2}|u{n}"),
        line: n,
        host1: h1.into(),
        user1: format!("u{n}"),
        secret1: "inline".into(),
        host2: h2.into(),
        user2: format!("u{n}"),
        secret2: "env:PW".into(),
        extra: vec!["--exclude".into(), "Junk Mail".into()],
        conns,
        refused: None,
    }
}

fn config(pass: &str, limits: Limits, lease: f64) -> BatchConfig {
    BatchConfig {
        pass: pass.into(),
        options: vec!["--nofoldersizes".into()],
        limits,
        retry: RetryPolicy {
            max_attempts: 2,
            backoff_base: 0.0,
        },
        lease,
        accounts_file: Some("/acc.txt".into()),
    }
}

fn done(state: JobState, code: i32) -> Finish {
    Finish {
        state,
        not_before: None,
        exit_code: code,
        progress: Progress {
            transferred: 7,
            skipped: 1,
            errors: u64::from(code != 0),
            bytes: 700,
        },
        duration: 1.5,
        last_error: (code != 0).then(|| format!("exit {code}")),
        log_file: Some("LOG_imapsync/x.txt".into()),
        uncount: false,
    }
}

fn claimed(c: Claim) -> imapsync_batch::store::Job {
    match c {
        Claim::Job(j) => *j,
        other => panic!("expected a job, got {other:?}"),
    }
}

#[test]
fn import_claim_finish_and_passes() {
    for b in backends() {
        let s = b.open();
        assert_eq!(s.config().expect("config"), None, "{}", b.name);
        let cfg = config("prestage", Limits::default(), 60.0);
        s.save_config(&cfg).expect("save");
        assert_eq!(s.config().expect("config"), Some(cfg.clone()), "{}", b.name);
        let mut jobs: Vec<NewJob> = (1..=4).map(|n| job(n, "h1", "h2", 4)).collect();
        jobs[3].refused = Some("--bogus: unknown option".into());
        let i = s
            .import(&jobs, "prestage", RetrySet::default())
            .expect("import");
        assert_eq!((i.added, i.restarted, i.kept), (4, 0, 0), "{}", b.name);
        // Claimed in line order, without the refused one; an inline password needs the file.
        assert_eq!(
            s.claim("w1", false).expect("claim"),
            Claim::Later(1.0),
            "{}",
            b.name
        );
        let j1 = claimed(s.claim("w1", true).expect("claim"));
        assert_eq!((j1.line, j1.state, j1.attempts), (1, JobState::Running, 1));
        assert_eq!(j1.extra, ["--exclude", "Junk Mail"]);
        assert_eq!(j1.secret2, "env:PW");
        let j2 = claimed(s.claim("w1", true).expect("claim"));
        let j3 = claimed(s.claim("w2", true).expect("claim"));
        assert_eq!((j2.line, j3.line), (2, 3), "{}", b.name);
        // Nothing left to start, but accounts still run.
        assert_eq!(s.claim("w3", true).expect("claim"), Claim::Later(1.0));
        // Only the owner renews or ends an account.
        assert!(
            !s.heartbeat("w2", j1.id, 60.0, Progress::default())
                .expect("hb")
        );
        assert!(
            s.heartbeat(
                "w1",
                j1.id,
                60.0,
                Progress {
                    transferred: 3,
                    skipped: 0,
                    errors: 0,
                    bytes: 300
                }
            )
            .expect("hb")
        );
        assert!(
            !s.finish("w2", j1.id, &done(JobState::Done, 0))
                .expect("finish")
        );
        assert!(
            s.finish("w1", j1.id, &done(JobState::Done, 0))
                .expect("finish")
        );
        assert!(
            s.finish("w1", j2.id, &done(JobState::Errors, 114))
                .expect("finish")
        );
        assert!(
            s.finish("w2", j3.id, &done(JobState::Held, 113))
                .expect("finish")
        );
        assert_eq!(
            s.claim("w1", true).expect("claim"),
            Claim::Finished,
            "{}",
            b.name
        );
        let all = s.jobs().expect("jobs");
        let states: Vec<JobState> = all.iter().map(|j| j.state).collect();
        assert_eq!(
            states,
            [
                JobState::Done,
                JobState::Errors,
                JobState::Held,
                JobState::Refused
            ],
            "{}",
            b.name
        );
        assert_eq!(all[0].transferred, 7);
        assert_eq!(all[0].exit_code, Some(0));
        assert_eq!(all[0].duration, Some(1.5));
        assert_eq!(all[1].last_error.as_deref(), Some("exit 114"));
        assert_eq!(all[3].exit_code, Some(64));
        assert_eq!(
            all[3].last_error.as_deref(),
            Some("--bogus: unknown option")
        );
        assert_eq!(all[0].log_file.as_deref(), Some("LOG_imapsync/x.txt"));
        assert!(
            s.events()
                .expect("events")
                .iter()
                .any(|e| e.job == j1.id && e.transferred == 3)
        );
        // The same pass again: nothing restarts unless asked.
        let mut again = jobs.clone();
        again[3].refused = None;
        let i = s
            .import(&again, "prestage", RetrySet::default())
            .expect("import");
        assert_eq!((i.added, i.restarted, i.kept), (0, 0, 4), "{}", b.name);
        assert_eq!(s.claim("w1", true).expect("claim"), Claim::Finished);
        // Retry the failed ones (errors), then the held ones.
        let i = s
            .import(
                &again,
                "prestage",
                RetrySet {
                    failed: true,
                    ..RetrySet::default()
                },
            )
            .expect("import");
        assert_eq!(i.restarted, 1, "{}", b.name);
        assert_eq!(claimed(s.claim("w1", true).expect("claim")).line, 2);
        // A new pass runs every account again (a running one can not change pass).
        let err = s
            .import(&again, "delta", RetrySet::default())
            .expect_err("running");
        assert!(err.to_string().contains("still running"), "{err}");
        let j = s
            .jobs()
            .expect("jobs")
            .into_iter()
            .find(|j| j.line == 2)
            .expect("line 2");
        assert!(
            s.finish("w1", j.id, &done(JobState::Done, 0))
                .expect("finish")
        );
        let i = s
            .import(&again, "delta", RetrySet::default())
            .expect("import");
        assert_eq!(i.restarted, 4, "{}", b.name);
        let all = s.jobs().expect("jobs");
        assert!(
            all.iter()
                .all(|j| j.state == JobState::Pending && j.pass == "delta" && j.attempts == 0)
        );
        assert_eq!(all[0].total_attempts, 1);
        // Another process reads the same store.
        let other = b.open_other();
        assert_eq!(
            other.counts().expect("counts").get(&JobState::Pending),
            Some(&4)
        );
    }
}

#[test]
fn caps_and_stagger_hold_over_workers() {
    for b in backends() {
        let s = b.open();
        let limits = Limits {
            max_per_host1: Some(5),
            max_per_host2: Some(4),
            stagger: Some(0.0),
        };
        s.save_config(&config("p", limits, 60.0)).expect("save");
        let jobs: Vec<NewJob> = vec![
            job(1, "A", "z", 4),
            job(2, "a", "z", 4),
            job(3, "b", "y", 2),
            job(4, "a", "y", 1),
        ];
        s.import(&jobs, "p", RetrySet::default()).expect("import");
        let j1 = claimed(s.claim("w1", true).expect("claim"));
        assert_eq!((j1.line, j1.reserved), (1, 4), "{}", b.name);
        // host2 z is full (4 of 4), host1 a has 1 of 5 left: line 2 waits, 3 goes, then 4 (1).
        let j3 = claimed(s.claim("w2", true).expect("claim"));
        assert_eq!(j3.line, 3, "{}", b.name);
        let j4 = claimed(s.claim("w1", true).expect("claim"));
        assert_eq!((j4.line, j4.reserved), (4, 1), "{}", b.name);
        assert_eq!(s.claim("w2", true).expect("claim"), Claim::Later(1.0));
        assert!(
            s.finish("w1", j1.id, &done(JobState::Done, 0))
                .expect("finish")
        );
        assert!(
            s.finish("w1", j4.id, &done(JobState::Done, 0))
                .expect("finish")
        );
        let j2 = claimed(s.claim("w2", true).expect("claim"));
        assert_eq!((j2.line, j2.reserved), (2, 4), "{}", b.name);
        // A cap below what an account asks for lowers its connections.
        let b2 = backends()
            .into_iter()
            .find(|x| x.name == b.name)
            .expect("same kind");
        let s2 = b2.open();
        s2.save_config(&config(
            "p",
            Limits {
                max_per_host1: Some(2),
                max_per_host2: None,
                stagger: Some(3600.0),
            },
            60.0,
        ))
        .expect("save");
        s2.import(
            &[
                job(1, "h", "k", 4),
                job(2, "h", "k", 4),
                job(3, "i", "k", 4),
            ],
            "p",
            RetrySet::default(),
        )
        .expect("import");
        assert_eq!(claimed(s2.claim("w", true).expect("claim")).reserved, 2);
        // The same host1 waits for its stagger; another host1 does not.
        assert_eq!(
            claimed(s2.claim("w", true).expect("claim")).line,
            3,
            "{}",
            b.name
        );
        match s2.claim("w", true).expect("claim") {
            Claim::Later(s) => assert!(s > 0.0 && s <= 1.0),
            other => panic!("{}: expected to wait, got {other:?}", b.name),
        }
    }
}

#[test]
fn an_expired_lease_is_taken_over_and_the_old_owner_changes_nothing() {
    for b in backends() {
        let s = b.open();
        s.save_config(&config("p", Limits::default(), 1.0))
            .expect("save");
        s.import(&[job(1, "h", "k", 2)], "p", RetrySet::default())
            .expect("import");
        let j = claimed(s.claim("dead", true).expect("claim"));
        let other = b.open_other();
        assert_eq!(
            other.claim("alive", true).expect("claim"),
            Claim::Later(1.0)
        );
        std::thread::sleep(Duration::from_millis(1300));
        let t = claimed(other.claim("alive", true).expect("claim"));
        assert_eq!(
            (t.id, t.attempts, t.owner.as_deref()),
            (j.id, 2, Some("alive")),
            "{}",
            b.name
        );
        assert!(
            !s.heartbeat("dead", j.id, 1.0, Progress::default())
                .expect("hb")
        );
        assert!(
            !s.finish("dead", j.id, &done(JobState::Done, 0))
                .expect("finish")
        );
        assert!(
            other
                .heartbeat("alive", j.id, 60.0, Progress::default())
                .expect("hb")
        );
        // Interrupted: back to pending, the run not counted.
        let mut f = done(JobState::Pending, 143);
        f.uncount = true;
        assert!(other.finish("alive", j.id, &f).expect("finish"));
        let after = other.jobs().expect("jobs");
        assert_eq!(
            (after[0].state, after[0].attempts),
            (JobState::Pending, 1),
            "{}",
            b.name
        );
        // A retry waits for its back-off.
        let k = claimed(other.claim("alive", true).expect("claim"));
        let mut r = done(JobState::Retry, 101);
        r.not_before = Some(1.0);
        assert!(other.finish("alive", k.id, &r).expect("finish"));
        assert!(matches!(
            other.claim("alive", true).expect("claim"),
            Claim::Later(_)
        ));
        std::thread::sleep(Duration::from_millis(1100));
        assert_eq!(
            claimed(other.claim("alive", true).expect("claim")).id,
            k.id,
            "{}",
            b.name
        );
    }
}

#[test]
fn a_crashed_batch_run_is_recovered() {
    for b in backends().into_iter().filter(|b| b.name == "sqlite") {
        {
            let s = b.open();
            s.save_config(&config("p", Limits::default(), 60.0))
                .expect("save");
            s.import(&[job(1, "h", "k", 2)], "p", RetrySet::default())
                .expect("import");
            claimed(s.claim("gone", true).expect("claim"));
            // A second `batch run` on the same file is refused while this one holds it.
            let busy = store::open(&b.location, true).err().expect("busy");
            assert!(busy.to_string().contains("in use by another"), "{busy}");
        }
        let s = b.open();
        assert_eq!(s.recover_all().expect("recover"), 1);
        let j = &s.jobs().expect("jobs")[0];
        assert_eq!(
            (j.state, j.attempts, j.owner.clone()),
            (JobState::Pending, 0, None)
        );
        let mode = std::fs::metadata(&b.location).expect("meta");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(mode.permissions().mode() & 0o777, 0o600);
    }
}

/// Workers claiming at once, each from its own connection: the caps are never exceeded.
#[test]
fn concurrent_claims_never_exceed_the_caps() {
    for b in backends() {
        let s = b.open();
        s.save_config(&config(
            "p",
            Limits {
                max_per_host1: Some(3),
                max_per_host2: Some(5),
                stagger: Some(0.0),
            },
            60.0,
        ))
        .expect("save");
        let jobs: Vec<NewJob> = (1..=40)
            .map(|n| {
                job(
                    n,
                    if n % 2 == 0 { "a" } else { "b" },
                    "z",
                    1 + (n % 2) as u32,
                )
            })
            .collect();
        s.import(&jobs, "p", RetrySet::default()).expect("import");
        let used: Arc<Mutex<std::collections::HashMap<String, u32>>> = Arc::default();
        let peak1 = Arc::new(AtomicU32::new(0));
        let peak2 = Arc::new(AtomicU32::new(0));
        let ran = Arc::new(AtomicU32::new(0));
        let threads: Vec<_> = (0..4)
            .map(|w| {
                let st = if b.name == "sqlite" {
                    s.clone()
                } else {
                    b.open_other()
                };
                let (used, peak1, peak2, ran) =
                    (used.clone(), peak1.clone(), peak2.clone(), ran.clone());
                std::thread::spawn(move || {
                    let me = format!("w{w}");
                    loop {
                        match st.claim(&me, true).expect("claim") {
                            Claim::Finished => return,
                            Claim::Later(_) => std::thread::sleep(Duration::from_millis(5)),
                            Claim::Job(j) => {
                                {
                                    let mut u = used.lock().expect("lock");
                                    let h1 = u.entry(format!("1{}", j.host1)).or_default();
                                    *h1 += j.reserved;
                                    peak1.fetch_max(*h1, Ordering::SeqCst);
                                    let h2 = u.entry("2z".to_string()).or_default();
                                    *h2 += j.reserved;
                                    peak2.fetch_max(*h2, Ordering::SeqCst);
                                }
                                std::thread::sleep(Duration::from_millis(10));
                                {
                                    // Released before the store hears of it, as a real run's
                                    // connections close before its end is recorded.
                                    let mut u = used.lock().expect("lock");
                                    *u.entry(format!("1{}", j.host1)).or_default() -= j.reserved;
                                    *u.entry("2z".to_string()).or_default() -= j.reserved;
                                }
                                assert!(
                                    st.finish(&me, j.id, &done(JobState::Done, 0))
                                        .expect("finish")
                                );
                                ran.fetch_add(1, Ordering::SeqCst);
                            }
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("worker thread");
        }
        assert_eq!(ran.load(Ordering::SeqCst), 40, "{}", b.name);
        assert!(
            peak1.load(Ordering::SeqCst) <= 3,
            "{}: host1 peak {}",
            b.name,
            peak1.load(Ordering::SeqCst)
        );
        assert!(
            peak2.load(Ordering::SeqCst) <= 5,
            "{}: host2 peak {}",
            b.name,
            peak2.load(Ordering::SeqCst)
        );
        assert!(
            peak2.load(Ordering::SeqCst) >= 3,
            "{}: some parallelism",
            b.name
        );
    }
}
