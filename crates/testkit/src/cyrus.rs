//! Throwaway Cyrus IMAPd 3.6 instances (Debian bookworm `cyrus-imapd`, unpacked by
//! `scripts/deps.sh`, see [`crate::servers`]).
//!
//! Each [`Cyrus`] has its own temp dir holding `imapd.conf`, `cyrus.conf`, the sasldb with the
//! users, the certificates, the spool and the databases; the `master` process runs in the
//! foreground, in its own process group, tied to the test process (see [`crate::spawn`]), and
//! is stopped with its children when the value is dropped. Nothing in `/etc` is read or
//! written; Cyrus logs to syslog only, so a failure report carries master's stderr.
//!
//! Users are those of [`crate::USERS`] plus `admin`/`adminpass`, a Cyrus admin that may also
//! act for other users (`AUTHENTICATE PLAIN` with authzid `user1`, authcid `admin`). A user's
//! INBOX and `Drafts`, `Sent`, `Trash`, `Junk`, `Archive` (with their special-use flags) are
//! created at the first login, as a provisioned Cyrus account has them.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};

use crate::dovecot::{MASTER_PASSWORD, MASTER_USER, USERS, chown, pick_ports, set_mode, tail};
use crate::servers::{
    Flavour, Group, ImapServer, chown_tree, lib_dirs, mail_ids, package_root, start_group,
    wait_until_up,
};

/// Folders created with every INBOX (special-use flag = name).
pub const CYRUS_SPECIAL_FOLDERS: [&str; 5] = ["Drafts", "Sent", "Trash", "Junk", "Archive"];

/// Which namespace settings the instance runs with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CyrusLayout {
    /// `unixhierarchysep: yes`, `altnamespace: yes`: separator `/`, personal prefix `""`
    /// (`NAMESPACE (("" "/")) (("Other Users/" "/")) (("Shared Folders/" "/"))`).
    Slash,
    /// Both off (Cyrus' classic defaults): separator `.`, personal prefix `INBOX.`
    /// (`NAMESPACE (("INBOX." ".")) (("user." ".")) (("" "."))`).
    Dot,
}

impl CyrusLayout {
    /// `slash` or `dot`.
    pub fn name(self) -> &'static str {
        match self {
            CyrusLayout::Slash => "slash",
            CyrusLayout::Dot => "dot",
        }
    }

    /// Hierarchy separator.
    pub fn separator(self) -> char {
        match self {
            CyrusLayout::Slash => '/',
            CyrusLayout::Dot => '.',
        }
    }

    /// Personal namespace prefix.
    pub fn prefix(self) -> &'static str {
        match self {
            CyrusLayout::Slash => "",
            CyrusLayout::Dot => "INBOX.",
        }
    }
}

/// A running throwaway Cyrus instance; dropping it stops the server and deletes its files.
pub struct Cyrus {
    layout: CyrusLayout,
    dir: tempfile::TempDir,
    port: u16,
    tls_port: u16,
    group: Option<Group>,
    startup_time: Duration,
}

impl std::fmt::Debug for Cyrus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cyrus")
            .field("layout", &self.layout)
            .field("port", &self.port)
            .field("dir", &self.dir.path())
            .finish()
    }
}

const BIN: &str = "usr/lib/cyrus/bin";

impl Cyrus {
    /// Start an instance.
    pub fn start(layout: CyrusLayout) -> Result<Cyrus> {
        let root = package_root(
            "cyrus",
            "Cyrus IMAPd",
            &[
                "usr/lib/cyrus/bin/master",
                "usr/lib/cyrus/bin/imapd",
                "usr/lib/cyrus/bin/ctl_cyrusdb",
            ],
        )?;
        let saslpasswd = which("saslpasswd2").ok_or_else(|| {
            anyhow!("saslpasswd2 not found (Debian package sasl2-bin): run scripts/deps.sh")
        })?;
        crate::dovecot::reap_stale_dirs_with("itk-cyrus-", "run/master.pid");
        let (root_user, cyrus_user, uid, gid) = mail_ids()?;
        let dir = tempfile::Builder::new()
            .prefix("itk-cyrus-")
            .tempdir()
            .context("creating the Cyrus instance dir")?;
        let d = dir.path().to_path_buf();
        std::fs::write(d.join("owner.pid"), format!("{}\n", std::process::id()))?;
        set_mode(&d, 0o755)?;
        for sub in [
            "etc",
            "lib/socket",
            "lib/proc",
            "lib/lock",
            "lib/db",
            "spool",
            "sieve",
            "run",
            "log",
        ] {
            std::fs::create_dir_all(d.join(sub))?;
        }
        let pki = crate::tls::pki()?;
        std::fs::write(d.join("etc/ca.pem"), &pki.ca_pem)?;
        std::fs::write(d.join("etc/cert.pem"), &pki.cert_chain_pem)?;
        std::fs::write(d.join("etc/key.pem"), &pki.key_pem)?;
        set_mode(&d.join("etc/key.pem"), 0o600)?;

        // Users: sasldb entries (saslpasswd2 reads the password from stdin with -p).
        let sasldb = d.join("etc/sasldb2");
        let mut users: Vec<(String, String)> = USERS
            .iter()
            .map(|(u, p)| (u.to_string(), p.to_string()))
            .collect();
        users.push((MASTER_USER.into(), MASTER_PASSWORD.into()));
        for (u, p) in &users {
            let mut child = Command::new(&saslpasswd)
                .arg("-f")
                .arg(&sasldb)
                .args(["-u", "localhost", "-c", "-p", u])
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .with_context(|| format!("running {}", saslpasswd.display()))?;
            if let Some(mut stdin) = child.stdin.take() {
                std::io::Write::write_all(&mut stdin, p.as_bytes())?;
            }
            let out = child.wait_with_output()?;
            if !out.status.success() {
                bail!(
                    "saslpasswd2 could not add {u}: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
        if root_user {
            chown_tree(&d, uid, gid)?;
            chown(&d, 0, 0)?;
        }
        set_mode(&sasldb, 0o600)?;

        let mut c = Cyrus {
            layout,
            dir,
            port: 0,
            tls_port: 0,
            group: None,
            startup_time: Duration::ZERO,
        };
        let mut last = None;
        for _ in 0..5 {
            let (p, tp) = pick_ports()?;
            c.port = p;
            c.tls_port = tp;
            std::fs::write(d.join("etc/imapd.conf"), c.imapd_conf(&cyrus_user, &users))?;
            std::fs::write(d.join("etc/cyrus.conf"), c.cyrus_conf(&root))?;
            let mut cmd = Command::new(root.join(BIN).join("master"));
            cmd.arg("-C")
                .arg(d.join("etc/imapd.conf"))
                .arg("-M")
                .arg(d.join("etc/cyrus.conf"))
                .arg("-p")
                .arg(d.join("run/master.pid"))
                .env("LD_LIBRARY_PATH", lib_dirs(&root))
                .current_dir(&d);
            let log = d.join("log/master.log");
            let before = std::fs::metadata(&log).map(|m| m.len()).unwrap_or(0);
            let mut g = start_group(cmd, &log)?;
            match wait_until_up(&mut g, c.port, Some(c.tls_port)) {
                Ok(t) => {
                    c.startup_time = t;
                    c.group = Some(g);
                    return Ok(c);
                }
                Err(why) => {
                    g.stop(Duration::from_secs(5));
                    let text = std::fs::read(&log).unwrap_or_default();
                    let from = (before as usize).min(text.len());
                    let out = String::from_utf8_lossy(&text[from..]).into_owned();
                    let e = anyhow!(
                        "Cyrus ({}, ports {}/{}) failed to start: {why}\n--- master output ---\n{out}",
                        layout.name(),
                        c.port,
                        c.tls_port
                    );
                    // A port taken between our probe and master's bind: try others.
                    if !out.contains("in use") {
                        return Err(e);
                    }
                    last = Some(e);
                }
            }
        }
        Err(last.unwrap_or_else(|| anyhow!("Cyrus: no start attempted")))
    }

    fn imapd_conf(&self, cyrus_user: &str, users: &[(String, String)]) -> String {
        let d = self.dir.path().display().to_string();
        let (uhs, alt) = match self.layout {
            CyrusLayout::Slash => ("yes", "yes"),
            CyrusLayout::Dot => ("no", "no"),
        };
        let autocreate: Vec<&str> = users
            .iter()
            .map(|(u, _)| u.as_str())
            .filter(|u| *u != MASTER_USER)
            .collect();
        let mut c = String::new();
        let _ = writeln!(
            c,
            "# generated by imapsync-testkit ({})",
            self.layout.name()
        );
        let _ = writeln!(c, "configdirectory: {d}/lib");
        let _ = writeln!(c, "partition-default: {d}/spool");
        c.push_str("defaultpartition: default\n");
        let _ = writeln!(c, "sievedir: {d}/sieve");
        let _ = writeln!(c, "lmtpsocket: {d}/lib/socket/lmtp");
        let _ = writeln!(c, "idlesocket: {d}/lib/socket/idle");
        let _ = writeln!(c, "notifysocket: {d}/lib/socket/notify");
        let _ = writeln!(c, "syslog_prefix: itk-cyrus-{}", self.port);
        let _ = writeln!(c, "cyrus_user: {cyrus_user}");
        c.push_str("servername: localhost\n");
        let _ = writeln!(c, "admins: {MASTER_USER}");
        let _ = writeln!(c, "proxyservers: {MASTER_USER}");
        let _ = writeln!(c, "unixhierarchysep: {uhs}");
        let _ = writeln!(c, "altnamespace: {alt}");
        c.push_str("virtdomains: off\nallowplaintext: yes\n");
        c.push_str("sasl_pwcheck_method: auxprop\nsasl_auxprop_plugin: sasldb\n");
        let _ = writeln!(c, "sasl_sasldb_path: {d}/etc/sasldb2");
        c.push_str("sasl_mech_list: PLAIN LOGIN\n");
        let _ = writeln!(c, "tls_server_cert: {d}/etc/cert.pem");
        let _ = writeln!(c, "tls_server_key: {d}/etc/key.pem");
        c.push_str("autocreate_quota: 0\n");
        let _ = writeln!(c, "autocreate_users: {}", autocreate.join(" "));
        let specials = CYRUS_SPECIAL_FOLDERS.join(" | ");
        let _ = writeln!(c, "autocreate_inbox_folders: {specials}");
        let _ = writeln!(c, "autocreate_subscribe_folders: {specials}");
        for f in CYRUS_SPECIAL_FOLDERS {
            let _ = writeln!(c, "xlist-{}: {f}", f.to_ascii_lowercase());
        }
        c.push_str("delete_mode: immediate\nexpunge_mode: immediate\n");
        c.push_str("maxlogins_per_user: 0\n");
        // Answer a failed login at once (default: 3 s), tests fail logins on purpose.
        c.push_str("failedloginpause: 0\n");
        c
    }

    fn cyrus_conf(&self, root: &Path) -> String {
        let bin = root.join(BIN).display().to_string();
        let conf = self.dir.path().join("etc/imapd.conf").display().to_string();
        format!(
            "# generated by imapsync-testkit\n\
             START {{\n  recover cmd=\"{bin}/ctl_cyrusdb -C {conf} -r\"\n}}\n\
             SERVICES {{\n  \
               imap cmd=\"{bin}/imapd -C {conf}\" listen=\"127.0.0.1:{p}\" prefork=0 maxchild=200\n  \
               imaps cmd=\"{bin}/imapd -s -C {conf}\" listen=\"127.0.0.1:{tp}\" prefork=0 maxchild=200\n\
             }}\n\
             EVENTS {{\n  checkpoint cmd=\"{bin}/ctl_cyrusdb -C {conf} -c\" period=30\n}}\n",
            p = self.port,
            tp = self.tls_port
        )
    }

    /// The namespace settings.
    pub fn layout(&self) -> CyrusLayout {
        self.layout
    }

    /// Time from spawning `master` to its first greeting.
    pub fn startup_time(&self) -> Duration {
        self.startup_time
    }

    /// Pid of the process group leader (the group id of every server process).
    pub fn pid(&self) -> Option<u32> {
        self.group.as_ref().and_then(Group::pid)
    }

    /// Instance directory (configuration, spool, databases, logs).
    pub fn instance_dir(&self) -> &Path {
        self.dir.path()
    }
}

impl ImapServer for Cyrus {
    fn flavour(&self) -> Flavour {
        Flavour::Cyrus(self.layout)
    }
    fn port(&self) -> u16 {
        self.port
    }
    fn tls_port(&self) -> u16 {
        self.tls_port
    }
    fn ca_cert_path(&self) -> PathBuf {
        self.dir.path().join("etc/ca.pem")
    }
    fn users(&self) -> Vec<(String, String)> {
        USERS
            .iter()
            .map(|(u, p)| (u.to_string(), p.to_string()))
            .chain([(MASTER_USER.to_string(), MASTER_PASSWORD.to_string())])
            .collect()
    }
    fn prefix(&self) -> &str {
        self.layout.prefix()
    }
    fn separator(&self) -> char {
        self.layout.separator()
    }
    fn log_tail(&self, lines: usize) -> String {
        tail(&self.dir.path().join("log/master.log"), lines)
    }
}

impl Drop for Cyrus {
    fn drop(&mut self) {
        if let Some(mut g) = self.group.take() {
            // master signals its children and is gone within ~100 ms, except when a connection
            // is still waiting in a listen queue: then it spins on it and needs SIGKILL.
            g.stop(Duration::from_secs(1));
        }
    }
}

/// First `name` found on PATH or in the sbin directories.
pub(crate) fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/bin"].map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}
