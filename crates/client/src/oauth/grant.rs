//! Requests to an OAuth2 token endpoint (RFC 6749 §4-6, RFC 7523 JWT bearer, RFC 8628
//! device authorization) and their answers. Client credentials go in the form body
//! (`client_secret_post`), which both Google and Microsoft accept.

use super::http::{self, Url};
use super::{OAuthError, TokenSet};
use crate::secret::Secret;
use crate::tls::TlsOptions;

/// The JWT bearer grant type (RFC 7523).
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// The device code grant type (RFC 8628).
pub const DEVICE_CODE: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// A registered client at a token endpoint.
#[derive(Clone, Debug)]
pub struct Client {
    pub token_url: String,
    pub client_id: String,
    pub client_secret: Option<Secret>,
}

impl Client {
    fn credentials<'a>(&'a self, form: &mut Vec<(&'a str, &'a str)>) {
        if !self.client_id.is_empty() {
            form.push(("client_id", &self.client_id));
        }
        if let Some(s) = &self.client_secret {
            form.push(("client_secret", s.expose()));
        }
    }

    /// The refresh token grant (RFC 6749 §6).
    pub async fn refresh(
        &self,
        refresh_token: &Secret,
        scope: Option<&str>,
        tls: &TlsOptions,
    ) -> Result<TokenSet, OAuthError> {
        let mut f = vec![
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token.expose()),
        ];
        if let Some(s) = scope.filter(|s| !s.is_empty()) {
            f.push(("scope", s));
        }
        self.credentials(&mut f);
        token_request(&self.token_url, &f, tls).await
    }

    /// The client credentials grant (RFC 6749 §4.4): an app-only token.
    pub async fn client_credentials(
        &self,
        scope: &str,
        tls: &TlsOptions,
    ) -> Result<TokenSet, OAuthError> {
        let mut f = vec![("grant_type", "client_credentials"), ("scope", scope)];
        self.credentials(&mut f);
        token_request(&self.token_url, &f, tls).await
    }

    /// The authorization code grant with PKCE (RFC 6749 §4.1.3, RFC 7636).
    pub async fn authorization_code(
        &self,
        code: &str,
        redirect_uri: &str,
        verifier: &str,
        tls: &TlsOptions,
    ) -> Result<TokenSet, OAuthError> {
        let mut f = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("code_verifier", verifier),
        ];
        self.credentials(&mut f);
        token_request(&self.token_url, &f, tls).await
    }

    /// One poll of the device code grant (RFC 8628 §3.4).
    pub async fn device_poll(
        &self,
        device_code: &Secret,
        tls: &TlsOptions,
    ) -> Result<TokenSet, OAuthError> {
        let mut f = vec![
            ("grant_type", DEVICE_CODE),
            ("device_code", device_code.expose()),
        ];
        self.credentials(&mut f);
        token_request(&self.token_url, &f, tls).await
    }
}

/// The JWT bearer grant (RFC 7523 §2.1), as used by Google service accounts.
pub async fn jwt_bearer(
    token_url: &str,
    assertion: &Secret,
    tls: &TlsOptions,
) -> Result<TokenSet, OAuthError> {
    token_request(
        token_url,
        &[
            ("grant_type", JWT_BEARER),
            ("assertion", assertion.expose()),
        ],
        tls,
    )
    .await
}

/// What a device authorization endpoint answers (RFC 8628 §3.2).
#[derive(Clone, Debug)]
pub struct DeviceAuth {
    pub device_code: Secret,
    pub user_code: String,
    /// `verification_uri` (Google spells it `verification_url`).
    pub verification_uri: String,
    pub verification_uri_complete: Option<String>,
    pub expires_in: u64,
    pub interval: u64,
    /// Microsoft's ready-made sentence for the user.
    pub message: Option<String>,
}

/// Starts a device authorization (RFC 8628 §3.1).
pub async fn device_start(
    device_url: &str,
    client: &Client,
    scope: &str,
    tls: &TlsOptions,
) -> Result<DeviceAuth, OAuthError> {
    let url = Url::parse(device_url)?;
    let mut f = vec![("scope", scope)];
    client.credentials(&mut f);
    let r = http::post_form(&url, &f, tls).await?;
    let v = json_of(&url, &r)?;
    if !(200..300).contains(&r.status) || v.get("error").is_some() {
        return Err(refusal(&url, r.status, &v));
    }
    let s = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
    let missing = |k: &str| OAuthError::Http {
        url: url.display(),
        reason: format!("the device authorization answer has no {k}"),
    };
    Ok(DeviceAuth {
        device_code: Secret::new(s("device_code").ok_or_else(|| missing("device_code"))?),
        user_code: s("user_code").ok_or_else(|| missing("user_code"))?,
        verification_uri: s("verification_uri")
            .or_else(|| s("verification_url"))
            .ok_or_else(|| missing("verification_uri"))?,
        verification_uri_complete: s("verification_uri_complete"),
        expires_in: number(v.get("expires_in")).unwrap_or(900),
        interval: number(v.get("interval")).unwrap_or(5).max(1),
        message: s("message"),
    })
}

/// POSTs a token request and reads a token answer (RFC 6749 §5.1) or an error (§5.2).
pub async fn token_request(
    token_url: &str,
    form: &[(&str, &str)],
    tls: &TlsOptions,
) -> Result<TokenSet, OAuthError> {
    let url = Url::parse(token_url)?;
    let r = http::post_form(&url, form, tls).await?;
    let v = json_of(&url, &r)?;
    if !(200..300).contains(&r.status) || v.get("error").is_some() {
        return Err(refusal(&url, r.status, &v));
    }
    parse_token(&v).map_err(|reason| OAuthError::Http {
        url: url.display(),
        reason,
    })
}

fn json_of(url: &Url, r: &http::Response) -> Result<serde_json::Value, OAuthError> {
    serde_json::from_slice(&r.body).map_err(|_| OAuthError::Http {
        url: url.display(),
        reason: format!(
            "HTTP {} with a body that is not JSON: {}",
            r.status,
            String::from_utf8_lossy(&r.body)
                .chars()
                .take(200)
                .collect::<String>()
                .trim()
        ),
    })
}

fn refusal(url: &Url, status: u16, v: &serde_json::Value) -> OAuthError {
    let s = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
    OAuthError::Refused {
        url: url.display(),
        status,
        error: s("error").unwrap_or_else(|| format!("HTTP {status}")),
        description: s("error_description").map(|d| d.lines().next().unwrap_or("").to_string()),
    }
}

fn number(v: Option<&serde_json::Value>) -> Option<u64> {
    match v? {
        serde_json::Value::Number(n) => n.as_u64(),
        // Some endpoints send numbers as strings.
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Reads a successful token answer.
pub fn parse_token(v: &serde_json::Value) -> Result<TokenSet, String> {
    let s = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
    let access = s("access_token")
        .filter(|t| !t.is_empty())
        .ok_or("the answer has no access_token")?;
    if let Some(t) = s("token_type")
        && !t.eq_ignore_ascii_case("bearer")
    {
        return Err(format!("token_type is {t:?}, expected Bearer"));
    }
    Ok(TokenSet {
        access_token: Secret::new(access),
        expires_in: number(v.get("expires_in")),
        refresh_token: s("refresh_token")
            .filter(|t| !t.is_empty())
            .map(Secret::new),
        scope: s("scope"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_answers() {
        // Google's shape.
        let t = parse_token(&serde_json::json!({
            "access_token": "ya29.a0", "expires_in": 3599, "scope": "https://mail.google.com/",
            "token_type": "Bearer"
        }))
        .unwrap();
        assert_eq!(t.access_token.expose(), "ya29.a0");
        assert_eq!(t.expires_in, Some(3599));
        assert!(t.refresh_token.is_none());
        // Microsoft's shape: a rotated refresh token, ext_expires_in ignored.
        let t = parse_token(&serde_json::json!({
            "token_type": "Bearer", "scope": "https://outlook.office.com/IMAP.AccessAsUser.All",
            "expires_in": 4166, "ext_expires_in": 4166, "access_token": "eyJ0",
            "refresh_token": "M.R3_BAY"
        }))
        .unwrap();
        assert_eq!(
            t.refresh_token.as_ref().map(Secret::expose),
            Some("M.R3_BAY")
        );
        // Lifetime as a string.
        let t =
            parse_token(&serde_json::json!({"access_token": "x", "expires_in": "3600"})).unwrap();
        assert_eq!(t.expires_in, Some(3600));
        assert!(parse_token(&serde_json::json!({"access_token": ""})).is_err());
        assert!(
            parse_token(&serde_json::json!({"access_token": "x", "token_type": "mac"})).is_err()
        );
    }

    #[test]
    fn refusals_are_readable() {
        let url = Url::parse("https://oauth2.googleapis.com/token").unwrap();
        let e = refusal(
            &url,
            400,
            &serde_json::json!({"error": "invalid_grant", "error_description": "Token has been expired or revoked.\nTrace ID: 1"}),
        );
        assert_eq!(
            e.to_string(),
            "https://oauth2.googleapis.com/token refused: invalid_grant (Token has been expired or revoked.)"
        );
        assert!(e.is_invalid_grant());
    }
}
