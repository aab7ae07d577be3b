//! Token sources: where each (re)connection gets its access token.
//!
//! Every connection asks its side's [`TokenSource`] for a token right before it
//! authenticates, so a reconnection late in a long run gets a valid one. When the server
//! refuses a token, the connection asks once more, naming the refused token: a source that
//! can do better (refresh now, re-read a file an outside refresher rewrote, run the refresh
//! command again) answers with a different token; if another connection already refreshed,
//! its token is handed out without a second refresh.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::grant::{self, Client};
use super::jwt::ServiceAccountKey;
use super::provider::{self, Provider, ProviderSpec};
use super::store::{self, StoredTokens};
use super::{OAuthError, TokenSet};
use crate::secret::Secret;
use crate::tls::TlsOptions;

/// The future of [`TokenSource::token`].
pub type TokenFuture<'a> = Pin<Box<dyn Future<Output = Result<Secret, OAuthError>> + Send + 'a>>;

/// Receives one line for the run's output (refreshes, rotations).
pub type Notifier = Arc<dyn Fn(&str) + Send + Sync>;

/// Gives access tokens to connections.
pub trait TokenSource: Send + Sync {
    /// A token to authenticate with now. `refused` is the token the server just refused:
    /// the source answers with a fresher one when it can.
    fn token<'a>(&'a self, refused: Option<&'a Secret>) -> TokenFuture<'a>;
    /// What the tokens come from, for messages (never a secret).
    fn describe(&self) -> String;
    /// Where to tell about refreshes.
    fn set_notifier(&self, _notify: Notifier) {}
}

impl std::fmt::Debug for dyn TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

fn now() -> SystemTime {
    SystemTime::now()
}

fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A token given once (`--oauthaccesstokenN TOKEN`, or the password with `--authmechN`).
pub struct StaticToken(pub Secret);

impl TokenSource for StaticToken {
    fn token<'a>(&'a self, _refused: Option<&'a Secret>) -> TokenFuture<'a> {
        let t = self.0.clone();
        Box::pin(async move {
            if t.is_empty() {
                Err(OAuthError::Config("the access token is empty".into()))
            } else {
                Ok(t)
            }
        })
    }

    fn describe(&self) -> String {
        "the access token given".into()
    }
}

/// imapsync's `--oauthaccesstokenN VALUE` / `--oauthdirectN VALUE` with
/// `--oauthrefreshcmdN CMD`: before every authentication the command (if any) runs, then
/// VALUE is read again — the first line of the file VALUE names when it is a file (so an
/// outside refresher can keep it fresh), else the first line the command printed, else
/// VALUE itself.
pub struct FileToken {
    /// `--oauthaccesstokenN` / `--oauthdirectN` value, a file name or the token itself.
    pub value: Option<Secret>,
    /// `--oauthrefreshcmdN`.
    pub command: Option<String>,
    /// Time limit of the command.
    pub command_timeout: Duration,
    /// One command at a time per side.
    lock: tokio::sync::Mutex<()>,
}

impl FileToken {
    pub fn new(value: Option<Secret>, command: Option<String>) -> FileToken {
        FileToken {
            value,
            command,
            command_timeout: Duration::from_secs(120),
            lock: tokio::sync::Mutex::new(()),
        }
    }

    fn file(&self) -> Option<PathBuf> {
        let v = self.value.as_ref()?;
        let p = PathBuf::from(v.expose());
        p.is_file().then_some(p)
    }

    async fn fetch(&self) -> Result<Secret, OAuthError> {
        let _one = self.lock.lock().await;
        let mut printed = None;
        if let Some(cmd) = &self.command {
            printed = run_command(cmd, self.command_timeout).await?;
        }
        if let Some(path) = self.file() {
            let data = tokio::fs::read(&path).await.map_err(|e| {
                OAuthError::File(format!("can not read token file {}: {e}", path.display()))
            })?;
            let line = first_line(&data);
            if line.is_empty() {
                return Err(OAuthError::File(format!(
                    "token file {} is empty",
                    path.display()
                )));
            }
            return Ok(Secret::new(line));
        }
        if let Some(p) = printed {
            return Ok(p);
        }
        match &self.value {
            Some(v) if !v.is_empty() => Ok(v.clone()),
            _ if self.command.is_some() => Err(OAuthError::Command(
                "the refresh command printed no token and no token file was given".into(),
            )),
            _ => Err(OAuthError::Config("the access token is empty".into())),
        }
    }
}

impl TokenSource for FileToken {
    fn token<'a>(&'a self, _refused: Option<&'a Secret>) -> TokenFuture<'a> {
        Box::pin(self.fetch())
    }

    fn describe(&self) -> String {
        match (self.file(), &self.command) {
            (Some(p), Some(_)) => format!("token file {} after the refresh command", p.display()),
            (Some(p), None) => format!("token file {}", p.display()),
            (None, Some(_)) => "the refresh command".into(),
            (None, None) => "the access token given".into(),
        }
    }
}

fn first_line(data: &[u8]) -> String {
    String::from_utf8_lossy(data)
        .lines()
        .next()
        .unwrap_or("")
        .trim()
        .to_string()
}

/// Runs `sh -c cmd`; its standard error goes to ours. Returns the first line it printed.
async fn run_command(cmd: &str, limit: Duration) -> Result<Option<Secret>, OAuthError> {
    let child = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| OAuthError::Command(format!("can not run the refresh command: {e}")))?;
    let out = match tokio::time::timeout(limit, child.wait_with_output()).await {
        Ok(r) => r.map_err(|e| OAuthError::Command(format!("the refresh command: {e}")))?,
        Err(_) => {
            return Err(OAuthError::Command(format!(
                "the refresh command did not end within {limit:?}"
            )));
        }
    };
    if !out.status.success() {
        return Err(OAuthError::Command(format!(
            "the refresh command failed ({})",
            out.status
        )));
    }
    let line = first_line(&out.stdout);
    Ok((!line.is_empty()).then(|| Secret::new(line)))
}

/// Which grant a [`GrantSource`] uses.
pub enum GrantKind {
    /// A refresh token (`--oauthrefreshtokenN`, or from the token file).
    RefreshToken,
    /// App-only token of a confidential client (Microsoft 365 with `IMAP.AccessAsApp`).
    ClientCredentials,
    /// A Google service account with domain-wide delegation acting for `user`.
    ServiceAccount {
        key: Box<ServiceAccountKey>,
        user: String,
    },
}

/// Everything a [`GrantSource`] needs.
pub struct GrantConfig {
    pub kind: GrantKind,
    /// Provider (not needed for a service account, whose key names its endpoint).
    pub provider: Option<ProviderSpec>,
    /// Overrides the provider's token endpoint.
    pub token_url: Option<String>,
    pub client_id: String,
    pub client_secret: Option<Secret>,
    /// Overrides the provider's scope.
    pub scope: Option<String>,
    pub refresh_token: Option<Secret>,
    /// A plain file whose first line is the refresh token: rotated tokens are written back.
    pub refresh_token_file: Option<PathBuf>,
    /// The JSON token file, kept up to date.
    pub store: Option<PathBuf>,
    /// What the store held when the run started.
    pub stored: Option<StoredTokens>,
    pub tls: TlsOptions,
}

struct GrantState {
    provider: Option<Provider>,
    refresh_token: Option<Secret>,
    access: Option<Secret>,
    /// When to get a new token before using this one again.
    refresh_at: Option<SystemTime>,
    stored: StoredTokens,
}

/// Obtains and renews access tokens itself: refresh token, client credentials or service
/// account grants against the provider's token endpoint. Tokens are reused until shortly
/// before they expire (a fifth of their lifetime, at most a minute), then renewed.
pub struct GrantSource {
    cfg: GrantConfig,
    state: tokio::sync::Mutex<GrantState>,
    notify: Mutex<Option<Notifier>>,
}

/// Margin before expiry at which a token is renewed.
pub fn renew_margin(lifetime: Duration) -> Duration {
    (lifetime / 5).min(Duration::from_secs(60))
}

impl GrantSource {
    pub fn new(cfg: GrantConfig) -> GrantSource {
        let stored = cfg.stored.clone().unwrap_or_default();
        let mut access = None;
        let mut refresh_at = None;
        // A still valid access token from an earlier run is used first.
        if let (Some(a), Some(exp)) = (&stored.access_token, stored.expires_at) {
            let exp = UNIX_EPOCH + Duration::from_secs(exp);
            if let Ok(left) = exp.duration_since(now())
                && left > Duration::from_secs(120)
                && matches!(cfg.kind, GrantKind::RefreshToken)
            {
                access = Some(a.clone());
                refresh_at = Some(exp - Duration::from_secs(60));
            }
        }
        let refresh_token = cfg.refresh_token.clone().or(stored.refresh_token.clone());
        GrantSource {
            state: tokio::sync::Mutex::new(GrantState {
                provider: None,
                refresh_token,
                access,
                refresh_at,
                stored,
            }),
            cfg,
            notify: Mutex::new(None),
        }
    }

    fn tell(&self, line: &str) {
        if let Ok(n) = self.notify.lock()
            && let Some(f) = n.as_ref()
        {
            f(line);
        }
    }

    async fn obtain(&self, st: &mut GrantState) -> Result<TokenSet, OAuthError> {
        let tls = &self.cfg.tls;
        if let GrantKind::ServiceAccount { key, user } = &self.cfg.kind {
            let scope = self.cfg.scope.as_deref().unwrap_or(provider::GOOGLE_SCOPE);
            let url = self.cfg.token_url.as_deref().unwrap_or(&key.token_uri);
            let assertion = key.assertion(user, scope, unix(now()))?;
            return grant::jwt_bearer(url, &assertion, tls).await;
        }
        if st.provider.is_none()
            && let Some(spec) = &self.cfg.provider
        {
            st.provider = Some(spec.resolve(tls).await?);
        }
        let p = st.provider.as_ref();
        let token_url = self
            .cfg
            .token_url
            .clone()
            .or_else(|| p.map(|p| p.token_url.clone()))
            .ok_or_else(|| OAuthError::Config("no token endpoint".into()))?;
        let client = Client {
            token_url,
            client_id: self.cfg.client_id.clone(),
            client_secret: self.cfg.client_secret.clone(),
        };
        match &self.cfg.kind {
            GrantKind::RefreshToken => {
                let rt = st.refresh_token.clone().ok_or_else(|| {
                    OAuthError::Config("no refresh token (run once with --oauthloginN)".into())
                })?;
                let scope = self.cfg.scope.clone().or_else(|| {
                    p.filter(|p| p.scope_on_refresh)
                        .and_then(|p| p.scope.clone())
                });
                client.refresh(&rt, scope.as_deref(), tls).await
            }
            GrantKind::ClientCredentials => {
                if p.is_some_and(|p| p.tenant_wide) {
                    return Err(OAuthError::Config(
                        "app-only tokens need the tenant: --oauthproviderN microsoft:TENANT".into(),
                    ));
                }
                let scope = self
                    .cfg
                    .scope
                    .clone()
                    .or_else(|| p.and_then(|p| p.app_scope.clone()))
                    .ok_or_else(|| {
                        OAuthError::Config(
                            "no scope for app-only tokens: give --oauthscopeN".into(),
                        )
                    })?;
                client.client_credentials(&scope, tls).await
            }
            GrantKind::ServiceAccount { .. } => Err(OAuthError::Config("unreachable".into())),
        }
    }

    async fn get(&self, refused: Option<&Secret>) -> Result<Secret, OAuthError> {
        let mut st = self.state.lock().await;
        if let Some(a) = &st.access {
            let was_refused = refused == Some(a);
            let fresh = st.refresh_at.is_none_or(|t| now() < t);
            if !was_refused && fresh {
                return Ok(a.clone());
            }
        }
        let ts = self.obtain(&mut st).await?;
        let issued = now();
        st.access = Some(ts.access_token.clone());
        st.refresh_at = ts.expires_in.map(|s| {
            let life = Duration::from_secs(s);
            issued + life - renew_margin(life)
        });
        let rotated = match (&ts.refresh_token, &st.refresh_token) {
            (Some(new), old) if old.as_ref() != Some(new) => {
                st.refresh_token = Some(new.clone());
                true
            }
            _ => false,
        };
        self.tell(&format!(
            "got a new access token from {}{}{}",
            self.source_name(&st),
            ts.expires_in
                .map(|s| format!(", valid {s} s"))
                .unwrap_or_default(),
            if rotated && matches!(self.cfg.kind, GrantKind::RefreshToken) {
                " (the refresh token was rotated)"
            } else {
                ""
            }
        ));
        if rotated
            && let Some(f) = &self.cfg.refresh_token_file
            && let Some(rt) = &st.refresh_token
        {
            store::write_private(f, format!("{}\n", rt.expose()).as_bytes())?;
        }
        if let Some(path) = &self.cfg.store {
            let mut s = st.stored.clone();
            s.access_token = Some(ts.access_token.clone());
            s.expires_at = ts.expires_in.map(|e| unix(issued) + e);
            if matches!(self.cfg.kind, GrantKind::RefreshToken) {
                s.refresh_token = st.refresh_token.clone();
            }
            if s.client_id.is_none() && !self.cfg.client_id.is_empty() {
                s.client_id = Some(self.cfg.client_id.clone());
            }
            s.write(path)?;
            st.stored = s;
        } else if rotated
            && self.cfg.refresh_token_file.is_none()
            && matches!(self.cfg.kind, GrantKind::RefreshToken)
        {
            self.tell("the provider rotated the refresh token: it is kept for this run only (give --oauthtokenfileN FILE, or the refresh token as a file, to keep it)");
        }
        Ok(ts.access_token)
    }

    fn source_name(&self, st: &GrantState) -> String {
        match &self.cfg.kind {
            GrantKind::ServiceAccount { key, .. } => format!(
                "{} (service account {})",
                self.cfg.token_url.as_deref().unwrap_or(&key.token_uri),
                key.client_email
            ),
            _ => self
                .cfg
                .token_url
                .clone()
                .or_else(|| st.provider.as_ref().map(|p| p.token_url.clone()))
                .unwrap_or_default(),
        }
    }
}

impl TokenSource for GrantSource {
    fn token<'a>(&'a self, refused: Option<&'a Secret>) -> TokenFuture<'a> {
        Box::pin(self.get(refused))
    }

    fn describe(&self) -> String {
        match &self.cfg.kind {
            GrantKind::RefreshToken => "the built-in refresh (refresh token grant)".into(),
            GrantKind::ClientCredentials => "app-only tokens (client credentials grant)".into(),
            GrantKind::ServiceAccount { key, .. } => {
                format!("service account {}", key.client_email)
            }
        }
    }

    fn set_notifier(&self, notify: Notifier) {
        if let Ok(mut n) = self.notify.lock() {
            *n = Some(notify);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn margins() {
        assert_eq!(
            renew_margin(Duration::from_secs(3600)),
            Duration::from_secs(60)
        );
        assert_eq!(renew_margin(Duration::from_secs(5)), Duration::from_secs(1));
    }

    #[tokio::test]
    async fn file_and_command_sources() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("token");
        std::fs::write(&f, "tok1\nrefresh-line\n").unwrap();
        let value = Some(Secret::new(f.to_string_lossy()));
        let s = FileToken::new(value.clone(), None);
        assert_eq!(s.token(None).await.unwrap().expose(), "tok1");
        // Re-read on every call.
        std::fs::write(&f, "tok2\n").unwrap();
        assert_eq!(s.token(None).await.unwrap().expose(), "tok2");
        // The command runs before each read.
        let cmd = format!("echo tok3 > '{}'", f.display());
        let s = FileToken::new(value, Some(cmd));
        assert_eq!(s.token(None).await.unwrap().expose(), "tok3");
        // Without a file the command's output is the token.
        let s = FileToken::new(None, Some("echo printed; echo more".into()));
        assert_eq!(s.token(None).await.unwrap().expose(), "printed");
        // A failing command is an error, not a stale token.
        let s = FileToken::new(Some(Secret::new("literal")), Some("exit 3".into()));
        let e = s.token(None).await.unwrap_err().to_string();
        assert!(e.contains("failed"), "{e}");
        // A literal token.
        let s = FileToken::new(Some(Secret::new("literal")), None);
        assert_eq!(s.token(None).await.unwrap().expose(), "literal");
        std::fs::write(&f, "\n").unwrap();
        let s = FileToken::new(Some(Secret::new(f.to_string_lossy())), None);
        assert!(s.token(None).await.is_err());
    }
}
