//! Provider presets (Google, Microsoft) and OpenID discovery for any other issuer.
//!
//! * Google: token `https://oauth2.googleapis.com/token`, browser login at
//!   `https://accounts.google.com/o/oauth2/v2/auth` (with `access_type=offline` so a refresh
//!   token is issued), scope `https://mail.google.com/`. Google's device flow refuses the mail
//!   scope, so the interactive login for Google is the loopback browser flow.
//! * Microsoft (Entra ID v2 endpoints, tenant `common` unless given as `microsoft:TENANT`):
//!   `https://login.microsoftonline.com/TENANT/oauth2/v2.0/{token,devicecode,authorize}`,
//!   delegated scope `https://outlook.office.com/IMAP.AccessAsUser.All offline_access`,
//!   app-only scope `https://outlook.office365.com/.default` (client credentials).
//! * An `https://` issuer URL: endpoints from `ISSUER/.well-known/openid-configuration`.

use super::OAuthError;
use super::http::{self, Url};
use crate::tls::TlsOptions;

pub const GOOGLE_TOKEN_URL: &str = "https://oauth2.googleapis.com/token";
pub const GOOGLE_AUTH_URL: &str = "https://accounts.google.com/o/oauth2/v2/auth";
pub const GOOGLE_DEVICE_URL: &str = "https://oauth2.googleapis.com/device/code";
pub const GOOGLE_SCOPE: &str = "https://mail.google.com/";
pub const MICROSOFT_LOGIN: &str = "https://login.microsoftonline.com";
pub const MICROSOFT_SCOPE: &str = "https://outlook.office.com/IMAP.AccessAsUser.All offline_access";
pub const MICROSOFT_APP_SCOPE: &str = "https://outlook.office365.com/.default";

/// How an interactive login is done.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoginFlow {
    /// RFC 8628 device authorization: a code typed on any device with a browser.
    Device,
    /// Authorization code with PKCE and a loopback redirect (RFC 8252).
    Browser,
}

/// Which provider, as given on the command line (`--oauthproviderN`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProviderSpec {
    Google,
    Microsoft {
        tenant: String,
    },
    /// An issuer URL, resolved with OpenID discovery.
    Issuer(String),
}

impl ProviderSpec {
    pub fn parse(s: &str) -> Result<ProviderSpec, OAuthError> {
        let t = s.trim();
        let lower = t.to_ascii_lowercase();
        if lower == "google" || lower == "gmail" {
            return Ok(ProviderSpec::Google);
        }
        if lower == "microsoft" || lower == "office365" || lower == "outlook" {
            return Ok(ProviderSpec::Microsoft {
                tenant: "common".into(),
            });
        }
        if let Some(tenant) = lower
            .strip_prefix("microsoft:")
            .or_else(|| lower.strip_prefix("office365:"))
        {
            if tenant.is_empty()
                || !tenant
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
            {
                return Err(OAuthError::Config(format!(
                    "bad Microsoft tenant in {t:?} (a tenant id or domain, e.g. microsoft:contoso.onmicrosoft.com)"
                )));
            }
            return Ok(ProviderSpec::Microsoft {
                tenant: tenant.to_string(),
            });
        }
        if t.starts_with("https://") || t.starts_with("http://") {
            Url::parse(t)?;
            return Ok(ProviderSpec::Issuer(t.trim_end_matches('/').to_string()));
        }
        Err(OAuthError::Config(format!(
            "unknown OAuth2 provider {t:?}: google, microsoft, microsoft:TENANT or an issuer URL"
        )))
    }

    /// The provider's endpoints (a network request for an issuer URL).
    pub async fn resolve(&self, tls: &TlsOptions) -> Result<Provider, OAuthError> {
        match self {
            ProviderSpec::Google => Ok(Provider {
                name: "google".into(),
                token_url: GOOGLE_TOKEN_URL.into(),
                device_url: Some(GOOGLE_DEVICE_URL.into()),
                auth_url: Some(GOOGLE_AUTH_URL.into()),
                scope: Some(GOOGLE_SCOPE.into()),
                app_scope: None,
                scope_on_refresh: false,
                login: LoginFlow::Browser,
                auth_params: vec![
                    ("access_type".into(), "offline".into()),
                    ("prompt".into(), "consent".into()),
                ],
                tenant_wide: false,
            }),
            ProviderSpec::Microsoft { tenant } => {
                let base = format!("{MICROSOFT_LOGIN}/{tenant}/oauth2/v2.0");
                Ok(Provider {
                    name: "microsoft".into(),
                    token_url: format!("{base}/token"),
                    device_url: Some(format!("{base}/devicecode")),
                    auth_url: Some(format!("{base}/authorize")),
                    scope: Some(MICROSOFT_SCOPE.into()),
                    app_scope: Some(MICROSOFT_APP_SCOPE.into()),
                    scope_on_refresh: true,
                    login: LoginFlow::Device,
                    auth_params: Vec::new(),
                    tenant_wide: matches!(
                        tenant.as_str(),
                        "common" | "organizations" | "consumers"
                    ),
                })
            }
            ProviderSpec::Issuer(issuer) => discover(issuer, tls).await,
        }
    }
}

/// Endpoints and defaults of one provider.
#[derive(Clone, Debug)]
pub struct Provider {
    pub name: String,
    pub token_url: String,
    pub device_url: Option<String>,
    pub auth_url: Option<String>,
    /// Delegated (user) scope.
    pub scope: Option<String>,
    /// App-only scope for the client credentials grant.
    pub app_scope: Option<String>,
    /// Send the scope with refresh requests (Microsoft wants it).
    pub scope_on_refresh: bool,
    /// The interactive login that works for mail scopes.
    pub login: LoginFlow,
    /// Extra parameters of the authorization request.
    pub auth_params: Vec<(String, String)>,
    /// A multi-tenant alias (`common`, ...), useless for app-only tokens.
    pub tenant_wide: bool,
}

async fn discover(issuer: &str, tls: &TlsOptions) -> Result<Provider, OAuthError> {
    let url = Url::parse(&format!("{issuer}/.well-known/openid-configuration"))?;
    let r = http::get(&url, tls).await?;
    let fail = |reason: String| OAuthError::Http {
        url: url.display(),
        reason,
    };
    if r.status != 200 {
        return Err(fail(format!("OpenID discovery answered HTTP {}", r.status)));
    }
    let v: serde_json::Value = serde_json::from_slice(&r.body)
        .map_err(|e| fail(format!("OpenID discovery is not JSON: {e}")))?;
    let s = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
    let token_url = s("token_endpoint").ok_or_else(|| fail("no token_endpoint".into()))?;
    let device_url = s("device_authorization_endpoint");
    Ok(Provider {
        name: issuer.to_string(),
        token_url,
        login: if device_url.is_some() {
            LoginFlow::Device
        } else {
            LoginFlow::Browser
        },
        device_url,
        auth_url: s("authorization_endpoint"),
        scope: None,
        app_scope: None,
        scope_on_refresh: false,
        auth_params: Vec::new(),
        tenant_wide: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs() {
        assert_eq!(ProviderSpec::parse("Google").unwrap(), ProviderSpec::Google);
        assert_eq!(
            ProviderSpec::parse("microsoft").unwrap(),
            ProviderSpec::Microsoft {
                tenant: "common".into()
            }
        );
        assert_eq!(
            ProviderSpec::parse("microsoft:contoso.onmicrosoft.com").unwrap(),
            ProviderSpec::Microsoft {
                tenant: "contoso.onmicrosoft.com".into()
            }
        );
        assert!(ProviderSpec::parse("microsoft:a/b").is_err());
        assert!(ProviderSpec::parse("yahoo").is_err());
        assert_eq!(
            ProviderSpec::parse("https://idp.example.org/").unwrap(),
            ProviderSpec::Issuer("https://idp.example.org".into())
        );
        assert!(ProviderSpec::parse("http://idp.example.org").is_err());
    }

    #[tokio::test]
    async fn presets_follow_the_documented_endpoints() {
        let tls = TlsOptions::verifying();
        let g = ProviderSpec::Google.resolve(&tls).await.unwrap();
        assert_eq!(g.token_url, "https://oauth2.googleapis.com/token");
        assert_eq!(g.scope.as_deref(), Some("https://mail.google.com/"));
        assert_eq!(g.login, LoginFlow::Browser);
        let m = ProviderSpec::parse("microsoft:contoso.onmicrosoft.com")
            .unwrap()
            .resolve(&tls)
            .await
            .unwrap();
        assert_eq!(
            m.token_url,
            "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
        );
        assert_eq!(
            m.device_url.as_deref(),
            Some(
                "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/devicecode"
            )
        );
        assert_eq!(
            m.app_scope.as_deref(),
            Some("https://outlook.office365.com/.default")
        );
        assert!(!m.tenant_wide);
        assert_eq!(m.login, LoginFlow::Device);
    }
}
