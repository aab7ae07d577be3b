//! `TestImap`: a small blocking IMAP client used to *assert* server state in tests.
//!
//! It deliberately shares no code with the project's own client crates, so a test
//! that syncs with the real client and checks with `TestImap` checks two independent
//! implementations against each other. Every socket operation has a timeout, so a
//! misbehaving server makes a test fail instead of hanging.

use std::collections::BTreeMap;
use std::io::{BufReader, BufWriter, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use base64::Engine as _;
use sha2::{Digest, Sha256};

use crate::date::parse_internaldate;
use crate::parse::{Tokens, Value, preview, read_response, resp_code};

/// Default timeout for connecting and for each read/write.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// Outcome of a tagged command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// `OK`
    Ok,
    /// `NO`
    No,
    /// `BAD`
    Bad,
}

/// A completed command: its untagged responses (raw) and tagged status line.
#[derive(Clone, Debug)]
pub struct Response {
    /// Untagged (`* ...`) responses, raw bytes without the final CRLF.
    pub untagged: Vec<Vec<u8>>,
    /// Tagged status.
    pub status: Status,
    /// Text after the status word, including any `[CODE]`.
    pub text: String,
}

impl Response {
    /// `(code, args)` of the tagged response code, e.g. `("APPENDUID", "17 3")`.
    pub fn code(&self) -> Option<(String, String)> {
        resp_code(&self.text)
    }

    /// Untagged responses as lossy text (convenient for asserts on small responses).
    pub fn untagged_text(&self) -> Vec<String> {
        self.untagged
            .iter()
            .map(|u| String::from_utf8_lossy(u).into_owned())
            .collect()
    }
}

/// One `LIST`/`LSUB` line.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ListEntry {
    /// Attributes as sent (e.g. `\HasNoChildren`, `\Sent`).
    pub attrs: Vec<String>,
    /// Hierarchy separator (`None` for NIL).
    pub sep: Option<char>,
    /// Mailbox name as on the wire (modified UTF-7).
    pub name: String,
}

impl ListEntry {
    /// Has this attribute (ASCII case-insensitive)?
    pub fn has_attr(&self, attr: &str) -> bool {
        self.attrs.iter().any(|a| a.eq_ignore_ascii_case(attr))
    }

    /// Can it be selected (no `\Noselect` / `\NonExistent`)?
    pub fn selectable(&self) -> bool {
        !self.has_attr("\\Noselect") && !self.has_attr("\\NonExistent")
    }
}

/// State reported by SELECT/EXAMINE.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Selected {
    /// `EXISTS`
    pub exists: u32,
    /// `UIDVALIDITY`
    pub uidvalidity: u32,
    /// `UIDNEXT`
    pub uidnext: u32,
    /// `HIGHESTMODSEQ`, if sent.
    pub highestmodseq: Option<u64>,
    /// `FLAGS`
    pub flags: Vec<String>,
    /// `PERMANENTFLAGS`
    pub permanent_flags: Vec<String>,
}

/// What a snapshot records about one message.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Msg {
    /// UID in its folder.
    pub uid: u32,
    /// Flags and keywords, sorted, without `\Recent`.
    pub flags: Vec<String>,
    /// INTERNALDATE as UTC epoch seconds.
    pub internaldate_epoch: i64,
    /// `RFC822.SIZE`.
    pub size: u64,
    /// Lower-case hex SHA-256 of the `BODY.PEEK[]` bytes.
    pub sha256: String,
    /// Message-ID header value (unfolded, trimmed), if any.
    pub message_id: Option<String>,
}

/// Folder name (wire form) -> messages sorted by UID.
pub type Snapshot = BTreeMap<String, Vec<Msg>>;

enum Part<'a> {
    Raw(&'a str),
    Str(&'a [u8]),
    Literal(&'a [u8]),
}

/// Blocking IMAP connection for test assertions.
pub struct TestImap {
    reader: BufReader<TcpStream>,
    writer: BufWriter<TcpStream>,
    tag: u64,
    caps: Vec<String>,
    greeting: String,
    literal_plus: Option<bool>,
}

impl std::fmt::Debug for TestImap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestImap")
            .field("peer", &self.reader.get_ref().peer_addr().ok())
            .field("tag", &self.tag)
            .finish()
    }
}

/// Lower-case hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// Lower-case hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// The Message-ID header of a raw message (unfolded, trimmed), if present.
pub fn message_id_of(msg: &[u8]) -> Option<String> {
    header_value(msg, "message-id")
}

/// First value of header `name` (case-insensitive) in a raw message, unfolded and trimmed.
pub fn header_value(msg: &[u8], name: &str) -> Option<String> {
    let mut lines = msg.split(|&b| b == b'\n').peekable();
    while let Some(line) = lines.next() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            return None;
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        if !line[..colon].eq_ignore_ascii_case(name.as_bytes()) {
            continue;
        }
        let mut value = line[colon + 1..].to_vec();
        while let Some(next) = lines.peek() {
            if matches!(next.first(), Some(b' ') | Some(b'\t')) {
                let n = next.strip_suffix(b"\r").unwrap_or(next);
                value.extend_from_slice(n);
                lines.next();
            } else {
                break;
            }
        }
        return Some(String::from_utf8_lossy(&value).trim().to_string());
    }
    None
}

/// Quote a string for IMAP if it can be quoted; `None` if it needs a literal.
pub fn quote(s: &[u8]) -> Option<String> {
    if s.iter()
        .any(|&b| b == b'\r' || b == b'\n' || b == 0 || b >= 0x80)
    {
        return None;
    }
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for &b in s {
        if b == b'"' || b == b'\\' {
            out.push('\\');
        }
        out.push(b as char);
    }
    out.push('"');
    Some(out)
}

impl TestImap {
    /// Connect and read the greeting (timeout [`DEFAULT_TIMEOUT`]).
    pub fn connect(host: &str, port: u16) -> Result<TestImap> {
        Self::connect_timeout(host, port, DEFAULT_TIMEOUT)
    }

    /// Connect with a specific timeout for connect, reads and writes.
    pub fn connect_timeout(host: &str, port: u16, timeout: Duration) -> Result<TestImap> {
        let addr = (host, port)
            .to_socket_addrs()
            .with_context(|| format!("resolving {host}:{port}"))?
            .next()
            .ok_or_else(|| anyhow!("{host}:{port} resolves to nothing"))?;
        let stream = TcpStream::connect_timeout(&addr, timeout)
            .with_context(|| format!("connecting to IMAP server {addr}"))?;
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
        stream.set_nodelay(true)?;
        let reader = BufReader::with_capacity(256 * 1024, stream.try_clone()?);
        let writer = BufWriter::with_capacity(256 * 1024, stream);
        let mut c = TestImap {
            reader,
            writer,
            tag: 0,
            caps: Vec::new(),
            greeting: String::new(),
            literal_plus: None,
        };
        let g = read_response(&mut c.reader).context("reading the IMAP greeting")?;
        let g = String::from_utf8_lossy(&g).into_owned();
        if !(g.starts_with("* OK") || g.starts_with("* PREAUTH")) {
            bail!("unexpected IMAP greeting from {addr}: {g}");
        }
        c.note_caps_in_text(g.get(4..).unwrap_or(""));
        c.greeting = g;
        Ok(c)
    }

    /// Connect and LOGIN in one go.
    pub fn connect_login(host: &str, port: u16, user: &str, pass: &str) -> Result<TestImap> {
        let mut c = Self::connect(host, port)?;
        c.login(user, pass)?;
        Ok(c)
    }

    /// The greeting line as received.
    pub fn greeting(&self) -> &str {
        &self.greeting
    }

    /// Force (`Some(true)`), forbid (`Some(false)`) or auto-detect (`None`) LITERAL+ use.
    pub fn set_literal_plus(&mut self, mode: Option<bool>) {
        self.literal_plus = mode;
    }

    /// Change the socket timeout for reads and writes.
    pub fn set_timeout(&mut self, t: Duration) -> Result<()> {
        self.reader.get_ref().set_read_timeout(Some(t))?;
        self.writer.get_ref().set_write_timeout(Some(t))?;
        Ok(())
    }

    fn note_caps_in_text(&mut self, text: &str) {
        if let Some((code, args)) = resp_code(text)
            && code == "CAPABILITY"
        {
            self.caps = args.split_whitespace().map(str::to_string).collect();
        }
    }

    /// Last known capabilities (from greeting, LOGIN response or CAPABILITY).
    pub fn cached_capabilities(&self) -> &[String] {
        &self.caps
    }

    /// Is `cap` among the last known capabilities?
    pub fn has_capability(&self, cap: &str) -> bool {
        self.caps.iter().any(|c| c.eq_ignore_ascii_case(cap))
    }

    /// Send a literal of `len` bytes as non-synchronizing `{n+}`?
    /// LITERAL+ allows any size, LITERAL- (RFC 7888) only up to 4096 bytes.
    fn use_literal_plus(&self, len: usize) -> bool {
        self.literal_plus.unwrap_or_else(|| {
            self.has_capability("LITERAL+") || (self.has_capability("LITERAL-") && len <= 4096)
        })
    }

    fn next_tag(&mut self) -> String {
        self.tag += 1;
        format!("T{}", self.tag)
    }

    /// Write raw bytes (for protocol-level tests); nothing is read.
    pub fn write_raw(&mut self, bytes: &[u8]) -> Result<()> {
        self.writer.write_all(bytes)?;
        self.writer.flush()?;
        Ok(())
    }

    /// Read one raw response (untagged, tagged or continuation).
    pub fn read_raw(&mut self) -> Result<Vec<u8>> {
        read_response(&mut self.reader)
    }

    fn exec(
        &mut self,
        parts: &[Part<'_>],
        on_untagged: &mut dyn FnMut(&[u8]) -> Result<()>,
    ) -> Result<(Status, String)> {
        let tag = self.next_tag();
        self.writer.write_all(tag.as_bytes())?;
        let mut pending_tagged: Option<(Status, String)> = None;
        for part in parts {
            self.writer.write_all(b" ")?;
            let literal = match part {
                Part::Raw(s) => {
                    self.writer.write_all(s.as_bytes())?;
                    None
                }
                Part::Str(s) => match quote(s) {
                    Some(q) => {
                        self.writer.write_all(q.as_bytes())?;
                        None
                    }
                    None => Some(*s),
                },
                Part::Literal(b) => Some(*b),
            };
            let Some(data) = literal else { continue };
            if self.use_literal_plus(data.len()) {
                write!(self.writer, "{{{}+}}\r\n", data.len())?;
            } else {
                write!(self.writer, "{{{}}}\r\n", data.len())?;
                self.writer.flush()?;
                // wait for the continuation request
                loop {
                    let r = read_response(&mut self.reader)?;
                    if r.starts_with(b"+") {
                        break;
                    }
                    if r.starts_with(b"* ") {
                        on_untagged(&r)?;
                        continue;
                    }
                    if r.starts_with(tag.as_bytes()) {
                        pending_tagged = Some(self.tagged(&tag, &r)?);
                        break;
                    }
                    bail!(
                        "unexpected response while sending a literal: {}",
                        preview(&r)
                    );
                }
                if pending_tagged.is_some() {
                    break;
                }
            }
            self.writer.write_all(data)?;
        }
        if let Some(t) = pending_tagged {
            return Ok(t);
        }
        self.writer.write_all(b"\r\n")?;
        self.writer.flush().context("sending an IMAP command")?;
        loop {
            let r = read_response(&mut self.reader)?;
            if r.starts_with(b"* ") {
                on_untagged(&r)?;
            } else if r.starts_with(b"+") {
                bail!("unexpected continuation request: {}", preview(&r));
            } else if r.starts_with(tag.as_bytes()) && r.get(tag.len()) == Some(&b' ') {
                return self.tagged(&tag, &r);
            } else {
                bail!("unexpected response (waiting for {tag}): {}", preview(&r));
            }
        }
    }

    fn tagged(&mut self, tag: &str, r: &[u8]) -> Result<(Status, String)> {
        let rest = String::from_utf8_lossy(&r[tag.len()..])
            .trim_start()
            .to_string();
        let (word, text) = rest.split_once(' ').unwrap_or((&rest, ""));
        let status = match word.to_ascii_uppercase().as_str() {
            "OK" => Status::Ok,
            "NO" => Status::No,
            "BAD" => Status::Bad,
            _ => bail!("bad tagged response: {}", preview(r)),
        };
        let text = text.to_string();
        self.note_caps_in_text(&text);
        Ok((status, text))
    }

    fn run_parts(&mut self, parts: &[Part<'_>]) -> Result<Response> {
        let mut untagged = Vec::new();
        let (status, text) = self.exec(parts, &mut |u| {
            untagged.push(u.to_vec());
            Ok(())
        })?;
        for u in &untagged {
            if let Some(rest) = u.strip_prefix(b"* CAPABILITY ") {
                self.caps = String::from_utf8_lossy(rest)
                    .split_whitespace()
                    .map(str::to_string)
                    .collect();
            }
        }
        Ok(Response {
            untagged,
            status,
            text,
        })
    }

    fn ok_parts(&mut self, what: &str, parts: &[Part<'_>]) -> Result<Response> {
        let r = self.run_parts(parts)?;
        if r.status != Status::Ok {
            bail!("{what} failed: {:?} {}", r.status, r.text);
        }
        Ok(r)
    }

    /// Send a raw command line (without tag and CRLF); any status is returned.
    pub fn command_status(&mut self, cmd: &str) -> Result<Response> {
        self.run_parts(&[Part::Raw(cmd)])
    }

    /// Send a raw command line (without tag and CRLF); NO/BAD become errors.
    pub fn command(&mut self, cmd: &str) -> Result<Response> {
        self.ok_parts(cmd, &[Part::Raw(cmd)])
    }

    /// CAPABILITY (also refreshes the cached list).
    pub fn capabilities(&mut self) -> Result<Vec<String>> {
        self.command("CAPABILITY")?;
        Ok(self.caps.clone())
    }

    /// LOGIN with properly quoted (or literal) arguments.
    pub fn login(&mut self, user: &str, pass: &str) -> Result<()> {
        let r = self.run_parts(&[
            Part::Raw("LOGIN"),
            Part::Str(user.as_bytes()),
            Part::Str(pass.as_bytes()),
        ])?;
        if r.status != Status::Ok {
            bail!("LOGIN {user:?} failed: {:?} {}", r.status, r.text);
        }
        if resp_code(&r.text).map(|c| c.0) != Some("CAPABILITY".into()) {
            self.capabilities()?;
        }
        Ok(())
    }

    fn sasl(&mut self, mech: &str, respond: &mut dyn FnMut(&[u8]) -> Vec<u8>) -> Result<()> {
        let tag = self.next_tag();
        write!(self.writer, "{tag} AUTHENTICATE {mech}\r\n")?;
        self.writer.flush()?;
        loop {
            let r = read_response(&mut self.reader)?;
            if r.starts_with(b"+") {
                let challenge = r.get(2..).unwrap_or(b"");
                let challenge = base64::engine::general_purpose::STANDARD
                    .decode(challenge.trim_ascii())
                    .unwrap_or_default();
                let answer = respond(&challenge);
                let enc = base64::engine::general_purpose::STANDARD.encode(answer);
                write!(self.writer, "{enc}\r\n")?;
                self.writer.flush()?;
            } else if r.starts_with(b"* ") {
                continue;
            } else if r.starts_with(tag.as_bytes()) {
                let (st, text) = self.tagged(&tag, &r)?;
                if st != Status::Ok {
                    bail!("AUTHENTICATE {mech} failed: {st:?} {text}");
                }
                if resp_code(&text).map(|c| c.0) != Some("CAPABILITY".into()) {
                    self.capabilities()?;
                }
                return Ok(());
            } else {
                bail!("unexpected response during AUTHENTICATE: {}", preview(&r));
            }
        }
    }

    /// AUTHENTICATE PLAIN with authorization identity `authzid` (may be empty).
    pub fn authenticate_plain(&mut self, authzid: &str, authcid: &str, pass: &str) -> Result<()> {
        let msg = format!("{authzid}\0{authcid}\0{pass}").into_bytes();
        self.sasl("PLAIN", &mut |_| msg.clone())
    }

    /// AUTHENTICATE CRAM-MD5.
    pub fn authenticate_cram_md5(&mut self, user: &str, pass: &str) -> Result<()> {
        let user = user.to_string();
        let key = pass.as_bytes().to_vec();
        self.sasl("CRAM-MD5", &mut |challenge| {
            let mac = hmac_md5(&key, challenge);
            format!("{user} {}", hex(&mac)).into_bytes()
        })
    }

    /// AUTHENTICATE XOAUTH2 with a bearer token (an error challenge is answered empty).
    pub fn authenticate_xoauth2(&mut self, user: &str, token: &str) -> Result<()> {
        let msg = format!("user={user}\x01auth=Bearer {token}\x01\x01").into_bytes();
        let mut first = true;
        self.sasl("XOAUTH2", &mut |_| {
            if std::mem::take(&mut first) {
                msg.clone()
            } else {
                Vec::new()
            }
        })
    }

    /// LOGOUT (errors ignored: the connection is going away anyway).
    pub fn logout(mut self) -> Result<()> {
        let _ = self.command_status("LOGOUT");
        Ok(())
    }

    /// CREATE.
    pub fn create(&mut self, name: &str) -> Result<()> {
        self.mailbox_cmd("CREATE", name).map(|_| ())
    }

    /// DELETE.
    pub fn delete(&mut self, name: &str) -> Result<()> {
        self.mailbox_cmd("DELETE", name).map(|_| ())
    }

    /// SUBSCRIBE.
    pub fn subscribe(&mut self, name: &str) -> Result<()> {
        self.mailbox_cmd("SUBSCRIBE", name).map(|_| ())
    }

    /// UNSUBSCRIBE.
    pub fn unsubscribe(&mut self, name: &str) -> Result<()> {
        self.mailbox_cmd("UNSUBSCRIBE", name).map(|_| ())
    }

    /// RENAME.
    pub fn rename(&mut self, from: &str, to: &str) -> Result<()> {
        self.ok_parts(
            &format!("RENAME {from:?} {to:?}"),
            &[
                Part::Raw("RENAME"),
                Part::Str(from.as_bytes()),
                Part::Str(to.as_bytes()),
            ],
        )
        .map(|_| ())
    }

    fn mailbox_cmd(&mut self, cmd: &str, name: &str) -> Result<Response> {
        self.ok_parts(
            &format!("{cmd} {name:?}"),
            &[Part::Raw(cmd), Part::Str(name.as_bytes())],
        )
    }

    /// `LIST "" "*"`.
    pub fn list(&mut self) -> Result<Vec<ListEntry>> {
        self.list_matching("LIST", "", "*")
    }

    /// `LSUB "" "*"`.
    pub fn lsub(&mut self) -> Result<Vec<ListEntry>> {
        self.list_matching("LSUB", "", "*")
    }

    /// LIST or LSUB with an explicit reference and pattern.
    pub fn list_matching(
        &mut self,
        cmd: &str,
        reference: &str,
        pattern: &str,
    ) -> Result<Vec<ListEntry>> {
        let r = self.ok_parts(
            cmd,
            &[
                Part::Raw(cmd),
                Part::Str(reference.as_bytes()),
                Part::Str(pattern.as_bytes()),
            ],
        )?;
        let mut out = Vec::new();
        for u in &r.untagged {
            let mut t = Tokens::new(u);
            t.expect_value()?; // *
            let kind = t.expect_value()?;
            if !kind.is_atom(cmd) {
                continue;
            }
            out.push(parse_list_entry(&mut t).with_context(|| preview(u))?);
        }
        Ok(out)
    }

    /// Personal namespaces `(prefix, separator)` from NAMESPACE.
    pub fn personal_namespaces(&mut self) -> Result<Vec<(String, Option<char>)>> {
        let r = self.command("NAMESPACE")?;
        for u in &r.untagged {
            let mut t = Tokens::new(u);
            t.expect_value()?;
            if !t.expect_value()?.is_atom("NAMESPACE") {
                continue;
            }
            let personal = t.expect_value()?;
            let mut out = Vec::new();
            if let Some(list) = personal.list() {
                for ns in list {
                    let Some(items) = ns.list() else { continue };
                    let prefix = items.first().and_then(Value::text).unwrap_or_default();
                    let sep = items
                        .get(1)
                        .and_then(Value::text)
                        .and_then(|s| s.chars().next());
                    out.push((prefix, sep));
                }
            }
            return Ok(out);
        }
        bail!("no NAMESPACE response")
    }

    /// STATUS with the given items (e.g. `["MESSAGES", "UIDNEXT"]`).
    pub fn status(&mut self, name: &str, items: &[&str]) -> Result<BTreeMap<String, u64>> {
        let list = format!("({})", items.join(" "));
        let r = self.ok_parts(
            &format!("STATUS {name:?}"),
            &[
                Part::Raw("STATUS"),
                Part::Str(name.as_bytes()),
                Part::Raw(&list),
            ],
        )?;
        let mut out = BTreeMap::new();
        for u in &r.untagged {
            let mut t = Tokens::new(u);
            t.expect_value()?;
            if !t.expect_value()?.is_atom("STATUS") {
                continue;
            }
            t.expect_value()?; // mailbox
            let v = t.expect_value()?;
            let l = v.list().unwrap_or(&[]);
            for pair in l.chunks(2) {
                if let [k, v] = pair
                    && let (Some(k), Some(v)) = (k.text(), v.number())
                {
                    out.insert(k.to_ascii_uppercase(), v);
                }
            }
        }
        Ok(out)
    }

    /// SELECT.
    pub fn select(&mut self, name: &str) -> Result<Selected> {
        self.select_cmd("SELECT", name)
    }

    /// EXAMINE (read-only select).
    pub fn examine(&mut self, name: &str) -> Result<Selected> {
        self.select_cmd("EXAMINE", name)
    }

    fn select_cmd(&mut self, cmd: &str, name: &str) -> Result<Selected> {
        let r = self.mailbox_cmd(cmd, name)?;
        let mut s = Selected::default();
        for u in &r.untagged {
            let mut t = Tokens::new(u);
            t.expect_value()?;
            let first = t.expect_value()?;
            if let Some(n) = first.number() {
                if t.expect_value()?.is_atom("EXISTS") {
                    s.exists = n as u32;
                }
            } else if first.is_atom("FLAGS") {
                s.flags = flag_list(&t.expect_value()?);
            } else if first.is_atom("OK") {
                let text = String::from_utf8_lossy(t.rest()).into_owned();
                if let Some((code, args)) = resp_code(&text) {
                    match code.as_str() {
                        "UIDVALIDITY" => s.uidvalidity = args.trim().parse().unwrap_or(0),
                        "UIDNEXT" => s.uidnext = args.trim().parse().unwrap_or(0),
                        "HIGHESTMODSEQ" => s.highestmodseq = args.trim().parse().ok(),
                        "PERMANENTFLAGS" => {
                            s.permanent_flags = args
                                .trim()
                                .trim_start_matches('(')
                                .trim_end_matches(')')
                                .split_whitespace()
                                .map(str::to_string)
                                .collect()
                        }
                        _ => {}
                    }
                }
            }
        }
        Ok(s)
    }

    /// APPEND a message; returns its UID (from APPENDUID, else from UIDNEXT before the APPEND).
    ///
    /// `flags` are sent as given (e.g. `["\\Seen", "$Forwarded"]`), `internaldate` in
    /// IMAP form (`"17-Jul-1996 02:44:25 -0700"`). The bytes are sent exactly as given
    /// in a literal (synchronizing unless the server has LITERAL+), so NUL, 8-bit and
    /// bare LF data reach the server unchanged.
    pub fn append(
        &mut self,
        folder: &str,
        flags: &[&str],
        internaldate: Option<&str>,
        bytes: &[u8],
    ) -> Result<u32> {
        let r = self.append_status(folder, flags, internaldate, bytes)?;
        if r.status != Status::Ok {
            bail!("APPEND to {folder:?} failed: {:?} {}", r.status, r.text);
        }
        if let Some((code, args)) = r.code()
            && code == "APPENDUID"
        {
            let uid = args
                .split_whitespace()
                .nth(1)
                .and_then(|u| u.parse().ok())
                .with_context(|| format!("bad APPENDUID {args:?}"))?;
            return Ok(uid);
        }
        // no UIDPLUS: the message got the highest UID in the folder
        let st = self.status(folder, &["UIDNEXT"])?;
        Ok(st.get("UIDNEXT").copied().unwrap_or(1).saturating_sub(1) as u32)
    }

    /// APPEND returning the full response whatever the status (for `NO [LIMIT]` / `[OVERQUOTA]` tests).
    pub fn append_status(
        &mut self,
        folder: &str,
        flags: &[&str],
        internaldate: Option<&str>,
        bytes: &[u8],
    ) -> Result<Response> {
        let flag_list = format!("({})", flags.join(" "));
        let date = internaldate.map(|d| format!("\"{d}\""));
        let mut parts = vec![Part::Raw("APPEND"), Part::Str(folder.as_bytes())];
        parts.push(Part::Raw(&flag_list));
        if let Some(d) = &date {
            parts.push(Part::Raw(d));
        }
        parts.push(Part::Literal(bytes));
        self.run_parts(&parts)
    }

    /// `UID STORE uid_set mode (flags)`, mode one of `FLAGS`, `+FLAGS`, `-FLAGS`
    /// (optionally with `.SILENT`).
    pub fn store_flags(&mut self, uid_set: &str, mode: &str, flags: &[&str]) -> Result<()> {
        self.command(&format!("UID STORE {uid_set} {mode} ({})", flags.join(" ")))
            .map(|_| ())
    }

    /// EXPUNGE in the selected folder.
    pub fn expunge(&mut self) -> Result<()> {
        self.command("EXPUNGE").map(|_| ())
    }

    /// `UID SEARCH criteria` -> UIDs.
    pub fn uid_search(&mut self, criteria: &str) -> Result<Vec<u32>> {
        let r = self.command(&format!("UID SEARCH {criteria}"))?;
        let mut out = Vec::new();
        for u in &r.untagged {
            if let Some(rest) = u.strip_prefix(b"* SEARCH") {
                out.extend(
                    String::from_utf8_lossy(rest)
                        .split_whitespace()
                        .filter_map(|n| n.parse::<u32>().ok()),
                );
            }
        }
        Ok(out)
    }

    /// Raw `BODY.PEEK[]` of one message of the selected folder.
    pub fn fetch_body(&mut self, uid: u32) -> Result<Vec<u8>> {
        let mut body = None;
        let (st, text) = self.exec(
            &[Part::Raw(&format!("UID FETCH {uid} (UID BODY.PEEK[])"))],
            &mut |u| {
                if let Some((_, items)) = fetch_items(u)? {
                    for pair in items.chunks(2) {
                        if let [k, v] = pair
                            && k.is_atom("BODY[]")
                        {
                            body = Some(v.bytes().unwrap_or(b"").to_vec());
                        }
                    }
                }
                Ok(())
            },
        )?;
        if st != Status::Ok {
            bail!("UID FETCH {uid} failed: {st:?} {text}");
        }
        body.with_context(|| format!("no body returned for UID {uid}"))
    }

    /// Snapshot of the selected folder's messages (UID order).
    pub fn fetch_messages(&mut self) -> Result<Vec<Msg>> {
        let mut partial: BTreeMap<u64, PartialMsg> = BTreeMap::new();
        let (st, text) = self.exec(
            &[Part::Raw(
                "UID FETCH 1:* (UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[])",
            )],
            &mut |u| {
                let Some((seq, items)) = fetch_items(u)? else {
                    return Ok(());
                };
                let p = partial.entry(seq).or_default();
                for pair in items.chunks(2) {
                    let [k, v] = pair else { continue };
                    if k.is_atom("UID") {
                        p.uid = v.number().map(|n| n as u32);
                    } else if k.is_atom("FLAGS") {
                        p.flags = Some(flag_list(v));
                    } else if k.is_atom("INTERNALDATE") {
                        let s = v.text().unwrap_or_default();
                        p.date = Some(parse_internaldate(&s)?);
                    } else if k.is_atom("RFC822.SIZE") {
                        p.size = v.number();
                    } else if k.is_atom("BODY[]") {
                        let b = v.bytes().unwrap_or(b"");
                        p.sha = Some(sha256_hex(b));
                        p.mid = Some(message_id_of(b));
                    }
                }
                Ok(())
            },
        )?;
        if st != Status::Ok {
            bail!("UID FETCH 1:* failed: {st:?} {text}");
        }
        let mut out = Vec::with_capacity(partial.len());
        for (seq, p) in partial {
            let (Some(uid), Some(flags), Some(date), Some(size), Some(sha), Some(mid)) =
                (p.uid, p.flags, p.date, p.size, p.sha, p.mid)
            else {
                bail!("incomplete FETCH data for message {seq}");
            };
            let mut flags: Vec<String> = flags
                .into_iter()
                .filter(|f| !f.eq_ignore_ascii_case("\\Recent"))
                .collect();
            flags.sort();
            out.push(Msg {
                uid,
                flags,
                internaldate_epoch: date,
                size,
                sha256: sha,
                message_id: mid,
            });
        }
        out.sort_by_key(|m| m.uid);
        Ok(out)
    }

    /// Messages of one folder (EXAMINEs it).
    pub fn folder_snapshot(&mut self, name: &str) -> Result<Vec<Msg>> {
        let s = self.examine(name)?;
        if s.exists == 0 {
            return Ok(Vec::new());
        }
        self.fetch_messages()
            .with_context(|| format!("snapshot of folder {name:?}"))
    }

    /// Every selectable folder with all its messages.
    pub fn snapshot(&mut self) -> Result<Snapshot> {
        let mut out = Snapshot::new();
        for e in self.list()? {
            if !e.selectable() {
                continue;
            }
            let msgs = self.folder_snapshot(&e.name)?;
            out.insert(e.name, msgs);
        }
        Ok(out)
    }
}

#[derive(Default)]
struct PartialMsg {
    uid: Option<u32>,
    flags: Option<Vec<String>>,
    date: Option<i64>,
    size: Option<u64>,
    sha: Option<String>,
    mid: Option<Option<String>>,
}

fn flag_list(v: &Value<'_>) -> Vec<String> {
    v.list()
        .unwrap_or(&[])
        .iter()
        .filter_map(Value::text)
        .collect()
}

/// `* n FETCH (items)` -> (n, items); `None` for other responses.
fn fetch_items<'a>(u: &'a [u8]) -> Result<Option<(u64, Vec<Value<'a>>)>> {
    let mut t = Tokens::new(u);
    t.expect_value()?;
    let Some(seq) = t.expect_value()?.number() else {
        return Ok(None);
    };
    if !t.expect_value()?.is_atom("FETCH") {
        return Ok(None);
    }
    let v = t.expect_value()?;
    match v {
        Value::List(items) => Ok(Some((seq, items))),
        _ => bail!("bad FETCH response: {}", preview(u)),
    }
}

fn parse_list_entry(t: &mut Tokens<'_>) -> Result<ListEntry> {
    let attrs = flag_list(&t.expect_value()?);
    let sep = t.expect_value()?.text().and_then(|s| s.chars().next());
    let name = t
        .expect_value()?
        .text()
        .ok_or_else(|| anyhow!("LIST without a mailbox name"))?;
    Ok(ListEntry { attrs, sep, name })
}

fn md5(data: &[u8]) -> [u8; 16] {
    md5::Md5::digest(data).into()
}

/// HMAC-MD5 (RFC 2104) for CRAM-MD5.
fn hmac_md5(key: &[u8], msg: &[u8]) -> [u8; 16] {
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..16].copy_from_slice(&md5(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let mut inner: Vec<u8> = k.iter().map(|b| b ^ 0x36).collect();
    inner.extend_from_slice(msg);
    let ih = md5(&inner);
    let mut outer: Vec<u8> = k.iter().map(|b| b ^ 0x5c).collect();
    outer.extend_from_slice(&ih);
    md5(&outer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers() {
        assert_eq!(quote(b"sp ace\"q\\b($").unwrap(), r#""sp ace\"q\\b($""#);
        assert!(quote(b"a\nb").is_none());
        let m = b"Subject: x\r\nMessage-ID:\r\n <a@b>\r\n\r\nMessage-ID: <no>\r\n";
        assert_eq!(message_id_of(m).as_deref(), Some("<a@b>"));
        assert_eq!(message_id_of(b"Subject: x\n\nbody"), None);
        // RFC 2104 test vector 2
        assert_eq!(
            hex(&hmac_md5(b"Jefe", b"what do ya want for nothing?")),
            "750c783e6ab0b503eaa86e310a5db738"
        );
    }
}
