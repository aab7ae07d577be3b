//! Account files: imapsync's `file.txt` format and CSV with a header, with passwords given
//! inline or by reference.
//!
//! imapsync's format (what its `sync_loop_unix.sh` reads with `IFS=';'`), one account a line:
//!
//! ```text
//! # comment
//! host1;user1;password1;host2;user2;password2;extra options;
//! user1;password1;user2;password2          (hosts from --host1/--host2 of the batch)
//! ```
//!
//! Blank lines and lines starting with `#` are skipped, a trailing `;` is allowed, fields are
//! trimmed except passwords, and the extra options are split into words like a shell does
//! (quotes and backslashes group words). A file whose first line (after comments) names
//! columns separated by commas is CSV: columns `host1,user1,password1,host2,user2,password2`,
//! optional `passfile1`, `passfile2`, `oauthaccesstoken1`, `oauthaccesstoken2`, `extra` (in
//! any order, case-insensitive), RFC 4180 quoting.
//!
//! A password field may be a reference instead of the password itself, so the file holds no
//! secret: `file:PATH` (a passfile, read by the worker that runs the account), `env:NAME` (an
//! environment variable of the worker), `oauth2:PATH` (a file holding an OAuth2 access token,
//! kept fresh by some other tool), `oauth2-cmd:COMMAND` (a command printing an access token,
//! run at each attempt). `plain:TEXT` is the password `TEXT` itself (for a password that
//! starts with one of those prefixes).

use std::collections::HashMap;
use std::fmt;

/// Where a password comes from.
#[derive(Clone, PartialEq, Eq)]
pub enum SecretRef {
    /// No password given.
    None,
    /// In the account file itself: kept in memory only, never written to the job store.
    Inline(String),
    /// `--passfileN PATH`.
    File(String),
    /// An environment variable of the process that runs the account.
    Env(String),
    /// `--oauthaccesstokenN PATH`: a file holding the access token.
    OAuth2File(String),
    /// A command printing the access token on its first line.
    OAuth2Cmd(String),
}

impl fmt::Debug for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.stored())
    }
}

impl SecretRef {
    /// Parses a password field.
    pub fn parse(field: &str) -> SecretRef {
        let prefixed = |p: &str| field.strip_prefix(p).map(str::to_string);
        if field.is_empty() {
            SecretRef::None
        } else if let Some(v) = prefixed("plain:") {
            SecretRef::Inline(v)
        } else if let Some(v) = prefixed("file:") {
            SecretRef::File(v)
        } else if let Some(v) = prefixed("env:") {
            SecretRef::Env(v)
        } else if let Some(v) = prefixed("oauth2-cmd:") {
            SecretRef::OAuth2Cmd(v)
        } else if let Some(v) = prefixed("oauth2:") {
            SecretRef::OAuth2File(v)
        } else {
            SecretRef::Inline(field.to_string())
        }
    }

    /// What the job store keeps: the reference, or `inline` (never the password).
    pub fn stored(&self) -> String {
        match self {
            SecretRef::None => String::new(),
            SecretRef::Inline(_) => "inline".into(),
            SecretRef::File(p) => format!("file:{p}"),
            SecretRef::Env(n) => format!("env:{n}"),
            SecretRef::OAuth2File(p) => format!("oauth2:{p}"),
            SecretRef::OAuth2Cmd(c) => format!("oauth2-cmd:{c}"),
        }
    }

    /// Back from [`stored`](Self::stored); an inline password is not there to be read back.
    pub fn from_stored(s: &str) -> SecretRef {
        if s == "inline" {
            SecretRef::Inline(String::new())
        } else {
            SecretRef::parse(s)
        }
    }

    pub fn is_inline(&self) -> bool {
        matches!(self, SecretRef::Inline(_))
    }
}

/// One account pair of the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    /// 1-based line in the file.
    pub line: usize,
    pub host1: String,
    pub user1: String,
    pub secret1: SecretRef,
    pub host2: String,
    pub user2: String,
    pub secret2: SecretRef,
    /// Extra imapsync options for this account only.
    pub extra: Vec<String>,
    /// The line as written (for the list of failures to run again).
    pub raw: String,
}

impl Account {
    /// The identity of the pair in the job store (hosts are case-insensitive).
    pub fn key(&self) -> String {
        account_key(&self.host1, &self.user1, &self.host2, &self.user2)
    }
}

pub fn account_key(host1: &str, user1: &str, host2: &str, user2: &str) -> String {
    format!(
        "{}|{}|{}|{}",
        host1.to_ascii_lowercase(),
        user1,
        host2.to_ascii_lowercase(),
        user2
    )
}

/// A line that can not be used, with why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineError {
    pub line: usize,
    pub message: String,
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// Hosts given to the batch for every account (`--host1`, `--host2` among its imapsync
/// options), used by the short `user1;password1;user2;password2` lines.
#[derive(Clone, Debug, Default)]
pub struct DefaultHosts {
    pub host1: Option<String>,
    pub host2: Option<String>,
}

/// Parses an account file; every problem is reported, nothing is silently dropped.
pub fn parse(text: &str, hosts: &DefaultHosts) -> Result<Vec<Account>, Vec<LineError>> {
    let mut accounts = Vec::new();
    let mut errors = Vec::new();
    let first = text
        .lines()
        .map(|l| l.trim_end_matches('\r'))
        .find(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'));
    let is_csv = first.is_some_and(|l| {
        let cols: Vec<String> = split_csv_line(l)
            .unwrap_or_default()
            .iter()
            .map(|c| c.trim().to_ascii_lowercase())
            .collect();
        cols.len() > 1 && cols.iter().any(|c| c == "user1") && cols.iter().any(|c| c == "user2")
    });
    if is_csv {
        parse_csv(text, &mut accounts, &mut errors);
    } else {
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim_end_matches('\r');
            if line.trim().is_empty() || line.trim_start().starts_with('#') {
                continue;
            }
            match parse_semicolon_line(line, i + 1, hosts) {
                Ok(a) => accounts.push(a),
                Err(e) => errors.push(e),
            }
        }
    }
    let mut seen: HashMap<String, usize> = HashMap::new();
    for a in &accounts {
        if let Some(first) = seen.insert(a.key(), a.line) {
            errors.push(LineError {
                line: a.line,
                message: format!(
                    "the same account pair as line {first} ({} on {} to {} on {}): two runs of one pair can not run at once",
                    a.user1, a.host1, a.user2, a.host2
                ),
            });
        }
    }
    if errors.is_empty() {
        Ok(accounts)
    } else {
        errors.sort_by_key(|e| e.line);
        Err(errors)
    }
}

fn parse_semicolon_line(line: &str, n: usize, hosts: &DefaultHosts) -> Result<Account, LineError> {
    let err = |m: String| LineError {
        line: n,
        message: m,
    };
    let mut fields: Vec<&str> = line.split(';').collect();
    // A trailing `;` (or several) leaves empty fields at the end.
    while fields.len() > 4 && fields.last().is_some_and(|f| f.trim().is_empty()) {
        fields.pop();
    }
    let (h1, u1, p1, h2, u2, p2, extra) = match fields.len() {
        4 => {
            let (Some(h1), Some(h2)) = (&hosts.host1, &hosts.host2) else {
                return Err(err(
                    "4 fields (user1;password1;user2;password2) need --host1 and --host2 among the batch's options".into(),
                ));
            };
            (
                h1.as_str(),
                fields[0],
                fields[1],
                h2.as_str(),
                fields[2],
                fields[3],
                "",
            )
        }
        6 | 7 => (
            fields[0],
            fields[1],
            fields[2],
            fields[3],
            fields[4],
            fields[5],
            fields.get(6).copied().unwrap_or(""),
        ),
        k => {
            return Err(err(format!(
                "{k} fields separated by ';': expected host1;user1;password1;host2;user2;password2;extra options; (or user1;password1;user2;password2)"
            )));
        }
    };
    let extra =
        split_words(extra).ok_or_else(|| err("unbalanced quote in the extra options".into()))?;
    account(
        n,
        [h1, u1, h2, u2],
        SecretRef::parse(p1),
        SecretRef::parse(p2),
        extra,
        line,
    )
}

fn account(
    n: usize,
    [h1, u1, h2, u2]: [&str; 4],
    secret1: SecretRef,
    secret2: SecretRef,
    extra: Vec<String>,
    raw: &str,
) -> Result<Account, LineError> {
    let mut missing = Vec::new();
    for (name, v) in [("host1", h1), ("user1", u1), ("host2", h2), ("user2", u2)] {
        if v.trim().is_empty() {
            missing.push(name);
        }
    }
    if !missing.is_empty() {
        return Err(LineError {
            line: n,
            message: format!("empty {}", missing.join(", ")),
        });
    }
    Ok(Account {
        line: n,
        host1: h1.trim().to_string(),
        user1: u1.trim().to_string(),
        secret1,
        host2: h2.trim().to_string(),
        user2: u2.trim().to_string(),
        secret2,
        extra,
        raw: raw.to_string(),
    })
}

const CSV_COLUMNS: &[&str] = &[
    "host1",
    "user1",
    "password1",
    "passfile1",
    "oauthaccesstoken1",
    "host2",
    "user2",
    "password2",
    "passfile2",
    "oauthaccesstoken2",
    "extra",
];

fn parse_csv(text: &str, accounts: &mut Vec<Account>, errors: &mut Vec<LineError>) {
    let records = match csv_records(text) {
        Ok(r) => r,
        Err(e) => {
            errors.push(e);
            return;
        }
    };
    let mut header: Option<HashMap<String, usize>> = None;
    for (n, fields, raw) in records {
        if fields.len() == 1 && fields[0].trim().is_empty() {
            continue;
        }
        if fields
            .first()
            .is_some_and(|f| f.trim_start().starts_with('#'))
        {
            continue;
        }
        let Some(h) = &header else {
            let mut cols = HashMap::new();
            for (i, c) in fields.iter().enumerate() {
                let c = c.trim().to_ascii_lowercase();
                if !CSV_COLUMNS.contains(&c.as_str()) {
                    errors.push(LineError {
                        line: n,
                        message: format!(
                            "unknown column {c:?} (known: {})",
                            CSV_COLUMNS.join(", ")
                        ),
                    });
                }
                cols.insert(c, i);
            }
            header = Some(cols);
            continue;
        };
        let get = |c: &str| {
            h.get(c)
                .and_then(|&i| fields.get(i))
                .map_or("", |s| s.as_str())
        };
        let secret = |n: u8| {
            let (p, f, o) = (
                get(&format!("password{n}")),
                get(&format!("passfile{n}")),
                get(&format!("oauthaccesstoken{n}")),
            );
            match (p.is_empty(), f.is_empty(), o.is_empty()) {
                (false, true, true) => Ok(SecretRef::parse(p)),
                (true, false, true) => Ok(SecretRef::File(f.to_string())),
                (true, true, false) => Ok(SecretRef::OAuth2File(o.to_string())),
                (true, true, true) => Ok(SecretRef::None),
                _ => Err(format!(
                    "give one of password{n}, passfile{n}, oauthaccesstoken{n}"
                )),
            }
        };
        let (s1, s2) = match (secret(1), secret(2)) {
            (Ok(a), Ok(b)) => (a, b),
            (Err(e), _) | (_, Err(e)) => {
                errors.push(LineError {
                    line: n,
                    message: e,
                });
                continue;
            }
        };
        let Some(extra) = split_words(get("extra")) else {
            errors.push(LineError {
                line: n,
                message: "unbalanced quote in the extra options".into(),
            });
            continue;
        };
        match account(
            n,
            [get("host1"), get("user1"), get("host2"), get("user2")],
            s1,
            s2,
            extra,
            &raw,
        ) {
            Ok(a) => accounts.push(a),
            Err(e) => errors.push(e),
        }
    }
}

type CsvRecord = (usize, Vec<String>, String);

/// RFC 4180 records with their first line number and raw text (quoted fields may span lines).
fn csv_records(text: &str) -> Result<Vec<CsvRecord>, LineError> {
    let mut out = Vec::new();
    let mut lines = text.split('\n').enumerate().peekable();
    while let Some((i, line)) = lines.next() {
        let mut raw = line.trim_end_matches('\r').to_string();
        loop {
            match split_csv_line(&raw) {
                Some(fields) => {
                    out.push((i + 1, fields, raw));
                    break;
                }
                None => match lines.next() {
                    Some((_, more)) => {
                        raw.push('\n');
                        raw.push_str(more.trim_end_matches('\r'));
                    }
                    None => {
                        return Err(LineError {
                            line: i + 1,
                            message: "unterminated quoted field".into(),
                        });
                    }
                },
            }
        }
    }
    Ok(out)
}

/// Fields of one CSV record; `None` when a quoted field is still open at the end.
pub fn split_csv_line(line: &str) -> Option<Vec<String>> {
    let mut fields = Vec::new();
    let mut cur = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    let mut at_start = true;
    while let Some(c) = chars.next() {
        if quoted {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    cur.push('"');
                    chars.next();
                } else {
                    quoted = false;
                }
            } else {
                cur.push(c);
            }
            continue;
        }
        match c {
            '"' if at_start => {
                quoted = true;
                at_start = false;
            }
            ',' => {
                fields.push(std::mem::take(&mut cur));
                at_start = true;
            }
            _ => {
                cur.push(c);
                at_start = false;
            }
        }
    }
    if quoted {
        return None;
    }
    fields.push(cur);
    Some(fields)
}

/// One CSV field, quoted when needed.
pub fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) || s.starts_with(' ') || s.ends_with(' ') {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Splits options into words like a POSIX shell: blanks separate, `'...'` and `"..."` group
/// (a backslash escapes `"` and `\` inside double quotes, anything outside quotes). `None`
/// for an unbalanced quote.
pub fn split_words(s: &str) -> Option<Vec<String>> {
    let mut words = Vec::new();
    let mut cur: Option<String> = None;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if let Some(w) = cur.take() {
                    words.push(w);
                }
            }
            '\'' => {
                let w = cur.get_or_insert_with(String::new);
                loop {
                    match chars.next()? {
                        '\'' => break,
                        x => w.push(x),
                    }
                }
            }
            '"' => {
                let w = cur.get_or_insert_with(String::new);
                loop {
                    match chars.next()? {
                        '"' => break,
                        '\\' => match chars.next()? {
                            x @ ('"' | '\\' | '$' | '`') => w.push(x),
                            x => {
                                w.push('\\');
                                w.push(x);
                            }
                        },
                        x => w.push(x),
                    }
                }
            }
            '\\' => {
                let x = chars.next()?;
                cur.get_or_insert_with(String::new).push(x);
            }
            x => cur.get_or_insert_with(String::new).push(x),
        }
    }
    if let Some(w) = cur {
        words.push(w);
    }
    Some(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts() -> DefaultHosts {
        DefaultHosts {
            host1: Some("imap.a".into()),
            host2: Some("imap.b".into()),
        }
    }

    #[test]
    fn imapsync_lines_with_comments_blanks_trailing_semicolons_and_extras() {
        let text = "# migration of example.com\r\n\
                    \n\
                    h1;u1;p1;h2;u2;p2;\r\n\
                    H1.example;u 2;file:/s/p1;H2;u2;env:PW2;--exclude 'All Mail' --maxsize 1000;\n\
                    h1;u3;plain:env:x;h2;u3;oauth2:/tok\n\
                    h1;u4;x;h2;u4;y;--folder \"a \\\"b\\\"\";;;\n";
        let a = parse(text, &DefaultHosts::default()).expect("parses");
        assert_eq!(a.len(), 4);
        assert_eq!(a[0].line, 3);
        assert_eq!(a[0].secret1, SecretRef::Inline("p1".into()));
        assert_eq!(
            (a[1].host1.as_str(), a[1].user1.as_str()),
            ("H1.example", "u 2")
        );
        assert_eq!(a[1].secret1, SecretRef::File("/s/p1".into()));
        assert_eq!(a[1].secret2, SecretRef::Env("PW2".into()));
        assert_eq!(a[1].extra, ["--exclude", "All Mail", "--maxsize", "1000"]);
        assert_eq!(a[2].secret1, SecretRef::Inline("env:x".into()));
        assert_eq!(a[2].secret2, SecretRef::OAuth2File("/tok".into()));
        assert_eq!(a[3].extra, ["--folder", "a \"b\""]);
        assert_eq!(a[1].key(), "h1.example|u 2|h2|u2");
    }

    #[test]
    fn short_lines_take_the_hosts_of_the_batch() {
        let a = parse("u1;p1;u2;p2\n", &hosts()).expect("short form");
        assert_eq!(
            (
                a[0].host1.as_str(),
                a[0].host2.as_str(),
                a[0].user2.as_str()
            ),
            ("imap.a", "imap.b", "u2")
        );
        let e = parse("u1;p1;u2;p2\n", &DefaultHosts::default()).expect_err("no hosts");
        assert!(e[0].message.contains("--host1"), "{e:?}");
    }

    #[test]
    fn every_bad_line_is_reported() {
        let text =
            "h1;u1;p1;h2;u2;p2\nh1;u1\n;u;p;h2;u;p\nh1;u1;p1;h2;u2;p2\nh;u;p;h;v;p;--x 'oops\n";
        let e = parse(text, &DefaultHosts::default()).expect_err("errors");
        let lines: Vec<usize> = e.iter().map(|e| e.line).collect();
        assert_eq!(lines, [2, 3, 4, 5], "{e:?}");
        assert!(e[1].message.contains("empty host1"));
        assert!(e[2].message.contains("same account pair as line 1"));
        assert!(e[3].message.contains("unbalanced quote"));
    }

    #[test]
    fn csv_with_header_any_order_quotes_and_references() {
        let text = "User1,Host1,password1,host2,user2,passfile2,extra\n\
                    a@x,imap.x,\"pa,ss\"\"w\",imap.y,a@y,/p/a,--maxage 30\n\
                    # skipped\n\
                    b@x,imap.x,env:B,imap.y,b@y,,\n";
        let a = parse(text, &DefaultHosts::default()).expect("csv");
        assert_eq!(a.len(), 2);
        assert_eq!(a[0].secret1, SecretRef::Inline("pa,ss\"w".into()));
        assert_eq!(a[0].secret2, SecretRef::File("/p/a".into()));
        assert_eq!(a[0].extra, ["--maxage", "30"]);
        assert_eq!(a[1].secret1, SecretRef::Env("B".into()));
        assert_eq!(a[1].secret2, SecretRef::None);
        assert_eq!(a[1].line, 4);
        let bad = "host1,user1,password1,host2,user2,password2,colour\nh,u,p,h,u,p,red\n";
        let e = parse(bad, &DefaultHosts::default()).expect_err("unknown column");
        assert!(e[0].message.contains("colour"));
        let both = "host1,user1,password1,passfile1,host2,user2,password2\nh,u,p,/f,h2,u,p\n";
        let e = parse(both, &DefaultHosts::default()).expect_err("two secrets");
        assert!(e[0].message.contains("one of password1"), "{e:?}");
    }

    #[test]
    fn stored_references_never_hold_the_password() {
        assert_eq!(SecretRef::parse("hunter2").stored(), "inline");
        assert!(!format!("{:?}", SecretRef::parse("hunter2")).contains("hunter2"));
        for s in [
            "file:/a",
            "env:X",
            "oauth2:/t",
            "oauth2-cmd:get-token --user a",
        ] {
            assert_eq!(
                SecretRef::from_stored(&SecretRef::parse(s).stored()),
                SecretRef::parse(s)
            );
        }
        assert!(SecretRef::from_stored("inline").is_inline());
    }

    #[test]
    fn words_and_csv_fields() {
        assert_eq!(
            split_words(r#"  --a 'b c' "d \"e\"" f\ g "" "#),
            Some(vec![
                "--a".into(),
                "b c".into(),
                "d \"e\"".into(),
                "f g".into(),
                "".into()
            ])
        );
        assert_eq!(split_words("'x"), None);
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("q\""), "\"q\"\"\"");
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(
            split_csv_line("a,\"b,\"\"c\",d"),
            Some(vec!["a".into(), "b,\"c".into(), "d".into()])
        );
        assert_eq!(split_csv_line("a,\"b"), None);
    }
}
