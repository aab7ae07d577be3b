//! The token file (`--oauthtokenfileN`): a small JSON document, mode 0600, holding what a
//! later run needs to get access tokens without anybody at the keyboard — the provider, the
//! client, the refresh token (rewritten when the provider rotates it) and the last access
//! token with its expiry (reused by the next connection or run while it is valid).
//! Files are replaced atomically (written beside, then renamed), never followed through
//! a symlink, and always created 0600.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use serde_json::{Map, Value};

use super::OAuthError;
use crate::secret::Secret;

/// The contents of a token file. Every field is optional: options given on the command
/// line complete or override it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StoredTokens {
    /// `google`, `microsoft:TENANT` or an issuer URL.
    pub provider: Option<String>,
    pub token_url: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<Secret>,
    pub scope: Option<String>,
    /// The account the tokens belong to (information for people).
    pub user: Option<String>,
    pub refresh_token: Option<Secret>,
    pub access_token: Option<Secret>,
    /// Unix time the access token expires.
    pub expires_at: Option<u64>,
}

impl StoredTokens {
    /// Reads a token file; `Ok(None)` when it does not exist.
    pub fn read(path: &Path) -> Result<Option<StoredTokens>, OAuthError> {
        let data = match std::fs::read(path) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(OAuthError::File(format!(
                    "can not read token file {}: {e}",
                    path.display()
                )));
            }
        };
        Self::from_json(&data)
            .map(Some)
            .map_err(|e| OAuthError::File(format!("token file {}: {e}", path.display())))
    }

    pub fn from_json(data: &[u8]) -> Result<StoredTokens, String> {
        let v: Value = serde_json::from_slice(data).map_err(|e| format!("not JSON: {e}"))?;
        let o = v.as_object().ok_or("not a JSON object")?;
        let s = |k: &str| {
            o.get(k)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        Ok(StoredTokens {
            provider: s("provider"),
            token_url: s("token_url"),
            client_id: s("client_id"),
            client_secret: s("client_secret").map(Secret::new),
            scope: s("scope"),
            user: s("user"),
            refresh_token: s("refresh_token").map(Secret::new),
            access_token: s("access_token").map(Secret::new),
            expires_at: o.get("expires_at").and_then(Value::as_u64),
        })
    }

    pub fn to_json(&self) -> String {
        let mut o = Map::new();
        let mut put = |k: &str, v: Option<&str>| {
            if let Some(v) = v {
                o.insert(k.to_string(), Value::String(v.to_string()));
            }
        };
        put("provider", self.provider.as_deref());
        put("token_url", self.token_url.as_deref());
        put("client_id", self.client_id.as_deref());
        put(
            "client_secret",
            self.client_secret.as_ref().map(Secret::expose),
        );
        put("scope", self.scope.as_deref());
        put("user", self.user.as_deref());
        put(
            "refresh_token",
            self.refresh_token.as_ref().map(Secret::expose),
        );
        put(
            "access_token",
            self.access_token.as_ref().map(Secret::expose),
        );
        if let Some(t) = self.expires_at {
            o.insert("expires_at".into(), Value::from(t));
        }
        let mut text = serde_json::to_string_pretty(&Value::Object(o)).unwrap_or_default();
        text.push('\n');
        text
    }

    /// Replaces the file atomically (0600).
    pub fn write(&self, path: &Path) -> Result<(), OAuthError> {
        write_private(path, self.to_json().as_bytes())
    }
}

/// Writes `data` to `path` through a 0600 temporary file in the same directory and a rename.
pub fn write_private(path: &Path, data: &[u8]) -> Result<(), OAuthError> {
    let fail = |e: std::io::Error| {
        OAuthError::File(format!("can not write token file {}: {e}", path.display()))
    };
    let name = path
        .file_name()
        .ok_or_else(|| OAuthError::File(format!("{} is not a file name", path.display())))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".tmp{}", std::process::id()));
    let tmp = path.with_file_name(tmp_name);
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&tmp)
        .map_err(fail)?;
    let r = f
        .write_all(data)
        .and_then(|_| f.sync_all())
        .and_then(|_| std::fs::rename(&tmp, path));
    if let Err(e) = r {
        let _ = std::fs::remove_file(&tmp);
        return Err(fail(e));
    }
    Ok(())
}

/// True when group or others may read `path`.
pub fn readable_by_others(path: &Path) -> bool {
    std::fs::metadata(path)
        .map(|m| m.permissions().mode() & 0o077 != 0)
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_private_and_atomic() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("tok.json");
        assert_eq!(StoredTokens::read(&p).unwrap(), None);
        let t = StoredTokens {
            provider: Some("microsoft:contoso.onmicrosoft.com".into()),
            client_id: Some("cid".into()),
            refresh_token: Some(Secret::new("r1")),
            access_token: Some(Secret::new("a1")),
            expires_at: Some(1_700_000_000),
            ..Default::default()
        };
        t.write(&p).unwrap();
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(StoredTokens::read(&p).unwrap(), Some(t.clone()));
        // Rewriting a loose file leaves it 0600.
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(readable_by_others(&p));
        t.write(&p).unwrap();
        assert!(!readable_by_others(&p));
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        std::fs::write(&p, "{").unwrap();
        assert!(StoredTokens::read(&p).is_err());
    }
}
