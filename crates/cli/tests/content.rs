//! Message content and folder names: the edge-case corpus (bare LF, NUL bytes, 8-bit
//! headers, 100 KB lines, no Message-ID, ...) arrives byte for byte; awkward folder names
//! (non-ASCII, quotes, backslashes, spaces) are created and mapped; automap maps special
//! folders between a Gmail-like and an Exchange-like server.

mod common;

use common::{Pair, count, message};
use imapsync_testkit::verify::CompareOptions;
use imapsync_testkit::{Layout, fixtures};

#[test]
fn every_corpus_fixture_arrives_byte_exact() {
    let p = Pair::new(Layout::DotPrefix, Layout::Slash);
    let mut c = p.imap1();
    c.create("INBOX.corpus").expect("create");
    let mut n = 0;
    for f in fixtures().expect("fixtures") {
        c.append(
            "INBOX.corpus",
            &["\\Seen"],
            Some("05-May-2015 12:34:56 +0200"),
            &f.bytes,
        )
        .unwrap_or_else(|e| panic!("host1 refused fixture {}: {e}", f.name));
        n += 1;
    }
    assert!(n >= 39, "only {n} fixtures");
    // Two fixtures share a Message-ID with a third: imapsync copies such duplicates once;
    // --syncduplicates copies every one.
    let r = p.sync(&["--syncduplicates"]);
    assert_eq!(r.num("Messages transferred"), n as u64, "{}", r.show());
    // Bodies as host1 serves them (Dovecot's own rewrites included) equal host2's, bit for bit.
    p.assert_same();
    let r = p.sync(&["--syncduplicates"]);
    assert_eq!(r.num("Messages transferred"), 0, "{}", r.show());
    let r = p.sync(&["--nostate", "--syncduplicates"]);
    assert_eq!(r.num("Messages transferred"), 0, "{}", r.show());
    // Without --syncduplicates nothing is copied either (they are all there).
    let r = p.sync(&[]);
    assert_eq!(r.num("Messages transferred"), 0, "{}", r.show());
    assert_eq!(count(&p.snap2()), n);
}

#[test]
fn awkward_folder_names() {
    let p = Pair::new(Layout::DotPrefix, Layout::Slash);
    let mut c = p.imap1();
    // (host1 wire name, expected host2 wire name)
    let names = [
        ("INBOX.Entw&APw-rfe", "Entw&APw-rfe"),
        ("INBOX.&ZeVnLIqe-", "&ZeVnLIqe-"),
        ("INBOX.a&-b", "a&-b"),
        ("INBOX.with space", "with space"),
        ("INBOX.Quote\"d", "Quote\"d"),
        ("INBOX.back\\slash", "back\\slash"),
        ("INBOX.deep.a.b.c", "deep/a/b/c"),
    ];
    for (h1, _) in names {
        c.create(h1).unwrap_or_else(|e| panic!("create {h1}: {e}"));
        c.append(h1, &[], None, &message(h1, "n", "n"))
            .expect("append");
    }
    let r = p.sync(&[]);
    assert_eq!(
        r.num("Messages transferred"),
        names.len() as u64,
        "{}",
        r.show()
    );
    let listed: Vec<String> = p
        .imap2()
        .list()
        .expect("list")
        .into_iter()
        .map(|e| e.name)
        .collect();
    for (_, h2) in names {
        assert!(
            listed.contains(&h2.to_string()),
            "{h2} missing on host2: {listed:?}"
        );
    }
    // Non-ASCII names are shown as imapsync does: [raw] = [utf8].
    assert!(
        r.has("[INBOX.Entw&APw-rfe] = [INBOX.Entwürfe]"),
        "{}",
        r.show()
    );
    let r = p.sync(&[]);
    assert_eq!(r.num("Messages transferred"), 0, "{}", r.show());
}

#[test]
fn automap_gmail_like_to_exchange_like() {
    let p = Pair::new(Layout::GmailLike, Layout::ExchangeLike);
    let mut c = p.imap1();
    c.append(
        "[Gmail]/Sent Mail",
        &["\\Seen"],
        None,
        &message("sent", "s", "s"),
    )
    .expect("append");
    c.append("[Gmail]/Trash", &[], None, &message("trash", "t", "t"))
        .expect("append");
    c.append("[Gmail]/Spam", &[], None, &message("spam", "sp", "sp"))
        .expect("append");
    c.append("INBOX", &[], None, &message("inbox", "i", "i"))
        .expect("append");
    let r = p.sync(&["--automap", "--exclude", "All Mail|Important|Starred"]);
    assert!(
        r.has("Folders mapping from --automap feature"),
        "{}",
        r.show()
    );
    assert_eq!(r.errors(), 0, "{}", r.show());
    let s2 = p.snap2();
    assert_eq!(
        s2.get("Sent Items").map(Vec::len),
        Some(1),
        "{:?}",
        s2.keys()
    );
    assert_eq!(
        s2.get("Deleted Items").map(Vec::len),
        Some(1),
        "{:?}",
        s2.keys()
    );
    assert_eq!(
        s2.get("Junk Email").map(Vec::len),
        Some(1),
        "{:?}",
        s2.keys()
    );
    assert_eq!(s2.get("INBOX").map(Vec::len), Some(1));
    // --justautomap prints the table and changes nothing.
    let before = p.snap2();
    let r = p.run(&["--automap", "--justautomap"]);
    assert_eq!(r.code, 0, "{}", r.show());
    assert!(r.has("[[Gmail]/Sent Mail]"), "{}", r.show());
    assert_eq!(p.snap2(), before);
    let _ = CompareOptions::default();
}
