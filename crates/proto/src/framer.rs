//! Splitting a server's byte stream into responses, with literals streamed when large.
//!
//! IMAP responses are lines terminated by CRLF, except that a line ending in `{N}` announces a
//! literal of exactly N bytes, after which the same response continues on the next line
//! (RFC 3501 §4.3, RFC 9051 §4.3):
//!
//! ```abnf
//! literal  = "{" number64 ["+"] "}" CRLF *CHAR8
//! literal8 = "~{" number64 "}" CRLF *OCTET     ; RFC 3516 (BINARY)
//! ```
//!
//! [`Framer`] is a sans-I/O decoder in the style of hyper's body decoder: the caller reads into
//! [`Framer::buffer`] and pulls [`Event`]s with [`Framer::next_event`]. A response whose literals
//! are all at most [`Limits::stream_threshold`] bytes is returned whole as one
//! [`Event::Response`] without copying (the bytes are split off the input buffer). A larger
//! literal is handed out as [`Event::LiteralStart`], a series of [`Event::LiteralChunk`] of at
//! most [`Limits::chunk_size`] bytes and [`Event::LiteralEnd`]; the response that contains it is
//! still delivered at the end as an [`Event::Response`], whose [`Frame::streamed`] records where
//! the literal would have been, so a parser can tell that the value went elsewhere.
//!
//! A status response (`* OK`, `tag NO`, `+ ...`) never carries a literal: its text may end in
//! `{5}` by coincidence, so literal detection is skipped for those lines, which keeps a hostile
//! or quirky text from desynchronising the stream.

use bytes::{Bytes, BytesMut};

/// Named limits of the framer.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Literals larger than this are streamed in chunks instead of being kept in the response.
    pub stream_threshold: u64,
    /// Largest chunk handed out while streaming a literal (0 counts as 1).
    pub chunk_size: usize,
    /// Largest response kept in memory (lines plus non-streamed literals). A SEARCH answer for a
    /// million-message folder is about 7 MB; anything near this limit is hostile or broken.
    pub max_response: usize,
    /// Largest literal accepted at all (IMAP4rev1 literals are 32-bit).
    pub max_literal: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            stream_threshold: DEFAULT_STREAM_THRESHOLD,
            chunk_size: DEFAULT_CHUNK_SIZE,
            max_response: DEFAULT_MAX_RESPONSE,
            max_literal: DEFAULT_MAX_LITERAL,
        }
    }
}

/// Literals above 256 KiB are streamed: most mail is smaller and is cheaper to handle whole.
pub const DEFAULT_STREAM_THRESHOLD: u64 = 256 * 1024;
/// 64 KiB chunks: large enough for few wakeups, small enough for a bounded memory footprint.
pub const DEFAULT_CHUNK_SIZE: usize = 64 * 1024;
/// 64 MiB for one buffered response.
pub const DEFAULT_MAX_RESPONSE: usize = 64 * 1024 * 1024;
/// 4 GiB - 1: the largest literal a 32-bit server can announce.
pub const DEFAULT_MAX_LITERAL: u64 = u32::MAX as u64;
/// Most the framer reserves ahead of the bytes of an announced literal: the announced size
/// may be a lie, so the buffer grows with what actually arrives.
pub const MAX_RESERVE: usize = 256 * 1024;

/// One complete response as it came off the wire.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// The response bytes, literals included, except streamed literals which are left out.
    pub bytes: Bytes,
    /// Offsets in `bytes` just after the `{N}\r\n` header of each literal that was streamed
    /// instead of kept (the N announced bytes are absent from `bytes`).
    pub streamed: Vec<usize>,
}

/// What the framer produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A complete response.
    Response(Frame),
    /// A large literal starts; `len` bytes follow as chunks. `head` is the response up to
    /// the literal (e.g. `* 3 FETCH (UID 17 BODY[] {N}`), to tell whose literal it is.
    LiteralStart { len: u64, head: Bytes },
    /// Part of the literal being streamed.
    LiteralChunk(Bytes),
    /// The streamed literal is complete; the enclosing response continues.
    LiteralEnd,
}

/// Framing errors. After any of them the stream cannot be trusted any more.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FrameError {
    #[error("response longer than {limit} bytes without end")]
    ResponseTooLong { limit: usize },
    #[error("literal of {len} bytes announced, more than the {limit} bytes accepted")]
    LiteralTooLong { len: u64, limit: u64 },
}

/// The streaming line/literal splitter. See the module documentation.
#[derive(Debug)]
pub struct Framer {
    limits: Limits,
    /// Bytes read from the socket and not yet handed out.
    input: BytesMut,
    /// Start in `input` of the current line of the current response (everything before it is
    /// complete lines and kept literals of that response).
    line_start: usize,
    /// Where the search for the end of the current line resumes (`line_start..scan` is known
    /// to hold no LF), so a long line arriving in small reads is scanned once.
    scan: usize,
    /// While the bytes of a kept literal are awaited: where its header line ends in `input`,
    /// and its length (re-checked against the threshold, which may change meanwhile).
    awaited: Option<(usize, u64)>,
    /// Set while the current response's first line is known to be a status response.
    first_line_done: bool,
    /// Part of the current response already moved out of `input` because a literal of it is
    /// being streamed.
    partial: Option<BytesMut>,
    streamed: Vec<usize>,
    /// Bytes of a streamed literal still to hand out.
    literal_left: u64,
    streaming: bool,
}

impl Default for Framer {
    fn default() -> Self {
        Framer::new(Limits::default())
    }
}

impl Framer {
    pub fn new(limits: Limits) -> Self {
        Framer {
            limits,
            input: BytesMut::with_capacity(64 * 1024),
            line_start: 0,
            scan: 0,
            awaited: None,
            first_line_done: false,
            partial: None,
            streamed: Vec::new(),
            literal_left: 0,
            streaming: false,
        }
    }

    /// Changes the streaming threshold; takes effect at the next literal.
    pub fn set_stream_threshold(&mut self, threshold: u64) {
        self.limits.stream_threshold = threshold;
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The buffer to read socket data into (append only).
    pub fn buffer(&mut self) -> &mut BytesMut {
        &mut self.input
    }

    /// Appends bytes (convenience for tests and for callers that already hold a slice).
    pub fn feed(&mut self, data: &[u8]) {
        self.input.extend_from_slice(data);
    }

    /// True when no partial response is pending (a clean point to stop reading).
    pub fn is_idle(&self) -> bool {
        self.input.is_empty() && self.partial.is_none() && !self.streaming
    }

    /// True while a literal is being streamed.
    pub fn is_streaming(&self) -> bool {
        self.streaming
    }

    /// Pulls the next event, or `None` when more input is needed.
    ///
    /// The kept part of a response (its lines and non-streamed literals) never exceeds
    /// [`Limits::max_response`], however the bytes arrive: a longer response is a
    /// [`FrameError::ResponseTooLong`] as soon as that is certain (an announced literal counts
    /// in full before its bytes are there). Nothing is reserved up front for an announced
    /// literal beyond [`MAX_RESERVE`]: a server may lie about the size.
    pub fn next_event(&mut self) -> Result<Option<Event>, FrameError> {
        if self.streaming {
            return Ok(self.next_chunk());
        }
        let kept_before = self.partial.as_ref().map_or(0, |p| p.len());
        loop {
            if let Some((line_end, len)) = self.awaited {
                if len > self.limits.stream_threshold {
                    // The threshold went down while the bytes were awaited.
                    self.awaited = None;
                    return Ok(Some(self.start_streaming(line_end, len)));
                }
                // `line_end + len` <= max_response was checked, no overflow.
                let end = line_end + len as usize;
                if self.input.len() < end {
                    let want = (end - self.input.len()).min(MAX_RESERVE);
                    self.input.reserve(want);
                    return Ok(None);
                }
                self.awaited = None;
                self.line_start = end;
                self.scan = end;
            }
            // Find the end of the current line.
            let Some(rel) = memchr::memchr(b'\n', &self.input[self.scan..]) else {
                self.scan = self.input.len();
                if kept_before + self.input.len() > self.limits.max_response {
                    return Err(self.too_long());
                }
                return Ok(None);
            };
            let line_start = self.line_start;
            let line_end = self.scan + rel + 1; // just after '\n'
            if kept_before + line_end > self.limits.max_response {
                return Err(self.too_long());
            }
            let literal = if self.first_line_done || !is_status_line(&self.input[..line_end]) {
                literal_len(&self.input[line_start..line_end])
            } else {
                None
            };
            self.first_line_done = true;
            match literal {
                None => {
                    // End of the response.
                    let bytes = if let Some(mut partial) = self.partial.take() {
                        partial.extend_from_slice(&self.input.split_to(line_end));
                        partial.freeze()
                    } else {
                        self.input.split_to(line_end).freeze()
                    };
                    self.line_start = 0;
                    self.scan = 0;
                    self.first_line_done = false;
                    let streamed = std::mem::take(&mut self.streamed);
                    return Ok(Some(Event::Response(Frame { bytes, streamed })));
                }
                Some(len) => {
                    if len > self.limits.max_literal {
                        return Err(FrameError::LiteralTooLong {
                            len,
                            limit: self.limits.max_literal,
                        });
                    }
                    if len > self.limits.stream_threshold {
                        return Ok(Some(self.start_streaming(line_end, len)));
                    }
                    // The literal is kept: it counts against max_response before it arrives.
                    let end = (line_end as u64).saturating_add(len);
                    if (kept_before as u64).saturating_add(end) > self.limits.max_response as u64 {
                        return Err(self.too_long());
                    }
                    self.awaited = Some((line_end, len));
                }
            }
        }
    }

    /// Moves what we have of the response (up to the literal header ending at `line_end`) out
    /// of the input and starts streaming the literal.
    fn start_streaming(&mut self, line_end: usize, len: u64) -> Event {
        let head = self.input.split_to(line_end);
        let partial = self.partial.get_or_insert_with(BytesMut::new);
        partial.extend_from_slice(&head);
        self.streamed.push(partial.len());
        let head = Bytes::copy_from_slice(&partial[..]);
        self.line_start = 0;
        self.scan = 0;
        self.literal_left = len;
        self.streaming = true;
        Event::LiteralStart { len, head }
    }

    fn too_long(&self) -> FrameError {
        FrameError::ResponseTooLong {
            limit: self.limits.max_response,
        }
    }

    fn next_chunk(&mut self) -> Option<Event> {
        if self.literal_left == 0 {
            self.streaming = false;
            return Some(Event::LiteralEnd);
        }
        if self.input.is_empty() {
            return None;
        }
        // A chunk size of 0 would never make progress.
        let chunk = self.limits.chunk_size.max(1) as u64;
        let take = (self.literal_left.min(chunk) as usize).min(self.input.len());
        let chunk = self.input.split_to(take).freeze();
        self.literal_left -= take as u64;
        Some(Event::LiteralChunk(chunk))
    }
}

/// Is this the first line of a status response or a continuation request (which carry no
/// literal)? `* OK ...`, `* NO`, `* BAD`, `* BYE`, `* PREAUTH`, `tag OK|NO|BAD ...`, `+ ...`.
fn is_status_line(line: &[u8]) -> bool {
    if line.first() == Some(&b'+') {
        return true;
    }
    let mut words = line.splitn(3, |&b| b == b' ');
    let (Some(_tag), Some(word)) = (words.next(), words.next()) else {
        return false;
    };
    let word = trim_eol(word);
    matches!(
        word.to_ascii_uppercase().as_slice(),
        b"OK" | b"NO" | b"BAD" | b"BYE" | b"PREAUTH"
    )
}

fn trim_eol(mut s: &[u8]) -> &[u8] {
    while let Some((&last, rest)) = s.split_last() {
        if last == b'\n' || last == b'\r' {
            s = rest;
        } else {
            break;
        }
    }
    s
}

/// If the line (with its line ending) ends with a literal header `{N}`, `{N+}` or `~{N}`,
/// returns N.
pub fn literal_len(line: &[u8]) -> Option<u64> {
    let line = trim_eol(line);
    let body = line.strip_suffix(b"}")?;
    let open = memchr::memrchr(b'{', body)?;
    let mut digits = &body[open + 1..];
    if let Some(d) = digits
        .strip_suffix(b"+")
        .or_else(|| digits.strip_suffix(b"-"))
    {
        digits = d;
    }
    if digits.is_empty() || digits.len() > 20 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut n: u64 = 0;
    for &d in digits {
        n = n.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    Some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(f: &mut Framer) -> Vec<Event> {
        let mut out = Vec::new();
        while let Some(ev) = f.next_event().expect("frame") {
            out.push(ev);
        }
        out
    }

    fn resp(s: &[u8]) -> Event {
        Event::Response(Frame {
            bytes: Bytes::copy_from_slice(s),
            streamed: vec![],
        })
    }

    #[test]
    fn lines_and_small_literals() {
        let mut f = Framer::default();
        f.feed(b"* OK hi\r\n* 1 FETCH (UID 5 BODY[] {5}\r\nab\r\nc)\r\na1 OK done\r\n");
        assert_eq!(
            drain(&mut f),
            vec![
                resp(b"* OK hi\r\n"),
                resp(b"* 1 FETCH (UID 5 BODY[] {5}\r\nab\r\nc)\r\n"),
                resp(b"a1 OK done\r\n"),
            ]
        );
        assert!(f.is_idle());
    }

    #[test]
    fn status_text_ending_in_brace_is_not_a_literal() {
        let mut f = Framer::default();
        f.feed(b"a1 OK done {5}\r\n* 2 EXISTS\r\n");
        assert_eq!(
            drain(&mut f),
            vec![resp(b"a1 OK done {5}\r\n"), resp(b"* 2 EXISTS\r\n")]
        );
    }

    #[test]
    fn large_literal_is_streamed() {
        let mut f = Framer::new(Limits {
            stream_threshold: 4,
            chunk_size: 3,
            ..Limits::default()
        });
        f.feed(b"* 1 FETCH (BODY[] {7}\r\nabcdefg UID 9)\r\n");
        let ev = drain(&mut f);
        assert_eq!(
            ev,
            vec![
                Event::LiteralStart {
                    len: 7,
                    head: Bytes::from_static(b"* 1 FETCH (BODY[] {7}\r\n")
                },
                Event::LiteralChunk(Bytes::from_static(b"abc")),
                Event::LiteralChunk(Bytes::from_static(b"def")),
                Event::LiteralChunk(Bytes::from_static(b"g")),
                Event::LiteralEnd,
                Event::Response(Frame {
                    bytes: Bytes::from_static(b"* 1 FETCH (BODY[] {7}\r\n UID 9)\r\n"),
                    streamed: vec![23],
                }),
            ]
        );
    }

    #[test]
    fn arbitrary_chunking_gives_same_events() {
        let input: &[u8] = b"* 1 FETCH (UID 1 BODY[] {10}\r\n0123456789)\r\n* 2 FETCH (UID 2 BODY[HEADER] {3}\r\nabc BODY[] {12}\r\nxxxxxxxxxxxx)\r\nt OK\r\n";
        let reference = {
            let mut f = Framer::new(Limits {
                stream_threshold: 11,
                chunk_size: 1 << 20,
                ..Limits::default()
            });
            f.feed(input);
            normalise(drain(&mut f))
        };
        for step in 1..input.len() {
            let mut f = Framer::new(Limits {
                stream_threshold: 11,
                chunk_size: 1 << 20,
                ..Limits::default()
            });
            let mut got = Vec::new();
            for piece in input.chunks(step) {
                f.feed(piece);
                got.extend(drain(&mut f));
            }
            assert_eq!(normalise(got), reference, "step {step}");
        }
    }

    /// Merges consecutive literal chunks so different chunkings compare equal.
    fn normalise(events: Vec<Event>) -> Vec<Event> {
        let mut out: Vec<Event> = Vec::new();
        for ev in events {
            if let (Event::LiteralChunk(new), Some(Event::LiteralChunk(prev))) =
                (&ev, out.last_mut())
            {
                let mut joined = BytesMut::from(&prev[..]);
                joined.extend_from_slice(new);
                *prev = joined.freeze();
                continue;
            }
            out.push(ev);
        }
        out
    }

    #[test]
    fn limits_are_enforced() {
        let mut f = Framer::new(Limits {
            max_response: 16,
            ..Limits::default()
        });
        f.feed(b"* 1 FETCH (UID 1 BODY[] ");
        assert!(matches!(
            f.next_event(),
            Err(FrameError::ResponseTooLong { .. })
        ));
        let mut f = Framer::new(Limits {
            max_literal: 10,
            ..Limits::default()
        });
        f.feed(b"* 1 FETCH (BODY[] {11}\r\n");
        assert!(matches!(
            f.next_event(),
            Err(FrameError::LiteralTooLong { .. })
        ));
    }

    #[test]
    fn literal_header_forms() {
        assert_eq!(literal_len(b"x {12}\r\n"), Some(12));
        assert_eq!(literal_len(b"x {12+}\r\n"), Some(12));
        assert_eq!(literal_len(b"x ~{3}\r\n"), Some(3));
        assert_eq!(literal_len(b"x {}\r\n"), None);
        assert_eq!(literal_len(b"x {1a}\r\n"), None);
        assert_eq!(literal_len(b"x {99999999999999999999999}\r\n"), None);
        assert_eq!(literal_len(b"x 12}\r\n"), None);
    }

    proptest::proptest! {
        #[test]
        fn never_panics_and_respects_limits(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..2000), step in 1usize..64) {
            let mut f = Framer::new(Limits { stream_threshold: 16, chunk_size: 7, max_response: 512, max_literal: 1 << 20 });
            for piece in data.chunks(step) {
                f.feed(piece);
                loop {
                    match f.next_event() {
                        Ok(Some(Event::Response(fr))) => proptest::prop_assert!(fr.bytes.len() <= 512 + 64),
                        Ok(Some(_)) => {}
                        Ok(None) => break,
                        Err(_) => return Ok(()),
                    }
                }
            }
        }
    }
}
