//! The response grammar this client reads (RFC 3501/9051 §7 and the extensions we use).
//!
//! [`parse`] turns one [`Frame`] into a [`Response`]. The parser is hand-written for the
//! responses a migrator needs — status responses and their codes, CAPABILITY, LIST/LSUB,
//! STATUS, SEARCH/ESEARCH, FLAGS, EXISTS/EXPUNGE/VANISHED, FETCH, NAMESPACE, ID, ENABLED,
//! QUOTA — and is deliberately tolerant: an unknown response is kept raw as
//! [`Untagged::Other`], an unknown FETCH item or response code is skipped by its generic
//! shape (atom, string, literal or parenthesised list), so a server's extension never breaks a
//! migration. Literal values are zero-copy slices of the frame; a literal the framer streamed
//! elsewhere appears as [`BodyData::Streamed`].
//!
//! Its agreement with the reference grammar (imap-codec) is checked by the differential tests at
//! the end of this file.

use bytes::Bytes;

use crate::framer::Frame;
use crate::seqset::UidSet;

/// A parsed response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Response {
    /// `tag OK|NO|BAD ...`
    Tagged { tag: String, status: Status },
    /// `* ...`
    Untagged(Untagged),
    /// `+ ...`
    Continuation { text: String },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusKind {
    Ok,
    No,
    Bad,
    Bye,
    Preauth,
}

/// Status response: kind, optional response code, human-readable text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    pub kind: StatusKind,
    pub code: Option<Code>,
    pub text: String,
}

impl Status {
    pub fn is_ok(&self) -> bool {
        self.kind == StatusKind::Ok
    }

    /// The server's words as imapsync prints them: `[CODE args] text` or just text.
    pub fn full_text(&self) -> String {
        match &self.code {
            Some(code) => format!("[{}] {}", code.render(), self.text),
            None => self.text.clone(),
        }
    }
}

/// Response codes (RFC 3501 §7.1, 4315, 7162, 5530, ...).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Code {
    Alert,
    Parse,
    ReadOnly,
    ReadWrite,
    TryCreate,
    UidNext(u32),
    UidValidity(u32),
    Unseen(u32),
    PermanentFlags(Vec<String>),
    Capability(Vec<String>),
    AppendUid {
        uidvalidity: u32,
        uids: UidSet,
    },
    CopyUid {
        uidvalidity: u32,
        source: UidSet,
        dest: UidSet,
    },
    HighestModSeq(u64),
    NoModSeq,
    Closed,
    /// Any other code, upper-cased atom plus raw arguments (RFC 5530 codes such as `LIMIT`,
    /// `INUSE`, `OVERQUOTA`, `UNAVAILABLE`, `TOOBIG`, `ALREADYEXISTS`, `NONEXISTENT`, ...).
    Other {
        name: String,
        args: Option<String>,
    },
}

impl Code {
    /// The code's atom (upper case), e.g. `OVERQUOTA`.
    pub fn name(&self) -> &str {
        match self {
            Code::Alert => "ALERT",
            Code::Parse => "PARSE",
            Code::ReadOnly => "READ-ONLY",
            Code::ReadWrite => "READ-WRITE",
            Code::TryCreate => "TRYCREATE",
            Code::UidNext(_) => "UIDNEXT",
            Code::UidValidity(_) => "UIDVALIDITY",
            Code::Unseen(_) => "UNSEEN",
            Code::PermanentFlags(_) => "PERMANENTFLAGS",
            Code::Capability(_) => "CAPABILITY",
            Code::AppendUid { .. } => "APPENDUID",
            Code::CopyUid { .. } => "COPYUID",
            Code::HighestModSeq(_) => "HIGHESTMODSEQ",
            Code::NoModSeq => "NOMODSEQ",
            Code::Closed => "CLOSED",
            Code::Other { name, .. } => name,
        }
    }

    fn render(&self) -> String {
        match self {
            Code::UidNext(n) | Code::UidValidity(n) | Code::Unseen(n) => {
                format!("{} {n}", self.name())
            }
            Code::HighestModSeq(n) => format!("HIGHESTMODSEQ {n}"),
            Code::PermanentFlags(f) => format!("PERMANENTFLAGS ({})", f.join(" ")),
            Code::Capability(c) => format!("CAPABILITY {}", c.join(" ")),
            Code::AppendUid { uidvalidity, uids } => format!("APPENDUID {uidvalidity} {uids}"),
            Code::CopyUid {
                uidvalidity,
                source,
                dest,
            } => format!("COPYUID {uidvalidity} {source} {dest}"),
            Code::Other {
                name,
                args: Some(a),
            } => format!("{name} {a}"),
            _ => self.name().to_string(),
        }
    }
}

/// A LIST or LSUB entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListItem {
    /// Attributes as sent (`\HasNoChildren`, `\Noselect`, `\Sent`, ...).
    pub attrs: Vec<String>,
    /// Hierarchy delimiter, `None` for NIL.
    pub delimiter: Option<char>,
    /// Raw mailbox name bytes (modified UTF-7 unless UTF8=ACCEPT is enabled).
    pub name: Vec<u8>,
}

impl ListItem {
    pub fn has_attr(&self, attr: &str) -> bool {
        self.attrs.iter().any(|a| a.eq_ignore_ascii_case(attr))
    }
}

/// `* STATUS` items.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StatusItems {
    pub messages: Option<u32>,
    pub recent: Option<u32>,
    pub uidnext: Option<u32>,
    pub uidvalidity: Option<u32>,
    pub unseen: Option<u32>,
    pub highestmodseq: Option<u64>,
    pub size: Option<u64>,
}

/// A section of a `BODY[...]`/`BINARY[...]` item, e.g. `HEADER.FIELDS (MESSAGE-ID RECEIVED)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BodySection {
    /// Section text upper-cased, without brackets.
    pub section: String,
    /// `<origin>` partial offset when present.
    pub origin: Option<u32>,
    pub data: BodyData,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BodyData {
    Nil,
    Bytes(Bytes),
    /// The literal was streamed out by the framer (its length).
    Streamed(u64),
}

impl BodyData {
    pub fn bytes(&self) -> Option<&Bytes> {
        match self {
            BodyData::Bytes(b) => Some(b),
            _ => None,
        }
    }
}

/// Items of a FETCH response we understand; others are skipped.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FetchItems {
    pub uid: Option<u32>,
    pub flags: Option<Vec<String>>,
    /// INTERNALDATE as sent, e.g. `17-Jul-1996 02:44:25 -0700`.
    pub internaldate: Option<String>,
    pub rfc822_size: Option<u64>,
    pub modseq: Option<u64>,
    pub sections: Vec<BodySection>,
    pub x_gm_msgid: Option<u64>,
    pub x_gm_labels: Option<Vec<String>>,
    pub emailid: Option<String>,
}

impl FetchItems {
    /// The data of the first `BODY[<section>]` (section compared case-insensitively,
    /// `HEADER.FIELDS` lists compared loosely).
    pub fn section(&self, prefix: &str) -> Option<&BodySection> {
        self.sections
            .iter()
            .find(|s| s.section.starts_with(&prefix.to_ascii_uppercase()))
    }
}

/// `* ESEARCH` (RFC 4731).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ESearch {
    pub tag: Option<String>,
    pub uid: bool,
    pub all: Option<UidSet>,
    pub min: Option<u32>,
    pub max: Option<u32>,
    pub count: Option<u32>,
    pub modseq: Option<u64>,
}

/// One namespace description `("prefix" "delim")`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamespaceDesc {
    pub prefix: Vec<u8>,
    pub delimiter: Option<char>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Untagged {
    Status(Status),
    Capability(Vec<String>),
    List(ListItem),
    Lsub(ListItem),
    MailboxStatus {
        mailbox: Vec<u8>,
        items: StatusItems,
    },
    Search {
        ids: Vec<u32>,
        modseq: Option<u64>,
    },
    ESearch(ESearch),
    Flags(Vec<String>),
    Exists(u32),
    Recent(u32),
    Expunge(u32),
    Fetch {
        seq: u32,
        items: FetchItems,
    },
    Vanished {
        earlier: bool,
        uids: UidSet,
    },
    Namespace {
        personal: Vec<NamespaceDesc>,
        other: Vec<NamespaceDesc>,
        shared: Vec<NamespaceDesc>,
    },
    Id(Vec<(String, Option<String>)>),
    Enabled(Vec<String>),
    Quota {
        root: Vec<u8>,
        resources: Vec<(String, u64, u64)>,
    },
    QuotaRoot {
        mailbox: Vec<u8>,
        roots: Vec<Vec<u8>>,
    },
    /// Anything else, raw.
    Other(Bytes),
}

/// A response that does not follow the grammar.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("malformed response at byte {offset}: {what} in {excerpt:?}")]
pub struct ParseError {
    pub offset: usize,
    pub what: &'static str,
    pub excerpt: String,
}

/// Parses one framed response, tolerating what servers actually send: an untagged response
/// that does not follow its grammar is returned raw as [`Untagged::Other`] together with the
/// error (for the caller to log), instead of failing. Tagged responses and continuation
/// requests are parsed as by [`parse`] (an unparseable response code is already kept as text
/// there); only a line that is not a response at all is an error.
pub fn parse_tolerant(frame: &Frame) -> Result<(Response, Option<ParseError>), ParseError> {
    match parse(frame) {
        Ok(r) => Ok((r, None)),
        Err(e) if frame.bytes.starts_with(b"* ") => Ok((
            Response::Untagged(Untagged::Other(frame.bytes.clone())),
            Some(e),
        )),
        Err(e) => Err(e),
    }
}

/// Parses one framed response.
pub fn parse(frame: &Frame) -> Result<Response, ParseError> {
    let mut p = Parser {
        buf: &frame.bytes,
        bytes: &frame.bytes,
        pos: 0,
        streamed: &frame.streamed,
        depth: 0,
    };
    p.response()
}

/// Largest nesting of parenthesised lists skipped generically (BODYSTRUCTURE of a 100-level
/// deep multipart is well within; a hostile server cannot exhaust the stack).
const MAX_NESTING: usize = 256;

struct Parser<'a> {
    buf: &'a [u8],
    bytes: &'a Bytes,
    pos: usize,
    streamed: &'a [usize],
    depth: usize,
}

/// A string value: either borrowed bytes of the frame, or a streamed literal.
enum Str {
    Bytes(std::ops::Range<usize>),
    Streamed(u64),
    Nil,
}

impl<'a> Parser<'a> {
    fn err(&self, what: &'static str) -> ParseError {
        let start = self.pos.saturating_sub(20);
        let end = (self.pos + 40).min(self.buf.len());
        ParseError {
            offset: self.pos,
            what,
            excerpt: String::from_utf8_lossy(&self.buf[start..end]).into_owned(),
        }
    }

    fn peek(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }

    fn at_eol(&self) -> bool {
        matches!(self.peek(), None | Some(b'\r') | Some(b'\n'))
    }

    fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, b: u8, what: &'static str) -> Result<(), ParseError> {
        if self.eat(b) {
            Ok(())
        } else {
            Err(self.err(what))
        }
    }

    fn skip_spaces(&mut self) {
        while self.peek() == Some(b' ') {
            self.pos += 1;
        }
    }

    /// Rest of the line (without CRLF) as text.
    fn rest_text(&mut self) -> String {
        let start = self.pos;
        let end =
            memchr::memchr2(b'\r', b'\n', &self.buf[start..]).map_or(self.buf.len(), |i| start + i);
        self.pos = end;
        String::from_utf8_lossy(&self.buf[start..end]).into_owned()
    }

    /// An atom-ish token: stops at space, parens, brackets, CRLF.
    fn token(&mut self) -> &'a [u8] {
        let start = self.pos;
        while let Some(b) = self.peek() {
            if matches!(
                b,
                b' ' | b'(' | b')' | b'[' | b']' | b'\r' | b'\n' | b'{' | b'"'
            ) {
                break;
            }
            self.pos += 1;
        }
        &self.buf[start..self.pos]
    }

    /// An astring atom: `[` and `]` are allowed (`[Gmail]`), stops at space, parens, quote,
    /// brace and line end.
    fn astring_token(&mut self) -> &'a [u8] {
        let start = self.pos;
        while let Some(b) = self.peek() {
            if matches!(b, b' ' | b'(' | b')' | b'\r' | b'\n' | b'{' | b'"') {
                break;
            }
            self.pos += 1;
        }
        &self.buf[start..self.pos]
    }

    /// Like `token` but `]` and `[` allowed inside (for flags like `\*` and atoms in codes we
    /// stop at `]`).
    fn flag_token(&mut self) -> &'a [u8] {
        let start = self.pos;
        while let Some(b) = self.peek() {
            if matches!(b, b' ' | b'(' | b')' | b']' | b'\r' | b'\n') {
                break;
            }
            self.pos += 1;
        }
        &self.buf[start..self.pos]
    }

    fn number_u64(&mut self) -> Result<u64, ParseError> {
        let start = self.pos;
        let mut n: u64 = 0;
        while let Some(b) = self.peek() {
            if !b.is_ascii_digit() {
                break;
            }
            n = n
                .checked_mul(10)
                .and_then(|n| n.checked_add(u64::from(b - b'0')))
                .ok_or_else(|| self.err("number too large"))?;
            self.pos += 1;
        }
        if self.pos == start {
            return Err(self.err("number expected"));
        }
        Ok(n)
    }

    fn number(&mut self) -> Result<u32, ParseError> {
        let n = self.number_u64()?;
        u32::try_from(n).map_err(|_| self.err("number out of 32-bit range"))
    }

    /// string / nil / atom (astring or nstring, leniently).
    fn string(&mut self) -> Result<Str, ParseError> {
        match self.peek() {
            Some(b'"') => {
                self.pos += 1;
                let start = self.pos;
                // Fast path: no escapes.
                loop {
                    match self.peek() {
                        None | Some(b'\r') | Some(b'\n') => {
                            return Err(self.err("unterminated quoted string"));
                        }
                        Some(b'"') => {
                            let r = start..self.pos;
                            self.pos += 1;
                            return Ok(Str::Bytes(r));
                        }
                        Some(b'\\') => break,
                        Some(_) => self.pos += 1,
                    }
                }
                // Escapes present: the caller needs an owned copy; signal with a range into an
                // unescaped buffer is impossible, so we fall back to `quoted_owned`.
                self.pos = start - 1;
                Err(self.err("escaped quoted string"))
            }
            Some(b'{') => self.literal(),
            // `~{n}` is a literal8; a bare `~` starts an atom (Cyrus lists `~home` unquoted).
            Some(b'~') if self.buf.get(self.pos + 1) == Some(&b'{') => self.literal(),
            _ => {
                let start = self.pos;
                let tok = self.astring_token();
                if tok.is_empty() {
                    return Err(self.err("string expected"));
                }
                if tok.eq_ignore_ascii_case(b"NIL") {
                    Ok(Str::Nil)
                } else {
                    Ok(Str::Bytes(start..self.pos))
                }
            }
        }
    }

    fn literal(&mut self) -> Result<Str, ParseError> {
        self.eat(b'~');
        self.expect(b'{', "literal expected")?;
        let len = self.number_u64()?;
        self.eat(b'+');
        self.expect(b'}', "literal: } expected")?;
        self.eat(b'\r');
        self.expect(b'\n', "literal: LF expected")?;
        if self.streamed.contains(&self.pos) {
            return Ok(Str::Streamed(len));
        }
        let start = self.pos;
        let end = start
            .checked_add(usize::try_from(len).map_err(|_| self.err("literal too long"))?)
            .filter(|&e| e <= self.buf.len())
            .ok_or_else(|| self.err("literal shorter than announced"))?;
        self.pos = end;
        Ok(Str::Bytes(start..end))
    }

    /// A string as owned bytes, handling quoted escapes.
    fn string_owned(&mut self) -> Result<Option<Vec<u8>>, ParseError> {
        if self.peek() == Some(b'"') {
            return self.quoted_owned().map(Some);
        }
        match self.string()? {
            Str::Bytes(r) => Ok(Some(self.buf[r].to_vec())),
            Str::Nil => Ok(None),
            Str::Streamed(_) => Err(self.err("streamed literal where a string was expected")),
        }
    }

    fn quoted_owned(&mut self) -> Result<Vec<u8>, ParseError> {
        self.expect(b'"', "quoted string expected")?;
        let mut out = Vec::new();
        loop {
            match self.peek() {
                None | Some(b'\r') | Some(b'\n') => {
                    return Err(self.err("unterminated quoted string"));
                }
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.pos += 1;
                    match self.peek() {
                        Some(c) if c != b'\r' && c != b'\n' => {
                            out.push(c);
                            self.pos += 1;
                        }
                        _ => return Err(self.err("bad escape in quoted string")),
                    }
                }
                Some(c) => {
                    out.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    fn string_text(&mut self) -> Result<Option<String>, ParseError> {
        Ok(self
            .string_owned()?
            .map(|b| String::from_utf8_lossy(&b).into_owned()))
    }

    /// Skips any value generically: atom, string, literal, NIL, (list), [section].
    fn skip_value(&mut self) -> Result<(), ParseError> {
        match self.peek() {
            Some(b'(') => self.skip_list(b'(', b')'),
            Some(b'[') => self.skip_list(b'[', b']'),
            Some(b'"') => self.quoted_owned().map(|_| ()),
            Some(b'{') => self.literal().map(|_| ()),
            Some(b'~') if self.buf.get(self.pos + 1) == Some(&b'{') => self.literal().map(|_| ()),
            Some(b')') | Some(b']') | None => Err(self.err("value expected")),
            _ => {
                let t = self.flag_token();
                if t.is_empty() {
                    return Err(self.err("value expected"));
                }
                // An atom may be followed directly by a section (`BODY[...]<0>`).
                if self.peek() == Some(b'[') {
                    self.skip_list(b'[', b']')?;
                }
                if self.peek() == Some(b'<') {
                    self.flag_token();
                }
                Ok(())
            }
        }
    }

    fn skip_list(&mut self, open: u8, close: u8) -> Result<(), ParseError> {
        self.expect(open, "list expected")?;
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(self.err("nesting too deep"));
        }
        loop {
            self.skip_spaces();
            match self.peek() {
                Some(c) if c == close => {
                    self.pos += 1;
                    self.depth -= 1;
                    return Ok(());
                }
                None | Some(b'\r') | Some(b'\n') => return Err(self.err("unterminated list")),
                Some(b']') | Some(b')') => {
                    // Mismatched closer: tolerate inside sections.
                    self.pos += 1;
                }
                _ => self.skip_value()?,
            }
        }
    }

    fn flag_list(&mut self) -> Result<Vec<String>, ParseError> {
        self.expect(b'(', "flag list expected")?;
        let mut flags = Vec::new();
        loop {
            self.skip_spaces();
            match self.peek() {
                Some(b')') => {
                    self.pos += 1;
                    return Ok(flags);
                }
                None | Some(b'\r') | Some(b'\n') => return Err(self.err("unterminated flag list")),
                Some(b'"') | Some(b'{') => {
                    // Non-standard but seen: quoted flags (Gmail labels).
                    if let Some(s) = self.string_text()? {
                        flags.push(s);
                    }
                }
                _ => {
                    let t = self.flag_token();
                    if t.is_empty() {
                        return Err(self.err("flag expected"));
                    }
                    flags.push(String::from_utf8_lossy(t).into_owned());
                }
            }
        }
    }

    fn response(&mut self) -> Result<Response, ParseError> {
        match self.peek() {
            Some(b'+') => {
                self.pos += 1;
                self.eat(b' ');
                Ok(Response::Continuation {
                    text: self.rest_text(),
                })
            }
            Some(b'*') => {
                self.pos += 1;
                self.expect(b' ', "space after *")?;
                self.untagged().map(Response::Untagged)
            }
            Some(_) => {
                let tag = String::from_utf8_lossy(self.token()).into_owned();
                if tag.is_empty() {
                    return Err(self.err("tag expected"));
                }
                self.expect(b' ', "space after tag")?;
                let word = self.token().to_ascii_uppercase();
                let kind = match word.as_slice() {
                    b"OK" => StatusKind::Ok,
                    b"NO" => StatusKind::No,
                    b"BAD" => StatusKind::Bad,
                    // Some servers send a tagged BYE; treat as NO.
                    b"BYE" => StatusKind::No,
                    _ => return Err(self.err("OK, NO or BAD expected after tag")),
                };
                let status = self.status_rest(kind)?;
                Ok(Response::Tagged { tag, status })
            }
            None => Err(self.err("empty response")),
        }
    }

    fn status_rest(&mut self, kind: StatusKind) -> Result<Status, ParseError> {
        self.skip_spaces();
        let code = if self.peek() == Some(b'[') {
            let save = self.pos;
            match self.code() {
                Ok(c) => Some(c),
                Err(_) => {
                    // Unparseable code: keep it as text.
                    self.pos = save;
                    None
                }
            }
        } else {
            None
        };
        self.skip_spaces();
        Ok(Status {
            kind,
            code,
            text: self.rest_text(),
        })
    }

    fn code(&mut self) -> Result<Code, ParseError> {
        self.expect(b'[', "[ expected")?;
        let name = String::from_utf8_lossy(self.flag_token()).to_ascii_uppercase();
        let code = match name.as_str() {
            "ALERT" => Code::Alert,
            "PARSE" => Code::Parse,
            "READ-ONLY" => Code::ReadOnly,
            "READ-WRITE" => Code::ReadWrite,
            "TRYCREATE" => Code::TryCreate,
            "NOMODSEQ" => Code::NoModSeq,
            "CLOSED" => Code::Closed,
            "UIDNEXT" => {
                self.expect(b' ', "space")?;
                Code::UidNext(self.number()?)
            }
            "UIDVALIDITY" => {
                self.expect(b' ', "space")?;
                Code::UidValidity(self.number()?)
            }
            "UNSEEN" => {
                self.expect(b' ', "space")?;
                Code::Unseen(self.number()?)
            }
            "HIGHESTMODSEQ" => {
                self.expect(b' ', "space")?;
                Code::HighestModSeq(self.number_u64()?)
            }
            "PERMANENTFLAGS" => {
                self.expect(b' ', "space")?;
                Code::PermanentFlags(self.flag_list()?)
            }
            "CAPABILITY" => {
                let mut caps = Vec::new();
                while self.eat(b' ') {
                    let t = self.flag_token();
                    if !t.is_empty() {
                        caps.push(String::from_utf8_lossy(t).into_owned());
                    }
                }
                Code::Capability(caps)
            }
            "APPENDUID" => {
                self.expect(b' ', "space")?;
                let uidvalidity = self.number()?;
                self.expect(b' ', "space")?;
                let uids = self.uid_set()?;
                Code::AppendUid { uidvalidity, uids }
            }
            "COPYUID" => {
                self.expect(b' ', "space")?;
                let uidvalidity = self.number()?;
                self.expect(b' ', "space")?;
                let source = self.uid_set()?;
                self.expect(b' ', "space")?;
                let dest = self.uid_set()?;
                Code::CopyUid {
                    uidvalidity,
                    source,
                    dest,
                }
            }
            _ => {
                let args = if self.eat(b' ') {
                    let start = self.pos;
                    let end = memchr::memchr(b']', &self.buf[start..])
                        .map(|i| start + i)
                        .ok_or_else(|| self.err("] expected"))?;
                    self.pos = end;
                    Some(String::from_utf8_lossy(&self.buf[start..end]).into_owned())
                } else {
                    None
                };
                Code::Other { name, args }
            }
        };
        self.skip_spaces();
        self.expect(b']', "] expected")?;
        Ok(code)
    }

    fn uid_set(&mut self) -> Result<UidSet, ParseError> {
        let t = self.flag_token();
        UidSet::parse(&String::from_utf8_lossy(t)).ok_or_else(|| self.err("bad uid set"))
    }

    fn untagged(&mut self) -> Result<Untagged, ParseError> {
        let start = self.pos;
        if self.peek().is_some_and(|b| b.is_ascii_digit()) {
            let n = self.number()?;
            self.expect(b' ', "space after number")?;
            let word = self.token().to_ascii_uppercase();
            return match word.as_slice() {
                b"EXISTS" => Ok(Untagged::Exists(n)),
                b"RECENT" => Ok(Untagged::Recent(n)),
                b"EXPUNGE" => Ok(Untagged::Expunge(n)),
                b"FETCH" => {
                    self.expect(b' ', "space after FETCH")?;
                    Ok(Untagged::Fetch {
                        seq: n,
                        items: self.fetch_items()?,
                    })
                }
                _ => Ok(Untagged::Other(self.bytes.slice(start..))),
            };
        }
        let word = self.token().to_ascii_uppercase();
        match word.as_slice() {
            b"OK" => Ok(Untagged::Status(self.status_rest(StatusKind::Ok)?)),
            b"NO" => Ok(Untagged::Status(self.status_rest(StatusKind::No)?)),
            b"BAD" => Ok(Untagged::Status(self.status_rest(StatusKind::Bad)?)),
            b"BYE" => Ok(Untagged::Status(self.status_rest(StatusKind::Bye)?)),
            b"PREAUTH" => Ok(Untagged::Status(self.status_rest(StatusKind::Preauth)?)),
            b"CAPABILITY" => {
                let mut caps = Vec::new();
                while self.eat(b' ') {
                    let t = self.flag_token();
                    if !t.is_empty() {
                        caps.push(String::from_utf8_lossy(t).into_owned());
                    }
                }
                Ok(Untagged::Capability(caps))
            }
            b"LIST" | b"XLIST" => {
                self.expect(b' ', "space")?;
                Ok(Untagged::List(self.list_item()?))
            }
            b"LSUB" => {
                self.expect(b' ', "space")?;
                Ok(Untagged::Lsub(self.list_item()?))
            }
            b"STATUS" => {
                self.expect(b' ', "space")?;
                let mailbox = self.mailbox()?;
                self.skip_spaces();
                Ok(Untagged::MailboxStatus {
                    mailbox,
                    items: self.status_items()?,
                })
            }
            b"SEARCH" | b"SORT" => {
                let mut ids = Vec::new();
                let mut modseq = None;
                loop {
                    self.skip_spaces();
                    match self.peek() {
                        Some(b) if b.is_ascii_digit() => ids.push(self.number()?),
                        Some(b'(') => {
                            self.pos += 1;
                            let t = self.token().to_ascii_uppercase();
                            if t == b"MODSEQ" {
                                self.expect(b' ', "space")?;
                                modseq = Some(self.number_u64()?);
                            }
                            self.skip_spaces();
                            self.expect(b')', ") expected")?;
                        }
                        _ => break,
                    }
                }
                Ok(Untagged::Search { ids, modseq })
            }
            b"ESEARCH" => self.esearch().map(Untagged::ESearch),
            b"FLAGS" => {
                self.expect(b' ', "space")?;
                Ok(Untagged::Flags(self.flag_list()?))
            }
            b"VANISHED" => {
                self.expect(b' ', "space")?;
                let mut earlier = false;
                if self.peek() == Some(b'(') {
                    self.pos += 1;
                    let t = self.token().to_ascii_uppercase();
                    earlier = t == b"EARLIER";
                    self.expect(b')', ") expected")?;
                    self.expect(b' ', "space")?;
                }
                Ok(Untagged::Vanished {
                    earlier,
                    uids: self.uid_set()?,
                })
            }
            b"NAMESPACE" => {
                self.expect(b' ', "space")?;
                let personal = self.namespace_list()?;
                self.expect(b' ', "space")?;
                let other = self.namespace_list()?;
                self.expect(b' ', "space")?;
                let shared = self.namespace_list()?;
                Ok(Untagged::Namespace {
                    personal,
                    other,
                    shared,
                })
            }
            b"ID" => {
                self.expect(b' ', "space")?;
                let mut pairs = Vec::new();
                if self.peek() == Some(b'(') {
                    self.pos += 1;
                    loop {
                        self.skip_spaces();
                        if self.eat(b')') {
                            break;
                        }
                        if self.at_eol() {
                            return Err(self.err("unterminated ID list"));
                        }
                        let k = self.string_text()?.unwrap_or_default();
                        self.skip_spaces();
                        let v = self.string_text()?;
                        pairs.push((k, v));
                    }
                } else {
                    self.skip_value()?;
                }
                Ok(Untagged::Id(pairs))
            }
            b"ENABLED" => {
                let mut caps = Vec::new();
                while self.eat(b' ') {
                    let t = self.flag_token();
                    if !t.is_empty() {
                        caps.push(String::from_utf8_lossy(t).into_owned());
                    }
                }
                Ok(Untagged::Enabled(caps))
            }
            b"QUOTA" => {
                self.expect(b' ', "space")?;
                let root = self.mailbox()?;
                self.skip_spaces();
                // Courier-IMAP answers `* QUOTA "ROOT"` for a root without limits: no list
                // at all instead of `()`.
                if self.at_eol() {
                    return Ok(Untagged::Quota {
                        root,
                        resources: Vec::new(),
                    });
                }
                self.expect(b'(', "( expected")?;
                let mut resources = Vec::new();
                loop {
                    self.skip_spaces();
                    if self.eat(b')') {
                        break;
                    }
                    if self.at_eol() {
                        return Err(self.err("unterminated QUOTA list"));
                    }
                    let name = String::from_utf8_lossy(self.token()).to_ascii_uppercase();
                    self.skip_spaces();
                    let usage = self.number_u64()?;
                    self.skip_spaces();
                    let limit = self.number_u64()?;
                    resources.push((name, usage, limit));
                }
                Ok(Untagged::Quota { root, resources })
            }
            b"QUOTAROOT" => {
                self.expect(b' ', "space")?;
                let mailbox = self.mailbox()?;
                let mut roots = Vec::new();
                while self.eat(b' ') {
                    if self.at_eol() {
                        break;
                    }
                    roots.push(self.mailbox()?);
                }
                Ok(Untagged::QuotaRoot { mailbox, roots })
            }
            _ => Ok(Untagged::Other(self.bytes.slice(start..))),
        }
    }

    fn mailbox(&mut self) -> Result<Vec<u8>, ParseError> {
        self.string_owned()?
            .ok_or_else(|| self.err("mailbox name expected, NIL found"))
    }

    fn list_item(&mut self) -> Result<ListItem, ParseError> {
        let attrs = self.flag_list()?;
        self.expect(b' ', "space after attributes")?;
        let delimiter = match self.string_owned()? {
            None => None,
            Some(d) => match d.as_slice() {
                [c] => Some(char::from(*c)),
                _ => return Err(self.err("one-character delimiter expected")),
            },
        };
        self.expect(b' ', "space before mailbox")?;
        let name = self.mailbox()?;
        // LIST-EXTENDED data (CHILDINFO, OLDNAME) is ignored.
        Ok(ListItem {
            attrs,
            delimiter,
            name,
        })
    }

    fn status_items(&mut self) -> Result<StatusItems, ParseError> {
        self.expect(b'(', "( expected")?;
        let mut items = StatusItems::default();
        loop {
            self.skip_spaces();
            if self.eat(b')') {
                return Ok(items);
            }
            if self.at_eol() {
                return Err(self.err("unterminated STATUS list"));
            }
            let name = self.token().to_ascii_uppercase();
            self.skip_spaces();
            match name.as_slice() {
                b"MESSAGES" => items.messages = Some(self.number()?),
                b"RECENT" => items.recent = Some(self.number()?),
                b"UIDNEXT" => items.uidnext = Some(self.number()?),
                b"UIDVALIDITY" => items.uidvalidity = Some(self.number()?),
                b"UNSEEN" => items.unseen = Some(self.number()?),
                b"HIGHESTMODSEQ" => items.highestmodseq = Some(self.number_u64()?),
                b"SIZE" => items.size = Some(self.number_u64()?),
                _ => self.skip_value()?,
            }
        }
    }

    fn esearch(&mut self) -> Result<ESearch, ParseError> {
        let mut es = ESearch::default();
        loop {
            self.skip_spaces();
            if self.at_eol() {
                return Ok(es);
            }
            if self.peek() == Some(b'(') {
                // (TAG "x")
                self.pos += 1;
                let t = self.token().to_ascii_uppercase();
                self.skip_spaces();
                if t == b"TAG" {
                    es.tag = self.string_text()?;
                } else {
                    self.skip_value()?;
                }
                self.skip_spaces();
                self.expect(b')', ") expected")?;
                continue;
            }
            let word = self.token().to_ascii_uppercase();
            if word.is_empty() {
                return Err(self.err("ESEARCH item expected"));
            }
            if word == b"UID" {
                es.uid = true;
                continue;
            }
            self.skip_spaces();
            match word.as_slice() {
                b"ALL" => es.all = Some(self.uid_set()?),
                b"MIN" => es.min = Some(self.number()?),
                b"MAX" => es.max = Some(self.number()?),
                b"COUNT" => es.count = Some(self.number()?),
                b"MODSEQ" => es.modseq = Some(self.number_u64()?),
                _ => self.skip_value()?,
            }
        }
    }

    fn namespace_list(&mut self) -> Result<Vec<NamespaceDesc>, ParseError> {
        let mut out = Vec::new();
        if self.peek() != Some(b'(') {
            // NIL
            let t = self.token();
            if !t.eq_ignore_ascii_case(b"NIL") {
                return Err(self.err("namespace list or NIL expected"));
            }
            return Ok(out);
        }
        self.pos += 1;
        loop {
            self.skip_spaces();
            if self.eat(b')') {
                return Ok(out);
            }
            self.expect(b'(', "( expected")?;
            let prefix = self.string_owned()?.unwrap_or_default();
            self.skip_spaces();
            let delimiter = self
                .string_owned()?
                .and_then(|d| d.first().map(|&c| char::from(c)));
            // Namespace extensions.
            loop {
                self.skip_spaces();
                if self.eat(b')') {
                    break;
                }
                if self.at_eol() {
                    return Err(self.err("unterminated namespace"));
                }
                self.skip_value()?;
            }
            out.push(NamespaceDesc { prefix, delimiter });
        }
    }

    fn fetch_items(&mut self) -> Result<FetchItems, ParseError> {
        self.expect(b'(', "( expected after FETCH")?;
        let mut it = FetchItems::default();
        loop {
            self.skip_spaces();
            if self.eat(b')') {
                return Ok(it);
            }
            if self.at_eol() {
                return Err(self.err("unterminated FETCH list"));
            }
            let name = self.token().to_ascii_uppercase();
            if name.is_empty() {
                return Err(self.err("FETCH item name expected"));
            }
            match name.as_slice() {
                b"UID" => {
                    self.skip_spaces();
                    it.uid = Some(self.number()?);
                }
                b"FLAGS" => {
                    self.skip_spaces();
                    it.flags = Some(self.flag_list()?);
                }
                b"INTERNALDATE" => {
                    self.skip_spaces();
                    it.internaldate = self.string_text()?;
                }
                b"RFC822.SIZE" => {
                    self.skip_spaces();
                    it.rfc822_size = Some(self.number_u64()?);
                }
                b"MODSEQ" => {
                    self.skip_spaces();
                    self.expect(b'(', "( expected after MODSEQ")?;
                    it.modseq = Some(self.number_u64()?);
                    self.skip_spaces();
                    self.expect(b')', ") expected after MODSEQ")?;
                }
                b"X-GM-MSGID" => {
                    self.skip_spaces();
                    it.x_gm_msgid = Some(self.number_u64()?);
                }
                b"X-GM-LABELS" => {
                    self.skip_spaces();
                    it.x_gm_labels = Some(self.flag_list()?);
                }
                b"EMAILID" => {
                    self.skip_spaces();
                    self.expect(b'(', "( expected after EMAILID")?;
                    it.emailid = Some(String::from_utf8_lossy(self.token()).into_owned());
                    self.expect(b')', ") expected after EMAILID")?;
                }
                b"BODY" | b"BINARY" | b"RFC822" | b"RFC822.HEADER" | b"RFC822.TEXT" => {
                    let section = if name != b"BODY" && name != b"BINARY" {
                        // RFC822 = BODY[], RFC822.HEADER = BODY[HEADER], ...
                        match name.as_slice() {
                            b"RFC822.HEADER" => "HEADER".into(),
                            b"RFC822.TEXT" => "TEXT".into(),
                            _ => String::new(),
                        }
                    } else if self.peek() == Some(b'[') {
                        let start = self.pos + 1;
                        self.skip_list(b'[', b']')?;
                        String::from_utf8_lossy(&self.buf[start..self.pos - 1]).to_ascii_uppercase()
                    } else {
                        // BODY without section = BODYSTRUCTURE-like; skip.
                        self.skip_spaces();
                        self.skip_value()?;
                        continue;
                    };
                    let mut origin = None;
                    if self.eat(b'<') {
                        origin = Some(self.number()?);
                        self.expect(b'>', "> expected")?;
                    }
                    self.skip_spaces();
                    let data = match self.string() {
                        Ok(Str::Bytes(r)) => BodyData::Bytes(self.bytes.slice(r)),
                        Ok(Str::Nil) => BodyData::Nil,
                        Ok(Str::Streamed(n)) => BodyData::Streamed(n),
                        Err(_) if self.peek() == Some(b'"') => {
                            BodyData::Bytes(Bytes::from(self.quoted_owned()?))
                        }
                        Err(e) => return Err(e),
                    };
                    it.sections.push(BodySection {
                        section,
                        origin,
                        data,
                    });
                }
                _ => {
                    // Unknown item (BODYSTRUCTURE, ENVELOPE, X-GM-THRID, SAVEDATE, ...), maybe
                    // with a section and a partial origin (`X-ITEM[1]<0>`).
                    if self.peek() == Some(b'[') {
                        self.skip_list(b'[', b']')?;
                        if self.peek() == Some(b'<') {
                            self.flag_token();
                        }
                    }
                    self.skip_spaces();
                    self.skip_value()?;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &[u8]) -> Response {
        parse(&Frame {
            bytes: Bytes::copy_from_slice(s),
            streamed: vec![],
        })
        .expect("parse")
    }

    fn untagged(s: &[u8]) -> Untagged {
        match p(s) {
            Response::Untagged(u) => u,
            other => panic!("not untagged: {other:?}"),
        }
    }

    #[test]
    fn tagged_status_with_codes() {
        assert_eq!(
            p(b"a1 OK [APPENDUID 38505 3955] APPEND completed\r\n"),
            Response::Tagged {
                tag: "a1".into(),
                status: Status {
                    kind: StatusKind::Ok,
                    code: Some(Code::AppendUid {
                        uidvalidity: 38505,
                        uids: UidSet::parse("3955").expect("set"),
                    }),
                    text: "APPEND completed".into()
                }
            }
        );
        let Response::Tagged { status, .. } =
            p(b"a2 NO [OVERQUOTA] Quota exceeded (mailbox for user is full)\r\n")
        else {
            panic!()
        };
        assert_eq!(status.kind, StatusKind::No);
        assert_eq!(status.code.as_ref().map(Code::name), Some("OVERQUOTA"));
        assert_eq!(
            status.full_text(),
            "[OVERQUOTA] Quota exceeded (mailbox for user is full)"
        );
        let Response::Tagged { status, .. } =
            p(b"a3 BAD Request is throttled. Suggested Backoff Time: 2000 milliseconds\r\n")
        else {
            panic!()
        };
        assert_eq!(status.kind, StatusKind::Bad);
        assert!(status.code.is_none());
    }

    #[test]
    fn untagged_statuses() {
        assert_eq!(
            untagged(b"* OK [UIDVALIDITY 1795460429] UIDs valid\r\n"),
            Untagged::Status(Status {
                kind: StatusKind::Ok,
                code: Some(Code::UidValidity(1795460429)),
                text: "UIDs valid".into()
            })
        );
        assert_eq!(
            untagged(b"* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Forwarded \\*)] Flags permitted.\r\n"),
            Untagged::Status(Status {
                kind: StatusKind::Ok,
                code: Some(Code::PermanentFlags(vec![
                    "\\Answered".into(), "\\Flagged".into(), "\\Deleted".into(), "\\Seen".into(),
                    "\\Draft".into(), "$Forwarded".into(), "\\*".into()
                ])),
                text: "Flags permitted.".into()
            })
        );
        let Untagged::Status(s) =
            untagged(b"* OK [CAPABILITY IMAP4rev1 LITERAL+ AUTH=PLAIN] Dovecot ready.\r\n")
        else {
            panic!()
        };
        assert_eq!(
            s.code,
            Some(Code::Capability(vec![
                "IMAP4rev1".into(),
                "LITERAL+".into(),
                "AUTH=PLAIN".into()
            ]))
        );
        let Untagged::Status(s) = untagged(b"* BYE Server shutting down\r\n") else {
            panic!()
        };
        assert_eq!(s.kind, StatusKind::Bye);
        let Untagged::Status(s) = untagged(b"* OK [HIGHESTMODSEQ 715194045007] Highest\r\n") else {
            panic!()
        };
        assert_eq!(s.code, Some(Code::HighestModSeq(715194045007)));
        // An unknown code with arguments.
        let Untagged::Status(s) = untagged(b"* NO [THROTTLED] slow down\r\n") else {
            panic!()
        };
        assert_eq!(
            s.code,
            Some(Code::Other {
                name: "THROTTLED".into(),
                args: None
            })
        );
    }

    #[test]
    fn list_and_lsub() {
        assert_eq!(
            untagged(b"* LIST (\\HasNoChildren \\Sent) \"/\" \"Sent Items\"\r\n"),
            Untagged::List(ListItem {
                attrs: vec!["\\HasNoChildren".into(), "\\Sent".into()],
                delimiter: Some('/'),
                name: b"Sent Items".to_vec()
            })
        );
        assert_eq!(
            untagged(b"* LIST (\\Noselect) \"/\" [Gmail]\r\n"),
            Untagged::List(ListItem {
                attrs: vec!["\\Noselect".into()],
                delimiter: Some('/'),
                name: b"[Gmail]".to_vec()
            })
        );
        assert_eq!(
            untagged(b"* LIST () NIL INBOX\r\n"),
            Untagged::List(ListItem {
                attrs: vec![],
                delimiter: None,
                name: b"INBOX".to_vec()
            })
        );
        assert_eq!(
            untagged(b"* LSUB () \".\" {9}\r\nQuote\"d\\x\r\n"),
            Untagged::Lsub(ListItem {
                attrs: vec![],
                delimiter: Some('.'),
                name: b"Quote\"d\\x".to_vec()
            })
        );
        assert_eq!(
            untagged(b"* LIST () \"\\\\\" \"a\\\\b \\\"c\\\"\"\r\n"),
            Untagged::List(ListItem {
                attrs: vec![],
                delimiter: Some('\\'),
                name: b"a\\b \"c\"".to_vec()
            })
        );
    }

    #[test]
    fn status_search_esearch() {
        assert_eq!(
            untagged(b"* STATUS Drafts (MESSAGES 3 UIDNEXT 7 UIDVALIDITY 1795460428 HIGHESTMODSEQ 9 SIZE 1200 X-FOO 1)\r\n"),
            Untagged::MailboxStatus {
                mailbox: b"Drafts".to_vec(),
                items: StatusItems {
                    messages: Some(3), uidnext: Some(7), uidvalidity: Some(1795460428),
                    highestmodseq: Some(9), size: Some(1200), ..Default::default()
                }
            }
        );
        assert_eq!(
            untagged(b"* SEARCH 2 84 882\r\n"),
            Untagged::Search {
                ids: vec![2, 84, 882],
                modseq: None
            }
        );
        assert_eq!(
            untagged(b"* SEARCH\r\n"),
            Untagged::Search {
                ids: vec![],
                modseq: None
            }
        );
        assert_eq!(
            untagged(b"* SEARCH 2 5 (MODSEQ 917162500)\r\n"),
            Untagged::Search {
                ids: vec![2, 5],
                modseq: Some(917162500)
            }
        );
        assert_eq!(
            untagged(b"* ESEARCH (TAG \"A285\") UID MIN 7 MAX 3800 ALL 7,9:11\r\n"),
            Untagged::ESearch(ESearch {
                tag: Some("A285".into()),
                uid: true,
                min: Some(7),
                max: Some(3800),
                all: UidSet::parse("7,9:11"),
                ..Default::default()
            })
        );
    }

    #[test]
    fn fetch_items() {
        let u = untagged(b"* 12 FETCH (UID 99 FLAGS (\\Seen $Forwarded) INTERNALDATE \"17-Jul-1996 02:44:25 -0700\" RFC822.SIZE 4286 MODSEQ (624140003) BODY[HEADER.FIELDS (MESSAGE-ID RECEIVED)] {21}\r\nMessage-Id: <a@b>\r\n\r\n X-GM-THRID 1 BODYSTRUCTURE (\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 3 1))\r\n");
        let Untagged::Fetch { seq, items } = u else {
            panic!()
        };
        assert_eq!(seq, 12);
        assert_eq!(items.uid, Some(99));
        assert_eq!(
            items.flags,
            Some(vec!["\\Seen".into(), "$Forwarded".into()])
        );
        assert_eq!(
            items.internaldate.as_deref(),
            Some("17-Jul-1996 02:44:25 -0700")
        );
        assert_eq!(items.rfc822_size, Some(4286));
        assert_eq!(items.modseq, Some(624140003));
        let s = items.section("HEADER.FIELDS").expect("section");
        assert_eq!(
            s.data,
            BodyData::Bytes(Bytes::from_static(b"Message-Id: <a@b>\r\n\r\n"))
        );
    }

    #[test]
    fn fetch_body_nil_quoted_and_streamed() {
        let Untagged::Fetch { items, .. } = untagged(b"* 1 FETCH (BODY[] NIL UID 3)\r\n") else {
            panic!()
        };
        assert_eq!(items.sections[0].data, BodyData::Nil);
        assert_eq!(items.uid, Some(3));
        let Untagged::Fetch { items, .. } = untagged(b"* 1 FETCH (BODY[HEADER] \"a\\\"b\")\r\n")
        else {
            panic!()
        };
        assert_eq!(
            items.sections[0].data,
            BodyData::Bytes(Bytes::from_static(b"a\"b"))
        );
        let frame = Frame {
            bytes: Bytes::from_static(b"* 1 FETCH (UID 4 BODY[]<0> {1000}\r\n)\r\n"),
            streamed: vec![35],
        };
        let Response::Untagged(Untagged::Fetch { items, .. }) = parse(&frame).expect("parse")
        else {
            panic!()
        };
        assert_eq!(items.sections[0].data, BodyData::Streamed(1000));
        assert_eq!(items.sections[0].origin, Some(0));
        assert_eq!(items.uid, Some(4));
    }

    #[test]
    fn namespace_id_enabled_quota_vanished() {
        assert_eq!(
            untagged(b"* NAMESPACE ((\"INBOX.\" \".\")) NIL ((\"#shared.\" \".\")(\"shared.\" \".\"))\r\n"),
            Untagged::Namespace {
                personal: vec![NamespaceDesc { prefix: b"INBOX.".to_vec(), delimiter: Some('.') }],
                other: vec![],
                shared: vec![
                    NamespaceDesc { prefix: b"#shared.".to_vec(), delimiter: Some('.') },
                    NamespaceDesc { prefix: b"shared.".to_vec(), delimiter: Some('.') }
                ]
            }
        );
        assert_eq!(
            untagged(b"* ID (\"name\" \"Dovecot\" \"version\" NIL)\r\n"),
            Untagged::Id(vec![
                ("name".into(), Some("Dovecot".into())),
                ("version".into(), None)
            ])
        );
        assert_eq!(untagged(b"* ID NIL\r\n"), Untagged::Id(vec![]));
        assert_eq!(
            untagged(b"* ENABLED QRESYNC\r\n"),
            Untagged::Enabled(vec!["QRESYNC".into()])
        );
        assert_eq!(
            untagged(b"* QUOTA \"User quota\" (STORAGE 10 1048576 MESSAGE 3 1000)\r\n"),
            Untagged::Quota {
                root: b"User quota".to_vec(),
                resources: vec![("STORAGE".into(), 10, 1048576), ("MESSAGE".into(), 3, 1000)]
            }
        );
        assert_eq!(
            untagged(b"* QUOTAROOT INBOX \"User quota\"\r\n"),
            Untagged::QuotaRoot {
                mailbox: b"INBOX".to_vec(),
                roots: vec![b"User quota".to_vec()]
            }
        );
        assert_eq!(
            untagged(b"* VANISHED (EARLIER) 41,43:116\r\n"),
            Untagged::Vanished {
                earlier: true,
                uids: UidSet::parse("41,43:116").expect("set")
            }
        );
        assert_eq!(untagged(b"* 3 EXPUNGE\r\n"), Untagged::Expunge(3));
        assert_eq!(untagged(b"* 18 EXISTS\r\n"), Untagged::Exists(18));
        assert!(matches!(
            untagged(b"* XWEIRD stuff\r\n"),
            Untagged::Other(_)
        ));
    }

    #[test]
    fn continuation() {
        assert_eq!(
            p(b"+ Ready for literal data\r\n"),
            Response::Continuation {
                text: "Ready for literal data".into()
            }
        );
        assert_eq!(
            p(b"+\r\n"),
            Response::Continuation {
                text: String::new()
            }
        );
    }

    #[test]
    fn malformed_inputs_are_errors_not_panics() {
        for bad in [
            &b"* 1 FETCH (UID\r\n"[..],
            b"* 1 FETCH (BODY[] {10}\r\nabc)\r\n",
            b"* LIST (\\X \"/\" \r\n",
            b"* 99999999999 EXISTS\r\n",
            b"a1 WHAT\r\n",
            b"\r\n",
            b"",
        ] {
            let _ = parse(&Frame {
                bytes: Bytes::copy_from_slice(bad),
                streamed: vec![],
            });
        }
        assert!(
            parse(&Frame {
                bytes: Bytes::from_static(b"* 1 FETCH (BODY[] {10}\r\nabc)\r\n"),
                streamed: vec![]
            })
            .is_err()
        );
    }

    /// Quirks of real servers, one per server seen: what they send is read, or kept raw and
    /// reported, never an error for the connection.
    #[test]
    fn server_quirks() {
        // Courier-IMAP 5.0: GETQUOTAROOT on a root without limits.
        assert_eq!(
            untagged(b"* QUOTA \"ROOT\"\r\n"),
            Untagged::Quota {
                root: b"ROOT".to_vec(),
                resources: vec![]
            }
        );
        assert_eq!(
            untagged(b"* QUOTA \"ROOT\" ()\r\n"),
            Untagged::Quota {
                root: b"ROOT".to_vec(),
                resources: vec![]
            }
        );
        assert_eq!(
            untagged(b"* QUOTAROOT \"INBOX\" \"ROOT\"\r\n"),
            Untagged::QuotaRoot {
                mailbox: b"INBOX".to_vec(),
                roots: vec![b"ROOT".to_vec()]
            }
        );
        // Courier-IMAP 5.0: NAMESPACE with several shared prefixes and no space between them.
        match untagged(
            b"* NAMESPACE ((\"INBOX.\" \".\")) NIL ((\"#shared.\" \".\")(\"shared.\" \".\"))\r\n",
        ) {
            Untagged::Namespace {
                personal,
                other,
                shared,
            } => {
                assert_eq!(personal.len(), 1);
                assert_eq!(personal[0].prefix, b"INBOX.");
                assert!(other.is_empty());
                assert_eq!(shared.len(), 2);
            }
            u => panic!("{u:?}"),
        }
        // Cyrus 3.6: atoms starting with `~` (not a literal8) in LIST and STATUS.
        match untagged(b"* LIST (\\HasNoChildren) \"/\" ~home\r\n") {
            Untagged::List(l) => assert_eq!(l.name, b"~home"),
            u => panic!("{u:?}"),
        }
        match untagged(b"* STATUS ~home (MESSAGES 0 UIDNEXT 1)\r\n") {
            Untagged::MailboxStatus { mailbox, items } => {
                assert_eq!(mailbox, b"~home");
                assert_eq!(items.messages, Some(0));
            }
            u => panic!("{u:?}"),
        }
        match untagged(b"* LIST () \"/\" ~{4}\r\nab~c\r\n") {
            Untagged::List(l) => assert_eq!(l.name, b"ab~c"),
            u => panic!("{u:?}"),
        }
        // Cyrus 3.6: QUOTA with its own resources, QUOTAROOT without a root.
        assert_eq!(
            untagged(b"* QUOTA INBOX (STORAGE 0 1000 X-NUM-FOLDERS 6 100)\r\n"),
            Untagged::Quota {
                root: b"INBOX".to_vec(),
                resources: vec![
                    ("STORAGE".into(), 0, 1000),
                    ("X-NUM-FOLDERS".into(), 6, 100)
                ]
            }
        );
        assert_eq!(
            untagged(b"* QUOTAROOT INBOX\r\n"),
            Untagged::QuotaRoot {
                mailbox: b"INBOX".to_vec(),
                roots: vec![]
            }
        );
    }

    fn tolerant(s: &'static [u8]) -> (Response, Option<ParseError>) {
        parse_tolerant(&Frame {
            bytes: Bytes::from_static(s),
            streamed: vec![],
        })
        .expect("tolerated")
    }

    #[test]
    fn malformed_untagged_responses_are_kept_raw_with_the_error() {
        for bad in [
            &b"* QUOTA \"ROOT\" (STORAGE x)\r\n"[..],
            b"* QUOTA\r\n",
            b"* STATUS\r\n",
            b"* STATUS INBOX (MESSAGES)\r\n",
            b"* NAMESPACE junk\r\n",
            b"* ID (\"name\"\r\n",
            b"* LIST (\\X \"/\" \r\n",
            b"* 1 FETCH (UID\r\n",
            b"* 99999999999 EXISTS\r\n",
            b"* FLAGS \\Seen\r\n",
        ] {
            let (r, e) = tolerant(bad);
            assert_eq!(
                r,
                Response::Untagged(Untagged::Other(Bytes::from_static(bad))),
                "{}",
                String::from_utf8_lossy(bad)
            );
            assert!(e.is_some(), "{}", String::from_utf8_lossy(bad));
        }
        // Well-formed responses pass through unchanged and without error.
        let (r, e) = tolerant(b"* 3 EXISTS\r\n");
        assert_eq!(r, Response::Untagged(Untagged::Exists(3)));
        assert!(e.is_none());
        // A tagged answer with a broken code keeps its status (the code becomes text).
        let (r, e) = tolerant(b"a1 OK [APPENDUID x y] done\r\n");
        assert!(e.is_none());
        match r {
            Response::Tagged { tag, status } => {
                assert_eq!(tag, "a1");
                assert!(status.is_ok());
                assert!(status.code.is_none());
            }
            r => panic!("{r:?}"),
        }
        // Not a response at all: still an error.
        for bad in [&b"a1 WHAT\r\n"[..], b"\r\n", b"*\r\n"] {
            assert!(
                parse_tolerant(&Frame {
                    bytes: Bytes::from_static(bad),
                    streamed: vec![],
                })
                .is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn deep_nesting_is_bounded() {
        let mut s = b"* 1 FETCH (BODYSTRUCTURE ".to_vec();
        s.extend(std::iter::repeat_n(b'(', 10_000));
        s.extend(std::iter::repeat_n(b')', 10_000));
        s.extend_from_slice(b")\r\n");
        assert!(
            parse(&Frame {
                bytes: Bytes::from(s),
                streamed: vec![]
            })
            .is_err()
        );
    }

    proptest::proptest! {
        #[test]
        fn parser_never_panics(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400)) {
            let _ = parse(&Frame { bytes: Bytes::from(data), streamed: vec![] });
        }
    }
}
