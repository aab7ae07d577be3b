//! Minimal IMAP response reading and tokenising for the test client.
//!
//! A response is read as raw bytes: a line, and whenever that line ends in a literal
//! announcement (`{n}`, `{n+}`, `~{n}`) exactly `n` more bytes plus the next line,
//! and so on. The tokenizer then walks those bytes, so literals can hold any octet.

use std::borrow::Cow;
use std::io::BufRead;

use anyhow::{Context, Result, bail};

/// Upper bound for one response (protects tests from a runaway server).
pub const MAX_RESPONSE: usize = 256 * 1024 * 1024;

/// One IMAP value inside a response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value<'a> {
    /// `NIL`
    Nil,
    /// An atom, number, flag or `BODY[...]`-style item name.
    Atom(&'a [u8]),
    /// A quoted string (escapes resolved) or a literal.
    Str(Cow<'a, [u8]>),
    /// A parenthesised list.
    List(Vec<Value<'a>>),
}

impl<'a> Value<'a> {
    /// Text of an atom or string (lossy UTF-8); `None` for NIL and lists.
    pub fn text(&self) -> Option<String> {
        match self {
            Value::Atom(a) => Some(String::from_utf8_lossy(a).into_owned()),
            Value::Str(s) => Some(String::from_utf8_lossy(s).into_owned()),
            _ => None,
        }
    }

    /// Raw bytes of an atom or string.
    pub fn bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Atom(a) => Some(a),
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// Numeric value of an atom.
    pub fn number(&self) -> Option<u64> {
        match self {
            Value::Atom(a) => std::str::from_utf8(a).ok()?.parse().ok(),
            _ => None,
        }
    }

    /// Items of a list.
    pub fn list(&self) -> Option<&[Value<'a>]> {
        match self {
            Value::List(l) => Some(l),
            _ => None,
        }
    }

    /// Is this the atom `name` (ASCII case-insensitive)?
    pub fn is_atom(&self, name: &str) -> bool {
        matches!(self, Value::Atom(a) if a.eq_ignore_ascii_case(name.as_bytes()))
    }
}

/// Length announced by a literal at the very end of `line` (without CRLF).
fn trailing_literal(line: &[u8]) -> Option<usize> {
    let body = line.strip_suffix(b"}")?;
    let open = body.iter().rposition(|&b| b == b'{')?;
    let mut digits = &body[open + 1..];
    if let Some(d) = digits.strip_suffix(b"+") {
        digits = d;
    }
    if digits.is_empty() || digits.len() > 12 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// Read one complete response (with embedded literals) and return it without the final CRLF.
pub fn read_response<R: BufRead>(r: &mut R) -> Result<Vec<u8>> {
    let mut buf = Vec::new();
    loop {
        let start = buf.len();
        let n = r
            .read_until(b'\n', &mut buf)
            .context("reading from the IMAP server")?;
        if n == 0 {
            if buf.is_empty() {
                bail!("connection closed by the IMAP server");
            }
            bail!(
                "connection closed in the middle of a response: {}",
                preview(&buf)
            );
        }
        if buf.last() != Some(&b'\n') {
            bail!("connection closed mid-line: {}", preview(&buf));
        }
        let mut line_end = buf.len() - 1;
        if line_end > start && buf[line_end - 1] == b'\r' {
            line_end -= 1;
        }
        if let Some(len) = trailing_literal(&buf[start..line_end]) {
            if buf.len() + len > MAX_RESPONSE {
                bail!("response larger than {MAX_RESPONSE} bytes");
            }
            let old = buf.len();
            buf.resize(old + len, 0);
            r.read_exact(&mut buf[old..])
                .context("reading a literal from the IMAP server")?;
            continue;
        }
        buf.truncate(line_end);
        return Ok(buf);
    }
}

/// Short printable preview of raw protocol bytes for error messages.
pub fn preview(b: &[u8]) -> String {
    let cut = &b[..b.len().min(300)];
    let mut s = String::from_utf8_lossy(cut).into_owned();
    if b.len() > 300 {
        s.push_str("...");
    }
    s
}

/// Tokenizer over one raw response.
pub struct Tokens<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Tokens<'a> {
    /// Start tokenising at the beginning of `buf`.
    pub fn new(buf: &'a [u8]) -> Tokens<'a> {
        Tokens { buf, pos: 0 }
    }

    fn skip_spaces(&mut self) {
        while self.pos < self.buf.len() && self.buf[self.pos] == b' ' {
            self.pos += 1;
        }
    }

    /// Unparsed remainder (after skipping spaces), e.g. the text of a status response.
    pub fn rest(&mut self) -> &'a [u8] {
        self.skip_spaces();
        &self.buf[self.pos..]
    }

    /// Are all tokens consumed?
    pub fn at_end(&mut self) -> bool {
        self.skip_spaces();
        self.pos >= self.buf.len()
    }

    /// Next value, or `None` at the end of the response.
    pub fn next_value(&mut self) -> Result<Option<Value<'a>>> {
        self.skip_spaces();
        if self.pos >= self.buf.len() {
            return Ok(None);
        }
        self.value().map(Some)
    }

    /// Next value; an error at the end of the response.
    pub fn expect_value(&mut self) -> Result<Value<'a>> {
        match self.next_value()? {
            Some(v) => Ok(v),
            None => bail!("response ended early: {}", preview(self.buf)),
        }
    }

    fn value(&mut self) -> Result<Value<'a>> {
        let buf = self.buf;
        match buf[self.pos] {
            b'(' => {
                self.pos += 1;
                let mut items = Vec::new();
                loop {
                    self.skip_spaces();
                    if self.pos >= buf.len() {
                        bail!("unterminated list in {}", preview(buf));
                    }
                    if buf[self.pos] == b')' {
                        self.pos += 1;
                        return Ok(Value::List(items));
                    }
                    items.push(self.value()?);
                }
            }
            b'"' => {
                self.pos += 1;
                let start = self.pos;
                let mut owned: Option<Vec<u8>> = None;
                loop {
                    if self.pos >= buf.len() {
                        bail!("unterminated quoted string in {}", preview(buf));
                    }
                    match buf[self.pos] {
                        b'"' => {
                            let v = match owned {
                                Some(o) => Cow::Owned(o),
                                None => Cow::Borrowed(&buf[start..self.pos]),
                            };
                            self.pos += 1;
                            return Ok(Value::Str(v));
                        }
                        b'\\' if self.pos + 1 < buf.len() => {
                            let o = owned.get_or_insert_with(|| buf[start..self.pos].to_vec());
                            o.push(buf[self.pos + 1]);
                            self.pos += 2;
                        }
                        c => {
                            if let Some(o) = owned.as_mut() {
                                o.push(c);
                            }
                            self.pos += 1;
                        }
                    }
                }
            }
            b'{' | b'~' => {
                let open = if buf[self.pos] == b'~' {
                    self.pos + 1
                } else {
                    self.pos
                };
                if buf.get(open) != Some(&b'{') {
                    return self.atom();
                }
                let close = buf[open..]
                    .iter()
                    .position(|&b| b == b'}')
                    .map(|p| open + p)
                    .with_context(|| format!("bad literal in {}", preview(buf)))?;
                let digits = std::str::from_utf8(&buf[open + 1..close])
                    .ok()
                    .map(|d| d.trim_end_matches('+'))
                    .and_then(|d| d.parse::<usize>().ok())
                    .with_context(|| format!("bad literal length in {}", preview(buf)))?;
                let mut p = close + 1;
                if buf.get(p) == Some(&b'\r') {
                    p += 1;
                }
                if buf.get(p) != Some(&b'\n') {
                    bail!("literal not followed by CRLF in {}", preview(buf));
                }
                p += 1;
                if p + digits > buf.len() {
                    bail!("literal longer than the response in {}", preview(buf));
                }
                self.pos = p + digits;
                Ok(Value::Str(Cow::Borrowed(&buf[p..p + digits])))
            }
            b')' => bail!("unexpected ')' in {}", preview(buf)),
            _ => self.atom(),
        }
    }

    fn atom(&mut self) -> Result<Value<'a>> {
        let buf = self.buf;
        let start = self.pos;
        let mut depth = 0usize;
        while self.pos < buf.len() {
            let c = buf[self.pos];
            match c {
                b'[' => depth += 1,
                b']' if depth > 0 => depth -= 1,
                b' ' | b'(' | b')' if depth == 0 => break,
                b'\r' | b'\n' => break,
                _ => {}
            }
            self.pos += 1;
        }
        let a = &buf[start..self.pos];
        if a.is_empty() {
            bail!("empty atom in {}", preview(buf));
        }
        if a.eq_ignore_ascii_case(b"NIL") {
            return Ok(Value::Nil);
        }
        Ok(Value::Atom(a))
    }
}

/// Parsed `[CODE args]` at the start of a status text, if any: (CODE uppercased, args).
pub fn resp_code(text: &str) -> Option<(String, String)> {
    let t = text.trim_start();
    let inner = t.strip_prefix('[')?;
    let end = inner.find(']')?;
    let inner = &inner[..end];
    let (code, args) = inner.split_once(' ').unwrap_or((inner, ""));
    Some((code.to_ascii_uppercase(), args.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_and_quotes() {
        let raw: &[u8] = b"* 1 FETCH (UID 7 BODY[] {5}\r\na\0\n\xffb FLAGS (\\Seen $x))\r\n";
        let mut r = std::io::BufReader::new(raw);
        let resp = read_response(&mut r).unwrap();
        let mut t = Tokens::new(&resp);
        assert!(t.expect_value().unwrap().is_atom("*"));
        assert_eq!(t.expect_value().unwrap().number(), Some(1));
        assert!(t.expect_value().unwrap().is_atom("FETCH"));
        let l = t.expect_value().unwrap();
        let l = l.list().unwrap();
        assert_eq!(l[3].bytes().unwrap(), b"a\0\n\xffb");
        assert!(l[2].is_atom("BODY[]"));
        let q = b"* LIST (\\Noselect) \"/\" \"a \\\"q\\\\\"";
        let mut t = Tokens::new(q);
        for _ in 0..3 {
            t.expect_value().unwrap();
        }
        assert_eq!(t.expect_value().unwrap().text().unwrap(), "/");
        assert_eq!(t.expect_value().unwrap().text().unwrap(), "a \"q\\");
        let h = b"* 1 FETCH (BODY[HEADER.FIELDS (MESSAGE-ID)] NIL)";
        let mut t = Tokens::new(h);
        for _ in 0..3 {
            t.expect_value().unwrap();
        }
        let l = t.expect_value().unwrap();
        assert!(l.list().unwrap()[0].is_atom("BODY[HEADER.FIELDS (MESSAGE-ID)]"));
        assert_eq!(l.list().unwrap()[1], Value::Nil);
    }
}
