//! The replacement of `s///`: a double-quoted string with capture references and
//! case modifiers (`\U \L \u \l \Q \F ... \E`), stacked as Perl's lexer does.

use super::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CaseOp {
    Upper,
    Lower,
    Fold,
    Quote,
    UpperFirst,
    LowerFirst,
}

impl CaseOp {
    fn is_whole(self) -> bool {
        matches!(self, CaseOp::Upper | CaseOp::Lower | CaseOp::Fold)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Lit {
    /// Written as a character in the expression (UTF-8 in byte mode).
    Char(char),
    /// Written as a numeric escape (a byte in byte mode when <= 0xFF).
    Code(u32),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum RNode {
    Lit(Lit),
    Group(usize),
    Named(String),
    Whole,
    Pre,
    Post,
    LastParen,
    Case(CaseOp, Vec<RNode>),
}

enum RTok {
    Node(RNode),
    Case(CaseOp),
    End,
}

pub(super) fn parse_single_quoted_replacement(src: &str) -> Vec<RNode> {
    let mut out = Vec::new();
    let mut chars = src.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' && chars.peek() == Some(&'\\') {
            chars.next();
        }
        out.push(RNode::Lit(Lit::Char(c)));
    }
    out
}

pub(super) fn parse_replacement(expr: &str, src: &str) -> Result<Vec<RNode>, PerlExprError> {
    let chars: Vec<char> = src.chars().collect();
    let mut toks: Vec<RTok> = Vec::new();
    let mut i = 0;
    let var_err = |name: String| PerlExprError::ProgramVariable {
        expr: expr.to_string(),
        name,
    };
    let syntax = |message: String| PerlExprError::Syntax {
        expr: expr.to_string(),
        message,
    };
    let ident_at = |j: usize| -> String {
        let mut s = String::new();
        let mut k = j;
        while let Some(&c) = chars.get(k) {
            if c.is_alphanumeric() || c == '_' || c == ':' {
                s.push(c);
                k += 1;
            } else {
                break;
            }
        }
        s
    };
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match c {
            '\\' => {
                let Some(&e) = chars.get(i) else {
                    toks.push(RTok::Node(RNode::Lit(Lit::Char('\\'))));
                    break;
                };
                i += 1;
                match e {
                    'U' => toks.push(RTok::Case(CaseOp::Upper)),
                    'L' => toks.push(RTok::Case(CaseOp::Lower)),
                    'F' => toks.push(RTok::Case(CaseOp::Fold)),
                    'Q' => toks.push(RTok::Case(CaseOp::Quote)),
                    'u' => toks.push(RTok::Case(CaseOp::UpperFirst)),
                    'l' => toks.push(RTok::Case(CaseOp::LowerFirst)),
                    'E' => toks.push(RTok::End),
                    '1'..='9' if !chars.get(i).is_some_and(|d| d.is_ascii_digit()) => {
                        toks.push(RTok::Node(RNode::Group(e as usize - '0' as usize)));
                    }
                    _ => {
                        let (code, used) = string_escape(&chars, i, e).map_err(syntax)?;
                        i += used;
                        toks.push(RTok::Node(RNode::Lit(code)));
                    }
                }
            }
            '$' => {
                let Some(&n) = chars.get(i) else {
                    return Err(syntax("final $ should be written \\$ (or $name)".into()));
                };
                match n {
                    '0'..='9' => {
                        let d: String = chars[i..]
                            .iter()
                            .take_while(|c| c.is_ascii_digit())
                            .collect();
                        i += d.len();
                        if d == "0" {
                            return Err(var_err("$0".into()));
                        }
                        toks.push(RTok::Node(RNode::Group(d.parse().unwrap_or(usize::MAX))));
                    }
                    '{' => {
                        let body: String =
                            chars[i + 1..].iter().take_while(|c| **c != '}').collect();
                        if chars.get(i + 1 + body.chars().count()) != Some(&'}') {
                            return Err(syntax("missing '}' after ${".into()));
                        }
                        i += body.chars().count() + 2;
                        let t = body.trim();
                        if !t.is_empty() && t.chars().all(|c| c.is_ascii_digit()) && t != "0" {
                            toks.push(RTok::Node(RNode::Group(t.parse().unwrap_or(usize::MAX))));
                        } else {
                            return Err(var_err(format!("${{{body}}}")));
                        }
                    }
                    '&' => {
                        i += 1;
                        toks.push(RTok::Node(RNode::Whole));
                    }
                    '`' => {
                        i += 1;
                        toks.push(RTok::Node(RNode::Pre));
                    }
                    '\'' => {
                        i += 1;
                        toks.push(RTok::Node(RNode::Post));
                    }
                    '+' => {
                        i += 1;
                        if chars.get(i) == Some(&'{') {
                            let body: String =
                                chars[i + 1..].iter().take_while(|c| **c != '}').collect();
                            if chars.get(i + 1 + body.chars().count()) != Some(&'}') {
                                return Err(syntax("missing '}' after $+{".into()));
                            }
                            i += body.chars().count() + 2;
                            toks.push(RTok::Node(RNode::Named(body.trim().to_string())));
                        } else {
                            toks.push(RTok::Node(RNode::LastParen));
                        }
                    }
                    c if c.is_alphabetic() || c == '_' || c == ':' => {
                        let mut name = format!("${}", ident_at(i));
                        let after = i + name.chars().count() - 1;
                        if chars.get(after) == Some(&'-') && chars.get(after + 1) == Some(&'>') {
                            name.push_str("->");
                        }
                        return Err(var_err(name));
                    }
                    other => return Err(var_err(format!("${other}"))),
                }
            }
            '@' => match chars.get(i) {
                Some(&n) if n.is_alphanumeric() || matches!(n, '_' | '{' | '$' | ':') => {
                    let name = if n == '{' || n == '$' {
                        format!("@{n}")
                    } else {
                        format!("@{}", ident_at(i))
                    };
                    return Err(var_err(name));
                }
                _ => toks.push(RTok::Node(RNode::Lit(Lit::Char('@')))),
            },
            other => toks.push(RTok::Node(RNode::Lit(Lit::Char(other)))),
        }
    }
    // Perl's lexer swaps "\L\u" into "\u\L" and "\U\l" into "\l\U".
    for k in 1..toks.len() {
        let swap = matches!(
            (&toks[k - 1], &toks[k]),
            (RTok::Case(CaseOp::Lower), RTok::Case(CaseOp::UpperFirst))
                | (RTok::Case(CaseOp::Upper), RTok::Case(CaseOp::LowerFirst))
        );
        if swap {
            toks.swap(k - 1, k);
        }
    }
    Ok(build_case_tree(toks))
}

/// Perl's case-modifier stack: a new `\L`, `\U` or `\F` first closes every open frame up to and
/// including the last `\L`/`\U`/`\F`; `\E` closes pending `\u`/`\l` frames and then one more.
fn build_case_tree(toks: Vec<RTok>) -> Vec<RNode> {
    struct Frame {
        op: Option<CaseOp>,
        nodes: Vec<RNode>,
    }
    fn close(stack: &mut Vec<Frame>) {
        if stack.len() <= 1 {
            return;
        }
        if let Some(f) = stack.pop()
            && let (Some(op), Some(top)) = (f.op, stack.last_mut())
        {
            top.nodes.push(RNode::Case(op, f.nodes));
        }
    }
    let mut stack = vec![Frame {
        op: None,
        nodes: Vec::new(),
    }];
    for t in toks {
        match t {
            RTok::Node(n) => {
                if let Some(top) = stack.last_mut() {
                    top.nodes.push(n);
                }
            }
            RTok::Case(op) => {
                if op.is_whole() {
                    while stack.iter().any(|f| f.op.is_some_and(CaseOp::is_whole)) {
                        close(&mut stack);
                    }
                }
                stack.push(Frame {
                    op: Some(op),
                    nodes: Vec::new(),
                });
            }
            RTok::End => {
                while stack.len() > 1 {
                    let op = stack.last().and_then(|f| f.op);
                    close(&mut stack);
                    if !matches!(op, Some(CaseOp::UpperFirst) | Some(CaseOp::LowerFirst)) {
                        break;
                    }
                }
            }
        }
    }
    while stack.len() > 1 {
        close(&mut stack);
    }
    stack.pop().map(|f| f.nodes).unwrap_or_default()
}

/// Escapes of a double-quoted string (replacement and tr lists): `e` is the char after the
/// backslash, `i` the index after it. Returns the literal and how many more chars were used.
pub(super) fn string_escape(chars: &[char], i: usize, e: char) -> Result<(Lit, usize), String> {
    let hex_run = |from: usize, max: usize| -> String {
        chars[from.min(chars.len())..]
            .iter()
            .take(max)
            .take_while(|c| c.is_ascii_hexdigit())
            .collect()
    };
    let oct_run = |from: usize, max: usize| -> String {
        chars[from.min(chars.len())..]
            .iter()
            .take(max)
            .take_while(|c| ('0'..='7').contains(c))
            .collect()
    };
    let braced = |from: usize| -> Option<String> {
        if chars.get(from) != Some(&'{') {
            return None;
        }
        let body: String = chars[from + 1..]
            .iter()
            .take_while(|c| **c != '}')
            .collect();
        if chars.get(from + 1 + body.chars().count()) == Some(&'}') {
            Some(body)
        } else {
            None
        }
    };
    Ok(match e {
        'n' => (Lit::Code(0x0A), 0),
        't' => (Lit::Code(0x09), 0),
        'r' => (Lit::Code(0x0D), 0),
        'f' => (Lit::Code(0x0C), 0),
        'e' => (Lit::Code(0x1B), 0),
        'a' => (Lit::Code(0x07), 0),
        'b' => (Lit::Code(0x08), 0),
        'x' => {
            if let Some(body) = braced(i) {
                let v = parse_radix(body.trim(), 16).ok_or(format!("invalid \\x{{{body}}}"))?;
                (Lit::Code(v), body.chars().count() + 2)
            } else {
                let h = hex_run(i, 2);
                (Lit::Code(parse_radix(&h, 16).unwrap_or(0)), h.len())
            }
        }
        'o' if chars.get(i) == Some(&'{') => {
            let body = braced(i).ok_or("missing '}' in \\o{...}")?;
            let v = parse_radix(body.trim(), 8).ok_or(format!("invalid \\o{{{body}}}"))?;
            (Lit::Code(v), body.chars().count() + 2)
        }
        '0'..='7' => {
            let o = oct_run(i, 2);
            let s = format!("{e}{o}");
            (Lit::Code(parse_radix(&s, 8).unwrap_or(0)), o.len())
        }
        'c' => {
            let x = chars.get(i).ok_or("\\c at the end")?;
            (Lit::Code(u32::from(x.to_ascii_uppercase()) ^ 64), 1)
        }
        'N' => {
            let body = braced(i).ok_or("\\N must be followed by {U+...}")?;
            let hex = body
                .strip_prefix("U+")
                .ok_or(format!("named character \\N{{{body}}} is not supported"))?;
            let v = parse_radix(hex, 16).ok_or(format!("invalid \\N{{{body}}}"))?;
            (Lit::Code(v), body.chars().count() + 2)
        }
        other => (Lit::Char(other), 0),
    })
}

pub(super) struct MatchCtx<'a> {
    pub(super) hay: &'a [u8],
    pub(super) spans: &'a [Option<(usize, usize)>],
    pub(super) names: &'a [(String, usize)],
    pub(super) mode: Mode,
}

impl MatchCtx<'_> {
    fn group(&self, n: usize) -> &[u8] {
        match self.spans.get(n) {
            Some(Some((s, e))) => self.hay.get(*s..*e).unwrap_or_default(),
            _ => &[],
        }
    }
}

pub(super) fn eval_nodes(nodes: &[RNode], ctx: &MatchCtx<'_>, out: &mut Vec<u8>) {
    for n in nodes {
        match n {
            RNode::Lit(Lit::Char(c)) => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
            RNode::Lit(Lit::Code(v)) => match ctx.mode {
                Mode::Bytes if *v <= 0xFF => out.push(*v as u8),
                _ => {
                    let c = char::from_u32(*v).unwrap_or('\u{FFFD}');
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
            },
            RNode::Group(g) => out.extend_from_slice(ctx.group(*g)),
            RNode::Named(name) => {
                // With duplicate names Perl uses the leftmost group that matched.
                let hit = ctx
                    .names
                    .iter()
                    .filter(|(n, _)| n == name)
                    .find(|(_, idx)| matches!(ctx.spans.get(*idx), Some(Some(_))));
                if let Some((_, idx)) = hit {
                    out.extend_from_slice(ctx.group(*idx));
                }
            }
            RNode::Whole => out.extend_from_slice(ctx.group(0)),
            RNode::Pre => {
                if let Some(Some((s, _))) = ctx.spans.first() {
                    out.extend_from_slice(ctx.hay.get(..*s).unwrap_or_default());
                }
            }
            RNode::Post => {
                if let Some(Some((_, e))) = ctx.spans.first() {
                    out.extend_from_slice(ctx.hay.get(*e..).unwrap_or_default());
                }
            }
            RNode::LastParen => {
                let last = (1..ctx.spans.len())
                    .rev()
                    .find(|i| matches!(ctx.spans.get(*i), Some(Some(_))));
                if let Some(i) = last {
                    out.extend_from_slice(ctx.group(i));
                }
            }
            RNode::Case(op, children) => {
                let mut buf = Vec::new();
                eval_nodes(children, ctx, &mut buf);
                out.extend_from_slice(&case_map(*op, &buf, ctx.mode));
            }
        }
    }
}

fn case_map(op: CaseOp, s: &[u8], mode: Mode) -> Vec<u8> {
    match mode {
        Mode::Bytes => {
            let mut v = s.to_vec();
            match op {
                CaseOp::Upper => v.make_ascii_uppercase(),
                CaseOp::Lower | CaseOp::Fold => v.make_ascii_lowercase(),
                CaseOp::UpperFirst => {
                    if let Some(b) = v.first_mut() {
                        b.make_ascii_uppercase();
                    }
                }
                CaseOp::LowerFirst => {
                    if let Some(b) = v.first_mut() {
                        b.make_ascii_lowercase();
                    }
                }
                CaseOp::Quote => {
                    let mut q = Vec::with_capacity(v.len() * 2);
                    for b in v {
                        if !(b.is_ascii_alphanumeric() || b == b'_') {
                            q.push(b'\\');
                        }
                        q.push(b);
                    }
                    return q;
                }
            }
            v
        }
        Mode::Unicode => {
            let text = String::from_utf8_lossy(s);
            let mapped = match op {
                CaseOp::Upper => text.to_uppercase(),
                CaseOp::Lower | CaseOp::Fold => text.to_lowercase(),
                CaseOp::UpperFirst | CaseOp::LowerFirst => {
                    let mut it = text.chars();
                    match it.next() {
                        Some(f) => {
                            let mut r: String = if op == CaseOp::UpperFirst {
                                f.to_uppercase().collect()
                            } else {
                                f.to_lowercase().collect()
                            };
                            r.push_str(it.as_str());
                            r
                        }
                        None => String::new(),
                    }
                }
                CaseOp::Quote => {
                    let mut q = String::with_capacity(text.len() * 2);
                    for c in text.chars() {
                        if c.is_ascii() && !(c.is_ascii_alphanumeric() || c == '_') {
                            q.push('\\');
                        }
                        q.push(c);
                    }
                    q
                }
            };
            mapped.into_bytes()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::perlre::tests::apply;

    #[test]
    fn substitution_from_parts() {
        let e = PerlExpr::substitution(
            "subfolder2 (a)",
            "^INBOX.(.*)",
            RegexFlags::default(),
            false,
            &[
                ReplacementPart::Text("$x\\U".into()),
                ReplacementPart::Group(1),
            ],
        )
        .expect("build");
        assert_eq!(e.source(), "subfolder2 (a)");
        assert_eq!(e.apply("INBOXxFoo").as_deref(), Ok("$x\\UFoo"));
        assert_eq!(e.apply("Other").as_deref(), Ok("Other"));
        assert!(PerlExpr::substitution("bad", "^[", RegexFlags::default(), false, &[]).is_err());
    }

    #[test]
    fn rejects_program_variables() {
        let cases = [
            ("s/x/$sync->{user1}/", "$sync->"),
            ("s/$h1_prefix//", "$h1_prefix"),
            ("s/x/$h2_fold/", "$h2_fold"),
            ("s/x/${name}/", "${name}"),
            ("s/user@b/X/", "@b"),
            ("s,a,@b,", "@b"),
            ("s/[a$]/X/", "$]"),
            ("s/b/x$)/", "$)"),
            ("s/a$.b/X/", "$."),
            ("s/x/$0/", "$0"),
            ("m/$mysync->{h2_prefix}/", "$mysync"),
        ];
        for (e, name) in cases {
            match PerlExpr::parse(e) {
                Err(PerlExprError::ProgramVariable { name: n, .. }) => {
                    assert!(n.starts_with(name), "{e}: {n}");
                }
                other => panic!("{e}: {other:?}"),
            }
        }
        let msg = PerlExpr::parse("s/x/$sync->{a}/")
            .expect_err("var")
            .to_string();
        assert!(
            msg.contains("$sync") && msg.contains("Perl variable"),
            "{msg}"
        );
        // escaped sigils are fine
        assert_eq!(apply(r"s/\$x/\@y/", "a$xb").as_deref(), Ok("a@yb"));
        // single quotes do not interpolate
        assert_eq!(apply("s'x'$1'", "axb").as_deref(), Ok("a$1b"));
    }
}
