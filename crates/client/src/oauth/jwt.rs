//! Google service accounts with domain-wide delegation: the JSON key file Google hands out
//! (`type`, `client_email`, `private_key` as a PKCS#8 PEM, `private_key_id`, `token_uri`)
//! and the RS256-signed JWT assertion of the JWT bearer grant (RFC 7523) that asks for an
//! access token on behalf of a user (`sub`).

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::rand::SystemRandom;
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};

use super::OAuthError;
use crate::secret::Secret;

/// Google's token endpoint, the audience when the key file does not name one.
pub const GOOGLE_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";
/// Lifetime asked for in the assertion (Google's maximum).
pub const ASSERTION_LIFETIME: u64 = 3600;

/// A service-account key.
pub struct ServiceAccountKey {
    /// The service account's address (`iss`).
    pub client_email: String,
    /// Key id, sent as the JWT `kid`.
    pub key_id: Option<String>,
    /// Token endpoint (`aud` and where the assertion is posted).
    pub token_uri: String,
    key: RsaKeyPair,
}

impl std::fmt::Debug for ServiceAccountKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceAccountKey")
            .field("client_email", &self.client_email)
            .field("token_uri", &self.token_uri)
            .field("key", &"MASKED")
            .finish()
    }
}

impl ServiceAccountKey {
    /// Reads a key file (JSON). Errors name the file, never the key.
    pub fn from_file(path: &std::path::Path) -> Result<ServiceAccountKey, OAuthError> {
        let text = std::fs::read(path).map_err(|e| {
            OAuthError::Config(format!(
                "can not read service account key {}: {e}",
                path.display()
            ))
        })?;
        Self::from_json(&text)
            .map_err(|e| OAuthError::Config(format!("service account key {}: {e}", path.display())))
    }

    /// Parses the JSON text of a key file.
    pub fn from_json(text: &[u8]) -> Result<ServiceAccountKey, String> {
        let v: serde_json::Value =
            serde_json::from_slice(text).map_err(|e| format!("not JSON: {e}"))?;
        let field = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
        if let Some(t) = field("type")
            && t != "service_account"
        {
            return Err(format!(
                "type is {t:?}, expected \"service_account\" (an OAuth client file is not a service account key)"
            ));
        }
        let client_email = field("client_email").ok_or("no client_email")?;
        let pem = field("private_key").ok_or("no private_key")?;
        let der = pem_to_der(&pem, "PRIVATE KEY")?;
        let key = RsaKeyPair::from_pkcs8(&der)
            .map_err(|e| format!("private_key is not a usable RSA PKCS#8 key: {e}"))?;
        Ok(ServiceAccountKey {
            client_email,
            key_id: field("private_key_id"),
            token_uri: field("token_uri").unwrap_or_else(|| GOOGLE_TOKEN_URI.to_string()),
            key,
        })
    }

    /// A signed assertion asking for `scope` on behalf of `user`, issued at `now` (Unix
    /// seconds).
    pub fn assertion(&self, user: &str, scope: &str, now: u64) -> Result<Secret, OAuthError> {
        let mut header = serde_json::json!({"alg": "RS256", "typ": "JWT"});
        if let Some(kid) = &self.key_id {
            header["kid"] = serde_json::Value::String(kid.clone());
        }
        let claims = serde_json::json!({
            "iss": self.client_email,
            "sub": user,
            "scope": scope,
            "aud": self.token_uri,
            "iat": now,
            "exp": now + ASSERTION_LIFETIME,
        });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut sig = vec![0u8; self.key.public().modulus_len()];
        self.key
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                signing_input.as_bytes(),
                &mut sig,
            )
            .map_err(|_| OAuthError::Config("RS256 signing failed".into()))?;
        Ok(Secret::new(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(sig)
        )))
    }
}

/// The DER bytes of the first PEM block labelled `label`.
pub fn pem_to_der(pem: &str, label: &str) -> Result<Vec<u8>, String> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = pem
        .find(&begin)
        .ok_or_else(|| format!("no {begin} block"))?
        + begin.len();
    let stop = pem[start..]
        .find(&end)
        .ok_or_else(|| format!("no {end} line"))?
        + start;
    let b64: String = pem[start..stop]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    STANDARD
        .decode(b64)
        .map_err(|e| format!("bad base64 in the PEM block: {e}"))
}

/// Decodes the parts of a compact JWT (for tests and diagnostics): header, claims, signature.
pub fn decode_parts(jwt: &str) -> Option<(serde_json::Value, serde_json::Value, Vec<u8>)> {
    let mut it = jwt.split('.');
    let h = URL_SAFE_NO_PAD.decode(it.next()?).ok()?;
    let c = URL_SAFE_NO_PAD.decode(it.next()?).ok()?;
    let s = URL_SAFE_NO_PAD.decode(it.next()?).ok()?;
    if it.next().is_some() {
        return None;
    }
    Some((
        serde_json::from_slice(&h).ok()?,
        serde_json::from_slice(&c).ok()?,
        s,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_blocks() {
        let pem = "junk\n-----BEGIN PRIVATE KEY-----\nAAEC\nAw==\n-----END PRIVATE KEY-----\n";
        assert_eq!(pem_to_der(pem, "PRIVATE KEY").unwrap(), vec![0, 1, 2, 3]);
        assert!(pem_to_der(pem, "RSA PRIVATE KEY").is_err());
    }

    #[test]
    fn key_file_errors_are_clear() {
        let e = ServiceAccountKey::from_json(b"{\"type\":\"authorized_user\"}").unwrap_err();
        assert!(e.contains("service_account"), "{e}");
        let e = ServiceAccountKey::from_json(
            b"{\"type\":\"service_account\",\"client_email\":\"a@b\"}",
        )
        .unwrap_err();
        assert!(e.contains("private_key"), "{e}");
        let e = ServiceAccountKey::from_json(
            b"{\"client_email\":\"a@b\",\"private_key\":\"-----BEGIN PRIVATE KEY-----\\nAAEC\\n-----END PRIVATE KEY-----\\n\"}",
        )
        .unwrap_err();
        assert!(e.contains("RSA PKCS#8"), "{e}");
        assert!(ServiceAccountKey::from_json(b"nope").is_err());
    }
}
