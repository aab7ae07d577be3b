//! The `imapsync-testkit` binary as shell scripts use it.

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use imapsync_testkit::TestImap;
use imapsync_testkit::spawn::{group_members, pid_alive};

const BIN: &str = env!("CARGO_BIN_EXE_imapsync-testkit");

struct Served {
    child: Child,
    vars: Vec<(String, String)>,
}

impl Served {
    fn var(&self, k: &str) -> String {
        self.vars
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("no {k} in state"))
    }
}

fn serve(layout: &str, state: &Path, extra: &[&str]) -> Served {
    let child = Command::new(BIN)
        .args(["serve", "--layout", layout, "--state-file"])
        .arg(state)
        .args(extra)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let end = Instant::now() + Duration::from_secs(20);
    while !state.exists() {
        assert!(Instant::now() < end, "serve {layout} wrote no state file");
        std::thread::sleep(Duration::from_millis(20));
    }
    let text = std::fs::read_to_string(state).unwrap();
    let vars = text
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Served { child, vars }
}

fn run(args: &[&str]) -> Output {
    let out = Command::new(BIN).args(args).output().unwrap();
    eprintln!(
        "$ imapsync-testkit {}\n{}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn serve_fill_snapshot_verify() {
    let dir = tempfile::tempdir().unwrap();
    let s1 = serve("dot", &dir.path().join("h1"), &["--var-prefix", "H1_"]);
    let s2 = serve("slash", &dir.path().join("h2"), &["--fsync", "never"]);
    let (p1, p2) = (s1.var("H1_PORT"), s2.var("PORT"));
    assert_eq!(s1.var("H1_LAYOUT"), "dot");
    assert!(Path::new(&s2.var("CA_PATH")).exists());
    assert_eq!(s1.var("H1_HOST"), "127.0.0.1");
    for p in [&p1, &p2] {
        let out = run(&[
            "fill", "--port", p, "--user", "user1", "--pass", "pass1", "--preset", "small",
        ]);
        assert!(out.status.success());
        assert!(String::from_utf8_lossy(&out.stdout).contains("msg/s"));
    }
    let snap = |p: &str| {
        run(&[
            "snapshot", "--port", p, "--user", "user1", "--pass", "pass1",
        ])
    };
    let (a, b) = (snap(&p1), snap(&p2));
    assert!(a.status.success() && b.status.success());
    assert_eq!(
        a.stdout, b.stdout,
        "same mailbox, different layouts: same digest"
    );
    let text = String::from_utf8_lossy(&a.stdout).into_owned();
    assert!(text.contains("Entwürfe\t"), "{text}");
    assert!(text.lines().last().unwrap().starts_with("TOTAL\t"));
    // overriding the namespace by hand gives the same answer
    let c = run(&[
        "snapshot", "--port", &p1, "--user", "user1", "--pass", "pass1", "--sep", ".", "--prefix",
        "INBOX.",
    ]);
    assert_eq!(c.stdout, a.stdout);
    let verify = |extra: &[&str]| {
        let mut args = vec![
            "verify", "--port1", &p1, "--user1", "user1", "--pass1", "pass1", "--port2", &p2,
            "--user2", "user1", "--pass2", "pass1",
        ];
        args.extend_from_slice(extra);
        run(&args)
    };
    assert_eq!(verify(&[]).status.code(), Some(0));
    // break host2: one flag changed
    let mut imap =
        TestImap::connect_login("127.0.0.1", p2.parse().unwrap(), "user1", "pass1").unwrap();
    imap.select("Sent").unwrap();
    imap.store_flags("1", "+FLAGS.SILENT", &["$Broken"])
        .unwrap();
    let out = verify(&[]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        text.contains("DIFF") && text.contains("flags differ"),
        "{text}"
    );
    assert_eq!(verify(&["--no-flags"]).status.code(), Some(0));
    // usage errors exit 2
    assert_eq!(run(&["verify", "--port1", "1"]).status.code(), Some(2));
    assert_eq!(
        run(&["serve", "--layout", "nonsense"]).status.code(),
        Some(2)
    );

    // SIGTERM stops cleanly and removes the state file
    for (mut s, master_key, state) in [
        (s1, "H1_MASTER_PID", dir.path().join("h1")),
        (s2, "MASTER_PID", dir.path().join("h2")),
    ] {
        let master: u32 = s.var(master_key).parse().unwrap();
        unsafe { libc::kill(s.child.id() as i32, libc::SIGTERM) };
        let st = s.child.wait().unwrap();
        assert!(st.success(), "{st:?}");
        assert!(!pid_alive(master));
        assert!(group_members(master).is_empty());
        assert!(!state.exists());
    }
}
