//! Throwaway Dovecot instances: one foreground master per [`Dovecot`] value.
//!
//! Everything lives in a private temp dir (config, `base_dir`, `state_dir`, logs,
//! passwd files, certificates and, unless told otherwise, the mail); nothing in `/etc`
//! is read or written. The master runs as `dovecot -F -c <conf>`, is forked through
//! [`crate::spawn`] so it dies with the test process, and is stopped (and waited for)
//! when the value is dropped.

use std::ffi::CString;
use std::fmt::Write as _;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};

use crate::imap::TestImap;
use crate::prng::Rng;
use crate::spawn::{children_of, group_members, pid_alive, spawn_tied};

/// Where the Debian package installs the master binary.
pub const DOVECOT_BIN: &str = "/usr/sbin/dovecot";
/// Environment variable that overrides [`DOVECOT_BIN`].
pub const DOVECOT_BIN_ENV: &str = "IMAPSYNC_TESTKIT_DOVECOT";

/// Password of the `weird` user: space, double quote, backslash, parenthesis, dollar.
pub const WEIRD_PASSWORD: &str = "sp ace\"q\\b($";
/// Users present on every instance: `(name, password)`.
pub const USERS: [(&str, &str); 4] = [
    ("user1", "pass1"),
    ("user2", "pass2"),
    ("user3", "pass3"),
    ("weird", WEIRD_PASSWORD),
];
/// Master user name (Dovecot master passdb).
pub const MASTER_USER: &str = "admin";
/// Master user password.
pub const MASTER_PASSWORD: &str = "adminpass";
/// `auth_master_user_separator`: log in as `user1*admin` with the master password.
pub const MASTER_SEPARATOR: char = '*';

/// Post-login CAPABILITY of Dovecot 2.3.19 without plugins (in Dovecot's order).
/// Used to build an explicit `imap_capability` when capabilities are removed.
pub const DOVECOT_CAPABILITIES: &[&str] = &[
    "IMAP4rev1",
    "SASL-IR",
    "LOGIN-REFERRALS",
    "ID",
    "ENABLE",
    "IDLE",
    "SORT",
    "SORT=DISPLAY",
    "THREAD=REFERENCES",
    "THREAD=REFS",
    "THREAD=ORDEREDSUBJECT",
    "MULTIAPPEND",
    "URL-PARTIAL",
    "CATENATE",
    "UNSELECT",
    "CHILDREN",
    "NAMESPACE",
    "UIDPLUS",
    "LIST-EXTENDED",
    "I18NLEVEL=1",
    "CONDSTORE",
    "QRESYNC",
    "ESEARCH",
    "ESORT",
    "SEARCHRES",
    "WITHIN",
    "CONTEXT=SEARCH",
    "LIST-STATUS",
    "BINARY",
    "MOVE",
    "SNIPPET=FUZZY",
    "PREVIEW=FUZZY",
    "PREVIEW",
    "STATUS=SIZE",
    "SAVEDATE",
    "LITERAL+",
    "NOTIFY",
    "SPECIAL-USE",
];

/// Which server personality to emulate (namespace, separator, special folders, greeting).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Layout {
    /// Courier-like: separator `.`, personal namespace prefix `INBOX.`, Maildir++.
    DotPrefix,
    /// Separator `/`, empty prefix, maildir `LAYOUT=fs`.
    Slash,
    /// Gmail-like: `/`, `[Gmail]/...` special-use folders, `[Gmail]` is `\Noselect`.
    GmailLike,
    /// Exchange-like: `/`, `Sent Items`, `Deleted Items`, `Junk Email`, ...
    ExchangeLike,
}

impl Layout {
    /// All layouts.
    pub const ALL: [Layout; 4] = [
        Layout::DotPrefix,
        Layout::Slash,
        Layout::GmailLike,
        Layout::ExchangeLike,
    ];

    /// Hierarchy separator.
    pub fn separator(self) -> char {
        match self {
            Layout::DotPrefix => '.',
            _ => '/',
        }
    }

    /// Personal namespace prefix.
    pub fn prefix(self) -> &'static str {
        match self {
            Layout::DotPrefix => "INBOX.",
            _ => "",
        }
    }

    /// Auto-created (and subscribed) folders with their special-use flag, names relative
    /// to the namespace prefix with `/` as separator. Empty for the plain layouts.
    pub fn special_folders(self) -> &'static [(&'static str, Option<&'static str>)] {
        match self {
            Layout::DotPrefix | Layout::Slash => &[],
            Layout::GmailLike => &[
                ("[Gmail]/All Mail", Some("\\All")),
                ("[Gmail]/Sent Mail", Some("\\Sent")),
                ("[Gmail]/Drafts", Some("\\Drafts")),
                ("[Gmail]/Trash", Some("\\Trash")),
                ("[Gmail]/Spam", Some("\\Junk")),
                ("[Gmail]/Starred", Some("\\Flagged")),
                ("[Gmail]/Important", Some("\\Important")),
            ],
            Layout::ExchangeLike => &[
                ("Sent Items", Some("\\Sent")),
                ("Deleted Items", Some("\\Trash")),
                ("Junk Email", Some("\\Junk")),
                ("Drafts", Some("\\Drafts")),
                ("Archive", Some("\\Archive")),
                ("Outbox", None),
            ],
        }
    }

    /// Short name used by the command line (`dot`, `slash`, `gmail`, `exchange`).
    pub fn name(self) -> &'static str {
        match self {
            Layout::DotPrefix => "dot",
            Layout::Slash => "slash",
            Layout::GmailLike => "gmail",
            Layout::ExchangeLike => "exchange",
        }
    }

    /// Inverse of [`Layout::name`].
    pub fn parse(s: &str) -> Option<Layout> {
        Layout::ALL.into_iter().find(|l| l.name() == s)
    }

    /// Greeting text (after Dovecot's `[CAPABILITY ...]`).
    pub fn greeting(self) -> &'static str {
        match self {
            Layout::DotPrefix | Layout::Slash => "Dovecot ready.",
            Layout::GmailLike => "Gimap ready for requests from 127.0.0.1 testkit",
            Layout::ExchangeLike => "The Microsoft Exchange IMAP4 service is ready.",
        }
    }

    /// Wire name (prefix, separator, modified UTF-7) of a canonical `/`-separated UTF-8
    /// path. `INBOX` (any case) and its children keep the INBOX spelling.
    pub fn wire_name(self, path: &str) -> String {
        if path.eq_ignore_ascii_case("INBOX") {
            return "INBOX".into();
        }
        let sep = self.separator().to_string();
        let enc: Vec<String> = path.split('/').map(crate::mutf7::encode).collect();
        let joined = enc.join(&sep);
        if self.prefix().is_empty() {
            return joined;
        }
        if let Some(rest) = path.strip_prefix("INBOX/") {
            let enc: Vec<String> = rest.split('/').map(crate::mutf7::encode).collect();
            return format!("INBOX{sep}{}", enc.join(&sep));
        }
        format!("{}{joined}", self.prefix())
    }

    fn mail_location(self) -> &'static str {
        match self {
            Layout::DotPrefix => "maildir:~/Maildir",
            _ => "maildir:~/Maildir:LAYOUT=fs",
        }
    }

    fn id_send(self) -> &'static str {
        match self {
            Layout::GmailLike => {
                "name \"GImap\" vendor \"Google, Inc.\" support-url \"https://support.google.com/mail\""
            }
            Layout::ExchangeLike => "",
            _ => "name *",
        }
    }
}

/// Options for a [`Dovecot`] instance; build with [`Dovecot::builder`].
#[derive(Clone, Debug)]
pub struct DovecotBuilder {
    layout: Layout,
    remove_caps: Vec<String>,
    add_caps: Vec<String>,
    caps_override: Option<Vec<String>>,
    special_use: bool,
    quota_storage_kib: Option<u64>,
    quota_messages: Option<u64>,
    max_mail_size: Option<u64>,
    advertise_appendlimit: bool,
    compress: bool,
    mail_dir: Option<PathBuf>,
    tmpfs: bool,
    fsync_never: bool,
    max_line_length: Option<u64>,
    greeting: Option<String>,
    extra_config: Vec<String>,
    extra_users: Vec<(String, String)>,
    no_tls: bool,
    oauth2_introspection: Option<String>,
    acl: bool,
    server_cert: Option<crate::tls::CertKey>,
    client_cert_logins: bool,
}

impl DovecotBuilder {
    /// Accept OAuth2 bearer tokens (SASL XOAUTH2 and OAUTHBEARER) checked by POSTing them
    /// to `introspection_url` (RFC 7662 style: `token=...` in, `{"active": true,
    /// "username": "..."}` out), e.g. [`crate::OAuthServer::introspection_url`]. The token's
    /// user must be the user logging in. Passwords keep working (PLAIN, LOGIN, CRAM-MD5),
    /// and the auth cache is off so an expired token is never accepted from it.
    pub fn oauth2(mut self, introspection_url: &str) -> Self {
        self.oauth2_introspection = Some(introspection_url.to_string());
        self
    }

    /// Presents this certificate (and key) instead of the test PKI's leaf, e.g. a
    /// [`self_signed`](crate::tls::self_signed) one.
    pub fn server_cert(mut self, cert: crate::tls::CertKey) -> Self {
        self.server_cert = Some(cert);
        self
    }

    /// SASL EXTERNAL with a client certificate signed by the test CA
    /// ([`client_cert`](crate::tls::client_cert)): its common name is the user; no password.
    /// Other logins work as before.
    pub fn client_cert_logins(mut self) -> Self {
        self.client_cert_logins = true;
        self
    }

    /// No TLS at all: no STARTTLS on the IMAP port, and the "TLS" port speaks plain IMAP too
    /// (a server where encryption is impossible).
    pub fn no_tls(mut self) -> Self {
        self.no_tls = true;
        self
    }

    /// Stop advertising a capability (e.g. `"LITERAL+"`, `"UIDPLUS"`, `"CONDSTORE"`).
    ///
    /// Sets an explicit `imap_capability` list: Dovecot then advertises exactly that
    /// list before and after login. Dovecot may still *accept* the commands of a
    /// capability it no longer advertises (it does for LITERAL+, UIDPLUS and ENABLE
    /// CONDSTORE, for example); only the advertisement changes.
    pub fn remove_capability(mut self, cap: &str) -> Self {
        self.remove_caps.push(cap.to_string());
        self
    }

    /// Remove several capabilities, see [`DovecotBuilder::remove_capability`].
    pub fn remove_capabilities(mut self, caps: &[&str]) -> Self {
        self.remove_caps.extend(caps.iter().map(|c| c.to_string()));
        self
    }

    /// Advertise an extra capability (e.g. `"APPENDLIMIT=1000"`, `"LITERAL-"`).
    pub fn add_capability(mut self, cap: &str) -> Self {
        self.add_caps.push(cap.to_string());
        self
    }

    /// Advertise exactly this list (IMAP4rev1 is not added for you).
    pub fn capabilities(mut self, caps: &[&str]) -> Self {
        self.caps_override = Some(caps.iter().map(|c| c.to_string()).collect());
        self
    }

    /// Do not tag special folders with special-use flags and drop SPECIAL-USE.
    pub fn no_special_use(mut self) -> Self {
        self.special_use = false;
        self
    }

    /// Quota: storage limit per user in KiB (quota plugin, `count` backend).
    pub fn quota_storage_kib(mut self, kib: u64) -> Self {
        self.quota_storage_kib = Some(kib);
        self
    }

    /// Quota: message-count limit per user.
    pub fn quota_messages(mut self, n: u64) -> Self {
        self.quota_messages = Some(n);
        self
    }

    /// Largest accepted message in bytes (`quota_max_mail_size`; APPEND -> `NO [LIMIT]`).
    pub fn max_mail_size(mut self, bytes: u64) -> Self {
        self.max_mail_size = Some(bytes);
        self
    }

    /// Also advertise `APPENDLIMIT=<max_mail_size>` (Dovecot 2.3 does not by itself).
    pub fn advertise_appendlimit(mut self) -> Self {
        self.advertise_appendlimit = true;
        self
    }

    /// Enable COMPRESS=DEFLATE (`imap_zlib` plugin).
    pub fn compress(mut self, on: bool) -> Self {
        self.compress = on;
        self
    }

    /// Put the users' homes (mail) under this directory instead of the instance temp dir.
    /// It is created if missing and NOT deleted on drop.
    pub fn mail_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.mail_dir = Some(dir.into());
        self
    }

    /// Put the mail in a fresh temp dir on tmpfs (`/dev/shm`), deleted on drop.
    pub fn mail_on_tmpfs(mut self) -> Self {
        self.tmpfs = true;
        self
    }

    /// `mail_fsync = never` (benchmarks).
    pub fn fsync_never(mut self) -> Self {
        self.fsync_never = true;
        self
    }

    /// `imap_max_line_length` in bytes (Dovecot default 64 KiB).
    pub fn max_line_length(mut self, bytes: u64) -> Self {
        self.max_line_length = Some(bytes);
        self
    }

    /// Replace the layout's greeting text.
    pub fn greeting(mut self, text: &str) -> Self {
        self.greeting = Some(text.to_string());
        self
    }

    /// Access control lists (RFC 4314): the `acl` and `imap_acl` plugins with per-mailbox
    /// `dovecot-acl` files (`vfile`); GETACL, SETACL, DELETEACL, MYRIGHTS and LISTRIGHTS work,
    /// and ACL is advertised.
    pub fn acl(mut self) -> Self {
        self.acl = true;
        self
    }

    /// Append raw lines to dovecot.conf (escape hatch; later settings win).
    pub fn extra_config(mut self, text: &str) -> Self {
        self.extra_config.push(text.to_string());
        self
    }

    /// Create another user at start.
    pub fn user(mut self, name: &str, pass: &str) -> Self {
        self.extra_users.push((name.to_string(), pass.to_string()));
        self
    }

    /// Start the instance.
    pub fn start(self) -> Result<Dovecot> {
        Dovecot::start_with(self)
    }

    fn quota_enabled(&self) -> bool {
        self.quota_storage_kib.is_some()
            || self.quota_messages.is_some()
            || self.max_mail_size.is_some()
    }

    fn capability_line(&self) -> Option<String> {
        let explicit = !self.remove_caps.is_empty()
            || !self.add_caps.is_empty()
            || self.caps_override.is_some()
            || !self.special_use
            || self.advertise_appendlimit;
        if !explicit {
            return None;
        }
        let mut caps: Vec<String> = match &self.caps_override {
            Some(c) => c.clone(),
            None => {
                let mut c: Vec<String> =
                    DOVECOT_CAPABILITIES.iter().map(|s| s.to_string()).collect();
                if self.compress {
                    c.push("COMPRESS=DEFLATE".into());
                }
                if self.acl {
                    c.push("ACL".into());
                }
                if self.quota_enabled() {
                    c.push("QUOTA".into());
                }
                c
            }
        };
        if !self.special_use {
            caps.retain(|c| !c.eq_ignore_ascii_case("SPECIAL-USE"));
        }
        caps.retain(|c| !self.remove_caps.iter().any(|r| r.eq_ignore_ascii_case(c)));
        for a in &self.add_caps {
            if !caps.iter().any(|c| c.eq_ignore_ascii_case(a)) {
                caps.push(a.clone());
            }
        }
        if self.advertise_appendlimit
            && let Some(m) = self.max_mail_size
        {
            caps.push(format!("APPENDLIMIT={m}"));
        }
        Some(caps.join(" "))
    }
}

/// Who owns what: root runs Dovecot's privilege-separated setup, others run it all
/// under their own uid.
#[derive(Clone, Debug)]
struct Ids {
    root: bool,
    mail_uid: u32,
    mail_gid: u32,
    internal_user: String,
    login_user: String,
    /// Group for Dovecot's internal sockets (non-root only; root keeps the default).
    internal_group: Option<String>,
}

pub(crate) fn getpw(name: Option<&str>, uid: u32) -> Option<(String, u32, u32)> {
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut buf = vec![0 as libc::c_char; 16 * 1024];
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    let rc = match name {
        Some(n) => {
            let c = CString::new(n).ok()?;
            // SAFETY: all pointers are valid for the duration of the call.
            unsafe {
                libc::getpwnam_r(
                    c.as_ptr(),
                    &mut pwd,
                    buf.as_mut_ptr(),
                    buf.len(),
                    &mut result,
                )
            }
        }
        // SAFETY: as above.
        None => unsafe {
            libc::getpwuid_r(uid, &mut pwd, buf.as_mut_ptr(), buf.len(), &mut result)
        },
    };
    if rc != 0 || result.is_null() {
        return None;
    }
    // SAFETY: on success pw_name points into buf, NUL terminated.
    let n = unsafe { std::ffi::CStr::from_ptr(pwd.pw_name) }
        .to_string_lossy()
        .into_owned();
    Some((n, pwd.pw_uid, pwd.pw_gid))
}

fn group_name(gid: u32) -> Option<String> {
    let mut grp: libc::group = unsafe { std::mem::zeroed() };
    let mut buf = vec![0 as libc::c_char; 16 * 1024];
    let mut result: *mut libc::group = std::ptr::null_mut();
    // SAFETY: all pointers are valid for the duration of the call.
    let rc = unsafe { libc::getgrgid_r(gid, &mut grp, buf.as_mut_ptr(), buf.len(), &mut result) };
    if rc != 0 || result.is_null() {
        return None;
    }
    // SAFETY: on success gr_name points into buf, NUL terminated.
    Some(
        unsafe { std::ffi::CStr::from_ptr(grp.gr_name) }
            .to_string_lossy()
            .into_owned(),
    )
}

fn ids() -> Result<Ids> {
    // SAFETY: trivial libc getters.
    let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
    if uid == 0 {
        let (_, mu, mg) = getpw(Some("mail"), 0)
            .ok_or_else(|| anyhow!("system user `mail` not found (needed to own the test mail)"))?;
        for u in ["dovecot", "dovenull"] {
            if getpw(Some(u), 0).is_none() {
                bail!(
                    "system user `{u}` not found: is dovecot-core installed (apt-get install dovecot-imapd)?"
                );
            }
        }
        Ok(Ids {
            root: true,
            mail_uid: mu,
            mail_gid: mg,
            internal_user: "dovecot".into(),
            login_user: "dovenull".into(),
            internal_group: None,
        })
    } else {
        let (name, _, _) =
            getpw(None, uid).ok_or_else(|| anyhow!("cannot find the name of uid {uid}"))?;
        let group = group_name(gid).ok_or_else(|| anyhow!("cannot find the name of gid {gid}"))?;
        Ok(Ids {
            root: false,
            mail_uid: uid,
            mail_gid: gid,
            internal_user: name.clone(),
            login_user: name,
            internal_group: Some(group),
        })
    }
}

pub(crate) fn chown(path: &Path, uid: u32, gid: u32) -> Result<()> {
    std::os::unix::fs::chown(path, Some(uid), Some(gid))
        .with_context(|| format!("chown {}", path.display()))
}

pub(crate) fn set_mode(path: &Path, mode: u32) -> Result<()> {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .with_context(|| format!("chmod {}", path.display()))
}

fn check_credential(what: &str, s: &str) -> Result<()> {
    if s.is_empty() || s.contains([':', '\n', '\r', '\0']) {
        bail!("{what} {s:?} cannot be stored in a passwd-file (empty, ':' or line break)");
    }
    Ok(())
}

pub(crate) fn tail(path: &Path, lines: usize) -> String {
    match std::fs::read(path) {
        Ok(b) => {
            let s = String::from_utf8_lossy(&b);
            let v: Vec<&str> = s.lines().collect();
            v[v.len().saturating_sub(lines)..].join("\n")
        }
        Err(e) => format!("(cannot read {}: {e})", path.display()),
    }
}

static INSTANCE_COUNTER: AtomicU64 = AtomicU64::new(0);

fn port_rng() -> Rng {
    let n = INSTANCE_COUNTER.fetch_add(1, Ordering::Relaxed);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    Rng::new(t ^ (std::process::id() as u64) << 32 ^ n.wrapping_mul(0x9E37_79B9))
}

/// Two distinct free loopback ports.
///
/// Candidates are drawn at random below the kernel's ephemeral range (so outgoing
/// connections of the tests themselves cannot grab them between our probe and
/// Dovecot's bind, and `restart()` can reuse them); each is verified by binding it.
/// If that range is empty, the kernel picks (bind to port 0).
pub(crate) fn pick_ports() -> Result<(u16, u16)> {
    let eph_low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .next()
                .and_then(|p| p.parse::<u16>().ok())
        })
        .unwrap_or(32768);
    let (lo, hi) = (20000u16, eph_low.saturating_sub(1));
    let mut rng = port_rng();
    let mut held: Vec<TcpListener> = Vec::new();
    let mut ports = Vec::new();
    if hi > lo + 100 {
        for _ in 0..500 {
            let p = rng.range(lo as u64, hi as u64) as u16;
            if ports.contains(&p) {
                continue;
            }
            if let Ok(l) = TcpListener::bind(("127.0.0.1", p)) {
                ports.push(p);
                held.push(l);
                if ports.len() == 2 {
                    return Ok((ports[0], ports[1]));
                }
            }
        }
    }
    while ports.len() < 2 {
        let l = TcpListener::bind(("127.0.0.1", 0)).context("binding a probe socket")?;
        ports.push(l.local_addr()?.port());
        held.push(l);
    }
    Ok((ports[0], ports[1]))
}

/// Remove temp dirs of earlier test processes that died without cleaning up.
fn reap_stale_dirs() {
    reap_stale_dirs_with("itk-dovecot-", "run/master.pid");
}

/// Remove temp dirs named `prefix*` whose owner process (`owner.pid`) is gone and whose
/// server (pid in `server_pid_file`, relative to the dir) is not running.
pub(crate) fn reap_stale_dirs_with(prefix: &str, server_pid_file: &str) {
    let Ok(rd) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for e in rd.flatten() {
        let name = e.file_name();
        let Some(name) = name.to_str() else { continue };
        if !name.starts_with(prefix) {
            continue;
        }
        let dir = e.path();
        let owner = std::fs::read_to_string(dir.join("owner.pid"))
            .ok()
            .and_then(|s| s.trim().parse::<u32>().ok());
        let Some(owner) = owner else { continue };
        if owner == std::process::id() || pid_alive(owner) {
            continue;
        }
        let master = std::fs::read_to_string(dir.join(server_pid_file))
            .ok()
            .and_then(|s| s.trim().parse::<u32>().ok());
        if master.is_some_and(pid_alive) {
            continue;
        }
        let old = e
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|m| m.elapsed().ok())
            .is_some_and(|age| age > Duration::from_secs(30));
        if old {
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
}

enum StartError {
    PortInUse(anyhow::Error),
    Other(anyhow::Error),
}

/// A running (or stopped) throwaway Dovecot instance. Dropping it stops the server and
/// deletes its files.
pub struct Dovecot {
    opts: DovecotBuilder,
    ids: Ids,
    dir: tempfile::TempDir,
    _mail_tmp: Option<tempfile::TempDir>,
    mail_root: PathBuf,
    port: u16,
    tls_port: u16,
    child: Option<Child>,
    users: Mutex<Vec<(String, String)>>,
    passwd_mtime: Mutex<u64>,
    startup_time: Duration,
}

impl std::fmt::Debug for Dovecot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dovecot")
            .field("layout", &self.opts.layout)
            .field("port", &self.port)
            .field("tls_port", &self.tls_port)
            .field("dir", &self.dir.path())
            .finish()
    }
}

impl Dovecot {
    /// Start an instance with default options.
    pub fn start(layout: Layout) -> Result<Dovecot> {
        Self::builder(layout).start()
    }

    /// Options builder.
    pub fn builder(layout: Layout) -> DovecotBuilder {
        DovecotBuilder {
            layout,
            remove_caps: Vec::new(),
            add_caps: Vec::new(),
            caps_override: None,
            special_use: true,
            quota_storage_kib: None,
            quota_messages: None,
            max_mail_size: None,
            advertise_appendlimit: false,
            compress: false,
            mail_dir: None,
            tmpfs: false,
            fsync_never: false,
            max_line_length: None,
            greeting: None,
            extra_config: Vec::new(),
            oauth2_introspection: None,
            extra_users: Vec::new(),
            no_tls: false,
            acl: false,
            server_cert: None,
            client_cert_logins: false,
        }
    }

    fn start_with(opts: DovecotBuilder) -> Result<Dovecot> {
        let bin = dovecot_bin();
        if !bin.exists() {
            bail!(
                "Dovecot not found at {} (apt-get install dovecot-imapd, or set {DOVECOT_BIN_ENV})",
                bin.display()
            );
        }
        reap_stale_dirs();
        for (u, p) in &opts.extra_users {
            check_credential("user name", u)?;
            check_credential("password", p)?;
        }
        let ids = ids()?;
        let dir = tempfile::Builder::new()
            .prefix("itk-dovecot-")
            .tempdir()
            .context("creating the instance temp dir")?;
        let d = dir.path();
        std::fs::write(d.join("owner.pid"), format!("{}\n", std::process::id()))?;
        set_mode(d, 0o755)?;
        for sub in ["etc", "run", "state", "log"] {
            std::fs::create_dir_all(d.join(sub))?;
            set_mode(&d.join(sub), 0o755)?;
        }
        let (mail_tmp, mail_root) = if let Some(m) = &opts.mail_dir {
            std::fs::create_dir_all(m)
                .with_context(|| format!("creating mail dir {}", m.display()))?;
            (None, m.clone())
        } else if opts.tmpfs {
            let t = tempfile::Builder::new()
                .prefix("itk-mail-")
                .tempdir_in("/dev/shm")
                .context("creating a mail dir on /dev/shm")?;
            let p = t.path().to_path_buf();
            (Some(t), p)
        } else {
            let p = d.join("mail");
            std::fs::create_dir_all(&p)?;
            (None, p)
        };
        set_mode(&mail_root, 0o755)?;
        chown(&mail_root, ids.mail_uid, ids.mail_gid)?;

        let pki = crate::tls::pki()?;
        std::fs::write(d.join("etc/ca.pem"), &pki.ca_pem)?;
        match &opts.server_cert {
            Some(ck) => {
                std::fs::write(d.join("etc/cert.pem"), &ck.cert_pem)?;
                std::fs::write(d.join("etc/key.pem"), &ck.key_pem)?;
            }
            None => {
                std::fs::write(d.join("etc/cert.pem"), &pki.cert_chain_pem)?;
                std::fs::write(d.join("etc/key.pem"), &pki.key_pem)?;
            }
        }
        set_mode(&d.join("etc/key.pem"), 0o600)?;
        set_mode(&d.join("etc/ca.pem"), 0o644)?;
        std::fs::write(
            d.join("etc/masters"),
            format!("{MASTER_USER}:{{PLAIN}}{MASTER_PASSWORD}\n"),
        )?;
        set_mode(&d.join("etc/masters"), 0o644)?;

        let mut users: Vec<(String, String)> = USERS
            .iter()
            .map(|(u, p)| (u.to_string(), p.to_string()))
            .collect();
        users.extend(opts.extra_users.iter().cloned());

        let mut dc = Dovecot {
            opts,
            ids,
            dir,
            _mail_tmp: mail_tmp,
            mail_root,
            port: 0,
            tls_port: 0,
            child: None,
            users: Mutex::new(users),
            passwd_mtime: Mutex::new(0),
            startup_time: Duration::ZERO,
        };
        dc.write_passwd()?;
        if let Some(url) = &dc.opts.oauth2_introspection {
            let ext = dc.dir.path().join("etc/oauth2.conf.ext");
            std::fs::write(
                &ext,
                format!(
                    "introspection_mode = post\nintrospection_url = {url}\nusername_attribute = username\nactive_attribute = active\nactive_value = true\n"
                ),
            )?;
            set_mode(&ext, 0o644)?;
        }

        let mut last_err = None;
        for _attempt in 0..8 {
            let (p, tp) = pick_ports()?;
            dc.port = p;
            dc.tls_port = tp;
            std::fs::write(dc.config_path(), dc.render_config())?;
            match dc.start_master() {
                Ok(()) => return Ok(dc),
                Err(StartError::PortInUse(e)) => last_err = Some(e),
                Err(StartError::Other(e)) => return Err(e),
            }
        }
        Err(last_err
            .unwrap_or_else(|| anyhow!("no attempt made"))
            .context("Dovecot: every port pair tried was already in use"))
    }

    fn render_config(&self) -> String {
        let o = &self.opts;
        let d = self.dir.path();
        let l = o.layout;
        let mut c = String::new();
        let _ = writeln!(
            c,
            "# generated by imapsync-testkit; standalone (no /etc/dovecot)"
        );
        let _ = writeln!(
            c,
            "instance_name = itk-{}-{}",
            std::process::id(),
            self.port
        );
        let _ = writeln!(c, "base_dir = {}", d.join("run").display());
        let _ = writeln!(c, "state_dir = {}", d.join("state").display());
        let _ = writeln!(c, "log_path = {}", self.log_path().display());
        c.push_str("protocols = imap\nlisten = 127.0.0.1\n");
        let _ = writeln!(c, "default_internal_user = {}", self.ids.internal_user);
        let _ = writeln!(c, "default_login_user = {}", self.ids.login_user);
        if let Some(g) = &self.ids.internal_group {
            let _ = writeln!(c, "default_internal_group = {g}");
        }
        let _ = writeln!(c, "first_valid_uid = {}", self.ids.mail_uid.clamp(1, 8));
        let _ = writeln!(c, "first_valid_gid = {}", self.ids.mail_gid.clamp(1, 8));
        c.push_str("default_process_limit = 300\ndefault_client_limit = 2000\n");
        c.push_str("mail_max_userip_connections = 200\n");
        c.push_str(if o.no_tls {
            "ssl = no\n"
        } else {
            "ssl = yes\n"
        });
        let _ = writeln!(c, "ssl_cert = <{}", d.join("etc/cert.pem").display());
        let _ = writeln!(c, "ssl_key = <{}", d.join("etc/key.pem").display());
        c.push_str("disable_plaintext_auth = no\n");
        let mut mechanisms = String::from("plain login cram-md5");
        if o.oauth2_introspection.is_some() {
            mechanisms.push_str(" xoauth2 oauthbearer");
            c.push_str("auth_cache_size = 0\n");
        }
        if o.client_cert_logins {
            // Dovecot asks for a client certificate (a missing one is not an error), takes
            // the user from its CN, and lets EXTERNAL through without a password.
            mechanisms.push_str(" external");
            let _ = writeln!(c, "ssl_ca = <{}", d.join("etc/ca.pem").display());
            c.push_str("ssl_verify_client_cert = yes\nssl_require_crl = no\n");
            c.push_str("auth_ssl_username_from_cert = yes\nssl_cert_username_field = commonName\n");
            c.push_str(
                "passdb {\n  driver = static\n  args = nopassword=y\n  mechanisms = external\n}\n",
            );
        }
        let _ = writeln!(c, "auth_mechanisms = {mechanisms}");
        let _ = writeln!(c, "auth_master_user_separator = {MASTER_SEPARATOR}");
        c.push_str("auth_verbose = yes\n");
        // Dovecot answers failed logins after 2 s by default; tests fail logins on
        // purpose, so answer at once (override with extra_config if a test needs it).
        c.push_str("auth_failure_delay = 0\n");
        let _ = writeln!(
            c,
            "passdb {{\n  driver = passwd-file\n  args = scheme=PLAIN username_format=%u {}\n  master = yes\n  pass = yes\n}}",
            d.join("etc/masters").display()
        );
        let _ = writeln!(
            c,
            "passdb {{\n  driver = passwd-file\n  args = scheme=PLAIN username_format=%u {}\n{}}}",
            self.passwd_path().display(),
            if o.oauth2_introspection.is_some() {
                "  mechanisms = plain login cram-md5\n"
            } else {
                ""
            }
        );
        if o.oauth2_introspection.is_some() {
            let _ = writeln!(
                c,
                "passdb {{\n  driver = oauth2\n  mechanisms = xoauth2 oauthbearer\n  args = {}\n}}",
                d.join("etc/oauth2.conf.ext").display()
            );
        }
        let _ = writeln!(
            c,
            "userdb {{\n  driver = passwd-file\n  args = username_format=%u {}\n}}",
            self.passwd_path().display()
        );
        let _ = writeln!(c, "mail_location = {}", l.mail_location());
        if o.fsync_never {
            c.push_str("mail_fsync = never\n");
        }
        let quota = o.quota_enabled();
        let mut mail_plugins = String::new();
        if quota {
            mail_plugins.push_str(" quota");
        }
        if o.acl {
            mail_plugins.push_str(" acl");
        }
        if !mail_plugins.is_empty() {
            let _ = writeln!(c, "mail_plugins = $mail_plugins{mail_plugins}");
        }
        let mut imap_plugins = String::new();
        if quota {
            imap_plugins.push_str(" imap_quota");
        }
        if o.acl {
            imap_plugins.push_str(" imap_acl");
        }
        if o.compress {
            imap_plugins.push_str(" imap_zlib");
        }
        c.push_str("protocol imap {\n");
        if !imap_plugins.is_empty() {
            let _ = writeln!(c, "  mail_plugins = $mail_plugins{imap_plugins}");
        }
        if let Some(n) = o.max_line_length {
            let _ = writeln!(c, "  imap_max_line_length = {n}");
        }
        c.push_str("}\n");
        if quota {
            c.push_str("plugin {\n  quota = count:User quota\n  quota_vsizes = yes\n");
            let mut rule = String::from("*:");
            match (o.quota_storage_kib, o.quota_messages) {
                (Some(s), Some(m)) => {
                    let _ = write!(rule, "storage={s}K messages={m}");
                }
                (Some(s), None) => {
                    let _ = write!(rule, "storage={s}K");
                }
                (None, Some(m)) => {
                    let _ = write!(rule, "messages={m}");
                }
                (None, None) => rule.push_str("storage=0"),
            }
            let _ = writeln!(c, "  quota_rule = {rule}");
            if let Some(m) = o.max_mail_size {
                let _ = writeln!(c, "  quota_max_mail_size = {m}");
            }
            c.push_str("}\n");
        }
        if o.acl {
            c.push_str("plugin {\n  acl = vfile\n}\n");
        }
        let _ = writeln!(
            c,
            "namespace inbox {{\n  inbox = yes\n  separator = {}\n  prefix = {}",
            l.separator(),
            l.prefix()
        );
        for (name, flag) in l.special_folders() {
            let name = name.replace('/', &l.separator().to_string());
            let _ = writeln!(c, "  mailbox \"{name}\" {{\n    auto = subscribe");
            if let (Some(f), true) = (flag, o.special_use) {
                let _ = writeln!(c, "    special_use = {f}");
            }
            c.push_str("  }\n");
        }
        c.push_str("}\n");
        let greeting = o.greeting.as_deref().unwrap_or(l.greeting());
        let _ = writeln!(c, "login_greeting = {greeting}");
        let _ = writeln!(c, "imap_id_send = {}", l.id_send());
        if let Some(caps) = o.capability_line() {
            let _ = writeln!(c, "imap_capability = {caps}");
        }
        let _ = writeln!(
            c,
            "service imap-login {{\n  inet_listener imap {{\n    port = {}\n  }}\n  inet_listener imaps {{\n    port = {}\n    ssl = {}\n  }}\n  process_limit = 300\n{}}}",
            self.port,
            self.tls_port,
            if o.no_tls { "no" } else { "yes" },
            if self.ids.root { "" } else { "  chroot =\n" }
        );
        c.push_str("service imap {\n  process_limit = 300\n}\n");
        // No auth penalty: after a failed login anvil would delay every later login
        // from 127.0.0.1 by up to 15 s. Dovecot's documented off switch is an
        // unusable penalty socket.
        let _ = writeln!(
            c,
            "service anvil {{\n{}  unix_listener anvil-auth-penalty {{\n    mode = 0\n  }}\n}}",
            if self.ids.root { "" } else { "  chroot =\n" }
        );
        if !self.ids.root {
            c.push_str("service auth-worker {\n  user = $default_internal_user\n}\n");
        }
        for extra in &o.extra_config {
            c.push_str(extra);
            c.push('\n');
        }
        c
    }

    fn write_passwd(&self) -> Result<()> {
        let users = self
            .users
            .lock()
            .map_err(|_| anyhow!("users lock poisoned"))?;
        let mut text = String::new();
        for (u, p) in users.iter() {
            let home = self.mail_root.join(u);
            if !home.exists() {
                self.prepare_home(&home)?;
            }
            let _ = writeln!(
                text,
                "{u}:{{PLAIN}}{p}:{}:{}::{}::",
                self.ids.mail_uid,
                self.ids.mail_gid,
                home.display()
            );
        }
        let tmp = self.dir.path().join("etc/passwd.tmp");
        std::fs::write(&tmp, text)?;
        set_mode(&tmp, 0o644)?;
        // Dovecot reloads the file when its mtime (seconds) or size changes: make sure
        // the mtime always moves, even for two edits within one second.
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let stamp = {
            let mut last = self
                .passwd_mtime
                .lock()
                .map_err(|_| anyhow!("passwd lock poisoned"))?;
            *last = now.max(*last + 1);
            *last
        };
        std::fs::File::options()
            .write(true)
            .open(&tmp)?
            .set_modified(std::time::UNIX_EPOCH + Duration::from_secs(stamp))?;
        std::fs::rename(&tmp, self.passwd_path())?;
        Ok(())
    }

    /// Create a user's home. For the Gmail layout the `[Gmail]/...` folders are created
    /// on disk too, so `[Gmail]` is listed as `\Noselect \HasChildren` from the
    /// first LIST on (auto-created folders only materialise when first opened).
    fn prepare_home(&self, home: &Path) -> Result<()> {
        let (u, g) = (self.ids.mail_uid, self.ids.mail_gid);
        std::fs::create_dir_all(home)?;
        set_mode(home, 0o700)?;
        chown(home, u, g)?;
        if self.opts.layout != Layout::GmailLike {
            return Ok(());
        }
        let maildir = home.join("Maildir");
        let mut dirs = vec![maildir.clone()];
        for (name, _) in self.opts.layout.special_folders() {
            let mut p = maildir.clone();
            for part in name.split('/') {
                p.push(part);
                dirs.push(p.clone());
            }
            for sub in ["cur", "new", "tmp"] {
                dirs.push(p.join(sub));
            }
        }
        for sub in ["cur", "new", "tmp"] {
            dirs.push(maildir.join(sub));
        }
        for d in dirs {
            if !d.exists() {
                std::fs::create_dir(&d).with_context(|| format!("creating {}", d.display()))?;
                set_mode(&d, 0o700)?;
                chown(&d, u, g)?;
            }
        }
        Ok(())
    }

    fn start_master(&mut self) -> std::result::Result<(), StartError> {
        let started = Instant::now();
        let d = self.dir.path().to_path_buf();
        let _ = std::fs::remove_file(d.join("run/master.pid"));
        let startup_log = d.join("log/startup.log");
        let open = || {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&startup_log)
        };
        let (out, err) = match (open(), open()) {
            (Ok(a), Ok(b)) => (a, b),
            (Err(e), _) | (_, Err(e)) => {
                return Err(StartError::Other(anyhow!(e).context("opening startup.log")));
            }
        };
        let log_len_before = std::fs::metadata(self.log_path())
            .map(|m| m.len())
            .unwrap_or(0);
        let startup_len_before = std::fs::metadata(&startup_log)
            .map(|m| m.len())
            .unwrap_or(0);
        let mut cmd = Command::new(dovecot_bin());
        cmd.arg("-F")
            .arg("-c")
            .arg(self.config_path())
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let child = spawn_tied(cmd, libc::SIGTERM)
            .map_err(|e| StartError::Other(e.context("spawning dovecot")))?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        let fail = |this: &mut Dovecot, why: String| -> StartError {
            let logs = this.recent_logs(log_len_before, startup_len_before);
            let in_use = logs.contains("Address already in use");
            let e = anyhow!(
                "Dovecot ({:?}, ports {}/{}) failed to start: {why}\n--- log tail ({}) ---\n{logs}",
                this.opts.layout,
                this.port,
                this.tls_port,
                this.log_path().display()
            );
            if in_use {
                StartError::PortInUse(e)
            } else {
                StartError::Other(e)
            }
        };
        loop {
            let exited = match self.child.as_mut().map(|c| c.try_wait()) {
                Some(Ok(Some(st))) => Some(format!("master exited with {st}")),
                Some(Err(e)) => Some(format!("waiting for master: {e}")),
                _ => None,
            };
            if let Some(why) = exited {
                self.child = None;
                return Err(fail(self, why));
            }
            if let Some(true) = self.probe_greeting() {
                let tls = SocketAddr::from(([127, 0, 0, 1], self.tls_port));
                if TcpStream::connect_timeout(&tls, Duration::from_secs(2)).is_ok() {
                    self.startup_time = started.elapsed();
                    return Ok(());
                }
            }
            if Instant::now() > deadline {
                self.kill_now();
                return Err(fail(self, "no IMAP greeting within 30 s".into()));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// `Some(true)` when the plain port answers with `* OK`.
    fn probe_greeting(&self) -> Option<bool> {
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let mut s = TcpStream::connect_timeout(&addr, Duration::from_millis(500)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        let mut buf = Vec::new();
        let mut byte = [0u8; 256];
        while !buf.contains(&b'\n') && buf.len() < 4096 {
            let n = std::io::Read::read(&mut s, &mut byte).ok()?;
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&byte[..n]);
        }
        Some(buf.starts_with(b"* OK"))
    }

    fn recent_logs(&self, log_from: u64, startup_from: u64) -> String {
        let read_from = |p: &Path, from: u64| -> String {
            match std::fs::read(p) {
                Ok(b) => {
                    let from = (from as usize).min(b.len());
                    let s = String::from_utf8_lossy(&b[from..]).into_owned();
                    let v: Vec<&str> = s.lines().collect();
                    v[v.len().saturating_sub(40)..].join("\n")
                }
                Err(_) => String::new(),
            }
        };
        let a = read_from(&self.log_path(), log_from);
        let b = read_from(&self.dir.path().join("log/startup.log"), startup_from);
        format!("{a}\n--- master stdout/stderr ---\n{b}")
    }

    fn kill_now(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Stop the instance and wait until every one of its processes is gone.
    ///
    /// The master runs in its own process group (its pid is the group id), and Dovecot
    /// does not take `imap` processes with a connected client down when the master
    /// exits. So: SIGTERM to the whole group (graceful: listeners close, clients get
    /// `BYE`), wait until only the `log` process is left (the master then merely
    /// sleeps a fixed second for it), SIGKILL what remains of the group, reap.
    fn stop_master(&mut self) -> Result<()> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        let pid = child.id();
        let pgid = pid as libc::pid_t;
        if child.try_wait()?.is_none() {
            // SAFETY: signalling the process group we created for our own child.
            unsafe { libc::kill(-pgid, libc::SIGTERM) };
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                if child.try_wait()?.is_some() {
                    break;
                }
                let kids = children_of(pid);
                if kids.iter().all(|(_, comm)| comm == "log") || Instant::now() > deadline {
                    break;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        if !group_members(pid).is_empty() {
            // SAFETY: as above; the group still has members, so the id is still ours.
            unsafe { libc::kill(-pgid, libc::SIGKILL) };
        }
        let _ = child.wait();
        let end = Instant::now() + Duration::from_secs(5);
        while !group_members(pid).is_empty() && Instant::now() < end {
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = std::fs::remove_file(self.dir.path().join("run/master.pid"));
        Ok(())
    }

    /// Stop the server (data is kept; [`Dovecot::restart`] brings it back).
    pub fn stop(&mut self) -> Result<()> {
        self.stop_master()
    }

    /// Stop (if running) and start again on the same ports with the same data.
    pub fn restart(&mut self) -> Result<()> {
        self.stop_master()?;
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            match self.start_master() {
                Ok(()) => return Ok(()),
                Err(StartError::PortInUse(e)) => {
                    if Instant::now() > deadline {
                        return Err(e.context("restart: port still in use"));
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(StartError::Other(e)) => return Err(e),
            }
        }
    }

    /// Is the master process running?
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.as_mut().map(|c| c.try_wait()), Some(Ok(None)))
    }

    /// Master pid, if running.
    pub fn master_pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Add a user (or change a password) at run time.
    ///
    /// Dovecot re-reads the passwd-file when its mtime or size changes, but checks at
    /// most once per second (`passwd_file_sync` compares against the auth process's
    /// second-resolution loop time). So this rewrites the file with a fresh mtime and
    /// then waits for the next second boundary: when it returns, the next login sees
    /// the change. Costs up to one second.
    pub fn add_user(&self, name: &str, pass: &str) -> Result<()> {
        check_credential("user name", name)?;
        check_credential("password", pass)?;
        {
            let mut users = self
                .users
                .lock()
                .map_err(|_| anyhow!("users lock poisoned"))?;
            users.retain(|(u, _)| u != name);
            users.push((name.to_string(), pass.to_string()));
        }
        self.write_passwd()?;
        let frac = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        std::thread::sleep(
            Duration::from_nanos(1_000_000_000 - frac as u64) + Duration::from_millis(20),
        );
        Ok(())
    }

    /// All users `(name, password)` (the built-in ones plus added ones).
    pub fn users(&self) -> Vec<(String, String)> {
        self.users.lock().map(|u| u.clone()).unwrap_or_default()
    }

    /// Password of a known user.
    pub fn password_of(&self, user: &str) -> Option<String> {
        self.users()
            .into_iter()
            .find(|(u, _)| u == user)
            .map(|(_, p)| p)
    }

    /// Log in as a known user with a fresh [`TestImap`].
    pub fn connect(&self, user: &str) -> Result<TestImap> {
        let pass = self
            .password_of(user)
            .ok_or_else(|| anyhow!("unknown test user {user:?}"))?;
        TestImap::connect_login(self.host(), self.port, user, &pass)
    }

    /// Always `127.0.0.1`.
    pub fn host(&self) -> &str {
        "127.0.0.1"
    }

    /// Plain IMAP port (STARTTLS available).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Implicit-TLS (IMAPS) port.
    pub fn tls_port(&self) -> u16 {
        self.tls_port
    }

    /// The emulated layout.
    pub fn layout(&self) -> Layout {
        self.opts.layout
    }

    /// Dovecot's log file.
    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("log/dovecot.log")
    }

    /// Last `lines` lines of the log (for assertion messages).
    pub fn log_tail(&self, lines: usize) -> String {
        tail(&self.log_path(), lines)
    }

    /// PEM file of the CA that signed the server certificate (trust this in tests).
    pub fn ca_cert_path(&self) -> PathBuf {
        self.dir.path().join("etc/ca.pem")
    }

    /// The generated dovecot.conf.
    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("etc/dovecot.conf")
    }

    /// The passwd-file (users and `{PLAIN}` passwords).
    pub fn passwd_path(&self) -> PathBuf {
        self.dir.path().join("etc/passwd")
    }

    /// Instance directory (config, run, state, log and by default mail).
    pub fn instance_dir(&self) -> &Path {
        self.dir.path()
    }

    /// Directory holding one home directory per user.
    pub fn mail_root(&self) -> &Path {
        &self.mail_root
    }

    /// Home directory of `user`.
    pub fn user_home(&self, user: &str) -> PathBuf {
        self.mail_root.join(user)
    }

    /// Maildir of `user` (`~/Maildir`; Maildir++ for DotPrefix, LAYOUT=fs otherwise).
    pub fn user_maildir(&self, user: &str) -> PathBuf {
        self.user_home(user).join("Maildir")
    }

    /// Time the last (re)start took until the greeting arrived.
    pub fn startup_time(&self) -> Duration {
        self.startup_time
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        let _ = self.stop_master();
    }
}

fn dovecot_bin() -> PathBuf {
    std::env::var_os(DOVECOT_BIN_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DOVECOT_BIN))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names() {
        assert_eq!(Layout::DotPrefix.wire_name("INBOX"), "INBOX");
        assert_eq!(Layout::DotPrefix.wire_name("a/b"), "INBOX.a.b");
        assert_eq!(Layout::DotPrefix.wire_name("INBOX/x"), "INBOX.x");
        assert_eq!(Layout::Slash.wire_name("Entwürfe/x"), "Entw&APw-rfe/x");
        assert_eq!(Layout::Slash.wire_name("inbox"), "INBOX");
    }
}
