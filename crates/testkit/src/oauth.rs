//! `OAuthServer`: a local OAuth2 authorization server for tests, on its own thread, plain
//! HTTP on 127.0.0.1 — the counterpart of Google's and Microsoft's endpoints, with tokens
//! that expire after a chosen time:
//!
//! * `POST /token`: the refresh token, client credentials, JWT bearer (service accounts:
//!   signature, audience, subject and lifetime checked), device code and authorization
//!   code (PKCE S256 checked) grants; answers and errors shaped as RFC 6749 §5; refresh
//!   tokens can be rotated on every use and revoked;
//! * `POST /introspect`: what Dovecot's `oauth2` passdb asks (see
//!   [`crate::DovecotBuilder::oauth2`]): `{"active": true, "username": ...}` for a live
//!   access token, `{"active": false}` otherwise;
//! * `POST /device/code` and `GET /device?user_code=..&user=..` (the user typing the code
//!   on "another device");
//! * `GET /authorize?...` (the browser sign-in: consents at once for `login_hint` and
//!   redirects to `redirect_uri`), and [`OAuthServer::browse`] to play the browser;
//! * `GET /.well-known/openid-configuration` (discovery).
//!
//! [`OAuthServer::service_account`] makes a service-account key file (RSA key by
//! `openssl`) whose public half the server trusts.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow, bail};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::background::Background;

/// Counters of what the server did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OAuthStats {
    pub refresh_grants: u64,
    pub client_credentials_grants: u64,
    pub jwt_grants: u64,
    pub device_grants: u64,
    pub code_grants: u64,
    /// Token requests refused (any grant).
    pub refused: u64,
    /// Introspections answered active / inactive.
    pub introspect_active: u64,
    pub introspect_inactive: u64,
    /// Why JWT assertions were refused.
    pub jwt_rejections: Vec<String>,
    /// Device authorizations started, and polls answered "authorization_pending".
    pub device_starts: u64,
    pub device_pending: u64,
}

struct Access {
    user: String,
    expires: Instant,
}

struct Refresh {
    user: String,
    client_id: String,
    revoked: bool,
}

struct Device {
    device_code: String,
    client_id: String,
    scope: String,
    approved: Option<String>,
}

struct Code {
    user: String,
    client_id: String,
    redirect_uri: String,
    challenge: String,
}

struct State {
    clients: HashMap<String, Option<String>>,
    /// Client id -> user its app-only tokens act for (the mailbox granted to the app).
    app_users: HashMap<String, String>,
    access: HashMap<String, Access>,
    refresh: HashMap<String, Refresh>,
    devices: Vec<Device>,
    codes: HashMap<String, Code>,
    /// Service account address -> RSA public key (PKCS#1 DER).
    keys: HashMap<String, Vec<u8>>,
    lifetime: Duration,
    rotate: bool,
    device_flow: bool,
    stats: OAuthStats,
    counter: u64,
}

impl State {
    fn fresh(&mut self, prefix: &str) -> String {
        self.counter += 1;
        let r: u64 = rand_u64();
        format!("{prefix}-{}-{r:016x}", self.counter)
    }

    fn access_for(&mut self, user: &str) -> (String, u64) {
        let t = self.fresh("at");
        self.access.insert(
            t.clone(),
            Access {
                user: user.to_string(),
                expires: Instant::now() + self.lifetime,
            },
        );
        (t, self.lifetime.as_secs().max(1))
    }
}

fn rand_u64() -> u64 {
    let mut b = [0u8; 8];
    let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b);
    u64::from_le_bytes(b)
}

/// A running authorization server; stops on drop.
pub struct OAuthServer {
    server: Background,
    state: Arc<Mutex<State>>,
    keys_dir: tempfile::TempDir,
}

impl std::fmt::Debug for OAuthServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthServer")
            .field("addr", &self.server.addr())
            .finish()
    }
}

impl OAuthServer {
    /// Starts a server whose access tokens live one hour (see [`Self::set_token_lifetime`]).
    pub fn start() -> Result<OAuthServer> {
        let state = Arc::new(Mutex::new(State {
            clients: HashMap::new(),
            app_users: HashMap::new(),
            access: HashMap::new(),
            refresh: HashMap::new(),
            devices: Vec::new(),
            codes: HashMap::new(),
            keys: HashMap::new(),
            lifetime: Duration::from_secs(3600),
            rotate: false,
            device_flow: true,
            stats: OAuthStats::default(),
            counter: 0,
        }));
        let st = state.clone();
        let server = Background::start("oauth-server", move |sock, _| {
            let st = st.clone();
            async move { handle(sock, st).await }
        })?;
        Ok(OAuthServer {
            server,
            state,
            keys_dir: tempfile::Builder::new()
                .prefix("itk-oauth-")
                .tempdir()
                .context("creating the OAuth server temp dir")?,
        })
    }

    fn st(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `http://127.0.0.1:PORT`, also the issuer for discovery.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.server.addr().port())
    }

    pub fn token_url(&self) -> String {
        format!("{}/token", self.url())
    }

    pub fn introspection_url(&self) -> String {
        format!("{}/introspect", self.url())
    }

    /// Registers a client (`secret` `None` = a public client).
    pub fn add_client(&self, client_id: &str, secret: Option<&str>) {
        self.st()
            .clients
            .insert(client_id.to_string(), secret.map(str::to_string));
    }

    /// Lets `client_id` get app-only tokens (client credentials) acting for `user`.
    pub fn grant_app_access(&self, client_id: &str, user: &str) {
        self.st()
            .app_users
            .insert(client_id.to_string(), user.to_string());
    }

    /// Lifetime of the access tokens issued from now on.
    pub fn set_token_lifetime(&self, d: Duration) {
        self.st().lifetime = d;
    }

    /// Hand out a new refresh token with every refresh (and revoke the old one).
    pub fn set_rotate_refresh_tokens(&self, on: bool) {
        self.st().rotate = on;
    }

    /// Advertise (and serve) the device authorization endpoint.
    pub fn set_device_flow(&self, on: bool) {
        self.st().device_flow = on;
    }

    /// A refresh token for `user`, as an earlier consent would have left.
    pub fn issue_refresh_token(&self, user: &str, client_id: &str) -> String {
        let mut st = self.st();
        let t = st.fresh("rt");
        st.refresh.insert(
            t.clone(),
            Refresh {
                user: user.to_string(),
                client_id: client_id.to_string(),
                revoked: false,
            },
        );
        t
    }

    /// An access token for `user` living `lifetime`.
    pub fn issue_access_token(&self, user: &str, lifetime: Duration) -> String {
        let mut st = self.st();
        let t = st.fresh("at");
        st.access.insert(
            t.clone(),
            Access {
                user: user.to_string(),
                expires: Instant::now() + lifetime,
            },
        );
        t
    }

    /// Revokes every refresh token and every access token of `user`.
    pub fn revoke_user(&self, user: &str) {
        let mut st = self.st();
        for r in st.refresh.values_mut().filter(|r| r.user == user) {
            r.revoked = true;
        }
        st.access.retain(|_, a| a.user != user);
    }

    /// Invalidates the access tokens of `user` before their time (refresh tokens stay).
    pub fn revoke_access_tokens(&self, user: &str) {
        self.st().access.retain(|_, a| a.user != user);
    }

    /// The refresh tokens of `user` still valid.
    pub fn live_refresh_tokens(&self, user: &str) -> Vec<String> {
        self.st()
            .refresh
            .iter()
            .filter(|(_, r)| r.user == user && !r.revoked)
            .map(|(t, _)| t.clone())
            .collect()
    }

    pub fn stats(&self) -> OAuthStats {
        self.st().stats.clone()
    }

    /// Approves a pending device authorization as `user` (what the user does on the
    /// verification page), like `GET /device?user_code=..&user=..`.
    pub fn approve_device(&self, user_code: &str, user: &str) -> Result<()> {
        let mut st = self.st();
        let d = st
            .devices
            .iter_mut()
            .find(|d| user_code_of(&d.device_code) == user_code)
            .ok_or_else(|| anyhow!("no device authorization with user code {user_code}"))?;
        d.approved = Some(user.to_string());
        Ok(())
    }

    /// Makes a service-account key file for `client_email` whose token endpoint is this
    /// server; returns its path. The server trusts the key.
    pub fn service_account(&self, client_email: &str) -> Result<std::path::PathBuf> {
        let d = self.keys_dir.path();
        let name = client_email.replace(['@', '.'], "_");
        let pem = d.join(format!("{name}.pem"));
        let der = d.join(format!("{name}.pub.der"));
        run_openssl(&[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
            &pem.to_string_lossy(),
        ])?;
        run_openssl(&[
            "rsa",
            "-in",
            &pem.to_string_lossy(),
            "-RSAPublicKey_out",
            "-outform",
            "DER",
            "-out",
            &der.to_string_lossy(),
        ])?;
        let private_key = std::fs::read_to_string(&pem)?;
        if !private_key.contains("BEGIN PRIVATE KEY") {
            bail!("openssl did not write a PKCS#8 key");
        }
        self.st()
            .keys
            .insert(client_email.to_string(), std::fs::read(&der)?);
        let key = json!({
            "type": "service_account",
            "project_id": "imapsync-test",
            "private_key_id": format!("{:016x}", rand_u64()),
            "private_key": private_key,
            "client_email": client_email,
            "client_id": "100000000000000000001",
            "auth_uri": format!("{}/authorize", self.url()),
            "token_uri": self.token_url(),
        });
        let path = d.join(format!("{name}.json"));
        std::fs::write(&path, serde_json::to_string_pretty(&key)?)?;
        Ok(path)
    }

    /// Plays the browser: GETs `url` (the authorization address a login printed) and then
    /// the loopback address it redirects to. Returns the final page's text.
    pub fn browse(url: &str) -> Result<String> {
        let (status, location, body) = http_get(url)?;
        if !(300..400).contains(&status) {
            bail!("authorization page answered {status}: {body}");
        }
        let to = location.ok_or_else(|| anyhow!("redirect without Location"))?;
        let (status, _, body) = http_get(&to)?;
        if status != 200 {
            bail!("the redirect target answered {status}: {body}");
        }
        Ok(body)
    }
}

fn user_code_of(device_code: &str) -> String {
    // The user code is derived from the device code: 8 upper-case hex characters.
    let h = device_code.bytes().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100000001b3)
    });
    format!("{:08X}", h as u32)
}

fn run_openssl(args: &[&str]) -> Result<()> {
    let out = std::process::Command::new("openssl")
        .args(args)
        .output()
        .context("running `openssl` (install the openssl package)")?;
    if !out.status.success() {
        bail!(
            "openssl {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// A blocking GET to a loopback http URL: status, Location, body.
fn http_get(url: &str) -> Result<(u16, Option<String>, String)> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| anyhow!("not an http URL: {url}"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let mut s = std::net::TcpStream::connect(authority)
        .with_context(|| format!("connecting to {authority}"))?;
    s.set_read_timeout(Some(Duration::from_secs(20)))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| anyhow!("bad answer: {head}"))?;
    let location = head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case("location")
            .then(|| v.trim().to_string())
    });
    Ok((status, location, body.to_string()))
}

struct Request {
    /// The Host header: absolute URLs in answers are built on it.
    host: String,
    method: String,
    path: String,
    query: Vec<(String, String)>,
    form: Vec<(String, String)>,
}

impl Request {
    fn get(&self, k: &str) -> Option<&str> {
        self.form
            .iter()
            .chain(self.query.iter())
            .find(|(a, _)| a == k)
            .map(|(_, v)| v.as_str())
    }
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(v) => {
                        out.push(v);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn pairs(s: &str) -> Vec<(String, String)> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (decode(k), decode(v)),
            None => (decode(p), String::new()),
        })
        .collect()
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

async fn read_request(sock: &mut TcpStream) -> Option<Request> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let n = sock.read(&mut chunk).await.ok()?;
        if n == 0 || buf.len() > 1 << 20 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split_whitespace();
    let method = first.next()?.to_string();
    let target = first.next()?.to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let header = |n: &str| headers.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
    let len: usize = header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let host = header("host").unwrap_or_default();
    while buf.len() < head_end + 4 + len {
        let n = sock.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = String::from_utf8_lossy(&buf[head_end + 4..head_end + 4 + len]).into_owned();
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_string(), pairs(q)),
        None => (target, Vec::new()),
    };
    Some(Request {
        host,
        method,
        path,
        query,
        form: pairs(&body),
    })
}

async fn handle(mut sock: TcpStream, state: Arc<Mutex<State>>) {
    let Some(req) = read_request(&mut sock).await else {
        return;
    };
    let (status, extra, body) = {
        let mut st = state.lock().unwrap_or_else(|e| e.into_inner());
        route(&req, &mut st)
    };
    let reason = match status {
        200 => "OK",
        302 => "Found",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        _ => "Status",
    };
    let ctype = if body.starts_with('{') {
        "application/json"
    } else {
        "text/plain"
    };
    let resp = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = sock.write_all(resp.as_bytes()).await;
    let _ = sock.shutdown().await;
}

type Answer = (u16, String, String);

fn ok(v: Value) -> Answer {
    (200, String::new(), v.to_string())
}

fn err(status: u16, error: &str, description: &str) -> Answer {
    (
        status,
        String::new(),
        json!({"error": error, "error_description": description}).to_string(),
    )
}

fn route(req: &Request, st: &mut State) -> Answer {
    match (req.method.as_str(), req.path.as_str()) {
        ("POST", "/token") => {
            let a = token(req, st);
            if a.0 != 200 {
                st.stats.refused += 1;
            }
            a
        }
        ("POST", "/introspect") => {
            let t = req.get("token").unwrap_or("");
            match st.access.get(t).filter(|a| a.expires > Instant::now()) {
                Some(a) => {
                    let user = a.user.clone();
                    st.stats.introspect_active += 1;
                    ok(json!({"active": true, "username": user}))
                }
                None => {
                    st.stats.introspect_inactive += 1;
                    ok(json!({"active": false}))
                }
            }
        }
        ("POST", "/device/code") if st.device_flow => {
            let client_id = req.get("client_id").unwrap_or("").to_string();
            if !st.clients.contains_key(&client_id) {
                return err(400, "invalid_client", "unknown client");
            }
            let device_code = st.fresh("dc");
            let user_code = user_code_of(&device_code);
            st.devices.push(Device {
                device_code: device_code.clone(),
                client_id,
                scope: req.get("scope").unwrap_or("").to_string(),
                approved: None,
            });
            st.stats.device_starts += 1;
            ok(json!({
                "device_code": device_code,
                "user_code": user_code,
                "verification_uri": format!("http://{}/device", req.host),
                "expires_in": 120,
                "interval": 1,
            }))
        }
        ("GET", "/device") => {
            let code = req.get("user_code").unwrap_or("");
            let user = req.get("user").unwrap_or("").to_string();
            match st
                .devices
                .iter_mut()
                .find(|d| user_code_of(&d.device_code) == code)
            {
                Some(d) if !user.is_empty() => {
                    d.approved = Some(user);
                    (200, String::new(), "approved".into())
                }
                _ => (404, String::new(), "no such code".into()),
            }
        }
        ("GET", "/authorize") => {
            let user = req.get("login_hint").unwrap_or("").to_string();
            let client_id = req.get("client_id").unwrap_or("").to_string();
            let redirect = req.get("redirect_uri").unwrap_or("").to_string();
            let state = req.get("state").unwrap_or("").to_string();
            if user.is_empty() || !st.clients.contains_key(&client_id) {
                return (400, String::new(), "unknown client or no login_hint".into());
            }
            if !redirect.starts_with("http://127.0.0.1:") {
                return (
                    400,
                    String::new(),
                    "redirect_uri must be a loopback address".into(),
                );
            }
            if req.get("code_challenge_method") != Some("S256") {
                return (400, String::new(), "PKCE S256 required".into());
            }
            let code = st.fresh("code");
            st.codes.insert(
                code.clone(),
                Code {
                    user,
                    client_id,
                    redirect_uri: redirect.clone(),
                    challenge: req.get("code_challenge").unwrap_or("").to_string(),
                },
            );
            (
                302,
                format!(
                    "Location: {redirect}?code={}&state={}\r\n",
                    encode(&code),
                    encode(&state)
                ),
                String::new(),
            )
        }
        ("GET", "/.well-known/openid-configuration") => {
            let base = format!("http://{}", req.host);
            let mut v = json!({
                "issuer": base,
                "token_endpoint": format!("{base}/token"),
                "authorization_endpoint": format!("{base}/authorize"),
            });
            if st.device_flow {
                v["device_authorization_endpoint"] = Value::String(format!("{base}/device/code"));
            }
            ok(v)
        }
        _ => (404, String::new(), "not found".into()),
    }
}

fn check_client(req: &Request, st: &State) -> Result<String, Answer> {
    let id = req.get("client_id").unwrap_or("").to_string();
    match st.clients.get(&id) {
        None => Err(err(401, "invalid_client", "unknown client")),
        Some(Some(secret)) if req.get("client_secret") != Some(secret.as_str()) => {
            Err(err(401, "invalid_client", "bad client secret"))
        }
        Some(_) => Ok(id),
    }
}

fn token(req: &Request, st: &mut State) -> Answer {
    match req.get("grant_type").unwrap_or("") {
        "refresh_token" => {
            let client = match check_client(req, st) {
                Ok(c) => c,
                Err(a) => return a,
            };
            let rt = req.get("refresh_token").unwrap_or("").to_string();
            let user = match st.refresh.get(&rt) {
                Some(r) if !r.revoked && r.client_id == client => r.user.clone(),
                Some(r) if r.revoked => {
                    return err(400, "invalid_grant", "Token has been expired or revoked.");
                }
                _ => return err(400, "invalid_grant", "Bad refresh token."),
            };
            st.stats.refresh_grants += 1;
            let (at, life) = st.access_for(&user);
            let mut v = json!({"access_token": at, "expires_in": life, "token_type": "Bearer"});
            if st.rotate {
                if let Some(r) = st.refresh.get_mut(&rt) {
                    r.revoked = true;
                }
                let new = st.fresh("rt");
                st.refresh.insert(
                    new.clone(),
                    Refresh {
                        user,
                        client_id: client,
                        revoked: false,
                    },
                );
                v["refresh_token"] = Value::String(new);
            }
            ok(v)
        }
        "client_credentials" => {
            let client = match check_client(req, st) {
                Ok(c) => c,
                Err(a) => return a,
            };
            if st.clients.get(&client).is_some_and(Option::is_none) {
                return err(
                    401,
                    "invalid_client",
                    "a public client can not get app-only tokens",
                );
            }
            let Some(user) = st.app_users.get(&client).cloned() else {
                return err(400, "unauthorized_client", "no mailbox granted to this app");
            };
            st.stats.client_credentials_grants += 1;
            let (at, life) = st.access_for(&user);
            ok(json!({"access_token": at, "expires_in": life, "token_type": "Bearer"}))
        }
        "urn:ietf:params:oauth:grant-type:jwt-bearer" => {
            let assertion = req.get("assertion").unwrap_or("");
            match check_jwt(assertion, &format!("http://{}/token", req.host), st) {
                Ok(user) => {
                    st.stats.jwt_grants += 1;
                    let (at, life) = st.access_for(&user);
                    ok(json!({"access_token": at, "expires_in": life, "token_type": "Bearer"}))
                }
                Err(why) => {
                    st.stats.jwt_rejections.push(why.clone());
                    err(400, "invalid_grant", &why)
                }
            }
        }
        "urn:ietf:params:oauth:grant-type:device_code" => {
            let client = match check_client(req, st) {
                Ok(c) => c,
                Err(a) => return a,
            };
            let dc = req.get("device_code").unwrap_or("");
            let Some(i) = st
                .devices
                .iter()
                .position(|d| d.device_code == dc && d.client_id == client)
            else {
                return err(400, "invalid_grant", "unknown device code");
            };
            let Some(user) = st.devices[i].approved.clone() else {
                st.stats.device_pending += 1;
                return err(400, "authorization_pending", "waiting for the user");
            };
            let _scope = st.devices.remove(i).scope;
            st.stats.device_grants += 1;
            let (at, life) = st.access_for(&user);
            let rt = st.fresh("rt");
            st.refresh.insert(
                rt.clone(),
                Refresh {
                    user,
                    client_id: client,
                    revoked: false,
                },
            );
            ok(
                json!({"access_token": at, "expires_in": life, "token_type": "Bearer", "refresh_token": rt}),
            )
        }
        "authorization_code" => {
            let client = match check_client(req, st) {
                Ok(c) => c,
                Err(a) => return a,
            };
            let code = req.get("code").unwrap_or("");
            let Some(c) = st.codes.remove(code) else {
                return err(400, "invalid_grant", "unknown or used code");
            };
            if c.client_id != client || req.get("redirect_uri") != Some(c.redirect_uri.as_str()) {
                return err(400, "invalid_grant", "client or redirect_uri mismatch");
            }
            let verifier = req.get("code_verifier").unwrap_or("");
            let challenge = URL_SAFE_NO_PAD.encode(ring::digest::digest(
                &ring::digest::SHA256,
                verifier.as_bytes(),
            ));
            if challenge != c.challenge {
                return err(400, "invalid_grant", "PKCE verification failed");
            }
            st.stats.code_grants += 1;
            let (at, life) = st.access_for(&c.user);
            let rt = st.fresh("rt");
            st.refresh.insert(
                rt.clone(),
                Refresh {
                    user: c.user,
                    client_id: client,
                    revoked: false,
                },
            );
            ok(
                json!({"access_token": at, "expires_in": life, "token_type": "Bearer", "refresh_token": rt}),
            )
        }
        other => err(400, "unsupported_grant_type", other),
    }
}

/// Checks a service-account assertion; the user it acts for.
fn check_jwt(jwt: &str, audience: &str, st: &State) -> Result<String, String> {
    let parts: Vec<&str> = jwt.split('.').collect();
    if parts.len() != 3 {
        return Err("not a compact JWT".into());
    }
    let dec = |s: &str| {
        URL_SAFE_NO_PAD
            .decode(s)
            .map_err(|e| format!("bad base64url: {e}"))
    };
    let header: Value =
        serde_json::from_slice(&dec(parts[0])?).map_err(|e| format!("header: {e}"))?;
    let claims: Value =
        serde_json::from_slice(&dec(parts[1])?).map_err(|e| format!("claims: {e}"))?;
    let sig = dec(parts[2])?;
    if header["alg"] != "RS256" {
        return Err(format!("alg {} is not RS256", header["alg"]));
    }
    let iss = claims["iss"].as_str().ok_or("no iss")?;
    let key = st
        .keys
        .get(iss)
        .ok_or_else(|| format!("unknown service account {iss}"))?;
    let signed = format!("{}.{}", parts[0], parts[1]);
    ring::signature::UnparsedPublicKey::new(&ring::signature::RSA_PKCS1_2048_8192_SHA256, key)
        .verify(signed.as_bytes(), &sig)
        .map_err(|_| "bad signature".to_string())?;
    let aud = claims["aud"].as_str().unwrap_or("");
    if aud != audience {
        return Err(format!(
            "audience {aud} is not this token endpoint ({audience})"
        ));
    }
    let sub = claims["sub"]
        .as_str()
        .ok_or("no sub (the user to act for)")?;
    let scope = claims["scope"].as_str().unwrap_or("");
    if !scope.split(' ').any(|s| s == "https://mail.google.com/") {
        return Err(format!("scope {scope:?} lacks https://mail.google.com/"));
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let iat = claims["iat"].as_u64().ok_or("no iat")?;
    let exp = claims["exp"].as_u64().ok_or("no exp")?;
    if iat > now + 60 || exp <= now || exp - iat > 3600 {
        return Err(format!("bad lifetime iat={iat} exp={exp} now={now}"));
    }
    Ok(sub.to_string())
}
