//! The main job: copy every folder, message, flag and internal date from host1 to host2,
//! and rerun incrementally. Real Dovecot servers on loopback; assertions on server state.

mod common;

use common::{Pair, count, message};
use imapsync_testkit::{Corpus, Layout, fill};

#[test]
fn dot_prefix_to_slash_copies_everything_then_rerun_moves_nothing() {
    let p = Pair::new(Layout::DotPrefix, Layout::Slash);
    let corpus = Corpus::small();
    fill(&p.h1, "user1", "pass1", &corpus).expect("fill");
    let total = count(&p.snap1());
    assert!(total >= 50, "corpus too small: {total}");

    let r = p.sync(&[]);
    assert_eq!(
        r.num("Messages transferred") as usize,
        total,
        "{}",
        r.show()
    );
    assert_eq!(r.errors(), 0);
    assert!(r.has("The sync looks good"), "{}", r.show());
    assert!(r.has("Exiting with return value 0 (EX_OK: successful termination)"));
    p.assert_same();

    // Rerun: nothing moves, still exit 0, host2 unchanged.
    let before = p.snap2();
    let r = p.sync(&[]);
    assert_eq!(r.num("Messages transferred"), 0, "{}", r.show());
    assert_eq!(r.num("Messages skipped") as usize, total, "{}", r.show());
    assert_eq!(p.snap2(), before);
}

#[test]
fn slash_to_dot_prefix() {
    let p = Pair::new(Layout::Slash, Layout::DotPrefix);
    let mut c = p.imap1();
    c.create("Work").expect("create");
    c.create("Work/Projects").expect("create");
    c.append(
        "INBOX",
        &["\\Seen"],
        Some("02-Jan-2020 10:00:00 +0100"),
        &message("a1", "one", "1"),
    )
    .expect("append");
    c.append(
        "Work/Projects",
        &["$Label1"],
        None,
        &message("a2", "two", "2"),
    )
    .expect("append");
    let r = p.sync(&[]);
    assert_eq!(r.num("Messages transferred"), 2, "{}", r.show());
    let names: Vec<String> = p
        .imap2()
        .list()
        .expect("list")
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert!(
        names.iter().any(|n| n == "INBOX.Work.Projects"),
        "{names:?}"
    );
    p.assert_same();
}

#[test]
fn changed_flags_new_and_removed_messages_on_rerun() {
    let p = Pair::new(Layout::DotPrefix, Layout::Slash);
    let mut c = p.imap1();
    c.create("INBOX.Archive").expect("create");
    for i in 0..20 {
        c.append(
            "INBOX",
            &["\\Seen"],
            Some("01-Mar-2021 08:00:00 +0000"),
            &message(&format!("m{i}"), "s", "b"),
        )
        .expect("append");
    }
    c.append("INBOX.Archive", &[], None, &message("arch", "s", "b"))
        .expect("append");
    p.sync(&[]);
    p.assert_same();

    // Flags change on host1, two new messages, one expunged on host2 by the user.
    c.select("INBOX").expect("select");
    c.store_flags("1:5", "+FLAGS", &["\\Flagged", "$Forwarded"])
        .expect("store");
    c.store_flags("6", "-FLAGS", &["\\Seen"]).expect("store");
    c.append("INBOX", &["\\Answered"], None, &message("new1", "n", "b"))
        .expect("append");
    c.append("INBOX.Archive", &[], None, &message("new2", "n", "b"))
        .expect("append");
    let mut c2 = p.imap2();
    c2.select("INBOX").expect("select");
    c2.store_flags("10", "+FLAGS", &["\\Deleted"])
        .expect("store");
    c2.expunge().expect("expunge");

    let r = p.sync(&[]);
    // The two new ones plus the one the user removed from host2.
    assert_eq!(r.num("Messages transferred"), 3, "{}", r.show());
    p.assert_same();
    let r = p.sync(&[]);
    assert_eq!(r.num("Messages transferred"), 0, "{}", r.show());
    p.assert_same();
}

#[test]
fn no_duplicates_without_state_store_nor_after_losing_it() {
    let p = Pair::new(Layout::DotPrefix, Layout::Slash);
    fill(&p.h1, "user1", "pass1", &Corpus::small()).expect("fill");
    let total = count(&p.snap1());
    p.sync(&["--nostate"]);
    p.assert_same();
    // Header identity alone (no state): nothing copied twice, including the messages with
    // neither Message-ID nor Received.
    let r = p.sync(&["--nostate"]);
    assert_eq!(r.num("Messages transferred"), 0, "{}", r.show());
    assert_eq!(count(&p.snap2()), total);
    // A first state-store run after stateless ones adopts everything by identity.
    let r = p.sync(&[]);
    assert_eq!(r.num("Messages transferred"), 0, "{}", r.show());
    std::fs::remove_dir_all(p.dir.path().join("state-home")).expect("remove state");
    let r = p.sync(&[]);
    assert_eq!(r.num("Messages transferred"), 0, "{}", r.show());
    assert_eq!(count(&p.snap2()), total);
}

#[test]
fn unidentified_messages_are_copied_once() {
    let p = Pair::new(Layout::DotPrefix, Layout::Slash);
    let mut c = p.imap1();
    c.create("INBOX.Drafts").expect("create");
    for i in 0..3 {
        let m = format!("From: me@example.org\r\nSubject: draft {i}\r\n\r\nbody {i}\r\n");
        c.append("INBOX.Drafts", &["\\Draft"], None, m.as_bytes())
            .expect("append");
    }
    let r = p.sync(&[]);
    assert_eq!(r.num("Messages transferred"), 3, "{}", r.show());
    assert_eq!(r.num("Messages void (noheader) on host1"), 3);
    p.assert_same();
    for extra in [&[][..], &["--nostate"][..]] {
        let r = p.sync(extra);
        assert_eq!(r.num("Messages transferred"), 0, "{}", r.show());
    }
    p.assert_same();
}

#[test]
fn duplicates_in_a_host1_folder_are_copied_once_unless_syncduplicates() {
    let p = Pair::new(Layout::Slash, Layout::Slash);
    let mut c = p.imap1();
    let m = message("same", "dup", "x");
    c.append("INBOX", &[], None, &m).expect("append");
    c.append("INBOX", &[], None, &m).expect("append");
    c.append("INBOX", &[], None, &message("other", "o", "y"))
        .expect("append");
    let r = p.sync(&[]);
    assert_eq!(r.num("Messages transferred"), 2, "{}", r.show());
    assert_eq!(r.num("Messages found duplicate on host1"), 1);
    let r = p.sync(&["--syncduplicates"]);
    assert_eq!(r.num("Messages transferred"), 1, "{}", r.show());
    p.assert_same();
}

#[test]
fn reused_message_ids_lose_nothing_and_duplicates_stay_skipped_on_every_run() {
    // A mailer that reuses Message-IDs: same identifying headers, different messages (sizes).
    // Both are copied (imapsync copies only the first, a documented divergence). A true
    // duplicate (same headers, same size) is skipped on the first run and on every rerun,
    // also when new mail arrives in the folder.
    let p = Pair::new(Layout::DotPrefix, Layout::Slash);
    let mut c = p.imap1();
    c.append("INBOX", &[], None, &message("reused", "first", "short"))
        .expect("append");
    c.append(
        "INBOX",
        &[],
        None,
        &message("reused", "second", "a much longer body"),
    )
    .expect("append");
    let dup = message("twice", "dup", "the same");
    c.append("INBOX", &[], None, &dup).expect("append");
    c.append("INBOX", &[], None, &dup).expect("append");
    let r = p.sync(&[]);
    assert_eq!(r.num("Messages transferred"), 3, "{}", r.show());
    assert_eq!(
        r.num("Messages found duplicate on host1"),
        1,
        "{}",
        r.show()
    );
    let subjects = |snap: &imapsync_testkit::Snapshot| -> usize {
        snap.get("INBOX").map(Vec::len).unwrap_or(0)
    };
    assert_eq!(subjects(&p.snap2()), 3);
    // Nothing changed: nothing moves.
    let r = p.sync(&[]);
    assert_eq!(r.num("Messages transferred"), 0, "{}", r.show());
    // New mail in that folder: only it moves; the duplicate is still a duplicate.
    c.append("INBOX", &[], None, &message("new", "new", "fresh"))
        .expect("append");
    let r = p.sync(&[]);
    assert_eq!(r.num("Messages transferred"), 1, "{}", r.show());
    assert_eq!(
        r.num("Messages found duplicate on host1"),
        1,
        "{}",
        r.show()
    );
    assert_eq!(subjects(&p.snap2()), 4);
    let r = p.sync(&[]);
    assert_eq!(r.num("Messages transferred"), 0, "{}", r.show());
}

#[test]
fn dry_run_writes_nothing_on_host2() {
    let p = Pair::new(Layout::DotPrefix, Layout::Slash);
    fill(&p.h1, "user1", "pass1", &Corpus::small()).expect("fill");
    let before = p.snap2();
    let r = p.sync(&["--dry"]);
    assert_eq!(p.snap2(), before, "--dry changed host2");
    assert!(
        r.stat("Messages transferred")
            .is_some_and(|v| v.contains("without dry mode")),
        "{}",
        r.show()
    );
    let r = p.sync(&["--justfolders"]);
    assert_eq!(r.errors(), 0);
    let s2 = p.snap2();
    assert!(
        s2.contains_key("Work") || s2.len() > 1,
        "folders not created: {:?}",
        s2.keys()
    );
    assert_eq!(count(&s2), 0, "--justfolders copied messages");
}

#[test]
fn subscriptions_are_copied() {
    let p = Pair::new(Layout::DotPrefix, Layout::Slash);
    let mut c = p.imap1();
    c.create("INBOX.Sub").expect("create");
    c.create("INBOX.NotSub").expect("create");
    c.subscribe("INBOX.Sub").expect("subscribe");
    p.sync(&[]);
    let subs: Vec<String> = p
        .imap2()
        .lsub()
        .expect("lsub")
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert!(subs.contains(&"Sub".to_string()), "{subs:?}");
    assert!(!subs.contains(&"NotSub".to_string()), "{subs:?}");
}

#[test]
fn folder_selection_and_renaming_options() {
    let p = Pair::new(Layout::DotPrefix, Layout::Slash);
    let mut c = p.imap1();
    for f in [
        "INBOX.Keep",
        "INBOX.Keep.Child",
        "INBOX.Skip",
        "INBOX.Sent Messages",
    ] {
        c.create(f).expect("create");
        c.append(f, &[], None, &message(f, f, f)).expect("append");
    }
    c.append("INBOX", &[], None, &message("inbox", "i", "i"))
        .expect("append");
    let r = p.sync(&[
        "--exclude",
        "(?i)skip",
        "--regextrans2",
        "s/Keep/Kept/",
        "--f1f2",
        "INBOX.Sent Messages=Sent",
    ]);
    assert_eq!(r.num("Messages transferred"), 4, "{}", r.show());
    let names: Vec<String> = p
        .imap2()
        .list()
        .expect("list")
        .into_iter()
        .map(|e| e.name)
        .collect();
    for want in ["Kept", "Kept/Child", "Sent", "INBOX"] {
        assert!(
            names.contains(&want.to_string()),
            "{want} missing in {names:?}"
        );
    }
    assert!(!names.iter().any(|n| n.contains("Skip")), "{names:?}");
    // --folder restricts to one folder.
    let p = Pair::new(Layout::DotPrefix, Layout::Slash);
    let mut c = p.imap1();
    c.create("INBOX.A").expect("create");
    c.append("INBOX.A", &[], None, &message("a", "a", "a"))
        .expect("append");
    c.append("INBOX", &[], None, &message("b", "b", "b"))
        .expect("append");
    let r = p.sync(&["--folder", "INBOX.A"]);
    assert_eq!(r.num("Messages transferred"), 1, "{}", r.show());
    assert_eq!(r.stat("Folders synced").as_deref(), Some("1/1 synced"));
}

#[test]
fn size_and_search_filters() {
    let p = Pair::new(Layout::Slash, Layout::Slash);
    let mut c = p.imap1();
    c.append("INBOX", &[], None, &message("small", "s", "x"))
        .expect("append");
    c.append(
        "INBOX",
        &[],
        None,
        &message("big", "b", &"y".repeat(50_000)),
    )
    .expect("append");
    let r = p.sync(&["--maxsize", "10_000"]);
    assert_eq!(r.num("Messages transferred"), 1, "{}", r.show());
    assert!(r.has("exceeds maxsize limit"), "{}", r.show());
    let r = p.sync(&["--search", "SUBJECT b"]);
    assert_eq!(r.num("Messages transferred"), 1, "{}", r.show());
    p.assert_same();
}

#[test]
fn several_connections_per_side() {
    let p = Pair::new(Layout::DotPrefix, Layout::Slash);
    fill(&p.h1, "user1", "pass1", &Corpus::small()).expect("fill");
    let r = p.sync(&["--connections1", "4", "--connections2", "4"]);
    assert_eq!(r.errors(), 0, "{}", r.show());
    p.assert_same();
}
