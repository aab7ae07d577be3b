//! One side's settings: host and port forms, credentials, TLS arguments, connection limits.

use std::path::PathBuf;
use std::time::Duration;

use imapsync_client::{AuthMech, ConnectOptions, Inet, Secret, Security, Side, TlsOptions};
use imapsync_sync::config::SideConfig;

use super::presets::Presets;
use super::{ConfigError, usage};
use crate::flags::Parsed;
use crate::oauthargs::{self, GrantPlan, OAuthArgs, Plan as OAuthPlan};
use imapsync_client::oauth::StoredTokens;

/// Default number of connections per side.
pub const DEFAULT_CONNECTIONS: usize = 4;
/// Reconnections per failure, per side (imapsync's 3), each after an exponential back-off.
pub const DEFAULT_RECONNECT_RETRY: u32 = 3;
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

pub(super) fn read_first_line(path: &str) -> Result<String, String> {
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
            message: format!(
                "Failure: file from parameter --passfile{n} {file} does not exist or is not readable ({e})"
            ),
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

/// Asks for a password on standard input, as imapsync does (without echo on a terminal; a
/// line is read from a pipe too); `None` at the end of input.
fn prompt_password(prompt: &str) -> Option<String> {
    use std::io::{BufRead, Write};
    // SAFETY: isatty on fd 0 has no preconditions.
    let tty = unsafe { libc::isatty(0) } == 1;
    let mut term = std::mem::MaybeUninit::<libc::termios>::zeroed();
    // SAFETY: tcgetattr fills the termios struct for fd 0, checked below.
    let ok = tty && unsafe { libc::tcgetattr(0, term.as_mut_ptr()) } == 0;
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
    // Nothing to read (end of input): no password.
    if r.ok()? == 0 {
        return None;
    }
    Some(line.trim_end_matches(['\r', '\n']).to_string())
}

/// The token file of side `n` (`--oauthtokenfileN`), when given and present.
fn stored_tokens(
    p: &Parsed,
    n: u8,
    warnings: &mut Vec<String>,
) -> Result<Option<StoredTokens>, ConfigError> {
    let Some(f) = p.string(&format!("oauthtokenfile{n}")) else {
        return Ok(None);
    };
    let path = std::path::Path::new(f);
    if imapsync_client::oauth::store::readable_by_others(path) {
        warnings.push(format!(
            "Warning: oauthtokenfile{n} {f} is readable by group or others (chmod 600 {f})"
        ));
    }
    StoredTokens::read(path).map_err(|e| ConfigError {
        message: format!("Failure: {e}"),
        exit_code: 66,
    })
}

fn oauth_plan(
    p: &Parsed,
    n: u8,
    pass: Option<&Secret>,
    stored: Option<&StoredTokens>,
) -> Result<OAuthPlan, ConfigError> {
    let oargs = OAuthArgs::from_parsed(p, n, pass);
    oauthargs::plan(&oargs, n, stored, &oauthargs::read_first_line).map_err(usage)
}

/// The interactive OAuth2 logins asked for (`--oauthloginN`), to run before the sync.
pub(super) fn oauth_logins(p: &Parsed) -> Result<Vec<OAuthLogin>, ConfigError> {
    let mut out = Vec::new();
    for n in [1u8, 2] {
        if p.bool(&format!("oauthlogin{n}")) != Some(true) {
            continue;
        }
        let mut ignore = Vec::new();
        let pass = password(p, n, &mut ignore)?;
        let stored = stored_tokens(p, n, &mut ignore)?;
        if let OAuthPlan::Grant(g) = oauth_plan(p, n, pass.as_ref(), stored.as_ref())? {
            out.push(OAuthLogin {
                side: n,
                user: p
                    .string(&format!("user{n}"))
                    .map(|u| u.trim().to_string())
                    .unwrap_or_default(),
                plan: *g,
            });
        }
    }
    Ok(out)
}

/// An interactive OAuth2 login asked with `--oauthloginN`.
#[derive(Debug)]
pub struct OAuthLogin {
    pub side: u8,
    pub user: String,
    pub plan: GrantPlan,
}

pub(super) fn side_config(
    p: &Parsed,
    n: u8,
    warnings: &mut Vec<String>,
    justconnect: bool,
    pre: &Presets,
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
        Some("NTLM") => AuthMech::Ntlm,
        Some("EXTERNAL") => AuthMech::External,
        Some("X-MASTERAUTH") => AuthMech::XMasterAuth,
        Some(other) => return Err(usage(format!("--authmech{n} {other} is not supported yet"))),
    };
    // OAuth2: how this side gets its access tokens.
    let stored = stored_tokens(p, n, warnings)?;
    let oplan = oauth_plan(p, n, pass.as_ref(), stored.as_ref())?;
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
            || matches!(mech, AuthMech::PreAuth | AuthMech::External)
            || oauth_on =>
        {
            Secret::default()
        }
        None => match prompt_password(&format!(
            "What's the password for {} at {host}? (not visible while you type, then enter RETURN) ",
            authuser.as_deref().unwrap_or(&user)
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
    let tls = tls_options(p, n, warnings)?;
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
        no_sslcheck: p.bool("sslcheck") == Some(false),
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
    c.authuser = authuser;
    c.domain = ntlm_domain(p, n, &c.mech, warnings);
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
    c.port_map = test_port_map();
    let mut connections = p
        .int(&get("connections"))
        .map(|v| v.clamp(1, MAX_CONNECTIONS as i64) as usize)
        .unwrap_or(DEFAULT_CONNECTIONS);
    if let Some(cap) = pre.connection_cap[i]
        && connections > cap
    {
        warnings.push(format!(
            "--connections{n} {connections}: the provider accepts at most {cap} connections per account, using {cap}"
        ));
        connections = cap;
    }
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
            .unwrap_or(DEFAULT_RECONNECT_RETRY),
        sep: pre.sep[i].or_else(|| p.string(&get("sep")).and_then(|s| s.chars().next())),
        prefix: if pre.prefix_empty[i] {
            Some(String::new())
        } else {
            p.string(&get("prefix")).map(str::to_string)
        },
        search,
    })
}

/// `--domainN`: the NTLM domain; said to be unused with another mechanism.
fn ntlm_domain(p: &Parsed, n: u8, mech: &AuthMech, warnings: &mut Vec<String>) -> Option<String> {
    let domain = p.string(&format!("domain{n}"))?.trim().to_string();
    if *mech != AuthMech::Ntlm {
        warnings.push(format!(
            "Warning: --domain{n} is used only with --authmech{n} NTLM; it is ignored with {}",
            mech.name()
        ));
    }
    Some(domain)
}

/// What this program does instead of an IO::Socket::SSL argument it has no equivalent for.
fn sslargs_instead(key: &str) -> &'static str {
    match key {
        "SSL_cipher_list" | "SSL_ciphersuites" | "SSL_honor_cipher_order" => {
            "rustls offers its own list of modern cipher suites (SSL_version limits the protocol versions)"
        }
        "SSL_verifycn_scheme" => {
            "the name is always checked against the certificate's DNS and IP subject alternative names (RFC 6125)"
        }
        "SSL_check_crl" | "SSL_crl_file" | "SSL_ocsp_mode" => {
            "revocation (CRL, OCSP) is not checked"
        }
        "SSL_passwd_cb" | "SSL_key_passwd" => {
            "encrypted private keys are not supported: give an unencrypted PEM key (openssl pkey -in KEY -out PLAIN)"
        }
        "SSL_use_cert" => "the client certificate is used whenever SSL_cert_file is given",
        "SSL_ecdh_curve" | "SSL_dh_file" | "SSL_server" => {
            "a server setting, nothing to do for a client"
        }
        "SSL_session_cache" | "SSL_session_cache_size" | "SSL_session_key" => {
            "each connection makes its own TLS session"
        }
        _ => "not an IO::Socket::SSL argument known here",
    }
}

/// `--sslargsN` (IO::Socket::SSL arguments), `--sslN_ssl_version` and `--debugssl` as
/// rustls settings; what has no equivalent is said once, with what is done instead. Files
/// named are read now: a bad one stops the run before any connection.
fn tls_options(p: &Parsed, n: u8, warnings: &mut Vec<String>) -> Result<TlsOptions, ConfigError> {
    use imapsync_client::tls::{ClientCert, Fingerprint, TlsVersions};
    let mut tls = TlsOptions::verifying();
    let mut args: Vec<(String, String)> = p
        .string(&format!("ssl{n}_ssl_version"))
        .map(|v| ("SSL_version".to_string(), v.to_string()))
        .into_iter()
        .collect();
    args.extend(p.hash(&format!("sslargs{n}")).iter().cloned());
    let bad = |k: &str, v: &str, why: String| usage(format!("--sslargs{n} {k}={v}: {why}"));
    let (mut cert_file, mut key_file) = (None, None);
    for (k, v) in &args {
        let value = v.trim();
        match k.as_str() {
            "SSL_verify_mode" => {
                tls.verify = !matches!(value, "0" | "0x00" | "0x0" | "SSL_VERIFY_NONE");
            }
            "SSL_ca_file" => tls.ca_file = Some(PathBuf::from(value)),
            "SSL_ca_path" => tls.ca_path = Some(PathBuf::from(value)),
            "SSL_version" => {
                tls.versions = TlsVersions::parse(value).map_err(|e| bad(k, v, e))?;
            }
            "SSL_fingerprint" => {
                tls.fingerprints
                    .push(Fingerprint::parse(value).map_err(|e| bad(k, v, e))?);
            }
            "SSL_hostname" => tls.sni = Some(value.to_string()),
            "SSL_verifycn_name" => tls.verify_name = Some(value.to_string()),
            "SSL_cert_file" => cert_file = Some(PathBuf::from(value)),
            "SSL_key_file" => key_file = Some(PathBuf::from(value)),
            other => warnings.push(format!(
                "Warning: --sslargs{n} {other} has no equivalent here and is ignored: {}",
                sslargs_instead(other)
            )),
        }
    }
    tls.client_cert = match (cert_file, key_file) {
        (Some(cert), key) => Some(ClientCert {
            key_file: key.unwrap_or_else(|| cert.clone()),
            cert_file: cert,
        }),
        (None, Some(_)) => {
            return Err(usage(format!(
                "--sslargs{n} SSL_key_file needs SSL_cert_file (the client certificate)"
            )));
        }
        (None, None) => None,
    };
    tls.debug = p.int("debugssl").map(|d| d.clamp(0, 4) as u8).unwrap_or(1);
    let reads_files = tls.ca_file.is_some() || tls.ca_path.is_some() || tls.client_cert.is_some();
    if reads_files && let Err(e) = imapsync_client::tls::client_config(&tls) {
        return Err(usage(format!("--sslargs{n}: {e}")));
    }
    if n == 1
        && ["ssl1", "ssl2", "tls1", "tls2"]
            .iter()
            .any(|o| p.bool(o) == Some(true))
    {
        warnings.push(format!(
            "SSL debug mode level is --debugssl {} (can be set from 0 meaning no debug to 4 meaning max debug)",
            tls.debug
        ));
    }
    if p.bool(&format!("ssl{n}")) == Some(true) {
        warnings.push(format!(
            "Host{n}: the server certificate is {} (imapsync does not verify by default); --sslargs{n} SSL_verify_mode={} to {}",
            if tls.verify { "verified" } else { "NOT verified" },
            if tls.verify { 0 } else { 1 },
            if tls.verify { "turn that off" } else { "verify it" }
        ));
    }
    Ok(tls)
}

/// Tests only: `IMAPSYNC_RS_TEST_PORT_MAP=993:20993,143:20143` makes the well-known ports
/// (the 993 probe, `--tlsN` alone) reach test servers on other ports.
fn test_port_map() -> Vec<(u16, u16)> {
    std::env::var("IMAPSYNC_RS_TEST_PORT_MAP")
        .unwrap_or_default()
        .split(',')
        .filter_map(|pair| {
            let (from, to) = pair.split_once(':')?;
            Some((from.trim().parse().ok()?, to.trim().parse().ok()?))
        })
        .collect()
}
