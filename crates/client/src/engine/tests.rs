//! The engine over an in-memory stream with a scripted peer: the send window, literals,
//! routing of untagged answers, tagged NO/BAD, the peer going away, BYE, timeouts. No server
//! and no network; every wait is bounded, so a hang fails the test instead of blocking it.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{
    AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, DuplexStream, ReadHalf, WriteHalf,
};

use imapsync_proto::caps::Capabilities;
use imapsync_proto::command::cmd;
use imapsync_proto::response::{StatusKind, Untagged};
use imapsync_proto::seqset::UidSet;

use super::*;

/// How long a test waits for something that must happen.
const LIMIT: Duration = Duration::from_secs(5);
/// How long a test watches for something that must not happen.
const QUIET: Duration = Duration::from_millis(200);

/// The server end of the in-memory stream.
struct Peer {
    rd: BufReader<ReadHalf<DuplexStream>>,
    wr: WriteHalf<DuplexStream>,
}

fn engine(caps: &[&str], depth: usize) -> (Connection, Peer) {
    engine_with(caps, depth, Some(LIMIT))
}

fn engine_with(caps: &[&str], depth: usize, timeout: Option<Duration>) -> (Connection, Peer) {
    let (client, server) = tokio::io::duplex(1 << 20);
    let config = EngineConfig {
        side: Side::Host1,
        timeout,
        pipeline_depth: depth,
        stream_threshold: 1024,
        tracer: None,
    };
    let caps = Capabilities::new(caps.iter().map(|c| c.to_string()).collect());
    let conn = start(client, BytesMut::new(), None, caps, config);
    let (rd, wr) = tokio::io::split(server);
    (
        conn,
        Peer {
            rd: BufReader::new(rd),
            wr,
        },
    )
}

async fn within<T>(what: &str, fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(LIMIT, fut)
        .await
        .unwrap_or_else(|_| panic!("hung: {what}"))
}

impl Peer {
    /// The next line the client wrote, without its CRLF.
    async fn line(&mut self) -> String {
        let mut line = String::new();
        let n = within("reading a command line", self.rd.read_line(&mut line))
            .await
            .expect("read from the client");
        assert!(n > 0, "the client closed the stream");
        assert!(line.ends_with("\r\n"), "line without CRLF: {line:?}");
        line.truncate(line.len() - 2);
        line
    }

    /// `n` bytes of literal data.
    async fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut buf = vec![0; n];
        within("reading literal data", self.rd.read_exact(&mut buf))
            .await
            .expect("read from the client");
        buf
    }

    /// Asserts the client writes nothing for a while.
    async fn assert_quiet(&mut self, why: &str) {
        if let Ok(Ok(buf)) = tokio::time::timeout(QUIET, self.rd.fill_buf()).await {
            assert!(
                buf.is_empty(),
                "{why}, but the client wrote {:?}",
                String::from_utf8_lossy(buf)
            );
        }
    }

    async fn send(&mut self, text: &str) {
        self.send_bytes(text.as_bytes()).await;
    }

    async fn send_bytes(&mut self, data: &[u8]) {
        within("writing to the client", async {
            self.wr.write_all(data).await.expect("write to the client");
            self.wr.flush().await.expect("flush to the client");
        })
        .await;
    }
}

async fn done(p: Pending) -> Done {
    within("a command's answer", p)
        .await
        .expect("the command should have an answer")
}

async fn failed(p: Pending) -> ConnError {
    match within("a command's failure", p).await {
        Ok(d) => panic!("expected a connection error, got {:?}", d.status),
        Err(e) => e,
    }
}

fn uids(s: &str) -> UidSet {
    UidSet::parse(s).expect("UID set")
}

#[tokio::test]
async fn send_window_keeps_at_most_depth_commands_in_flight() {
    let (conn, mut peer) = engine(&[], 2);
    let pending: Vec<Pending> = (0..5).map(|_| conn.submit(cmd::noop())).collect();
    assert_eq!(peer.line().await, "A1 NOOP");
    assert_eq!(peer.line().await, "A2 NOOP");
    peer.assert_quiet("two commands are in flight with a window of two")
        .await;
    peer.send("A1 OK done\r\n").await;
    assert_eq!(peer.line().await, "A3 NOOP");
    peer.assert_quiet("the window is full again").await;
    // Answers out of order free their slots all the same.
    peer.send("A3 OK done\r\nA2 OK done\r\n").await;
    assert_eq!(peer.line().await, "A4 NOOP");
    assert_eq!(peer.line().await, "A5 NOOP");
    peer.send("A5 OK five\r\nA4 OK four\r\n").await;
    let mut texts = Vec::new();
    for p in pending {
        let d = done(p).await;
        assert!(d.is_ok());
        texts.push(d.status.text);
    }
    assert_eq!(texts, ["done", "done", "done", "four", "five"]);
}

#[tokio::test]
async fn synchronizing_literal_waits_for_the_continuation() {
    let (conn, mut peer) = engine(&["IMAP4rev1"], 8);
    let body = Bytes::from_static(b"Hello");
    let append = conn.submit(cmd::append_bytes(b"INBOX", &[], None, body));
    let noop = conn.submit(cmd::noop());
    let line = peer.line().await;
    assert!(
        line.starts_with("A1 APPEND ") && line.ends_with(" {5}"),
        "{line}"
    );
    peer.assert_quiet("no `+` yet: neither the literal nor the next command may go")
        .await;
    peer.send("+ go ahead\r\n").await;
    assert_eq!(peer.bytes(5).await, b"Hello");
    assert_eq!(peer.line().await, "", "the command ends after its literal");
    assert_eq!(peer.line().await, "A2 NOOP");
    peer.send("A1 OK [APPENDUID 7 1] appended\r\nA2 OK\r\n")
        .await;
    assert!(done(append).await.is_ok());
    assert!(done(noop).await.is_ok());
}

#[tokio::test]
async fn non_synchronizing_literals_do_not_wait() {
    // LITERAL+: any size; LITERAL-: up to 4096 bytes.
    for (caps, size) in [("LITERAL+", 10_000), ("LITERAL-", 4096)] {
        let (conn, mut peer) = engine(&[caps], 8);
        let body = Bytes::from(vec![b'x'; size]);
        let append = conn.submit(cmd::append_bytes(b"INBOX", &[], None, body));
        let noop = conn.submit(cmd::noop());
        let line = peer.line().await;
        assert!(line.ends_with(&format!(" {{{size}+}}")), "{caps}: {line}");
        // Without any `+` from the peer, the data and the next command arrive.
        assert_eq!(peer.bytes(size).await, vec![b'x'; size], "{caps}");
        assert_eq!(peer.line().await, "");
        assert_eq!(peer.line().await, "A2 NOOP");
        peer.send("A1 OK\r\nA2 OK\r\n").await;
        assert!(done(append).await.is_ok() && done(noop).await.is_ok());
    }
    // Over 4096 bytes LITERAL- does not apply: wait for `+`.
    let (conn, mut peer) = engine(&["LITERAL-"], 8);
    let append = conn.submit(cmd::append_bytes(
        b"INBOX",
        &[],
        None,
        vec![b'y'; 4097].into(),
    ));
    let line = peer.line().await;
    assert!(line.ends_with(" {4097}"), "{line}");
    peer.assert_quiet("a synchronizing literal").await;
    peer.send("+ ok\r\n").await;
    assert_eq!(peer.bytes(4097).await.len(), 4097);
    assert_eq!(peer.line().await, "");
    peer.send("A1 OK\r\n").await;
    assert!(done(append).await.is_ok());
}

#[tokio::test]
async fn a_refused_literal_is_never_sent_and_the_stream_stays_in_step() {
    let (conn, mut peer) = engine(&[], 8);
    let append = conn.submit(cmd::append_bytes(b"INBOX", &[], None, "Hello".into()));
    let noop = conn.submit(cmd::noop());
    let line = peer.line().await;
    assert!(line.ends_with(" {5}"), "{line}");
    peer.send("A1 NO [TOOBIG] too big\r\n").await;
    let d = done(append).await;
    assert_eq!(d.status.kind, StatusKind::No);
    assert_eq!(d.status.full_text(), "[TOOBIG] too big");
    // The next thing on the wire is the next command, not the refused bytes.
    assert_eq!(peer.line().await, "A2 NOOP");
    peer.send("A2 OK\r\n").await;
    assert!(done(noop).await.is_ok());
    assert!(conn.is_alive());
}

#[tokio::test]
async fn untagged_answers_go_to_the_command_they_answer() {
    let (conn, mut peer) = engine(&[], 16);
    let fetch_low = conn.submit(cmd::uid_fetch(&uids("1:3"), "FLAGS", None, false));
    let fetch_high = conn.submit(cmd::uid_fetch(&uids("4:6"), "FLAGS", None, false));
    let status_inbox = conn.submit(cmd::status(b"INBOX", "MESSAGES"));
    let status_sent = conn.submit(cmd::status(b"Sent", "MESSAGES"));
    let list = conn.submit(cmd::list(b"", b"*", None));
    let search = conn.submit(cmd::uid_search("ALL", false));
    for i in 1..=6 {
        assert!(peer.line().await.starts_with(&format!("A{i} ")));
    }
    // Interleaved, as Dovecot does for pipelined commands.
    peer.send(concat!(
        "* 2 FETCH (UID 5 FLAGS (\\Seen))\r\n",
        "* STATUS Sent (MESSAGES 2)\r\n",
        "* 1 FETCH (UID 2 FLAGS ())\r\n",
        "* LIST () \"/\" INBOX\r\n",
        "* SEARCH 2 5\r\n",
        "* STATUS inbox (MESSAGES 7)\r\n",
        // Nobody asked: the oldest command in flight gets it.
        "* 3 EXISTS\r\n",
        "A6 OK\r\nA5 OK\r\nA4 OK\r\nA3 OK\r\nA2 OK\r\nA1 OK\r\n",
    ))
    .await;
    let fetched_uids = |d: &Done| -> Vec<u32> {
        d.untagged
            .iter()
            .filter_map(|u| match u {
                Untagged::Fetch { items, .. } => items.uid,
                _ => None,
            })
            .collect()
    };
    let low = done(fetch_low).await;
    assert_eq!(fetched_uids(&low), [2]);
    assert!(
        matches!(low.untagged.last(), Some(Untagged::Exists(3))),
        "{low:?}"
    );
    assert_eq!(low.untagged.len(), 2);
    let high = done(fetch_high).await;
    assert_eq!((fetched_uids(&high), high.untagged.len()), (vec![5], 1));
    let messages = |d: &Done| -> Vec<(Vec<u8>, Option<u32>)> {
        d.untagged
            .iter()
            .map(|u| match u {
                Untagged::MailboxStatus { mailbox, items } => (mailbox.clone(), items.messages),
                other => panic!("not a STATUS answer: {other:?}"),
            })
            .collect()
    };
    assert_eq!(
        messages(&done(status_inbox).await),
        [(b"inbox".to_vec(), Some(7))]
    );
    assert_eq!(
        messages(&done(status_sent).await),
        [(b"Sent".to_vec(), Some(2))]
    );
    let list = done(list).await;
    assert!(
        matches!(list.untagged.as_slice(), [Untagged::List(l)] if l.name == b"INBOX"),
        "{list:?}"
    );
    let search = done(search).await;
    assert!(
        matches!(search.untagged.as_slice(), [Untagged::Search { ids, .. }] if ids == &[2, 5]),
        "{search:?}"
    );
}

#[tokio::test]
async fn tagged_no_and_bad_answer_their_command_only() {
    let (conn, mut peer) = engine(&[], 8);
    let create = conn.submit(cmd::create(b"Foo"));
    let delete = conn.submit(cmd::delete(b"Bar"));
    let noop = conn.submit(cmd::noop());
    for _ in 0..3 {
        peer.line().await;
    }
    peer.send("A2 BAD [CLIENTBUG] syntax\r\nA1 NO [ALREADYEXISTS] exists\r\nA3 OK\r\n")
        .await;
    let create = done(create).await;
    assert_eq!(create.status.kind, StatusKind::No);
    assert_eq!(create.status.text, "exists");
    let delete = done(delete).await;
    assert_eq!(delete.status.kind, StatusKind::Bad);
    assert!(done(noop).await.is_ok());
    assert!(conn.is_alive() && conn.dead().is_none());
}

#[tokio::test]
async fn peer_closing_mid_response_fails_every_pending_command() {
    let (conn, mut peer) = engine(&[], 8);
    let fetch = conn.submit(cmd::uid_fetch(&uids("1:*"), "BODY.PEEK[]", None, false));
    let noop = conn.submit(cmd::noop());
    peer.line().await;
    peer.line().await;
    peer.send("* 1 FETCH (UID 1 BODY[] {100}\r\nonly part of it")
        .await;
    drop(peer);
    let closed = ConnError::Closed { bye: None };
    assert_eq!(failed(fetch).await, closed);
    assert_eq!(failed(noop).await, closed);
    assert_eq!(conn.dead(), Some(closed.clone()));
    assert!(!conn.is_alive());
    // Later commands fail at once too.
    assert_eq!(failed(conn.submit(cmd::noop())).await, closed);
}

#[tokio::test]
async fn peer_closing_mid_streamed_literal_ends_the_stream_with_an_error() {
    let (conn, mut peer) = engine(&[], 8);
    let mut items = conn.stream(cmd::uid_fetch(&uids("1"), "BODY.PEEK[]", None, false));
    peer.line().await;
    peer.send("* 1 FETCH (UID 1 BODY[] {5000}\r\n").await;
    peer.send_bytes(&[b'z'; 2000]).await;
    let mut got = 0;
    match within("the literal start", items.next()).await {
        Some(Item::LiteralStart(5000)) => {}
        other => panic!("expected the literal start, got {other:?}"),
    }
    while got < 2000 {
        match within("literal chunks", items.next()).await {
            Some(Item::LiteralChunk(c)) => got += c.len(),
            other => panic!("expected a chunk, got {other:?}"),
        }
    }
    drop(peer);
    match within("the end of the stream", items.next()).await {
        Some(Item::Done(Err(ConnError::Closed { bye: None }))) => {}
        other => panic!("expected the connection error, got {other:?}"),
    }
    assert!(within("no more items", items.next()).await.is_none());
}

#[tokio::test]
async fn peer_closing_while_a_literal_waits_for_its_continuation() {
    let (conn, mut peer) = engine(&[], 8);
    let append = conn.submit(cmd::append_bytes(b"INBOX", &[], None, "Hello".into()));
    let queued = conn.submit(cmd::noop());
    peer.line().await;
    drop(peer);
    let closed = ConnError::Closed { bye: None };
    assert_eq!(failed(append).await, closed);
    assert_eq!(failed(queued).await, closed);

    // ... and after the `+`, in the middle of the data.
    let (conn, mut peer) = engine(&[], 8);
    let append = conn.submit(cmd::append_bytes(b"INBOX", &[], None, "Hello".into()));
    peer.line().await;
    peer.send("+ go\r\n").await;
    peer.bytes(2).await;
    drop(peer);
    assert!(matches!(
        failed(append).await,
        ConnError::Closed { .. } | ConnError::Io(_)
    ));
    assert!(conn.dead().is_some());
}

#[tokio::test]
async fn bye_then_close_is_told_to_every_pending_command() {
    let (conn, mut peer) = engine(&[], 8);
    let noop = conn.submit(cmd::noop());
    peer.line().await;
    peer.send("* BYE server shutting down\r\n").await;
    drop(peer);
    let bye = ConnError::Closed {
        bye: Some("server shutting down".into()),
    };
    assert_eq!(failed(noop).await, bye);
    assert_eq!(conn.bye().as_deref(), Some("server shutting down"));
    assert_eq!(conn.dead(), Some(bye));
}

#[tokio::test]
async fn logout_answered_with_bye_is_a_clean_close() {
    let (conn, mut peer) = engine(&[], 8);
    let logout = within("LOGOUT", conn.logout());
    let server = async {
        assert_eq!(peer.line().await, "A1 LOGOUT");
        peer.send("* BYE logging out\r\nA1 OK bye\r\n").await;
        drop(peer);
    };
    tokio::join!(logout, server);
    let dead = within("the connection ends", async {
        loop {
            if let Some(e) = conn.dead() {
                return e;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert_eq!(dead, ConnError::Shutdown);
    assert_eq!(conn.bye().as_deref(), Some("logging out"));
}

#[tokio::test]
async fn silence_times_out_only_while_commands_are_in_flight() {
    let t = Duration::from_millis(500);
    let (conn, mut peer) = engine_with(&[], 8, Some(t));
    // Idle for longer than the timeout: nothing in flight, nothing wrong.
    tokio::time::sleep(t * 2).await;
    assert!(conn.is_alive());
    let noop = conn.submit(cmd::noop());
    assert_eq!(peer.line().await, "A1 NOOP");
    peer.send("A1 OK\r\n").await;
    assert!(done(noop).await.is_ok());
    // Now a command the server never answers.
    let stuck = conn.submit(cmd::noop());
    assert_eq!(peer.line().await, "A2 NOOP");
    assert_eq!(failed(stuck).await, ConnError::Timeout(t));
}

#[tokio::test]
async fn protocol_violations_kill_the_connection() {
    let cases = [
        ("+ nobody asked\r\n", "unexpected continuation"),
        ("A9 OK who?\r\n", "unknown tag A9"),
    ];
    for (answer, why) in cases {
        let (conn, mut peer) = engine(&[], 8);
        let noop = conn.submit(cmd::noop());
        peer.line().await;
        peer.send(answer).await;
        match failed(noop).await {
            ConnError::Protocol(m) => assert!(m.contains(why), "{m}"),
            other => panic!("{answer:?}: {other:?}"),
        }
        assert!(!conn.is_alive());
    }
}

#[tokio::test]
async fn enable_qresync_is_recorded_when_the_server_confirms_it() {
    let (conn, mut peer) = engine(&["QRESYNC"], 8);
    conn.enable_qresync();
    let noop = conn.submit(cmd::noop());
    assert_eq!(peer.line().await, "A1 ENABLE QRESYNC");
    assert_eq!(peer.line().await, "A2 NOOP");
    peer.send("* ENABLED QRESYNC\r\nA1 OK\r\nA2 OK\r\n").await;
    assert!(done(noop).await.is_ok());
    assert!(conn.qresync_enabled());
}
