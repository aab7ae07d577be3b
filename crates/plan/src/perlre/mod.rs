//! Perl-style expressions as imapsync's options take them.
//!
//! imapsync evaluates `--regextrans2`, `--regexflag`, `--regexmess`, `--skipmess` and
//! `--delete2foldersonly/butnot` as Perl code (`eval "\$name =~ $expr"`), and interpolates
//! `--include`, `--exclude` and `--skipheader` into a match (`/$pattern/`, `m/$pattern/xi`). We do
//! not run Perl; this module parses the operators users write and runs them on
//! [`fancy_regex`], translating the Perl regex dialect where the two differ.
//!
//! Main types:
//!
//! * [`PerlExpr`]: one parsed operator, `s<d>pat<d>repl<d>flags` (any delimiter, bracketing
//!   pairs `{} () [] <>` with optional blanks between the parts), `tr///` / `y///` (ranges,
//!   flags `c d s r`) or a match `m//` / `/.../`. [`PerlExpr::apply`] gives the transformed text,
//!   [`PerlExpr::is_match`] the truth value Perl would see. `*_bytes` variants work on raw bytes
//!   with Perl's byte-string semantics (messages are not UTF-8): `.` is one byte, `\w` and case
//!   changes are ASCII-only, `\xE9` is the byte 0xE9.
//! * [`perl_regex`] / [`perl_regex_with_flags`]: a plain pattern (no operator, no delimiters,
//!   no variable interpolation) compiled to a [`Regex`].
//! * [`RegexFlags`]: the `i m s x xx n` switches.
//! * [`PerlExprError`]: every failure, with the offending expression as context.
//!
//! How it composes: [`PerlExpr::parse`] splits the operator into parts, the pattern goes through a
//! translator (Perl syntax → fancy-regex syntax, done separately for text and byte mode), the
//! replacement becomes a small tree of literals, capture references and case-modification
//! frames (`\U \L \u \l \Q \F ... \E`) built with the same stacking rules as Perl's lexer, and
//! substitution follows Perl's `/g` rule for empty matches (after an empty match, the next match
//! may start at the same place only if it is not empty).
//!
//! Layout: this file has the public API ([`PerlExpr`], [`perl_regex`], errors, flags);
//! `parse` splits an operator into its parts, `translation` turns a Perl pattern into
//! fancy-regex syntax, `pattern` compiles and runs it (text and byte mode, bounded
//! backtracking), `replacement` builds and evaluates the right-hand side of `s///`, `tr` runs
//! `tr///` / `y///`; `tests` checks the whole module against Perl's own outputs.
//!
//! Translations: `^`/`$` without `/m` become `\A` / `(?=\n?\z)` (Perl's `$` also matches before a
//! final newline), with `/m` `^` does not match after a final newline; `\Z` → `(?=\n?\z)`;
//! `\h \H \v \V \R` get Perl's meaning (fancy-regex's `\h` is a hex digit, the regex crate's `\v`
//! a vertical tab); `\x \o{} \0nn \cX \e \N{U+..}`; `\g{N} \g{-N} \k'n' \k{n} (?P=n) (?'n'..)`;
//! `{,n}` quantifiers; `(?^..)` and `(?adlupn..)` inline flags; Perl's literal `[`, `&&`, `~~`
//! inside classes; POSIX classes; `/x` and `/xx` blanks and comments; `\Q...\E`.
//!
//! Not supported (clear error): `/e` and `(?{code})` (code evaluation), references to Perl
//! variables (`$sync->{...}`, `$h1_fold`, `@list`, `$)`...), case escapes `\U \L \u \l \F` inside
//! a pattern, `\X`, `\C`, `\b{..}`, `\N{NAME}`, branch reset `(?|..)`, recursion `(?R)`,
//! `(?1)`, `(?&n)`, backtracking verbs other than `(*FAIL)`, conditionals on lookarounds.
//! Accepted without effect: flags `o p a aa u l d c` (so `\d`, `\w` stay Unicode-aware in text
//! mode). Perl's rule that an empty pattern reuses the last successful one is not emulated (an
//! empty pattern matches the empty string). In text mode case changes are Unicode-aware where
//! imapsync (which works on bytes) only changes ASCII letters; use the `*_bytes` methods for
//! byte-exact behaviour. `ucfirst` uses upper case rather than title case.
//!
//! Matching is bounded: every search runs with a backtracking budget of
//! [`DEFAULT_BACKTRACK_LIMIT`] steps, or [`BACKTRACK_STEPS_PER_BYTE`] per input byte when that is
//! larger (an unanchored search spends a step per start position, so messages need a budget
//! that grows with their size); exhausting it is reported as [`PerlExprError::BacktrackLimit`]
//! instead of hanging. The plain [`Regex`] values returned by [`perl_regex`] and friends carry
//! the fixed base budget.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, OnceLock};

pub use fancy_regex::Regex;
use fancy_regex::{BytesMode, RegexBuilder, RegexInput};

mod parse;
mod pattern;
mod replacement;
#[cfg(test)]
mod tests;
mod tr;
mod translation;

use parse::parse_expr;
use pattern::{Mode, Pattern, build_regex};
use replacement::{
    Lit, MatchCtx, RNode, eval_nodes, parse_replacement, parse_single_quoted_replacement,
    string_escape,
};
use tr::{Translit, parse_tr_list};
use translation::{parse_radix, translate};

/// Backtracking steps allowed per search on small inputs before giving up.
pub const DEFAULT_BACKTRACK_LIMIT: usize = 1_000_000;

/// On large inputs the budget grows to this many steps per input byte (an unanchored search
/// spends at least one step per start position), so ordinary patterns still work on a 50 MB
/// message while an exponential pattern fails after a time proportional to the input.
pub const BACKTRACK_STEPS_PER_BYTE: usize = 64;

/// Everything that can go wrong parsing or running an expression.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PerlExprError {
    /// Nothing but blanks.
    #[error("empty expression")]
    Empty,
    /// Not an `s`, `tr`, `y`, `m`, `qr` or `/.../` operator.
    #[error("{expr:?}: not a Perl s///, tr///, y///, m// or /.../ expression")]
    UnknownOperator {
        /// The whole expression.
        expr: String,
    },
    /// A part is not closed by its delimiter.
    #[error("{expr:?}: missing closing delimiter {delimiter:?} for the {part}")]
    Unterminated {
        /// The whole expression.
        expr: String,
        /// The delimiter that was expected.
        delimiter: char,
        /// Which part (pattern, replacement, search list...).
        part: &'static str,
    },
    /// A flag letter the operator does not know.
    #[error("{expr:?}: unknown flag {flag:?} for {op}")]
    UnknownFlag {
        /// The whole expression.
        expr: String,
        /// The flag letter.
        flag: char,
        /// The operator (`s///`, `tr///`, `m//`).
        op: &'static str,
    },
    /// `/e`, `/ee`, `(?{...})` or `(??{...})`.
    #[error(
        "{expr:?}: code evaluation ({what}) is not supported: this implementation does not run Perl code; write the replacement as text using $1, ${{1}}, \\U...\\E instead"
    )]
    CodeEvaluation {
        /// The whole expression.
        expr: String,
        /// The construct found.
        what: String,
    },
    /// `$name`, `${name}`, `@name`, `$sync->{...}`, `$)`... would be interpolated by Perl.
    #[error(
        "{expr:?}: {name} is a reference to a Perl variable; imapsync evaluated these expressions as Perl code inside its own program, this implementation has no such variables (write the value literally, or escape the sigil as \\$ or \\@ for a literal character)"
    )]
    ProgramVariable {
        /// The whole expression.
        expr: String,
        /// The variable as written (`$sync`, `@b`, `$)`).
        name: String,
    },
    /// Text left after the flags.
    #[error("{expr:?}: unexpected text after the expression: {rest:?}")]
    TrailingText {
        /// The whole expression.
        expr: String,
        /// What follows.
        rest: String,
    },
    /// A Perl feature we do not translate.
    #[error("{expr:?}: {feature} is not supported")]
    Unsupported {
        /// The whole expression.
        expr: String,
        /// What was found.
        feature: String,
    },
    /// Other syntax errors (bad range in tr, trailing backslash, unbalanced parenthesis...).
    #[error("{expr:?}: {message}")]
    Syntax {
        /// The whole expression.
        expr: String,
        /// Description.
        message: String,
    },
    /// fancy-regex refused the translated pattern.
    #[error("{expr:?}: invalid regular expression (translated as {translated:?}): {message}")]
    Regex {
        /// The whole expression.
        expr: String,
        /// Our translation.
        translated: String,
        /// fancy-regex's message.
        message: String,
    },
    /// The backtracking limit was hit while matching.
    #[error(
        "{expr:?}: matching gave up after {limit} backtracking steps (pattern too costly for this input)"
    )]
    BacktrackLimit {
        /// The whole expression.
        expr: String,
        /// The limit in force.
        limit: usize,
    },
    /// Another run-time failure of the regex engine.
    #[error("{expr:?}: matching failed: {message}")]
    Runtime {
        /// The whole expression.
        expr: String,
        /// fancy-regex's message.
        message: String,
    },
    /// [`PerlExpr::apply`] on a match-only expression.
    #[error("{expr:?}: a match expression (m// or /.../) does not transform text")]
    NotATransform {
        /// The whole expression.
        expr: String,
    },
}

/// Regex switches (Perl's `/i /m /s /x /xx /n`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RegexFlags {
    /// `/i`: case-insensitive.
    pub case_insensitive: bool,
    /// `/m`: `^` and `$` match at line boundaries.
    pub multi_line: bool,
    /// `/s`: `.` matches a newline.
    pub dot_all: bool,
    /// `/x`: blanks and `#` comments in the pattern are ignored.
    pub extended: bool,
    /// `/xx`: like `/x`, and blanks inside bracketed classes are ignored too.
    pub extended_classes: bool,
    /// `/n`: plain parentheses do not capture.
    pub no_capture: bool,
}

impl RegexFlags {
    /// The flags imapsync uses for `--skipheader` (`m/$skipheader/xi`).
    pub const SKIPHEADER: RegexFlags = RegexFlags {
        case_insensitive: true,
        multi_line: false,
        dot_all: false,
        extended: true,
        extended_classes: false,
        no_capture: false,
    };
}

/// A piece of a replacement built by code rather than parsed from Perl syntax (used for rules
/// imapsync generates, such as `--subfolder2`'s, where option values are inserted literally).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplacementPart {
    /// Literal text.
    Text(String),
    /// The text of a capture group (0 is the whole match).
    Group(usize),
}

/// Which operator an expression is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExprKind {
    /// `s///`.
    Substitute,
    /// `tr///` or `y///`.
    Transliterate,
    /// `m//`, `/.../` or `qr//`.
    Match,
}

/// A parsed Perl operator; see the module documentation.
#[derive(Debug, Clone)]
pub struct PerlExpr {
    source: String,
    body: Body,
}

#[derive(Debug, Clone)]
enum Body {
    Subst(Box<Subst>),
    Tr(Box<Translit>),
    Match(Box<Pattern>),
}

#[derive(Debug, Clone)]
struct Subst {
    pattern: Pattern,
    replacement: Vec<RNode>,
    global: bool,
    copy: bool,
}

impl PerlExpr {
    /// Parse one expression. Leading and trailing blanks and one trailing `;` are allowed.
    pub fn parse(source: &str) -> Result<PerlExpr, PerlExprError> {
        parse_expr(source, DEFAULT_BACKTRACK_LIMIT)
    }

    /// Like [`PerlExpr::parse`] with another backtracking limit.
    pub fn parse_with_backtrack_limit(
        source: &str,
        limit: usize,
    ) -> Result<PerlExpr, PerlExprError> {
        parse_expr(source, limit)
    }

    /// Build a substitution from parts: `pattern` is a plain Perl pattern (as interpolated from
    /// a variable: no `$var` interpolation), `replacement` is inserted without any escape
    /// processing. `display` is what error messages and [`PerlExpr::source`] show.
    pub fn substitution(
        display: &str,
        pattern: &str,
        flags: RegexFlags,
        global: bool,
        replacement: &[ReplacementPart],
    ) -> Result<PerlExpr, PerlExprError> {
        let pattern = Pattern::new(display, pattern, flags, false, DEFAULT_BACKTRACK_LIMIT)?;
        let mut nodes = Vec::new();
        for part in replacement {
            match part {
                ReplacementPart::Text(t) => {
                    nodes.extend(t.chars().map(|c| RNode::Lit(Lit::Char(c))));
                }
                ReplacementPart::Group(g) => nodes.push(RNode::Group(*g)),
            }
        }
        Ok(PerlExpr {
            source: display.to_string(),
            body: Body::Subst(Box::new(Subst {
                pattern,
                replacement: nodes,
                global,
                copy: false,
            })),
        })
    }

    /// The expression as given.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Which operator this is.
    pub fn kind(&self) -> ExprKind {
        match self.body {
            Body::Subst(_) => ExprKind::Substitute,
            Body::Tr(_) => ExprKind::Transliterate,
            Body::Match(_) => ExprKind::Match,
        }
    }

    /// True with `/r`. imapsync evaluates `$var =~ EXPR`, and with `/r` Perl returns a modified
    /// copy and leaves `$var` untouched, so such a rule is a silent no-op there; [`apply`]
    /// returns the modified text regardless, callers wanting imapsync's exact behaviour check
    /// this first.
    ///
    /// [`apply`]: PerlExpr::apply
    pub fn returns_copy(&self) -> bool {
        match &self.body {
            Body::Subst(s) => s.copy,
            Body::Tr(t) => t.copy,
            Body::Match(_) => false,
        }
    }

    /// The fancy-regex pattern the Perl pattern was translated to (text mode), if any.
    pub fn translated_pattern(&self) -> Option<&str> {
        match &self.body {
            Body::Subst(s) => Some(&s.pattern.translated),
            Body::Match(p) => Some(&p.translated),
            Body::Tr(_) => None,
        }
    }

    /// Run a substitution or transliteration on text and return the result.
    pub fn apply(&self, input: &str) -> Result<String, PerlExprError> {
        match &self.body {
            Body::Subst(s) => {
                let (out, _) = self.substitute(s, Mode::Unicode, input.as_bytes())?;
                Ok(String::from_utf8(out)
                    .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
            }
            Body::Tr(t) => {
                let (out, _) = t.run_str(&self.source, input)?;
                Ok(out)
            }
            Body::Match(_) => Err(PerlExprError::NotATransform {
                expr: self.source.clone(),
            }),
        }
    }

    /// Run a substitution or transliteration on bytes, with Perl's byte-string semantics.
    pub fn apply_bytes(&self, input: &[u8]) -> Result<Vec<u8>, PerlExprError> {
        match &self.body {
            Body::Subst(s) => Ok(self.substitute(s, Mode::Bytes, input)?.0),
            Body::Tr(t) => Ok(t.run_bytes(&self.source, input)?.0),
            Body::Match(_) => Err(PerlExprError::NotATransform {
                expr: self.source.clone(),
            }),
        }
    }

    /// The truth value of `$var =~ EXPR` in Perl: a match for `m//`, "something was replaced"
    /// for `s///`, "at least one character counted" for `tr///`.
    pub fn is_match(&self, input: &str) -> Result<bool, PerlExprError> {
        match &self.body {
            Body::Subst(s) => s.pattern.is_match(Mode::Unicode, input.as_bytes()),
            Body::Match(p) => p.is_match(Mode::Unicode, input.as_bytes()),
            Body::Tr(t) => Ok(t.run_str(&self.source, input)?.1 > 0),
        }
    }

    /// [`PerlExpr::is_match`] on bytes.
    pub fn is_match_bytes(&self, input: &[u8]) -> Result<bool, PerlExprError> {
        match &self.body {
            Body::Subst(s) => s.pattern.is_match(Mode::Bytes, input),
            Body::Match(p) => p.is_match(Mode::Bytes, input),
            Body::Tr(t) => Ok(t.run_bytes(&self.source, input)?.1 > 0),
        }
    }

    fn substitute(
        &self,
        s: &Subst,
        mode: Mode,
        hay: &[u8],
    ) -> Result<(Vec<u8>, usize), PerlExprError> {
        let pat = &s.pattern;
        let mut out = Vec::with_capacity(hay.len());
        let mut pos = 0;
        let mut copied = 0;
        let mut count = 0;
        let mut after_empty_at: Option<usize> = None;
        while pos <= hay.len() {
            let spans = if after_empty_at == Some(pos) {
                match pat.captures(mode, hay, pos, true)? {
                    Some(c) => Some(c),
                    None => {
                        pos = next_boundary(mode, hay, pos);
                        after_empty_at = None;
                        continue;
                    }
                }
            } else {
                pat.captures(mode, hay, pos, false)?
            };
            let Some(spans) = spans else { break };
            let Some(Some((start, end))) = spans.first().copied() else {
                break;
            };
            out.extend_from_slice(hay.get(copied..start).unwrap_or_default());
            let ctx = MatchCtx {
                hay,
                spans: &spans,
                names: &pat.names,
                mode,
            };
            eval_nodes(&s.replacement, &ctx, &mut out);
            copied = end;
            count += 1;
            if !s.global {
                break;
            }
            after_empty_at = if start == end { Some(end) } else { None };
            pos = end;
        }
        out.extend_from_slice(hay.get(copied..).unwrap_or_default());
        Ok((out, count))
    }
}

fn next_boundary(mode: Mode, hay: &[u8], pos: usize) -> usize {
    match mode {
        Mode::Bytes => pos + 1,
        Mode::Unicode => {
            let mut p = pos + 1;
            while p < hay.len() && (hay[p] & 0xC0) == 0x80 {
                p += 1;
            }
            p
        }
    }
}

/// Compile a plain Perl pattern as imapsync applies `--include`/`--exclude` (`/$pattern/`):
/// no delimiters, no variable interpolation (`$` is always an anchor, `@` a literal).
pub fn perl_regex(pattern: &str) -> Result<Regex, PerlExprError> {
    perl_regex_with_flags(pattern, RegexFlags::default())
}

/// [`perl_regex`] with flags, e.g. [`RegexFlags::SKIPHEADER`] for `--skipheader`.
pub fn perl_regex_with_flags(pattern: &str, flags: RegexFlags) -> Result<Regex, PerlExprError> {
    let p = Pattern::new(pattern, pattern, flags, false, DEFAULT_BACKTRACK_LIMIT)?;
    Ok(p.unicode)
}

/// [`perl_regex_with_flags`] compiled for byte haystacks (`&[u8]`) with Perl's byte semantics.
pub fn perl_regex_bytes(pattern: &str, flags: RegexFlags) -> Result<Regex, PerlExprError> {
    let (translated, _, _) = translate(pattern, pattern, flags, false, Mode::Bytes, None)?;
    build_regex(
        pattern,
        &translated,
        Mode::Bytes,
        false,
        DEFAULT_BACKTRACK_LIMIT,
    )
}

/// The fancy-regex syntax a plain Perl pattern translates to (text mode).
pub fn translate_perl_pattern(pattern: &str, flags: RegexFlags) -> Result<String, PerlExprError> {
    Ok(translate(pattern, pattern, flags, false, Mode::Unicode, None)?.0)
}
