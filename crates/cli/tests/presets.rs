//! Provider presets (`--gmail1`, `--office2`, `--exchange2`, ...) and message rewrites
//! (`--regexmess`, `--skipmess`, `--disarmreadreceipts`, `--maxlinelength`).

mod common;

use common::{Pair, message};
use imapsync_testkit::Layout;

#[test]
fn gmail1_strips_the_gmail_prefix_and_copies_a_multi_label_message_once() {
    let p = Pair::new(Layout::GmailLike, Layout::Slash);
    let mut c = p.imap1();
    let m = message("labelled", "in three labels", "b");
    c.create("Label1").expect("create");
    c.append("INBOX", &["\\Seen"], None, &m).expect("append");
    c.append("Label1", &["\\Seen"], None, &m).expect("append");
    c.append("[Gmail]/All Mail", &["\\Seen"], None, &m)
        .expect("append");
    c.append(
        "[Gmail]/Sent Mail",
        &["\\Seen"],
        None,
        &message("sent", "sent", "s"),
    )
    .expect("append");
    // The preset's host and TLS are overridden for the local test server, as a user would.
    let r = p.sync(&["--gmail1", "--nossl1"]);
    assert_eq!(r.num("Messages transferred"), 2, "{}", r.show());
    assert_eq!(
        r.num("Messages found crossduplicate on host2"),
        2,
        "{}",
        r.show()
    );
    let s2 = p.snap2();
    assert_eq!(s2.get("INBOX").map(Vec::len), Some(1), "{:?}", s2.keys());
    assert_eq!(
        s2.get("Sent Mail").map(Vec::len),
        Some(1),
        "{:?}",
        s2.keys()
    );
    assert!(!s2.keys().any(|k| k.contains("[Gmail]")), "{:?}", s2.keys());
    // [Gmail]/All Mail is processed last.
    let last = r
        .out
        .lines()
        .rfind(|l| l.starts_with("Folder "))
        .expect("folder lines");
    assert!(last.contains("[Gmail]/All Mail"), "{last}");
}

#[test]
fn office2_wraps_long_lines_disarms_read_receipts_and_renames_files() {
    let p = Pair::new(Layout::Slash, Layout::ExchangeLike);
    let mut c = p.imap1();
    c.create("Files").expect("create");
    let long = format!(
        "From: a@example.org\r\nSubject: long\r\nMessage-ID: <long@x>\r\nDisposition-Notification-To: a@example.org\r\n\r\n{}\r\n",
        "L".repeat(25_000)
    );
    c.append("INBOX", &[], None, long.as_bytes())
        .expect("append");
    c.append("Files", &[], None, &message("f", "f", "f"))
        .expect("append");
    let r = p.sync(&["--office2", "--nossl2"]);
    assert_eq!(r.num("Messages transferred"), 2, "{}", r.show());
    assert!(r.has("Option --office2 is like"), "{}", r.show());
    let mut c2 = p.imap2();
    let names: Vec<String> = c2
        .list()
        .expect("list")
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert!(
        names.contains(&"Files_renamed_by_imapsync".to_string()),
        "{names:?}"
    );
    c2.select("INBOX").expect("select");
    let body = c2.fetch_body(1).expect("fetch");
    let text = String::from_utf8_lossy(&body);
    assert!(
        text.contains("X-Disposition-Notification-To: a@example.org"),
        "{text:.300}"
    );
    let longest = body
        .split(|&b| b == b'\n')
        .map(<[u8]>::len)
        .max()
        .unwrap_or(0);
    assert!(
        longest <= 10_241,
        "a line of {longest} bytes was not wrapped"
    );
    // A rerun does not copy again (identity is by headers, unchanged by the wrap).
    let r = p.sync(&["--office2", "--nossl2"]);
    assert_eq!(r.num("Messages transferred"), 0, "{}", r.show());
}

#[test]
fn exchange2_drops_flagged_and_regexmess_skipmess_work() {
    let p = Pair::new(Layout::Slash, Layout::Slash);
    let mut c = p.imap1();
    c.append(
        "INBOX",
        &["\\Flagged", "\\Seen"],
        None,
        &message("flag", "s", "body"),
    )
    .expect("append");
    c.append("INBOX", &[], None, &message("spam", "SPAM offer", "buy"))
        .expect("append");
    c.append("INBOX", &[], None, &message("fix", "s", "colour"))
        .expect("append");
    let r = p.sync(&[
        "--exchange2",
        "--skipmess",
        "m/^Subject: SPAM/m",
        "--regexmess",
        "s/colour/color/g",
        "--maxmessagespersecond",
        "100",
    ]);
    assert_eq!(r.num("Messages transferred"), 2, "{}", r.show());
    assert!(r.has("skipped by --skipmess"), "{}", r.show());
    let s2 = p.snap2();
    let msgs = s2.get("INBOX").expect("inbox");
    let flagged = msgs
        .iter()
        .find(|m| m.message_id.as_deref() == Some("<flag@example.org>"))
        .expect("copied");
    assert_eq!(
        flagged.flags,
        vec!["\\Seen".to_string()],
        "\\Flagged not dropped"
    );
    let mut c2 = p.imap2();
    c2.select("INBOX").expect("select");
    let uids = c2.uid_search("HEADER Message-ID fix").expect("search");
    let body = c2.fetch_body(uids[0]).expect("fetch");
    assert!(
        String::from_utf8_lossy(&body).contains("color"),
        "regexmess not applied"
    );
}

#[test]
fn maxlinelength_skips_and_reports() {
    let p = Pair::new(Layout::Slash, Layout::Slash);
    let mut c = p.imap1();
    c.append("INBOX", &[], None, &message("short", "s", "short lines"))
        .expect("append");
    c.append("INBOX", &[], None, &message("long", "s", &"x".repeat(5000)))
        .expect("append");
    let r = p.sync(&["--maxlinelength", "1000"]);
    assert_eq!(r.num("Messages transferred"), 1, "{}", r.show());
    assert!(r.has("--maxlinelength 1000"), "{}", r.show());
}
