//! Nothing lost, nothing duplicated when the process is killed at any moment, when a
//! connection drops mid-literal or stalls, or when connections are refused.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::{Pair, count};
use imapsync_testkit::corpus::{Corpus, CorpusSpec, SizeDist};
use imapsync_testkit::proxy::ConnSet;
use imapsync_testkit::{Direction, FaultProxy, Faults, Layout, fill};

/// A corpus with multi-MB messages, so kills often land inside a literal.
fn heavy_corpus() -> Corpus {
    let mut spec = CorpusSpec::small();
    spec.seed = 77;
    spec.messages = 400;
    spec.folders = 4;
    spec.sizes = SizeDist {
        small: (2_000, 30_000),
        medium: (100_000, 600_000),
        large: (1_000_000, 3_000_000),
        p_medium: 0.15,
        p_large: 0.06,
    };
    Corpus::generate(&spec)
}

/// Deterministic pseudo-random numbers (the test must be reproducible).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

#[test]
fn killed_at_random_moments_then_completed_loses_and_duplicates_nothing() {
    let p = Pair::new(Layout::DotPrefix, Layout::Slash);
    fill(&p.h1, "user1", "pass1", &heavy_corpus()).expect("fill");
    let total = count(&p.snap1());
    let mut rng = Lcg(0x5eed);
    let mut kills = 0;
    for round in 0..6 {
        let mut child = Command::new(common::bin())
            .args(p.base_args())
            .args([
                "--nofoldersizes",
                "--nofoldersizesatend",
                "--connections1",
                "1",
                "--connections2",
                "1",
            ])
            .current_dir(p.dir.path())
            .env("HOME", p.dir.path())
            .env("XDG_STATE_HOME", p.dir.path().join("state-home"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        let delay = 100 + rng.next() % 500;
        std::thread::sleep(Duration::from_millis(delay));
        if child.try_wait().expect("wait").is_none() {
            // SAFETY: killing the child we spawned.
            unsafe {
                libc::kill(child.id() as i32, libc::SIGKILL);
            }
            kills += 1;
        }
        let _ = child.wait();
        // Never more messages on host2 than on host1, in any folder (no duplicate).
        let s1 = p.snap1();
        for (folder, msgs) in p.snap2() {
            let n1 = s1.get(&folder).map(Vec::len).unwrap_or(0);
            assert!(
                msgs.len() <= n1,
                "round {round}: {folder} has {} on host2, {n1} on host1",
                msgs.len()
            );
        }
    }
    assert!(
        kills >= 3,
        "only {kills} runs were killed; make the corpus heavier"
    );
    let r = p.sync(&["--nofoldersizes"]);
    assert_eq!(r.errors(), 0, "{}", r.show());
    p.assert_same();
    assert_eq!(count(&p.snap2()), total);
    let r = p.sync(&[]);
    assert_eq!(r.num("Messages transferred"), 0, "{}", r.show());
    eprintln!("killed {kills} times; final state exact ({total} messages)");
}

#[test]
fn host2_connection_dropped_mid_append_literal_is_resumed_exactly() {
    let p = Pair::new(Layout::DotPrefix, Layout::Slash);
    fill(&p.h1, "user1", "pass1", &heavy_corpus()).expect("fill");
    // The first connection to host2 dies when the client has sent 3 MB: inside an APPEND.
    let proxy = FaultProxy::start(
        (p.h2.host(), p.h2.port()),
        Faults::new()
            .drop_after(Direction::Up, 3_000_000)
            .only(ConnSet::only([1])),
    )
    .expect("proxy");
    let a = p.args_via(
        2,
        proxy.port(),
        &["--connections1", "1", "--connections2", "1"],
    );
    let r = common::run_in(p.dir.path(), &a, &[]);
    assert_eq!(r.code, 0, "{}", r.show());
    assert!(r.num("Reconnections to host2") >= 1, "{}", r.show());
    p.assert_same();
}

#[test]
fn host1_connection_dropped_mid_fetch_literal_is_resumed_exactly() {
    let p = Pair::new(Layout::DotPrefix, Layout::Slash);
    fill(&p.h1, "user1", "pass1", &heavy_corpus()).expect("fill");
    let proxy = FaultProxy::start(
        (p.h1.host(), p.h1.port()),
        Faults::new()
            .drop_after(Direction::Down, 2_500_000)
            .only(ConnSet::only([1])),
    )
    .expect("proxy");
    let a = p.args_via(
        1,
        proxy.port(),
        &["--connections1", "1", "--connections2", "1"],
    );
    let r = common::run_in(p.dir.path(), &a, &[]);
    assert_eq!(r.code, 0, "{}", r.show());
    assert!(r.num("Reconnections to host1") >= 1, "{}", r.show());
    p.assert_same();
}

#[test]
fn stalled_host2_is_detected_by_timeout_and_resumed() {
    let p = Pair::new(Layout::Slash, Layout::Slash);
    fill(&p.h1, "user1", "pass1", &heavy_corpus()).expect("fill");
    let proxy = FaultProxy::start(
        (p.h2.host(), p.h2.port()),
        Faults::new()
            .stall_after(Direction::Up, 1_500_000)
            .only(ConnSet::only([1])),
    )
    .expect("proxy");
    let a = p.args_via(
        2,
        proxy.port(),
        &[
            "--timeout2",
            "3",
            "--connections1",
            "1",
            "--connections2",
            "1",
        ],
    );
    let r = common::run_in(p.dir.path(), &a, &[]);
    assert_eq!(r.code, 0, "{}", r.show());
    assert!(r.has("--timeout"), "{}", r.show());
    assert!(r.num("Reconnections to host2") >= 1, "{}", r.show());
    p.assert_same();
}

#[test]
fn refused_extra_connections_mean_fewer_workers_not_failure() {
    let p = Pair::new(Layout::DotPrefix, Layout::Slash);
    fill(&p.h1, "user1", "pass1", &Corpus::small()).expect("fill");
    // Only the first connection to host2 is accepted (a provider's connection limit).
    let proxy = FaultProxy::start(
        (p.h2.host(), p.h2.port()),
        Faults::new().refuse(ConnSet::From(2)),
    )
    .expect("proxy");
    let a = p.args_via(2, proxy.port(), &[]);
    let r = common::run_in(p.dir.path(), &a, &[]);
    assert_eq!(r.code, 0, "{}", r.show());
    assert!(r.has("going on with fewer connections"), "{}", r.show());
    p.assert_same();
}

#[test]
fn sigterm_prints_the_summary_and_exits_143_then_a_rerun_completes() {
    let p = Pair::new(Layout::DotPrefix, Layout::Slash);
    fill(&p.h1, "user1", "pass1", &heavy_corpus()).expect("fill");
    let child = Command::new(common::bin())
        .args(p.base_args())
        .args([
            "--nofoldersizes",
            "--connections1",
            "1",
            "--connections2",
            "1",
        ])
        .current_dir(p.dir.path())
        .env("HOME", p.dir.path())
        .env("XDG_STATE_HOME", p.dir.path().join("state-home"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    std::thread::sleep(Duration::from_millis(700));
    // SAFETY: signalling the child we spawned.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let o = child.wait_with_output().expect("wait");
    let out = String::from_utf8_lossy(&o.stdout);
    if o.status.code() != Some(0) {
        assert_eq!(o.status.code(), Some(143), "{out}");
        assert!(out.contains("Got a signal TERM"), "{out}");
        assert!(out.contains("++++ Statistics"), "{out}");
    }
    p.sync(&[]);
    p.assert_same();
}
