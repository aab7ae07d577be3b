//! The fuzz targets on stable: every seed of `fuzz/corpus/<target>/` and thousands of
//! deterministic mutations of them go through the same checks as the cargo-fuzz targets
//! ([`imapsync_proto::fuzzing`]), plus the hostile cases pinned one by one.
//!
//! `FUZZ_ITERATIONS=200000 cargo test -p imapsync-proto --release --test fuzz_corpus` runs a
//! longer campaign (default 20,000 mutated inputs per target); `FUZZ_SEED` changes the seed.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use imapsync_proto::Bytes;
use imapsync_proto::framer::{Event, Frame, FrameError, Framer, Limits};
use imapsync_proto::fuzzing::{self, Check, SplitMix64, TARGETS};
use imapsync_proto::response::{
    BodyData, Code, Response, StatusItems, StatusKind, Untagged, parse,
};

// ---------------------------------------------------------------------------------------------
// corpus replay and mutations

fn corpus_dir(target: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target)
}

/// The seed files of a target, sorted by name.
fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = corpus_dir(target);
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("corpus directory {}: {e}", dir.display()))
        .map(|e| {
            let path = e.expect("directory entry").path();
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            (name, std::fs::read(&path).expect("corpus file"))
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "empty corpus {}", dir.display());
    files
}

fn check_of(target: &str) -> Check {
    TARGETS
        .iter()
        .find(|(n, _)| *n == target)
        .map(|(_, c)| *c)
        .expect("known target")
}

#[test]
fn every_target_has_a_corpus_and_a_fuzz_target() {
    let fuzz = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    for (name, _) in TARGETS {
        assert!(corpus_dir(name).is_dir(), "no corpus for {name}");
        let target = fuzz.join("fuzz_targets").join(format!("{name}.rs"));
        let src = std::fs::read_to_string(&target).expect("fuzz target source");
        assert!(
            src.contains(&format!("fuzzing::{name}(")),
            "{} does not call fuzzing::{name}",
            target.display()
        );
    }
    let manifest = std::fs::read_to_string(fuzz.join("Cargo.toml")).expect("fuzz Cargo.toml");
    for (name, _) in TARGETS {
        assert!(
            manifest.contains(&format!("name = \"{name}\"")),
            "no [[bin]] {name}"
        );
    }
}

#[test]
fn corpus_replays_cleanly() {
    let mut total = 0;
    let started = Instant::now();
    let mut failures = Vec::new();
    for (target, check) in TARGETS {
        let files = corpus(target);
        total += files.len();
        for (name, data) in &files {
            if let Err(v) = check(data) {
                failures.push(format!("{target}/{name}: {v}"));
            }
        }
    }
    eprintln!("replayed {total} corpus files in {:.2?}", started.elapsed());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Bytes and fragments worth inserting into IMAP-ish input.
const TOKENS: &[&[u8]] = &[
    b"{",
    b"}",
    b"{5}\r\n",
    b"{0}\r\n",
    b"{3+}\r\n",
    b"~{3}\r\n",
    b"{999999999}\r\n",
    b"{4294967296}\r\n",
    b"{18446744073709551616}\r\n",
    b"\r\n",
    b"\n",
    b"\r",
    b"\"",
    b"\\",
    b"\\\"",
    b"(",
    b")",
    b"[",
    b"]",
    b"<0>",
    b"NIL",
    b" ",
    b"* ",
    b"* 1 FETCH (",
    b"BODY[] ",
    b"BODY[HEADER.FIELDS (MESSAGE-ID)] ",
    b"UID 7 ",
    b"FLAGS (\\Seen) ",
    b"X-GM-LABELS (\"\\\\Inbox\" foo) ",
    b"EMAILID (M1) ",
    b"a1 OK ",
    b"a1 NO [OVERQUOTA] ",
    b"[APPENDUID 1 2] ",
    b"+ ",
    b"\x00",
    b"\xff",
    b"\xc3\xa9",
    b"&",
    b"&-",
    b"&AOk-",
    b"-",
    b":",
    b",",
    b"*",
    b"4294967295",
    b"0",
    b"99999999999999999999",
];

/// Longest mutated input (the checks are linear, this keeps debug runs short).
const MAX_MUTANT: usize = 2048;

fn window(rng: &mut SplitMix64, data: &[u8], max: usize) -> Vec<u8> {
    if data.len() <= max {
        return data.to_vec();
    }
    let start = rng.below(data.len() - max + 1);
    data[start..start + max].to_vec()
}

fn mutate(rng: &mut SplitMix64, base: &[u8], pool: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut v = window(rng, base, MAX_MUTANT);
    for _ in 0..1 + rng.below(5) {
        let len = v.len();
        match rng.below(11) {
            0 if len > 0 => {
                let i = rng.below(len);
                v[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                v[i] = rng.next_u64() as u8;
            }
            2 => {
                let t = TOKENS[rng.below(TOKENS.len())];
                let i = rng.below(len + 1);
                v.splice(i..i, t.iter().copied());
            }
            3 if len > 0 => {
                let i = rng.below(len);
                let n = 1 + rng.below((len - i).min(32));
                v.drain(i..i + n);
            }
            4 if len > 0 => {
                let i = rng.below(len);
                let n = 1 + rng.below((len - i).min(64));
                let dup = v[i..i + n].to_vec();
                let at = rng.below(len + 1);
                v.splice(at..at, dup);
            }
            5 => {
                let other = &pool[rng.below(pool.len())].1;
                let max = 1 + rng.below(256);
                let piece = window(rng, other, max);
                let at = rng.below(len + 1);
                v.splice(at..at, piece);
            }
            6 if len > 0 => v.truncate(rng.below(len)),
            7 => {
                // Replace a digit with a big number (sizes, UIDs, literal lengths).
                if let Some(i) = (0..len)
                    .map(|k| (k + rng.below(len)) % len)
                    .find(|&k| v[k].is_ascii_digit())
                {
                    let n = [u64::from(u32::MAX), u64::MAX, 0, 1 << 32, 999_999_999][rng.below(5)];
                    v.splice(i..i + 1, n.to_string().into_bytes());
                }
            }
            8 => {
                let t = TOKENS[rng.below(TOKENS.len())];
                let reps = 1 + rng.below(300);
                let at = rng.below(len + 1);
                v.splice(at..at, t.iter().copied().cycle().take(t.len() * reps));
            }
            9 if len > 1 => {
                let (a, b) = (rng.below(len), rng.below(len));
                v.swap(a, b);
            }
            _ => {
                let t = TOKENS[rng.below(TOKENS.len())];
                v.extend_from_slice(t);
            }
        }
    }
    v.truncate(MAX_MUTANT * 2);
    v
}

fn iterations() -> usize {
    std::env::var("FUZZ_ITERATIONS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_000)
}

fn fuzz_seed() -> u64 {
    std::env::var("FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x1A9_5EED)
}

/// Runs `iterations()` mutated inputs through a target; a violation or a panic fails the test
/// with the input in hex (add it to the corpus once fixed).
fn mutations(target: &str) {
    let check = check_of(target);
    let pool = corpus(target);
    let mut rng = SplitMix64(fuzz_seed() ^ fuzzing::seed_of(target.as_bytes()));
    let n = iterations();
    let started = Instant::now();
    for i in 0..n {
        let base = &pool[rng.below(pool.len())].1;
        let input = mutate(&mut rng, base, &pool);
        let outcome = std::panic::catch_unwind(|| check(&input));
        let hex = || -> String { input.iter().map(|b| format!("{b:02x}")).collect() };
        match outcome {
            Ok(Ok(())) => {}
            Ok(Err(v)) => panic!("{target} mutation #{i}: {v}\ninput (hex): {}", hex()),
            Err(_) => panic!("{target} mutation #{i} panicked\ninput (hex): {}", hex()),
        }
    }
    eprintln!("{target}: {n} mutated inputs in {:.2?}", started.elapsed());
}

#[test]
fn mutations_framer() {
    mutations("framer");
}

#[test]
fn mutations_response() {
    mutations("response");
}

#[test]
fn mutations_roundtrip_command() {
    mutations("roundtrip_command");
}

#[test]
fn mutations_mutf7() {
    mutations("mutf7");
}

#[test]
fn mutations_seqset() {
    mutations("seqset");
}

// ---------------------------------------------------------------------------------------------
// hostile inputs, one by one

fn drain(f: &mut Framer) -> Result<Vec<Event>, FrameError> {
    let mut out = Vec::new();
    while let Some(ev) = f.next_event()? {
        out.push(ev);
    }
    Ok(out)
}

fn responses(events: &[Event]) -> Vec<Bytes> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Response(f) => Some(f.bytes.clone()),
            _ => None,
        })
        .collect()
}

fn frame(s: &[u8]) -> Frame {
    Frame {
        bytes: Bytes::copy_from_slice(s),
        streamed: vec![],
    }
}

/// The engine's limits while no command streams: literals are kept up to `max_response`.
fn collecting() -> Limits {
    Limits {
        stream_threshold: Limits::default().max_response as u64,
        ..Limits::default()
    }
}

#[test]
fn lying_literal_size_waits_without_reserving_the_announced_size() {
    // Below max_response (kept whole): the framer waits for the 60 MB, allocating nothing
    // like it up front.
    let mut f = Framer::new(collecting());
    f.feed(b"* 1 FETCH (UID 1 BODY[] {60000000}\r\nFrom: x\r\n\r\nshort\r\n");
    assert_eq!(f.next_event(), Ok(None));
    assert!(!f.is_idle());
    assert!(
        f.buffer().capacity() < 1 << 20,
        "{} bytes reserved for a literal that may never come",
        f.buffer().capacity()
    );
    // More data that is still short: still waiting, still no big reservation.
    f.feed(&[b'x'; 100_000]);
    assert_eq!(f.next_event(), Ok(None));
    assert!(f.buffer().capacity() < 2 << 20);

    // Above the streaming threshold: streamed, the short body is handed out as chunks and the
    // framer waits for the rest.
    let mut f = Framer::default();
    f.feed(b"* 1 FETCH (UID 1 BODY[] {999999999}\r\nshort body)\r\na1 OK done\r\n");
    let events = drain(&mut f).expect("no framing error");
    assert!(matches!(
        &events[0],
        Event::LiteralStart {
            len: 999_999_999,
            ..
        }
    ));
    let got: Vec<u8> = events[1..]
        .iter()
        .flat_map(|e| match e {
            Event::LiteralChunk(c) => c.to_vec(),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(got, b"short body)\r\na1 OK done\r\n");
    assert!(f.is_streaming());
    assert!(f.buffer().capacity() < 1 << 20);
}

#[test]
fn threshold_lowered_while_a_kept_literal_is_awaited_streams_it() {
    // The engine lowers the threshold when a streaming command registers: the literal being
    // awaited is then streamed, as `set_stream_threshold` says ("at the next literal" event).
    let mut f = Framer::new(collecting());
    f.feed(b"* 1 FETCH (UID 4 BODY[] {100}\r\nabc");
    assert_eq!(f.next_event(), Ok(None));
    f.set_stream_threshold(10);
    let events = drain(&mut f).expect("framing");
    assert_eq!(
        events,
        vec![
            Event::LiteralStart {
                len: 100,
                head: Bytes::from_static(b"* 1 FETCH (UID 4 BODY[] {100}\r\n")
            },
            Event::LiteralChunk(Bytes::from_static(b"abc")),
        ]
    );
}

#[test]
fn lying_literal_size_above_max_response_is_refused() {
    let mut f = Framer::new(Limits {
        stream_threshold: u64::MAX,
        max_response: 1 << 20,
        ..Limits::default()
    });
    f.feed(b"* 1 FETCH (UID 1 BODY[] {999999999}\r\nshort body)\r\n");
    assert_eq!(
        f.next_event(),
        Err(FrameError::ResponseTooLong { limit: 1 << 20 })
    );
}

#[test]
fn literal_above_max_literal_is_refused() {
    for header in [
        &b"{4294967296}"[..],
        b"{4294967296+}",
        b"~{18446744073709551615}",
    ] {
        let mut f = Framer::default();
        f.feed(b"* 1 FETCH (BODY[] ");
        f.feed(header);
        f.feed(b"\r\nabc)\r\n");
        assert!(
            matches!(f.next_event(), Err(FrameError::LiteralTooLong { limit, .. }) if limit == u64::from(u32::MAX)),
            "{}",
            String::from_utf8_lossy(header)
        );
    }
    // The largest accepted literal is streamed.
    let mut f = Framer::default();
    f.feed(b"* 1 FETCH (BODY[] {4294967295}\r\nabc");
    assert!(matches!(
        f.next_event(),
        Ok(Some(Event::LiteralStart {
            len: 4_294_967_295,
            ..
        }))
    ));
}

#[test]
fn literal_of_u64_max_with_unbounded_limits_does_not_overflow() {
    let mut f = Framer::new(Limits {
        stream_threshold: u64::MAX,
        chunk_size: 16,
        max_response: 1 << 20,
        max_literal: u64::MAX,
    });
    f.feed(b"* 1 FETCH (BODY[] {18446744073709551615}\r\nabc)\r\n");
    assert_eq!(
        f.next_event(),
        Err(FrameError::ResponseTooLong { limit: 1 << 20 })
    );
}

#[test]
fn literal_length_overflowing_u64_is_not_a_literal() {
    // 2^64 is no number the framer accepts: the line ends the response, the parser refuses it,
    // and the next response is read normally.
    let mut f = Framer::default();
    f.feed(b"* 1 FETCH (UID 1 BODY[] {18446744073709551616}\r\nabc)\r\n* 2 EXISTS\r\n");
    let events = drain(&mut f).expect("framing");
    let r = responses(&events);
    assert_eq!(r.len(), 3);
    assert!(parse(&frame(&r[0])).is_err());
    assert_eq!(
        parse(&frame(&r[2])),
        Ok(Response::Untagged(Untagged::Exists(2)))
    );
}

#[test]
fn unterminated_line_longer_than_max_response_is_refused() {
    let limits = Limits {
        max_response: 1000,
        ..Limits::default()
    };
    // Arriving bit by bit.
    let mut f = Framer::new(limits);
    let mut err = None;
    for _ in 0..200 {
        f.feed(b"1234567 ");
        match f.next_event() {
            Ok(None) => {}
            Err(e) => {
                err = Some(e);
                break;
            }
            Ok(Some(ev)) => panic!("unexpected {ev:?}"),
        }
    }
    assert_eq!(err, Some(FrameError::ResponseTooLong { limit: 1000 }));
    // Arriving in one read, terminated or not: the same answer.
    for end in [&b""[..], b"\r\n"] {
        let mut f = Framer::new(limits);
        f.feed(b"* SEARCH ");
        f.feed(&b"1234567 ".repeat(200));
        f.feed(end);
        assert_eq!(
            f.next_event(),
            Err(FrameError::ResponseTooLong { limit: 1000 })
        );
    }
    // Exactly at the limit is fine.
    let mut f = Framer::new(limits);
    let mut line = b"* SEARCH".to_vec();
    line.resize(998, b' ');
    line.extend_from_slice(b"\r\n");
    f.feed(&line);
    assert_eq!(responses(&drain(&mut f).expect("framing")).len(), 1);
}

#[test]
fn response_of_kept_literals_above_max_response_is_refused_however_it_arrives() {
    let limits = Limits {
        stream_threshold: u64::MAX,
        max_response: 100,
        ..Limits::default()
    };
    let mut input = b"* 1 FETCH (BODY[] {90}\r\n".to_vec();
    input.extend_from_slice(&[b'x'; 90]);
    input.extend_from_slice(b")\r\n");
    for step in [1, 7, input.len()] {
        let mut f = Framer::new(limits);
        let mut err = None;
        for piece in input.chunks(step) {
            f.feed(piece);
            match drain(&mut f) {
                Ok(ev) => assert!(ev.is_empty(), "{ev:?}"),
                Err(e) => {
                    err = Some(e);
                    break;
                }
            }
        }
        assert_eq!(
            err,
            Some(FrameError::ResponseTooLong { limit: 100 }),
            "step {step}"
        );
    }
}

#[test]
fn long_line_arriving_in_small_reads_is_scanned_once() {
    // 8 MB in 512-byte reads: rescanning the pending line from its start at every read would
    // cost ~64 GB of scanning.
    let mut f = Framer::default();
    let piece = [b'7'; 512];
    let started = Instant::now();
    f.feed(b"* SEARCH ");
    for _ in 0..(8 << 20) / 512 {
        f.feed(&piece);
        assert_eq!(f.next_event(), Ok(None));
    }
    f.feed(b"\r\n");
    assert!(matches!(f.next_event(), Ok(Some(Event::Response(_)))));
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "quadratic scanning: {:.2?}",
        started.elapsed()
    );
}

#[test]
fn zero_chunk_size_still_makes_progress() {
    let mut f = Framer::new(Limits {
        stream_threshold: 2,
        chunk_size: 0,
        ..Limits::default()
    });
    f.feed(b"* 1 FETCH (BODY[] {5}\r\nabcde)\r\n");
    let events = drain(&mut f).expect("framing");
    assert_eq!(events.len(), 1 + 5 + 1 + 1, "{events:?}");
}

#[test]
fn garbage_after_a_tagged_response_does_not_desynchronise() {
    let mut f = Framer::default();
    f.feed(b"a1 OK done\r\ngarbage here\r\n\x00\x01\xff\r\n* 2 EXISTS\r\n");
    f.feed(b"a2 OK [APPENDUID 38505 3955] APPEND completed)) \"unbalanced {\r\n* 4 EXISTS\r\n");
    f.feed(b"a3 NO [OVERQUOTA] Quota exceeded {5}\r\n* 5 EXISTS\r\n");
    let r = responses(&drain(&mut f).expect("framing"));
    let parsed: Vec<_> = r.iter().map(|b| parse(&frame(b))).collect();
    assert_eq!(parsed.len(), 8, "{r:?}");
    assert!(
        matches!(&parsed[0], Ok(Response::Tagged { tag, status }) if tag == "a1" && status.is_ok())
    );
    assert!(parsed[1].is_err());
    assert!(parsed[2].is_err());
    assert_eq!(parsed[3], Ok(Response::Untagged(Untagged::Exists(2))));
    let Ok(Response::Tagged { tag, status }) = &parsed[4] else {
        panic!("{:?}", parsed[4])
    };
    assert_eq!(tag, "a2");
    assert_eq!(status.code.as_ref().map(Code::name), Some("APPENDUID"));
    assert_eq!(parsed[5], Ok(Response::Untagged(Untagged::Exists(4))));
    let Ok(Response::Tagged { status, .. }) = &parsed[6] else {
        panic!("{:?}", parsed[6])
    };
    assert_eq!(status.kind, StatusKind::No);
    assert_eq!(status.code.as_ref().map(Code::name), Some("OVERQUOTA"));
    assert_eq!(parsed[7], Ok(Response::Untagged(Untagged::Exists(5))));
}

#[test]
fn unknown_fetch_items_are_skipped_and_known_ones_parsed() {
    let r = parse(&frame(
        b"* 1 FETCH (X-GM-LABELS (\"\\\\Inbox\" foo) UID 5 EMAILID (M123) X-GM-MSGID 1278455344230334865 \
X-GM-THRID 1266894439832287888 THREADID (T64b478a75b7ea9d3) SAVEDATE \"17-Jul-1996 02:44:25 -0700\" \
PREVIEW \"hello\" X-FOO[bar]<1> {3}\r\nabc BINARY.SIZE[1] 200 X-NESTED (a (b (c {2}\r\n))) NIL) \"d\\\"\") \
FLAGS (\\Seen $Forwarded) MODSEQ (624140003) RFC822.SIZE 4286)\r\n",
    ));
    let Ok(Response::Untagged(Untagged::Fetch { seq, items })) = r else {
        panic!("{r:?}")
    };
    assert_eq!(seq, 1);
    assert_eq!(items.uid, Some(5));
    assert_eq!(items.emailid.as_deref(), Some("M123"));
    assert_eq!(items.x_gm_msgid, Some(1278455344230334865));
    assert_eq!(
        items.x_gm_labels,
        Some(vec!["\\Inbox".to_string(), "foo".to_string()])
    );
    assert_eq!(
        items.flags,
        Some(vec!["\\Seen".to_string(), "$Forwarded".to_string()])
    );
    assert_eq!(items.modseq, Some(624140003));
    assert_eq!(items.rfc822_size, Some(4286));
    assert!(items.sections.is_empty());

    let r = parse(&frame(
        b"* 2 FETCH (X-UNKNOWN (a (b (c)) \"d\" NIL {2}\r\nef) UID 6 \
BODY[HEADER.FIELDS (MESSAGE-ID)] {21}\r\nMessage-ID: <x@y>\r\n\r\n)\r\n",
    ));
    let Ok(Response::Untagged(Untagged::Fetch { items, .. })) = r else {
        panic!("{r:?}")
    };
    assert_eq!(items.uid, Some(6));
    assert_eq!(
        items.section("HEADER.FIELDS").map(|s| s.data.clone()),
        Some(BodyData::Bytes(Bytes::from_static(
            b"Message-ID: <x@y>\r\n\r\n"
        )))
    );
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    for depth in [300, 10_000, 100_000] {
        for (open, close) in [(b'(', b')'), (b'[', b']')] {
            let mut s = b"* 1 FETCH (UID 1 BODYSTRUCTURE ".to_vec();
            s.extend(std::iter::repeat_n(open, depth));
            s.extend(std::iter::repeat_n(close, depth));
            s.extend_from_slice(b")\r\n");
            assert!(parse(&frame(&s)).is_err(), "depth {depth}");
        }
    }
    // A realistic depth parses, and the items after it too.
    let mut s = b"* 1 FETCH (UID 1 BODYSTRUCTURE ".to_vec();
    s.extend(std::iter::repeat_n(b'(', 200));
    s.extend_from_slice(b"\"text\" \"plain\" NIL");
    s.extend(std::iter::repeat_n(b')', 200));
    s.extend_from_slice(b" FLAGS (\\Seen))\r\n");
    let Ok(Response::Untagged(Untagged::Fetch { items, .. })) = parse(&frame(&s)) else {
        panic!("200 levels")
    };
    assert_eq!(items.flags, Some(vec!["\\Seen".to_string()]));
}

#[test]
fn literals_inside_list_status_and_envelope() {
    let mut f = Framer::default();
    f.feed(
        b"* LIST (\\HasNoChildren) \"/\" {11}\r\nSent \"Items\r\n\
* STATUS {5}\r\nINBOX (MESSAGES 3 UIDNEXT 7)\r\n\
* 1 FETCH (UID 1 ENVELOPE ({31}\r\nWed, 1 Nov 2023 17:32:10 -0800 {4}\r\nSubj ((NIL NIL {3}\r\nbob \"example.org\")) NIL NIL NIL NIL NIL NIL {5}\r\n<a@b>) FLAGS (\\Seen))\r\n\
* 2 FETCH (INTERNALDATE {26}\r\n17-Jul-1996 02:44:25 -0700 UID 2)\r\n",
    );
    let r = responses(&drain(&mut f).expect("framing"));
    let p: Vec<_> = r.iter().map(|b| parse(&frame(b)).expect("parse")).collect();
    let Response::Untagged(Untagged::List(l)) = &p[0] else {
        panic!("{:?}", p[0])
    };
    assert_eq!(l.name, b"Sent \"Items");
    assert_eq!(
        p[1],
        Response::Untagged(Untagged::MailboxStatus {
            mailbox: b"INBOX".to_vec(),
            items: StatusItems {
                messages: Some(3),
                uidnext: Some(7),
                ..Default::default()
            }
        })
    );
    let Response::Untagged(Untagged::Fetch { items, .. }) = &p[2] else {
        panic!("{:?}", p[2])
    };
    assert_eq!(
        (items.uid, items.flags.clone()),
        (Some(1), Some(vec!["\\Seen".into()]))
    );
    let Response::Untagged(Untagged::Fetch { items, .. }) = &p[3] else {
        panic!("{:?}", p[3])
    };
    assert_eq!(
        items.internaldate.as_deref(),
        Some("17-Jul-1996 02:44:25 -0700")
    );
    assert_eq!(items.uid, Some(2));
}

#[test]
fn nul_and_8bit_bytes_are_kept() {
    let mut f = Framer::default();
    f.feed(b"* LIST () \"/\" {7}\r\nCaf\xc3\xa9\x00\xff\r\n* 1 FETCH (UID 1 BODY[] {4}\r\n\x00\x80\r\n)\r\n");
    let r = responses(&drain(&mut f).expect("framing"));
    let Ok(Response::Untagged(Untagged::List(l))) = parse(&frame(&r[0])) else {
        panic!()
    };
    assert_eq!(l.name, b"Caf\xc3\xa9\x00\xff");
    let Ok(Response::Untagged(Untagged::Fetch { items, .. })) = parse(&frame(&r[1])) else {
        panic!()
    };
    assert_eq!(
        items.sections[0].data,
        BodyData::Bytes(Bytes::from_static(b"\x00\x80\r\n"))
    );
}

/// Dovecot sends INTERNALDATE with a space-padded day (`" 7-Jul-1996 ..."`), which the sync
/// passes to the APPEND builders; they must send a day RFC 3501's `date-day-fixed` (and
/// imap-codec) accept: `"07-Jul-1996 ..."`, not a trimmed `"7-Jul-1996 ..."`.
#[test]
fn append_date_with_space_padded_day_roundtrips() {
    use imap_codec::CommandCodec;
    use imap_codec::decode::Decoder;
    let c = imapsync_proto::command::cmd::append_bytes(
        b"INBOX",
        &[],
        Some(" 7-Jul-1996 02:44:25 -0700"),
        Bytes::from_static(b"x\r\n"),
    );
    let wire = c.to_wire("a", &[]);
    assert!(
        CommandCodec::default().decode_static(&wire).is_ok(),
        "{}",
        String::from_utf8_lossy(&wire)
    );
}
