//! Corpus generation is deterministic and realistic; fill is fast and exact.

use std::collections::BTreeMap;
use std::time::Instant;

use imapsync_testkit::corpus::{CorpusSpec, DEFAULT_FLAGS};
use imapsync_testkit::imap::message_id_of;
use imapsync_testkit::verify::{CompareOptions, canonical_snapshot, compare};
use imapsync_testkit::{Corpus, Dovecot, Layout, fill};

/// Pinned digest of `Corpus::small()`: if generation changes, benchmark numbers
/// and recorded expectations stop being comparable, so change this on purpose only.
const SMALL_DIGEST: &str = "68725ad8286920c307ae0f6374e232d1ce274acdcdcf5e1fe096da1a408609cf";

#[test]
fn same_seed_same_bytes() {
    let a = Corpus::small();
    let b = Corpus::small();
    assert_eq!(a, b);
    assert_eq!(a.digest(), b.digest());
    assert_eq!(a.digest(), SMALL_DIGEST);
    let mut spec = CorpusSpec::bench(300, 25);
    let x = Corpus::generate(&spec);
    assert_eq!(x.digest(), Corpus::generate(&spec).digest());
    spec.seed += 1;
    assert_ne!(x.digest(), Corpus::generate(&spec).digest());
}

fn headers_ok(b: &[u8]) -> bool {
    let text = String::from_utf8_lossy(b);
    let head = text.split("\r\n\r\n").next().unwrap_or("");
    ["From:", "To:", "Subject:", "Date:", "MIME-Version:"]
        .iter()
        .all(|h| head.contains(h))
}

#[test]
fn small_preset_has_the_edge_cases() {
    let c = Corpus::small();
    assert_eq!(c.folders.len(), 8);
    assert!(
        (55..=70).contains(&c.messages.len()),
        "{}",
        c.messages.len()
    );
    assert!(c.folders.iter().any(|f| f.needs_encoding));
    assert!(c.folders.iter().any(|f| f.name.contains('/')));
    assert!(c.folders.iter().any(|f| f.name.contains(' ')));
    let mut by_mid: BTreeMap<String, usize> = BTreeMap::new();
    for m in &c.messages {
        // CRLF only, no bare LF
        assert!(!m.bytes.windows(2).any(|w| w[1] == b'\n' && w[0] != b'\r'));
        assert!(headers_ok(&m.bytes));
        assert_eq!(m.message_id, message_id_of(&m.bytes));
        if let Some(id) = &m.message_id {
            *by_mid.entry(id.clone()).or_default() += 1;
        }
    }
    assert!(
        by_mid.values().any(|&n| n == 2),
        "a duplicate Message-ID pair"
    );
    let has = |h: &str, m: &[u8]| String::from_utf8_lossy(m).contains(h);
    assert!(
        c.messages
            .iter()
            .any(|m| m.message_id.is_none() && !has("Received:", &m.bytes))
    );
    assert!(
        c.messages
            .iter()
            .any(|m| m.message_id.is_none() && has("Received:", &m.bytes))
    );
    let flags = c.distinct_flags();
    assert!(
        flags.contains("$Forwarded") && flags.contains("NonJunk"),
        "{flags:?}"
    );
    assert!(c.messages.iter().any(|m| has("multipart/mixed", &m.bytes)));
    assert!(
        c.messages
            .iter()
            .any(|m| has("Content-Transfer-Encoding: base64", &m.bytes))
    );
}

#[test]
fn bench_preset_matches_its_description() {
    let t = Instant::now();
    let c = Corpus::bench(10_000, 25);
    let gen_time = t.elapsed();
    let total = c.total_bytes();
    eprintln!(
        "bench corpus: {} messages, {:.1} MB, {} folders, generated in {gen_time:?}",
        c.messages.len(),
        total as f64 / 1e6,
        c.folders.len()
    );
    assert_eq!(c.messages.len(), 10_000);
    assert_eq!(c.folders.len(), 25);
    assert!((530_000_000..=565_000_000).contains(&total), "{total}");
    assert_eq!(c.distinct_flags().len(), DEFAULT_FLAGS.len());
    assert_eq!(DEFAULT_FLAGS.len(), 12);
    let sizes: Vec<usize> = c.messages.iter().map(|m| m.bytes.len()).collect();
    let big = sizes.iter().filter(|&&s| s >= 1_000_000).count();
    let medium = sizes
        .iter()
        .filter(|&&s| (100_000..1_000_000).contains(&s))
        .count();
    let small = sizes
        .iter()
        .filter(|&&s| (2_000..=60_000).contains(&s))
        .count();
    assert!(big >= 20 && sizes.iter().all(|&s| s <= 10_100_000), "{big}");
    assert!(medium >= 300, "{medium}");
    assert!(small >= 9_000, "{small}");
    let years: std::collections::BTreeSet<i64> = c
        .messages
        .iter()
        .map(|m| m.internaldate / 31_556_952)
        .collect();
    assert!(years.len() >= 10, "internal dates spread over years");
    for f in &c.folders {
        assert!(
            c.messages_in(c.folders.iter().position(|x| x == f).unwrap())
                .count()
                > 50
        );
    }
}

#[test]
fn fill_2000_messages_is_fast_and_exact() {
    let d = Dovecot::builder(Layout::Slash)
        .fsync_never()
        .start()
        .unwrap();
    let corpus = Corpus::bench(2_000, 25);
    let r = fill(&d, "user1", "pass1", &corpus).unwrap();
    eprintln!(
        "fill: {} messages ({:.1} MB) in {:.2} s over {} connections = {:.0} msg/s, {:.1} MB/s",
        r.messages,
        r.bytes as f64 / 1e6,
        r.elapsed.as_secs_f64(),
        r.connections,
        r.msgs_per_sec(),
        r.mb_per_sec()
    );
    assert_eq!(r.messages, 2_000);
    assert!(r.elapsed.as_secs() < 60, "fill took {:?}", r.elapsed);
    // every message landed in its folder, in corpus order, with flags and date
    let mut c = d.connect("user1").unwrap();
    let snap = canonical_snapshot(&mut c, None).unwrap();
    assert_eq!(snap.len(), 25);
    for (i, f) in corpus.folders.iter().enumerate() {
        let got = &snap[&f.name];
        let want: Vec<_> = corpus.messages_in(i).collect();
        assert_eq!(got.len(), want.len(), "{}", f.name);
        for (g, w) in got.iter().zip(want) {
            assert_eq!(g.sha256, imapsync_testkit::imap::sha256_hex(&w.bytes));
            assert_eq!(g.flags, w.flags);
            assert_eq!(g.internaldate_epoch, w.internaldate);
            assert_eq!(g.message_id, w.message_id);
        }
    }
}

#[test]
fn fill_and_compare_across_layouts() {
    let corpus = Corpus::small();
    let dot = Dovecot::start(Layout::DotPrefix).unwrap();
    let slash = Dovecot::start(Layout::Slash).unwrap();
    let gmail = Dovecot::start(Layout::GmailLike).unwrap();
    for d in [&dot, &slash, &gmail] {
        fill(d, "user2", "pass2", &corpus).unwrap();
    }
    let snap = |d: &Dovecot| {
        let mut c = d.connect("user2").unwrap();
        canonical_snapshot(&mut c, None).unwrap()
    };
    let (a, b, g) = (snap(&dot), snap(&slash), snap(&gmail));
    assert_eq!(a.len(), 8);
    let n: usize = a.values().map(Vec::len).sum();
    assert_eq!(n, corpus.messages.len());
    assert!(compare(&a, &b, &CompareOptions::default()).is_empty());
    // the Gmail side has its own empty [Gmail]/... folders
    let diffs = compare(&a, &g, &CompareOptions::default());
    assert_eq!(diffs.len(), 7, "{diffs:#?}");
    let lenient = CompareOptions {
        allow_extra_empty: true,
        ..CompareOptions::default()
    };
    assert!(compare(&a, &g, &lenient).is_empty());
    // a changed flag, a deleted message and a renamed folder are all reported
    let mut c = slash.connect("user2").unwrap();
    c.select("INBOX").unwrap();
    let uids = c.uid_search("ALL").unwrap();
    c.store_flags(&uids[0].to_string(), "+FLAGS.SILENT", &["$Changed"])
        .unwrap();
    c.store_flags(&uids[1].to_string(), "+FLAGS.SILENT", &["\\Deleted"])
        .unwrap();
    c.expunge().unwrap();
    c.rename("Old Mail", "Older Mail").unwrap();
    let diffs = compare(&a, &snap(&slash), &CompareOptions::default());
    let text = diffs.join("\n");
    assert!(text.contains("flags differ"), "{text}");
    assert!(text.contains("missing on host2"), "{text}");
    assert!(text.contains("\"Old Mail\""), "{text}");
    assert!(text.contains("\"Older Mail\""), "{text}");
    // mapping fixes the rename
    let mapped = CompareOptions {
        map: vec![("Old Mail".into(), "Older Mail".into())],
        ..CompareOptions::default()
    };
    assert!(
        !compare(&a, &snap(&slash), &mapped)
            .join("\n")
            .contains("Old Mail")
    );
}

#[test]
fn fill_without_literal_plus_or_multiappend() {
    let d = Dovecot::builder(Layout::DotPrefix)
        .remove_capabilities(&["LITERAL+", "MULTIAPPEND"])
        .start()
        .unwrap();
    let corpus = Corpus::small();
    let r = fill(&d, "user3", "pass3", &corpus).unwrap();
    eprintln!(
        "fill with synchronizing literals: {} messages in {:?}",
        r.messages, r.elapsed
    );
    let reference = Dovecot::start(Layout::Slash).unwrap();
    fill(&reference, "user3", "pass3", &corpus).unwrap();
    let snap = |d: &Dovecot| {
        let mut c = d.connect("user3").unwrap();
        canonical_snapshot(&mut c, None).unwrap()
    };
    assert!(compare(&snap(&d), &snap(&reference), &CompareOptions::default()).is_empty());
}
