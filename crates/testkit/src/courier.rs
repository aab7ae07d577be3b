//! Throwaway Courier-IMAP 5.0 instances (Debian bookworm `courier-imap`, unpacked by
//! `scripts/deps.sh`, see [`crate::servers`]).
//!
//! Courier has compiled-in paths (`/etc/courier/...`, `/run/courier/authdaemon/socket`,
//! `/usr/lib/courier-authlib/`), so each instance runs in a private mount namespace
//! (`unshare --mount`, root only) in which
//! * `/usr` is an overlay of the unpacked package over the host's `/usr` (read-only),
//! * `/etc` is an overlay whose upper layer (on a tmpfs of the namespace) holds this
//!   instance's `/etc/courier` (authdaemonrc, imapd, imapd-ssl, userdb, certificate),
//! * `/run` is a private tmpfs.
//!
//! The host's `/etc`, `/usr` and `/run` are never modified; the network namespace is shared,
//! so the listeners are on the host's loopback. A small `/bin/sh` supervisor (the process
//! group leader, tied to the test process) starts `authdaemond`, `couriertcpd` for IMAP with
//! STARTTLS and `couriertcpd` + `couriertls` for IMAPS, and takes the whole group down when it
//! is signalled.
//!
//! Users are those of [`crate::USERS`] (no master user: Courier has none), with a Maildir++
//! (`INBOX.` + `.`) that already holds `Drafts`, `Sent`, `Trash`, `Junk` and `Archive`,
//! subscribed, as Debian's `maildirmake` would leave it. Capabilities are those of a stock
//! Courier: no LITERAL+, MULTIAPPEND, CONDSTORE, SPECIAL-USE, MOVE or COMPRESS.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};

use crate::dovecot::{USERS, chown, pick_ports, set_mode, tail};
use crate::servers::{
    Flavour, Group, ImapServer, chown_tree, mail_ids, package_root, start_group, wait_until_up,
};

/// Folders every Courier test mailbox starts with (under `INBOX.`).
pub const COURIER_FOLDERS: [&str; 5] = ["Drafts", "Sent", "Trash", "Junk", "Archive"];

/// `IMAP_CAPABILITY` of the instances (Debian's default plus AUTH=PLAIN).
pub const COURIER_CAPABILITY: &str = "IMAP4rev1 UIDPLUS CHILDREN NAMESPACE THREAD=ORDEREDSUBJECT THREAD=REFERENCES SORT QUOTA IDLE AUTH=PLAIN";

/// A running throwaway Courier instance; dropping it stops the server and deletes its files.
pub struct Courier {
    dir: tempfile::TempDir,
    port: u16,
    tls_port: u16,
    group: Option<Group>,
    startup_time: Duration,
}

impl std::fmt::Debug for Courier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Courier")
            .field("port", &self.port)
            .field("dir", &self.dir.path())
            .finish()
    }
}

impl Courier {
    /// Start an instance (needs root: a mount namespace).
    pub fn start() -> Result<Courier> {
        let root = package_root(
            "courier",
            "Courier-IMAP",
            &[
                "usr/bin/imapd",
                "usr/sbin/couriertcpd",
                "usr/lib/courier/courier/imaplogin",
                "usr/lib/courier/courier-authlib/authdaemond",
                "usr/sbin/makeuserdb",
            ],
        )?;
        let (is_root, _, uid, gid) = mail_ids()?;
        if !is_root {
            bail!(
                "the Courier harness needs root: Courier's paths are compiled in, so it runs in \
                 a private mount namespace (unshare --mount)"
            );
        }
        crate::dovecot::reap_stale_dirs_with("itk-courier-", "run/supervisor.pid");
        let dir = tempfile::Builder::new()
            .prefix("itk-courier-")
            .tempdir()
            .context("creating the Courier instance dir")?;
        let d = dir.path().to_path_buf();
        std::fs::write(d.join("owner.pid"), format!("{}\n", std::process::id()))?;
        set_mode(&d, 0o755)?;
        for sub in ["conf", "run", "log", "home", "ns"] {
            std::fs::create_dir_all(d.join(sub))?;
        }
        set_mode(&d.join("home"), 0o755)?;

        let pki = crate::tls::pki()?;
        std::fs::write(d.join("ca.pem"), &pki.ca_pem)?;
        let pem = d.join("conf/imapd.pem");
        std::fs::write(&pem, format!("{}{}", pki.key_pem, pki.cert_chain_pem))?;
        set_mode(&pem, 0o600)?;
        chown(&pem, uid, gid)?;

        // userdb: one line per user, crypt(3) SHA-512 password.
        let mut userdb = String::new();
        for (u, p) in USERS {
            let home = d.join("home").join(u);
            make_maildir(&home.join("Maildir"))?;
            chown_tree(&home, uid, gid)?;
            let hash = sha512_crypt(p)?;
            let _ = writeln!(
                userdb,
                "{u}\tuid={uid}|gid={gid}|home={}|shell=/bin/false|systempw={hash}",
                home.display()
            );
        }
        let udb = d.join("conf/userdb");
        std::fs::write(&udb, userdb)?;
        set_mode(&udb, 0o600)?;
        std::fs::write(
            d.join("conf/authdaemonrc"),
            "authmodulelist=\"authuserdb\"\nauthmodulelistorig=\"authuserdb\"\ndaemons=4\n\
             authdaemonvar=/run/courier/authdaemon\nDEBUG_LOGIN=0\nDEFAULTOPTIONS=\"\"\nLOGGEROPTS=\"\"\n",
        )?;

        let mut c = Courier {
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
            std::fs::write(d.join("conf/imapd"), c.imapd_env())?;
            std::fs::write(d.join("conf/imapd-ssl"), c.imapd_ssl_env())?;
            let script = d.join("ns-start.sh");
            std::fs::write(&script, c.ns_script(&root, uid, gid))?;
            let mut cmd = Command::new("unshare");
            cmd.args(["--mount", "--propagation", "private", "/bin/sh"])
                .arg(&script)
                .current_dir(&d)
                .env_clear()
                .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
            let log = d.join("log/supervisor.log");
            let before = std::fs::metadata(&log).map(|m| m.len()).unwrap_or(0);
            let mut g = start_group(cmd, &log).context("starting unshare (util-linux)")?;
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
                        "Courier (ports {}/{}) failed to start: {why}\n--- output ---\n{out}\n{}",
                        c.port,
                        c.tls_port,
                        c.log_tail(20)
                    );
                    if !out.contains("in use") {
                        return Err(e);
                    }
                    last = Some(e);
                }
            }
        }
        Err(last.unwrap_or_else(|| anyhow!("Courier: no start attempted")))
    }

    fn imapd_env(&self) -> String {
        let mut c = String::new();
        let _ = writeln!(c, "ADDRESS=127.0.0.1\nPORT={}", self.port);
        c.push_str("MAXDAEMONS=100\nMAXPERIP=100\n");
        c.push_str("TCPDOPTS=\"-nodnslookup -noidentlookup\"\n");
        let _ = writeln!(c, "IMAP_CAPABILITY=\"{COURIER_CAPABILITY}\"");
        c.push_str("IMAP_CAPABILITY_TLS=\"$IMAP_CAPABILITY\"\n");
        c.push_str(
            "IMAP_KEYWORDS=1\nIMAP_ACL=1\nIMAP_PROXY=0\nIMAP_IDLE_TIMEOUT=60\n\
             IMAP_MAILBOX_SANITY_CHECK=1\nIMAP_DISABLETHREADSORT=0\nIMAP_CHECK_ALL_FOLDERS=0\n\
             IMAP_OBSOLETE_CLIENT=0\nIMAP_UMASK=022\nIMAP_USELOCKS=1\nIMAP_ENHANCEDIDLE=0\n\
             IMAP_TRASHFOLDERNAME=Trash\nIMAP_EMPTYTRASH=\nIMAP_MOVE_EXPUNGE_TO_TRASH=0\n\
             SENDMAIL=/bin/false\nHEADERFROM=X-IMAP-Sender\nMAILDIRPATH=Maildir\n",
        );
        c
    }

    fn imapd_ssl_env(&self) -> String {
        let d = self.dir.path().display().to_string();
        format!(
            "SSLPORT={}\nSSLADDRESS=127.0.0.1\nIMAPDSTARTTLS=YES\nIMAP_TLS_REQUIRED=0\n\
             COURIERTLS=/usr/bin/couriertls\nTLS_CERTFILE=/etc/courier/imapd.pem\n\
             TLS_TRUSTCERTS={d}/ca.pem\nTLS_VERIFYPEER=NONE\nTLS_CACHEFILE=\nMAILDIRPATH=Maildir\n",
            self.tls_port
        )
    }

    /// The supervisor, run by `unshare --mount` as the leader of the instance's process group.
    fn ns_script(&self, root: &Path, uid: u32, gid: u32) -> String {
        let d = self.dir.path().display().to_string();
        let r = root.display().to_string();
        format!(
            r#"# generated by imapsync-testkit: one Courier instance in a private mount namespace
set -eu
echo $$ > {d}/run/supervisor.pid
mount --make-rprivate /
mount -t tmpfs -o mode=755 itk-courier-ns {d}/ns
mkdir {d}/ns/upper {d}/ns/work
cp -a {d}/conf {d}/ns/upper/courier
mount -t overlay itk-courier-usr -o lowerdir={r}/usr:/usr /usr
mount -t overlay itk-courier-etc -o lowerdir={r}/etc:/etc,upperdir={d}/ns/upper,workdir={d}/ns/work /etc
mount -t tmpfs -o mode=755 itk-courier-run /run
mkdir -p /run/courier/authdaemon
chmod 750 /run/courier/authdaemon
/usr/sbin/makeuserdb -f /etc/courier/userdb
# couriertls drops privileges to the user "courier": it exists in this namespace's /etc only.
grep -q '^courier:' /etc/passwd || echo 'courier:x:{uid}:{gid}:courier (imapsync-testkit):/nonexistent:/usr/sbin/nologin' >>/etc/passwd
grep -q '^courier:' /etc/group || echo 'courier:x:{gid}:' >>/etc/group
# couriertcpd puts itself in a process group of its own: those groups are signalled by name.
PIDS=""
stop() {{
  trap '' TERM INT HUP
  for p in $PIDS; do kill -TERM -$p 2>/dev/null; done
  kill -TERM 0 2>/dev/null
  wait
  exit 0
}}
trap stop TERM INT HUP
cd /
/usr/lib/courier/courier-authlib/authdaemond </dev/null >>{d}/log/authdaemond.log 2>&1 &
i=0
while [ ! -S /run/courier/authdaemon/socket ]; do
  i=$((i + 1)); [ $i -lt 400 ] || {{ echo "authdaemond did not create its socket" >&2; exit 1; }}
  sleep 0.05
done
/usr/bin/env -i /bin/sh -c 'set -a; . /etc/courier/imapd; . /etc/courier/imapd-ssl; IMAP_STARTTLS=YES;
  exec /usr/sbin/couriertcpd -address=$ADDRESS -maxprocs=$MAXDAEMONS -maxperip=$MAXPERIP $TCPDOPTS \
    $PORT /usr/lib/courier/courier/imaplogin /usr/bin/imapd Maildir' </dev/null >>{d}/log/imapd.log 2>&1 &
PIDS="$PIDS $!"
/usr/bin/env -i /bin/sh -c 'set -a; . /etc/courier/imapd; . /etc/courier/imapd-ssl; IMAP_TLS=1;
  exec /usr/sbin/couriertcpd -address=$SSLADDRESS -maxprocs=$MAXDAEMONS -maxperip=$MAXPERIP $TCPDOPTS \
    $SSLPORT $COURIERTLS -server -tcpd -user=courier /usr/lib/courier/courier/imaplogin /usr/bin/imapd Maildir' \
    </dev/null >>{d}/log/imapd-ssl.log 2>&1 &
PIDS="$PIDS $!"
set +e
wait
"#
        )
    }

    /// Time from spawning the supervisor to the first greeting.
    pub fn startup_time(&self) -> Duration {
        self.startup_time
    }

    /// Pid of the process group leader (the group id of every server process).
    pub fn pid(&self) -> Option<u32> {
        self.group.as_ref().and_then(Group::pid)
    }

    /// Instance directory.
    pub fn instance_dir(&self) -> &Path {
        self.dir.path()
    }

    /// Maildir of `user`.
    pub fn user_maildir(&self, user: &str) -> PathBuf {
        self.dir.path().join("home").join(user).join("Maildir")
    }
}

impl ImapServer for Courier {
    fn flavour(&self) -> Flavour {
        Flavour::Courier
    }
    fn port(&self) -> u16 {
        self.port
    }
    fn tls_port(&self) -> u16 {
        self.tls_port
    }
    fn ca_cert_path(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }
    fn users(&self) -> Vec<(String, String)> {
        USERS
            .iter()
            .map(|(u, p)| (u.to_string(), p.to_string()))
            .collect()
    }
    fn prefix(&self) -> &str {
        "INBOX."
    }
    fn separator(&self) -> char {
        '.'
    }
    fn log_tail(&self, lines: usize) -> String {
        let d = self.dir.path().join("log");
        let mut out = String::new();
        for f in ["supervisor.log", "authdaemond.log", "imapd.log"] {
            let _ = writeln!(out, "--- {f}\n{}", tail(&d.join(f), lines));
        }
        out
    }
}

impl Drop for Courier {
    fn drop(&mut self) {
        if let Some(mut g) = self.group.take() {
            g.stop(Duration::from_secs(10));
        }
    }
}

/// A Maildir++ with the usual folders, subscribed.
fn make_maildir(m: &Path) -> Result<()> {
    let mut subscribed = String::new();
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(m.join(sub))?;
    }
    for f in COURIER_FOLDERS {
        let fd = m.join(format!(".{f}"));
        for sub in ["cur", "new", "tmp"] {
            std::fs::create_dir_all(fd.join(sub))?;
        }
        std::fs::write(fd.join("maildirfolder"), "")?;
        let _ = writeln!(subscribed, "INBOX.{f}");
    }
    std::fs::write(m.join("courierimapsubscribed"), subscribed)?;
    Ok(())
}

/// `$6$` crypt(3) hash of a password, made by `openssl passwd -6`.
fn sha512_crypt(pass: &str) -> Result<String> {
    let mut child = Command::new("openssl")
        .args(["passwd", "-6", "-stdin"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .context("running `openssl passwd` (install the openssl package)")?;
    if let Some(mut stdin) = child.stdin.take() {
        std::io::Write::write_all(&mut stdin, pass.as_bytes())?;
    }
    let out = child.wait_with_output()?;
    let hash = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !out.status.success() || !hash.starts_with("$6$") {
        bail!(
            "openssl passwd -6 failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(hash)
}
