//! One-time interactive logins that end with a refresh token for later runs:
//! * the device authorization flow (RFC 8628): the user opens a URL on any device and types
//!   a short code; we poll the token endpoint meanwhile (Microsoft);
//! * the loopback browser flow (RFC 8252 with PKCE, RFC 7636): the user opens a URL, signs
//!   in, and the browser is sent back to a one-shot listener on 127.0.0.1 with the code.
//!   When the browser runs on another machine the redirect fails to load; pasting the
//!   address it shows on the terminal finishes the login too (Google, whose device flow
//!   refuses the mail scope).

use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::grant::{self, Client};
use super::http::{self, form_encode};
use super::provider::{LoginFlow, Provider};
use super::{OAuthError, TokenSet};
use crate::tls::TlsOptions;

/// Longest wait for the user.
pub const LOGIN_TIMEOUT: Duration = Duration::from_secs(600);

/// An interactive login to run.
pub struct LoginRequest<'a> {
    pub provider: &'a Provider,
    pub client: Client,
    pub scope: String,
    /// Account hint shown on the provider's sign-in page.
    pub user: Option<String>,
    pub flow: LoginFlow,
    pub tls: TlsOptions,
    /// Read a pasted redirect address from the terminal (browser flow).
    pub read_stdin: bool,
}

/// Runs the login; `say` prints instructions for the user.
pub async fn login(
    req: &LoginRequest<'_>,
    say: &(dyn Fn(&str) + Sync),
) -> Result<TokenSet, OAuthError> {
    match req.flow {
        LoginFlow::Device => device(req, say).await,
        LoginFlow::Browser => browser(req, say).await,
    }
}

async fn device(
    req: &LoginRequest<'_>,
    say: &(dyn Fn(&str) + Sync),
) -> Result<TokenSet, OAuthError> {
    let url = req.provider.device_url.as_deref().ok_or_else(|| {
        OAuthError::Config(format!(
            "{} has no device authorization endpoint",
            req.provider.name
        ))
    })?;
    let d = grant::device_start(url, &req.client, &req.scope, &req.tls).await?;
    match &d.message {
        Some(m) => say(m),
        None => say(&format!(
            "To sign in, open {} and enter the code {}",
            d.verification_uri, d.user_code
        )),
    }
    if let Some(c) = &d.verification_uri_complete {
        say(&format!("(or open {c})"));
    }
    let deadline = Instant::now() + Duration::from_secs(d.expires_in).min(LOGIN_TIMEOUT);
    let mut interval = Duration::from_secs(d.interval);
    loop {
        tokio::time::sleep(interval).await;
        match req.client.device_poll(&d.device_code, &req.tls).await {
            Ok(t) => return Ok(t),
            Err(OAuthError::Refused { error, .. }) if error == "authorization_pending" => {}
            Err(OAuthError::Refused { error, .. }) if error == "slow_down" => {
                interval += Duration::from_secs(5);
            }
            Err(e) => return Err(e),
        }
        if Instant::now() >= deadline {
            return Err(OAuthError::Config(
                "the device code expired before the sign-in was finished".into(),
            ));
        }
    }
}

fn random_b64(n: usize) -> String {
    let bytes: Vec<u8> = (0..n).map(|_| rand::random::<u8>()).collect();
    URL_SAFE_NO_PAD.encode(bytes)
}

/// PKCE S256 challenge of a verifier.
pub fn pkce_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(ring::digest::digest(
        &ring::digest::SHA256,
        verifier.as_bytes(),
    ))
}

async fn browser(
    req: &LoginRequest<'_>,
    say: &(dyn Fn(&str) + Sync),
) -> Result<TokenSet, OAuthError> {
    let auth_url = req.provider.auth_url.as_deref().ok_or_else(|| {
        OAuthError::Config(format!(
            "{} has no authorization endpoint",
            req.provider.name
        ))
    })?;
    let listener = TcpListener::bind(("127.0.0.1", 0))
        .await
        .map_err(|e| OAuthError::Config(format!("can not listen on 127.0.0.1: {e}")))?;
    let port = listener
        .local_addr()
        .map_err(|e| OAuthError::Config(e.to_string()))?
        .port();
    let redirect = format!("http://127.0.0.1:{port}/");
    let verifier = random_b64(32);
    let state = random_b64(16);
    let mut params: Vec<(String, String)> = vec![
        ("client_id".into(), req.client.client_id.clone()),
        ("redirect_uri".into(), redirect.clone()),
        ("response_type".into(), "code".into()),
        ("scope".into(), req.scope.clone()),
        ("code_challenge".into(), pkce_challenge(&verifier)),
        ("code_challenge_method".into(), "S256".into()),
        ("state".into(), state.clone()),
    ];
    params.extend(req.provider.auth_params.iter().cloned());
    if let Some(u) = &req.user {
        params.push(("login_hint".into(), u.clone()));
    }
    let query = params
        .iter()
        .map(|(k, v)| format!("{}={}", form_encode(k), form_encode(v)))
        .collect::<Vec<_>>()
        .join("&");
    let sep = if auth_url.contains('?') { '&' } else { '?' };
    say(&format!(
        "Open this address in a browser and sign in:\n{auth_url}{sep}{query}"
    ));
    say(&format!(
        "Waiting for the browser to come back to {redirect} (if the browser runs on another machine, paste here the address it ends on)"
    ));
    let (tx, mut rx) = tokio::sync::mpsc::channel::<String>(4);
    if req.read_stdin {
        let tx = tx.clone();
        std::thread::spawn(move || {
            let mut line = String::new();
            while std::io::stdin()
                .read_line(&mut line)
                .map(|n| n > 0)
                .unwrap_or(false)
            {
                if tx.blocking_send(line.trim().to_string()).is_err() {
                    return;
                }
                line.clear();
            }
        });
    }
    let deadline = tokio::time::Instant::now() + LOGIN_TIMEOUT;
    let code = loop {
        let query = tokio::select! {
            _ = tokio::time::sleep_until(deadline) => {
                return Err(OAuthError::Config("no sign-in within 10 minutes".into()));
            }
            pasted = rx.recv() => match pasted {
                Some(p) => p.split_once('?').map(|(_, q)| q.to_string()).unwrap_or(p),
                None => continue,
            },
            acc = listener.accept() => {
                let Ok((mut sock, _)) = acc else { continue };
                match read_request_query(&mut sock).await {
                    Some(q) => {
                        let ok = redirect_result(&q, &state).is_ok();
                        let text = if ok {
                            "Signed in: you can close this window and go back to imapsync."
                        } else {
                            "The sign-in did not succeed: see the imapsync terminal."
                        };
                        let resp = format!(
                            "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
                            text.len()
                        );
                        let _ = sock.write_all(resp.as_bytes()).await;
                        let _ = sock.shutdown().await;
                        q
                    }
                    None => continue,
                }
            }
        };
        match redirect_result(&query, &state) {
            Ok(code) => break code,
            Err(RedirectError::Ignore) => continue,
            Err(RedirectError::Fail(e)) => return Err(e),
        }
    };
    req.client
        .authorization_code(&code, &redirect, &verifier, &req.tls)
        .await
}

enum RedirectError {
    /// Not the redirect (a favicon request, a stray line).
    Ignore,
    Fail(OAuthError),
}

/// The code of a redirect query, checking `state`.
fn redirect_result(query: &str, state: &str) -> Result<String, RedirectError> {
    let q = http::parse_query(query);
    let get = |k: &str| q.iter().find(|(a, _)| a == k).map(|(_, v)| v.clone());
    if let Some(e) = get("error") {
        return Err(RedirectError::Fail(OAuthError::Refused {
            url: "the authorization page".into(),
            status: 0,
            error: e,
            description: get("error_description"),
        }));
    }
    let Some(code) = get("code") else {
        return Err(RedirectError::Ignore);
    };
    if get("state").as_deref() != Some(state) {
        return Err(RedirectError::Fail(OAuthError::Config(
            "the redirect does not carry this login's state (another login's address?)".into(),
        )));
    }
    Ok(code)
}

/// The query string of one HTTP request on the loopback listener.
async fn read_request_query(sock: &mut tokio::net::TcpStream) -> Option<String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let read = async {
        while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 64 * 1024 {
            let n = sock.read(&mut chunk).await.ok()?;
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        Some(())
    };
    tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .ok()??;
    let text = String::from_utf8_lossy(&buf);
    let line = text.lines().next()?;
    let target = line.split_whitespace().nth(1)?;
    Some(
        target
            .split_once('?')
            .map(|(_, q)| q.to_string())
            .unwrap_or_default(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_rfc7636_appendix_b() {
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn redirects() {
        assert!(matches!(redirect_result("code=abc&state=s1", "s1"), Ok(c) if c == "abc"));
        assert!(matches!(
            redirect_result("code=abc&state=s2", "s1"),
            Err(RedirectError::Fail(_))
        ));
        assert!(matches!(
            redirect_result("error=access_denied&state=s1", "s1"),
            Err(RedirectError::Fail(OAuthError::Refused { .. }))
        ));
        assert!(matches!(
            redirect_result("", "s1"),
            Err(RedirectError::Ignore)
        ));
    }
}
