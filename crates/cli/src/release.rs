//! `--releasecheck`: imapsync asks its home site for the latest release number (one HTTP GET,
//! given 3 seconds) and prints one line about it at the end of the statistics. Without the
//! option no network call is made. Whatever goes wrong (no network, refused, slow, garbage)
//! ends in imapsync's "unknown" line within the same 3 seconds; the run is never stopped.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

/// Where imapsync reads its latest release number.
const VERSION_URL: &str = "http://imapsync.lamiral.info/prj/imapsync/VERSION";

/// Everything (name resolution included) gets this long, as imapsync's `alarm 3`.
const BUDGET: Duration = Duration::from_secs(3);

/// Test-only override of [`VERSION_URL`] (an `http://host:port/path` on loopback).
const URL_ENV: &str = "IMAPSYNC_RS_RELEASECHECK_URL";

/// What the check found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Found {
    /// The last line of the answer.
    Answer(String),
    /// No answer (unreachable, refused, cut).
    Unknown,
    /// No answer within [`BUDGET`].
    Timeout,
}

const HINT: &str = "( Use --noreleasecheck to avoid this release check. )";

/// The line printed, in imapsync's words where it has some. The number is imapsync's release;
/// this program has its own version, so no "up to date" verdict is made.
pub fn line(found: &Found) -> String {
    match found {
        Found::Unknown => format!("Imapsync public release is unknown.{HINT}"),
        Found::Timeout => format!("Imapsync public release is unknown (timeout).{HINT}"),
        Found::Answer(a) if is_release_number(a) => format!(
            "Imapsync public release is {a} (this is imapsync-rs {}, option-compatible with imapsync 2.229/2.314).{HINT}",
            crate::flags::VERSION
        ),
        Found::Answer(a) => format!("Imapsync public release is unknown ({a}).{HINT}"),
    }
}

fn is_release_number(s: &str) -> bool {
    s.split_once('.').is_some_and(|(a, b)| {
        !a.is_empty()
            && !b.is_empty()
            && a.bytes().all(|c| c.is_ascii_digit())
            && b.bytes().all(|c| c.is_ascii_digit())
    })
}

/// Runs the check and returns its line; at most [`BUDGET`] (plus a few milliseconds).
pub fn check() -> String {
    let url = std::env::var(URL_ENV).unwrap_or_else(|_| VERSION_URL.to_string());
    line(&fetch(&url, BUDGET))
}

/// GETs `url` (plain `http://host[:port]/path`) and returns the last line of the answer.
/// Name resolution may block past any socket timeout, so the whole exchange runs in a thread
/// that is abandoned when the budget is spent.
pub fn fetch(url: &str, budget: Duration) -> Found {
    let Some((host, port, path)) = split_url(url) else {
        return Found::Unknown;
    };
    let (tx, rx) = std::sync::mpsc::channel();
    let started = Instant::now();
    let spawned = std::thread::Builder::new()
        .name("releasecheck".into())
        .spawn(move || {
            let _ = tx.send(get(&host, port, &path, started + budget));
        });
    if spawned.is_err() {
        return Found::Unknown;
    }
    match rx.recv_timeout(budget) {
        Ok(found) => found,
        Err(_) => Found::Timeout,
    }
}

fn split_url(url: &str) -> Option<(String, u16, String)> {
    let rest = url.strip_prefix("http://")?;
    let (hostport, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) => (h, p.parse().ok()?),
        None => (hostport, 80),
    };
    Some((host.to_string(), port, path.to_string()))
}

fn get(host: &str, port: u16, path: &str, deadline: Instant) -> Found {
    let left = || deadline.saturating_duration_since(Instant::now());
    let Ok(addrs) = (host, port).to_socket_addrs() else {
        return Found::Unknown;
    };
    let Some(mut sock) = addrs
        .into_iter()
        .find_map(|a| TcpStream::connect_timeout(&a, left().max(Duration::from_millis(1))).ok())
    else {
        return if left().is_zero() {
            Found::Timeout
        } else {
            Found::Unknown
        };
    };
    let _ = sock.set_write_timeout(Some(left().max(Duration::from_millis(1))));
    let request = format!(
        "GET {path} HTTP/1.0\r\nUser-Agent: imapsync-rs/{}\r\nHost: {host}\r\n\r\n",
        crate::flags::VERSION
    );
    if sock.write_all(request.as_bytes()).is_err() {
        return Found::Unknown;
    }
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if left().is_zero() {
            return Found::Timeout;
        }
        let _ = sock.set_read_timeout(Some(left().max(Duration::from_millis(1))));
        match sock.read(&mut buf) {
            Ok(0) => break,
            Ok(n) if answer.len() < 64 * 1024 => answer.extend_from_slice(&buf[..n]),
            Ok(_) => break,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return Found::Timeout;
            }
            Err(_) => return Found::Unknown,
        }
    }
    let text = String::from_utf8_lossy(&answer);
    match text.lines().last() {
        Some(last) if !answer.is_empty() => Found::Answer(last.trim_end().to_string()),
        _ => Found::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_in_imapsync_words() {
        let hint = "( Use --noreleasecheck to avoid this release check. )";
        let table = [
            (
                Found::Unknown,
                format!("Imapsync public release is unknown.{hint}"),
            ),
            (
                Found::Timeout,
                format!("Imapsync public release is unknown (timeout).{hint}"),
            ),
            (
                Found::Answer("lalala".into()),
                format!("Imapsync public release is unknown (lalala).{hint}"),
            ),
            (
                Found::Answer("2.1".into()),
                format!(
                    "Imapsync public release is 2.1 (this is imapsync-rs {}, option-compatible with imapsync 2.229/2.314).{hint}",
                    crate::flags::VERSION
                ),
            ),
        ];
        for (found, want) in table {
            assert_eq!(line(&found), want, "{found:?}");
        }
        for (s, want) in [
            ("2.314", true),
            ("10.0", true),
            ("2.", false),
            (".5", false),
            ("2.3.4", false),
            ("v2.3", false),
            ("", false),
        ] {
            assert_eq!(is_release_number(s), want, "{s}");
        }
    }

    #[test]
    fn urls() {
        assert_eq!(
            split_url(VERSION_URL),
            Some((
                "imapsync.lamiral.info".into(),
                80,
                "/prj/imapsync/VERSION".into()
            ))
        );
        assert_eq!(
            split_url("http://127.0.0.1:8080"),
            Some(("127.0.0.1".into(), 8080, "/".into()))
        );
        assert_eq!(split_url("https://example.org/"), None);
        assert_eq!(split_url("http://h:notaport/"), None);
    }

    #[test]
    fn answers_refusals_and_silence_within_the_budget() {
        // A server that answers.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let server = std::thread::spawn(move || {
            if let Ok((mut s, _)) = listener.accept() {
                let mut req = [0u8; 1024];
                let n = s.read(&mut req).unwrap_or(0);
                let _ = s.write_all(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n2.314\n");
                return String::from_utf8_lossy(&req[..n]).into_owned();
            }
            String::new()
        });
        let found = fetch(
            &format!("http://127.0.0.1:{port}/prj/imapsync/VERSION"),
            Duration::from_secs(3),
        );
        assert_eq!(found, Found::Answer("2.314".into()));
        let request = server.join().unwrap_or_default();
        assert!(
            request.starts_with("GET /prj/imapsync/VERSION HTTP/1.0\r\n"),
            "{request}"
        );
        // A closed port: unknown, at once.
        let closed = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("bind")
            .local_addr()
            .expect("addr")
            .port();
        let t = Instant::now();
        assert_eq!(
            fetch(
                &format!("http://127.0.0.1:{closed}/"),
                Duration::from_secs(3)
            ),
            Found::Unknown
        );
        assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
        // A server that never answers: timeout, within the budget.
        let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = silent.local_addr().expect("addr").port();
        let t = Instant::now();
        assert_eq!(
            fetch(
                &format!("http://127.0.0.1:{port}/"),
                Duration::from_millis(300)
            ),
            Found::Timeout
        );
        assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
        drop(silent);
    }
}
