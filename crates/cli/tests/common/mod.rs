//! Shared helpers of the integration tests: two throwaway Dovecot servers, the `imapsync`
//! binary run against them, and assertions on what the servers hold afterwards.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Stdio};

use imapsync_testkit::Snapshot;
use imapsync_testkit::verify::{CompareOptions, compare, snapshot_at};
use imapsync_testkit::{Dovecot, Layout, TestImap};

/// Path of the binary under test.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_imapsync"))
}

/// The result of one `imapsync` run.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub out: String,
    pub err: String,
}

impl Run {
    /// The value of a statistics line, e.g. `stat("Messages transferred")` → `"12"`.
    pub fn stat(&self, label: &str) -> Option<String> {
        self.out.lines().find_map(|l| {
            let (k, v) = l.split_once(" : ")?;
            (k.trim_end() == label).then(|| v.trim().to_string())
        })
    }

    /// A numeric statistics value (first word).
    pub fn num(&self, label: &str) -> u64 {
        self.stat(label)
            .and_then(|v| v.split_whitespace().next().map(str::to_string))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no numeric stat {label:?} in output:\n{}", self.out))
    }

    /// N of the `Detected N errors` line of the statistics, else of the closing
    /// `Exiting with return value ... N/M nb_errors/max_errors` line (runs that end before
    /// the folder loop print no statistics, as imapsync).
    pub fn errors(&self) -> u64 {
        let detected = self.out.lines().find_map(|l| {
            l.strip_prefix("Detected ")?
                .strip_suffix(" errors")?
                .parse()
                .ok()
        });
        let exiting = || {
            self.out.lines().find_map(|l| {
                let rest = l.strip_prefix("Exiting with return value ")?;
                let field = rest.split_whitespace().find(|w| w.contains('/'))?;
                field.split('/').next()?.parse().ok()
            })
        };
        detected
            .or_else(exiting)
            .unwrap_or_else(|| panic!("no error count in the output:\n{}", self.show()))
    }

    pub fn has(&self, needle: &str) -> bool {
        self.out.contains(needle) || self.err.contains(needle)
    }

    pub fn show(&self) -> String {
        format!(
            "exit {}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.out, self.err
        )
    }
}

/// Runs the binary with `args` in `cwd`, with HOME and XDG_STATE_HOME pointing into `cwd`
/// so nothing outside the test's directory is touched.
pub fn run_in(cwd: &std::path::Path, args: &[String], env: &[(&str, &str)]) -> Run {
    let mut c = Command::new(bin());
    c.args(args)
        .current_dir(cwd)
        .env("HOME", cwd)
        .env("XDG_STATE_HOME", cwd.join("state-home"))
        .env_remove("IMAPSYNC_PASSWORD1")
        .env_remove("IMAPSYNC_PASSWORD2")
        .stdin(Stdio::null());
    for (k, v) in env {
        c.env(k, v);
    }
    let o = c.output().expect("running imapsync");
    Run {
        code: o.status.code().unwrap_or(-1),
        out: String::from_utf8_lossy(&o.stdout).into_owned(),
        err: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

pub fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// Sets the value that follows `key` in `args`.
pub fn set_arg(args: &mut [String], key: &str, value: &str) {
    let i = args.iter().position(|a| a == key).expect("key");
    args[i + 1] = value.to_string();
}

/// Two servers and a scratch directory.
pub struct Pair {
    pub h1: Dovecot,
    pub h2: Dovecot,
    pub dir: tempfile::TempDir,
}

impl Pair {
    pub fn new(l1: Layout, l2: Layout) -> Pair {
        Pair::with(
            Dovecot::start(l1).expect("host1 server"),
            Dovecot::start(l2).expect("host2 server"),
        )
    }

    pub fn with(h1: Dovecot, h2: Dovecot) -> Pair {
        Pair {
            h1,
            h2,
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    /// The usual connection arguments: user1 on host1 → user2 on host2, STARTTLS verified
    /// against the test CA.
    pub fn base_args(&self) -> Vec<String> {
        vec![
            "--host1".into(),
            self.h1.host().into(),
            "--port1".into(),
            self.h1.port().to_string(),
            "--user1".into(),
            "user1".into(),
            "--password1".into(),
            "pass1".into(),
            "--host2".into(),
            self.h2.host().into(),
            "--port2".into(),
            self.h2.port().to_string(),
            "--user2".into(),
            "user2".into(),
            "--password2".into(),
            "pass2".into(),
            "--sslargs1".into(),
            format!("SSL_ca_file={}", self.h1.ca_cert_path().display()),
            "--sslargs2".into(),
            format!("SSL_ca_file={}", self.h2.ca_cert_path().display()),
        ]
    }

    /// [`base_args`](Self::base_args) with host `side` (1 or 2) reached through `port` (a
    /// proxy or shim in front of it), then `extra`.
    pub fn args_via(&self, side: u8, port: u16, extra: &[&str]) -> Vec<String> {
        let mut a = self.base_args();
        set_arg(&mut a, &format!("--port{side}"), &port.to_string());
        a.extend(strings(extra));
        a
    }

    pub fn run(&self, extra: &[&str]) -> Run {
        let mut a = self.base_args();
        a.extend(extra.iter().map(|s| s.to_string()));
        run_in(self.dir.path(), &a, &[])
    }

    /// Runs and requires exit 0.
    pub fn sync(&self, extra: &[&str]) -> Run {
        let r = self.run(extra);
        assert_eq!(r.code, 0, "sync failed:\n{}", r.show());
        r
    }

    pub fn imap1(&self) -> TestImap {
        self.h1.connect("user1").expect("login host1")
    }

    pub fn imap2(&self) -> TestImap {
        self.h2.connect("user2").expect("login host2")
    }

    pub fn snap1(&self) -> Snapshot {
        snapshot_at(self.h1.host(), self.h1.port(), "user1", "pass1", None).expect("snapshot host1")
    }

    pub fn snap2(&self) -> Snapshot {
        snapshot_at(self.h2.host(), self.h2.port(), "user2", "pass2", None).expect("snapshot host2")
    }

    /// Asserts host2 holds exactly host1's messages (bytes, flags, dates) under canonical
    /// folder names; empty folders that exist only on host2 are allowed.
    pub fn assert_same(&self) {
        self.assert_same_with(&CompareOptions {
            allow_extra_empty: true,
            ..CompareOptions::default()
        });
    }

    pub fn assert_same_with(&self, opts: &CompareOptions) {
        let a = self.snap1();
        let b = self.snap2();
        let diffs = compare(&a, &b, opts);
        assert!(
            diffs.is_empty(),
            "host2 differs from host1:\n{}",
            diffs.join("\n")
        );
    }
}

/// A plain RFC 5322 message.
pub fn message(id: &str, subject: &str, body: &str) -> Vec<u8> {
    format!(
        "From: Alice <alice@example.org>\r\nTo: Bob <bob@example.org>\r\nSubject: {subject}\r\nDate: Mon, 01 Jan 2024 10:00:00 +0000\r\nMessage-ID: <{id}@example.org>\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}

/// Total number of messages in a snapshot.
pub fn count(s: &Snapshot) -> usize {
    s.values().map(Vec::len).sum()
}
