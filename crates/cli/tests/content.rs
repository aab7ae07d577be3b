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

#[test]
fn double_blanks_and_an_invalid_mutf7_name() {
    let p = Pair::new(Layout::DotPrefix, Layout::Slash);
    let mut c = p.imap1();
    c.create("INBOX.two  blanks").expect("create");
    c.append("INBOX.two  blanks", &[], None, &message("blanks", "b", "b"))
        .expect("append");
    c.append("INBOX", &[], None, &message("plain", "p", "p"))
        .expect("append");
    // A folder whose on-disk name is not valid modified UTF-7 (as left behind by old
    // servers or hand-made maildirs): Dovecot lists it, host2 refuses to create it.
    let bad = p.h1.user_maildir("user1").join(".bad&name");
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(bad.join(sub)).expect("maildir");
    }
    std::fs::write(
        bad.join("cur/1700000000.M1P1.host:2,S"),
        message("inbad", "x", "x"),
    )
    .expect("message");
    let r = p.run(&[]);
    // The listed name cannot be selected (Dovecot escapes it as `&-` in LIST but not in
    // SELECT): that folder is reported, exit 117, and everything else is synced.
    assert_eq!(r.code, 117, "{}", r.show());
    assert!(
        r.has("Host1 folder [INBOX.bad&-name] = [INBOX.bad&name]: Could not select"),
        "{}",
        r.show()
    );
    assert_eq!(r.num("Messages transferred"), 2, "{}", r.show());
    let snap = p.snap2();
    assert_eq!(
        snap.get("two  blanks").map(Vec::len),
        Some(1),
        "{:?}",
        snap.keys()
    );
    assert_eq!(
        snap.get("INBOX").map(Vec::len),
        Some(1),
        "{:?}",
        snap.keys()
    );
    let r = p.run(&[]);
    assert_eq!(r.code, 117, "{}", r.show());
    assert_eq!(r.num("Messages transferred"), 0, "{}", r.show());
    assert_eq!(count(&p.snap2()), 2);
}
