//! The checks behind the fuzz targets, shared by cargo-fuzz and the stable replay test.
//!
//! Each function takes arbitrary bytes, drives one part of this crate with them and returns
//! `Err(Violation)` when an invariant is broken; a panic inside the crate simply propagates
//! (that is what a fuzzer looks for). The cargo-fuzz targets in `crates/proto/fuzz/` (nightly
//! only) call them from `fuzz_target!`, and `tests/fuzz_corpus.rs` replays the seed corpus
//! and mutations of it through them on stable. Nothing here is used on a production path.
//!
//! | target | input | checked |
//! |---|---|---|
//! | [`framer`] | a server byte stream | same events for every chunking; literal chunks add up to the announced length; responses within `max_response`; the events rebuild the input; no up-front allocation of announced sizes |
//! | [`response`] | a server byte stream | [`parse`](crate::response::parse) never panics, on the raw bytes and on every framed response; an unknown FETCH item never changes the known ones |
//! | [`roundtrip_command`] | NUL-separated fields: a command name, then its arguments | the builders of [`command::cmd`](crate::command::cmd) produce bytes that imap-codec decodes back to the same arguments, with `{N}` and `{N+}` literals |
//! | [`mutf7`] | any bytes (as UTF-8, lossily) | `decode` never panics; `encode(decode(x)) == x`; `decode(encode(s)) == s` |
//! | [`seqset`] | any bytes | `UidSet` parse/format round trip; `from_uids` and `chunks_by_len` cover exactly the given UIDs |

use bytes::Bytes;

use crate::framer::{Event, Frame, FrameError, Framer, Limits, literal_len};
use crate::response::{BodyData, Response, Untagged, parse};
use crate::seqset::UidSet;

/// An invariant that did not hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    pub target: &'static str,
    pub what: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.target, self.what)
    }
}

impl std::error::Error for Violation {}

/// A checking function.
pub type Check = fn(&[u8]) -> Result<(), Violation>;

/// Every target by name (the names of the cargo-fuzz targets and of the corpus directories).
pub const TARGETS: &[(&str, Check)] = &[
    ("framer", framer),
    ("response", response),
    ("roundtrip_command", roundtrip_command),
    ("mutf7", mutf7),
    ("seqset", seqset),
];

fn fail<T>(target: &'static str, what: impl Into<String>) -> Result<T, Violation> {
    Err(Violation {
        target,
        what: what.into(),
    })
}

macro_rules! ensure {
    ($target:expr, $cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return fail($target, format!($($fmt)+));
        }
    };
}

/// SplitMix64: a small deterministic generator (chunkings derived from the input, and the
/// replay test's mutations).
#[derive(Clone, Debug)]
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform-ish in `0..n` (`0` when `n == 0`).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }
}

/// FNV-1a, to derive a seed from the input.
pub fn seed_of(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

// ---------------------------------------------------------------------------------------------
// framer

/// The limit sets the framer is checked with: small ones that make every limit reachable,
/// the client's "collect everything" mode and the defaults.
pub const FRAMER_LIMITS: &[Limits] = &[
    Limits {
        stream_threshold: 16,
        chunk_size: 7,
        max_response: 512,
        max_literal: 4096,
    },
    Limits {
        stream_threshold: 0,
        chunk_size: 1,
        max_response: 64,
        max_literal: 100,
    },
    Limits {
        stream_threshold: u64::MAX,
        chunk_size: 3,
        max_response: 300,
        max_literal: u64::MAX,
    },
    // The engine while no command streams: nothing is streamed below `max_response`.
    Limits {
        stream_threshold: crate::framer::DEFAULT_MAX_RESPONSE as u64,
        chunk_size: crate::framer::DEFAULT_CHUNK_SIZE,
        max_response: crate::framer::DEFAULT_MAX_RESPONSE,
        max_literal: crate::framer::DEFAULT_MAX_LITERAL,
    },
    Limits {
        stream_threshold: crate::framer::DEFAULT_STREAM_THRESHOLD,
        chunk_size: crate::framer::DEFAULT_CHUNK_SIZE,
        max_response: crate::framer::DEFAULT_MAX_RESPONSE,
        max_literal: crate::framer::DEFAULT_MAX_LITERAL,
    },
];

/// Most the framer may hold in its input buffer beyond what it was given: a bounded read-ahead
/// reservation, never the announced size of a literal.
const SLACK: usize = 1 << 20;

/// Events with the literal chunks merged, so different chunkings compare equal.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Norm {
    Response(Frame),
    LiteralStart { len: u64, head: Bytes },
    LiteralData(Vec<u8>),
    LiteralEnd,
}

#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    events: Vec<Norm>,
    error: Option<FrameError>,
}

/// How the input is cut into reads.
#[derive(Clone, Copy, Debug)]
enum Chunking {
    Whole,
    Step(usize),
    Random(u64),
}

/// Feeds `data` (cut per `chunking`) to a framer with `limits`, checks every event, and
/// returns the normalised events.
fn run_framer(limits: Limits, data: &[u8], chunking: Chunking) -> Result<Outcome, Violation> {
    const T: &str = "framer";
    let mut f = Framer::new(limits);
    let mut st = FramerState::default();
    let mut rng = SplitMix64(match chunking {
        Chunking::Random(s) => s,
        _ => 0,
    });
    let mut pos = 0;
    let mut error = None;
    'feed: while pos < data.len() {
        let n = match chunking {
            Chunking::Whole => data.len(),
            Chunking::Step(s) => s.max(1),
            Chunking::Random(_) => match rng.below(4) {
                0 => 1,
                1 => 1 + rng.below(8),
                2 => 1 + rng.below(64),
                _ => 1 + rng.below(1024),
            },
        };
        let end = (pos + n).min(data.len());
        f.feed(&data[pos..end]);
        pos = end;
        loop {
            match f.next_event() {
                Ok(Some(ev)) => st.event(ev, &limits)?,
                Ok(None) => {
                    let buf = f.buffer();
                    ensure!(
                        T,
                        buf.capacity() <= 2 * buf.len() + 2 * n + SLACK,
                        "input buffer capacity {} for {} buffered bytes (an announced size was \
                         reserved up front?)",
                        buf.capacity(),
                        buf.len()
                    );
                    break;
                }
                Err(e) => {
                    error = Some(e);
                    break 'feed;
                }
            }
        }
    }
    // The events rebuild a prefix of the input.
    ensure!(
        T,
        st.rebuilt.len() <= data.len() && st.rebuilt == data[..st.rebuilt.len()],
        "the responses do not rebuild the input (first {} bytes)",
        st.rebuilt.len()
    );
    if error.is_none() {
        let complete = st.rebuilt.len() == data.len();
        ensure!(
            T,
            f.is_idle() == complete,
            "is_idle() = {} with {} of {} bytes delivered as responses",
            f.is_idle(),
            st.rebuilt.len(),
            data.len()
        );
    }
    Ok(Outcome {
        events: st.events,
        error,
    })
}

#[derive(Default)]
struct FramerState {
    events: Vec<Norm>,
    /// The literal being streamed: announced length and bytes so far.
    streaming: Option<(u64, Vec<u8>, Bytes)>,
    /// Streamed literals of the current response, with their heads.
    literals: Vec<(Vec<u8>, Bytes)>,
    /// The input as rebuilt from the responses (streamed literals put back).
    rebuilt: Vec<u8>,
}

impl FramerState {
    fn event(&mut self, ev: Event, limits: &Limits) -> Result<(), Violation> {
        const T: &str = "framer";
        match ev {
            Event::LiteralStart { len, head } => {
                ensure!(T, self.streaming.is_none(), "LiteralStart while streaming");
                ensure!(
                    T,
                    len > limits.stream_threshold && len <= limits.max_literal,
                    "streamed literal of {len} bytes with limits {limits:?}"
                );
                ensure!(
                    T,
                    literal_len(&head) == Some(len),
                    "LiteralStart head does not end with the {{{len}}} header"
                );
                self.events.push(Norm::LiteralStart {
                    len,
                    head: head.clone(),
                });
                self.streaming = Some((len, Vec::new(), head));
            }
            Event::LiteralChunk(c) => {
                let Some((len, got, _)) = self.streaming.as_mut() else {
                    return fail(T, "LiteralChunk outside a literal");
                };
                ensure!(T, !c.is_empty(), "empty literal chunk");
                ensure!(
                    T,
                    c.len() <= limits.chunk_size.max(1),
                    "chunk of {} bytes above chunk_size {}",
                    c.len(),
                    limits.chunk_size
                );
                got.extend_from_slice(&c);
                ensure!(
                    T,
                    got.len() as u64 <= *len,
                    "literal chunks exceed the announced {len} bytes"
                );
                match self.events.last_mut() {
                    Some(Norm::LiteralData(d)) => d.extend_from_slice(&c),
                    _ => self.events.push(Norm::LiteralData(c.to_vec())),
                }
            }
            Event::LiteralEnd => {
                let Some((len, got, head)) = self.streaming.take() else {
                    return fail(T, "LiteralEnd outside a literal");
                };
                ensure!(
                    T,
                    got.len() as u64 == len,
                    "literal of {len} bytes ended after {} bytes",
                    got.len()
                );
                self.literals.push((got, head));
                self.events.push(Norm::LiteralEnd);
            }
            Event::Response(frame) => {
                ensure!(T, self.streaming.is_none(), "Response inside a literal");
                let b = &frame.bytes;
                ensure!(
                    T,
                    b.len() <= limits.max_response,
                    "response of {} bytes above max_response {}",
                    b.len(),
                    limits.max_response
                );
                ensure!(T, b.last() == Some(&b'\n'), "response not ending in LF");
                let literals = std::mem::take(&mut self.literals);
                ensure!(
                    T,
                    literals.len() == frame.streamed.len(),
                    "{} literals streamed but {} offsets recorded",
                    literals.len(),
                    frame.streamed.len()
                );
                let mut at = 0;
                for (&off, (lit, head)) in frame.streamed.iter().zip(&literals) {
                    ensure!(
                        T,
                        off >= at && off <= b.len(),
                        "streamed offsets out of order"
                    );
                    ensure!(
                        T,
                        literal_len(&b[..off]) == Some(lit.len() as u64),
                        "streamed offset {off} not after a literal header"
                    );
                    ensure!(
                        T,
                        head[..] == b[..off],
                        "LiteralStart head differs from the response"
                    );
                    self.rebuilt.extend_from_slice(&b[at..off]);
                    self.rebuilt.extend_from_slice(lit);
                    at = off;
                }
                self.rebuilt.extend_from_slice(&b[at..]);
                self.events.push(Norm::Response(frame));
            }
        }
        Ok(())
    }
}

/// Framer target: every limit set of [`FRAMER_LIMITS`], the input fed whole, in random reads
/// and (when short) byte by byte; the events must satisfy every invariant and be the same
/// whatever the chunking.
pub fn framer(data: &[u8]) -> Result<(), Violation> {
    let seed = seed_of(data);
    for (i, &limits) in FRAMER_LIMITS.iter().enumerate() {
        let whole = run_framer(limits, data, Chunking::Whole)?;
        let mut chunkings = vec![Chunking::Random(seed ^ i as u64)];
        if data.len() <= 256 {
            chunkings.push(Chunking::Step(1));
        }
        for c in chunkings {
            let other = run_framer(limits, data, c)?;
            if other != whole {
                return fail(
                    "framer",
                    format!(
                        "chunking {c:?} with limits {limits:?} gives different events: \
                         {other:?} instead of {whole:?}"
                    ),
                );
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// response

/// An unknown FETCH item of every generic shape (atom, list, quoted, literal, section).
const UNKNOWN_ITEM: &[u8] =
    b"X-FUZZ-UNKNOWN (a (\"b\\\\\" NIL) {3}\r\nx)y [z]) X-FUZZ-SECTION[1.2]<0> NIL ";

/// Response target: `parse` on the whole input as one frame, on every frame the framer cuts
/// from it (literals kept, and literals streamed), and on frames with arbitrary streamed
/// offsets; results must be coherent and an unknown FETCH item must not change a FETCH.
pub fn response(data: &[u8]) -> Result<(), Violation> {
    check_parsed(&Frame {
        bytes: Bytes::copy_from_slice(data),
        streamed: vec![],
    })?;
    for limits in [
        Limits {
            stream_threshold: u64::MAX,
            chunk_size: 4096,
            max_response: 1 << 21,
            max_literal: 1 << 21,
        },
        Limits {
            stream_threshold: 8,
            chunk_size: 4096,
            max_response: 1 << 21,
            max_literal: 1 << 21,
        },
    ] {
        let mut f = Framer::new(limits);
        f.feed(data);
        while let Ok(Some(ev)) = f.next_event() {
            if let Event::Response(frame) = ev {
                check_parsed(&frame)?;
            }
        }
    }
    // `Frame` is public: inconsistent streamed offsets must not panic either.
    if !data.is_empty() {
        let mut rng = SplitMix64(seed_of(data));
        let mut streamed: Vec<usize> = (0..3).map(|_| rng.below(data.len() + 1)).collect();
        streamed.sort_unstable();
        let _ = parse(&Frame {
            bytes: Bytes::copy_from_slice(data),
            streamed,
        });
    }
    Ok(())
}

fn check_parsed(frame: &Frame) -> Result<(), Violation> {
    const T: &str = "response";
    let bytes = &frame.bytes;
    match parse(frame) {
        Err(e) => {
            ensure!(
                T,
                e.offset <= bytes.len(),
                "error offset {} past the end",
                e.offset
            );
            let _ = e.to_string();
        }
        Ok(Response::Continuation { .. }) => {
            ensure!(T, bytes.first() == Some(&b'+'), "continuation without +");
        }
        Ok(Response::Tagged { tag, status }) => {
            ensure!(
                T,
                !tag.is_empty() && bytes.starts_with(tag.as_bytes()) || tag.contains('\u{FFFD}'),
                "tag {tag:?} is not the start of the response"
            );
            let _ = status.full_text();
        }
        Ok(Response::Untagged(u)) => {
            ensure!(T, bytes.starts_with(b"* "), "untagged without \"* \"");
            match u {
                Untagged::Status(s) => {
                    let _ = s.full_text();
                }
                Untagged::Fetch { seq, items } => {
                    if frame.streamed.is_empty() {
                        ensure!(
                            T,
                            !items
                                .sections
                                .iter()
                                .any(|s| matches!(s.data, BodyData::Streamed(_))),
                            "a streamed body in a frame with nothing streamed"
                        );
                    }
                    // The same FETCH with unknown items in front parses to the same items.
                    if let Some(open) = memchr::memchr(b'(', bytes) {
                        let mut more = bytes[..=open].to_vec();
                        more.extend_from_slice(UNKNOWN_ITEM);
                        more.extend_from_slice(&bytes[open + 1..]);
                        let shift = UNKNOWN_ITEM.len();
                        let streamed = frame.streamed.iter().map(|o| o + shift).collect();
                        let again = parse(&Frame {
                            bytes: Bytes::from(more),
                            streamed,
                        });
                        let same = matches!(
                            &again,
                            Ok(Response::Untagged(Untagged::Fetch { seq: s2, items: i2 }))
                                if *s2 == seq && *i2 == items
                        );
                        ensure!(
                            T,
                            same,
                            "unknown FETCH items changed the result: {again:?} instead of {items:?}"
                        );
                    }
                }
                _ => {}
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// roundtrip_command

mod roundtrip {
    use super::{Violation, fail};
    use crate::command::cmd::{self, AppendItem, SelectOpts};
    use crate::command::{Command, Part, StoreMode, is_valid_flag};
    use crate::seqset::{STAR, UidSet};
    use bytes::Bytes;
    use imap_codec::CommandCodec;
    use imap_codec::decode::Decoder;
    use imap_codec::imap_types::command::{CommandBody, FetchModifier, SelectParameter};
    use imap_codec::imap_types::core::{AString, IString};
    use imap_codec::imap_types::extensions::binary::LiteralOrLiteral8;
    use imap_codec::imap_types::flag::{Flag, StoreResponse, StoreType};
    use imap_codec::imap_types::mailbox::{ListMailbox, Mailbox};
    use imap_codec::imap_types::sequence::{SeqOrUid, Sequence, SequenceSet};

    const T: &str = "roundtrip_command";

    /// The wire form with literals written `{N}` (`plus = false`) or `{N+}`.
    fn wire(c: &Command, plus: bool) -> Vec<u8> {
        let mut out = b"A1 ".to_vec();
        for p in &c.parts {
            match p {
                Part::Text(t) => out.extend_from_slice(t),
                Part::Literal(b) => {
                    let m = if plus { "+" } else { "" };
                    out.extend_from_slice(format!("{{{}{m}}}\r\n", b.len()).as_bytes());
                    out.extend_from_slice(b);
                }
                // The fuzz commands carry their bodies in memory.
                Part::External { .. } => {}
            }
        }
        out.extend_from_slice(b"\r\n");
        out
    }

    /// Decodes the wire form of `c` (`{N+}` literals when `plus`).
    fn decode(c: &Command, plus: bool) -> Result<CommandBody<'static>, Violation> {
        let w = wire(c, plus);
        match CommandCodec::default().decode_static(&w) {
            Ok(([], decoded)) => Ok(decoded.body),
            Ok((rest, _)) => fail(
                T,
                format!(
                    "{} bytes left after decoding {:?}",
                    rest.len(),
                    String::from_utf8_lossy(&w)
                ),
            ),
            Err(e) => fail(
                T,
                format!(
                    "imap-codec rejects {:?}: {e:?}",
                    String::from_utf8_lossy(&w)
                ),
            ),
        }
    }

    fn astring(a: &AString) -> Vec<u8> {
        a.as_ref().to_vec()
    }

    fn istring(s: &IString) -> Vec<u8> {
        s.as_ref().to_vec()
    }

    /// The name a mailbox argument stands for (INBOX in any case is INBOX).
    fn mailbox(m: &Mailbox) -> Vec<u8> {
        match m {
            Mailbox::Inbox => b"INBOX".to_vec(),
            Mailbox::Other(o) => o.as_ref().to_vec(),
        }
    }

    fn expect_mailbox(name: &[u8]) -> Vec<u8> {
        if name.eq_ignore_ascii_case(b"INBOX") {
            b"INBOX".to_vec()
        } else {
            name.to_vec()
        }
    }

    fn ranges(s: &SequenceSet) -> Vec<(u32, u32)> {
        let v = |x: &SeqOrUid| match x {
            SeqOrUid::Value(n) => n.get(),
            SeqOrUid::Asterisk => STAR,
        };
        s.0.as_ref()
            .iter()
            .map(|q| match q {
                Sequence::Single(a) => (v(a), v(a)),
                Sequence::Range(a, b) => (v(a), v(b)),
            })
            .collect()
    }

    fn same_flags(got: &[Flag], want: &[String]) -> bool {
        let want: Vec<&String> = want.iter().filter(|f| is_valid_flag(f)).collect();
        got.len() == want.len()
            && got
                .iter()
                .zip(want)
                .all(|(g, w)| g.to_string().eq_ignore_ascii_case(w))
    }

    fn check(ok: bool, what: impl FnOnce() -> String) -> Result<(), Violation> {
        if ok { Ok(()) } else { fail(T, what()) }
    }

    /// Little reader over the argument fields.
    struct Fields<'a> {
        fields: Vec<&'a [u8]>,
        next: usize,
    }

    impl<'a> Fields<'a> {
        fn take(&mut self) -> &'a [u8] {
            let f = self.fields.get(self.next).copied().unwrap_or(b"");
            self.next += 1;
            f
        }

        fn text(&mut self) -> String {
            String::from_utf8_lossy(self.take()).into_owned()
        }

        /// A number from a field: its decimal value when it is one, else a hash of it.
        fn number(&mut self) -> u64 {
            let f = self.take();
            std::str::from_utf8(f)
                .ok()
                .and_then(|s| s.trim().parse().ok())
                .unwrap_or_else(|| super::seed_of(f))
        }

        /// A non-empty UID set: the field parsed, else UIDs derived from its bytes.
        fn uid_set(&mut self) -> UidSet {
            let f = self.take();
            if let Some(s) = UidSet::parse(&String::from_utf8_lossy(f)) {
                return s;
            }
            let uids: Vec<u32> = f
                .chunks(2)
                .map(|c| c.iter().fold(0u32, |a, &b| a * 256 + u32::from(b)) % 5000 + 1)
                .collect();
            if uids.is_empty() {
                UidSet::range(1, STAR)
            } else {
                UidSet::from_uids(uids)
            }
        }

        /// Flags: the field split at spaces (invalid ones are dropped by the builder).
        fn flags(&mut self) -> Vec<String> {
            String::from_utf8_lossy(self.take())
                .split(' ')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        }
    }

    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];

    /// An INTERNALDATE built from a field (`None` for an empty field), and its RFC 3339 form.
    fn date(field: &[u8]) -> Option<(String, String)> {
        if field.is_empty() {
            return None;
        }
        let mut r = super::SplitMix64(super::seed_of(field));
        let day = 1 + r.below(28);
        let month = r.below(12);
        let year = 1000 + r.below(9000);
        let (h, m, s) = (r.below(24), r.below(60), r.below(60));
        let (zh, zm) = (r.below(14), [0, 15, 30, 45][r.below(4)]);
        let sign = if r.below(2) == 0 { '+' } else { '-' };
        let sign3339 = if zh == 0 && zm == 0 { '+' } else { sign };
        Some((
            format!(
                "{day:02}-{}-{year:04} {h:02}:{m:02}:{s:02} {sign}{zh:02}{zm:02}",
                MONTHS[month]
            ),
            format!(
                "{year:04}-{:02}-{day:02}T{h:02}:{m:02}:{s:02}{sign3339}{zh:02}:{zm:02}",
                month + 1
            ),
        ))
    }

    pub fn run(data: &[u8], plus: bool) -> Result<(), Violation> {
        let mut parts = data.split(|&b| b == 0);
        let name = parts.next().unwrap_or(b"").to_ascii_lowercase();
        let mut f = Fields {
            fields: parts.collect(),
            next: 0,
        };
        const KINDS: [&str; 14] = [
            "login",
            "select",
            "examine",
            "create",
            "delete",
            "subscribe",
            "unsubscribe",
            "status",
            "getquotaroot",
            "list",
            "lsub",
            "append",
            "uid_store",
            "uid_fetch",
        ];
        let kind = match KINDS.iter().find(|k| k.as_bytes() == name.as_slice()) {
            Some(k) => *k,
            None if name == b"id" => "id",
            None => KINDS[(super::seed_of(&name) % KINDS.len() as u64) as usize],
        };
        match kind {
            "login" => {
                let (user, pass) = (f.take(), f.take());
                let c = cmd::login(user, pass);
                let CommandBody::Login { username, password } = decode(&c, plus)? else {
                    return fail(T, "LOGIN decodes as another command");
                };
                check(astring(&username) == user, || {
                    format!("LOGIN user {user:?} decodes as {:?}", astring(&username))
                })?;
                let got = astring(password.declassify());
                check(got == pass, || {
                    format!("LOGIN password {pass:?} decodes as {got:?}")
                })?;
                check(c.trace() == "LOGIN MASKED", || "LOGIN trace leaks".into())
            }
            "select" | "examine" => {
                let name = f.take();
                let opts = match f.number() % 3 {
                    0 => SelectOpts::default(),
                    1 => SelectOpts {
                        condstore: true,
                        qresync: None,
                    },
                    _ => {
                        let uv = (f.number() % u64::from(u32::MAX)) as u32 + 1;
                        let ms = f.number() % (i64::MAX as u64) + 1;
                        let known = (f.number().is_multiple_of(2)).then(|| f.uid_set());
                        SelectOpts {
                            condstore: false,
                            qresync: Some((uv, ms, known)),
                        }
                    }
                };
                let c = if kind == "select" {
                    cmd::select(name, &opts)
                } else {
                    cmd::examine(name, &opts)
                };
                let (mb, params) = match decode(&c, plus)? {
                    CommandBody::Select {
                        mailbox,
                        parameters,
                    } if kind == "select" => (mailbox, parameters),
                    CommandBody::Examine {
                        mailbox,
                        parameters,
                    } if kind == "examine" => (mailbox, parameters),
                    other => return fail(T, format!("{kind} decodes as {other:?}")),
                };
                check(mailbox(&mb) == expect_mailbox(name), || {
                    format!("{kind} {name:?} decodes as {:?}", mailbox(&mb))
                })?;
                let ok = match (&opts.qresync, opts.condstore, params.as_slice()) {
                    (None, false, []) => true,
                    (None, true, [SelectParameter::CondStore]) => true,
                    (
                        Some((uv, ms, known)),
                        _,
                        [
                            SelectParameter::QResync {
                                uid_validity,
                                mod_sequence_value,
                                known_uids,
                                seq_match_data: None,
                            },
                        ],
                    ) => {
                        uid_validity.get() == *uv
                            && mod_sequence_value.get() == *ms
                            && known_uids.as_ref().map(ranges)
                                == known.as_ref().map(|k| k.ranges().to_vec())
                    }
                    _ => false,
                };
                check(ok, || {
                    format!("{kind} options {opts:?} decode as {params:?}")
                })
            }
            "create" | "delete" | "subscribe" | "unsubscribe" | "status" | "getquotaroot" => {
                let name = f.take();
                let c = match kind {
                    "create" => cmd::create(name),
                    "delete" => cmd::delete(name),
                    "subscribe" => cmd::subscribe(name),
                    "unsubscribe" => cmd::unsubscribe(name),
                    "status" => cmd::status(name, "MESSAGES UIDNEXT UIDVALIDITY"),
                    _ => cmd::getquotaroot(name),
                };
                let got = match decode(&c, plus)? {
                    CommandBody::Create { mailbox: m } if kind == "create" => m,
                    CommandBody::Delete { mailbox: m } if kind == "delete" => m,
                    CommandBody::Subscribe { mailbox: m } if kind == "subscribe" => m,
                    CommandBody::Unsubscribe { mailbox: m } if kind == "unsubscribe" => m,
                    CommandBody::Status { mailbox: m, .. } if kind == "status" => m,
                    CommandBody::GetQuotaRoot { mailbox: m } if kind == "getquotaroot" => m,
                    other => return fail(T, format!("{kind} decodes as {other:?}")),
                };
                check(mailbox(&got) == expect_mailbox(name), || {
                    format!("{kind} {name:?} decodes as {:?}", mailbox(&got))
                })
            }
            "list" | "lsub" => {
                let (reference, pattern) = (f.take(), f.take());
                let c = if kind == "list" {
                    cmd::list(reference, pattern, None)
                } else {
                    cmd::lsub(reference, pattern)
                };
                let (r, p) = match decode(&c, plus)? {
                    CommandBody::List {
                        reference,
                        mailbox_wildcard,
                    } if kind == "list" => (reference, mailbox_wildcard),
                    CommandBody::Lsub {
                        reference,
                        mailbox_wildcard,
                    } if kind == "lsub" => (reference, mailbox_wildcard),
                    other => return fail(T, format!("{kind} decodes as {other:?}")),
                };
                check(mailbox(&r) == expect_mailbox(reference), || {
                    format!(
                        "{kind} reference {reference:?} decodes as {:?}",
                        mailbox(&r)
                    )
                })?;
                let got = match &p {
                    ListMailbox::Token(t) => t.as_ref().to_vec(),
                    ListMailbox::String(s) => istring(s),
                };
                check(got == pattern, || {
                    format!("{kind} pattern {pattern:?} decodes as {got:?}")
                })
            }
            "append" => {
                let name = f.take();
                let flags = f.flags();
                let date = date(f.take());
                let body = f.take();
                let c = cmd::append_bytes(
                    name,
                    &flags,
                    date.as_ref().map(|d| d.0.as_str()),
                    Bytes::copy_from_slice(body),
                );
                let CommandBody::Append {
                    mailbox: m,
                    flags: got_flags,
                    date: got_date,
                    message,
                } = decode(&c, plus)?
                else {
                    return fail(T, "APPEND decodes as another command");
                };
                check(mailbox(&m) == expect_mailbox(name), || {
                    format!("APPEND {name:?} decodes as {:?}", mailbox(&m))
                })?;
                check(same_flags(&got_flags, &flags), || {
                    format!("APPEND flags {flags:?} decode as {got_flags:?}")
                })?;
                let got_date = got_date.map(|d| d.as_ref().to_rfc3339());
                check(got_date == date.as_ref().map(|d| d.1.clone()), || {
                    format!("APPEND date {date:?} decodes as {got_date:?}")
                })?;
                let got_body = match &message {
                    LiteralOrLiteral8::Literal(l) => l.as_ref().to_vec(),
                    LiteralOrLiteral8::Literal8(l) => l.data.to_vec(),
                };
                check(got_body == body, || "APPEND body changed".into())?;
                // The External form (bodies supplied at send time) has the same shape.
                let ext = cmd::append(
                    name,
                    &[AppendItem {
                        flags: flags.clone(),
                        internaldate: date.as_ref().map(|d| d.0.clone()),
                        len: body.len() as u64,
                    }],
                );
                let w = ext.to_wire("A1", &[body]);
                check(w == wire(&c, false), || {
                    format!(
                        "append() and append_bytes() differ: {:?} / {:?}",
                        String::from_utf8_lossy(&w),
                        String::from_utf8_lossy(&wire(&c, false))
                    )
                })
            }
            "uid_store" => {
                let set = f.uid_set();
                let mode = match f.number() % 3 {
                    0 => StoreMode::Replace,
                    1 => StoreMode::Add,
                    _ => StoreMode::Remove,
                };
                let silent = f.number().is_multiple_of(2);
                let flags = f.flags();
                let c = cmd::uid_store(&set, mode, &flags, silent);
                let CommandBody::Store {
                    sequence_set,
                    kind: k,
                    response,
                    flags: got,
                    uid,
                    ..
                } = decode(&c, plus)?
                else {
                    return fail(T, "UID STORE decodes as another command");
                };
                let want_kind = match mode {
                    StoreMode::Replace => StoreType::Replace,
                    StoreMode::Add => StoreType::Add,
                    StoreMode::Remove => StoreType::Remove,
                };
                let want_resp = if silent {
                    StoreResponse::Silent
                } else {
                    StoreResponse::Answer
                };
                check(
                    uid && k == want_kind
                        && response == want_resp
                        && ranges(&sequence_set) == set.ranges(),
                    || format!("UID STORE {set} {mode:?} decodes wrongly"),
                )?;
                check(same_flags(&got, &flags), || {
                    format!("UID STORE flags {flags:?} decode as {got:?}")
                })
            }
            "uid_fetch" => {
                let set = f.uid_set();
                let changedsince = match f.number() % 3 {
                    0 => None,
                    _ => Some(f.number() % (i64::MAX as u64) + 1),
                };
                let vanished = changedsince.is_some() && f.number().is_multiple_of(2);
                let c = cmd::uid_fetch(&set, "UID FLAGS", changedsince, vanished);
                let CommandBody::Fetch {
                    sequence_set,
                    uid,
                    modifiers,
                    ..
                } = decode(&c, plus)?
                else {
                    return fail(T, "UID FETCH decodes as another command");
                };
                let mut want = Vec::new();
                if let Some(m) = changedsince {
                    want.push(format!("ChangedSince({m})"));
                    if vanished {
                        want.push("Vanished".to_string());
                    }
                }
                let got: Vec<String> = modifiers
                    .iter()
                    .map(|m| match m {
                        FetchModifier::ChangedSince(n) => format!("ChangedSince({n})"),
                        FetchModifier::Vanished => "Vanished".to_string(),
                    })
                    .collect();
                check(
                    uid && ranges(&sequence_set) == set.ranges() && got == want,
                    || format!("UID FETCH {set} {changedsince:?} decodes as {got:?}"),
                )
            }
            _ => {
                // ID: pairs of fields.
                let mut pairs = Vec::new();
                while f.next < f.fields.len() && pairs.len() < 30 {
                    let (k, v) = (f.text(), f.text());
                    pairs.push((k, v));
                }
                let refs: Vec<(&str, &str)> = pairs
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                let c = cmd::id(&refs);
                let CommandBody::Id { parameters } = decode(&c, plus)? else {
                    return fail(T, "ID decodes as another command");
                };
                let got: Vec<(Vec<u8>, Option<Vec<u8>>)> = parameters
                    .unwrap_or_default()
                    .iter()
                    .map(|(k, v)| (istring(k), v.0.as_ref().map(istring)))
                    .collect();
                let want: Vec<(Vec<u8>, Option<Vec<u8>>)> = pairs
                    .iter()
                    .map(|(k, v)| (k.as_bytes().to_vec(), Some(v.as_bytes().to_vec())))
                    .collect();
                check(got == want, || format!("ID {pairs:?} decodes as {got:?}"))
            }
        }
    }
}

/// Command target. The input is NUL-separated fields: a builder name (`login`, `select`,
/// `examine`, `create`, `delete`, `subscribe`, `unsubscribe`, `status`, `getquotaroot`, `list`,
/// `lsub`, `append`, `uid_store`, `uid_fetch`, `id`; anything else picks one by hash), then
/// its arguments (mailbox names, user/password, flags separated by spaces, ...). The built
/// command, written with `{N}` and with `{N+}` literals, must decode with imap-codec to the
/// same arguments.
///
/// NUL never reaches a builder here: no IMAP string can carry it (the builders would put it in
/// a literal, which the grammar forbids), so refusing it is the caller's job.
pub fn roundtrip_command(data: &[u8]) -> Result<(), Violation> {
    roundtrip::run(data, false)?;
    roundtrip::run(data, true)
}

// ---------------------------------------------------------------------------------------------
// mutf7

/// Modified UTF-7 target: strict decoding never panics and is canonical; encoding round-trips.
pub fn mutf7(data: &[u8]) -> Result<(), Violation> {
    const T: &str = "mutf7";
    use crate::mutf7::{decode, decode_lossy, encode, has_non_ascii, is_valid, juxtapose};
    let s = String::from_utf8_lossy(data);
    let decoded = decode(&s);
    ensure!(
        T,
        is_valid(&s) == decoded.is_ok(),
        "is_valid disagrees with decode"
    );
    if let Ok(d) = &decoded {
        ensure!(
            T,
            encode(d) == *s,
            "encode(decode({s:?})) = {:?}",
            encode(d)
        );
        ensure!(
            T,
            decode_lossy(&s) == *d,
            "decode_lossy differs from decode"
        );
    }
    let _ = (decode_lossy(&s), juxtapose(&s), has_non_ascii(&s));
    let e = encode(&s);
    ensure!(
        T,
        e.bytes().all(|b| (0x20..0x7f).contains(&b)),
        "encode({s:?}) is not printable ASCII"
    );
    ensure!(
        T,
        decode(&e).as_deref() == Ok(&*s),
        "decode(encode({s:?})) = {:?}",
        decode(&e)
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// seqset

/// Sequence set target: the input as text, and as big-endian u32 UIDs (the first two bytes give
/// a `chunks_by_len` width).
pub fn seqset(data: &[u8]) -> Result<(), Violation> {
    const T: &str = "seqset";
    let s = String::from_utf8_lossy(data);
    if let Some(set) = UidSet::parse(&s) {
        ensure!(T, !set.is_empty(), "parse({s:?}) gives an empty set");
        for &(a, b) in set.ranges() {
            ensure!(T, a != 0 && a <= b, "bad range {a}:{b} from {s:?}");
        }
        let text = set.to_string();
        ensure!(
            T,
            UidSet::parse(&text).as_ref() == Some(&set),
            "{s:?} -> {text:?} does not parse back"
        );
        let n = set.len();
        ensure!(T, n >= set.ranges().len() as u64, "len() too small");
        if let Some(v) = set.expand(10_000) {
            ensure!(T, v.len() as u64 == n, "expand() gives {} of {n}", v.len());
            let step = (v.len() / 64).max(1);
            ensure!(
                T,
                v.iter().step_by(step).all(|&u| set.contains(u)),
                "expand() outside the set"
            );
        } else {
            ensure!(T, n > 10_000, "expand(10000) refused {n} UIDs");
        }
    }
    let width = data
        .get(..2)
        .map_or(10, |w| usize::from(u16::from_be_bytes([w[0], w[1]]) % 200));
    let uids: Vec<u32> = data
        .get(2..)
        .unwrap_or(&[])
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
        .filter(|&u| u != 0)
        .collect();
    let mut sorted = uids.clone();
    sorted.sort_unstable();
    sorted.dedup();
    let set = UidSet::from_uids(uids.iter().copied());
    let r = set.ranges();
    for w in r.windows(2) {
        ensure!(
            T,
            u64::from(w[0].1) + 1 < u64::from(w[1].0),
            "from_uids ranges overlap or touch: {set}"
        );
    }
    let covered: u64 = r.iter().map(|&(a, b)| u64::from(b - a) + 1).sum();
    ensure!(
        T,
        covered == sorted.len() as u64 && sorted.iter().all(|&u| set.contains(u)),
        "from_uids does not cover exactly the UIDs"
    );
    if !set.is_empty() {
        let text = set.to_string();
        let back = UidSet::parse(&text);
        // u32::MAX is written `*`, which parses back as u32::MAX.
        ensure!(
            T,
            back.as_ref() == Some(&set),
            "{text:?} parses back as {back:?}"
        );
    }
    let chunks = UidSet::chunks_by_len(&uids, width);
    let mut joined = Vec::new();
    for c in &chunks {
        ensure!(T, !c.is_empty(), "empty chunk");
        let len = c.to_string().len();
        ensure!(
            T,
            len <= width || c.ranges().len() == 1,
            "chunk {c} longer than {width}"
        );
        joined.extend_from_slice(c.ranges());
    }
    ensure!(
        T,
        joined == r,
        "chunks_by_len({width}) does not cover the set"
    );
    Ok(())
}
