//! Deletions that can be trusted: `--delete2` removes only verified host2 extras with UID
//! EXPUNGE (never what a user flagged by hand), refuses on incomplete listings and changed
//! UIDVALIDITY, survives a dropped host1 connection; `--delete1` removes only confirmed
//! copies; `--delete2folders` with its filters; `--dry` deletes nothing.

mod common;

use common::{Pair, message};
use imapsync_testkit::proxy::ConnSet;
use imapsync_testkit::{Direction, FaultProxy, Faults, Layout};

fn ids(p: &Pair, side2: bool, folder: &str) -> Vec<String> {
    let snap = if side2 { p.snap2() } else { p.snap1() };
    let mut v: Vec<String> = snap
        .get(folder)
        .map(|m| m.iter().filter_map(|m| m.message_id.clone()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn delete2_removes_extras_and_duplicates_but_not_messages_flagged_by_hand() {
    let p = Pair::new(Layout::Slash, Layout::Slash);
    let mut c1 = p.imap1();
    for i in 0..5 {
        c1.append("INBOX", &[], None, &message(&format!("m{i}"), "s", "b"))
            .expect("append");
    }
    // Also on host1, flagged \Deleted on both sides: must survive (no plain EXPUNGE).
    c1.append("INBOX", &["\\Deleted"], None, &message("flagged", "s", "b"))
        .expect("append");
    p.sync(&[]);
    let mut c2 = p.imap2();
    c2.append("INBOX", &[], None, &message("extra", "x", "x"))
        .expect("append");
    c2.append("INBOX", &[], None, &message("m1", "s", "b"))
        .expect("append"); // duplicate
    // --dry: nothing deleted, but said.
    let r = p.sync(&["--delete2", "--dry"]);
    assert!(r.has("marked \\Deleted on host2"), "{}", r.show());
    assert!(r.has("not really since --dry mode"), "{}", r.show());
    assert_eq!(p.snap2().get("INBOX").map(Vec::len), Some(8));
    // For real.
    let r = p.sync(&["--delete2"]);
    assert_eq!(r.num("Messages deleted on host2"), 2, "{}", r.show());
    assert!(r.has("UidExpunging 2 message(s)"), "{}", r.show());
    let mut want = ids(&p, false, "INBOX");
    want.sort();
    assert_eq!(ids(&p, true, "INBOX"), want);
    assert!(
        ids(&p, true, "INBOX").iter().any(|m| m.contains("flagged")),
        "hand-flagged message purged"
    );
    assert!(r.has("The sync is strict"), "{}", r.show());
}

#[test]
fn delete2duplicates_on_a_rerun_removes_the_duplicate_and_keeps_the_extra() {
    let p = Pair::new(Layout::DotPrefix, Layout::Slash);
    let mut c1 = p.imap1();
    for i in 0..4 {
        c1.append("INBOX", &[], None, &message(&format!("d{i}"), "s", "b"))
            .expect("append");
    }
    // The first run records the folder in the state store, so the rerun starts from it.
    p.sync(&[]);
    let mut c2 = p.imap2();
    c2.append("INBOX", &[], None, &message("d2", "s", "b"))
        .expect("append"); // duplicate of a message already paired
    c2.append("INBOX", &[], None, &message("only2", "x", "x"))
        .expect("append"); // exists only on host2: not a duplicate
    let r = p.sync(&["--delete2duplicates"]);
    assert_eq!(r.num("Messages deleted on host2"), 1, "{}", r.show());
    let mut want = ids(&p, false, "INBOX");
    want.push("<only2@example.org>".to_string());
    want.sort();
    assert_eq!(ids(&p, true, "INBOX"), want);
}

#[test]
fn delete2_refuses_when_uidvalidity_changed_then_acts_next_run() {
    let p = Pair::new(Layout::Slash, Layout::Slash);
    let mut c1 = p.imap1();
    c1.create("Box").expect("create");
    for i in 0..3 {
        c1.append("Box", &[], None, &message(&format!("b{i}"), "s", "b"))
            .expect("append");
    }
    p.sync(&[]);
    p.imap2()
        .append("Box", &[], None, &message("extra", "x", "x"))
        .expect("append");
    // Recreate the host1 folder: same messages, new UIDVALIDITY.
    c1.delete("Box").expect("delete");
    c1.create("Box").expect("create");
    for i in 0..3 {
        c1.append("Box", &[], None, &message(&format!("b{i}"), "s", "b"))
            .expect("append");
    }
    let r = p.sync(&["--delete2"]);
    assert!(r.has("UIDVALIDITY changed"), "{}", r.show());
    assert!(r.has("NOT deleting"), "{}", r.show());
    assert_eq!(r.num("Messages deleted on host2"), 0);
    assert_eq!(
        r.num("Messages transferred"),
        0,
        "messages re-copied: {}",
        r.show()
    );
    assert_eq!(ids(&p, true, "Box").len(), 4);
    let r = p.sync(&["--delete2"]);
    assert_eq!(r.num("Messages deleted on host2"), 1, "{}", r.show());
    assert_eq!(ids(&p, true, "Box"), ids(&p, false, "Box"));
}

#[test]
fn delete2_with_host1_connection_dropped_during_the_listing_deletes_nothing_wrongly() {
    let p = Pair::new(Layout::Slash, Layout::Slash);
    let mut c1 = p.imap1();
    for i in 0..300 {
        c1.append(
            "INBOX",
            &["\\Seen"],
            None,
            &message(&format!("id{i:04}"), "some subject line", "b"),
        )
        .expect("append");
    }
    p.sync(&[]);
    p.imap2()
        .append("INBOX", &[], None, &message("extra", "x", "x"))
        .expect("append");
    // The first host1 connection dies after 6 KB from the server: in the middle of the
    // message listing (the greeting, login and folder list take less).
    let proxy = FaultProxy::start(
        (p.h1.host(), p.h1.port()),
        Faults::new()
            .drop_after(Direction::Down, 6_000)
            .only(ConnSet::only([1])),
    )
    .expect("proxy");
    let a = p.args_via(
        1,
        proxy.port(),
        &["--delete2", "--nostate", "--nofoldersizes"],
    );
    let r = common::run_in(p.dir.path(), &a, &[]);
    assert_eq!(r.code, 0, "{}", r.show());
    assert!(
        r.num("Reconnections to host1") >= 1,
        "no reconnection: {}",
        r.show()
    );
    assert_eq!(r.num("Messages deleted on host2"), 1, "{}", r.show());
    assert_eq!(ids(&p, true, "INBOX"), ids(&p, false, "INBOX"));
    assert_eq!(ids(&p, true, "INBOX").len(), 300);
}

#[test]
fn delete1_moves_only_confirmed_copies() {
    let h1 = imapsync_testkit::Dovecot::start(Layout::Slash).expect("host1");
    let h2 = imapsync_testkit::Dovecot::builder(Layout::Slash)
        .max_mail_size(20_000)
        .start()
        .expect("host2");
    let p = Pair::with(h1, h2);
    let mut c1 = p.imap1();
    for i in 0..4 {
        c1.append("INBOX", &[], None, &message(&format!("mv{i}"), "s", "b"))
            .expect("append");
    }
    c1.append(
        "INBOX",
        &[],
        None,
        &message("toobig", "big", &"y".repeat(40_000)),
    )
    .expect("append");
    let r = p.run(&["--delete1"]);
    assert_eq!(r.num("Messages deleted on host1"), 4, "{}", r.show());
    // The refused one stays on host1, nothing else does.
    let left = ids(&p, false, "INBOX");
    assert_eq!(left.len(), 1, "{left:?}");
    assert!(left[0].contains("toobig"));
    assert_eq!(ids(&p, true, "INBOX").len(), 4);
    // --delete1 with --delete2 is refused before anything happens.
    let r = p.run(&["--delete1", "--delete2"]);
    assert_eq!(r.code, 64, "{}", r.show());
}

#[test]
fn delete2folders_with_filters_never_inbox() {
    let p = Pair::new(Layout::Slash, Layout::Slash);
    p.imap1().create("Real").expect("create");
    let mut c2 = p.imap2();
    for f in ["Old", "Old/Child", "Keep", "Gone"] {
        c2.create(f).expect("create");
    }
    let r = p.sync(&[
        "--delete2folders",
        "--delete2foldersbutnot",
        "/Keep/",
        "--dry",
    ]);
    assert!(
        r.has("Deleting folder [Old/Child] on host2"),
        "{}",
        r.show()
    );
    assert!(
        p.imap2()
            .list()
            .expect("list")
            .iter()
            .any(|e| e.name == "Old"),
        "--dry deleted a folder"
    );
    let r = p.sync(&["--delete2folders", "--delete2foldersbutnot", "/Keep/"]);
    let names: Vec<String> = p
        .imap2()
        .list()
        .expect("list")
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert!(names.contains(&"Keep".to_string()), "{names:?}");
    assert!(names.contains(&"INBOX".to_string()), "{names:?}");
    assert!(names.contains(&"Real".to_string()), "{names:?}");
    for gone in ["Old", "Old/Child", "Gone"] {
        assert!(
            !names.contains(&gone.to_string()),
            "{gone} still there: {names:?}\n{}",
            r.show()
        );
    }
    assert_eq!(
        r.stat("Folders deleted on host2").as_deref(),
        Some("3"),
        "{}",
        r.show()
    );
    // --delete2foldersonly restricts to matching names.
    p.imap2().create("Tmp1").expect("create");
    p.imap2().create("Other").expect("create");
    p.sync(&["--delete2foldersonly", "/^Tmp/"]);
    let names: Vec<String> = p
        .imap2()
        .list()
        .expect("list")
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert!(
        !names.contains(&"Tmp1".to_string()) && names.contains(&"Other".to_string()),
        "{names:?}"
    );
}

#[test]
fn expunge1_removes_host1_deleted_messages_before_they_are_copied() {
    let p = Pair::new(Layout::DotPrefix, Layout::Slash);
    let mut c = p.imap1();
    c.append("INBOX", &[], None, &message("keep1", "k", "1"))
        .expect("append");
    c.append("INBOX", &["\\Deleted"], None, &message("gone", "g", "2"))
        .expect("append");
    c.append("INBOX", &[], None, &message("keep2", "k", "3"))
        .expect("append");
    // --dry says what it would do, and does nothing.
    let r = p.sync(&["--expunge1", "--dry"]);
    assert!(
        r.has("Host1: Expunging INBOX (not really since --dry mode)"),
        "{}",
        r.show()
    );
    assert_eq!(ids(&p, false, "INBOX").len(), 3);
    let r = p.sync(&["--expunge1"]);
    assert!(r.has("Host1: Expunging INBOX"), "{}", r.show());
    assert_eq!(r.num("Messages transferred"), 2, "{}", r.show());
    assert_eq!(
        ids(&p, true, "INBOX"),
        vec!["<keep1@example.org>", "<keep2@example.org>"]
    );
    assert_eq!(
        ids(&p, false, "INBOX"),
        vec!["<keep1@example.org>", "<keep2@example.org>"]
    );
}
