//! The state rules end to end against a scripted peer on loopback: which states may send a
//! password, PREAUTH, STARTTLS required, a BYE greeting. The policy tables are in
//! [`super::policy`]; real-server coverage (Dovecot: STARTTLS, implicit TLS, every
//! mechanism) is in the CLI's integration tests.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

use super::*;

const PASSWORD: &str = "s3cret-pw";

/// A one-connection server: sends `greeting`, then answers each line it reads with what
/// `reply` returns. Everything the client wrote is kept in `seen`.
struct Peer {
    port: u16,
    seen: Arc<Mutex<String>>,
}

impl Peer {
    async fn start(
        greeting: &str,
        mut reply: impl FnMut(&str) -> Vec<String> + Send + 'static,
    ) -> Peer {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let port = listener.local_addr().expect("local address").port();
        let seen = Arc::new(Mutex::new(String::new()));
        let log = seen.clone();
        let greeting = format!("{greeting}\r\n");
        tokio::spawn(async move {
            let Ok((sock, _)) = listener.accept().await else {
                return;
            };
            let (rd, mut wr) = sock.into_split();
            if wr.write_all(greeting.as_bytes()).await.is_err() {
                return;
            }
            let mut rd = BufReader::new(rd);
            let mut line = String::new();
            loop {
                line.clear();
                match rd.read_line(&mut line).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
                log.lock().expect("log").push_str(&line);
                for r in reply(line.trim_end()) {
                    if wr.write_all(format!("{r}\r\n").as_bytes()).await.is_err() {
                        return;
                    }
                }
            }
        });
        Peer { port, seen }
    }

    fn seen(&self) -> String {
        self.seen.lock().expect("log").clone()
    }

    fn options(&self, ssl: Option<bool>, tls: Option<bool>) -> ConnectOptions {
        let mut o = ConnectOptions::new(Side::Host1, "127.0.0.1", "joe", Secret::new(PASSWORD));
        o.port = Some(self.port);
        o.security = Security {
            ssl,
            tls,
            port_given: true,
            ..Security::default()
        };
        o.send_id = false;
        o.timeout = Some(Duration::from_secs(10));
        o
    }
}

/// Answers `TAG CMD ...` with `TAG OK` (`LOGIN` with capabilities), nothing else.
fn ok_to_everything(line: &str) -> Vec<String> {
    let tag = line.split(' ').next().unwrap_or("*");
    if line.contains(" LOGIN ") {
        vec![format!("{tag} OK [CAPABILITY IMAP4rev1 ID] logged in")]
    } else {
        vec![format!("{tag} OK done")]
    }
}

async fn connect_within(opts: &ConnectOptions) -> Result<(Connection, SessionInfo), SetupError> {
    tokio::time::timeout(Duration::from_secs(20), connect(opts))
        .await
        .expect("connect hung")
}

#[tokio::test]
async fn clear_text_nobody_asked_for_never_sends_the_password() {
    let peer = Peer::start(
        "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] hi",
        ok_to_everything,
    )
    .await;
    // Explicit port, STARTTLS not offered, --notls not given.
    let err = connect_within(&peer.options(None, None))
        .await
        .expect_err("must refuse");
    assert!(matches!(err, SetupError::NoEncryption(_)), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("--nossl1 --notls1"), "{msg}");
    assert!(!msg.contains(PASSWORD));
    // --nossl alone does not allow clear text either.
    let peer2 = Peer::start("* OK [CAPABILITY IMAP4rev1] hi", ok_to_everything).await;
    let mut o = peer2.options(Some(false), None);
    o.security.port_given = false;
    let err = connect_within(&o).await.expect_err("must refuse");
    assert!(matches!(err, SetupError::NoEncryption(_)), "{err:?}");
    tokio::time::sleep(Duration::from_millis(50)).await;
    for seen in [peer.seen(), peer2.seen()] {
        assert!(!seen.contains("LOGIN"), "{seen}");
        assert!(!seen.contains("AUTHENTICATE"), "{seen}");
        assert!(!seen.contains(PASSWORD), "{seen}");
    }
}

#[tokio::test]
async fn clear_text_asked_for_logs_in() {
    let peer = Peer::start("* OK [CAPABILITY IMAP4rev1] hi", ok_to_everything).await;
    let (conn, info) = connect_within(&peer.options(Some(false), Some(false)))
        .await
        .expect("clear-text login allowed by --nossl1 --notls1");
    assert_eq!(info.mech, "LOGIN");
    assert!(!info.tls);
    assert!(
        info.caps.has("ID"),
        "capabilities after login: {:?}",
        info.caps
    );
    assert!(!info.caps_before_login.has("ID"));
    assert!(
        peer.seen().contains(&format!("LOGIN joe {PASSWORD}")),
        "{}",
        peer.seen()
    );
    drop(conn);
}

#[tokio::test]
async fn no_login_connects_even_where_a_password_may_not_go() {
    let peer = Peer::start("* OK [CAPABILITY IMAP4rev1] hi", ok_to_everything).await;
    let mut o = peer.options(None, None);
    o.no_login = true;
    let (conn, info) = connect_within(&o).await.expect("connect only");
    assert!(info.mech.is_empty());
    assert!(conn.is_alive());
    assert!(!peer.seen().contains(PASSWORD));
}

#[tokio::test]
async fn preauth_is_authenticated_without_a_password() {
    let peer = Peer::start(
        "* PREAUTH [CAPABILITY IMAP4rev1] welcome back",
        ok_to_everything,
    )
    .await;
    // Clear text asked for: the server's PREAUTH is taken, no password is sent.
    let (conn, info) = connect_within(&peer.options(Some(false), Some(false)))
        .await
        .expect("PREAUTH");
    assert_eq!(info.mech, "PREAUTH");
    assert_eq!(info.greeting, "[CAPABILITY IMAP4rev1] welcome back");
    let done = conn
        .run(imapsync_proto::command::cmd::noop())
        .await
        .expect("NOOP");
    assert!(done.is_ok());
    let seen = peer.seen();
    assert!(
        !seen.contains("LOGIN") && !seen.contains(PASSWORD),
        "{seen}"
    );
}

#[tokio::test]
async fn preauth_in_clear_text_nobody_asked_for_is_refused() {
    // Nothing said (explicit port): the session would run in clear text.
    let peer = Peer::start("* PREAUTH [CAPABILITY IMAP4rev1] hi", ok_to_everything).await;
    let err = connect_within(&peer.options(None, None))
        .await
        .expect_err("clear-text PREAUTH");
    assert!(
        matches!(&err, SetupError::NoEncryption(m) if m.contains("--nossl1 --notls1")),
        "{err:?}"
    );
    // --tls1, or STARTTLS offered: TLS was due and is impossible after PREAUTH (the
    // STARTTLS-stripping attack); a TLS failure.
    for (tls, caps) in [(Some(true), "IMAP4rev1"), (None, "IMAP4rev1 STARTTLS")] {
        let peer = Peer::start(
            &format!("* PREAUTH [CAPABILITY {caps}] hi"),
            ok_to_everything,
        )
        .await;
        let err = connect_within(&peer.options(None, tls))
            .await
            .expect_err("PREAUTH before TLS");
        assert!(
            matches!(&err, SetupError::Tls(m) if m.contains("PREAUTH") && m.contains("--ssl1")),
            "{err:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(peer.seen(), "", "nothing sent after a refused PREAUTH");
    }
}

#[tokio::test]
async fn preauth_asked_for_and_not_given_sends_nothing() {
    let peer = Peer::start("* OK [CAPABILITY IMAP4rev1] hi", ok_to_everything).await;
    let mut o = peer.options(Some(false), Some(false));
    o.mech = AuthMech::PreAuth;
    let err = connect_within(&o).await.expect_err("no PREAUTH greeting");
    assert!(
        matches!(&err, SetupError::Auth(m) if m.starts_with("error login on host1 [127.0.0.1] with user [joe] auth [PREAUTH]")),
        "{err:?}"
    );
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(peer.seen(), "");
}

#[tokio::test]
async fn starttls_asked_for_and_not_offered_is_an_error() {
    let peer = Peer::start(
        "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] hi",
        ok_to_everything,
    )
    .await;
    let err = connect_within(&peer.options(None, Some(true)))
        .await
        .expect_err("--tls1 without STARTTLS");
    assert!(
        matches!(&err, SetupError::Tls(m) if m.contains("STARTTLS not offered")),
        "{err:?}"
    );
    assert!(!peer.seen().contains(PASSWORD));
}

#[tokio::test]
async fn bye_or_garbage_greetings_are_refused_before_any_command() {
    for greeting in ["* BYE too many connections", "* NO go away", "A1 OK what"] {
        let peer = Peer::start(greeting, ok_to_everything).await;
        let err = connect_within(&peer.options(Some(false), Some(false)))
            .await
            .expect_err(greeting);
        assert!(
            matches!(err, SetupError::Greeting(_)),
            "{greeting}: {err:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(peer.seen(), "", "{greeting}");
    }
}

#[tokio::test]
async fn capabilities_are_asked_for_when_the_greeting_has_none() {
    let peer = Peer::start("* OK hi", |line| {
        let tag = line.split(' ').next().unwrap_or("*").to_string();
        if line.ends_with("CAPABILITY") {
            vec![
                "* CAPABILITY IMAP4rev1 LOGINDISABLED AUTH=PLAIN SASL-IR".into(),
                format!("{tag} OK"),
            ]
        } else {
            vec![format!("{tag} OK [CAPABILITY IMAP4rev1 MOVE] in")]
        }
    })
    .await;
    // LOGINDISABLED with AUTH=PLAIN: PLAIN (with SASL-IR, in one line) instead of LOGIN.
    let (_conn, info) = connect_within(&peer.options(Some(false), Some(false)))
        .await
        .expect("PLAIN login");
    assert_eq!(info.mech, "PLAIN");
    assert!(info.caps_before_login.has("LOGINDISABLED"));
    assert!(info.caps.has("MOVE"));
    let seen = peer.seen();
    assert!(
        seen.starts_with("S1 CAPABILITY\r\nS2 AUTHENTICATE PLAIN "),
        "{seen}"
    );
    assert!(
        !seen.contains(PASSWORD),
        "the password goes base64-encoded: {seen}"
    );
}

#[tokio::test]
async fn a_refused_mechanism_falls_back_to_login() {
    let mut step = 0;
    let peer = Peer::start(
        "* OK [CAPABILITY IMAP4rev1 AUTH=CRAM-MD5] hi",
        move |line| {
            step += 1;
            match step {
                1 => vec!["+ PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+".into()],
                2 => vec!["S1 NO [AUTHENTICATIONFAILED] nope".into()],
                _ => ok_to_everything(line),
            }
        },
    )
    .await;
    let mut o = peer.options(Some(false), Some(false));
    o.mech = AuthMech::CramMd5;
    let (_conn, info) = connect_within(&o).await.expect("LOGIN after CRAM-MD5");
    assert_eq!(info.mech, "LOGIN");
    let seen = peer.seen();
    assert!(seen.starts_with("S1 AUTHENTICATE CRAM-MD5\r\n"), "{seen}");
    assert!(seen.contains(&format!("S2 LOGIN joe {PASSWORD}")), "{seen}");

    // Without --trylogin the refusal is the answer.
    let peer = Peer::start("* OK [CAPABILITY IMAP4rev1] hi", |line| {
        let tag = line.split(' ').next().unwrap_or("*");
        vec![format!("{tag} NO [AUTHENTICATIONFAILED] nope")]
    })
    .await;
    let mut o = peer.options(Some(false), Some(false));
    o.mech = AuthMech::Plain;
    o.trylogin = false;
    let err = connect_within(&o).await.expect_err("refused");
    assert!(
        matches!(&err, SetupError::Auth(m) if m.contains("auth [PLAIN]") && m.contains("nope")),
        "{err:?}"
    );
}

/// NTLM's field `descriptor_at` of a message.
fn ntlm_field(m: &[u8], descriptor_at: usize) -> Vec<u8> {
    let len = m
        .get(descriptor_at..descriptor_at + 2)
        .map(|b| usize::from(u16::from_le_bytes([b[0], b[1]])))
        .unwrap_or(0);
    let at = m
        .get(descriptor_at + 4..descriptor_at + 8)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
        .unwrap_or(0);
    m.get(at..at + len).map(<[u8]>::to_vec).unwrap_or_default()
}

fn utf16(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

/// A scripted NTLM server (no NTLM server can be run here: Dovecot does NTLM only through
/// winbind): the messages and the check of the NTLMv2 proof follow MS-NLMP; the crypto
/// itself is checked against the spec's vectors in `ntlm::tests`.
#[tokio::test]
async fn ntlm_exchange_with_a_scripted_server() {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD as B64;
    const SERVER_CHALLENGE: [u8; 8] = [1, 2, 3, 4, 5, 6, 7, 8];
    // A CHALLENGE_MESSAGE: Unicode, NTLM, target info with the NetBIOS domain.
    let mut info = Vec::new();
    info.extend_from_slice(&2u16.to_le_bytes());
    info.extend_from_slice(&(utf16("CORP").len() as u16).to_le_bytes());
    info.extend_from_slice(&utf16("CORP"));
    info.extend_from_slice(&[0; 4]);
    let mut chal = b"NTLMSSP\0".to_vec();
    chal.extend_from_slice(&2u32.to_le_bytes());
    chal.extend_from_slice(&[0, 0, 0, 0, 48, 0, 0, 0]);
    chal.extend_from_slice(&0x0089_8205u32.to_le_bytes());
    chal.extend_from_slice(&SERVER_CHALLENGE);
    chal.extend_from_slice(&[0; 8]);
    chal.extend_from_slice(&(info.len() as u16).to_le_bytes());
    chal.extend_from_slice(&(info.len() as u16).to_le_bytes());
    chal.extend_from_slice(&48u32.to_le_bytes());
    chal.extend_from_slice(&info);
    let challenge_line = format!("+ {}", B64.encode(&chal));
    for (password, accepted) in [(PASSWORD, true), ("wrong", false)] {
        let mut step = 0;
        let challenge_line = challenge_line.clone();
        let peer = Peer::start(
            "* OK [CAPABILITY IMAP4rev1 AUTH=NTLM SASL-IR] Exchange ready",
            move |line| {
                step += 1;
                match step {
                    1 if line == "S1 AUTHENTICATE NTLM" => vec!["+ ".into()],
                    2 => {
                        let m = B64.decode(line).unwrap_or_default();
                        let ok = m.starts_with(b"NTLMSSP\0\x01\0\0\0");
                        vec![if ok {
                            challenge_line.clone()
                        } else {
                            "S1 BAD".into()
                        }]
                    }
                    3 => {
                        let m = B64.decode(line).unwrap_or_default();
                        let nt = ntlm_field(&m, 20);
                        let key = super::ntlm::ntowf_v2(PASSWORD, "joe", "CORP");
                        let proof = super::auth::hmac_md5(
                            &key,
                            &[
                                SERVER_CHALLENGE.as_slice(),
                                nt.get(16..).unwrap_or_default(),
                            ]
                            .concat(),
                        );
                        let good = m.starts_with(b"NTLMSSP\0\x03\0\0\0")
                            && ntlm_field(&m, 28) == utf16("CORP")
                            && ntlm_field(&m, 36) == utf16("joe")
                            && nt.get(..16) == Some(proof.as_slice());
                        vec![if good {
                            "S1 OK [CAPABILITY IMAP4rev1 MOVE] logged in".into()
                        } else {
                            "S1 NO [AUTHENTICATIONFAILED] bad NTLM response".into()
                        }]
                    }
                    _ => ok_to_everything(line),
                }
            },
        )
        .await;
        let mut o = peer.options(Some(false), Some(false));
        o.mech = AuthMech::Ntlm;
        o.domain = Some("CORP".into());
        o.password = Secret::new(password);
        o.trylogin = false;
        let r = connect_within(&o).await;
        if accepted {
            let (_conn, info) = r.expect("NTLM login");
            assert_eq!(info.mech, "NTLM");
            assert!(info.caps.has("MOVE"));
        } else {
            let err = r.expect_err("wrong password");
            assert!(
                matches!(&err, SetupError::Auth(m) if m.contains("auth [NTLM]") && m.contains("bad NTLM response")),
                "{err:?}"
            );
        }
        assert!(!peer.seen().contains(password), "{}", peer.seen());
    }
}

/// X-MASTERAUTH (Kerio) as imapsync sends it; Dovecot does not offer it, so a scripted
/// server checks the exchange.
#[tokio::test]
async fn xmasterauth_with_a_scripted_server() {
    use md5::{Digest, Md5};
    const CHALLENGE: &str = "<1234.5678@kerio.example>";
    let expected: String = Md5::digest(format!("{CHALLENGE}{PASSWORD}"))
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    for (password, accepted) in [(PASSWORD, true), ("wrong", false)] {
        let mut step = 0;
        let expected = expected.clone();
        let peer = Peer::start(
            "* OK [CAPABILITY IMAP4rev1 X-MASTERAUTH] Kerio",
            move |line| {
                step += 1;
                match step {
                    1 if line == "S1 X-MASTERAUTH" => vec![format!("+ {CHALLENGE}")],
                    2 if line == expected => vec!["S1 OK master".into()],
                    2 => vec!["S1 NO wrong master password".into()],
                    3 if line == "S2 X-SETUSER joe" => vec!["S2 OK now joe".into()],
                    _ => ok_to_everything(line),
                }
            },
        )
        .await;
        let mut o = peer.options(Some(false), Some(false));
        o.mech = AuthMech::XMasterAuth;
        o.password = Secret::new(password);
        let r = connect_within(&o).await;
        let seen = peer.seen();
        if accepted {
            let (_conn, info) = r.expect("X-MASTERAUTH");
            assert_eq!(info.mech, "X-MASTERAUTH");
            assert!(seen.contains("S2 X-SETUSER joe"), "{seen}");
        } else {
            let err = r.expect_err("refused");
            assert!(
                matches!(&err, SetupError::Auth(m) if m.starts_with("Failure authenticate with X-MASTERAUTH: ") && m.contains("wrong master password")),
                "{err:?}"
            );
            assert!(!seen.contains("X-SETUSER"), "{seen}");
            assert!(!seen.contains("LOGIN"), "no LOGIN retry: {seen}");
        }
        assert!(!seen.contains(password), "{seen}");
    }
}
