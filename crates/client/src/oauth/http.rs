//! A small HTTP/1.1 client for OAuth2 endpoints: one request per connection
//! (`Connection: close`), HTTPS through the same rustls set-up as IMAP (certificates
//! verified), plain HTTP only to a loopback address (local test endpoints), answers up to
//! [`MAX_BODY`] bytes, chunked or sized bodies, one overall time limit.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use super::OAuthError;
use crate::tls::{self, TlsOptions};

/// Largest answer accepted from an endpoint.
pub const MAX_BODY: usize = 1 << 20;
/// Time limit of one request, connection included.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// An `http://` or `https://` address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Url {
    pub https: bool,
    pub host: String,
    pub port: u16,
    /// Path and query, starting with `/`.
    pub path: String,
}

impl Url {
    /// Parses an absolute URL. Plain `http://` is accepted only towards a loopback host.
    pub fn parse(s: &str) -> Result<Url, OAuthError> {
        let bad = |why: &str| OAuthError::Config(format!("bad URL {s}: {why}"));
        let (https, rest) = if let Some(r) = s.strip_prefix("https://") {
            (true, r)
        } else if let Some(r) = s.strip_prefix("http://") {
            (false, r)
        } else {
            return Err(bad("expected https://"));
        };
        let (authority, path) = match rest.find(['/', '?']) {
            Some(i) if rest.as_bytes()[i] == b'/' => (&rest[..i], rest[i..].to_string()),
            Some(i) => (&rest[..i], format!("/{}", &rest[i..])),
            None => (rest, "/".to_string()),
        };
        if authority.contains('@') {
            return Err(bad("credentials in the URL are not accepted"));
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (h, tail) = v6.split_once(']').ok_or_else(|| bad("unclosed ["))?;
            let port = match tail.strip_prefix(':') {
                Some(p) => Some(p.parse::<u16>().map_err(|_| bad("bad port"))?),
                None if tail.is_empty() => None,
                None => return Err(bad("junk after ]")),
            };
            (h.to_string(), port)
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (
                    h.to_string(),
                    Some(p.parse::<u16>().map_err(|_| bad("bad port"))?),
                ),
                None => (authority.to_string(), None),
            }
        };
        if host.is_empty() {
            return Err(bad("no host"));
        }
        let url = Url {
            https,
            port: port.unwrap_or(if https { 443 } else { 80 }),
            host,
            path,
        };
        if !https && !url.is_loopback() {
            return Err(bad(
                "plain http is only accepted towards a loopback address (use https)",
            ));
        }
        Ok(url)
    }

    fn is_loopback(&self) -> bool {
        self.host.eq_ignore_ascii_case("localhost")
            || self
                .host
                .parse::<IpAddr>()
                .map(|ip| ip.is_loopback())
                .unwrap_or(false)
    }

    /// The URL without its query (for messages: queries may carry codes).
    pub fn display(&self) -> String {
        let path = self.path.split('?').next().unwrap_or("/");
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        let default = if self.https { 443 } else { 80 };
        let scheme = if self.https { "https" } else { "http" };
        if self.port == default {
            format!("{scheme}://{host}{path}")
        } else {
            format!("{scheme}://{host}:{}{path}", self.port)
        }
    }

    fn host_header(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        if self.port == if self.https { 443 } else { 80 } {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }
}

/// `application/x-www-form-urlencoded` / query-string encoding of one value: everything
/// but RFC 3986 unreserved characters is percent-encoded.
pub fn form_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `k1=v1&k2=v2`, encoded.
pub fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", form_encode(k), form_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Decodes a query-string value (`%XX` and `+`).
pub fn form_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
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

/// Parses `a=1&b=2` into decoded pairs.
pub fn parse_query(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (form_decode(k), form_decode(v)),
            None => (form_decode(p), String::new()),
        })
        .collect()
}

/// An endpoint's answer.
#[derive(Clone, Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// POSTs a form and returns the answer, whatever its status.
pub async fn post_form(
    url: &Url,
    pairs: &[(&str, &str)],
    tls: &TlsOptions,
) -> Result<Response, OAuthError> {
    let body = form(pairs);
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: imapsync-rs\r\nAccept: application/json\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        url.path,
        url.host_header(),
        body.len()
    );
    let mut req = head.into_bytes();
    req.extend_from_slice(body.as_bytes());
    request(url, &req, tls).await
}

/// GETs a URL and returns the answer, whatever its status.
pub async fn get(url: &Url, tls: &TlsOptions) -> Result<Response, OAuthError> {
    let req = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: imapsync-rs\r\nAccept: application/json\r\nConnection: close\r\n\r\n",
        url.path,
        url.host_header()
    );
    request(url, req.as_bytes(), tls).await
}

async fn request(url: &Url, req: &[u8], tls: &TlsOptions) -> Result<Response, OAuthError> {
    let err = |reason: String| OAuthError::Http {
        url: url.display(),
        reason,
    };
    let fut = async {
        let tcp = TcpStream::connect((url.host.as_str(), url.port))
            .await
            .map_err(|e| err(format!("can not connect: {e}")))?;
        let _ = tcp.set_nodelay(true);
        if url.https {
            let config = tls::client_config(tls).map_err(err)?;
            let name = tls::server_name(&url.host).map_err(err)?;
            let stream = tokio_rustls::TlsConnector::from(Arc::clone(&config))
                .connect(name, tcp)
                .await
                .map_err(|e| err(format!("TLS: {e}")))?;
            exchange(stream, req).await.map_err(err)
        } else {
            exchange(tcp, req).await.map_err(err)
        }
    };
    match tokio::time::timeout(TIMEOUT, fut).await {
        Ok(r) => r,
        Err(_) => Err(err(format!("no answer within {TIMEOUT:?}"))),
    }
}

async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    mut s: S,
    req: &[u8],
) -> Result<Response, String> {
    s.write_all(req).await.map_err(|e| e.to_string())?;
    s.flush().await.map_err(|e| e.to_string())?;
    let mut raw = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = match s.read(&mut buf).await {
            Ok(n) => n,
            // A TLS peer closing without close_notify after a complete answer is common.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => 0,
            Err(e) => return Err(e.to_string()),
        };
        if n == 0 {
            break;
        }
        raw.extend_from_slice(&buf[..n]);
        if raw.len() > MAX_BODY + 64 * 1024 {
            return Err(format!("answer larger than {MAX_BODY} bytes"));
        }
        if let Some(r) = parse_response(&raw, false)? {
            return Ok(r);
        }
    }
    parse_response(&raw, true)?.ok_or_else(|| "connection closed before a complete answer".into())
}

/// Parses a complete answer; `None` if more bytes are needed (unless `eof`).
pub fn parse_response(raw: &[u8], eof: bool) -> Result<Option<Response>, String> {
    let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
        return if eof {
            Err("truncated answer header".into())
        } else {
            Ok(None)
        };
    };
    let head = String::from_utf8_lossy(&raw[..end]);
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let mut parts = status_line.split_whitespace();
    let proto = parts.next().unwrap_or("");
    if !proto.starts_with("HTTP/1.") {
        return Err(format!("not an HTTP answer: {}", truncate(status_line)));
    }
    let status: u16 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad status line: {}", truncate(status_line)))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let find = |n: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(n))
            .map(|(_, v)| v.as_str())
    };
    let rest = &raw[end + 4..];
    let chunked = find("transfer-encoding")
        .map(|v| v.to_ascii_lowercase().contains("chunked"))
        .unwrap_or(false);
    let body = if chunked {
        match dechunk(rest)? {
            Some(b) => b,
            None if eof => return Err("truncated chunked body".into()),
            None => return Ok(None),
        }
    } else if let Some(len) = find("content-length") {
        let len: usize = len
            .parse()
            .map_err(|_| format!("bad Content-Length {}", truncate(len)))?;
        if len > MAX_BODY {
            return Err(format!("answer larger than {MAX_BODY} bytes"));
        }
        if rest.len() < len {
            return if eof {
                Err("truncated body".into())
            } else {
                Ok(None)
            };
        }
        rest[..len].to_vec()
    } else if eof {
        rest.to_vec()
    } else {
        return Ok(None);
    };
    Ok(Some(Response {
        status,
        headers,
        body,
    }))
}

/// A complete chunked body, `None` when incomplete.
fn dechunk(mut b: &[u8]) -> Result<Option<Vec<u8>>, String> {
    let mut out = Vec::new();
    loop {
        let Some(eol) = b.windows(2).position(|w| w == b"\r\n") else {
            return Ok(None);
        };
        let size_text = String::from_utf8_lossy(&b[..eol]);
        let size_hex = size_text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_hex, 16)
            .map_err(|_| format!("bad chunk size {}", truncate(size_hex)))?;
        b = &b[eol + 2..];
        if size == 0 {
            return Ok(Some(out));
        }
        if out.len() + size > MAX_BODY {
            return Err(format!("answer larger than {MAX_BODY} bytes"));
        }
        if b.len() < size + 2 {
            return Ok(None);
        }
        out.extend_from_slice(&b[..size]);
        b = &b[size + 2..];
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(80).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u = Url::parse("https://login.microsoftonline.com/common/oauth2/v2.0/token").unwrap();
        assert!(u.https);
        assert_eq!(u.host, "login.microsoftonline.com");
        assert_eq!(u.port, 443);
        assert_eq!(u.path, "/common/oauth2/v2.0/token");
        let u = Url::parse("http://127.0.0.1:8080/token?x=1").unwrap();
        assert_eq!((u.port, u.path.as_str()), (8080, "/token?x=1"));
        assert_eq!(u.display(), "http://127.0.0.1:8080/token");
        let u = Url::parse("http://[::1]:9/").unwrap();
        assert_eq!(u.host, "::1");
        assert_eq!(u.host_header(), "[::1]:9");
        assert!(Url::parse("https://oauth2.googleapis.com").unwrap().path == "/");
        assert!(Url::parse("http://oauth2.googleapis.com/token").is_err());
        assert!(Url::parse("ftp://x/").is_err());
        assert!(Url::parse("https://user:pw@x/").is_err());
        assert!(Url::parse("https://x:port/").is_err());
    }

    #[test]
    fn form_encoding() {
        assert_eq!(
            form(&[
                ("scope", "https://mail.google.com/ offline_access"),
                ("a", "b~._-")
            ]),
            "scope=https%3A%2F%2Fmail.google.com%2F%20offline_access&a=b~._-"
        );
        assert_eq!(form_decode("a%20b+c%2"), "a b c%2");
        assert_eq!(
            parse_query("code=4%2F0A&state=xyz&empty"),
            vec![
                ("code".to_string(), "4/0A".to_string()),
                ("state".to_string(), "xyz".to_string()),
                ("empty".to_string(), String::new())
            ]
        );
    }

    #[test]
    fn responses() {
        let r = parse_response(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
            false,
        )
        .unwrap()
        .unwrap();
        assert_eq!((r.status, r.body.as_slice()), (200, &b"{}"[..]));
        assert_eq!(r.header("content-type"), Some("application/json"));
        // Incomplete, then complete.
        assert!(
            parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab", false)
                .unwrap()
                .is_none()
        );
        assert!(parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab", true).is_err());
        let r = parse_response(
            b"HTTP/1.1 400 Bad Request\r\nTransfer-Encoding: chunked\r\n\r\n4;x=y\r\n{\"a\"\r\n3\r\n:1}\r\n0\r\n\r\n",
            false,
        )
        .unwrap()
        .unwrap();
        assert_eq!((r.status, r.body.as_slice()), (400, &b"{\"a\":1}"[..]));
        // No length: up to the end.
        let r = parse_response(b"HTTP/1.0 200 OK\r\n\r\nabc", true)
            .unwrap()
            .unwrap();
        assert_eq!(r.body, b"abc");
        assert!(parse_response(b"SSH-2.0\r\n\r\n", true).is_err());
        assert!(
            parse_response(
                b"HTTP/1.1 200 OK\r\nContent-Length: 99999999\r\n\r\n",
                false
            )
            .is_err()
        );
    }
}
