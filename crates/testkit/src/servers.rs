//! One interface over every throwaway server of the test matrix: Dovecot in its four
//! [`Layout`]s, Cyrus IMAPd 3 with either hierarchy separator ([`Cyrus`]) and Courier-IMAP 5
//! ([`Courier`]).
//!
//! Cyrus and Courier cannot be installed with `apt-get install` next to Dovecot (their Debian
//! packages conflict with `imap-server`), so `scripts/deps.sh` downloads their Debian packages
//! and unpacks them, without running any package script, under [`servers_dir`]
//! (`target/test-servers/{cyrus,courier}` of the workspace unless
//! `IMAPSYNC_TESTKIT_SERVERS` says otherwise); only their libraries are installed system-wide.
//! Both harnesses run the unpacked binaries with a private configuration in a temp dir, on
//! random loopback ports, with the same users as [`Dovecot`], and fail loudly when they can't.
//!
//! [`Flavour`] names a server of the matrix (`dovecot-dot`, `cyrus-slash`, `courier`, ...) and
//! starts it as a `Box<dyn ImapServer>`, so a test can run over pairs of servers.

use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};

use crate::courier::Courier;
use crate::cyrus::{Cyrus, CyrusLayout};
use crate::dovecot::{Dovecot, Layout};
use crate::imap::TestImap;
use crate::spawn::{group_members, spawn_tied};

/// Environment variable naming the directory the Cyrus and Courier packages are unpacked in.
pub const SERVERS_DIR_ENV: &str = "IMAPSYNC_TESTKIT_SERVERS";

/// Where `scripts/deps.sh` unpacks the Cyrus and Courier packages: `$IMAPSYNC_TESTKIT_SERVERS`,
/// else `target/test-servers` of this workspace.
pub fn servers_dir() -> PathBuf {
    match std::env::var_os(SERVERS_DIR_ENV) {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/test-servers"),
    }
}

/// Root of one unpacked server (`cyrus` or `courier`), checked for completeness.
pub(crate) fn package_root(name: &str, what: &str, must_have: &[&str]) -> Result<PathBuf> {
    let root = servers_dir().join(name);
    let missing: Vec<&str> = must_have
        .iter()
        .copied()
        .filter(|p| !root.join(p).exists())
        .collect();
    if !root.join(".complete").exists() || !missing.is_empty() {
        bail!(
            "{what} is not unpacked in {} (missing: {}): run scripts/deps.sh, which downloads \
             the Debian packages and unpacks them there, or point {SERVERS_DIR_ENV} at such a \
             directory",
            root.display(),
            if missing.is_empty() {
                ".complete".to_string()
            } else {
                missing.join(", ")
            }
        );
    }
    Ok(root)
}

/// `usr/lib/<triplet>` directories of an unpacked package tree (for `LD_LIBRARY_PATH`).
pub(crate) fn lib_dirs(root: &Path) -> String {
    let mut dirs = Vec::new();
    if let Ok(rd) = std::fs::read_dir(root.join("usr/lib")) {
        for e in rd.flatten() {
            let n = e.file_name();
            if n.to_string_lossy().ends_with("-linux-gnu") && e.path().is_dir() {
                dirs.push(e.path().display().to_string());
            }
        }
    }
    dirs.push(root.join("usr/lib").display().to_string());
    dirs.join(":")
}

/// Wire name of a canonical `/`-separated UTF-8 path under a personal namespace
/// `(prefix, sep)`. `INBOX` (any case) and its children keep the INBOX spelling.
pub fn wire_name(prefix: &str, sep: char, path: &str) -> String {
    crate::corpus::wire_name(path, prefix, sep)
}

/// A server of the test matrix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Flavour {
    Dovecot(Layout),
    Cyrus(CyrusLayout),
    Courier,
}

impl Flavour {
    /// Every flavour.
    pub const ALL: [Flavour; 7] = [
        Flavour::Dovecot(Layout::DotPrefix),
        Flavour::Dovecot(Layout::Slash),
        Flavour::Dovecot(Layout::GmailLike),
        Flavour::Dovecot(Layout::ExchangeLike),
        Flavour::Cyrus(CyrusLayout::Slash),
        Flavour::Cyrus(CyrusLayout::Dot),
        Flavour::Courier,
    ];

    /// `dovecot-dot`, `dovecot-slash`, `dovecot-gmail`, `dovecot-exchange`, `cyrus-slash`,
    /// `cyrus-dot`, `courier`.
    pub fn name(self) -> String {
        match self {
            Flavour::Dovecot(l) => format!("dovecot-{}", l.name()),
            Flavour::Cyrus(l) => format!("cyrus-{}", l.name()),
            Flavour::Courier => "courier".into(),
        }
    }

    /// Inverse of [`Flavour::name`]; a bare Dovecot layout name (`dot`, `gmail`) is accepted too.
    pub fn parse(s: &str) -> Option<Flavour> {
        Flavour::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .or_else(|| Layout::parse(s).map(Flavour::Dovecot))
    }

    /// The server column of `fixtures/corpus/SERVER-BEHAVIOUR.tsv` that describes what this
    /// server does to the edge-case corpus.
    pub fn behaviour_key(self) -> &'static str {
        match self {
            Flavour::Dovecot(_) => "dovecot-fs",
            Flavour::Cyrus(_) => "cyrus-slash",
            Flavour::Courier => "courier",
        }
    }

    /// Start a throwaway instance.
    pub fn start(self) -> Result<Box<dyn ImapServer>> {
        Ok(match self {
            Flavour::Dovecot(l) => Box::new(Dovecot::start(l)?),
            Flavour::Cyrus(l) => Box::new(Cyrus::start(l)?),
            Flavour::Courier => Box::new(Courier::start()?),
        })
    }
}

impl std::fmt::Display for Flavour {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name())
    }
}

/// What the tests need to know about a running server, whichever it is.
pub trait ImapServer: Send + Sync + std::fmt::Debug {
    /// Which server this is.
    fn flavour(&self) -> Flavour;
    /// Always `127.0.0.1`.
    fn host(&self) -> &str {
        "127.0.0.1"
    }
    /// Plain IMAP port (STARTTLS offered).
    fn port(&self) -> u16;
    /// Implicit-TLS port.
    fn tls_port(&self) -> u16;
    /// PEM of the CA that signed the server certificate.
    fn ca_cert_path(&self) -> PathBuf;
    /// Users `(name, password)`.
    fn users(&self) -> Vec<(String, String)>;
    /// Personal namespace prefix (`""` or `INBOX.`).
    fn prefix(&self) -> &str;
    /// Hierarchy separator.
    fn separator(&self) -> char;
    /// Last lines of the server's logs (for assertion messages).
    fn log_tail(&self, lines: usize) -> String;

    /// Password of a known user.
    fn password_of(&self, user: &str) -> Option<String> {
        self.users()
            .into_iter()
            .find(|(u, _)| u == user)
            .map(|(_, p)| p)
    }

    /// Log in as a known user with a fresh [`TestImap`].
    fn connect(&self, user: &str) -> Result<TestImap> {
        let pass = self
            .password_of(user)
            .ok_or_else(|| anyhow!("unknown test user {user:?}"))?;
        TestImap::connect_login(self.host(), self.port(), user, &pass)
            .with_context(|| format!("{}: logging in as {user}", self.flavour()))
    }

    /// Wire name of a canonical `/`-separated path.
    fn wire_name(&self, path: &str) -> String {
        wire_name(self.prefix(), self.separator(), path)
    }
}

impl ImapServer for Dovecot {
    fn flavour(&self) -> Flavour {
        Flavour::Dovecot(self.layout())
    }
    fn port(&self) -> u16 {
        Dovecot::port(self)
    }
    fn tls_port(&self) -> u16 {
        Dovecot::tls_port(self)
    }
    fn ca_cert_path(&self) -> PathBuf {
        Dovecot::ca_cert_path(self)
    }
    fn users(&self) -> Vec<(String, String)> {
        Dovecot::users(self)
    }
    fn prefix(&self) -> &str {
        self.layout().prefix()
    }
    fn separator(&self) -> char {
        self.layout().separator()
    }
    fn log_tail(&self, lines: usize) -> String {
        Dovecot::log_tail(self, lines)
    }
}

/// A server process group started by [`start_group`]: the leader is tied to this process
/// (it gets SIGTERM if the test process dies) and leads its own process group.
#[derive(Debug)]
pub(crate) struct Group {
    child: Option<Child>,
}

/// Spawn `cmd` as the leader of a new process group tied to this process, output appended
/// to `log`.
pub(crate) fn start_group(mut cmd: Command, log: &Path) -> Result<Group> {
    let open = || {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .with_context(|| format!("opening {}", log.display()))
    };
    cmd.stdin(Stdio::null())
        .stdout(open()?)
        .stderr(open()?)
        .process_group(0);
    let child = spawn_tied(cmd, libc::SIGTERM)?;
    Ok(Group { child: Some(child) })
}

impl Group {
    /// Pid of the leader (= the process group id), while it runs.
    pub(crate) fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Why the leader is gone, if it is.
    pub(crate) fn exited(&mut self) -> Option<String> {
        match self.child.as_mut().map(|c| c.try_wait()) {
            Some(Ok(Some(st))) => Some(format!("exited with {st}")),
            Some(Err(e)) => Some(format!("cannot wait for it: {e}")),
            Some(Ok(None)) => None,
            None => Some("not started".into()),
        }
    }

    /// SIGTERM to the leader (which takes its children down: Cyrus' master spins when its
    /// children die under it first), up to `grace` for the whole group to end, then SIGKILL
    /// to the group; reaped.
    pub(crate) fn stop(&mut self, grace: Duration) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let pid = child.id();
        let pgid = pid as libc::pid_t;
        // SAFETY: signalling our own child, not yet reaped.
        unsafe { libc::kill(pgid, libc::SIGTERM) };
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            let _ = child.try_wait();
            if group_members(pid).is_empty() {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        if !group_members(pid).is_empty() {
            // SAFETY: as above; the group still has members, so the id is still ours.
            unsafe { libc::kill(-pgid, libc::SIGKILL) };
        }
        let _ = child.wait();
        let end = Instant::now() + Duration::from_secs(5);
        while !group_members(pid).is_empty() && Instant::now() < end {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        self.stop(Duration::from_secs(5));
    }
}

/// Waits until `port` greets with `* OK` (and `tls_port` accepts a connection), or the
/// group's leader exits, or 30 s pass.
pub(crate) fn wait_until_up(
    group: &mut Group,
    port: u16,
    tls_port: Option<u16>,
) -> std::result::Result<Duration, String> {
    let started = Instant::now();
    let deadline = started + Duration::from_secs(30);
    loop {
        if let Some(why) = group.exited() {
            return Err(why);
        }
        if probe_greeting(port) {
            let tls_ok = tls_port.is_none_or(|p| {
                let a = std::net::SocketAddr::from(([127, 0, 0, 1], p));
                std::net::TcpStream::connect_timeout(&a, Duration::from_secs(2)).is_ok()
            });
            if tls_ok {
                return Ok(started.elapsed());
            }
        }
        if Instant::now() > deadline {
            return Err("no IMAP greeting within 30 s".into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn probe_greeting(port: u16) -> bool {
    use std::io::Read;
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let Ok(mut s) = std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(500)) else {
        return false;
    };
    if s.set_read_timeout(Some(Duration::from_secs(5))).is_err() {
        return false;
    }
    let mut buf = Vec::new();
    let mut byte = [0u8; 256];
    while !buf.contains(&b'\n') && buf.len() < 4096 {
        match s.read(&mut byte) {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&byte[..n]),
        }
    }
    buf.starts_with(b"* OK")
}

/// uid/gid that own the mail: `mail` when running as root, else ourselves.
pub(crate) fn mail_ids() -> Result<(bool, String, u32, u32)> {
    // SAFETY: trivial libc getters.
    let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
    if uid == 0 {
        let (name, u, g) = crate::dovecot::getpw(Some("mail"), 0)
            .ok_or_else(|| anyhow!("system user `mail` not found (needed to own the test mail)"))?;
        Ok((true, name, u, g))
    } else {
        let (name, _, _) = crate::dovecot::getpw(None, uid)
            .ok_or_else(|| anyhow!("cannot find the name of uid {uid}"))?;
        Ok((false, name, uid, gid))
    }
}

/// `chown -R uid:gid dir`.
pub(crate) fn chown_tree(dir: &Path, uid: u32, gid: u32) -> Result<()> {
    crate::dovecot::chown(dir, uid, gid)?;
    if dir.is_dir() && !dir.is_symlink() {
        for e in std::fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
            chown_tree(&e?.path(), uid, gid)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for f in Flavour::ALL {
            assert_eq!(Flavour::parse(&f.name()), Some(f));
        }
        assert_eq!(
            Flavour::parse("dot"),
            Some(Flavour::Dovecot(Layout::DotPrefix))
        );
        assert_eq!(Flavour::parse("cyrus"), None);
    }

    #[test]
    fn wire_names() {
        assert_eq!(wire_name("INBOX.", '.', "a/b"), "INBOX.a.b");
        assert_eq!(wire_name("INBOX.", '.', "INBOX/x"), "INBOX.x");
        assert_eq!(wire_name("", '/', "Entwürfe/x"), "Entw&APw-rfe/x");
        assert_eq!(wire_name("", '/', "INBOX/x"), "INBOX/x");
        assert_eq!(wire_name("", '.', "inbox"), "INBOX");
        for l in Layout::ALL {
            for p in ["INBOX", "a/b", "INBOX/x", "Entwürfe"] {
                assert_eq!(wire_name(l.prefix(), l.separator(), p), l.wire_name(p));
            }
        }
    }
}
