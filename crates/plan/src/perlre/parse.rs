//! Operator parsing: `s///`, `tr///` / `y///`, `m//` with any delimiters and their flags.

use super::*;

pub(super) fn parse_expr(source: &str, limit: usize) -> Result<PerlExpr, PerlExprError> {
    let expr = source.to_string();
    let chars: Vec<char> = source.chars().collect();
    let mut i = 0;
    skip_blanks(&chars, &mut i);
    if i >= chars.len() {
        return Err(PerlExprError::Empty);
    }
    let unknown = || PerlExprError::UnknownOperator { expr: expr.clone() };
    let word_end = {
        let mut j = i;
        while j < chars.len() && (chars[j].is_ascii_alphanumeric() || chars[j] == '_') {
            j += 1;
        }
        j
    };
    let word: String = chars[i..word_end].iter().collect();
    let op = match word.as_str() {
        "" if chars[i] == '/' => "m",
        "s" => {
            i = word_end;
            "s"
        }
        "tr" | "y" => {
            i = word_end;
            "tr"
        }
        "m" | "qr" => {
            i = word_end;
            "m"
        }
        _ => return Err(unknown()),
    };
    let blanks_before = i;
    skip_blanks(&chars, &mut i);
    let had_blank = i > blanks_before;
    let Some(&open) = chars.get(i) else {
        return Err(unknown());
    };
    if open == '=' && had_blank {
        // `s = ...` is an assignment-looking thing, not an operator.
        return Err(unknown());
    }
    if open == '#' && had_blank {
        return Err(PerlExprError::Syntax {
            expr,
            message: "a '#' after blanks starts a Perl comment, it cannot be the delimiter".into(),
        });
    }
    if (open.is_alphanumeric() || open == '_') && !had_blank {
        return Err(unknown());
    }
    i += 1;
    let (part1_name, part2_name) = match op {
        "s" => ("pattern", "replacement"),
        "tr" => ("search list", "replacement list"),
        _ => ("pattern", ""),
    };
    let first = take_delimited(&expr, &chars, &mut i, open, part1_name)?;
    let mut second = None;
    let mut second_delim = open;
    if op != "m" {
        if closing_of(open).is_some() {
            skip_blanks(&chars, &mut i);
            let Some(&d2) = chars.get(i) else {
                return Err(PerlExprError::Unterminated {
                    expr,
                    delimiter: open,
                    part: part2_name,
                });
            };
            second_delim = d2;
            i += 1;
            second = Some(take_delimited(&expr, &chars, &mut i, d2, part2_name)?);
        } else {
            second = Some(take_delimited(&expr, &chars, &mut i, open, part2_name)?);
        }
    }
    let flag_start = i;
    while i < chars.len() && chars[i].is_ascii_alphabetic() {
        i += 1;
    }
    let flags: String = chars[flag_start..i].iter().collect();
    skip_blanks(&chars, &mut i);
    if chars.get(i) == Some(&';') {
        i += 1;
        skip_blanks(&chars, &mut i);
    }
    if i < chars.len() {
        return Err(PerlExprError::TrailingText {
            expr,
            rest: chars[i..].iter().collect(),
        });
    }
    let body = match op {
        "s" => {
            let (rflags, global, copy) = parse_regex_flags(&expr, &flags, "s///")?;
            let interpolating = open != '\'';
            let pattern = Pattern::new(&expr, &first, rflags, interpolating, limit)?;
            let repl_src = second.unwrap_or_default();
            let replacement = if second_delim == '\'' {
                parse_single_quoted_replacement(&repl_src)
            } else {
                parse_replacement(&expr, &repl_src)?
            };
            Body::Subst(Box::new(Subst {
                pattern,
                replacement,
                global,
                copy,
            }))
        }
        "tr" => {
            let mut complement = false;
            let mut delete = false;
            let mut squeeze = false;
            let mut copy = false;
            for f in flags.chars() {
                match f {
                    'c' => complement = true,
                    'd' => delete = true,
                    's' => squeeze = true,
                    'r' => copy = true,
                    other => {
                        return Err(PerlExprError::UnknownFlag {
                            expr,
                            flag: other,
                            op: "tr///",
                        });
                    }
                }
            }
            let search = parse_tr_list(&expr, &first)?;
            let replace = parse_tr_list(&expr, &second.unwrap_or_default())?;
            Body::Tr(Box::new(Translit {
                search,
                replace,
                complement,
                delete,
                squeeze,
                copy,
            }))
        }
        _ => {
            let (rflags, _, _) = parse_regex_flags(&expr, &flags, "m//")?;
            let interpolating = open != '\'';
            Body::Match(Box::new(Pattern::new(
                &expr,
                &first,
                rflags,
                interpolating,
                limit,
            )?))
        }
    };
    Ok(PerlExpr { source: expr, body })
}

fn skip_blanks(chars: &[char], i: &mut usize) {
    while *i < chars.len() && chars[*i].is_whitespace() {
        *i += 1;
    }
}

fn closing_of(open: char) -> Option<char> {
    match open {
        '(' => Some(')'),
        '[' => Some(']'),
        '{' => Some('}'),
        '<' => Some('>'),
        _ => None,
    }
}

/// Read one delimited part starting after the opening delimiter. With a bracketing pair,
/// nesting is counted and backslashes are kept; otherwise a backslash before the delimiter is
/// dropped (Perl hands `a\/b` to the regex engine as `a/b`) and other backslashes are kept.
fn take_delimited(
    expr: &str,
    chars: &[char],
    i: &mut usize,
    open: char,
    part: &'static str,
) -> Result<String, PerlExprError> {
    let close = closing_of(open);
    let mut out = String::new();
    let mut depth = 0usize;
    loop {
        let Some(&c) = chars.get(*i) else {
            return Err(PerlExprError::Unterminated {
                expr: expr.to_string(),
                delimiter: close.unwrap_or(open),
                part,
            });
        };
        *i += 1;
        if c == '\\' {
            let Some(&n) = chars.get(*i) else {
                return Err(PerlExprError::Unterminated {
                    expr: expr.to_string(),
                    delimiter: close.unwrap_or(open),
                    part,
                });
            };
            *i += 1;
            if close.is_none() && n == open {
                out.push(n);
            } else {
                out.push('\\');
                out.push(n);
            }
            continue;
        }
        match close {
            Some(cl) => {
                if c == open {
                    depth += 1;
                } else if c == cl {
                    if depth == 0 {
                        return Ok(out);
                    }
                    depth -= 1;
                }
                out.push(c);
            }
            None => {
                if c == open {
                    return Ok(out);
                }
                out.push(c);
            }
        }
    }
}

/// Returns (regex flags, /g, /r).
fn parse_regex_flags(
    expr: &str,
    flags: &str,
    op: &'static str,
) -> Result<(RegexFlags, bool, bool), PerlExprError> {
    let mut f = RegexFlags::default();
    let mut global = false;
    let mut copy = false;
    let mut xs = 0;
    for c in flags.chars() {
        match c {
            'i' => f.case_insensitive = true,
            'm' => f.multi_line = true,
            's' => f.dot_all = true,
            'x' => xs += 1,
            'n' => f.no_capture = true,
            'g' => global = true,
            'o' | 'p' | 'a' | 'u' | 'l' | 'd' | 'c' => {}
            'e' if op == "s///" => {
                return Err(PerlExprError::CodeEvaluation {
                    expr: expr.to_string(),
                    what: format!("the /{flags} flags"),
                });
            }
            'r' if op == "s///" => copy = true,
            other => {
                return Err(PerlExprError::UnknownFlag {
                    expr: expr.to_string(),
                    flag: other,
                    op,
                });
            }
        }
    }
    f.extended = xs >= 1;
    f.extended_classes = xs >= 2;
    Ok((f, global, copy))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r_flag_returns_the_copy() {
        let e = PerlExpr::parse("tr/a-c/A-C/r").expect("parse");
        assert!(e.returns_copy());
        assert_eq!(e.apply("abcd").as_deref(), Ok("ABCd"));
        let e = PerlExpr::parse("s/b/X/r").expect("parse");
        assert!(e.returns_copy());
        assert_eq!(e.apply("abc").as_deref(), Ok("aXc"));
        assert!(!PerlExpr::parse("s/b/X/").expect("parse").returns_copy());
    }

    #[test]
    fn rejects_code_evaluation() {
        for e in [
            "s/a/b/e",
            "s/a/uc($&)/ee",
            "s/.*?(?:(\\\\(?:Answered|Flagged|Deleted|Seen|Draft)\\s?)|$)/defined($1)?$1:q()/eg",
            "s/(?{ print 1 })a/b/",
            "m/(??{ 'a' })/",
        ] {
            let err = PerlExpr::parse(e).expect_err(e);
            assert!(
                matches!(err, PerlExprError::CodeEvaluation { .. }),
                "{e}: {err:?}"
            );
            assert!(err.to_string().contains("not supported"), "{err}");
        }
    }

    #[test]
    fn syntax_errors() {
        use PerlExprError as E;
        assert_eq!(PerlExpr::parse("").map(|_| ()), Err(E::Empty));
        assert_eq!(PerlExpr::parse("   ").map(|_| ()), Err(E::Empty));
        for e in [
            "FooArchiv",
            "I am BAD",
            "sub/a/b/",
            "x/a/b/",
            "s",
            "s = 1",
            "tr",
        ] {
            assert!(
                matches!(PerlExpr::parse(e), Err(E::UnknownOperator { .. })),
                "{e}: {:?}",
                PerlExpr::parse(e).map(|_| ())
            );
        }
        for e in [
            "s/a/b",
            "s/a",
            "s{a}{b",
            "s{a}",
            "tr/a/b",
            "m/a",
            "s(a(b)/x/",
            r"s/a\/",
        ] {
            assert!(
                matches!(PerlExpr::parse(e), Err(E::Unterminated { .. })),
                "{e}: {:?}",
                PerlExpr::parse(e).map(|_| ())
            );
        }
        assert!(matches!(
            PerlExpr::parse("s/a/b/z"),
            Err(E::UnknownFlag { flag: 'z', .. })
        ));
        assert!(matches!(
            PerlExpr::parse("tr/a/b/g"),
            Err(E::UnknownFlag { flag: 'g', .. })
        ));
        assert!(matches!(
            PerlExpr::parse("m/a/r"),
            Err(E::UnknownFlag { flag: 'r', .. })
        ));
        assert!(matches!(
            PerlExpr::parse("s/a/b/ x"),
            Err(E::TrailingText { .. })
        ));
        assert!(matches!(
            PerlExpr::parse("s/a/b/; s/c/d/"),
            Err(E::TrailingText { .. })
        ));
        assert!(matches!(
            PerlExpr::parse("tr/c-a/x/"),
            Err(E::Syntax { .. })
        ));
        assert!(matches!(
            PerlExpr::parse("tr/a-c-e/x/"),
            Err(E::Syntax { .. })
        ));
        assert!(matches!(PerlExpr::parse("s/b/x$/"), Err(E::Syntax { .. })));
        assert!(matches!(PerlExpr::parse("s/(a/x/"), Err(E::Syntax { .. })));
        assert!(matches!(PerlExpr::parse("s/a)/x/"), Err(E::Syntax { .. })));
        assert!(matches!(PerlExpr::parse("s/[a/x/"), Err(E::Syntax { .. })));
        assert!(matches!(
            PerlExpr::parse("s/[z-a]/x/"),
            Err(E::Syntax { .. })
        ));
        assert!(matches!(
            PerlExpr::parse("s/(?<=a+b|c)(/x/"),
            Err(E::Syntax { .. })
        ));
        assert!(matches!(
            PerlExpr::parse(r"s/\p{NoSuchProperty}/x/"),
            Err(E::Regex { .. })
        ));
        assert!(matches!(
            PerlExpr::parse("s/(?z)a/x/"),
            Err(E::Syntax { .. })
        ));
        assert!(matches!(
            PerlExpr::parse("s/[[:foo:]]/x/"),
            Err(E::Syntax { .. })
        ));
        for (e, what) in [
            (r"s/\Uabc/x/", "case escape"),
            (r"s/\X/x/", "\\X"),
            (r"s/(?|a)/x/", "branch reset"),
            (r"s/(?R)/x/", "recursion"),
            (r"s/(?1)/x/", "recursion"),
            (r"s/\b{wb}/x/", "boundaries"),
            (r"s/\N{LATIN SMALL LETTER E}/x/", "named character"),
            (r"s/(*PRUNE)a/x/", "verb"),
        ] {
            match PerlExpr::parse(e) {
                Err(E::Unsupported { feature, .. }) => {
                    assert!(feature.contains(what), "{e}: {feature}")
                }
                other => panic!("{e}: {:?}", other.map(|_| ())),
            }
        }
        // every error message names the expression
        let msg = PerlExpr::parse("s/a/b/z").expect_err("flag").to_string();
        assert!(msg.contains("s/a/b/z"), "{msg}");
    }
}
