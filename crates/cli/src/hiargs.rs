//! From parsed options ([`Parsed`], "low-level arguments") to the resolved run
//! configuration ([`Config`], "high-level arguments"): defaults, implied options, secrets,
//! host:port forms, TLS arguments, search criteria.

use std::path::PathBuf;
use std::time::Duration;

use imapsync_client::{AuthMech, ConnectOptions, Inet, Secret, Security, Side, TlsOptions};
use imapsync_plan::identity::{IdentityOptions, UseHeader};
use imapsync_plan::perlre::{PerlExpr, RegexFlags, perl_regex_with_flags};
use imapsync_sync::config::{
    Config, DeleteConfig, FolderConfig, MessageConfig, Modes, RateConfig, SideConfig,
};

use crate::flags::Parsed;
use crate::oauthargs::{self, GrantPlan, OAuthArgs, Plan as OAuthPlan};
use imapsync_client::oauth::StoredTokens;

/// A configuration error, with the exit code it maps to.
#[derive(Debug)]
pub struct ConfigError {
    pub message: String,
    pub exit_code: i32,
}

fn usage(message: impl Into<String>) -> ConfigError {
    ConfigError {
        message: message.into(),
        exit_code: 64,
    }
}

/// What the run needs besides the sync configuration.
#[derive(Debug)]
pub struct Extras {
    /// Connect only (implied when a host or user is missing).
    pub justconnect: bool,
    pub implied_justconnect: Option<String>,
    pub warnings: Vec<String>,
    /// Interactive OAuth2 logins to run first (`--oauthloginN`).
    pub oauth_logins: Vec<OAuthLogin>,
}

/// An interactive OAuth2 login asked with `--oauthloginN`.
#[derive(Debug)]
pub struct OAuthLogin {
    pub side: u8,
    pub user: String,
    pub plan: GrantPlan,
}

/// What the provider presets (`--gmail1`, `--office2`, ...) add. imapsync's rules: a value
/// the user gave always wins; numeric limits are set when unset or zero; lists are appended
/// to the user's.
#[derive(Debug, Default)]
struct Presets {
    host: [Option<&'static str>; 2],
    ssl: [bool; 2],
    maxbytespersecond: Option<f64>,
    maxbytesafter: Option<u64>,
    maxsleep: bool,
    automap: bool,
    skipcrossduplicates: Option<bool>,
    useheader: Vec<&'static str>,
    regextrans2: Vec<&'static str>,
    folderlast: Vec<&'static str>,
    exclude: Vec<&'static str>,
    expunge1: bool,
    addheader: bool,
    maxsize: Option<u64>,
    maxmessagespersecond: Option<f64>,
    disarmreadreceipts: bool,
    regexmess: Vec<&'static str>,
    regexflag: Vec<&'static str>,
    f1f2: Vec<(&'static str, &'static str)>,
    sep: [Option<char>; 2],
    prefix_empty: [bool; 2],
    messageidnodomain: bool,
    notes: Vec<String>,
}

/// imapsync's line-wrapping rule for Exchange/Office 365 (lines of at most 10239 bytes).
const WRAP_10239: &str = r"s,(.{10239}),$1\r\n,g";

fn presets(p: &Parsed) -> Presets {
    let on = |n: &str| p.bool(n) == Some(true);
    let mut x = Presets::default();
    let noexclude = on("noexclude");
    let (g1, g2) = (on("gmail1"), on("gmail2"));
    if g1 && g2 {
        x.host = [Some("imap.gmail.com"), Some("imap.gmail.com")];
        x.ssl = [true, true];
        x.maxbytespersecond = Some(20_000.0);
        x.maxbytesafter = Some(1_000_000_000);
        x.maxsleep = true;
        x.automap = true;
        x.skipcrossduplicates = Some(false);
        x.useheader = vec!["X-Gmail-Received", "Message-Id"];
        x.exclude.push(r"\[Gmail\]$");
        x.folderlast.push("[Gmail]/All Mail");
        x.notes.push("Gmail to Gmail: labels are not copied (X-GM-LABELS is not supported yet); every label folder is synced as a folder".into());
    } else if g1 {
        x.host[0] = Some("imap.gmail.com");
        x.ssl[0] = true;
        x.maxbytespersecond = Some(40_000.0);
        x.maxbytesafter = Some(3_000_000_000);
        x.maxsleep = true;
        x.automap = true;
        x.skipcrossduplicates = Some(true);
        x.useheader = vec!["X-Gmail-Received", "Message-Id"];
        x.regextrans2.push(r"s,\[Gmail\].,,");
        x.folderlast.push("[Gmail]/All Mail");
    } else if g2 {
        x.host[1] = Some("imap.gmail.com");
        x.ssl[1] = true;
        x.maxbytespersecond = Some(20_000.0);
        x.maxbytesafter = Some(1_000_000_000);
        x.maxsleep = true;
        x.automap = true;
        x.expunge1 = true;
        x.addheader = true;
        if !noexclude {
            x.exclude.push(r"\[Gmail\]$");
        }
        x.useheader = vec!["Message-Id"];
        x.regextrans2.extend([
            r"s,\[Gmail\].,,",
            r"s,^ +| +$,,g",
            r"s,/ +| +/,/,g",
            r#"s/['\\^"]/_/g"#,
        ]);
        x.folderlast.push("[Gmail]/All Mail");
    }
    if on("office1") {
        x.notes.push(
            r#"Option --office1 is like: --host1 outlook.office365.com --ssl1 --exclude "^Files$""#
                .into(),
        );
        x.host[0] = x.host[0].or(Some("outlook.office365.com"));
        x.ssl[0] = true;
        if !noexclude {
            x.exclude.push("^Files$");
        }
    }
    if on("office2") {
        x.notes.push("Option --office2 is like: --host2 outlook.office365.com --ssl2 --maxsize 45_000_000 --maxmessagespersecond 4 --disarmreadreceipts --regexmess (wrap lines at 10239) --f1f2 Files=Files_renamed_by_imapsync".into());
        x.host[1] = x.host[1].or(Some("outlook.office365.com"));
        x.ssl[1] = true;
        x.maxsize = Some(45_000_000);
        x.maxmessagespersecond = Some(4.0);
        x.disarmreadreceipts = true;
        if !on("noregexmess") {
            x.regexmess.push(WRAP_10239);
        }
        if !on("nof1f2") {
            x.f1f2.push(("Files", "Files_renamed_by_imapsync"));
        }
    }
    if on("exchange1") {
        x.notes
            .push("Option --exchange1 does nothing (except printing this line)".into());
    }
    if on("exchange2") {
        x.notes.push("Option --exchange2 is like: --maxsize 10_000_000 --maxmessagespersecond 4 --disarmreadreceipts --regexflag (drop \\Flagged) --regexmess (wrap lines at 10239)".into());
        x.maxsize = x.maxsize.or(Some(10_000_000));
        x.maxmessagespersecond = Some(4.0);
        x.disarmreadreceipts = true;
        if !on("noregexflag") {
            x.regexflag.push(r"s/\\Flagged//g");
        }
        if !on("noregexmess") && !x.regexmess.contains(&WRAP_10239) {
            x.regexmess.push(WRAP_10239);
        }
    }
    if on("domino1") {
        x.sep[0] = Some('\\');
        x.prefix_empty[0] = true;
        x.messageidnodomain = true;
    }
    if on("domino2") {
        x.sep[1] = Some('\\');
        x.prefix_empty[1] = true;
        x.messageidnodomain = true;
        x.regextrans2.push(r"s,^Inbox\\(.*),$1,i");
    }
    x
}

/// Default number of connections per side.
pub const DEFAULT_CONNECTIONS: usize = 4;
/// Reconnections per failure, per side (imapsync: 3; a migration that runs for hours deserves
/// more patience, with exponential back-off between attempts).
pub const DEFAULT_RECONNECT_RETRY: u32 = 10;
/// Largest number of connections per side we accept (providers cap them per account).
pub const MAX_CONNECTIONS: usize = 16;

/// Splits imapsync's `host[:port][/folder]` form. Blanks are removed first.
pub fn split_host(raw: &str) -> (String, Option<u16>, Option<String>) {
    let s: String = raw.chars().filter(|c| !c.is_whitespace()).collect();
    let (hostport, folder) = match s.split_once('/') {
        Some((h, f)) => (
            h.to_string(),
            Some(f.trim_end_matches('/').to_string()).filter(|f| !f.is_empty()),
        ),
        None => (s.clone(), None),
    };
    // [v6]:port, v6 without port, host:port
    if let Some(rest) = hostport.strip_prefix('[')
        && let Some((h, tail)) = rest.split_once(']')
    {
        let port = tail.strip_prefix(':').and_then(|p| p.parse().ok());
        return (h.to_string(), port, folder);
    }
    if hostport.matches(':').count() == 1
        && let Some((h, p)) = hostport.split_once(':')
        && let Ok(port) = p.parse::<u16>()
    {
        return (h.to_string(), Some(port), folder);
    }
    (hostport, None, folder)
}

fn read_first_line(path: &str) -> Result<String, String> {
    let data = std::fs::read(path).map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&data);
    Ok(text
        .lines()
        .next()
        .unwrap_or("")
        .trim_end_matches(['\r', '\n'])
        .to_string())
}

fn password(p: &Parsed, n: u8, warnings: &mut Vec<String>) -> Result<Option<Secret>, ConfigError> {
    if let Some(file) = p.string(&format!("passfile{n}")) {
        use std::os::unix::fs::PermissionsExt;
        let line = read_first_line(file).map_err(|e| ConfigError {
            message: format!("Failure: can not open passfile{n} {file}: {e}"),
            exit_code: 66,
        })?;
        if let Ok(m) = std::fs::metadata(file)
            && m.permissions().mode() & 0o077 != 0
        {
            warnings.push(format!(
                "Warning: passfile{n} {file} is readable by group or others (chmod 600 {file})"
            ));
        }
        return Ok(Some(Secret::new(line.trim())));
    }
    if let Some(pw) = p.string(&format!("password{n}")) {
        let pw = if p.bool("sanitize").unwrap_or(true) {
            pw.trim()
        } else {
            pw
        };
        return Ok(Some(Secret::new(pw)));
    }
    if let Ok(env) = std::env::var(format!("IMAPSYNC_PASSWORD{n}")) {
        return Ok(Some(Secret::new(env)));
    }
    Ok(None)
}

/// Asks for a password on the terminal without echo; `None` if stdin is not a terminal.
fn prompt_password(prompt: &str) -> Option<String> {
    use std::io::{BufRead, Write};
    // SAFETY: isatty on fd 0 has no preconditions.
    if unsafe { libc::isatty(0) } != 1 {
        return None;
    }
    let mut term = std::mem::MaybeUninit::<libc::termios>::zeroed();
    // SAFETY: tcgetattr fills the termios struct for fd 0, checked below.
    let ok = unsafe { libc::tcgetattr(0, term.as_mut_ptr()) } == 0;
    eprint!("{prompt}");
    let _ = std::io::stderr().flush();
    let mut saved = None;
    if ok {
        // SAFETY: tcgetattr succeeded, the struct is initialised.
        let orig = unsafe { term.assume_init() };
        let mut noecho = orig;
        noecho.c_lflag &= !libc::ECHO;
        // SAFETY: setting terminal attributes on fd 0 with a valid struct.
        unsafe { libc::tcsetattr(0, libc::TCSANOW, &noecho) };
        saved = Some(orig);
    }
    let mut line = String::new();
    let r = std::io::stdin().lock().read_line(&mut line);
    if let Some(orig) = saved {
        // SAFETY: restoring the attributes read above.
        unsafe { libc::tcsetattr(0, libc::TCSANOW, &orig) };
    }
    eprintln!();
    r.ok()?;
    Some(line.trim_end_matches(['\r', '\n']).to_string())
}

fn side_config(
    p: &Parsed,
    n: u8,
    warnings: &mut Vec<String>,
    justconnect: bool,
    pre: &Presets,
    logins: &mut Vec<OAuthLogin>,
) -> Result<SideConfig, ConfigError> {
    let side = if n == 1 { Side::Host1 } else { Side::Host2 };
    let i = usize::from(n - 1);
    let get = |name: &str| format!("{name}{n}");
    let host_arg = p
        .string(&get("host"))
        .filter(|h| !h.trim().is_empty())
        .or(pre.host[i]);
    let (host, host_port, _folder) = split_host(host_arg.unwrap_or(""));
    let user = p
        .string(&get("user"))
        .map(|u| u.trim().to_string())
        .unwrap_or_default();
    let pass = password(p, n, warnings)?;
    let mech_name = p
        .string(&get("authmech"))
        .map(|m| m.to_ascii_uppercase())
        .or_else(|| {
            (p.bool("authmd5") == Some(true) || p.bool(&get("authmd5")) == Some(true))
                .then(|| "CRAM-MD5".to_string())
        });
    let mut mech = match mech_name.as_deref() {
        None | Some("LOGIN") => AuthMech::Login,
        Some("PLAIN") => AuthMech::Plain,
        Some("CRAM-MD5") => AuthMech::CramMd5,
        Some("XOAUTH2") => AuthMech::XOAuth2,
        Some("OAUTHBEARER") => AuthMech::OAuthBearer,
        Some("PREAUTH") => AuthMech::PreAuth,
        Some("SASL-LOGIN") => AuthMech::SaslLogin,
        Some(other) => return Err(usage(format!("--authmech{n} {other} is not supported yet"))),
    };
    // OAuth2: how this side gets its access tokens.
    let stored = match p.string(&get("oauthtokenfile")) {
        Some(f) => {
            let path = std::path::Path::new(f);
            if imapsync_client::oauth::store::readable_by_others(path) {
                warnings.push(format!(
                    "Warning: oauthtokenfile{n} {f} is readable by group or others (chmod 600 {f})"
                ));
            }
            StoredTokens::read(path).map_err(|e| ConfigError {
                message: format!("Failure: {e}"),
                exit_code: 66,
            })?
        }
        None => None,
    };
    let oargs = OAuthArgs::from_parsed(p, n, pass.as_ref());
    let oplan =
        oauthargs::plan(&oargs, n, stored.as_ref(), &oauthargs::read_first_line).map_err(usage)?;
    if let Some(m) = oplan.mech() {
        mech = m;
    }
    let oauth_on = oplan != OAuthPlan::None;
    let authuser = p.string(&get("authuser")).map(str::to_string);
    let proxyauth = p.bool(&get("proxyauth")).unwrap_or(false);
    if proxyauth && authuser.is_none() {
        return Err(usage(format!("--proxyauth{n} requires --authuser{n}")));
    }
    let password = match pass {
        Some(p) => p,
        None if justconnect
            || host.is_empty()
            || user.is_empty()
            || mech == AuthMech::PreAuth
            || oauth_on =>
        {
            Secret::default()
        }
        None => match prompt_password(&format!(
            "What's the password for {user} on host{n} {host}? "
        )) {
            Some(p) => Secret::new(p),
            None => {
                return Err(usage(format!(
                    "No password for user{n} {user}: give --password{n}, --passfile{n} or IMAPSYNC_PASSWORD{n}"
                )));
            }
        },
    };
    let port = p
        .int(&get("port"))
        .and_then(|v| u16::try_from(v).ok())
        .or(host_port);
    let mut tls = TlsOptions::verifying();
    for (k, v) in p.hash(&get("sslargs")) {
        match k.as_str() {
            "SSL_verify_mode" => {
                tls.verify = !matches!(v.trim(), "0" | "SSL_VERIFY_NONE");
            }
            "SSL_ca_file" => tls.ca_file = Some(PathBuf::from(v)),
            other => warnings.push(format!("Warning: --sslargs{n} {other} is ignored")),
        }
    }
    let timeout = p
        .float(&get("timeout"))
        .or_else(|| p.float("timeout"))
        .unwrap_or(120.0);
    let mut c = ConnectOptions::new(side, &host, &user, password);
    c.port = port;
    c.security = Security {
        ssl: p.bool(&get("ssl")).or(pre.ssl[i].then_some(true)),
        tls: p.bool(&get("tls")),
        port_given: port.is_some(),
    };
    c.tls = tls;
    c.timeout = (timeout > 0.0).then(|| Duration::from_secs_f64(timeout));
    c.mech = mech;
    c.oauth = oauthargs::source(&oplan, &user, stored, &TlsOptions::verifying()).map_err(|e| {
        ConfigError {
            message: format!("Failure: host{n}: {e}"),
            exit_code: 16,
        }
    })?;
    if let OAuthPlan::Grant(g) = &oplan
        && g.login
    {
        logins.push(OAuthLogin {
            side: n,
            user: user.clone(),
            plan: (**g).clone(),
        });
    }
    c.authuser = authuser;
    c.proxyauth = proxyauth;
    c.trylogin = p.bool("trylogin").unwrap_or(true);
    c.compress = p.bool(&get("compress")).unwrap_or(false);
    c.send_id = p.bool("id").unwrap_or(true);
    c.id_params = vec![
        ("name".into(), "imapsync".into()),
        ("version".into(), crate::flags::VERSION.into()),
        ("os".into(), std::env::consts::OS.into()),
        ("vendor".into(), "imapsync-rs".into()),
        ("side".into(), format!("host{n}")),
    ];
    c.inet = if p.bool("inet6") == Some(true) {
        Some(Inet::V6)
    } else if p.bool("inet4") == Some(true) {
        Some(Inet::V4)
    } else {
        None
    };
    c.keepalive = p.bool(&get("keepalive")).unwrap_or(true);
    if let Some(depth) = p.int("pipelinedepth") {
        c.pipeline_depth = depth.clamp(1, 10_000) as usize;
    }
    c.no_login = justconnect;
    let connections = p
        .int(&get("connections"))
        .map(|v| v.clamp(1, MAX_CONNECTIONS as i64) as usize)
        .unwrap_or(DEFAULT_CONNECTIONS);
    let search = p
        .string(&get("search"))
        .or_else(|| p.string("search"))
        .map(str::to_string);
    Ok(SideConfig {
        connect: c,
        connections,
        reconnect_retry: p
            .int(&get("reconnectretry"))
            .map(|v| v.max(0) as u32)
            .unwrap_or(3),
        sep: pre.sep[i].or_else(|| p.string(&get("sep")).and_then(|s| s.chars().next())),
        prefix: if pre.prefix_empty[i] {
            Some(String::new())
        } else {
            p.string(&get("prefix")).map(str::to_string)
        },
        search,
    })
}

/// IMAP search key for `--maxage`/`--minage` (imapsync uses the Date: header, SENTSINCE /
/// SENTBEFORE, at day granularity).
fn age_criteria(maxage: Option<f64>, minage: Option<f64>, now: i64) -> Option<String> {
    let date = |days: f64| {
        let t = now - (days * 86400.0) as i64;
        imapsync_plan::dates::format_search_date(t, imapsync_plan::display::local_offset(t))
    };
    match (maxage, minage) {
        (None, None) => None,
        (Some(max), None) => Some(format!("SENTSINCE {}", date(max))),
        (None, Some(min)) => Some(format!("SENTBEFORE {}", date(min))),
        (Some(max), Some(min)) => {
            if min <= max {
                Some(format!("SENTSINCE {} SENTBEFORE {}", date(max), date(min)))
            } else {
                Some(format!(
                    "OR SENTSINCE {} SENTBEFORE {}",
                    date(max),
                    date(min)
                ))
            }
        }
    }
}

/// Builds the run configuration.
pub fn build(p: &Parsed) -> Result<(Config, Extras), ConfigError> {
    let mut warnings = Vec::new();
    let pre = presets(p);
    warnings.extend(pre.notes.iter().cloned());
    let missing: Vec<&str> = ["host1", "user1", "host2", "user2"]
        .into_iter()
        .filter(|n| p.string(n).is_none_or(|v| v.trim().is_empty()))
        .filter(|n| match *n {
            "host1" => pre.host[0].is_none(),
            "host2" => pre.host[1].is_none(),
            _ => true,
        })
        .collect();
    let implied = (!missing.is_empty()).then(|| {
        format!(
            "No {} given: connecting only (imapsync's --justconnect)",
            missing
                .iter()
                .map(|m| format!("--{m}"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    });
    let justconnect = p.bool("justconnect").unwrap_or(false) || implied.is_some();
    let mut oauth_logins = Vec::new();
    let mut side1 = side_config(p, 1, &mut warnings, justconnect, &pre, &mut oauth_logins)?;
    let mut side2 = side_config(p, 2, &mut warnings, justconnect, &pre, &mut oauth_logins)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let maxage = p.float("maxage");
    let minage = p.float("minage");
    let abletosearch = p.bool("abletosearch").unwrap_or(true);
    let ages_server_side = abletosearch && p.string("search").is_none();
    if ages_server_side && let Some(c) = age_criteria(maxage, minage, now) {
        if side1.search.is_none() && p.bool("abletosearch1").unwrap_or(true) {
            side1.search = Some(c.clone());
        }
        if side2.search.is_none() && p.bool("abletosearch2").unwrap_or(true) {
            side2.search = Some(c);
        }
    }
    let regexflag = p
        .list("regexflag")
        .iter()
        .map(String::as_str)
        .chain(pre.regexflag.iter().copied())
        .map(|e| PerlExpr::parse(e).map_err(|err| usage(format!("--regexflag {e}: {err}"))))
        .collect::<Result<Vec<_>, _>>()?;
    // Check --regextrans2 now rather than at first use (imapsync fails later, mid-run).
    for e in p.list("regextrans2") {
        PerlExpr::parse(e).map_err(|err| usage(format!("--regextrans2 {e}: {err}")))?;
    }
    let regexmess = p
        .list("regexmess")
        .iter()
        .map(String::as_str)
        .chain(pre.regexmess.iter().copied())
        .map(|e| PerlExpr::parse(e).map_err(|err| usage(format!("--regexmess {e}: {err}"))))
        .collect::<Result<Vec<_>, _>>()?;
    let skipmess = p
        .list("skipmess")
        .iter()
        .map(|e| PerlExpr::parse(e).map_err(|err| usage(format!("--skipmess {e}: {err}"))))
        .collect::<Result<Vec<_>, _>>()?;
    let skipheader = match p.string("skipheader") {
        Some(re) => Some(
            perl_regex_with_flags(re, RegexFlags::SKIPHEADER)
                .map_err(|e| usage(format!("--skipheader {re}: {e}")))?,
        ),
        None => None,
    };
    let identity = IdentityOptions {
        useheader: UseHeader::new(
            p.list("useheader")
                .iter()
                .cloned()
                .chain(pre.useheader.iter().map(|h| h.to_string())),
        ),
        skipheader,
        messageidnodomain: p.bool("messageidnodomain").unwrap_or(pre.messageidnodomain),
        skipsize: p.bool("skipsize").unwrap_or(true),
    };
    let dry = p.bool("dry").unwrap_or(false);
    let justfolders = p.bool("justfolders").unwrap_or(false);
    let foldersizes = p.bool("foldersizes").unwrap_or(!justfolders);
    let messages = MessageConfig {
        identity,
        addheader: p.bool("addheader").unwrap_or(pre.addheader),
        maxsize: p
            .int("maxsize")
            .filter(|&v| v > 0)
            .map(|v| v as u64)
            .or(pre.maxsize),
        minsize: p.int("minsize").map(|v| v.max(0) as u64),
        maxage: if ages_server_side { None } else { maxage },
        minage: if ages_server_side { None } else { minage },
        syncinternaldates: p.bool("syncinternaldates").unwrap_or(true),
        idatefromheader: p.bool("idatefromheader").unwrap_or(false),
        resyncflags: p.bool("resyncflags").unwrap_or(true),
        regexflag,
        filterflags: p.bool("filterflags").unwrap_or(true),
        filterbuggyflags: p.bool("filterbuggyflags").unwrap_or(false),
        flagscase: p.bool("flagscase").unwrap_or(true),
        syncduplicates: p.bool("syncduplicates").unwrap_or(false),
        skipcrossduplicates: p
            .bool("skipcrossduplicates")
            .or(pre.skipcrossduplicates)
            .unwrap_or(false),
        useuid: p.bool("useuid").unwrap_or(false),
        multiappend: p.bool("multiappend").unwrap_or(true),
        regexmess,
        skipmess,
        disarmreadreceipts: p
            .bool("disarmreadreceipts")
            .unwrap_or(pre.disarmreadreceipts),
        maxlinelength: p.int("maxlinelength").filter(|&v| v > 0).map(|v| v as u64),
    };
    let f1f2 = p
        .list("f1f2")
        .iter()
        .cloned()
        .chain(pre.f1f2.iter().map(|(a, b)| format!("{a}={b}")))
        .collect::<Vec<_>>();
    let f1f2 = f1f2
        .iter()
        .map(|v| match v.split_once('=') {
            Some((a, b)) => Ok((a.to_string(), b.to_string())),
            None => Err(usage(format!("--f1f2 {v}: expected source=destination"))),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let folders = FolderConfig {
        folder: p.list("folder").to_vec(),
        folderrec: p.list("folderrec").to_vec(),
        include: p.list("include").to_vec(),
        exclude: p
            .list("exclude")
            .iter()
            .cloned()
            .chain(pre.exclude.iter().map(|e| e.to_string()))
            .collect(),
        subscribed: p.bool("subscribed").unwrap_or(false),
        folderfirst: p.list("folderfirst").to_vec(),
        folderlast: p
            .list("folderlast")
            .iter()
            .cloned()
            .chain(pre.folderlast.iter().map(|e| e.to_string()))
            .collect(),
        checkfoldersexist: p.bool("checkfoldersexist").unwrap_or(true),
        checkselectable: p.bool("checkselectable"),
        skipemptyfolders: p.bool("skipemptyfolders").unwrap_or(false),
        f1f2,
        automap: p.bool("automap").unwrap_or(pre.automap),
        subfolder1: p.string("subfolder1").map(str::to_string),
        subfolder2: p.string("subfolder2").map(str::to_string),
        regextrans2: p
            .list("regextrans2")
            .iter()
            .cloned()
            .chain(pre.regextrans2.iter().map(|e| e.to_string()))
            .collect(),
        fixslash2: p.bool("fixslash2").unwrap_or(true),
        fixinboxinbox: p.bool("fixInboxINBOX").unwrap_or(true),
        subscribe: p.bool("subscribe").unwrap_or(true),
        subscribeall: p.bool("subscribeall").unwrap_or(false),
        delete2folders: p.bool("delete2folders").unwrap_or(false)
            || p.string("delete2foldersonly").is_some()
            || p.string("delete2foldersbutnot").is_some(),
        delete2foldersonly: p.string("delete2foldersonly").map(str::to_string),
        delete2foldersbutnot: p.string("delete2foldersbutnot").map(str::to_string),
        delete1emptyfolders: p.bool("delete1emptyfolders").unwrap_or(false),
    };
    let modes = Modes {
        dry,
        justconnect,
        justlogin: p.bool("justlogin").unwrap_or(false),
        justfolders,
        justfoldersizes: p.bool("justfoldersizes").unwrap_or(false),
        justfolderlists: p.bool("justfolderlists").unwrap_or(false),
        justautomap: p.bool("justautomap").unwrap_or(false),
        foldersizes,
        foldersizesatend: p
            .bool("foldersizesatend")
            .unwrap_or(foldersizes || justfolders),
    };
    let state_path = if p.bool("state").unwrap_or(true) {
        let dir = match (p.string("statedir"), p.string("tmpdir")) {
            (Some(d), _) => Some(PathBuf::from(d)),
            (None, Some(t)) => Some(PathBuf::from(t).join("imapsync-state")),
            (None, None) => imapsync_state::default_dir(),
        };
        dir.map(|d| {
            d.join(imapsync_state::file_name(
                &side1.connect.host,
                &side1.connect.user,
                &side2.connect.host,
                &side2.connect.user,
            ))
        })
    } else {
        None
    };
    let delete1 = p.bool("delete1").unwrap_or(false);
    let delete2 = p.bool("delete2").unwrap_or(false);
    if delete1 && delete2 {
        return Err(usage(
            "--delete1 and --delete2 can not be used together: that would delete messages on both sides",
        ));
    }
    for opt in ["delete2foldersonly", "delete2foldersbutnot"] {
        if let Some(re) = p.string(opt) {
            let e = PerlExpr::parse(re).map_err(|err| usage(format!("--{opt} {re}: {err}")))?;
            if e.kind() != imapsync_plan::perlre::ExprKind::Match {
                return Err(usage(format!(
                    "--{opt} {re}: expected a regex like /pattern/"
                )));
            }
        }
    }
    let delete2duplicates = p
        .bool("delete2duplicates")
        .unwrap_or(delete2 && !p.bool("syncduplicates").unwrap_or(false));
    let delete = DeleteConfig {
        delete1,
        expunge1: p.bool("expunge1").unwrap_or(delete1 || pre.expunge1),
        delete2,
        delete2duplicates,
        expunge2: p.bool("expunge2").unwrap_or(false),
        uidexpunge2: p
            .bool("uidexpunge2")
            .unwrap_or(delete2 || delete2duplicates),
    };
    let errorsmax = p.int("errorsmax").map(|v| v.max(1) as u64).unwrap_or(50);
    let cfg = Config {
        side1,
        side2,
        folders,
        messages,
        modes,
        delete,
        rates: RateConfig {
            maxmessagespersecond: p
                .float("maxmessagespersecond")
                .filter(|&v| v != 0.0)
                .or(pre.maxmessagespersecond),
            maxbytespersecond: p
                .float("maxbytespersecond")
                .filter(|&v| v != 0.0)
                .or(pre.maxbytespersecond),
            maxbytesafter: p
                .int("maxbytesafter")
                .filter(|&v| v > 0)
                .map(|v| v as u64)
                .or(pre.maxbytesafter)
                .unwrap_or(0),
            maxsleep: p.float("maxsleep").or(pre
                .maxsleep
                .then_some(imapsync_plan::throttle::DEFAULT_MAXSLEEP)),
            exitwhenover: p.int("exitwhenover").map(|v| v.max(0) as u64),
        },
        errorsmax,
        state_path,
        debug: p.bool("debug").unwrap_or(false),
    };
    Ok((
        cfg,
        Extras {
            justconnect,
            implied_justconnect: implied,
            warnings,
            oauth_logins,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_forms() {
        assert_eq!(split_host("imap.x.org"), ("imap.x.org".into(), None, None));
        assert_eq!(
            split_host(" imap.x.org/ "),
            ("imap.x.org".into(), None, None)
        );
        assert_eq!(
            split_host("imap.foo.kk:114/coco/cucu/"),
            ("imap.foo.kk".into(), Some(114), Some("coco/cucu".into()))
        );
        assert_eq!(
            split_host("127.0.0.1:1143"),
            ("127.0.0.1".into(), Some(1143), None)
        );
        assert_eq!(split_host("[::1]:993"), ("::1".into(), Some(993), None));
        assert_eq!(split_host("::1"), ("::1".into(), None, None));
    }

    #[test]
    fn presets_keep_working_with_oauth2() {
        let args: Vec<String> = [
            "--host1",
            "imap.source.org",
            "--user1",
            "u",
            "--password1",
            "p",
            "--office2",
            "--user2",
            "bob@contoso.com",
            "--oauthprovider2",
            "microsoft:contoso.onmicrosoft.com",
            "--oauthclientid2",
            "app-id",
            "--oauthclientsecret2",
            "app-secret",
            "--nolog",
            "--nostate",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let p = crate::flags::parse(args).expect("parse");
        let (cfg, _) = build(&p).expect("build");
        let c = &cfg.side2.connect;
        assert_eq!(c.host, "outlook.office365.com");
        assert_eq!(c.security.ssl, Some(true));
        assert_eq!(c.mech, AuthMech::OAuth);
        assert!(
            c.oauth
                .as_ref()
                .is_some_and(|o| o.describe().contains("client credentials"))
        );
        assert!(cfg.side1.connect.oauth.is_none());
        assert_eq!(cfg.side1.connect.mech, AuthMech::Login);
    }

    #[test]
    fn age_search_keys() {
        let now = 1_700_000_000;
        assert!(age_criteria(Some(10.0), None, now).is_some_and(|s| s.starts_with("SENTSINCE ")));
        assert!(age_criteria(None, Some(10.0), now).is_some_and(|s| s.starts_with("SENTBEFORE ")));
        assert!(
            age_criteria(Some(30.0), Some(10.0), now)
                .is_some_and(|s| s.starts_with("SENTSINCE ") && s.contains(" SENTBEFORE "))
        );
        assert!(age_criteria(Some(10.0), Some(30.0), now).is_some_and(|s| s.starts_with("OR ")));
    }
}
