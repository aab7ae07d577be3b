//! Throwaway Cyrus and Courier instances beside Dovecot: namespaces, users, capabilities,
//! special folders, the corpus fill, and that they leave no process behind.

use std::time::Instant;

use imapsync_testkit::servers::{Flavour, ImapServer};
use imapsync_testkit::spawn::{group_members, pid_alive};
use imapsync_testkit::verify::snapshot_at;
use imapsync_testkit::{Corpus, Courier, Cyrus, CyrusLayout, USERS, fill_at};

const MSG: &[u8] = b"From: a@example.org\r\nTo: b@example.org\r\nSubject: hi\r\nMessage-ID: <t1@example.org>\r\n\r\nbody\r\n";

fn check(flavour: Flavour, namespace: &str, no_caps: &[&str], specials: &[&str]) {
    let t = Instant::now();
    let s = flavour
        .start()
        .unwrap_or_else(|e| panic!("{flavour}: {e:#}"));
    eprintln!("{flavour}: up in {:?}", t.elapsed());
    assert_eq!(s.flavour(), flavour);
    for (user, _) in USERS {
        let mut c = s
            .connect(user)
            .unwrap_or_else(|e| panic!("{flavour} {user}: {e:#}\n{}", s.log_tail(20)));
        let ns = c.personal_namespaces().unwrap();
        assert_eq!(
            ns,
            vec![(s.prefix().to_string(), Some(s.separator()))],
            "{flavour}"
        );
        let r = c.command("NAMESPACE").unwrap();
        assert!(
            r.untagged_text().iter().any(|l| l.contains(namespace)),
            "{flavour}: {:?}",
            r.untagged_text()
        );
        let caps = c.capabilities().unwrap();
        for cap in no_caps {
            assert!(
                !caps.iter().any(|c| c.eq_ignore_ascii_case(cap)),
                "{flavour} has {cap}"
            );
        }
        let names: Vec<String> = c.list().unwrap().into_iter().map(|e| e.name).collect();
        assert!(names.iter().any(|n| n == "INBOX"), "{flavour}: {names:?}");
        for f in specials {
            let w = s.wire_name(f);
            assert!(names.contains(&w), "{flavour}: {w} missing in {names:?}");
        }
    }
    // APPEND without LITERAL+ where there is none, then read it back.
    let mut c = s.connect("user1").unwrap();
    let folder = s.wire_name("a/b");
    c.create(&s.wire_name("a")).unwrap();
    c.create(&folder).unwrap();
    let uid = c
        .append(
            &folder,
            &["\\Seen", "$Label1"],
            Some("05-May-2015 12:34:56 +0200"),
            MSG,
        )
        .unwrap();
    c.select(&folder).unwrap();
    assert_eq!(c.fetch_body(uid).unwrap(), MSG);
    let msgs = c.fetch_messages().unwrap();
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0].flags, vec!["$Label1", "\\Seen"]);
    assert_eq!(msgs[0].internaldate_epoch, 1_430_822_096);
    // A wrong password is refused (Courier answers only after 5 s, a fixed delay).
    if flavour != Flavour::Courier {
        assert!(
            imapsync_testkit::TestImap::connect_login(s.host(), s.port(), "user1", "nope").is_err()
        );
    }
    // The implicit-TLS port is open.
    std::net::TcpStream::connect((s.host(), s.tls_port())).unwrap();
    let t = Instant::now();
    drop(s);
    eprintln!("{flavour}: stop {:?}", t.elapsed());
}

#[test]
fn cyrus_slash() {
    check(
        Flavour::Cyrus(CyrusLayout::Slash),
        r#"(("" "/")) (("Other Users/" "/")) (("Shared Folders/" "/"))"#,
        &[],
        &["Drafts", "Sent", "Trash", "Junk", "Archive"],
    );
}

#[test]
fn cyrus_dot() {
    check(
        Flavour::Cyrus(CyrusLayout::Dot),
        r#"(("INBOX." ".")) (("user." ".")) (("" "."))"#,
        &[],
        &["Drafts", "Sent", "Trash", "Junk", "Archive"],
    );
}

#[test]
fn courier() {
    check(
        Flavour::Courier,
        r##"(("INBOX." ".")) NIL (("#shared." ".")("shared." "."))"##,
        &[
            "LITERAL+",
            "LITERAL-",
            "MULTIAPPEND",
            "CONDSTORE",
            "SPECIAL-USE",
            "MOVE",
        ],
        &["Drafts", "Sent", "Trash", "Junk", "Archive"],
    );
}

#[test]
fn corpus_fill_and_snapshot_on_every_new_server() {
    let corpus = Corpus::small();
    for f in [
        Flavour::Cyrus(CyrusLayout::Slash),
        Flavour::Cyrus(CyrusLayout::Dot),
        Flavour::Courier,
    ] {
        let s = f.start().unwrap();
        let t = Instant::now();
        let r = fill_at(s.host(), s.port(), "user1", "pass1", &corpus)
            .unwrap_or_else(|e| panic!("{f}: {e:#}"));
        eprintln!("{f}: filled {} messages in {:?}", r.messages, t.elapsed());
        let snap = snapshot_at(s.host(), s.port(), "user1", "pass1", None).unwrap();
        let n: usize = snap.values().map(Vec::len).sum();
        assert_eq!(n, r.messages, "{f}");
        assert_eq!(n, corpus.messages.len(), "{f}");
    }
}

#[test]
fn stopping_leaves_no_process_behind() {
    let cyrus = Cyrus::start(CyrusLayout::Slash).unwrap();
    let courier = Courier::start().unwrap();
    for (name, s, pid) in [
        ("cyrus", &cyrus as &dyn ImapServer, cyrus.pid()),
        ("courier", &courier as &dyn ImapServer, courier.pid()),
    ] {
        let mut c = s.connect("user1").unwrap();
        c.command("NOOP").unwrap();
        let pid = pid.unwrap();
        let members = group_members(pid);
        // master + imapd; supervisor + authdaemond (+ its workers) + 2 couriertcpd + imapd
        assert!(members.len() >= 2, "{name}: {members:?}");
        std::mem::forget(c);
        let _ = name;
    }
    let pids: Vec<u32> = [cyrus.pid(), courier.pid()]
        .into_iter()
        .flatten()
        .flat_map(group_members)
        .collect();
    drop(cyrus);
    drop(courier);
    for pid in pids {
        assert!(!pid_alive(pid), "pid {pid} survived");
    }
}
