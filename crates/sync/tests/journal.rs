//! Journal before act, against real Dovecot servers: an APPEND whose intent can not be
//! journalled is never sent, and the copy of that folder stops there.

use std::sync::Mutex;

use imapsync_client::{ConnectOptions, Connection, Secret, Security, Side, TlsOptions, connect};
use imapsync_proto::command::cmd;
use imapsync_state::MapEntry;
use imapsync_sync::copy::{
    self, CopyItem, CopyOptions, Hooks, Journal, Outcome, Progress, Stop, Throttle,
};
use imapsync_testkit::{Dovecot, Layout};

/// A journal that can write `room` intents, then fails (a full disk, a read-only store).
struct FillingJournal {
    room: Mutex<usize>,
    written: Mutex<Vec<u32>>,
}

impl Journal for FillingJournal {
    fn before_append(&self, items: &[&CopyItem], _: Option<u32>) -> Result<Vec<i64>, String> {
        let mut room = self.room.lock().unwrap_or_else(|p| p.into_inner());
        if *room < items.len() {
            return Err("disk I/O error".into());
        }
        *room -= items.len();
        let mut w = self.written.lock().unwrap_or_else(|p| p.into_inner());
        w.extend(items.iter().map(|i| i.uid));
        Ok(items.iter().map(|i| i64::from(i.uid)).collect())
    }
    fn settle(&self, _: &[(i64, MapEntry)]) {}
    fn discard(&self, _: &[i64]) {}
}

#[derive(Default)]
struct Record(Mutex<Vec<(u32, String)>>);

impl Progress for Record {
    fn outcome(&self, item: &CopyItem, outcome: Outcome) {
        let what = match outcome {
            Outcome::Copied { .. } => "copied".to_string(),
            Outcome::NotJournalled { reason } => format!("not journalled: {reason}"),
            other => format!("{other:?}"),
        };
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((item.uid, what));
    }
}

struct Never;
impl Stop for Never {
    fn stop(&self) -> bool {
        false
    }
}
impl Throttle for Never {
    fn pause(&self) -> Option<std::time::Duration> {
        None
    }
}

async fn login(server: &Dovecot, side: Side, user: &str, pass: &str) -> Connection {
    let mut o = ConnectOptions::new(side, server.host(), user, Secret::new(pass));
    o.port = Some(server.port());
    o.security = Security {
        ssl: Some(false),
        tls: Some(true),
        port_given: true,
        ..Security::default()
    };
    o.tls = TlsOptions {
        ca_file: Some(server.ca_cert_path()),
        ..TlsOptions::verifying()
    };
    match connect(&o).await {
        Ok((c, _)) => c,
        Err(e) => panic!("login on {side}: {e}"),
    }
}

fn message(n: u32) -> Vec<u8> {
    format!(
        "From: a@example.org\r\nTo: b@example.org\r\nMessage-ID: <journal-{n}@example.org>\r\nSubject: message {n}\r\n\r\nbody {n}\r\n"
    )
    .into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_append_that_can_not_be_journalled_is_never_sent() {
    let h1 = Dovecot::start(Layout::Slash).expect("host1");
    let h2 = Dovecot::start(Layout::Slash).expect("host2");
    let mut seed = h1.connect("user1").expect("seed");
    let uids: Vec<u32> = (1..=12)
        .map(|n| {
            seed.append("INBOX", &["\\Seen"], None, &message(n))
                .expect("append")
        })
        .collect();
    let c1 = login(&h1, Side::Host1, "user1", "pass1").await;
    let c2 = login(&h2, Side::Host2, "user2", "pass2").await;
    let sel = c1
        .run(cmd::examine(b"INBOX", &cmd::SelectOpts::default()))
        .await
        .expect("examine");
    assert!(sel.is_ok());
    let items: Vec<CopyItem> = uids
        .iter()
        .map(|&uid| CopyItem {
            uid,
            size: message(uid).len() as u64,
            flags: vec!["\\Seen".into()],
            internaldate: None,
            prefix: None,
        })
        .collect();
    // One message per APPEND, so the journal refuses exactly from the 6th on.
    let opts = CopyOptions {
        folder2: "INBOX".into(),
        multiappend: false,
        uidnext2: None,
        transform: None,
        dry: false,
        allow_size_mismatch: true,
        vanished_is_skip: false,
    };
    let journal = FillingJournal {
        room: Mutex::new(5),
        written: Mutex::new(Vec::new()),
    };
    let progress = Record::default();
    let hooks = Hooks {
        journal: &journal,
        progress: &progress,
        throttle: &Never,
        stop: &Never,
    };
    copy::copy(&c1, &c2, &items, &opts, copy::memory_budget(), hooks)
        .await
        .expect("the copy ends without a connection error");
    let written = journal
        .written
        .lock()
        .map(|w| w.clone())
        .unwrap_or_default();
    assert_eq!(written, uids[..5].to_vec());
    // Host2 holds exactly the journalled messages, byte for byte.
    let mut check = h2.connect("user2").expect("check");
    check.examine("INBOX").expect("examine");
    let got = check.fetch_messages().expect("fetch");
    let ids: Vec<String> = got.iter().filter_map(|m| m.message_id.clone()).collect();
    let sums: Vec<String> = got.iter().map(|m| m.sha256.clone()).collect();
    let want_sums: Vec<String> = (1..=5)
        .map(|n| imapsync_testkit::imap::sha256_hex(&message(n)))
        .collect();
    assert_eq!(sums, want_sums, "bytes");
    let want: Vec<String> = (1..=5)
        .map(|n| format!("<journal-{n}@example.org>"))
        .collect();
    assert_eq!(ids, want);
    // Every other message was reported as not journalled (the copy stopped at the first).
    let outcomes = progress.0.lock().map(|o| o.clone()).unwrap_or_default();
    let refused: Vec<u32> = outcomes
        .iter()
        .filter(|(_, w)| w.starts_with("not journalled: disk I/O error"))
        .map(|(u, _)| *u)
        .collect();
    assert_eq!(refused, vec![uids[5]], "{outcomes:?}");
    assert_eq!(
        outcomes.iter().filter(|(_, w)| w == "copied").count(),
        5,
        "{outcomes:?}"
    );
    c1.logout().await;
    c2.logout().await;
}
