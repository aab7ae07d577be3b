//! OAuth2 options of one side resolved into a token plan ([`plan`], pure and table-tested)
//! and the token source that carries it out ([`source`]).
//!
//! imapsync's options first: `--oauthdirectN` (a ready-made XOAUTH2 string),
//! `--oauthaccesstokenN` (a token, or a file re-read on every connection) with
//! `--oauthrefreshcmdN` (run before every OAuth authentication), and `--authmechN XOAUTH2`
//! with `--passwordN key.json` (a Google service account). Then ours: a refresh token
//! (`--oauthrefreshtokenN`, or the token file `--oauthtokenfileN` that `--oauthloginN`
//! writes) with `--oauthclientidN`/`--oauthclientsecretN` and `--oauthproviderN`, or, with
//! a client secret and no refresh token, app-only tokens (client credentials).

use std::path::PathBuf;
use std::sync::Arc;

use imapsync_client::oauth::jwt::ServiceAccountKey;
use imapsync_client::oauth::{
    FileToken, GrantConfig, GrantKind, GrantSource, ProviderSpec, StaticToken, StoredTokens,
    TokenSource,
};
use imapsync_client::{AuthMech, Secret, TlsOptions};

use crate::flags::Parsed;

/// What the OAuth options of one side say (values as given).
#[derive(Clone, Debug, Default)]
pub struct OAuthArgs {
    pub authmech: Option<String>,
    pub password: Option<Secret>,
    pub accesstoken: Option<Secret>,
    pub direct: Option<Secret>,
    pub refreshcmd: Option<String>,
    pub provider: Option<String>,
    pub clientid: Option<String>,
    pub clientsecret: Option<Secret>,
    pub refreshtoken: Option<Secret>,
    pub tokenfile: Option<String>,
    pub scope: Option<String>,
    pub login: bool,
}

impl OAuthArgs {
    pub fn from_parsed(p: &Parsed, n: u8, password: Option<&Secret>) -> OAuthArgs {
        let s = |name: &str| {
            p.string(&format!("{name}{n}"))
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        };
        OAuthArgs {
            authmech: s("authmech").map(|m| m.to_ascii_uppercase()),
            password: password.cloned(),
            accesstoken: s("oauthaccesstoken").map(Secret::new),
            direct: s("oauthdirect").map(Secret::new),
            refreshcmd: s("oauthrefreshcmd"),
            provider: s("oauthprovider"),
            clientid: s("oauthclientid"),
            clientsecret: s("oauthclientsecret").map(Secret::new),
            refreshtoken: s("oauthrefreshtoken").map(Secret::new),
            tokenfile: s("oauthtokenfile"),
            scope: s("oauthscope"),
            login: p.bool(&format!("oauthlogin{n}")) == Some(true),
        }
    }

    fn grant_options(&self) -> bool {
        self.refreshtoken.is_some()
            || self.tokenfile.is_some()
            || self.clientid.is_some()
            || self.clientsecret.is_some()
            || self.provider.is_some()
            || self.login
    }
}

/// Which grant the built-in source uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GrantChoice {
    RefreshToken,
    ClientCredentials,
}

/// How one side gets its access tokens.
#[derive(Clone, Debug, PartialEq)]
pub enum Plan {
    /// No OAuth.
    None,
    /// imapsync's options: `value` (a token or a file) and/or a refresh command.
    Given {
        value: Option<Secret>,
        command: Option<String>,
        mech: AuthMech,
    },
    /// A Google service account key file.
    ServiceAccount { key: PathBuf, mech: AuthMech },
    /// The password is the token (`--authmechN XOAUTH2 --passwordN TOKEN`).
    PasswordToken { mech: AuthMech },
    /// The built-in grants.
    Grant(Box<GrantPlan>),
}

/// The built-in refresh, resolved.
#[derive(Clone, Debug, PartialEq)]
pub struct GrantPlan {
    pub choice: GrantChoice,
    pub provider: Option<String>,
    pub token_url: Option<String>,
    pub client_id: String,
    pub client_secret: Option<Secret>,
    pub scope: Option<String>,
    pub refresh_token: Option<Secret>,
    /// The refresh token came from this plain file: rotated tokens go back to it.
    pub refresh_token_file: Option<PathBuf>,
    pub store: Option<PathBuf>,
    pub mech: AuthMech,
    /// An interactive login comes first (`--oauthloginN`).
    pub login: bool,
}

/// The mechanism that sends the token: `--authmechN XOAUTH2` or `OAUTHBEARER` as asked,
/// else whichever the server offers.
fn token_mech(a: &OAuthArgs) -> AuthMech {
    match a.authmech.as_deref() {
        Some("XOAUTH2") => AuthMech::XOAuth2,
        Some("OAUTHBEARER") => AuthMech::OAuthBearer,
        _ => AuthMech::OAuth,
    }
}

/// The first line of `v` when it names a file, else `v` itself (imapsync's rule for token
/// values).
fn value_or_file(v: &Secret, read: &dyn Fn(&str) -> Option<String>) -> (Secret, Option<PathBuf>) {
    match read(v.expose()) {
        Some(line) => (Secret::new(line), Some(PathBuf::from(v.expose()))),
        None => (v.clone(), None),
    }
}

/// Decides how side `n` gets its tokens. `read` gives the first line of an existing file
/// (`None` when the value is not a file); `stored` is the token file's content.
pub fn plan(
    a: &OAuthArgs,
    n: u8,
    stored: Option<&StoredTokens>,
    read: &dyn Fn(&str) -> Option<String>,
) -> Result<Plan, String> {
    let mech_asked = a.authmech.as_deref();
    let oauth_mech = matches!(mech_asked, Some("XOAUTH2" | "OAUTHBEARER"));
    if a.direct.is_some() && (a.accesstoken.is_some() || a.grant_options()) {
        return Err(format!(
            "--oauthdirect{n} is a complete XOAUTH2 string: it goes without the other token options"
        ));
    }
    if let Some(d) = &a.direct {
        return Ok(Plan::Given {
            value: Some(d.clone()),
            command: a.refreshcmd.clone(),
            mech: AuthMech::XOAuth2Direct,
        });
    }
    if a.accesstoken.is_some() && a.grant_options() {
        return Err(format!(
            "--oauthaccesstoken{n} and the built-in refresh (--oauthrefreshtoken{n}, --oauthtokenfile{n}, --oauthclientid{n}, --oauthprovider{n}, --oauthlogin{n}) are two token sources: give one"
        ));
    }
    if a.refreshcmd.is_some() && a.grant_options() {
        return Err(format!(
            "--oauthrefreshcmd{n} refreshes --oauthaccesstoken{n}; the built-in refresh needs no command"
        ));
    }
    if a.accesstoken.is_some() || a.refreshcmd.is_some() {
        return Ok(Plan::Given {
            value: a.accesstoken.clone(),
            command: a.refreshcmd.clone(),
            mech: token_mech(a),
        });
    }
    if a.grant_options() {
        let st = stored.cloned().unwrap_or_default();
        let (refresh_token, refresh_token_file) = match &a.refreshtoken {
            Some(v) => {
                let (t, f) = value_or_file(v, read);
                (Some(t), f)
            }
            None => (st.refresh_token.clone(), None),
        };
        let client_secret = a
            .clientsecret
            .as_ref()
            .map(|v| value_or_file(v, read).0)
            .or(st.client_secret.clone());
        let client_id = a.clientid.clone().or(st.client_id.clone()).ok_or_else(|| {
            format!("the built-in OAuth2 refresh needs the application's --oauthclientid{n}")
        })?;
        let provider = a.provider.clone().or(st.provider.clone());
        let token_url = if a.provider.is_some() {
            None
        } else {
            st.token_url.clone()
        };
        if provider.is_none() && token_url.is_none() {
            return Err(format!(
                "give --oauthprovider{n} google, microsoft, microsoft:TENANT or an issuer URL"
            ));
        }
        if let Some(pv) = &provider {
            ProviderSpec::parse(pv).map_err(|e| format!("--oauthprovider{n}: {e}"))?;
        }
        let choice = if refresh_token.is_some() || a.login {
            GrantChoice::RefreshToken
        } else if client_secret.is_some() {
            GrantChoice::ClientCredentials
        } else {
            return Err(format!(
                "no refresh token for host{n}: sign in once with --oauthlogin{n} (it saves one in --oauthtokenfile{n}), or give --oauthrefreshtoken{n}"
            ));
        };
        if a.login && a.tokenfile.is_none() {
            return Err(format!(
                "--oauthlogin{n} saves the refresh token in --oauthtokenfile{n} FILE: give that file"
            ));
        }
        return Ok(Plan::Grant(Box::new(GrantPlan {
            choice,
            provider,
            token_url,
            client_id,
            client_secret,
            scope: a.scope.clone().or(st.scope.clone()),
            refresh_token,
            refresh_token_file,
            store: a.tokenfile.as_ref().map(PathBuf::from),
            mech: token_mech(a),
            login: a.login,
        })));
    }
    if oauth_mech {
        let pass = a.password.as_ref().map(Secret::expose).unwrap_or("");
        if pass.contains(';') && pass.to_ascii_lowercase().contains(".p12") {
            return Err(format!(
                "--password{n} names a .p12 service account key: download the service account's JSON key instead and give its file name"
            ));
        }
        if pass.to_ascii_lowercase().ends_with(".json") {
            if read(pass).is_none() {
                return Err(format!(
                    "--password{n} {pass}: no such service account key file"
                ));
            }
            return Ok(Plan::ServiceAccount {
                key: PathBuf::from(pass),
                mech: token_mech(a),
            });
        }
        return Ok(Plan::PasswordToken {
            mech: token_mech(a),
        });
    }
    Ok(Plan::None)
}

/// The first line of `path` when it is a readable file.
pub fn read_first_line(path: &str) -> Option<String> {
    let p = std::path::Path::new(path);
    if !p.is_file() {
        return None;
    }
    let data = std::fs::read(p).ok()?;
    Some(
        String::from_utf8_lossy(&data)
            .lines()
            .next()
            .unwrap_or("")
            .trim()
            .to_string(),
    )
}

/// The token source of a plan (`None` for [`Plan::None`] and [`Plan::PasswordToken`]).
pub fn source(
    plan: &Plan,
    user: &str,
    stored: Option<StoredTokens>,
    tls: &TlsOptions,
) -> Result<Option<Arc<dyn TokenSource>>, String> {
    Ok(match plan {
        Plan::None | Plan::PasswordToken { .. } => None,
        Plan::Given { value, command, .. } => {
            if command.is_none() && value.is_none() {
                return Err("no access token".into());
            }
            match (value, command) {
                (Some(v), None) if read_first_line(v.expose()).is_none() => {
                    Some(Arc::new(StaticToken(v.clone())) as Arc<dyn TokenSource>)
                }
                _ => Some(Arc::new(FileToken::new(value.clone(), command.clone()))),
            }
        }
        Plan::ServiceAccount { key, .. } => {
            let k = ServiceAccountKey::from_file(key).map_err(|e| e.to_string())?;
            Some(Arc::new(GrantSource::new(GrantConfig {
                kind: GrantKind::ServiceAccount {
                    key: Box::new(k),
                    user: user.to_string(),
                },
                provider: None,
                token_url: None,
                client_id: String::new(),
                client_secret: None,
                scope: None,
                refresh_token: None,
                refresh_token_file: None,
                store: None,
                stored: None,
                tls: tls.clone(),
            })))
        }
        Plan::Grant(g) => Some(Arc::new(GrantSource::new(GrantConfig {
            kind: match g.choice {
                GrantChoice::RefreshToken => GrantKind::RefreshToken,
                GrantChoice::ClientCredentials => GrantKind::ClientCredentials,
            },
            provider: match &g.provider {
                Some(p) => Some(ProviderSpec::parse(p).map_err(|e| e.to_string())?),
                None => None,
            },
            token_url: g.token_url.clone(),
            client_id: g.client_id.clone(),
            client_secret: g.client_secret.clone(),
            scope: g.scope.clone(),
            refresh_token: g.refresh_token.clone(),
            refresh_token_file: g.refresh_token_file.clone(),
            store: g.store.clone(),
            stored,
            tls: tls.clone(),
        }))),
    })
}

impl Plan {
    /// The mechanism the plan authenticates with.
    pub fn mech(&self) -> Option<AuthMech> {
        match self {
            Plan::None => None,
            Plan::Given { mech, .. }
            | Plan::ServiceAccount { mech, .. }
            | Plan::PasswordToken { mech } => Some(mech.clone()),
            Plan::Grant(g) => Some(g.mech.clone()),
        }
    }
}

/// Runs the interactive sign-in of `--oauthloginN`, saves the token file and returns the
/// side's token source from then on.
pub async fn login(l: &crate::hiargs::OAuthLogin) -> Result<Arc<dyn TokenSource>, String> {
    use imapsync_client::oauth::grant::Client;
    use imapsync_client::oauth::login::{self, LoginRequest};
    let g = &l.plan;
    let n = l.side;
    let tls = TlsOptions::verifying();
    let spec_text = g
        .provider
        .clone()
        .ok_or_else(|| format!("--oauthlogin{n} needs --oauthprovider{n}"))?;
    let spec = ProviderSpec::parse(&spec_text).map_err(|e| e.to_string())?;
    let provider = spec.resolve(&tls).await.map_err(|e| e.to_string())?;
    let scope = g
        .scope
        .clone()
        .or(provider.scope.clone())
        .ok_or_else(|| format!("give the scope to ask for with --oauthscope{n}"))?;
    let req = LoginRequest {
        provider: &provider,
        client: Client {
            token_url: provider.token_url.clone(),
            client_id: g.client_id.clone(),
            client_secret: g.client_secret.clone(),
        },
        scope: scope.clone(),
        user: (!l.user.is_empty()).then(|| l.user.clone()),
        flow: provider.login,
        tls,
        // SAFETY: isatty on fd 0 has no preconditions.
        read_stdin: unsafe { libc::isatty(0) } == 1,
    };
    let say = |line: &str| {
        use std::io::Write;
        println!("Host{n}: {line}");
        let _ = std::io::stdout().flush();
    };
    let t = login::login(&req, &say).await.map_err(|e| e.to_string())?;
    let refresh = t.refresh_token.clone().ok_or_else(|| {
        "the provider gave no refresh token (for Google, the consent must ask for offline access)"
            .to_string()
    })?;
    let path = g
        .store
        .clone()
        .ok_or_else(|| format!("--oauthlogin{n} needs --oauthtokenfile{n}"))?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let stored = StoredTokens {
        provider: Some(spec_text),
        token_url: None,
        client_id: Some(g.client_id.clone()),
        client_secret: g.client_secret.clone(),
        scope: Some(scope),
        user: (!l.user.is_empty()).then(|| l.user.clone()),
        refresh_token: Some(refresh),
        access_token: Some(t.access_token.clone()),
        expires_at: t.expires_in.map(|e| now + e),
    };
    stored.write(&path).map_err(|e| e.to_string())?;
    say(&format!(
        "signed in; refresh token saved in {} (mode 0600). Later runs need only --oauthtokenfile{n} {}",
        path.display(),
        path.display()
    ));
    let mut after = g.clone();
    after.login = false;
    after.refresh_token = stored.refresh_token.clone();
    after.scope = stored.scope.clone();
    let plan = Plan::Grant(Box::new(after));
    source(&plan, &l.user, Some(stored), &TlsOptions::verifying())?
        .ok_or_else(|| "no token source after the sign-in".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(path: &str) -> Option<String> {
        match path {
            "/t/token" => Some("tok-from-file".into()),
            "/t/refresh" => Some("rt-from-file".into()),
            "/t/secret" => Some("secret-from-file".into()),
            "/t/sa.json" => Some("{".into()),
            _ => None,
        }
    }

    fn s(v: &str) -> Option<Secret> {
        Some(Secret::new(v))
    }

    #[test]
    fn imapsync_options() {
        // --oauthaccesstoken: a token or a file, whatever the server offers unless asked.
        let a = OAuthArgs {
            accesstoken: s("/t/token"),
            ..Default::default()
        };
        assert_eq!(
            plan(&a, 1, None, &files),
            Ok(Plan::Given {
                value: s("/t/token"),
                command: None,
                mech: AuthMech::OAuth
            })
        );
        let a = OAuthArgs {
            accesstoken: s("/t/token"),
            refreshcmd: Some("refresh".into()),
            authmech: Some("OAUTHBEARER".into()),
            ..Default::default()
        };
        assert!(matches!(
            plan(&a, 1, None, &files),
            Ok(Plan::Given {
                command: Some(_),
                mech: AuthMech::OAuthBearer,
                ..
            })
        ));
        // The refresh command alone: its output is the token.
        let a = OAuthArgs {
            refreshcmd: Some("print-token".into()),
            ..Default::default()
        };
        assert!(matches!(
            plan(&a, 2, None, &files),
            Ok(Plan::Given { value: None, .. })
        ));
        let a = OAuthArgs {
            direct: s("dXNlcj0="),
            ..Default::default()
        };
        assert!(matches!(
            plan(&a, 1, None, &files),
            Ok(Plan::Given {
                mech: AuthMech::XOAuth2Direct,
                ..
            })
        ));
        // Service account: --authmech XOAUTH2 with a JSON key as the password.
        let a = OAuthArgs {
            authmech: Some("XOAUTH2".into()),
            password: s("/t/sa.json"),
            ..Default::default()
        };
        assert!(matches!(
            plan(&a, 1, None, &files),
            Ok(Plan::ServiceAccount { .. })
        ));
        let a = OAuthArgs {
            authmech: Some("XOAUTH2".into()),
            password: s("/t/missing.json"),
            ..Default::default()
        };
        assert!(plan(&a, 1, None, &files).unwrap_err().contains("no such"));
        let a = OAuthArgs {
            authmech: Some("XOAUTH2".into()),
            password: s("sa@x.iam.gserviceaccount.com;/k/key.p12;notasecret"),
            ..Default::default()
        };
        assert!(plan(&a, 1, None, &files).unwrap_err().contains("JSON key"));
        let a = OAuthArgs {
            authmech: Some("XOAUTH2".into()),
            password: s("ya29.token"),
            ..Default::default()
        };
        assert_eq!(
            plan(&a, 1, None, &files),
            Ok(Plan::PasswordToken {
                mech: AuthMech::XOAuth2
            })
        );
        assert_eq!(plan(&OAuthArgs::default(), 1, None, &files), Ok(Plan::None));
    }

    #[test]
    fn built_in_refresh() {
        // A refresh token from a file: rotated tokens go back to it.
        let a = OAuthArgs {
            provider: Some("google".into()),
            clientid: Some("cid".into()),
            clientsecret: s("/t/secret"),
            refreshtoken: s("/t/refresh"),
            ..Default::default()
        };
        let Ok(Plan::Grant(g)) = plan(&a, 1, None, &files) else {
            panic!("{:?}", plan(&a, 1, None, &files))
        };
        assert_eq!(g.choice, GrantChoice::RefreshToken);
        assert_eq!(g.refresh_token, s("rt-from-file"));
        assert_eq!(g.refresh_token_file, Some(PathBuf::from("/t/refresh")));
        assert_eq!(g.client_secret, s("secret-from-file"));
        // A client secret and no refresh token: app-only tokens (Microsoft 365).
        let a = OAuthArgs {
            provider: Some("microsoft:contoso.onmicrosoft.com".into()),
            clientid: Some("cid".into()),
            clientsecret: s("literal-secret"),
            ..Default::default()
        };
        let Ok(Plan::Grant(g)) = plan(&a, 2, None, &files) else {
            panic!()
        };
        assert_eq!(g.choice, GrantChoice::ClientCredentials);
        // Everything from the token file a login wrote.
        let stored = StoredTokens {
            provider: Some("microsoft".into()),
            client_id: Some("cid".into()),
            refresh_token: s("rt-stored"),
            ..Default::default()
        };
        let a = OAuthArgs {
            tokenfile: Some("/t/tokens.json".into()),
            ..Default::default()
        };
        let Ok(Plan::Grant(g)) = plan(&a, 1, Some(&stored), &files) else {
            panic!()
        };
        assert_eq!(
            (
                g.refresh_token.clone(),
                g.client_id.as_str(),
                g.provider.as_deref()
            ),
            (s("rt-stored"), "cid", Some("microsoft"))
        );
        assert_eq!(g.store, Some(PathBuf::from("/t/tokens.json")));
        // Login: a token file is required; no refresh token yet is fine.
        let a = OAuthArgs {
            provider: Some("microsoft".into()),
            clientid: Some("cid".into()),
            login: true,
            ..Default::default()
        };
        assert!(
            plan(&a, 1, None, &files)
                .unwrap_err()
                .contains("--oauthtokenfile1")
        );
        let a = OAuthArgs {
            tokenfile: Some("/t/new.json".into()),
            ..a
        };
        assert!(matches!(plan(&a, 1, None, &files), Ok(Plan::Grant(g)) if g.login));
    }

    #[test]
    fn contradictions_and_gaps_are_refused() {
        let cases: &[(OAuthArgs, &str)] = &[
            (
                OAuthArgs {
                    accesstoken: s("t"),
                    refreshtoken: s("r"),
                    ..Default::default()
                },
                "two token sources",
            ),
            (
                OAuthArgs {
                    direct: s("d"),
                    accesstoken: s("t"),
                    ..Default::default()
                },
                "goes without",
            ),
            (
                OAuthArgs {
                    refreshcmd: Some("c".into()),
                    clientid: Some("c".into()),
                    ..Default::default()
                },
                "needs no command",
            ),
            (
                OAuthArgs {
                    refreshtoken: s("r"),
                    provider: Some("google".into()),
                    ..Default::default()
                },
                "--oauthclientid1",
            ),
            (
                OAuthArgs {
                    refreshtoken: s("r"),
                    clientid: Some("c".into()),
                    ..Default::default()
                },
                "--oauthprovider1",
            ),
            (
                OAuthArgs {
                    refreshtoken: s("r"),
                    clientid: Some("c".into()),
                    provider: Some("yahoo".into()),
                    ..Default::default()
                },
                "unknown OAuth2 provider",
            ),
            (
                OAuthArgs {
                    clientid: Some("c".into()),
                    provider: Some("google".into()),
                    ..Default::default()
                },
                "--oauthlogin1",
            ),
        ];
        for (a, want) in cases {
            let e = plan(a, 1, None, &files).unwrap_err();
            assert!(e.contains(want), "{a:?}: {e}");
        }
    }
}
