//! Pattern translation (Perl → fancy-regex), separately for text and byte mode.

use super::*;

fn is_pattern_blank(c: char) -> bool {
    matches!(
        c,
        ' ' | '\t'
            | '\n'
            | '\r'
            | '\u{0B}'
            | '\u{0C}'
            | '\u{85}'
            | '\u{200E}'
            | '\u{200F}'
            | '\u{2028}'
            | '\u{2029}'
    )
}

const H_UNICODE: &str =
    r"\x{09}\x{20}\x{A0}\x{1680}\x{180E}\x{2000}-\x{200A}\x{202F}\x{205F}\x{3000}";
const H_BYTES: &str = r"\x{09}\x{20}\x{A0}";
const V_UNICODE: &str = r"\x{0A}-\x{0D}\x{85}\x{2028}\x{2029}";
const V_BYTES: &str = r"\x{0A}-\x{0D}\x{85}";
const POSIX_CLASSES: &[&str] = &[
    "alpha", "alnum", "ascii", "blank", "cntrl", "digit", "graph", "lower", "print", "punct",
    "space", "upper", "word", "xdigit",
];

struct Translator<'a> {
    expr: &'a str,
    src: Vec<char>,
    pos: usize,
    out: String,
    mode: Mode,
    interpolating: bool,
    flags: Vec<RegexFlags>,
    total_groups: usize,
    opened: usize,
    names: Vec<(String, usize)>,
}

/// A translated pattern: fancy-regex source, named groups (name, index), number of groups.
type Translated = (String, Vec<(String, usize)>, usize);

/// Translate a Perl pattern. Returns (fancy pattern, named groups, number of groups).
/// `total_groups` is the group count from a first pass (None: run the first pass).
pub(super) fn translate(
    expr: &str,
    pattern: &str,
    flags: RegexFlags,
    interpolating: bool,
    mode: Mode,
    total_groups: Option<usize>,
) -> Result<Translated, PerlExprError> {
    let total = match total_groups {
        Some(t) => t,
        None => translate(expr, pattern, flags, interpolating, mode, Some(usize::MAX))?.2,
    };
    let src: Vec<char> = if interpolating {
        expand_quotemeta(pattern).chars().collect()
    } else {
        pattern.chars().collect()
    };
    let mut t = Translator {
        expr,
        src,
        pos: 0,
        out: String::with_capacity(pattern.len() * 2),
        mode,
        interpolating,
        flags: vec![flags],
        total_groups: total,
        opened: 0,
        names: Vec::new(),
    };
    if flags.case_insensitive {
        t.out.push_str("(?i)");
    }
    t.run()?;
    Ok((t.out, t.names, t.opened))
}

impl Translator<'_> {
    fn cur(&self) -> RegexFlags {
        self.flags.last().copied().unwrap_or_default()
    }

    fn peek(&self) -> Option<char> {
        self.src.get(self.pos).copied()
    }

    fn peek_at(&self, k: usize) -> Option<char> {
        self.src.get(self.pos + k).copied()
    }

    fn syntax(&self, message: impl Into<String>) -> PerlExprError {
        PerlExprError::Syntax {
            expr: self.expr.to_string(),
            message: message.into(),
        }
    }

    fn unsupported(&self, feature: impl Into<String>) -> PerlExprError {
        PerlExprError::Unsupported {
            expr: self.expr.to_string(),
            feature: feature.into(),
        }
    }

    fn run(&mut self) -> Result<(), PerlExprError> {
        while let Some(c) = self.peek() {
            self.pos += 1;
            let f = self.cur();
            if f.extended && is_pattern_blank(c) {
                continue;
            }
            if f.extended && c == '#' {
                while let Some(n) = self.peek() {
                    self.pos += 1;
                    if n == '\n' {
                        break;
                    }
                }
                continue;
            }
            match c {
                '\\' => self.escape()?,
                '[' => self.class()?,
                '(' => self.group_open()?,
                ')' => {
                    if self.flags.len() <= 1 {
                        return Err(self.syntax("unmatched ')' in the pattern"));
                    }
                    self.flags.pop();
                    self.out.push(')');
                }
                '|' => self.out.push('|'),
                '.' => {
                    if f.dot_all {
                        self.out.push_str("(?s:.)");
                    } else {
                        self.out.push('.');
                    }
                }
                '^' => {
                    if f.multi_line {
                        self.out.push_str(r"(?:\A|(?<=\n)(?!\z))");
                    } else {
                        self.out.push_str(r"\A");
                    }
                }
                '$' => {
                    self.check_dollar()?;
                    if f.multi_line {
                        self.out.push_str("(?m:$)");
                    } else {
                        self.out.push_str(r"(?=\n?\z)");
                    }
                }
                '@' => {
                    self.check_at()?;
                    self.out.push_str(r"\x{40}");
                }
                '*' | '+' | '?' => {
                    self.out.push(c);
                    self.quantifier_suffix();
                }
                '{' => {
                    if let Some((q, len)) = self.braced_quantifier() {
                        self.out.push_str(&q);
                        self.pos += len;
                        self.quantifier_suffix();
                    } else {
                        self.out.push_str(r"\{");
                    }
                }
                _ => self.literal(c)?,
            }
        }
        if self.flags.len() > 1 {
            return Err(self.syntax("unmatched '(' in the pattern"));
        }
        Ok(())
    }

    fn quantifier_suffix(&mut self) {
        if let Some(s @ ('?' | '+')) = self.peek() {
            self.out.push(s);
            self.pos += 1;
        }
    }

    /// `{n}`, `{n,}`, `{n,m}`, `{,m}` (blanks allowed inside). Returns the normalized
    /// quantifier and how many chars it spans after the `{`.
    fn braced_quantifier(&self) -> Option<(String, usize)> {
        let mut j = self.pos;
        let mut body = String::new();
        loop {
            let c = *self.src.get(j)?;
            j += 1;
            if c == '}' {
                break;
            }
            if !(c.is_ascii_digit() || c == ',' || c == ' ' || c == '\t') {
                return None;
            }
            body.push(c);
        }
        let body: String = body.chars().filter(|c| *c != ' ' && *c != '\t').collect();
        let (min, max) = match body.split_once(',') {
            Some((a, b)) => (a.to_string(), Some(b.to_string())),
            None => (body.clone(), None),
        };
        if max.as_deref().is_some_and(|m| m.contains(',')) {
            return None;
        }
        let q = match max {
            None if !min.is_empty() => format!("{{{min}}}"),
            Some(m) if !min.is_empty() => format!("{{{min},{m}}}"),
            Some(m) if !m.is_empty() => format!("{{0,{m}}}"),
            _ => return None,
        };
        Some((q, j - self.pos))
    }

    fn variable_name(&self, sigil: char) -> String {
        let mut name = String::from(sigil);
        let mut j = self.pos;
        match self.src.get(j) {
            Some('{') => {
                while let Some(&c) = self.src.get(j) {
                    name.push(c);
                    j += 1;
                    if c == '}' {
                        break;
                    }
                }
            }
            Some(&c) if c.is_alphanumeric() || c == '_' || c == ':' => {
                while let Some(&c) = self.src.get(j) {
                    if c.is_alphanumeric() || c == '_' || c == ':' {
                        name.push(c);
                        j += 1;
                    } else {
                        break;
                    }
                }
            }
            Some(&c) => name.push(c),
            None => {}
        }
        name
    }

    /// In an interpolating pattern, `$` followed by anything but the end, `)`, `|` or a blank
    /// would be a Perl variable.
    fn check_dollar(&self) -> Result<(), PerlExprError> {
        if !self.interpolating {
            return Ok(());
        }
        match self.peek() {
            None | Some(')') | Some('|') => Ok(()),
            Some(c) if c.is_whitespace() => Ok(()),
            Some(_) => Err(PerlExprError::ProgramVariable {
                expr: self.expr.to_string(),
                name: self.variable_name('$'),
            }),
        }
    }

    fn check_at(&self) -> Result<(), PerlExprError> {
        if !self.interpolating {
            return Ok(());
        }
        match self.peek() {
            Some(c) if c.is_alphanumeric() || matches!(c, '_' | '{' | '$' | ':') => {
                Err(PerlExprError::ProgramVariable {
                    expr: self.expr.to_string(),
                    name: self.variable_name('@'),
                })
            }
            _ => Ok(()),
        }
    }

    fn literal(&mut self, c: char) -> Result<(), PerlExprError> {
        push_literal(&mut self.out, c, self.mode);
        Ok(())
    }

    fn code(&mut self, code: u32) -> Result<(), PerlExprError> {
        let s = self.code_text(code)?;
        self.out.push_str(&s);
        Ok(())
    }

    fn code_text(&self, code: u32) -> Result<String, PerlExprError> {
        match self.mode {
            Mode::Unicode => {
                if char::from_u32(code).is_none() {
                    return Err(self.unsupported(format!(
                        "code point {code:#x} (not a Unicode scalar value)"
                    )));
                }
            }
            Mode::Bytes => {
                if code > 0xFF {
                    return Err(self.unsupported(format!(
                        "code point {code:#x} above 0xFF in a pattern applied to bytes"
                    )));
                }
            }
        }
        Ok(format!(r"\x{{{code:X}}}"))
    }

    fn read_while(&mut self, pred: impl Fn(char) -> bool, max: usize) -> String {
        let mut s = String::new();
        while s.len() < max {
            match self.peek() {
                Some(c) if pred(c) => {
                    s.push(c);
                    self.pos += 1;
                }
                _ => break,
            }
        }
        s
    }

    fn read_braced(&mut self, what: &str) -> Result<String, PerlExprError> {
        // self.peek() == '{'
        self.pos += 1;
        let mut s = String::new();
        loop {
            match self.peek() {
                None => return Err(self.syntax(format!("missing '}}' in {what}"))),
                Some('}') => {
                    self.pos += 1;
                    return Ok(s);
                }
                Some(c) => {
                    s.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    /// Numeric and control escapes shared by patterns, classes (and the same rules as
    /// replacements). `c` is the letter after the backslash (already consumed).
    fn numeric_escape(&mut self, c: char) -> Result<Option<u32>, PerlExprError> {
        Ok(Some(match c {
            'n' => 0x0A,
            't' => 0x09,
            'r' => 0x0D,
            'f' => 0x0C,
            'e' => 0x1B,
            'a' => 0x07,
            'x' => {
                if self.peek() == Some('{') {
                    let body = self.read_braced("\\x{...}")?;
                    parse_radix(body.trim(), 16).ok_or_else(|| {
                        self.syntax(format!("invalid hexadecimal escape \\x{{{body}}}"))
                    })?
                } else {
                    let h = self.read_while(|c| c.is_ascii_hexdigit(), 2);
                    parse_radix(&h, 16).unwrap_or(0)
                }
            }
            'o' if self.peek() == Some('{') => {
                let body = self.read_braced("\\o{...}")?;
                parse_radix(body.trim(), 8)
                    .ok_or_else(|| self.syntax(format!("invalid octal escape \\o{{{body}}}")))?
            }
            '0' => {
                let o = self.read_while(|c| ('0'..='7').contains(&c), 2);
                parse_radix(&o, 8).unwrap_or(0)
            }
            'c' => {
                let Some(x) = self.peek() else {
                    return Err(self.syntax("\\c at the end of the pattern"));
                };
                self.pos += 1;
                u32::from(x.to_ascii_uppercase()) ^ 64
            }
            'N' if self.peek() == Some('{') => {
                let body = self.read_braced("\\N{...}")?;
                match body.strip_prefix("U+") {
                    Some(hex) => parse_radix(hex, 16)
                        .ok_or_else(|| self.syntax(format!("invalid \\N{{{body}}}")))?,
                    None => return Err(self.unsupported(format!("named character \\N{{{body}}}"))),
                }
            }
            _ => return Ok(None),
        }))
    }

    fn escape(&mut self) -> Result<(), PerlExprError> {
        let Some(c) = self.peek() else {
            return Err(self.syntax("trailing backslash in the pattern"));
        };
        self.pos += 1;
        if let Some(code) = self.numeric_escape(c)? {
            return self.code(code);
        }
        let h = if self.mode == Mode::Unicode {
            H_UNICODE
        } else {
            H_BYTES
        };
        let v = if self.mode == Mode::Unicode {
            V_UNICODE
        } else {
            V_BYTES
        };
        match c {
            'A' => self.out.push_str(r"\A"),
            'z' => self.out.push_str(r"\z"),
            'Z' => self.out.push_str(r"(?=\n?\z)"),
            'G' => self.out.push_str(r"\G"),
            'K' => self.out.push_str(r"\K"),
            'b' | 'B' if self.peek() == Some('{') => {
                return Err(self.unsupported(format!("\\{c}{{...}} boundaries")));
            }
            'b' => self.out.push_str(r"\b"),
            'B' => self.out.push_str(r"\B"),
            'd' | 'D' | 'w' | 'W' | 's' | 'S' => {
                self.out.push('\\');
                self.out.push(c);
            }
            'h' => {
                let _ = write!(self.out, "[{h}]");
            }
            'H' => {
                let _ = write!(self.out, "[^{h}]");
            }
            'v' => {
                let _ = write!(self.out, "[{v}]");
            }
            'V' => {
                let _ = write!(self.out, "[^{v}]");
            }
            'R' => {
                let _ = write!(self.out, r"(?>\x{{0D}}\x{{0A}}|[{v}])");
            }
            'N' => self.out.push_str(r"[^\n]"),
            'p' | 'P' => {
                self.out.push('\\');
                self.out.push(c);
                if self.peek() == Some('{') {
                    let body = self.read_braced("\\p{...}")?;
                    let _ = write!(self.out, "{{{body}}}");
                } else if let Some(n) = self.peek() {
                    self.pos += 1;
                    self.out.push(n);
                }
            }
            'X' | 'C' => return Err(self.unsupported(format!("\\{c}"))),
            '1'..='9' => {
                self.pos -= 1;
                let digits = self.read_while(|c| c.is_ascii_digit(), 10);
                let n: usize = digits.parse().unwrap_or(usize::MAX);
                if n < 10 || n <= self.total_groups {
                    let _ = write!(self.out, r"(?:\{n})");
                } else {
                    // Perl reads \NNN as octal when there are not that many groups.
                    self.pos -= digits.len();
                    let o = self.read_while(|c| ('0'..='7').contains(&c), 3);
                    if o.is_empty() {
                        return Err(
                            self.syntax(format!("reference to nonexistent group \\{digits}"))
                        );
                    }
                    self.code(parse_radix(&o, 8).unwrap_or(0))?;
                }
            }
            'g' => self.g_backref()?,
            'k' => {
                let name = match self.peek() {
                    Some('<') => self.delimited_name('<', '>')?,
                    Some('\'') => self.delimited_name('\'', '\'')?,
                    Some('{') => self.delimited_name('{', '}')?,
                    _ => {
                        return Err(self.syntax("\\k must be followed by <name>, 'name' or {name}"));
                    }
                };
                let _ = write!(self.out, r"\k<{name}>");
            }
            'U' | 'L' | 'u' | 'l' | 'F' if self.interpolating => {
                return Err(self.unsupported(format!("the case escape \\{c} inside a pattern")));
            }
            other => self.literal(other)?,
        }
        Ok(())
    }

    fn delimited_name(&mut self, open: char, close: char) -> Result<String, PerlExprError> {
        debug_assert_eq!(self.peek(), Some(open));
        self.pos += 1;
        let name = self.read_while(|c| c != close, usize::MAX);
        if self.peek() != Some(close) {
            return Err(self.syntax(format!("missing {close:?} after group name")));
        }
        self.pos += 1;
        let name = name.trim().to_string();
        if name.is_empty()
            || !name.chars().all(|c| c.is_alphanumeric() || c == '_')
            || name.starts_with(|c: char| c.is_ascii_digit())
        {
            return Err(self.syntax(format!("invalid group name {name:?}")));
        }
        Ok(name)
    }

    fn g_backref(&mut self) -> Result<(), PerlExprError> {
        let body = if self.peek() == Some('{') {
            self.read_braced("\\g{...}")?
        } else {
            let neg = if self.peek() == Some('-') {
                self.pos += 1;
                "-"
            } else {
                ""
            };
            format!("{neg}{}", self.read_while(|c| c.is_ascii_digit(), 10))
        };
        let body = body.trim();
        if let Ok(n) = body.parse::<i64>() {
            let abs = if n < 0 {
                let back = usize::try_from(-n).unwrap_or(usize::MAX);
                if back > self.opened {
                    return Err(self.syntax(format!(
                        "relative reference \\g{{{body}}} to a group before the start"
                    )));
                }
                self.opened + 1 - back
            } else if n == 0 {
                return Err(self.syntax("\\g0 is not a valid reference"));
            } else {
                usize::try_from(n).unwrap_or(usize::MAX)
            };
            let _ = write!(self.out, r"(?:\{abs})");
        } else if !body.is_empty() && body.chars().all(|c| c.is_alphanumeric() || c == '_') {
            let _ = write!(self.out, r"\k<{body}>");
        } else {
            return Err(self.syntax(format!("invalid \\g reference {body:?}")));
        }
        Ok(())
    }

    fn group_open(&mut self) -> Result<(), PerlExprError> {
        let cur = self.cur();
        match self.peek() {
            Some('?') => {
                self.pos += 1;
                let Some(c) = self.peek() else {
                    return Err(self.syntax("'(?' at the end of the pattern"));
                };
                self.pos += 1;
                match c {
                    '#' => {
                        while let Some(n) = self.peek() {
                            self.pos += 1;
                            if n == ')' {
                                return Ok(());
                            }
                        }
                        Err(self.syntax("unterminated (?#...) comment"))
                    }
                    ':' => self.push_group("(?:", cur),
                    '=' => self.push_group("(?=", cur),
                    '!' => self.push_group("(?!", cur),
                    '>' => self.push_group("(?>", cur),
                    '<' if matches!(self.peek(), Some('=') | Some('!')) => {
                        let n = self.peek().unwrap_or('=');
                        self.pos += 1;
                        self.push_group(if n == '=' { "(?<=" } else { "(?<!" }, cur)
                    }
                    '<' => {
                        self.pos -= 1;
                        let name = self.delimited_name('<', '>')?;
                        self.named_group(name, cur)
                    }
                    '\'' => {
                        self.pos -= 1;
                        let name = self.delimited_name('\'', '\'')?;
                        self.named_group(name, cur)
                    }
                    'P' => match self.peek() {
                        Some('<') => {
                            let name = self.delimited_name('<', '>')?;
                            self.named_group(name, cur)
                        }
                        Some('=') => {
                            self.pos += 1;
                            let name = self.read_while(|c| c != ')', usize::MAX);
                            if self.peek() != Some(')') {
                                return Err(self.syntax("unterminated (?P=name)"));
                            }
                            self.pos += 1;
                            let _ = write!(self.out, r"(?:\k<{}>)", name.trim());
                            Ok(())
                        }
                        _ => Err(self.unsupported("(?P>name) recursion")),
                    },
                    '|' => Err(self.unsupported("branch reset (?|...)")),
                    '{' => Err(PerlExprError::CodeEvaluation {
                        expr: self.expr.to_string(),
                        what: "(?{...})".into(),
                    }),
                    '?' if self.peek() == Some('{') => Err(PerlExprError::CodeEvaluation {
                        expr: self.expr.to_string(),
                        what: "(??{...})".into(),
                    }),
                    '(' => self.conditional(cur),
                    'R' | '&' | '+' | '0'..='9' => {
                        Err(self.unsupported("regex recursion (?R), (?N), (?&name)"))
                    }
                    '-' if self.peek().is_some_and(|d| d.is_ascii_digit()) => {
                        Err(self.unsupported("regex recursion (?-N)"))
                    }
                    _ => {
                        self.pos -= 1;
                        self.inline_flags(cur)
                    }
                }
            }
            Some('*') => {
                self.pos += 1;
                let verb = self.read_while(|c| c != ')', 64);
                if self.peek() != Some(')') {
                    return Err(self.syntax("unterminated (*VERB)"));
                }
                self.pos += 1;
                match verb.as_str() {
                    "FAIL" | "F" => {
                        self.out.push_str("(*FAIL)");
                        Ok(())
                    }
                    other => Err(self.unsupported(format!("backtracking control verb (*{other})"))),
                }
            }
            _ => {
                if cur.no_capture {
                    self.push_group("(?:", cur)
                } else {
                    self.opened += 1;
                    self.push_group("(", cur)
                }
            }
        }
    }

    fn push_group(&mut self, open: &str, flags: RegexFlags) -> Result<(), PerlExprError> {
        self.out.push_str(open);
        self.flags.push(flags);
        Ok(())
    }

    fn named_group(&mut self, name: String, cur: RegexFlags) -> Result<(), PerlExprError> {
        self.opened += 1;
        let _ = write!(self.out, "(?<{name}>");
        self.names.push((name, self.opened));
        self.flags.push(cur);
        Ok(())
    }

    fn conditional(&mut self, cur: RegexFlags) -> Result<(), PerlExprError> {
        let cond = self.read_while(|c| c != ')', 256);
        if self.peek() != Some(')') {
            return Err(self.syntax("unterminated conditional (?(...)"));
        }
        self.pos += 1;
        let cond = cond.trim();
        let translated = if !cond.is_empty() && cond.chars().all(|c| c.is_ascii_digit()) {
            cond.to_string()
        } else if let Some(n) = cond.strip_prefix('<').and_then(|c| c.strip_suffix('>')) {
            format!("<{n}>")
        } else if let Some(n) = cond.strip_prefix('\'').and_then(|c| c.strip_suffix('\'')) {
            format!("<{n}>")
        } else {
            return Err(self.unsupported(format!("the conditional (?({cond})...)")));
        };
        let _ = write!(self.out, "(?({translated})");
        self.flags.push(cur);
        Ok(())
    }

    fn inline_flags(&mut self, cur: RegexFlags) -> Result<(), PerlExprError> {
        let mut new = cur;
        if self.peek() == Some('^') {
            self.pos += 1;
            new = RegexFlags::default();
        }
        let mut on = true;
        let mut xs = 0;
        loop {
            let Some(c) = self.peek() else {
                return Err(self.syntax("unterminated inline flags (?...)"));
            };
            self.pos += 1;
            match c {
                ')' | ':' => {
                    if xs > 0 {
                        new.extended = on;
                        new.extended_classes = on && xs >= 2;
                    }
                    let i_change = new.case_insensitive != cur.case_insensitive;
                    let i_flag = if new.case_insensitive { "(?i" } else { "(?-i" };
                    if c == ')' {
                        if i_change {
                            let _ = write!(self.out, "{i_flag})");
                        }
                        if let Some(top) = self.flags.last_mut() {
                            *top = new;
                        }
                    } else {
                        if i_change {
                            let _ = write!(self.out, "{i_flag}:");
                        } else {
                            self.out.push_str("(?:");
                        }
                        self.flags.push(new);
                    }
                    return Ok(());
                }
                '-' if on => on = false,
                'i' => new.case_insensitive = on,
                'm' => new.multi_line = on,
                's' => new.dot_all = on,
                'n' => new.no_capture = on,
                'x' => xs += 1,
                'a' | 'd' | 'l' | 'u' | 'p' | 'o' if on => {}
                other => {
                    return Err(self.syntax(format!("unknown inline flag {other:?} in (?...)")));
                }
            }
        }
    }

    fn class(&mut self) -> Result<(), PerlExprError> {
        let mut items = String::from("[");
        if self.peek() == Some('^') {
            self.pos += 1;
            items.push('^');
        }
        let mut first = true;
        let xx = self.cur().extended_classes;
        loop {
            let Some(c) = self.peek() else {
                return Err(self.syntax("unmatched '[' in the pattern"));
            };
            self.pos += 1;
            if c == ']' && !first {
                items.push(']');
                self.out.push_str(&items);
                return Ok(());
            }
            first = false;
            if xx && (c == ' ' || c == '\t') {
                continue;
            }
            let item = self.class_item(c)?;
            match item {
                ClassItem::Raw(s) => items.push_str(&s),
                ClassItem::Char(lo, lo_literal) => {
                    // a range?
                    if self.peek() == Some('-') && self.peek_at(1).is_some_and(|n| n != ']') {
                        let save = self.pos;
                        self.pos += 1;
                        let Some(n) = self.peek() else {
                            return Err(self.syntax("unmatched '[' in the pattern"));
                        };
                        self.pos += 1;
                        match self.class_item(n)? {
                            ClassItem::Char(hi, hi_literal) => {
                                if hi < lo {
                                    return Err(self.syntax(format!(
                                        "invalid range {:?}-{:?} in a character class",
                                        char::from_u32(lo).unwrap_or('?'),
                                        char::from_u32(hi).unwrap_or('?')
                                    )));
                                }
                                if self.mode == Mode::Bytes
                                    && ((lo_literal && lo > 0x7F) || (hi_literal && hi > 0x7F))
                                {
                                    return Err(self.unsupported(
                                        "a range with non-ASCII characters in a class applied to bytes",
                                    ));
                                }
                                items.push_str(&self.class_char(lo, lo_literal)?);
                                items.push('-');
                                items.push_str(&self.class_char(hi, hi_literal)?);
                            }
                            ClassItem::Raw(s) => {
                                // `[a-\d]`: Perl takes the '-' literally.
                                let _ = save;
                                items.push_str(&self.class_char(lo, lo_literal)?);
                                items.push_str(r"\x{2D}");
                                items.push_str(&s);
                            }
                        }
                    } else {
                        items.push_str(&self.class_char(lo, lo_literal)?);
                    }
                }
            }
        }
    }

    fn class_char(&self, code: u32, literal: bool) -> Result<String, PerlExprError> {
        let Some(ch) = char::from_u32(code) else {
            return Err(self.unsupported(format!("code point {code:#x}")));
        };
        if literal && !ch.is_ascii() {
            let mut s = String::new();
            push_literal(&mut s, ch, self.mode);
            return Ok(s);
        }
        if ch.is_ascii_alphanumeric() || ch == '_' {
            return Ok(ch.to_string());
        }
        self.code_text(code)
    }

    fn class_item(&mut self, c: char) -> Result<ClassItem, PerlExprError> {
        match c {
            '[' if matches!(self.peek(), Some(':') | Some('=') | Some('.')) => {
                let kind = self.peek().unwrap_or(':');
                // look for the matching `kind]`
                let mut j = self.pos + 1;
                let mut name = String::new();
                while let Some(&n) = self.src.get(j) {
                    if n == kind && self.src.get(j + 1) == Some(&']') {
                        break;
                    }
                    if n == ']' {
                        name.clear();
                        j = usize::MAX - 1;
                        break;
                    }
                    name.push(n);
                    j += 1;
                }
                if j >= self.src.len() {
                    return Ok(ClassItem::Char(u32::from('['), false));
                }
                if kind != ':' {
                    return Err(self.unsupported(format!("POSIX [{kind}...{kind}] classes")));
                }
                let bare = name.strip_prefix('^').unwrap_or(&name);
                if !POSIX_CLASSES.contains(&bare) {
                    return Err(self.syntax(format!("unknown POSIX class [:{name}:]")));
                }
                self.pos = j + 2;
                Ok(ClassItem::Raw(format!("[:{name}:]")))
            }
            '\\' => {
                let Some(e) = self.peek() else {
                    return Err(self.syntax("trailing backslash in the pattern"));
                };
                self.pos += 1;
                if e == 'b' {
                    return Ok(ClassItem::Char(0x08, false));
                }
                if let Some(code) = self.numeric_escape(e)? {
                    return Ok(ClassItem::Char(code, false));
                }
                let h = if self.mode == Mode::Unicode {
                    H_UNICODE
                } else {
                    H_BYTES
                };
                let v = if self.mode == Mode::Unicode {
                    V_UNICODE
                } else {
                    V_BYTES
                };
                Ok(match e {
                    'd' | 'D' | 'w' | 'W' | 's' | 'S' => ClassItem::Raw(format!("\\{e}")),
                    'h' => ClassItem::Raw(h.to_string()),
                    'H' => ClassItem::Raw(format!("[^{h}]")),
                    'v' => ClassItem::Raw(v.to_string()),
                    'V' => ClassItem::Raw(format!("[^{v}]")),
                    'p' | 'P' => {
                        if self.peek() == Some('{') {
                            let body = self.read_braced("\\p{...}")?;
                            ClassItem::Raw(format!("\\{e}{{{body}}}"))
                        } else if let Some(n) = self.peek() {
                            self.pos += 1;
                            ClassItem::Raw(format!("\\{e}{n}"))
                        } else {
                            return Err(self.syntax("\\p at the end of the pattern"));
                        }
                    }
                    '1'..='7' => {
                        self.pos -= 1;
                        let o = self.read_while(|c| ('0'..='7').contains(&c), 3);
                        ClassItem::Char(parse_radix(&o, 8).unwrap_or(0), false)
                    }
                    'N' => return Err(self.unsupported("\\N inside a character class")),
                    other => ClassItem::Char(u32::from(other), true),
                })
            }
            '$' => {
                self.check_dollar_in_class()?;
                Ok(ClassItem::Char(u32::from('$'), true))
            }
            '@' => {
                self.check_at()?;
                Ok(ClassItem::Char(u32::from('@'), true))
            }
            other => Ok(ClassItem::Char(u32::from(other), true)),
        }
    }

    fn check_dollar_in_class(&self) -> Result<(), PerlExprError> {
        if !self.interpolating {
            return Ok(());
        }
        match self.peek() {
            Some(c) if c.is_whitespace() || c == ')' || c == '|' => Ok(()),
            None => Ok(()),
            Some(_) => Err(PerlExprError::ProgramVariable {
                expr: self.expr.to_string(),
                name: self.variable_name('$'),
            }),
        }
    }
}

/// Perl applies `\Q...\E` while interpolating the pattern string, before the regex engine
/// sees it: quote every ASCII non-word character in the span; a stray `\E` disappears.
/// Numeric escapes are kept (the regex engine reads them the same way) and `$name`/`@name`
/// are left bare so that the translator reports them.
fn expand_quotemeta(src: &str) -> String {
    let chars: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(src.len());
    let mut quoting = 0usize;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' {
            match chars.get(i + 1) {
                Some('Q') => quoting += 1,
                Some('E') => quoting = quoting.saturating_sub(1),
                Some(&n) => {
                    let numeric =
                        matches!(n, 'n' | 't' | 'r' | 'f' | 'e' | 'a' | 'x' | 'o' | 'c' | 'N')
                            || n.is_ascii_digit();
                    if quoting == 0
                        || numeric
                        || !n.is_ascii()
                        || n.is_ascii_alphanumeric()
                        || n == '_'
                    {
                        if quoting > 0 && !numeric {
                            out.push(n);
                        } else {
                            out.push('\\');
                            out.push(n);
                        }
                    } else {
                        out.push('\\');
                        out.push(n);
                    }
                }
                None => out.push('\\'),
            }
            i += 2;
            continue;
        }
        if quoting > 0 && c.is_ascii() && !(c.is_ascii_alphanumeric() || c == '_') {
            let variable = (c == '$' || c == '@')
                && chars
                    .get(i + 1)
                    .is_some_and(|n| n.is_alphanumeric() || matches!(n, '_' | '{' | ':'));
            if !variable {
                out.push('\\');
            }
        }
        out.push(c);
        i += 1;
    }
    out
}

enum ClassItem {
    /// A character (code point or byte) and whether it was written literally (as opposed to an
    /// escape such as `\xE9`).
    Char(u32, bool),
    /// Already translated class syntax (`\d`, `[:alpha:]`, a nested negated class...).
    Raw(String),
}

fn push_literal(out: &mut String, c: char, mode: Mode) {
    if c.is_ascii_alphanumeric() || c == '_' || c == ' ' {
        out.push(c);
    } else if c.is_ascii() {
        let _ = write!(out, r"\x{{{:X}}}", u32::from(c));
    } else {
        match mode {
            Mode::Unicode => out.push(c),
            Mode::Bytes => {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    let _ = write!(out, r"\x{{{b:X}}}");
                }
            }
        }
    }
}

pub(super) fn parse_radix(s: &str, radix: u32) -> Option<u32> {
    let s: String = s.chars().filter(|c| *c != '_').collect();
    if s.is_empty() {
        return Some(0);
    }
    u32::from_str_radix(&s, radix).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::perlre::tests::apply;

    #[test]
    fn empty_pattern_matches_empty_string() {
        // Perl would reuse the last successful pattern; imapsync's FAQ relies on the empty
        // pattern meaning "at the start" (`--regexflag 's,,\\Seen ,'`).
        assert_eq!(
            apply(r"s,,\\Seen ,", r"\Answered").as_deref(),
            Ok(r"\Seen \Answered")
        );
        assert_eq!(apply("s//-/g", "ab").as_deref(), Ok("-a-b-"));
    }

    #[test]
    fn plain_patterns_for_include_exclude() {
        let re = perl_regex("^Calendar$").expect("re");
        assert_eq!(re.is_match("Calendar").ok(), Some(true));
        assert_eq!(re.is_match("Calendar\n").ok(), Some(true));
        assert_eq!(re.is_match("Calendars").ok(), Some(false));
        let re = perl_regex("(?i)spam").expect("re");
        assert_eq!(re.is_match("INBOX.SPAM").ok(), Some(true));
        let re = perl_regex(r"\[Gmail\]$").expect("re");
        assert_eq!(re.is_match("[Gmail]").ok(), Some(true));
        assert_eq!(re.is_match("[Gmail]/Sent").ok(), Some(false));
        let re = perl_regex("fold1|fold2|f3").expect("re");
        assert_eq!(re.is_match("f3").ok(), Some(true));
        // no interpolation: `$` is an anchor and `@` a literal; \Q is an unknown escape (Q)
        let re = perl_regex("a$b").expect("re");
        assert_eq!(re.is_match("a$b").ok(), Some(false));
        assert_eq!(
            perl_regex("user@host")
                .expect("re")
                .is_match("user@host")
                .ok(),
            Some(true)
        );
        assert_eq!(
            perl_regex(r"\Qa.b").expect("re").is_match("Qaxb").ok(),
            Some(true)
        );
        assert_eq!(
            perl_regex("^INBOX/Trash")
                .expect("re")
                .is_match("INBOX/Trash/x")
                .ok(),
            Some(true)
        );
        assert!(perl_regex("(unclosed").is_err());
        // --skipheader is /xi
        let re = perl_regex_with_flags("x - spam", RegexFlags::SKIPHEADER).expect("re");
        assert_eq!(re.is_match("X-SPAM-Level").ok(), Some(true));
        let re = perl_regex_bytes("caf.", RegexFlags::default()).expect("re");
        assert_eq!(re.is_match(&b"caf\xc3"[..]).ok(), Some(true));
        assert_eq!(
            translate_perl_pattern("^a$", RegexFlags::default()).as_deref(),
            Ok(r"\Aa(?=\n?\z)")
        );
    }

    #[test]
    fn translations() {
        let t = |p: &str| translate_perl_pattern(p, RegexFlags::default());
        assert_eq!(t(r"a{,3}").as_deref(), Ok("a{0,3}"));
        assert_eq!(t(r"[a[]").as_deref(), Ok(r"[a\x{5B}]"));
        assert_eq!(t(r"\h").as_deref(), Ok(format!("[{H_UNICODE}]").as_str()));
        assert_eq!(t(r"(a)\g{-1}").as_deref(), Ok(r"(a)(?:\1)"));
        assert_eq!(t(r"(?'n'a)\k{n}").as_deref(), Ok(r"(?<n>a)\k<n>"));
        assert_eq!(t(r"(?^i:a)").as_deref(), Ok(r"(?i:a)"));
        let ti = translate_perl_pattern(
            "(?^:a)",
            RegexFlags {
                case_insensitive: true,
                ..RegexFlags::default()
            },
        );
        assert_eq!(ti.as_deref(), Ok(r"(?i)(?-i:a)"));
    }

    #[test]
    fn unicode_text_mode() {
        assert_eq!(
            apply("s/(.)/[$1]/g", "\u{e9}t\u{e9}").as_deref(),
            Ok("[\u{e9}][t][\u{e9}]")
        );
        assert_eq!(
            apply(r"s/(.*)/\U$1/", "\u{e9}t\u{e9}").as_deref(),
            Ok("\u{c9}T\u{c9}")
        );
        assert_eq!(apply("tr/\u{e9}/e/", "\u{e9}t\u{e9}").as_deref(), Ok("ete"));
        assert_eq!(apply("s/\u{c9}/E/i", "caf\u{e9}").as_deref(), Ok("cafE"));
        assert_eq!(apply(r"s/\x{263a}/:)/", "a\u{263a}").as_deref(), Ok("a:)"));
        assert_eq!(apply(r"s/a/\x{263a}/", "a").as_deref(), Ok("\u{263a}"));
        assert_eq!(
            apply("s/&ANY-/&ANY-x/", "a/&ANY-").as_deref(),
            Ok("a/&ANY-x")
        );
    }
}
