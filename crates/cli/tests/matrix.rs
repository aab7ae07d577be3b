//! The server matrix: Cyrus IMAPd 3.6 (both hierarchy separators) and Courier-IMAP 5.0 as
//! host1 and as host2, beside Dovecot, all throwaway instances on loopback started by the
//! test (crates/testkit). Over chosen pairs: a realistic mailbox plus the edge-case corpus
//! (bytes, flags, keywords, dates exact; reruns transfer nothing), awkward folder names,
//! deletions, automap, and Courier's synchronizing literals at full speed.
//!
//! What a server refuses or changes is data here (the tables below, measured against the
//! Debian bookworm packages; the corpus side is also in
//! `crates/testkit/fixtures/corpus/SERVER-BEHAVIOUR.tsv`), never a special case in the
//! code: every refusal must be reported with the server's reason and counted as imapsync
//! counts it, everything else must arrive exactly.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::{Run, message, run_in};
use imapsync_testkit::fixtures::{Verdict, fixtures, server_behaviour};
use imapsync_testkit::servers::{Flavour, ImapServer};
use imapsync_testkit::verify::{CompareOptions, canonical_name, compare, snapshot_at};
use imapsync_testkit::{Corpus, CyrusLayout, Layout, Snapshot, TestImap, fill_at};

const DOT: Flavour = Flavour::Dovecot(Layout::DotPrefix);
const SLASH: Flavour = Flavour::Dovecot(Layout::Slash);
const GMAIL: Flavour = Flavour::Dovecot(Layout::GmailLike);
const EXCHANGE: Flavour = Flavour::Dovecot(Layout::ExchangeLike);
const CYRUS_SLASH: Flavour = Flavour::Cyrus(CyrusLayout::Slash);
const CYRUS_DOT: Flavour = Flavour::Cyrus(CyrusLayout::Dot);
const COURIER: Flavour = Flavour::Courier;

// ---------------------------------------------------------------------------------------
// What the servers refuse or change (data).
// ---------------------------------------------------------------------------------------

/// Folder names (canonical, `/`-separated) a server refuses to create, with its reason.
/// Courier accepts every name of the list once it is quoted.
const NAME_REFUSALS: &[(&str, &str, &str)] = &[
    ("dovecot-fs", "~home", "Begins with '~'"),
    ("cyrus-slash", "Quote\"d", "Invalid mailbox name"),
    ("cyrus-slash", "back\\slash", "Invalid mailbox name"),
    ("cyrus-slash", "percent%sign", "Invalid mailbox name"),
    ("cyrus-slash", "x{3}", "Invalid mailbox name"),
];

/// What host2 does to a corpus message as host1 serves it, where that is not "stored byte
/// for byte": `(host1, host2, fixture, outcome, reason)`; `outcome` is `refused` (the
/// APPEND is answered NO with `reason`) or `altered` (stored, but the bytes differ).
/// Keys are the server columns of SERVER-BEHAVIOUR.tsv.
const MESSAGE_OUTCOMES: &[(&str, &str, &str, &str, &str)] = &[
    // Courier serves NUL bytes as they are; Dovecot stores them and serves them as 0x80 in a
    // non-BINARY FETCH (SERVER-BEHAVIOUR.tsv: dovecot-fs "modified").
    (
        "courier",
        "dovecot-fs",
        "05-nul-in-body.eml",
        "altered",
        "NUL served as 0x80",
    ),
    (
        "courier",
        "dovecot-fs",
        "06-nul-in-header.eml",
        "altered",
        "NUL served as 0x80",
    ),
    (
        "courier",
        "dovecot-fs",
        "10-binary-cte.eml",
        "altered",
        "NUL served as 0x80",
    ),
    (
        "courier",
        "dovecot-fs",
        "23-charset-bodies.eml",
        "altered",
        "NUL served as 0x80",
    ),
    // Cyrus refuses NUL bytes and malformed header lines, and rewrites raw 8-bit bytes in
    // headers (SERVER-BEHAVIOUR.tsv: cyrus-slash "rejected" and "modified").
    (
        "courier",
        "cyrus-slash",
        "05-nul-in-body.eml",
        "refused",
        "Message contains NUL characters",
    ),
    (
        "courier",
        "cyrus-slash",
        "06-nul-in-header.eml",
        "refused",
        "Message contains NUL characters",
    ),
    (
        "courier",
        "cyrus-slash",
        "07-8bit-header-utf8.eml",
        "altered",
        "8-bit header bytes rewritten",
    ),
    (
        "courier",
        "cyrus-slash",
        "08-8bit-header-latin1.eml",
        "altered",
        "8-bit header bytes rewritten",
    ),
    (
        "courier",
        "cyrus-slash",
        "10-binary-cte.eml",
        "refused",
        "Message contains NUL characters",
    ),
    (
        "courier",
        "cyrus-slash",
        "23-charset-bodies.eml",
        "refused",
        "Message contains NUL characters",
    ),
    (
        "courier",
        "cyrus-slash",
        "28-header-without-colon.eml",
        "refused",
        "Message contains invalid header",
    ),
    (
        "courier",
        "cyrus-slash",
        "30-smtputf8-addresses.eml",
        "altered",
        "8-bit header bytes rewritten",
    ),
    (
        "courier",
        "cyrus-slash",
        "35-space-before-colon.eml",
        "refused",
        "Message contains invalid header",
    ),
    // From Dovecot, NUL bytes already come as 0x80: Cyrus takes them (in a header it
    // rewrites them as any 8-bit header byte).
    (
        "dovecot-fs",
        "cyrus-slash",
        "06-nul-in-header.eml",
        "altered",
        "8-bit header bytes rewritten",
    ),
    (
        "dovecot-fs",
        "cyrus-slash",
        "07-8bit-header-utf8.eml",
        "altered",
        "8-bit header bytes rewritten",
    ),
    (
        "dovecot-fs",
        "cyrus-slash",
        "08-8bit-header-latin1.eml",
        "altered",
        "8-bit header bytes rewritten",
    ),
    (
        "dovecot-fs",
        "cyrus-slash",
        "28-header-without-colon.eml",
        "refused",
        "Message contains invalid header",
    ),
    (
        "dovecot-fs",
        "cyrus-slash",
        "30-smtputf8-addresses.eml",
        "altered",
        "8-bit header bytes rewritten",
    ),
    (
        "dovecot-fs",
        "cyrus-slash",
        "35-space-before-colon.eml",
        "refused",
        "Message contains invalid header",
    ),
    // Courier stores a bare CR, a missing final line end and NUL/binary bodies its own way
    // (SERVER-BEHAVIOUR.tsv: courier "modified").
    (
        "cyrus-slash",
        "courier",
        "03-bare-cr.eml",
        "altered",
        "bare CR rewritten",
    ),
    (
        "cyrus-slash",
        "courier",
        "21-no-trailing-eol.eml",
        "altered",
        "final line end added",
    ),
    (
        "dovecot-fs",
        "courier",
        "03-bare-cr.eml",
        "altered",
        "bare CR rewritten",
    ),
    (
        "dovecot-fs",
        "courier",
        "10-binary-cte.eml",
        "altered",
        "binary body rewritten",
    ),
    (
        "dovecot-fs",
        "courier",
        "21-no-trailing-eol.eml",
        "altered",
        "final line end added",
    ),
    (
        "dovecot-fs",
        "courier",
        "23-charset-bodies.eml",
        "altered",
        "binary body rewritten",
    ),
];

/// The server column of SERVER-BEHAVIOUR.tsv for a flavour (Cyrus was measured once, both
/// namespaces store messages the same way).
fn key(f: Flavour) -> &'static str {
    f.behaviour_key()
}

fn name_refusal(f: Flavour, name: &str) -> Option<&'static str> {
    NAME_REFUSALS
        .iter()
        .find(|(k, n, _)| *k == key(f) && *n == name)
        .map(|(_, _, why)| *why)
}

// ---------------------------------------------------------------------------------------
// Harness.
// ---------------------------------------------------------------------------------------

/// Two servers of any kind, started in parallel, and a scratch directory.
struct MPair {
    f1: Flavour,
    f2: Flavour,
    h1: Box<dyn ImapServer>,
    h2: Box<dyn ImapServer>,
    dir: tempfile::TempDir,
}

fn pair(f1: Flavour, f2: Flavour) -> MPair {
    let (h1, h2) = std::thread::scope(|s| {
        let a = s.spawn(move || f1.start());
        let b = s.spawn(move || f2.start());
        (a.join(), b.join())
    });
    let h1 = h1
        .expect("host1 thread")
        .unwrap_or_else(|e| panic!("host1 {f1}: {e:#}"));
    let h2 = h2
        .expect("host2 thread")
        .unwrap_or_else(|e| panic!("host2 {f2}: {e:#}"));
    MPair {
        f1,
        f2,
        h1,
        h2,
        dir: tempfile::tempdir().expect("tempdir"),
    }
}

impl MPair {
    /// user1 on host1 -> user2 on host2, STARTTLS verified against each server's test CA.
    fn args(&self, extra: &[&str]) -> Vec<String> {
        let mut a: Vec<String> = vec![
            "--host1".into(),
            self.h1.host().into(),
            "--port1".into(),
            self.h1.port().to_string(),
            "--user1".into(),
            "user1".into(),
            "--password1".into(),
            "pass1".into(),
            "--host2".into(),
            self.h2.host().into(),
            "--port2".into(),
            self.h2.port().to_string(),
            "--user2".into(),
            "user2".into(),
            "--password2".into(),
            "pass2".into(),
            "--sslargs1".into(),
            format!("SSL_ca_file={}", self.h1.ca_cert_path().display()),
            "--sslargs2".into(),
            format!("SSL_ca_file={}", self.h2.ca_cert_path().display()),
        ];
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    }

    fn run(&self, extra: &[&str]) -> Run {
        run_in(self.dir.path(), &self.args(extra), &[])
    }

    fn imap1(&self) -> TestImap {
        self.h1.connect("user1").expect("login host1")
    }

    fn imap2(&self) -> TestImap {
        self.h2.connect("user2").expect("login host2")
    }

    fn snap1(&self) -> Snapshot {
        snapshot_at(self.h1.host(), self.h1.port(), "user1", "pass1", None).expect("snapshot 1")
    }

    fn snap2(&self) -> Snapshot {
        snapshot_at(self.h2.host(), self.h2.port(), "user2", "pass2", None).expect("snapshot 2")
    }

    fn w1(&self, path: &str) -> String {
        self.h1.wire_name(path)
    }

    fn w2(&self, path: &str) -> String {
        self.h2.wire_name(path)
    }

    fn label(&self) -> String {
        format!("{} -> {}", self.f1, self.f2)
    }
}

fn total(s: &Snapshot) -> usize {
    s.values().map(Vec::len).sum()
}

/// Line(s) of the output that mention `needle`.
fn lines_with<'a>(r: &'a Run, needle: &str) -> Vec<&'a str> {
    r.out.lines().filter(|l| l.contains(needle)).collect()
}

// ---------------------------------------------------------------------------------------
// A realistic mailbox plus the edge-case corpus.
// ---------------------------------------------------------------------------------------

/// INTERNALDATE of the i-th fixture: distinct per fixture, so copies can be paired by date.
fn fixture_date(i: usize) -> (String, i64) {
    // 2015-05-05 12:34:56 +0000 plus i minutes
    let base = 1_430_829_296i64;
    let t = base + 60 * i as i64;
    (imapsync_testkit::date::format_internaldate(t, 0), t)
}

fn fixture_flags(i: usize) -> &'static [&'static str] {
    match i % 4 {
        0 => &[],
        1 => &["\\Seen"],
        2 => &["\\Seen", "\\Answered", "$Forwarded"],
        _ => &["\\Flagged", "$Label1", "NonJunk"],
    }
}

fn realistic_mailbox_and_corpus(f1: Flavour, f2: Flavour) {
    let t0 = Instant::now();
    let p = pair(f1, f2);
    let label = p.label();
    let behaviour = server_behaviour().expect("SERVER-BEHAVIOUR.tsv");

    // host1: the small realistic corpus (8 folders, non-ASCII names, flags, keywords, dates)
    let corpus = Corpus::small();
    fill_at(p.h1.host(), p.h1.port(), "user1", "pass1", &corpus)
        .unwrap_or_else(|e| panic!("{label}: fill: {e:#}"));
    // ... and every edge-case fixture in folder "corpus", each with its own date and flags.
    let mut c1 = p.imap1();
    let cf1 = p.w1("corpus");
    c1.create(&cf1).expect("create corpus");
    let mut on_host1: BTreeMap<i64, String> = BTreeMap::new();
    for (i, fx) in fixtures().expect("fixtures").into_iter().enumerate() {
        let (date, epoch) = fixture_date(i);
        let r = c1
            .append_status(&cf1, fixture_flags(i), Some(&date), &fx.bytes)
            .expect("append");
        let tsv = behaviour.get(&(key(f1).to_string(), format!("synthetic/{}", fx.name)));
        let refused = r.status != imapsync_testkit::Status::Ok;
        assert_eq!(
            refused,
            tsv == Some(&Verdict::Rejected),
            "{label}: host1 {} APPEND of {}: {} {} (SERVER-BEHAVIOUR.tsv says {tsv:?})",
            f1,
            fx.name,
            if refused { "refused" } else { "accepted" },
            r.text
        );
        if !refused {
            on_host1.insert(epoch, fx.name.clone());
        }
    }
    let s1 = p.snap1();
    let n1 = total(&s1);

    let r = p.run(&["--syncduplicates"]);
    eprintln!("{label}: first sync in {:?}", t0.elapsed());
    let s2 = p.snap2();

    // The corpus folder: pair the copies by INTERNALDATE.
    let by_date = |s: &Snapshot| -> BTreeMap<i64, imapsync_testkit::Msg> {
        s.get("corpus")
            .map(|v| {
                v.iter()
                    .map(|m| (m.internaldate_epoch, m.clone()))
                    .collect()
            })
            .unwrap_or_default()
    };
    let a = by_date(&s1);
    let b = by_date(&s2);
    let mut observed: Vec<(String, String)> = Vec::new(); // (fixture, outcome)
    for (epoch, name) in &on_host1 {
        let m1 = &a[epoch];
        match b.get(epoch) {
            None => observed.push((name.clone(), "refused".into())),
            Some(m2) => {
                assert_eq!(m1.flags, m2.flags, "{label}: flags of {name}");
                if m1.sha256 != m2.sha256 {
                    observed.push((name.clone(), "altered".into()));
                }
            }
        }
    }
    let expected: Vec<(String, String)> = MESSAGE_OUTCOMES
        .iter()
        .filter(|(h1, h2, ..)| *h1 == key(f1) && *h2 == key(f2))
        .map(|(_, _, n, o, _)| (n.to_string(), o.to_string()))
        .collect();
    for (n, o) in &observed {
        eprintln!("OUTCOME\t{}\t{}\t{n}\t{o}", key(f1), key(f2));
    }
    assert_eq!(observed, expected, "{label}: corpus outcomes\n{}", r.show());

    // Every refusal is reported with the server's reason and counted.
    let refused: Vec<&(&str, &str, &str, &str, &str)> = MESSAGE_OUTCOMES
        .iter()
        .filter(|(h1, h2, _, o, _)| *h1 == key(f1) && *h2 == key(f2) && *o == "refused")
        .collect();
    for (_, _, name, _, why) in &refused {
        assert!(
            lines_with(&r, "could not append")
                .iter()
                .any(|l| l.contains(why)),
            "{label}: refusal of {name} ({why}) not reported:\n{}",
            r.show()
        );
    }
    assert_eq!(r.errors(), refused.len() as u64, "{label}: {}", r.show());
    if refused.is_empty() {
        assert_eq!(r.code, 0, "{label}: {}", r.show());
    } else {
        assert_ne!(r.code, 0, "{label}: {}", r.show());
    }
    assert_eq!(
        r.num("Messages transferred") as usize,
        n1 - refused.len(),
        "{label}: {}",
        r.show()
    );

    // Everything else is exact: bytes, flags, keywords, dates, folder names.
    let diffs = compare(
        &s1,
        &s2,
        &CompareOptions {
            allow_extra_empty: true,
            ignore: vec!["corpus".into()],
            ..CompareOptions::default()
        },
    );
    assert!(diffs.is_empty(), "{label}:\n{}", diffs.join("\n"));
    for (epoch, m1) in &a {
        if let Some(m2) = b.get(epoch) {
            assert_eq!(m1.internaldate_epoch, m2.internaldate_epoch);
        }
    }

    // A rerun transfers nothing (a refused message is tried, and reported, again).
    let r2 = p.run(&["--syncduplicates"]);
    assert_eq!(r2.num("Messages transferred"), 0, "{label}: {}", r2.show());
    assert_eq!(r2.errors(), refused.len() as u64, "{label}: {}", r2.show());
    assert_eq!(p.snap2(), s2, "{label}: host2 changed on the rerun");
    eprintln!("{label}: done in {:?}", t0.elapsed());
}

#[test]
fn corpus_dovecot_dot_to_courier() {
    realistic_mailbox_and_corpus(DOT, COURIER);
}

#[test]
fn corpus_courier_to_cyrus_slash() {
    realistic_mailbox_and_corpus(COURIER, CYRUS_SLASH);
}

#[test]
fn corpus_cyrus_slash_to_cyrus_dot() {
    realistic_mailbox_and_corpus(CYRUS_SLASH, CYRUS_DOT);
}

#[test]
fn corpus_cyrus_dot_to_courier() {
    realistic_mailbox_and_corpus(CYRUS_DOT, COURIER);
}

#[test]
fn corpus_courier_to_dovecot_slash() {
    realistic_mailbox_and_corpus(COURIER, SLASH);
}

#[test]
fn corpus_dovecot_slash_to_cyrus_dot() {
    realistic_mailbox_and_corpus(SLASH, CYRUS_DOT);
}

// ---------------------------------------------------------------------------------------
// Awkward folder names.
// ---------------------------------------------------------------------------------------

fn awkward_names() -> Vec<String> {
    let mut v: Vec<String> = imapsync_testkit::fixtures::folder_names()
        .expect("folder-names.txt")
        .into_iter()
        // a separator inside a name is a hierarchy level on one side and not on the other
        .filter(|n| !n.contains('.'))
        .collect();
    v.extend(["tag[1]", "[Gmail]", "a~b", "~home", "x{3}"].map(String::from));
    v
}

fn awkward_folder_names(f1: Flavour, f2: Flavour) {
    let p = pair(f1, f2);
    let label = p.label();
    let mut c1 = p.imap1();
    let mut made = Vec::new();
    for name in awkward_names() {
        let w = p.w1(&name);
        // parents of nested names are created implicitly (or already are)
        match c1.create(&w) {
            Ok(()) => {}
            // `[Gmail]` exists once `[Gmail]/All Mail` does on servers that create parents
            Err(e) if format!("{e:#}").contains("already exists") => {}
            Err(e) => {
                let why = name_refusal(f1, &name)
                    .unwrap_or_else(|| panic!("{label}: host1 refused {name:?}: {e:#}"));
                assert!(format!("{e:#}").contains(why), "{label}: {e:#}");
                continue;
            }
        }
        c1.append(&w, &["\\Seen"], None, &message(&name, &name, "body"))
            .unwrap_or_else(|e| panic!("{label}: append to {w}: {e:#}"));
        made.push(name);
    }
    let r = p.run(&[]);
    let s2 = p.snap2();
    let mut refused = 0;
    for name in &made {
        // where host2 keeps it, as the snapshots name it: host1's canonical name
        let key = canonical_name(&p.w1(name), p.h1.prefix(), p.h1.separator());
        match name_refusal(f2, name) {
            None => assert_eq!(
                s2.get(key.as_str()).map(Vec::len),
                Some(1),
                "{label}: {name:?} ({}) did not arrive; host2 has {:?}\n{}",
                p.w2(name),
                s2.keys(),
                r.show()
            ),
            Some(why) => {
                refused += 1;
                assert!(s2.get(key.as_str()).is_none_or(Vec::is_empty));
                let l = lines_with(&r, "Could not create folder");
                assert!(
                    l.iter().any(|l| l.contains(why)),
                    "{label}: refusal of {name:?} not reported with {why:?}:\n{}",
                    r.show()
                );
            }
        }
    }
    assert_eq!(r.errors(), refused, "{label}: {}", r.show());
    assert_eq!(r.code, if refused == 0 { 0 } else { 116 }, "{}", r.show());
    assert_eq!(
        r.num("Messages transferred"),
        made.len() as u64 - refused,
        "{label}: {}",
        r.show()
    );
    let r = p.run(&[]);
    assert_eq!(r.num("Messages transferred"), 0, "{label}: {}", r.show());
    assert_eq!(r.errors(), refused, "{label}: {}", r.show());
}

#[test]
fn names_dovecot_slash_to_courier() {
    awkward_folder_names(SLASH, COURIER);
}

#[test]
fn names_courier_to_cyrus_dot() {
    awkward_folder_names(COURIER, CYRUS_DOT);
}

#[test]
fn names_cyrus_slash_to_dovecot_dot() {
    awkward_folder_names(CYRUS_SLASH, DOT);
}

// ---------------------------------------------------------------------------------------
// Deletions.
// ---------------------------------------------------------------------------------------

fn deletions(f1: Flavour, f2: Flavour) {
    let p = pair(f1, f2);
    let label = p.label();
    let mut c1 = p.imap1();
    let box1 = p.w1("Box");
    c1.create(&box1).expect("create");
    for i in 0..6 {
        c1.append(&box1, &[], None, &message(&format!("del{i}"), "s", "b"))
            .expect("append");
    }
    let r = p.run(&[]);
    assert_eq!(r.code, 0, "{label}: {}", r.show());
    assert_eq!(r.num("Messages transferred"), 6);
    // host2 gets a message of its own; host1 loses two.
    p.imap2()
        .append(&p.w2("Box"), &[], None, &message("extra", "x", "x"))
        .expect("append extra");
    c1.select(&box1).expect("select");
    c1.store_flags("1:2", "+FLAGS", &["\\Deleted"])
        .expect("store");
    c1.expunge().expect("expunge");
    let r = p.run(&["--delete2"]);
    assert_eq!(r.code, 0, "{label}: {}", r.show());
    assert_eq!(
        r.num("Messages deleted on host2"),
        3,
        "{label}: {}",
        r.show()
    );
    let s2 = p.snap2();
    assert_eq!(s2.get("Box").map(Vec::len), Some(4), "{label}");
    let diffs = compare(
        &p.snap1(),
        &s2,
        &CompareOptions {
            allow_extra_empty: true,
            ..CompareOptions::default()
        },
    );
    assert!(diffs.is_empty(), "{label}:\n{}", diffs.join("\n"));
    // --delete1: host1 keeps nothing that is confirmed on host2.
    let r = p.run(&["--delete1"]);
    assert_eq!(r.code, 0, "{label}: {}", r.show());
    assert_eq!(
        r.num("Messages deleted on host1"),
        4,
        "{label}: {}",
        r.show()
    );
    assert_eq!(p.snap1().get("Box").map(Vec::len), Some(0), "{label}");
    assert_eq!(p.snap2().get("Box").map(Vec::len), Some(4), "{label}");
}

#[test]
fn deletions_courier_to_cyrus_slash() {
    deletions(COURIER, CYRUS_SLASH);
}

#[test]
fn deletions_cyrus_dot_to_courier() {
    deletions(CYRUS_DOT, COURIER);
}

// ---------------------------------------------------------------------------------------
// Automap.
// ---------------------------------------------------------------------------------------

/// `(canonical host1 folder, canonical host2 folder)` pairs automap must find.
fn automap(f1: Flavour, f2: Flavour, specials: &[(&str, &str)]) {
    let p = pair(f1, f2);
    let label = p.label();
    let mut c1 = p.imap1();
    for (from, _) in specials {
        let w = p.w1(from);
        let _ = c1.create(&w); // most already exist
        c1.append(&w, &["\\Seen"], None, &message(from, from, "b"))
            .unwrap_or_else(|e| panic!("{label}: append to {w}: {e:#}"));
    }
    let r = p.run(&["--automap", "--exclude", "All Mail|Important|Starred"]);
    assert_eq!(r.code, 0, "{label}: {}", r.show());
    assert!(
        r.has("Folders mapping from --automap feature"),
        "{}",
        r.show()
    );
    let s2 = p.snap2();
    for (from, to) in specials {
        assert_eq!(
            s2.get(*to).map(Vec::len),
            Some(1),
            "{label}: {from} should land in {to}; host2 has {:?}\n{}",
            s2.iter().map(|(k, v)| (k, v.len())).collect::<Vec<_>>(),
            r.show()
        );
    }
}

#[test]
fn automap_gmail_like_to_cyrus_slash() {
    automap(
        GMAIL,
        CYRUS_SLASH,
        &[
            ("[Gmail]/Sent Mail", "Sent"),
            ("[Gmail]/Trash", "Trash"),
            ("[Gmail]/Spam", "Junk"),
            ("[Gmail]/Drafts", "Drafts"),
        ],
    );
}

#[test]
fn automap_cyrus_dot_to_exchange_like() {
    automap(
        CYRUS_DOT,
        EXCHANGE,
        &[
            ("Sent", "Sent Items"),
            ("Trash", "Deleted Items"),
            ("Junk", "Junk Email"),
            ("Archive", "Archive"),
        ],
    );
}

#[test]
fn automap_gmail_like_to_courier() {
    automap(
        GMAIL,
        COURIER,
        &[
            ("[Gmail]/Sent Mail", "Sent"),
            ("[Gmail]/Trash", "Trash"),
            ("[Gmail]/Spam", "Junk"),
            ("[Gmail]/Drafts", "Drafts"),
        ],
    );
}

// ---------------------------------------------------------------------------------------
// Synchronizing literals at full speed.
// ---------------------------------------------------------------------------------------

/// Courier has no LITERAL+: every APPEND waits for its `+`. With delayed ACKs on our side and
/// Nagle on Courier's, each `+` came ~40 ms late (4 s for these 100 messages on one
/// connection); now the whole copy takes a fraction of that.
#[test]
fn courier_as_host2_is_not_stalled_by_synchronizing_literals() {
    let p = pair(SLASH, COURIER);
    let mut c1 = p.imap1();
    let body = "x".repeat(3000);
    for i in 0..100 {
        c1.append(
            "INBOX",
            &[],
            None,
            &message(&format!("fast{i}"), "s", &body),
        )
        .expect("append");
    }
    let t = Instant::now();
    let r = p.run(&["--connections1", "1", "--connections2", "1"]);
    let took = t.elapsed();
    eprintln!("TOOK {took:?}");
    assert_eq!(r.code, 0, "{}", r.show());
    assert_eq!(r.num("Messages transferred"), 100, "{}", r.show());
    assert!(
        took < Duration::from_secs(4),
        "100 APPENDs to Courier took {took:?}"
    );
}
