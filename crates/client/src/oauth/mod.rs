//! OAuth2 for IMAP: access tokens that last a whole migration.
//!
//! * [`source`]: where each (re)connection gets its token — a token given once, a token
//!   file re-read on every connection with imapsync's refresh command, or the built-in
//!   grants ([`source::GrantSource`]: refresh token, client credentials, Google service
//!   account) that renew tokens shortly before they expire and after a refusal.
//! * [`grant`]: the token endpoint requests (RFC 6749, RFC 7523, RFC 8628) over a small
//!   HTTPS client ([`http`]); [`jwt`] signs service-account assertions (RS256, `ring`).
//! * [`provider`]: Google and Microsoft presets, OpenID discovery for other issuers.
//! * [`login`]: the one-time interactive logins (device code, loopback browser with PKCE).
//! * [`store`]: the 0600 token file that keeps a rotated refresh token between runs.
//! * The SASL wire formats: [`xoauth2`] (Google/Microsoft) and [`oauthbearer`] (RFC 7628).

pub mod grant;
pub mod http;
pub mod jwt;
pub mod login;
pub mod provider;
pub mod source;
pub mod store;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use crate::secret::Secret;

pub use provider::{LoginFlow, Provider, ProviderSpec};
pub use source::{
    FileToken, GrantConfig, GrantKind, GrantSource, Notifier, StaticToken, TokenSource,
};
pub use store::StoredTokens;

/// A token endpoint's successful answer.
#[derive(Clone, Debug)]
pub struct TokenSet {
    pub access_token: Secret,
    /// Lifetime in seconds.
    pub expires_in: Option<u64>,
    /// A (new) refresh token.
    pub refresh_token: Option<Secret>,
    pub scope: Option<String>,
}

/// Why no token could be had. Messages never contain a token or a secret.
#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    #[error("{0}")]
    Config(String),
    #[error("{url}: {reason}")]
    Http { url: String, reason: String },
    #[error("{url} refused: {error}{}", description.as_ref().map(|d| format!(" ({d})")).unwrap_or_default())]
    Refused {
        url: String,
        status: u16,
        error: String,
        description: Option<String>,
    },
    #[error("{0}")]
    Command(String),
    #[error("{0}")]
    File(String),
}

impl OAuthError {
    /// The refresh token (or assertion, or code) was refused for good: revoked, expired.
    pub fn is_invalid_grant(&self) -> bool {
        matches!(self, OAuthError::Refused { error, .. } if error == "invalid_grant")
    }
}

/// The SASL XOAUTH2 initial response, base64-encoded:
/// `user=USER ^A auth=Bearer TOKEN ^A ^A` (Google's and Microsoft's documented format).
pub fn xoauth2(user: &str, token: &Secret) -> Secret {
    Secret::new(B64.encode(format!(
        "user={user}\x01auth=Bearer {}\x01\x01",
        token.expose()
    )))
}

/// The SASL OAUTHBEARER initial response (RFC 7628 §3.1), base64-encoded: a GS2 header
/// naming the user (`n,a=USER,`, with `,` and `=` escaped as `=2C` / `=3D`), then
/// `^A host=HOST ^A port=PORT ^A auth=Bearer TOKEN ^A ^A`.
pub fn oauthbearer(user: &str, host: &str, port: u16, token: &Secret) -> Secret {
    let authzid = user.replace('=', "=3D").replace(',', "=2C");
    Secret::new(B64.encode(format!(
        "n,a={authzid},\x01host={host}\x01port={port}\x01auth=Bearer {}\x01\x01",
        token.expose()
    )))
}

/// The reply to the error challenge a server sends after refusing a token: XOAUTH2 wants
/// an empty line, OAUTHBEARER a single `^A` (RFC 7628 §3.2.3).
pub fn error_ack(oauthbearer: bool) -> String {
    if oauthbearer {
        B64.encode([1u8])
    } else {
        String::new()
    }
}

/// The readable part of a server's JSON error challenge (`{"status":"401", ...}`).
pub fn describe_challenge(challenge: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(challenge).ok()?;
    let o = v.as_object()?;
    let parts: Vec<String> = ["status", "scope", "schemes"]
        .iter()
        .filter_map(|k| {
            o.get(*k)
                .and_then(|x| x.as_str())
                .map(|s| format!("{k}={s}"))
        })
        .collect();
    (!parts.is_empty()).then(|| parts.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xoauth2_matches_googles_example() {
        // Google's XOAUTH2 protocol page: user "someuser@example.com", token
        // "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg".
        let s = xoauth2(
            "someuser@example.com",
            &Secret::new("ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg"),
        );
        assert_eq!(
            s.expose(),
            "dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LnZGOWRmdDRxbVRjMk52YjNSbGNrQmhkSFJoZG1semRHRXVZMjl0Q2cBAQ=="
        );
    }

    #[test]
    fn oauthbearer_matches_rfc7628() {
        // RFC 7628 §4.1: user@example.com at server.example.com:143, token vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==
        let s = oauthbearer(
            "user@example.com",
            "server.example.com",
            143,
            &Secret::new("vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg=="),
        );
        let raw = B64.decode(s.expose()).unwrap();
        assert_eq!(
            raw,
            b"n,a=user@example.com,\x01host=server.example.com\x01port=143\x01auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==\x01\x01"
        );
        assert_eq!(
            s.expose(),
            "bixhPXVzZXJAZXhhbXBsZS5jb20sAWhvc3Q9c2VydmVyLmV4YW1wbGUuY29tAXBvcnQ9MTQzAWF1dGg9QmVhcmVyIHZGOWRmdDRxbVRjMk52YjNSbGNrQmhiSFJoZG1semRHRXVZMjl0Q2c9PQEB"
        );
        // GS2 escaping of the authorization identity.
        let raw = B64
            .decode(oauthbearer("a,b=c", "h", 1, &Secret::new("t")).expose())
            .unwrap();
        assert!(raw.starts_with(b"n,a=a=2Cb=3Dc,\x01"));
        assert_eq!(error_ack(true), "AQ==");
        assert_eq!(error_ack(false), "");
    }

    #[test]
    fn error_challenges() {
        assert_eq!(
            describe_challenge(
                br#"{"status":"401","schemes":"bearer","scope":"https://mail.google.com/"}"#
            )
            .as_deref(),
            Some("status=401 scope=https://mail.google.com/ schemes=bearer")
        );
        assert_eq!(describe_challenge(b"garbage"), None);
    }
}
