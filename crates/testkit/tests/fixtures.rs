//! Every edge-case fixture survives APPEND + FETCH byte-exactly, except where
//! SERVER-BEHAVIOUR.tsv records that Dovecot rewrites it.

use imapsync_testkit::date::parse_internaldate;
use imapsync_testkit::fixtures::{
    Verdict, crlf_normalise, fixtures, folder_names, server_behaviour,
};
use imapsync_testkit::imap::{message_id_of, sha256_hex};
use imapsync_testkit::{Dovecot, Layout};

#[test]
fn fixture_files_are_complete() {
    let f = fixtures().unwrap();
    assert_eq!(f.len(), 39);
    assert!(
        f.iter().all(|x| !x.description.is_empty()),
        "MANIFEST covers every file"
    );
    assert!(
        f.iter().all(|x| x.dovecot.is_some()),
        "SERVER-BEHAVIOUR covers every file"
    );
    let big = f.iter().find(|x| x.name.starts_with("33-")).unwrap();
    assert_eq!(big.bytes.len(), 1_076_639);
    assert!(server_behaviour().unwrap().len() > 300);
    assert!(folder_names().unwrap().contains(&"Entwürfe".to_string()));
    let dir = imapsync_testkit::fixtures::fixtures_dir();
    for lic in [
        "Apache-2.0.txt",
        "MimeKit-MIT.txt",
        "mime4j-NOTICE.txt",
        "stalwart-mail-parser-MIT.txt",
    ] {
        assert!(dir.join("licenses").join(lic).exists(), "{lic}");
    }
    assert!(dir.join("README.md").exists());
    let pairs = imapsync_testkit::fixtures::fixture_bytes().unwrap();
    assert_eq!(pairs.len(), 39);
    assert_eq!(pairs[0].0, "01-baseline-crlf.eml");
}

/// What Dovecot returns for a fixture with the given verdict.
fn expected(bytes: &[u8], v: &Verdict) -> Vec<u8> {
    match v {
        Verdict::Exact => bytes.to_vec(),
        Verdict::CrlfNorm => crlf_normalise(bytes),
        // observed: CRLF normalisation plus NUL bytes replaced by 0x80 (non-BINARY FETCH)
        Verdict::Modified => crlf_normalise(bytes)
            .into_iter()
            .map(|b| if b == 0 { 0x80 } else { b })
            .collect(),
        other => panic!("unexpected Dovecot verdict {other:?}"),
    }
}

#[test]
fn append_and_snapshot_round_trip_every_fixture() {
    let all = fixtures().unwrap();
    for (layout, literal_plus) in [(Layout::Slash, true), (Layout::DotPrefix, false)] {
        let d = Dovecot::start(layout).unwrap();
        let mut c = d.connect("user1").unwrap();
        c.set_literal_plus(Some(literal_plus));
        let folder = layout.wire_name("Fixtures");
        c.create(&folder).unwrap();
        let flag_sets: [&[&str]; 4] = [
            &[],
            &["\\Seen"],
            &["\\Answered", "$Forwarded"],
            &["\\Flagged", "NonJunk", "\\Seen"],
        ];
        let mut uids = Vec::new();
        for (i, f) in all.iter().enumerate() {
            let date = format!(
                "{:02}-Mar-20{:02} 1{}:30:00 +0{}00",
                i % 28 + 1,
                i % 20,
                i % 10,
                i % 10
            );
            let flags = flag_sets[i % 4];
            let uid = c.append(&folder, flags, Some(&date), &f.bytes).unwrap();
            uids.push((uid, date, flags));
        }
        c.examine(&folder).unwrap();
        let snap = c.folder_snapshot(&folder).unwrap();
        assert_eq!(snap.len(), all.len());
        let mut rewritten = Vec::new();
        for ((f, (uid, date, flags)), m) in all.iter().zip(&uids).zip(&snap) {
            assert_eq!(m.uid, *uid, "{}", f.name);
            let verdict = f.dovecot.as_ref().unwrap();
            let want = expected(&f.bytes, verdict);
            let body = c.fetch_body(*uid).unwrap();
            assert!(
                body == want,
                "{}: {verdict:?} expectation not met ({} vs {} bytes)",
                f.name,
                body.len(),
                want.len()
            );
            if *verdict != Verdict::Exact {
                rewritten.push(f.name.clone());
            }
            assert_eq!(m.sha256, sha256_hex(&body), "{}", f.name);
            assert_eq!(m.size, body.len() as u64, "{}", f.name);
            let mut fl: Vec<String> = flags.iter().map(|s| s.to_string()).collect();
            fl.sort();
            assert_eq!(m.flags, fl, "{}", f.name);
            assert_eq!(
                m.internaldate_epoch,
                parse_internaldate(date).unwrap(),
                "{}",
                f.name
            );
            assert_eq!(m.message_id, message_id_of(&body), "{}", f.name);
        }
        assert_eq!(rewritten.len(), 6, "{rewritten:?}");
        // the whole-mailbox snapshot sees the same folder
        let whole = c.snapshot().unwrap();
        assert_eq!(whole.get(&folder), Some(&snap));
        assert_eq!(whole.get("INBOX").map(Vec::len), Some(0));
    }
}
