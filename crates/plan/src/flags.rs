//! Flags: what host1 flags become on host2.
//!
//! imapsync handles flags as one space-separated string (the content of the `FLAGS (...)`
//! parentheses) and passes it through a fixed pipeline before every APPEND and every flag
//! resync ([`flags_for_host2`]):
//!
//! 1. `\Recent` is removed (case-insensitive, together with **one** following blank, and also
//!    when it is only the prefix of a longer word: `\Recentfoo` becomes `foo`) — see
//!    [`remove_recent`];
//! 2. the `--regexflag` expressions run in order on the string ([`regexflags`]);
//!    `--filterbuggyflags` is just one more expression put first ([`filter_buggy_flags`]). If one
//!    expression fails, the result of **all** of them is discarded and the string from step 1
//!    goes on;
//! 3. `--flagscase` (default on) rewrites `\SEEN`, `\seen`, ... as `\Seen` for the five RFC 3501
//!    system flags and normalises blanks (runs become one space, trailing blanks go, but a
//!    leading blank survives as one space) — [`flagscase`];
//! 4. `--filterflags` (default on) keeps only the flags spelled exactly (case-sensitive) as in
//!    host2's `PERMANENTFLAGS`, unless that list contains `\*` or is absent or empty
//!    ([`permanentflags`], [`flags_filter`]).
//!
//! The string forms matter: imapsync's own tests pin the leftover spaces of expression-based
//! removals, and the APPEND command carries the string as is ([`append_flags_argument`]).
//!
//! For messages already on host2, [`flags_resync`] compares the host1 flags after the pipeline
//! with host2's flags after `flagscase` only (sorted, bytewise) and yields the
//! `FLAGS.SILENT (...)` argument when they differ.

use thiserror::Error;

/// The five RFC 3501 system flags whose case `--flagscase` normalises (`\Recent` is handled
/// apart: it is always removed).
pub const SYSTEM_FLAGS: [&str; 5] = ["\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft"];

/// Pseudo-system flags some servers emit and others reject, removed by `--filterbuggyflags`.
/// Order matters: at each position the first alternative that matches (as a case-insensitive
/// prefix) is removed, so `\X-HAS-ATTACHMENT` loses only `\X-HAS-ATTACH` and `\Junkmail`
/// becomes `mail`.
pub const BUGGY_FLAGS: [&str; 13] = [
    "\\RECEIPTCHECKED",
    "\\JUNK",
    "\\Indexed",
    "\\X-EON-HAS-ATTACHMENT",
    "\\UNSEEN",
    "\\ATTACHED",
    "\\X-HAS-ATTACH",
    "\\FORWARDED",
    "\\FORWARD",
    "\\X-FORWARDED",
    "\\$FORWARDED",
    "\\PRIORITY",
    "\\READRCPT",
];

/// Errors of the flag pipeline.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FlagsError {
    /// A `--regexflag` expression failed on this input.
    #[error("regexflag #{index} failed: {message}")]
    Rewrite {
        /// Position of the failing expression in the list (0-based).
        index: usize,
        /// The expression's own error text.
        message: String,
    },
}

/// One `--regexflag` expression (or any string rewrite standing in for one).
///
/// Implemented for every `Fn(&str) -> Result<String, E>` with a displayable error, so a
/// compiled Perl substitution from `perlre` can be passed as a closure.
pub trait FlagRewrite {
    /// Rewrite the space-separated flag string.
    fn rewrite(&self, flags: &str) -> Result<String, String>;
}

impl<F, E> FlagRewrite for F
where
    F: Fn(&str) -> Result<String, E>,
    E: std::fmt::Display,
{
    fn rewrite(&self, flags: &str) -> Result<String, String> {
        self(flags).map_err(|e| e.to_string())
    }
}

/// The `--filterbuggyflags` expression as a [`FlagRewrite`] (never fails).
#[derive(Debug, Clone, Copy, Default)]
pub struct BuggyFlagsFilter;

impl FlagRewrite for BuggyFlagsFilter {
    fn rewrite(&self, flags: &str) -> Result<String, String> {
        Ok(filter_buggy_flags(flags))
    }
}

/// Flag options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlagOptions {
    /// `--flagscase` (default on).
    pub flagscase: bool,
    /// `--filterflags` (default on).
    pub filterflags: bool,
}

impl Default for FlagOptions {
    fn default() -> Self {
        Self {
            flagscase: true,
            filterflags: true,
        }
    }
}

/// Perl `\s` on byte strings.
fn is_blank(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\x0B' | '\x0C' | '\r' | ' ')
}

/// Remove every `\Recent` (any case, even as a prefix of a longer word) and the one blank
/// that may follow it.
pub fn remove_recent(flags: &str) -> String {
    let b = flags.as_bytes();
    let mut out = String::with_capacity(flags.len());
    let mut last = 0;
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && b.len() >= i + 7 && b[i + 1..i + 7].eq_ignore_ascii_case(b"recent") {
            out.push_str(&flags[last..i]);
            i += 7;
            if i < b.len() && is_blank(char::from(b[i])) {
                i += 1;
            }
            last = i;
        } else {
            i += 1;
        }
    }
    out.push_str(&flags[last..]);
    out
}

/// Perl's `split /\s+/`: a leading blank run yields a leading empty field, trailing empty
/// fields are dropped (so an all-blank string yields nothing).
fn split_blank_runs(s: &str) -> Vec<&str> {
    let mut fields: Vec<&str> = s.split(is_blank).collect();
    // `str::split` yields empty pieces between consecutive blanks; merge them away, keeping
    // only a leading empty field.
    let leading_empty = fields.first().is_some_and(|f| f.is_empty()) && !s.is_empty();
    fields.retain(|f| !f.is_empty());
    if leading_empty && !fields.is_empty() {
        fields.insert(0, "");
    }
    fields
}

/// Perl's `split ' '`: words separated by blank runs, no empty field.
fn split_words(s: &str) -> impl Iterator<Item = &str> {
    s.split(is_blank).filter(|f| !f.is_empty())
}

/// `--flagscase`: rewrite the five system flags in their canonical case and normalise blanks
/// (see the module documentation for the exact blank handling). Keywords are untouched.
pub fn flagscase(flags: &str) -> String {
    split_blank_runs(flags)
        .into_iter()
        .map(|f| {
            SYSTEM_FLAGS
                .iter()
                .find(|sys| sys.eq_ignore_ascii_case(f))
                .copied()
                .unwrap_or(f)
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Extract the `PERMANENTFLAGS` list from the SELECT response lines, as imapsync does.
///
/// The first line containing `[PERMANENTFLAGS (…)]` (exactly one blank before the parenthesis,
/// non-empty content) gives the list. The result is the empty string — meaning "do not
/// filter" — when no line matches (an empty `PERMANENTFLAGS ()` does not match either) or when
/// the list contains `\*`.
pub fn permanentflags<S: AsRef<str>>(lines: &[S]) -> String {
    const TAG: &str = "[PERMANENTFLAGS";
    for line in lines {
        let line = line.as_ref();
        let mut from = 0;
        while let Some(pos) = line[from..].find(TAG) {
            let start = from + pos;
            from = start + 1;
            let rest = &line[start + TAG.len()..];
            let mut chars = rest.chars();
            let Some(blank) = chars.next() else { continue };
            if !is_blank(blank) {
                continue;
            }
            let rest = &rest[blank.len_utf8()..];
            let Some(inner) = rest.strip_prefix('(') else {
                continue;
            };
            let Some(close) = inner.find(')') else {
                continue;
            };
            if close == 0 || !inner[close..].starts_with(")]") {
                continue;
            }
            let list = &inner[..close];
            if list.contains("\\*") {
                return String::new();
            }
            return list.to_owned();
        }
    }
    String::new()
}

/// Keep only the flags present (exact spelling) in `allowed`; result joined with one space.
pub fn flags_filter(flags: &str, allowed: &str) -> String {
    let allowed: Vec<&str> = split_words(allowed).collect();
    split_blank_runs(flags)
        .into_iter()
        .filter(|f| allowed.contains(f))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The `--filterbuggyflags` substitution: remove every case-insensitive occurrence of the
/// [`BUGGY_FLAGS`] (first matching alternative at each position), leaving the surrounding
/// blanks in place.
pub fn filter_buggy_flags(flags: &str) -> String {
    let b = flags.as_bytes();
    let mut out = String::with_capacity(flags.len());
    let mut last = 0;
    let mut i = 0;
    'scan: while i < b.len() {
        if b[i] == b'\\' {
            for bad in BUGGY_FLAGS {
                let n = bad.len();
                if b.len() >= i + n && b[i..i + n].eq_ignore_ascii_case(bad.as_bytes()) {
                    out.push_str(&flags[last..i]);
                    i += n;
                    last = i;
                    continue 'scan;
                }
            }
        }
        i += 1;
    }
    out.push_str(&flags[last..]);
    out
}

/// Run the `--regexflag` expressions in order. On the first failure the whole chain is
/// abandoned (imapsync then keeps the input string unchanged).
pub fn regexflags(flags: &str, rewriters: &[&dyn FlagRewrite]) -> Result<String, FlagsError> {
    let mut cur = flags.to_owned();
    for (index, r) in rewriters.iter().enumerate() {
        cur = r
            .rewrite(&cur)
            .map_err(|message| FlagsError::Rewrite { index, message })?;
    }
    Ok(cur)
}

/// Result of [`flags_for_host2`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host2Flags {
    /// The flag string to send to host2.
    pub flags: String,
    /// Set when a `--regexflag` expression failed (imapsync prints
    /// `Error: eval regexflag '<expr>': <error>` and carries on without the expressions).
    pub rewrite_error: Option<FlagsError>,
}

/// The whole pipeline applied to host1 flags before APPEND or flag resync.
///
/// `permanentflags2` is the value of [`permanentflags`] for the host2 folder (empty string:
/// no filtering). `rewriters` are the `--regexflag` expressions, with [`BuggyFlagsFilter`]
/// first when `--filterbuggyflags` is on.
pub fn flags_for_host2(
    h1_flags: &str,
    opts: &FlagOptions,
    permanentflags2: &str,
    rewriters: &[&dyn FlagRewrite],
) -> Host2Flags {
    let mut flags = remove_recent(h1_flags);
    let mut rewrite_error = None;
    match regexflags(&flags, rewriters) {
        Ok(f) => flags = f,
        Err(e) => rewrite_error = Some(e),
    }
    if opts.flagscase {
        flags = flagscase(&flags);
    }
    if !permanentflags2.is_empty() && opts.filterflags {
        flags = flags_filter(&flags, permanentflags2);
    }
    Host2Flags {
        flags,
        rewrite_error,
    }
}

/// The flags argument of APPEND as the IMAP library builds it: blanks trimmed and wrapped in
/// parentheses unless already wrapped. An empty flag string gives `()`, which is sent.
pub fn append_flags_argument(flags: &str) -> String {
    let t = flags.trim_matches(is_blank);
    if t.starts_with('(') && t.ends_with(')') && t.len() >= 2 {
        t.to_owned()
    } else {
        format!("({t})")
    }
}

/// Outcome of the flag comparison for a message present on both sides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlagResync {
    /// Host1 flags after [`flags_for_host2`], split on blanks and sorted bytewise.
    pub h1_sorted: Vec<String>,
    /// Host2 flags after [`flagscase`] (always applied on this side, whatever `--flagscase`
    /// says; `\Recent` is **not** removed here), split and sorted.
    pub h2_sorted: Vec<String>,
    /// The two sorted lists differ (length or any element, case-sensitive).
    pub differ: bool,
    /// Regexflag failure on the host1 side, if any.
    pub rewrite_error: Option<FlagsError>,
}

impl FlagResync {
    /// `FLAGS.SILENT (<sorted host1 flags>)`, the STORE argument imapsync sends when
    /// [`differ`](Self::differ) is set. The store **replaces** host2's flags.
    pub fn store_argument(&self) -> String {
        format!("FLAGS.SILENT ({})", self.h1_sorted.join(" "))
    }

    /// The error recorded when the STORE fails (classified as `ERR_FLAGS`).
    pub fn store_error_message(&self, h2_folder: &str, h2_uid: u32, server_error: &str) -> String {
        format!(
            "Host2: flags msg {h2_folder}/{h2_uid} could not add flags [{}]: {server_error}\n",
            self.h1_sorted.join(" ")
        )
    }
}

/// Compare host1 and host2 flags for the resync of an already-copied message.
pub fn flags_resync(
    h1_flags: &str,
    h2_flags: &str,
    opts: &FlagOptions,
    permanentflags2: &str,
    rewriters: &[&dyn FlagRewrite],
) -> FlagResync {
    let h1 = flags_for_host2(h1_flags, opts, permanentflags2, rewriters);
    let h2 = flagscase(h2_flags);
    let mut h1_sorted: Vec<String> = split_words(&h1.flags).map(str::to_owned).collect();
    let mut h2_sorted: Vec<String> = split_words(&h2).map(str::to_owned).collect();
    h1_sorted.sort();
    h2_sorted.sort();
    let differ = h1_sorted != h2_sorted;
    FlagResync {
        h1_sorted,
        h2_sorted,
        differ,
        rewrite_error: h1.rewrite_error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn none() -> [&'static dyn FlagRewrite; 0] {
        []
    }

    fn off() -> FlagOptions {
        FlagOptions {
            flagscase: false,
            filterflags: false,
        }
    }

    // imapsync's flags_for_host2 unit vectors.
    #[test]
    fn flags_for_host2_vectors() {
        let on = FlagOptions::default();
        let f = |s: &str, o: &FlagOptions, p: &str| flags_for_host2(s, o, p, &none()).flags;
        assert_eq!(f("", &off(), ""), "");
        assert_eq!(f("\\Recent", &off(), ""), "");
        assert_eq!(f("\\Recent \\Seen", &off(), ""), "\\Seen");
        assert_eq!(
            f("\\Deleted \\Recent \\Seen", &off(), ""),
            "\\Deleted \\Seen"
        );
        assert_eq!(f("\\DELETED \\Seen", &off(), ""), "\\DELETED \\Seen");
        assert_eq!(f("\\DELETED \\Seen", &on, ""), "\\Deleted \\Seen");
        let no_filter = FlagOptions {
            flagscase: true,
            filterflags: false,
        };
        assert_eq!(
            f("\\Seen \\Blabla", &no_filter, "\\Seen \\Junk"),
            "\\Seen \\Blabla"
        );
        assert_eq!(f("\\Seen \\Blabla", &on, "\\Seen \\Junk"), "\\Seen");
        assert_eq!(f("\\Seen \\Blabla", &on, ""), "\\Seen \\Blabla");
    }

    // Checked against Perl (imapsync 2.229 subs).
    #[test]
    fn remove_recent_quirks() {
        let f = |s: &str| flags_for_host2(s, &off(), "", &none()).flags;
        assert_eq!(f("\\RECENT\\Seen"), "\\Seen");
        assert_eq!(f("\\Recentfoo \\Seen"), "foo \\Seen");
        assert_eq!(f("  \\Seen \\recent"), "  \\Seen ");
        assert_eq!(f("\\Recent\t\\Seen"), "\\Seen");
        assert_eq!(f("\\Recent  \\Seen"), " \\Seen");
    }

    #[test]
    fn flagscase_vectors() {
        assert_eq!(flagscase("\\Seen"), "\\Seen");
        assert_eq!(flagscase("\\SEEN"), "\\Seen");
        assert_eq!(flagscase("\\SEEN \\DRAFT"), "\\Seen \\Draft");
        assert_eq!(flagscase("\\DRAFT \\SEEN"), "\\Draft \\Seen");
        assert_eq!(flagscase("\\DRAFT  LALA \\SEEN"), "\\Draft LALA \\Seen");
        assert_eq!(flagscase("\\DRAFT  lala \\SEEN"), "\\Draft lala \\Seen");
        // Perl oracle: leading blank kept as one space, trailing blanks dropped.
        assert_eq!(
            flagscase("  \\SEEN  foo \\DRAFT \\seen \\sEEN \\Recent "),
            " \\Seen foo \\Draft \\Seen \\Seen \\Recent"
        );
        assert_eq!(flagscase(""), "");
        assert_eq!(flagscase("   "), "");
    }

    #[test]
    fn flags_filter_vectors() {
        assert_eq!(
            flags_filter("\\Seen", "\\Draft \\Seen \\Answered"),
            "\\Seen"
        );
        assert_eq!(flags_filter("\\Seen", "\\Draft  \\Answered"), "");
        assert_eq!(flags_filter("\\Seen", "\\Seen"), "\\Seen");
        assert_eq!(flags_filter("\\Seen", " \\Seen "), "\\Seen");
        assert_eq!(
            flags_filter("\\Seen \\Draft", "\\Draft \\Seen \\Answered"),
            "\\Seen \\Draft"
        );
        assert_eq!(
            flags_filter("\\Seen \\Draft", " \\Draft \\Seen \\Answered "),
            "\\Seen \\Draft"
        );
        // Case-sensitive; keywords kept when listed.
        assert_eq!(flags_filter("\\SEEN Junk", "\\Seen Junk"), "Junk");
        // Perl oracle: leading blank, keyword listed explicitly.
        let on = FlagOptions::default();
        assert_eq!(
            flags_for_host2(" \\Seen \\Blabla  Junk", &on, "\\Seen Junk", &none()).flags,
            "\\Seen Junk"
        );
    }

    #[test]
    fn permanentflags_vectors() {
        assert_eq!(
            permanentflags(&[" * OK [PERMANENTFLAGS (\\* \\Draft \\Answered)] Limited"]),
            ""
        );
        assert_eq!(
            permanentflags(&[" * OK [PERMANENTFLAGS (\\Draft \\Answered)] Limited"]),
            "\\Draft \\Answered"
        );
        assert_eq!(
            permanentflags(&[
                "Blabla",
                " * OK [PERMANENTFLAGS (\\Draft \\Answered)] Limited",
                "Blabla"
            ]),
            "\\Draft \\Answered"
        );
        assert_eq!(permanentflags(&["Blabla"]), "");
        // Perl oracle.
        assert_eq!(permanentflags(&["* OK [PERMANENTFLAGS ()] x"]), "");
        assert_eq!(
            permanentflags(&["* OK [PERMANENTFLAGS (\\Seen \\Deleted \\*)] x"]),
            ""
        );
        assert_eq!(
            permanentflags(&[
                "* OK [PERMANENTFLAGS  (\\Seen)] x",
                "* OK [PERMANENTFLAGS (\\Answered $Junk)] y"
            ]),
            "\\Answered $Junk"
        );
        let empty: [&str; 0] = [];
        assert_eq!(permanentflags(&empty), "");
    }

    #[test]
    fn buggy_flags_vectors() {
        assert_eq!(
            filter_buggy_flags(
                "\\Deleted \\Answered \\RECEIPTCHECKED \\Draft \\Indexed \\Flagged \\JUNK \\Junk"
            ),
            "\\Deleted \\Answered  \\Draft  \\Flagged  "
        );
        assert_eq!(
            filter_buggy_flags("\\Deleted \\RECEIPTCHECKED \\Flagged \\Answered \\Indexed \\Draft"),
            "\\Deleted  \\Flagged \\Answered  \\Draft"
        );
        // Perl oracle: prefix matches and alternative order.
        assert_eq!(
            filter_buggy_flags(
                "\\Junkmail \\X-HAS-ATTACHMENT \\Forwarded \\forward \\$Forwarded \\X-Forwarded \\readrcpt \\Priority \\Unseen \\Attached \\X-EON-HAS-ATTACHMENT \\Seen"
            ),
            "mail MENT          \\Seen"
        );
        // Through the pipeline, flagscase then tidies the blanks.
        let buggy = BuggyFlagsFilter;
        let rw: [&dyn FlagRewrite; 1] = [&buggy];
        assert_eq!(
            flags_for_host2(
                "\\Deleted \\Answered \\RECEIPTCHECKED \\Draft \\Indexed \\Flagged \\JUNK \\Junk",
                &FlagOptions::default(),
                "",
                &rw
            )
            .flags,
            "\\Deleted \\Answered \\Draft \\Flagged"
        );
    }

    #[test]
    fn regexflags_chain_and_failure() {
        let remove_nonjunk = |s: &str| -> Result<String, String> { Ok(s.replace("NonJunk", "")) };
        let add = |s: &str| -> Result<String, String> { Ok(format!("{s} jrdH8u")) };
        let bad = |_: &str| -> Result<String, String> { Err("Unmatched ( in regex".to_owned()) };
        assert_eq!(regexflags("", &none()), Ok(String::new()));
        assert_eq!(
            regexflags("\\Seen NonJunk $Spam", &[&remove_nonjunk]),
            Ok("\\Seen  $Spam".to_owned())
        );
        assert_eq!(
            regexflags("REM", &[&remove_nonjunk, &add]),
            Ok("REM jrdH8u".to_owned())
        );
        let r = regexflags("x", &[&add, &bad]);
        assert!(matches!(r, Err(FlagsError::Rewrite { index: 1, .. })));
        // Perl oracle: a failing expression leaves the \Recent-stripped input to flagscase.
        let out = flags_for_host2(
            "\\Recent \\SEEN",
            &FlagOptions::default(),
            "",
            &[&add, &bad],
        );
        assert_eq!(out.flags, "\\Seen");
        assert!(out.rewrite_error.is_some());
    }

    #[test]
    fn resync_comparison() {
        let on = FlagOptions::default();
        let r = flags_resync("\\Seen \\Flagged", "\\Flagged \\Seen", &on, "", &none());
        assert!(!r.differ);
        let r = flags_resync("\\SEEN", "\\seen", &on, "", &none());
        assert!(!r.differ);
        let r = flags_resync("\\Seen $Label1 \\Answered", "\\Seen", &on, "", &none());
        assert!(r.differ);
        assert_eq!(
            r.store_argument(),
            "FLAGS.SILENT ($Label1 \\Answered \\Seen)"
        );
        // host2-only flags are removed by the store.
        let r = flags_resync("", "\\Seen", &on, "", &none());
        assert!(r.differ);
        assert_eq!(r.store_argument(), "FLAGS.SILENT ()");
        // \Recent on host2 is not removed: the lists differ.
        let r = flags_resync("\\Recent \\Seen", "\\Recent \\Seen", &on, "", &none());
        assert!(r.differ);
        // Keyword case matters.
        let r = flags_resync("junk", "Junk", &on, "", &none());
        assert!(r.differ);
        // Duplicates are not merged.
        let r = flags_resync("\\Seen \\Seen", "\\Seen", &on, "", &none());
        assert!(r.differ);
        assert_eq!(
            r.store_error_message("INBOX", 957_910, "33 NO Error"),
            "Host2: flags msg INBOX/957910 could not add flags [\\Seen \\Seen]: 33 NO Error\n"
        );
        // flagscase applies to host2 even with --noflagscase.
        let r = flags_resync("\\Seen", "\\SEEN", &off(), "", &none());
        assert!(!r.differ);
    }

    #[test]
    fn append_argument() {
        assert_eq!(append_flags_argument(""), "()");
        assert_eq!(
            append_flags_argument(" \\Seen \\Draft "),
            "(\\Seen \\Draft)"
        );
        assert_eq!(append_flags_argument("(\\Seen)"), "(\\Seen)");
    }
}
