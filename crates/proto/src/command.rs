//! Command encoding.
//!
//! A [`Command`] is a sequence of [`Part`]s: text to write as is, and literals. The tag is not
//! part of it (the connection engine assigns tags), nor is the literal marker: the engine writes
//! `{N}` or `{N+}` depending on the server's LITERAL+/LITERAL- capability and waits for the `+`
//! continuation when it must. A literal whose bytes are not in memory (a message body being
//! streamed from the other server) is a [`Part::External`] that the engine fills.
//!
//! Strings are encoded with the smallest correct form (RFC 3501 §4.3, §9):
//!
//! ```abnf
//! astring      = 1*ASTRING-CHAR / string
//! ASTRING-CHAR = ATOM-CHAR / resp-specials
//! atom-specials = "(" / ")" / "{" / SP / CTL / list-wildcards / quoted-specials / resp-specials
//! string       = quoted / literal
//! quoted       = DQUOTE *QUOTED-CHAR DQUOTE   ; 7-bit, no CR/LF/NUL, `"` and `\` escaped
//! ```
//!
//! so any password or folder name, whatever bytes it holds, reaches the server intact: 8-bit or
//! control bytes go as a literal. The tests check every builder against imap-codec's command
//! grammar (the reference decoder).

use bytes::Bytes;
use std::fmt::Write as _;

use crate::seqset::UidSet;

/// A piece of a command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Part {
    Text(Vec<u8>),
    /// A literal whose bytes are known.
    Literal(Bytes),
    /// A literal of `len` bytes supplied by the caller at send time (the n-th External part
    /// takes the n-th body given to the engine).
    External {
        len: u64,
    },
}

/// What must never be printed of a command in traces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Redact {
    /// Nothing secret.
    None,
    /// Arguments after the command name are secret (LOGIN, AUTHENTICATE with SASL-IR,
    /// PROXYAUTH is not secret but LOGIN is).
    Arguments,
    /// Only the first `n` bytes of the command are shown (`AUTHENTICATE PLAIN`, then the
    /// SASL initial response is secret).
    After(usize),
}

/// An encoded command, without tag and without final CRLF.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Command {
    /// Upper-case command name for logs and error messages (`UID FETCH`, `APPEND`, ...).
    pub name: &'static str,
    pub parts: Vec<Part>,
    pub redact: Redact,
    /// What the command is about, so that untagged answers of commands a server runs in
    /// parallel (Dovecot does) reach the right command.
    pub target: Target,
}

/// The object of a command, for routing its untagged answers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Target {
    #[default]
    None,
    /// The UIDs a `UID FETCH`/`UID STORE` is about.
    Uids(UidSet),
    /// The mailbox a `STATUS`/`SELECT` is about.
    Mailbox(Vec<u8>),
}

impl Command {
    /// The command rendered for a trace: text parts verbatim, literals as `{N}` plus a short
    /// note, secrets as `MASKED`.
    pub fn trace(&self) -> String {
        match self.redact {
            Redact::None => {}
            Redact::Arguments => return format!("{} MASKED", self.name),
            Redact::After(n) => {
                let shown = match self.parts.first() {
                    Some(Part::Text(t)) => {
                        String::from_utf8_lossy(&t[..n.min(t.len())]).into_owned()
                    }
                    _ => self.name.to_string(),
                };
                return format!("{shown} MASKED");
            }
        }
        let mut out = String::new();
        for p in &self.parts {
            match p {
                Part::Text(t) => out.push_str(&String::from_utf8_lossy(t)),
                Part::Literal(b) => {
                    let _ = write!(out, "{{{}}}", b.len());
                    if b.len() <= 200 && !b.contains(&b'\n') {
                        out.push_str("\r\n");
                        out.push_str(&String::from_utf8_lossy(b));
                    } else {
                        let _ = write!(out, " <{} bytes>", b.len());
                    }
                }
                Part::External { len } => {
                    let _ = write!(out, "{{{len}}} <{len} bytes>");
                }
            }
        }
        out
    }

    /// The bytes of the command as they would go on the wire with synchronizing literals
    /// (`{N}`), for tests. External parts are filled with `fill`.
    pub fn to_wire(&self, tag: &str, fill: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(tag.as_bytes());
        out.push(b' ');
        let mut ext = fill.iter();
        for p in &self.parts {
            match p {
                Part::Text(t) => out.extend_from_slice(t),
                Part::Literal(b) => {
                    out.extend_from_slice(format!("{{{}}}\r\n", b.len()).as_bytes());
                    out.extend_from_slice(b);
                }
                Part::External { len } => {
                    out.extend_from_slice(format!("{{{len}}}\r\n").as_bytes());
                    if let Some(b) = ext.next() {
                        out.extend_from_slice(b);
                    }
                }
            }
        }
        out.extend_from_slice(b"\r\n");
        out
    }

    /// Number of literal parts.
    pub fn literal_count(&self) -> usize {
        self.parts
            .iter()
            .filter(|p| !matches!(p, Part::Text(_)))
            .count()
    }
}

/// Builds a [`Command`] piece by piece.
#[derive(Debug)]
pub struct Builder {
    name: &'static str,
    parts: Vec<Part>,
    cur: Vec<u8>,
    redact: Redact,
    target: Target,
}

impl Builder {
    /// Starts a command; `name` is written as is (e.g. `UID FETCH`).
    pub fn new(name: &'static str) -> Self {
        Builder {
            name,
            parts: Vec::new(),
            cur: name.as_bytes().to_vec(),
            redact: Redact::None,
            target: Target::None,
        }
    }

    pub fn target(mut self, target: Target) -> Self {
        self.target = target;
        self
    }

    pub fn redact(mut self) -> Self {
        self.redact = Redact::Arguments;
        self
    }

    pub fn sp(mut self) -> Self {
        self.cur.push(b' ');
        self
    }

    /// Writes text verbatim (atoms, numbers, already-encoded syntax).
    pub fn raw(mut self, s: impl AsRef<[u8]>) -> Self {
        self.cur.extend_from_slice(s.as_ref());
        self
    }

    fn flush_text(&mut self) {
        if !self.cur.is_empty() {
            self.parts.push(Part::Text(std::mem::take(&mut self.cur)));
        }
    }

    /// A literal with known bytes.
    pub fn literal(mut self, data: Bytes) -> Self {
        self.flush_text();
        self.parts.push(Part::Literal(data));
        self
    }

    /// A literal filled by the engine at send time.
    pub fn external(mut self, len: u64) -> Self {
        self.flush_text();
        self.parts.push(Part::External { len });
        self
    }

    /// An astring: atom when possible, else quoted, else literal.
    pub fn astring(self, s: &[u8]) -> Self {
        match string_form(s, true) {
            Form::Atom => self.raw(s),
            Form::Quoted => {
                let q = quote(s);
                self.raw(q)
            }
            Form::Literal => self.literal(Bytes::copy_from_slice(s)),
        }
    }

    /// A string (never an atom): quoted when possible, else literal.
    pub fn string(self, s: &[u8]) -> Self {
        match string_form(s, false) {
            Form::Atom | Form::Quoted => {
                let q = quote(s);
                self.raw(q)
            }
            Form::Literal => self.literal(Bytes::copy_from_slice(s)),
        }
    }

    /// A mailbox name: `INBOX` in any case is sent as `INBOX`; every other name is a quoted
    /// string (a literal when it must be), never an atom.
    ///
    /// The grammar allows `[`, `]` and `~` in an astring atom, but servers disagree:
    /// Courier-IMAP reads `CREATE INBOX.[Gmail]` as `INBOX.` followed by junk and refuses
    /// `INBOX.a~b` outright. A quoted name is accepted by every server (Courier, Cyrus,
    /// Dovecot, Exchange, Gmail), as by imapsync (Mail::IMAPClient quotes every name).
    pub fn mailbox(self, name: &[u8]) -> Self {
        if name.eq_ignore_ascii_case(b"INBOX") {
            return self.raw("INBOX");
        }
        self.string(name)
    }

    /// A LIST pattern: a quoted string (wildcards keep their meaning inside quotes), for the
    /// same reason as [`Builder::mailbox`].
    pub fn list_pattern(self, pattern: &[u8]) -> Self {
        self.string(pattern)
    }

    /// A parenthesised flag list `(\Seen $Forwarded)`. Flags that are not valid atoms are
    /// dropped (the caller filters and reports them before this point).
    pub fn flag_list(self, flags: &[String]) -> Self {
        let mut s = String::from("(");
        let mut first = true;
        for f in flags.iter().filter(|f| is_valid_flag(f)) {
            if !first {
                s.push(' ');
            }
            first = false;
            s.push_str(f);
        }
        s.push(')');
        self.raw(s)
    }

    pub fn build(mut self) -> Command {
        self.flush_text();
        Command {
            name: self.name,
            parts: self.parts,
            redact: self.redact,
            target: self.target,
        }
    }
}

enum Form {
    Atom,
    Quoted,
    Literal,
}

fn is_atom_char(b: u8) -> bool {
    b > 0x20 && b < 0x7f && !matches!(b, b'(' | b')' | b'{' | b'%' | b'*' | b'"' | b'\\' | b']')
}

fn is_astring_char(b: u8) -> bool {
    is_atom_char(b) || b == b']'
}

fn string_form(s: &[u8], atom_allowed: bool) -> Form {
    if atom_allowed && !s.is_empty() && s.iter().all(|&b| is_astring_char(b)) {
        // NIL would be read back as nil in nstring contexts; quote it to be safe.
        if !s.eq_ignore_ascii_case(b"NIL") {
            return Form::Atom;
        }
    }
    if s.iter()
        .all(|&b| (1..0x80).contains(&b) && b != b'\r' && b != b'\n')
    {
        Form::Quoted
    } else {
        Form::Literal
    }
}

fn quote(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len() + 2);
    out.push(b'"');
    for &b in s {
        if b == b'"' || b == b'\\' {
            out.push(b'\\');
        }
        out.push(b);
    }
    out.push(b'"');
    out
}

/// A flag is a `\Atom` system flag or a keyword atom; `\*` is not a flag one can set.
pub fn is_valid_flag(f: &str) -> bool {
    let body = f.strip_prefix('\\').unwrap_or(f);
    !body.is_empty() && body.bytes().all(is_atom_char) && f != "\\*"
}

/// STORE modes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreMode {
    Replace,
    Add,
    Remove,
}

/// Builders for every command the migrator sends.
pub mod cmd {
    use super::*;

    pub fn capability() -> Command {
        Builder::new("CAPABILITY").build()
    }
    pub fn noop() -> Command {
        Builder::new("NOOP").build()
    }
    pub fn logout() -> Command {
        Builder::new("LOGOUT").build()
    }
    pub fn starttls() -> Command {
        Builder::new("STARTTLS").build()
    }
    pub fn compress_deflate() -> Command {
        Builder::new("COMPRESS").raw(" DEFLATE").build()
    }
    pub fn namespace() -> Command {
        Builder::new("NAMESPACE").build()
    }
    pub fn check() -> Command {
        Builder::new("CHECK").build()
    }
    pub fn expunge() -> Command {
        Builder::new("EXPUNGE").build()
    }
    pub fn close() -> Command {
        Builder::new("CLOSE").build()
    }
    pub fn unselect() -> Command {
        Builder::new("UNSELECT").build()
    }

    /// `ID ("name" "x" ...)` or `ID NIL`.
    pub fn id(params: &[(&str, &str)]) -> Command {
        if params.is_empty() {
            return Builder::new("ID").raw(" NIL").build();
        }
        let mut b = Builder::new("ID").raw(" (");
        for (i, (k, v)) in params.iter().enumerate() {
            if i > 0 {
                b = b.sp();
            }
            b = b.string(k.as_bytes()).sp().string(v.as_bytes());
        }
        b.raw(")").build()
    }

    pub fn enable(caps: &[&str]) -> Command {
        Builder::new("ENABLE")
            .raw(format!(" {}", caps.join(" ")))
            .build()
    }

    /// `LOGIN user password` (arguments redacted in traces).
    pub fn login(user: &[u8], password: &[u8]) -> Command {
        Builder::new("LOGIN")
            .redact()
            .sp()
            .astring(user)
            .sp()
            .astring(password)
            .build()
    }

    /// `AUTHENTICATE MECH [initial-response]` (SASL-IR, RFC 4959; base64 already applied).
    pub fn authenticate(mech: &str, initial_b64: Option<&str>) -> Command {
        let mut b = Builder::new("AUTHENTICATE").raw(format!(" {mech}"));
        if let Some(ir) = initial_b64 {
            b.redact = Redact::After(b.cur.len());
            b = b.raw(format!(" {}", if ir.is_empty() { "=" } else { ir }));
        }
        b.build()
    }

    pub fn proxyauth(user: &[u8]) -> Command {
        Builder::new("PROXYAUTH").sp().astring(user).build()
    }

    /// SELECT options.
    #[derive(Clone, Debug, Default)]
    pub struct SelectOpts {
        pub condstore: bool,
        /// QRESYNC (uidvalidity, modseq, known UIDs).
        pub qresync: Option<(u32, u64, Option<UidSet>)>,
    }

    fn select_like(name: &'static str, mailbox: &[u8], opts: &SelectOpts) -> Command {
        let mut b = Builder::new(name)
            .target(Target::Mailbox(mailbox.to_vec()))
            .sp()
            .mailbox(mailbox);
        if let Some((uv, modseq, known)) = &opts.qresync {
            let mut s = format!(" (QRESYNC ({uv} {modseq}");
            if let Some(k) = known {
                let _ = write!(s, " {k}");
            }
            s.push_str("))");
            b = b.raw(s);
        } else if opts.condstore {
            b = b.raw(" (CONDSTORE)");
        }
        b.build()
    }

    pub fn select(mailbox: &[u8], opts: &SelectOpts) -> Command {
        select_like("SELECT", mailbox, opts)
    }

    pub fn examine(mailbox: &[u8], opts: &SelectOpts) -> Command {
        select_like("EXAMINE", mailbox, opts)
    }

    /// `LIST "" pattern [RETURN (...)]`.
    pub fn list(reference: &[u8], pattern: &[u8], return_opts: Option<&str>) -> Command {
        let mut b = Builder::new("LIST")
            .sp()
            .string(reference)
            .sp()
            .list_pattern(pattern);
        if let Some(r) = return_opts {
            b = b.raw(format!(" RETURN ({r})"));
        }
        b.build()
    }

    pub fn lsub(reference: &[u8], pattern: &[u8]) -> Command {
        Builder::new("LSUB")
            .sp()
            .string(reference)
            .sp()
            .list_pattern(pattern)
            .build()
    }

    pub fn status(mailbox: &[u8], items: &str) -> Command {
        Builder::new("STATUS")
            .target(Target::Mailbox(mailbox.to_vec()))
            .sp()
            .mailbox(mailbox)
            .raw(format!(" ({items})"))
            .build()
    }

    pub fn create(mailbox: &[u8]) -> Command {
        Builder::new("CREATE").sp().mailbox(mailbox).build()
    }
    pub fn delete(mailbox: &[u8]) -> Command {
        Builder::new("DELETE").sp().mailbox(mailbox).build()
    }
    pub fn subscribe(mailbox: &[u8]) -> Command {
        Builder::new("SUBSCRIBE").sp().mailbox(mailbox).build()
    }
    pub fn unsubscribe(mailbox: &[u8]) -> Command {
        Builder::new("UNSUBSCRIBE").sp().mailbox(mailbox).build()
    }
    pub fn getquotaroot(mailbox: &[u8]) -> Command {
        Builder::new("GETQUOTAROOT").sp().mailbox(mailbox).build()
    }
    /// `GETACL mailbox` (RFC 4314).
    pub fn getacl(mailbox: &[u8]) -> Command {
        Builder::new("GETACL").sp().mailbox(mailbox).build()
    }
    /// `MYRIGHTS mailbox` (RFC 4314).
    pub fn myrights(mailbox: &[u8]) -> Command {
        Builder::new("MYRIGHTS").sp().mailbox(mailbox).build()
    }
    /// `SETACL mailbox identifier rights` (RFC 4314).
    pub fn setacl(mailbox: &[u8], identifier: &[u8], rights: &[u8]) -> Command {
        Builder::new("SETACL")
            .sp()
            .mailbox(mailbox)
            .sp()
            .astring(identifier)
            .sp()
            .astring(rights)
            .build()
    }
    /// `DELETEACL mailbox identifier` (RFC 4314).
    pub fn deleteacl(mailbox: &[u8], identifier: &[u8]) -> Command {
        Builder::new("DELETEACL")
            .sp()
            .mailbox(mailbox)
            .sp()
            .astring(identifier)
            .build()
    }

    /// `UID SEARCH <criteria>`; criteria are user-supplied IMAP search syntax (imapsync's
    /// `--search`), passed verbatim; `RETURN (ALL)` is prepended when ESEARCH is wanted.
    pub fn uid_search(criteria: &str, esearch: bool) -> Command {
        let mut b = Builder::new("UID SEARCH");
        if esearch {
            b = b.raw(" RETURN (ALL)");
        }
        b.raw(format!(" {criteria}")).build()
    }

    /// `UID FETCH set (items) [(CHANGEDSINCE m [VANISHED])]`.
    pub fn uid_fetch(
        set: &UidSet,
        items: &str,
        changedsince: Option<u64>,
        vanished: bool,
    ) -> Command {
        let mut s = format!(" {set} ({items})");
        if let Some(m) = changedsince {
            let _ = write!(
                s,
                " (CHANGEDSINCE {m}{})",
                if vanished { " VANISHED" } else { "" }
            );
        }
        Builder::new("UID FETCH")
            .target(Target::Uids(set.clone()))
            .raw(s)
            .build()
    }

    /// `UID STORE set [+-]FLAGS.SILENT (flags)`.
    pub fn uid_store(set: &UidSet, mode: StoreMode, flags: &[String], silent: bool) -> Command {
        let op = match mode {
            StoreMode::Replace => "",
            StoreMode::Add => "+",
            StoreMode::Remove => "-",
        };
        Builder::new("UID STORE")
            .target(Target::Uids(set.clone()))
            .raw(format!(
                " {set} {op}FLAGS{} ",
                if silent { ".SILENT" } else { "" }
            ))
            .flag_list(flags)
            .build()
    }

    /// Gmail's `UID STORE set [+-]X-GM-LABELS (labels)`: system labels (`\Inbox`) as they
    /// are, the others as astrings (quoted when they have a space or a special character).
    pub fn uid_store_labels(set: &UidSet, mode: StoreMode, labels: &[String]) -> Command {
        let op = match mode {
            StoreMode::Replace => "",
            StoreMode::Add => "+",
            StoreMode::Remove => "-",
        };
        let mut b = Builder::new("UID STORE")
            .target(Target::Uids(set.clone()))
            .raw(format!(" {set} {op}X-GM-LABELS ("));
        for (i, l) in labels.iter().enumerate() {
            if i > 0 {
                b = b.raw(" ");
            }
            b = match l.strip_prefix('\\') {
                Some(rest) if !rest.is_empty() && rest.bytes().all(is_atom_char) => b.raw(l),
                _ => b.astring(l.as_bytes()),
            };
        }
        b.raw(")").build()
    }

    pub fn uid_expunge(set: &UidSet) -> Command {
        Builder::new("UID EXPUNGE").raw(format!(" {set}")).build()
    }

    /// One message of an APPEND: flags, optional internal date (`"17-Jul-1996 02:44:25 -0700"`
    /// without quotes), and body length.
    #[derive(Clone, Debug)]
    pub struct AppendItem {
        pub flags: Vec<String>,
        pub internaldate: Option<String>,
        pub len: u64,
    }

    /// An INTERNALDATE as APPEND wants it: RFC 3501's `date-time` needs a two-character day,
    /// so Dovecot's space-padded ` 7-Jul-1996 ...` becomes `07-Jul-1996 ...`; anything that
    /// cannot be part of a date (a quote from a hostile server) is dropped.
    pub fn date_time(d: &str) -> String {
        let clean: String = d
            .trim()
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, ' ' | ':' | '+' | '-'))
            .collect();
        if clean.as_bytes().get(1) == Some(&b'-') {
            format!("0{clean}")
        } else {
            clean
        }
    }

    /// `APPEND mailbox (flags) "date" {len}` for one or several messages (MULTIAPPEND,
    /// RFC 3502, when `items` has more than one). Bodies are External parts.
    pub fn append(mailbox: &[u8], items: &[AppendItem]) -> Command {
        let mut b = Builder::new("APPEND").sp().mailbox(mailbox);
        for it in items {
            b = b.sp().flag_list(&it.flags);
            if let Some(d) = &it.internaldate {
                b = b.raw(format!(" \"{}\"", date_time(d)));
            }
            b = b.sp().external(it.len);
        }
        b.build()
    }

    /// `APPEND` with the body in memory.
    pub fn append_bytes(
        mailbox: &[u8],
        flags: &[String],
        internaldate: Option<&str>,
        body: Bytes,
    ) -> Command {
        let mut b = Builder::new("APPEND")
            .sp()
            .mailbox(mailbox)
            .sp()
            .flag_list(flags);
        if let Some(d) = internaldate {
            b = b.raw(format!(" \"{}\"", date_time(d)));
        }
        b.sp().literal(body).build()
    }
}

#[cfg(test)]
mod tests {
    use super::cmd::*;
    use super::*;
    use imap_codec::CommandCodec;
    use imap_codec::decode::Decoder;
    use imap_codec::imap_types::command::CommandBody;
    use imap_codec::imap_types::core::AString;
    use imap_codec::imap_types::mailbox::Mailbox;

    fn astring_bytes(a: &AString) -> Vec<u8> {
        match a {
            AString::Atom(a) => a.inner().as_bytes().to_vec(),
            AString::String(s) => s.as_ref().to_vec(),
        }
    }

    fn mailbox_bytes(m: &Mailbox) -> Vec<u8> {
        match m {
            Mailbox::Inbox => b"INBOX".to_vec(),
            Mailbox::Other(o) => o.as_ref().to_vec(),
        }
    }

    /// Decodes our wire bytes with imap-codec's command grammar.
    fn decode(wire: &[u8]) -> CommandBody<'static> {
        match CommandCodec::default().decode_static(wire) {
            Ok((rest, cmd)) => {
                assert!(rest.is_empty(), "trailing bytes after command");
                cmd.body
            }
            Err(e) => panic!(
                "imap-codec rejected {:?}: {e:?}",
                String::from_utf8_lossy(wire)
            ),
        }
    }

    const HARD: &[&[u8]] = &[
        b"user1",
        b"sp ace\"q\\b($",
        b"",
        b"NIL",
        b"p\xc3\xa4ss",
        b"a]b",
        b"tab\there",
        b"{5}",
        b"%*",
        b"line\r\nbreak",
    ];

    #[test]
    fn authenticate_trace_shows_the_mechanism_and_masks_the_response() {
        let c = authenticate("PLAIN", Some("dXNlcgB1c2VyAHNlY3JldA=="));
        assert_eq!(c.trace(), "AUTHENTICATE PLAIN MASKED");
        assert!(
            String::from_utf8_lossy(&c.to_wire("a1", &[])).contains("dXNlcgB1c2VyAHNlY3JldA==")
        );
        let c = authenticate("XOAUTH2", None);
        assert_eq!(c.trace(), "AUTHENTICATE XOAUTH2");
    }

    #[test]
    fn login_roundtrips_through_reference_grammar() {
        for user in HARD {
            for pass in HARD {
                if user.is_empty() && pass.is_empty() {
                    continue;
                }
                let c = login(user, pass);
                let body = decode(&c.to_wire("a1", &[]));
                let CommandBody::Login { username, password } = body else {
                    panic!("not LOGIN")
                };
                assert_eq!(astring_bytes(&username), user.to_vec());
                assert_eq!(astring_bytes(password.declassify()), pass.to_vec());
                assert_eq!(c.trace(), "LOGIN MASKED");
            }
        }
    }

    /// Every command that carries a mailbox name sends it quoted (INBOX bare): the form
    /// Courier, Cyrus, Dovecot, Exchange and Gmail all accept.
    #[test]
    fn mailbox_names_are_quoted_on_the_wire() {
        let w = |c: Command| String::from_utf8(c.to_wire("t", &[b"x"])).expect("utf8");
        let gm = b"INBOX.[Gmail]".as_slice();
        assert_eq!(w(create(gm)), "t CREATE \"INBOX.[Gmail]\"\r\n");
        assert_eq!(w(delete(b"a~b")), "t DELETE \"a~b\"\r\n");
        assert_eq!(w(subscribe(b"tag[1]")), "t SUBSCRIBE \"tag[1]\"\r\n");
        assert_eq!(w(unsubscribe(b"Sent")), "t UNSUBSCRIBE \"Sent\"\r\n");
        assert_eq!(
            w(examine(b"INBOX.tag[1]", &SelectOpts::default())),
            "t EXAMINE \"INBOX.tag[1]\"\r\n"
        );
        assert_eq!(
            w(select(b"x]y", &SelectOpts::default())),
            "t SELECT \"x]y\"\r\n"
        );
        assert_eq!(
            w(status(b"~home", "MESSAGES UIDNEXT")),
            "t STATUS \"~home\" (MESSAGES UIDNEXT)\r\n"
        );
        assert_eq!(w(getquotaroot(b"INBOX")), "t GETQUOTAROOT INBOX\r\n");
        assert_eq!(
            w(select(b"inbox", &SelectOpts::default())),
            "t SELECT INBOX\r\n"
        );
        assert_eq!(w(list(b"", b"*", None)), "t LIST \"\" \"*\"\r\n");
        assert_eq!(
            w(lsub(b"", b"INBOX.[Gmail]%")),
            "t LSUB \"\" \"INBOX.[Gmail]%\"\r\n"
        );
        let app = append_bytes(gm, &[], None, Bytes::from_static(b"x"));
        assert!(
            String::from_utf8_lossy(&app.to_wire("t", &[]))
                .starts_with("t APPEND \"INBOX.[Gmail]\" ()"),
            "{:?}",
            app
        );
        let app = append(
            b"Sent",
            &[AppendItem {
                flags: vec![],
                internaldate: None,
                len: 1,
            }],
        );
        assert!(w(app).starts_with("t APPEND \"Sent\" ()"));
        // 8-bit names still go as literals.
        assert!(
            create("é".as_bytes())
                .parts
                .iter()
                .any(|p| matches!(p, Part::Literal(_)))
        );
    }

    #[test]
    fn acl_commands_on_the_wire() {
        let wire = |c: Command| String::from_utf8_lossy(&c.to_wire("t", &[])).into_owned();
        assert_eq!(wire(getacl(b"Sent Items")), "t GETACL \"Sent Items\"\r\n");
        assert_eq!(wire(myrights(b"inbox")), "t MYRIGHTS INBOX\r\n");
        assert_eq!(
            wire(setacl(b"INBOX.a", b"user 3", b"lr")),
            "t SETACL \"INBOX.a\" \"user 3\" lr\r\n"
        );
        assert_eq!(
            wire(deleteacl(b"x", b"anyone")),
            "t DELETEACL \"x\" anyone\r\n"
        );
    }

    #[test]
    fn mailbox_commands_roundtrip() {
        for name in [
            &b"INBOX"[..],
            b"inbox",
            b"Sent Items",
            b"INBOX.Quote\"d",
            b"back\\slash",
            b"&AOk-l&AOk-ments",
            b"a]b",
            b"UTF8 \xc3\xa9",
            b"[Gmail]/All Mail",
        ] {
            for (c, kind) in [
                (select(name, &SelectOpts::default()), "select"),
                (create(name), "create"),
                (subscribe(name), "subscribe"),
                (delete(name), "delete"),
            ] {
                let body = decode(&c.to_wire("t", &[]));
                let got = match (&body, kind) {
                    (CommandBody::Select { mailbox, .. }, "select") => mailbox_bytes(mailbox),
                    (CommandBody::Create { mailbox }, "create") => mailbox_bytes(mailbox),
                    (CommandBody::Subscribe { mailbox }, "subscribe") => mailbox_bytes(mailbox),
                    (CommandBody::Delete { mailbox }, "delete") => mailbox_bytes(mailbox),
                    other => panic!("unexpected {other:?}"),
                };
                if name.eq_ignore_ascii_case(b"INBOX") {
                    assert_eq!(got, b"INBOX".to_vec());
                } else {
                    assert_eq!(got, name.to_vec(), "{kind}");
                }
            }
        }
    }

    #[test]
    fn status_list_fetch_store_roundtrip() {
        let body = decode(&status(b"Sent Items", "MESSAGES UIDNEXT UIDVALIDITY").to_wire("t", &[]));
        assert!(matches!(body, CommandBody::Status { .. }));
        let body = decode(&list(b"", b"*", None).to_wire("t", &[]));
        assert!(matches!(body, CommandBody::List { .. }));
        let body = decode(&lsub(b"", b"*").to_wire("t", &[]));
        assert!(matches!(body, CommandBody::Lsub { .. }));
        let set = UidSet::parse("1:5,9").expect("set");
        let body = decode(
            &uid_fetch(
                &set,
                "UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[HEADER.FIELDS (MESSAGE-ID RECEIVED)]",
                None,
                false,
            )
            .to_wire("t", &[]),
        );
        assert!(matches!(body, CommandBody::Fetch { uid: true, .. }));
        let body = decode(
            &uid_store(
                &set,
                StoreMode::Replace,
                &["\\Seen".into(), "$Forwarded".into()],
                true,
            )
            .to_wire("t", &[]),
        );
        assert!(matches!(body, CommandBody::Store { uid: true, .. }));
        let body = decode(&uid_search("ALL", false).to_wire("t", &[]));
        assert!(matches!(body, CommandBody::Search { uid: true, .. }));
        let body = decode(&enable(&["QRESYNC"]).to_wire("t", &[]));
        assert!(matches!(body, CommandBody::Enable { .. }));
        let body = decode(&id(&[("name", "imapsync"), ("version", "0.1")]).to_wire("t", &[]));
        assert!(matches!(body, CommandBody::Id { .. }));
    }

    #[test]
    fn gmail_label_stores() {
        let set = UidSet::parse("3,5").expect("set");
        let labels: Vec<String> = ["\\Inbox", "Work", "Muy Importante", "a\"b", "\\Bad Label"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let wire = uid_store_labels(&set, StoreMode::Add, &labels).to_wire("t", &[]);
        assert_eq!(
            String::from_utf8_lossy(&wire),
            "t UID STORE 3,5 +X-GM-LABELS (\\Inbox Work \"Muy Importante\" \"a\\\"b\" \"\\\\Bad Label\")\r\n"
        );
        let wire = uid_store_labels(&set, StoreMode::Remove, &labels[1..2]).to_wire("t", &[]);
        assert_eq!(wire, b"t UID STORE 3,5 -X-GM-LABELS (Work)\r\n".to_vec());
    }

    #[test]
    fn append_roundtrips() {
        let body_bytes: &[u8] = b"Subject: x\r\n\r\nhello\x00\x80\r\n";
        let c = append(
            b"Sent Items",
            &[AppendItem {
                flags: vec!["\\Seen".into(), "$Label1".into(), "bad flag".into()],
                internaldate: Some("17-Jul-1996 02:44:25 -0700".into()),
                len: body_bytes.len() as u64,
            }],
        );
        assert_eq!(c.literal_count(), 1);
        let wire = c.to_wire("t", &[body_bytes]);
        assert!(wire.starts_with(
            b"t APPEND \"Sent Items\" (\\Seen $Label1) \"17-Jul-1996 02:44:25 -0700\" {"
        ));
        // imap-codec rejects NUL inside literals (it wants literal8), so check the shape with a
        // clean body.
        let clean: &[u8] = b"Subject: x\r\n\r\nhello\r\n";
        let c = append(
            b"INBOX",
            &[AppendItem {
                flags: vec![],
                internaldate: None,
                len: clean.len() as u64,
            }],
        );
        let CommandBody::Append { message, .. } = decode(&c.to_wire("t", &[clean])) else {
            panic!()
        };
        let _ = message;
    }

    #[test]
    fn flags_validation() {
        assert!(is_valid_flag("\\Seen"));
        assert!(is_valid_flag("$Forwarded"));
        assert!(!is_valid_flag("\\*"));
        assert!(!is_valid_flag("a b"));
        assert!(!is_valid_flag(""));
        assert!(!is_valid_flag("\\"));
        assert!(!is_valid_flag("x(y"));
    }

    proptest::proptest! {
        #[test]
        fn any_password_survives_the_reference_grammar(user in "[a-z]{1,8}", pass in proptest::collection::vec(1u8..=255, 1..40)) {
            let c = login(user.as_bytes(), &pass);
            let body = decode(&c.to_wire("a", &[]));
            let CommandBody::Login { password, .. } = body else { panic!() };
            proptest::prop_assert_eq!(astring_bytes(password.declassify()), pass);
        }
    }
}
