//! Compiled patterns: a translated pattern in text and byte mode, its variants
//! and the bounded search.

use super::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Mode {
    Unicode,
    Bytes,
}

/// Compiled variants keyed by (mode, non-empty variant, backtracking limit). `None` records a
/// non-empty variant that cannot match anything.
type VariantCache = Arc<Mutex<HashMap<(Mode, bool, usize), Option<Regex>>>>;

#[derive(Debug, Clone)]
pub(super) struct Pattern {
    expr: String,
    perl: String,
    flags: RegexFlags,
    interpolating: bool,
    /// Base backtracking limit (the effective one grows with the input, see `limit_for`).
    limit: usize,
    pub(super) translated: String,
    pub(super) names: Vec<(String, usize)>,
    /// Text mode, base limit: compiled at parse time so that errors show up early.
    pub(super) unicode: Regex,
    /// Byte-mode translation (or its error), computed on first use.
    bytes_translated: OnceLock<Result<String, PerlExprError>>,
    variants: VariantCache,
    counted_run: Option<CountedRun>,
}

/// `.{N}` or `(.{N})`: the line-wrapping idiom (`s,(.{10239}),$1\r\n,g`). The regex engines
/// handle it in time proportional to length × N (the unanchored search keeps N threads alive),
/// which is minutes on a large message, so it gets a linear scan of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct CountedRun {
    n: usize,
    dot_all: bool,
    captured: bool,
}

impl CountedRun {
    fn detect(perl: &str, flags: RegexFlags) -> Option<CountedRun> {
        let (inner, captured) = match perl.strip_prefix('(').and_then(|p| p.strip_suffix(')')) {
            Some(inner) => (inner, !flags.no_capture),
            None => (perl, false),
        };
        let digits = inner.strip_prefix(".{")?.strip_suffix('}')?;
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let n: usize = digits.parse().ok()?;
        (n > 0).then_some(CountedRun {
            n,
            dot_all: flags.dot_all,
            captured,
        })
    }

    /// Leftmost run of `n` characters (bytes in byte mode) without a newline, at or after `pos`.
    fn find(&self, mode: Mode, hay: &[u8], pos: usize, anchored: bool) -> Option<(usize, usize)> {
        let mut run_start = pos;
        let mut count = 0usize;
        let mut i = pos;
        while i < hay.len() {
            let b = hay[i];
            let next = match mode {
                Mode::Bytes => i + 1,
                Mode::Unicode => next_boundary(mode, hay, i),
            };
            if b == b'\n' && !self.dot_all {
                if anchored {
                    return None;
                }
                run_start = next;
                count = 0;
            } else {
                count += 1;
                if count == self.n {
                    return Some((run_start, next));
                }
            }
            i = next;
        }
        None
    }
}

impl Pattern {
    pub(super) fn new(
        expr: &str,
        perl: &str,
        flags: RegexFlags,
        interpolating: bool,
        limit: usize,
    ) -> Result<Pattern, PerlExprError> {
        let (translated, names, _) =
            translate(expr, perl, flags, interpolating, Mode::Unicode, None)?;
        let unicode = build_regex(expr, &translated, Mode::Unicode, false, limit)?;
        Ok(Pattern {
            expr: expr.to_string(),
            perl: perl.to_string(),
            flags,
            interpolating,
            limit,
            translated,
            names,
            unicode,
            bytes_translated: OnceLock::new(),
            variants: Arc::new(Mutex::new(HashMap::new())),
            counted_run: CountedRun::detect(perl, flags),
        })
    }

    fn translated_for(&self, mode: Mode) -> Result<&str, PerlExprError> {
        match mode {
            Mode::Unicode => Ok(&self.translated),
            Mode::Bytes => self
                .bytes_translated
                .get_or_init(|| {
                    translate(
                        &self.expr,
                        &self.perl,
                        self.flags,
                        self.interpolating,
                        Mode::Bytes,
                        None,
                    )
                    .map(|t| t.0)
                })
                .as_deref()
                .map_err(Clone::clone),
        }
    }

    /// The backtracking budget for a haystack of `len` bytes: the base limit, or
    /// [`BACKTRACK_STEPS_PER_BYTE`] per byte (rounded up to a power of two so that few variants
    /// get compiled) when that is larger. An unanchored search counts at least one step per
    /// start position, so a fixed budget would fail on large messages for ordinary patterns.
    fn limit_for(&self, len: usize) -> usize {
        let scaled = len.saturating_mul(BACKTRACK_STEPS_PER_BYTE);
        if scaled <= self.limit {
            self.limit
        } else {
            scaled.checked_next_power_of_two().unwrap_or(usize::MAX)
        }
    }

    /// The regex for `mode` and a haystack of `len` bytes; `not_empty` selects the variant used
    /// right after an empty match (`Ok(None)`: it cannot match anything).
    fn regex(
        &self,
        mode: Mode,
        not_empty: bool,
        len: usize,
    ) -> Result<Option<Regex>, PerlExprError> {
        let limit = self.limit_for(len);
        if mode == Mode::Unicode && !not_empty && limit == self.limit {
            return Ok(Some(self.unicode.clone()));
        }
        let translated = self.translated_for(mode)?;
        if not_empty {
            // Make sure the normal variant compiles, so that its error is the one reported.
            self.regex(mode, false, len)?;
        }
        let key = (mode, not_empty, limit);
        if let Some(hit) = self
            .variants
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
        {
            return Ok(hit.clone());
        }
        let built = match build_regex(&self.expr, translated, mode, not_empty, limit) {
            Ok(r) => Some(r),
            // The builder refuses a non-empty variant of a pattern that only matches empty
            // strings: that simply means no non-empty match exists.
            Err(_) if not_empty => None,
            Err(e) => return Err(e),
        };
        self.variants
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, built.clone());
        Ok(built)
    }

    fn runtime_error(&self, e: fancy_regex::Error, len: usize) -> PerlExprError {
        match e {
            fancy_regex::Error::RuntimeError(fancy_regex::RuntimeError::BacktrackLimitExceeded) => {
                PerlExprError::BacktrackLimit {
                    expr: self.expr.clone(),
                    limit: self.limit_for(len),
                }
            }
            other => PerlExprError::Runtime {
                expr: self.expr.clone(),
                message: other.to_string(),
            },
        }
    }

    pub(super) fn is_match(&self, mode: Mode, hay: &[u8]) -> Result<bool, PerlExprError> {
        if let Some(run) = self.counted_run {
            self.translated_for(mode)?;
            return Ok(run.find(mode, hay, 0, false).is_some());
        }
        let Some(re) = self.regex(mode, false, hay.len())? else {
            return Ok(false);
        };
        let res = match mode {
            Mode::Unicode => re.is_match(bytes_as_str(hay)),
            Mode::Bytes => re.is_match(hay),
        };
        res.map_err(|e| self.runtime_error(e, hay.len()))
    }

    /// Capture spans of the first match at or after `pos` (anchored at `pos` and non-empty
    /// when `not_empty`).
    #[allow(clippy::type_complexity)]
    pub(super) fn captures(
        &self,
        mode: Mode,
        hay: &[u8],
        pos: usize,
        not_empty: bool,
    ) -> Result<Option<Vec<Option<(usize, usize)>>>, PerlExprError> {
        if let Some(run) = self.counted_run {
            // translate anyway so that byte-mode errors surface the same way
            self.translated_for(mode)?;
            return Ok(run.find(mode, hay, pos, not_empty).map(|span| {
                if run.captured {
                    vec![Some(span), Some(span)]
                } else {
                    vec![Some(span)]
                }
            }));
        }
        let Some(re) = self.regex(mode, not_empty, hay.len())? else {
            return Ok(None);
        };
        macro_rules! spans {
            ($h:expr) => {{
                let input = RegexInput::new($h).from_pos(pos).anchored(not_empty);
                match re.captures_input(input) {
                    Ok(Some(c)) => Ok(Some(
                        (0..c.len())
                            .map(|i| c.get(i).map(|m| (m.start(), m.end())))
                            .collect(),
                    )),
                    Ok(None) => Ok(None),
                    Err(e) => Err(self.runtime_error(e, hay.len())),
                }
            }};
        }
        match mode {
            Mode::Unicode => spans!(bytes_as_str(hay)),
            Mode::Bytes => spans!(hay),
        }
    }
}

/// Text-mode haystacks always come from a `&str`; never panics.
fn bytes_as_str(b: &[u8]) -> &str {
    std::str::from_utf8(b).unwrap_or("")
}

pub(super) fn build_regex(
    expr: &str,
    translated: &str,
    mode: Mode,
    not_empty: bool,
    limit: usize,
) -> Result<Regex, PerlExprError> {
    let mut b = RegexBuilder::new(translated);
    b.backtrack_limit(limit);
    if mode == Mode::Bytes {
        b.bytes_mode(BytesMode::Ascii);
    }
    if not_empty {
        b.find_not_empty(true);
    }
    b.build().map_err(|e| PerlExprError::Regex {
        expr: expr.to_string(),
        translated: translated.to_string(),
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counted_run_fast_path_agrees_with_the_regex_engine() {
        let inputs = [
            "",
            "abc",
            "abcdefgh",
            "ab\ncdefg\nhi",
            "abcd\n",
            "\u{e9}\u{e9}\u{e9}\u{e9}x",
            "a\nb\nc",
        ];
        for expr in [
            r"s,(.{3}),$1|,g",
            r"s,.{3},<$&>,g",
            r"s,(.{3}),[$1],",
            r"s,(.{2}),$1|,gs",
            r"s/(.{1})/-/g",
        ] {
            let fast = PerlExpr::parse(expr).expect("parse");
            // the same pattern written so that the fast path does not recognise it
            let slow_src = expr.replacen(".{", "(?:.){", 1);
            let slow = PerlExpr::parse(&slow_src).expect("parse");
            let Body::Subst(sub) = &fast.body else {
                panic!()
            };
            assert!(sub.pattern.counted_run.is_some(), "{expr}");
            for input in inputs {
                assert_eq!(fast.apply(input), slow.apply(input), "{expr} on {input:?}");
                assert_eq!(
                    fast.apply_bytes(input.as_bytes()),
                    slow.apply_bytes(input.as_bytes()),
                    "{expr} on {input:?}"
                );
                assert_eq!(
                    fast.is_match(input),
                    slow.is_match(input),
                    "{expr} on {input:?}"
                );
            }
        }
    }

    #[test]
    fn large_inputs_get_a_larger_budget() {
        // Without a Date: header the lazy scan walks the whole message; the budget must grow
        // with the input for this imapsync FAQ idiom to work on big messages.
        let mut msg = String::from("From: a@b\r\nSubject: hi\r\n\r\n");
        while msg.len() < 300_000 {
            msg.push_str("abcdefghijabcdefghijabcdefghij\r\n");
        }
        let e = PerlExpr::parse(r"s{\A(.*?(?! ^$))^Date:(.*?)$}{$1Date:$2\nX-Date:$2}gxms")
            .expect("parse");
        assert_eq!(e.apply_bytes(msg.as_bytes()).as_deref(), Ok(msg.as_bytes()));
    }

    #[test]
    fn backtracking_is_bounded() {
        let e = PerlExpr::parse_with_backtrack_limit(r"s/(a|aa)+\1$/X/", 10_000).expect("parse");
        let input = format!("{}b", "a".repeat(64));
        match e.apply(&input) {
            Err(PerlExprError::BacktrackLimit { limit, .. }) => assert_eq!(limit, 10_000),
            other => panic!("{other:?}"),
        }
        let e = PerlExpr::parse(r"m/^(\w+\s?)*(?<=x)$/").expect("parse");
        let input = format!("{}!", "word ".repeat(40));
        assert!(matches!(
            e.is_match(&input),
            Err(PerlExprError::BacktrackLimit { .. })
        ));
    }
}
