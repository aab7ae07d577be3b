//! Folder names: which host1 folders to sync, in which order, and what they are called on host2.
//!
//! Everything here works on raw names as the servers list them (modified UTF-7, see
//! [`imapsync_proto::mutf7`]); [`display_name`] renders imapsync's `[raw] = [utf8]` form.
//!
//! Main pieces and how they compose (the order follows a run, spec §2.3 and §5):
//!
//! 1. [`Namespace`] per side: hierarchy separator and personal prefix, from NAMESPACE or guessed
//!    from the folder list ([`guess_separator`], [`guess_prefix`]), options overriding both
//!    ([`resolve_separator`], [`resolve_prefix`]).
//! 2. [`select_folders`]: the host1 folders to sync, from the LIST/LSUB results and
//!    `--folder`, `--folderrec`, `--subfolder1`, `--subscribed`, `--include`, `--exclude`,
//!    `--checkfoldersexist`, `--checkselectable` (on by default up to 152 folders), ordered with
//!    [`order_folders`] (byte-wise, then `--folderfirst`/`--folderlast`). It also returns the
//!    informational lines and warnings imapsync prints.
//! 3. [`FolderMapper`]: the host1 → host2 name mapping in the exact order of spec §5.1: `--f1f2`,
//!    automap table ([`crate::automap`]), `--subfolder1` removal, empty/prefix → `INBOX`, prefix
//!    strip, separator inversion, `--fixslash2`, host2 prefix (never for INBOX), then the
//!    `--regextrans2` chain with `--subfolder2`'s three rules first and the automatic
//!    `INBOX`/`Inbox` rule last.
//! 4. [`host2_sources`] (§5.9: several host1 folders feeding one host2 folder),
//!    [`folders_in_2_not_in_1`] (what `--delete2folders` considers) and [`parents_to_create`]
//!    (§5.10: parents first, never INBOX).
//!
//! Errors are [`FolderError`]; none of the functions panics on odd names.

use std::collections::{BTreeMap, BTreeSet};

use imapsync_proto::mutf7;

use crate::perlre::{PerlExpr, PerlExprError, Regex, RegexFlags, ReplacementPart, perl_regex};

/// imapsync's separator when nothing else is known.
pub const LAST_RESORT_SEPARATOR: &str = "/";

/// Above this many wanted folders `--checkselectable` is off unless asked for.
pub const CHECKSELECTABLE_MAX_FOLDERS: usize = 152;

/// What can go wrong while selecting or mapping folders.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FolderError {
    /// A `--regextrans2` rule failed on a name (imapsync exits 64 here).
    #[error("error: regextrans2 rule {rule:?} failed on host1 folder [{host1}]: {source}")]
    Regextrans2 {
        /// The rule as given.
        rule: String,
        /// The host1 folder being mapped.
        host1: String,
        /// Why.
        source: PerlExprError,
    },
    /// A rule generated from option values (`--subfolder1`, `--subfolder2`) does not compile,
    /// e.g. because of an odd host2 prefix inserted into a pattern.
    #[error("cannot build the rule {rule:?} generated for --subfolder1/--subfolder2: {source}")]
    GeneratedRule {
        /// The generated rule.
        rule: String,
        /// Why.
        source: PerlExprError,
    },
    /// `--f1f2` without `=`.
    #[error("--f1f2 {value:?}: expected host1_folder=host2_folder")]
    BadF1f2 {
        /// The value given.
        value: String,
    },
    /// An `--include`/`--exclude` regex that does not compile.
    #[error("--{option} {pattern:?}: {source}")]
    BadPattern {
        /// `include` or `exclude`.
        option: &'static str,
        /// The pattern as given.
        pattern: String,
        /// Why.
        source: PerlExprError,
    },
    /// An `--include`/`--exclude` regex failed while matching (backtracking limit).
    #[error("--{option} {pattern:?} on [{folder}]: {message}")]
    PatternRuntime {
        /// `include` or `exclude`.
        option: &'static str,
        /// The pattern as given.
        pattern: String,
        /// The folder being tested.
        folder: String,
        /// fancy-regex's message.
        message: String,
    },
    /// `--subfolder1` names a folder host1 does not have (imapsync exits 21).
    #[error(
        "subfolder1 {subfolder1} does not exist: neither [{subfolder1}] nor [{extended}] is on host1"
    )]
    Subfolder1Missing {
        /// The sanitized value.
        subfolder1: String,
        /// The value with the host1 prefix.
        extended: String,
    },
}

/// imapsync's `[raw] = [utf8]` rendering of a folder name (`[raw]` alone when ASCII).
pub fn display_name(raw: &str) -> String {
    mutf7::juxtapose(raw)
}

/// One [`display_name`] per line, each followed by a newline (imapsync's folder lists).
pub fn display_list<S: AsRef<str>>(names: &[S]) -> String {
    let mut s = String::new();
    for n in names {
        s.push_str(&display_name(n.as_ref()));
        s.push('\n');
    }
    s
}

// ---------------------------------------------------------------------------------------------
// LIST results

/// One LIST (or LSUB) response: raw name and attributes as sent (`\Noselect`, `\Sent`, ...).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ListedFolder {
    /// Raw (modified UTF-7) name.
    pub name: String,
    /// Attributes with their backslash.
    pub attributes: Vec<String>,
}

impl ListedFolder {
    /// A listed folder.
    pub fn new(name: impl Into<String>, attributes: &[&str]) -> ListedFolder {
        ListedFolder {
            name: name.into(),
            attributes: attributes.iter().map(|a| (*a).to_string()).collect(),
        }
    }

    /// Case-insensitive attribute test (`has_attribute("\\Noselect")`).
    pub fn has_attribute(&self, attribute: &str) -> bool {
        self.attributes
            .iter()
            .any(|a| a.eq_ignore_ascii_case(attribute))
    }

    /// False for `\Noselect` (and RFC 5258's `\NonExistent`, which implies it).
    pub fn is_selectable(&self) -> bool {
        !(self.has_attribute("\\Noselect") || self.has_attribute("\\NonExistent"))
    }
}

/// The names imapsync works with: selectable folders only (Mail::IMAPClient drops `\Noselect`
/// entries from its folder lists), byte-wise sorted, without duplicates.
pub fn selectable_names(list: &[ListedFolder]) -> Vec<String> {
    let set: BTreeSet<&str> = list
        .iter()
        .filter(|f| f.is_selectable())
        .map(|f| f.name.as_str())
        .collect();
    set.into_iter().map(str::to_string).collect()
}

// ---------------------------------------------------------------------------------------------
// Separator and prefix

/// A side's personal namespace.
///
/// The separator is a string because imapsync's guess can produce the two-character `\\`
/// (a doubled backslash) as well as single characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Namespace {
    /// Hierarchy separator.
    pub sep: String,
    /// Personal namespace prefix (`INBOX.`, `INBOX/` or empty).
    pub prefix: String,
}

impl Namespace {
    /// A namespace from its parts.
    pub fn new(sep: impl Into<String>, prefix: impl Into<String>) -> Namespace {
        let sep = sep.into();
        Namespace {
            sep: if sep.is_empty() {
                LAST_RESORT_SEPARATOR.to_string()
            } else {
                sep
            },
            prefix: prefix.into(),
        }
    }
}

/// Guess the separator from folder names: the most frequent of `/`, `.`, a doubled backslash
/// and a single backslash (one between two non-backslash characters), `/` when none occurs.
/// imapsync breaks ties in hash order (random); we prefer `/`, then `.`, `\\`, `\`.
pub fn guess_separator<S: AsRef<str>>(names: &[S]) -> String {
    let mut counts = [0usize; 4];
    for name in names {
        let b = name.as_ref().as_bytes();
        counts[0] += b.iter().filter(|c| **c == b'/').count();
        counts[1] += b.iter().filter(|c| **c == b'.').count();
        // non-overlapping pairs of backslashes
        let mut run = 0;
        for &c in b.iter().chain(std::iter::once(&0u8)) {
            if c == b'\\' {
                run += 1;
            } else {
                counts[2] += run / 2;
                run = 0;
            }
        }
        // x\y with x and y not backslashes, leftmost first, resuming after the backslash
        let mut i = 0;
        while i + 2 < b.len() {
            if b[i] != b'\\' && b[i + 1] == b'\\' && b[i + 2] != b'\\' {
                counts[3] += 1;
                i += 2;
            } else {
                i += 1;
            }
        }
    }
    let seps = ["/", ".", "\\\\", "\\"];
    let mut best: Option<usize> = None;
    for (k, n) in counts.iter().enumerate() {
        if *n > 0 && best.is_none_or(|b| *n > counts[b]) {
            best = Some(k);
        }
    }
    best.map_or(LAST_RESORT_SEPARATOR, |k| seps[k]).to_string()
}

/// Guess the personal prefix: ignoring `INBOX` itself, if every other name starts with
/// `INBOX.` or `INBOX/` (case-insensitively) the prefix is that string as spelled by the last
/// such name, otherwise empty. Names starting with `INBOX` without a separator neither set nor
/// reset the guess (as in imapsync).
pub fn guess_prefix<S: AsRef<str>>(names: &[S]) -> String {
    let mut prefix = String::new();
    for name in names {
        let n = name.as_ref();
        if n.eq_ignore_ascii_case("INBOX") {
            continue;
        }
        let head = n.get(..5);
        if !head.is_some_and(|h| h.eq_ignore_ascii_case("INBOX")) {
            return String::new();
        }
        if let Some(p) = n.get(..6)
            && (p.ends_with('.') || p.ends_with('/'))
        {
            prefix = p.to_string();
        }
    }
    prefix
}

/// Where a separator or prefix came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// `--sepN` / `--prefixN`.
    Option,
    /// The server's NAMESPACE (or LIST delimiter) answer.
    Server,
    /// Guessed from the folder names.
    Guessed,
}

/// A resolved separator or prefix and the lines to print about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The value in force.
    pub value: String,
    /// Where it came from.
    pub origin: Origin,
    /// Informational lines (`Host1: ...`).
    pub lines: Vec<String>,
}

/// Pick the separator of a side (`side` is `Host1`/`Host2`, `option_name` `--sep1`/`--sep2`).
/// `server` is the separator the server gave (NAMESPACE personal delimiter, or the LIST
/// delimiter); `has_namespace` whether NAMESPACE is advertised. The option wins, then the
/// server, then the guess from `names`.
pub fn resolve_separator<S: AsRef<str>>(
    side: &str,
    option_name: &str,
    has_namespace: bool,
    server: Option<&str>,
    option: Option<&str>,
    names: &[S],
) -> Resolved {
    let guessed = guess_separator(names);
    let mut lines = vec![format!(
        "{side}: guessing separator from folder listing: [{guessed}]"
    )];
    let server = server.filter(|s| !s.is_empty());
    if let Some(sep) = server.filter(|_| has_namespace) {
        lines.push(format!("{side}: separator given by NAMESPACE: [{sep}]"));
    }
    if let Some(opt) = option {
        lines.push(format!(
            "{side}: using separator [{opt}] given by {option_name}"
        ));
        return Resolved {
            value: opt.to_string(),
            origin: Origin::Option,
            lines,
        };
    }
    if let (true, Some(sep)) = (has_namespace, server) {
        return Resolved {
            value: sep.to_string(),
            origin: Origin::Server,
            lines,
        };
    }
    lines.push(format!(
        "{side}: {} so using guessed separator [{guessed}]; {option_name} sets it",
        if has_namespace {
            "NAMESPACE request failed"
        } else {
            "no NAMESPACE capability"
        }
    ));
    Resolved {
        value: guessed,
        origin: Origin::Guessed,
        lines,
    }
}

/// Pick the personal prefix of a side: the option, else the NAMESPACE personal prefix when
/// NAMESPACE is advertised (`server` None or empty then means no prefix), else the guess.
pub fn resolve_prefix<S: AsRef<str>>(
    side: &str,
    option_name: &str,
    has_namespace: bool,
    server: Option<&str>,
    option: Option<&str>,
    names: &[S],
) -> Resolved {
    let guessed = guess_prefix(names);
    let mut lines = vec![format!(
        "{side}: guessing prefix from folder listing: [{guessed}]"
    )];
    if has_namespace {
        lines.push(format!(
            "{side}: prefix given by NAMESPACE: [{}]",
            server.unwrap_or("")
        ));
    }
    if let Some(opt) = option {
        lines.push(format!(
            "{side}: using prefix [{opt}] given by {option_name}"
        ));
        return Resolved {
            value: opt.to_string(),
            origin: Origin::Option,
            lines,
        };
    }
    if has_namespace {
        return Resolved {
            value: server.unwrap_or("").to_string(),
            origin: Origin::Server,
            lines,
        };
    }
    lines.push(format!(
        "{side}: no NAMESPACE capability so using guessed prefix [{guessed}]; {option_name} sets it"
    ));
    Resolved {
        value: guessed,
        origin: Origin::Guessed,
        lines,
    }
}

// ---------------------------------------------------------------------------------------------
// Small helpers shared by selection and mapping

/// `--subfolder1`/`--subfolder2` sanitation: trim blanks at both ends, then keep only
/// `A-Za-z0-9`, `-`, `_`, `.`, `/` and space. `None` when nothing is left.
pub fn sanitize_subfolder(value: &str) -> Option<String> {
    let trimmed = value.trim_matches(' ');
    let kept: String = trimmed
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/' | ' '))
        .collect();
    (!kept.is_empty()).then_some(kept)
}

/// Parse one `--f1f2` value (`src=dst`, split at the first `=`).
pub fn parse_f1f2(value: &str) -> Result<(String, String), FolderError> {
    match value.split_once('=') {
        Some((a, b)) => Ok((a.to_string(), b.to_string())),
        None => Err(FolderError::BadF1f2 {
            value: value.to_string(),
        }),
    }
}

/// The automatic `INBOX`/`Inbox` rule from both full folder lists (exact spellings):
/// `Some(("INBOX", "Inbox"))` means host1's `INBOX` becomes `Inbox`.
pub fn inbox_fix<S: AsRef<str>>(
    h1_all: &[S],
    h2_all: &[S],
) -> Option<(&'static str, &'static str)> {
    let has = |l: &[S], n: &str| l.iter().any(|x| x.as_ref() == n);
    if has(h1_all, "INBOX") && has(h2_all, "INBOX") {
        return None;
    }
    if has(h1_all, "Inbox") && has(h2_all, "Inbox") {
        return None;
    }
    if has(h1_all, "INBOX") && has(h2_all, "Inbox") {
        return Some(("INBOX", "Inbox"));
    }
    if has(h1_all, "Inbox") && has(h2_all, "INBOX") {
        return Some(("Inbox", "INBOX"));
    }
    None
}

/// Steps 5–8 of §5.1: strip the host1 prefix (literal, leading), swap separators through a NUL
/// placeholder, apply `--fixslash2`, add the host2 prefix unless the result is `INBOX` (any case).
pub fn invert_prefix_and_separator(
    name: &str,
    host1: &Namespace,
    host2: &Namespace,
    fixslash2: bool,
) -> String {
    let stripped = name.strip_prefix(host1.prefix.as_str()).unwrap_or(name);
    let inverted = separator_invert(stripped, &host1.sep, &host2.sep, fixslash2);
    if inverted.eq_ignore_ascii_case("INBOX") {
        inverted
    } else {
        format!("{}{}", host2.prefix, inverted)
    }
}

/// imapsync's separator swap: host2-separator characters already in the name become the
/// host1 separator, host1 separators become the host2 one; with `fixslash2`, when host1's
/// separator is `/` and host2's is not, the remaining `/` become `_`.
pub fn separator_invert(name: &str, sep1: &str, sep2: &str, fixslash2: bool) -> String {
    const PLACEHOLDER: &str = "\0";
    let mut s = if sep2.is_empty() {
        name.to_string()
    } else {
        name.replace(sep2, PLACEHOLDER)
    };
    if !sep1.is_empty() {
        s = s.replace(sep1, sep2);
    }
    s = s.replace(PLACEHOLDER, sep1);
    if fixslash2 && sep1 == "/" && sep2 != "/" {
        s = s.replace('/', "_");
    }
    s
}

// ---------------------------------------------------------------------------------------------
// Mapping

/// Options of the host1 → host2 name mapping.
#[derive(Debug, Clone, Default)]
pub struct MapperOptions {
    /// `--f1f2` pairs in command-line order (a later pair for the same source wins).
    pub f1f2: Vec<(String, String)>,
    /// The `--automap` table (host1 → host2), see [`crate::automap`].
    pub automap: BTreeMap<String, String>,
    /// `--subfolder1` as given (sanitized here).
    pub subfolder1: Option<String>,
    /// `--subfolder2` as given (sanitized here).
    pub subfolder2: Option<String>,
    /// `--regextrans2` rules: the user's in command-line order followed by those of presets.
    pub regextrans2: Vec<PerlExpr>,
    /// `--fixslash2` (imapsync's default: on).
    pub fixslash2: bool,
    /// `--fixInboxINBOX` (imapsync's default: on).
    pub fix_inbox_inbox: bool,
}

impl MapperOptions {
    /// imapsync's defaults: fixslash2 and fixInboxINBOX on, nothing else.
    pub fn imapsync_defaults() -> MapperOptions {
        MapperOptions {
            fixslash2: true,
            fix_inbox_inbox: true,
            ..MapperOptions::default()
        }
    }
}

/// How a host2 name was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MappedVia {
    /// An `--f1f2` pair.
    F1f2,
    /// The automap table.
    Automap,
    /// Prefix/separator translation and the regextrans2 chain.
    Rules,
}

/// The host1 → host2 name mapping of spec §5.1; build once per run, then call [`FolderMapper::map`].
#[derive(Debug, Clone)]
pub struct FolderMapper {
    host1: Namespace,
    host2: Namespace,
    f1f2: BTreeMap<String, String>,
    automap: BTreeMap<String, String>,
    subfolder1: Option<String>,
    subfolder1_re: Option<Regex>,
    subfolder2: Option<String>,
    rules: Vec<PerlExpr>,
    fixslash2: bool,
    lines: Vec<String>,
}

impl FolderMapper {
    /// Build the mapper. `h1_all` and `h2_all` are the selectable folder names of each side
    /// (they decide the `INBOX`/`Inbox` rule).
    pub fn new<S: AsRef<str>>(
        options: MapperOptions,
        host1: Namespace,
        host2: Namespace,
        h1_all: &[S],
        h2_all: &[S],
    ) -> Result<FolderMapper, FolderError> {
        let mut lines = Vec::new();
        // select_folders reports subfolder1's sanitation; report subfolder2's here.
        let subfolder1 = options.subfolder1.as_deref().and_then(sanitize_subfolder);
        let subfolder2 =
            sanitized_with_line("subfolder2", options.subfolder2.as_deref(), &mut lines);
        let mut automap = options.automap;
        if !automap.is_empty() {
            for (set, name) in [(&subfolder1, "--subfolder1"), (&subfolder2, "--subfolder2")] {
                if set.is_some() && !automap.is_empty() {
                    lines.push(format!("Turning off automapping folders because of {name}"));
                    automap.clear();
                }
            }
        }
        let subfolder1_re = match &subfolder1 {
            Some(s1) => Some(subfolder1_regex(s1, &host1.sep)?),
            None => None,
        };
        let mut rules = Vec::new();
        if let Some(s2) = &subfolder2 {
            rules.extend(subfolder2_rules(s2, &host2)?);
        }
        rules.extend(options.regextrans2);
        if options.fix_inbox_inbox
            && let Some((from, to)) = inbox_fix(h1_all, h2_all)
        {
            let display = format!("s/^{from}$/{to}/x");
            let rule = PerlExpr::parse(&display).map_err(|source| FolderError::GeneratedRule {
                rule: display.clone(),
                source,
            })?;
            rules.push(rule);
        }
        for r in &rules {
            if r.returns_copy() {
                lines.push(format!(
                    "regextrans2 {:?} has the /r flag: Perl then leaves the name unchanged, and so do we",
                    r.source()
                ));
            }
        }
        Ok(FolderMapper {
            host1,
            host2,
            f1f2: options.f1f2.into_iter().collect(),
            automap,
            subfolder1,
            subfolder1_re,
            subfolder2,
            rules,
            fixslash2: options.fixslash2,
            lines,
        })
    }

    /// Lines to print about the mapper's set-up (subfolder2 sanitation, automap turned off by
    /// a subfolder option, rules with /r).
    pub fn lines(&self) -> &[String] {
        &self.lines
    }

    /// The `--f1f2` block imapsync prints, flagging sources host1 does not have (empty when no
    /// `--f1f2` was given).
    pub fn f1f2_report<S: AsRef<str>>(&self, h1_all: &[S]) -> Vec<String> {
        if self.f1f2.is_empty() {
            return Vec::new();
        }
        let mut out =
            vec!["Folders mapping from --f1f2 options, it overrides --automap:".to_string()];
        for (h1, h2) in &self.f1f2 {
            let missing = !h1_all.iter().any(|n| n.as_ref() == h1);
            let warn = if missing {
                format!(" BUT {h1} does NOT exist on host1!")
            } else {
                String::new()
            };
            out.push(
                format!("{:<40} -> {:<40}{warn}", display_name(h1), display_name(h2))
                    .trim_end()
                    .to_string(),
            );
        }
        out.push(String::new());
        out
    }

    /// The sanitized `--subfolder1`, if any.
    pub fn subfolder1(&self) -> Option<&str> {
        self.subfolder1.as_deref()
    }

    /// The sanitized `--subfolder2`, if any.
    pub fn subfolder2(&self) -> Option<&str> {
        self.subfolder2.as_deref()
    }

    /// The full regextrans2 chain in application order (subfolder2's rules, the given rules,
    /// then the INBOX/Inbox rule).
    pub fn rules(&self) -> &[PerlExpr] {
        &self.rules
    }

    /// Host1 and host2 namespaces in use.
    pub fn namespaces(&self) -> (&Namespace, &Namespace) {
        (&self.host1, &self.host2)
    }

    /// The host2 name of a host1 folder.
    pub fn map(&self, host1_name: &str) -> Result<String, FolderError> {
        self.map_with_origin(host1_name).map(|(n, _)| n)
    }

    /// [`FolderMapper::map`] and how the name was obtained.
    pub fn map_with_origin(&self, host1_name: &str) -> Result<(String, MappedVia), FolderError> {
        // Perl tests the looked-up value for truth: an empty target means "no mapping".
        if let Some(dst) = self.f1f2.get(host1_name).filter(|d| !d.is_empty()) {
            return Ok((dst.clone(), MappedVia::F1f2));
        }
        if let Some(dst) = self.automap.get(host1_name).filter(|d| !d.is_empty()) {
            return Ok((dst.clone(), MappedVia::Automap));
        }
        let mut name = host1_name.to_string();
        if let Some(re) = &self.subfolder1_re
            && let Ok(Some(m)) = re.find(&name)
        {
            name.replace_range(m.start()..m.end(), "");
        }
        if name.is_empty() || name == self.host1.prefix {
            name = "INBOX".to_string();
        }
        let mut h2 = invert_prefix_and_separator(&name, &self.host1, &self.host2, self.fixslash2);
        for rule in &self.rules {
            if rule.returns_copy() || rule.kind() == crate::perlre::ExprKind::Match {
                // `$name =~ m//` or `s///r` leave the name as it is in Perl.
                continue;
            }
            h2 = rule.apply(&h2).map_err(|source| FolderError::Regextrans2 {
                rule: rule.source().to_string(),
                host1: host1_name.to_string(),
                source,
            })?;
        }
        Ok((h2, MappedVia::Rules))
    }
}

fn sanitized_with_line(what: &str, value: Option<&str>, lines: &mut Vec<String>) -> Option<String> {
    let raw = value?;
    let clean = sanitize_subfolder(raw);
    if let Some(c) = &clean {
        lines.push(format!("Sanitizing {what}: [{raw}] => [{c}]"));
    }
    clean
}

/// The regex removing `--subfolder1` (and a following separator) from a name. As in imapsync,
/// the sanitized value is used as a regex, unanchored (so its `.` match any character).
fn subfolder1_regex(subfolder1: &str, sep1: &str) -> Result<Regex, FolderError> {
    let part = if sep1.chars().count() == 1 {
        subfolder1.strip_suffix(sep1).unwrap_or(subfolder1)
    } else {
        subfolder1
    };
    let pattern = format!("{part}(?:{})?", quote_regex(sep1));
    perl_regex(&pattern).map_err(|source| FolderError::GeneratedRule {
        rule: pattern,
        source,
    })
}

/// Escape a literal for a Perl pattern (`\Q...\E`).
fn quote_regex(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 2);
    for c in s.chars() {
        if c.is_ascii() && !(c.is_ascii_alphanumeric() || c == '_') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `--subfolder2`'s three rules, inserted before every other regextrans2 rule. The host2 prefix
/// is inserted into the patterns unescaped, as imapsync does (a `.` matches any character).
fn subfolder2_rules(sub: &str, host2: &Namespace) -> Result<Vec<PerlExpr>, FolderError> {
    let p = &host2.prefix;
    let sep = &host2.sep;
    let build = |display: String, pattern: String, repl: Vec<ReplacementPart>| {
        PerlExpr::substitution(&display, &pattern, RegexFlags::default(), false, &repl).map_err(
            |source| FolderError::GeneratedRule {
                rule: display,
                source,
            },
        )
    };
    Ok(vec![
        build(
            format!("s,^{p}(.*),{p}{sub}{sep}$1,"),
            format!("^{p}(.*)"),
            vec![
                ReplacementPart::Text(format!("{p}{sub}{sep}")),
                ReplacementPart::Group(1),
            ],
        )?,
        build(
            format!("s,^INBOX$,{p}{sub}{sep}INBOX,"),
            "^INBOX$".to_string(),
            vec![ReplacementPart::Text(format!("{p}{sub}{sep}INBOX"))],
        )?,
        build(
            format!("s,^({p}){{2}},{p},"),
            format!("^({p}){{2}}"),
            vec![ReplacementPart::Text(p.clone())],
        )?,
    ])
}

/// Host2 folder → the host1 folders that map to it, in `wanted` order (§5.9: a host2 folder
/// fed by several host1 folders gets special treatment with `--delete2`).
pub fn host2_sources<S: AsRef<str>>(
    mapper: &FolderMapper,
    wanted: &[S],
) -> Result<BTreeMap<String, Vec<String>>, FolderError> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for h1 in wanted {
        let h2 = mapper.map(h1.as_ref())?;
        out.entry(h2).or_default().push(h1.as_ref().to_string());
    }
    Ok(out)
}

/// The host2 folders fed by more than one wanted host1 folder.
pub fn shared_host2_folders(sources: &BTreeMap<String, Vec<String>>) -> BTreeSet<String> {
    sources
        .iter()
        .filter(|(_, v)| v.len() > 1)
        .map(|(k, _)| k.clone())
        .collect()
}

/// Host2 folders with no host1 counterpart: not listed on host1 and not the image of any host1
/// folder (nor `--subfolder2` itself), in reverse byte order (children before parents) as
/// imapsync lists (and deletes) them.
pub fn folders_in_2_not_in_1<S: AsRef<str>>(
    mapper: &FolderMapper,
    h1_all: &[S],
    h2_all: &[S],
) -> Result<Vec<String>, FolderError> {
    let h1: BTreeSet<&str> = h1_all.iter().map(AsRef::as_ref).collect();
    let mut images = BTreeSet::new();
    for f in h1_all {
        images.insert(mapper.map(f.as_ref())?);
    }
    if let Some(s2) = mapper.subfolder2() {
        images.insert(format!("{}{}", mapper.host2.prefix, s2));
        images.insert(s2.to_string());
    }
    let candidates: BTreeSet<&str> = h2_all
        .iter()
        .map(AsRef::as_ref)
        .filter(|f| !h1.contains(f) && !images.contains(*f))
        .collect();
    Ok(candidates.into_iter().rev().map(str::to_string).collect())
}

// ---------------------------------------------------------------------------------------------
// Creation

/// The parents of `host2_name` that must be created first, outermost first (§5.10): split on
/// the separator (trailing empty parts dropped, as Perl's `split` does), blank-trimmed parents,
/// skipping those in `existing` and never INBOX (compared case-insensitively, also against
/// `existing`).
pub fn parents_to_create<S: AsRef<str>>(
    host2_name: &str,
    sep: &str,
    existing: &[S],
) -> Vec<String> {
    let exists = |n: &str| {
        existing.iter().any(|e| {
            let e = e.as_ref();
            e == n || (n.eq_ignore_ascii_case("INBOX") && e.eq_ignore_ascii_case("INBOX"))
        })
    };
    let mut chain = Vec::new();
    let mut current = host2_name.to_string();
    // Each step strictly shortens the name, so this ends.
    while let Some(parent) = perl_parent(&current, sep) {
        if exists(&parent) || parent.eq_ignore_ascii_case("INBOX") {
            break;
        }
        chain.push(parent.clone());
        current = parent;
    }
    chain.reverse();
    chain
}

/// imapsync's parent: `split /\Qsep\E/` (trailing empty fields removed), drop the last field,
/// join, trim blanks. None when empty.
fn perl_parent(name: &str, sep: &str) -> Option<String> {
    if sep.is_empty() {
        return None;
    }
    let mut parts: Vec<&str> = name.split(sep).collect();
    while parts.last().is_some_and(|p| p.is_empty()) {
        parts.pop();
    }
    parts.pop()?;
    let parent = parts.join(sep);
    let parent = parent.trim();
    (!parent.is_empty() && parent.len() < name.len()).then(|| parent.to_string())
}

// ---------------------------------------------------------------------------------------------
// Selection and ordering

/// Order selected folders as imapsync does: the `first` ones that are selected, in `first`
/// order; then the rest byte-wise sorted; then the `last` ones that are selected, in `last`
/// order. Duplicates are dropped.
pub fn order_folders<S: AsRef<str>>(selected: &[S], first: &[S], last: &[S]) -> Vec<String> {
    let mut remaining: BTreeSet<String> = selected.iter().map(|s| s.as_ref().to_string()).collect();
    let mut head = Vec::new();
    for f in first {
        if remaining.remove(f.as_ref()) {
            head.push(f.as_ref().to_string());
        }
    }
    let mut tail = Vec::new();
    for f in last {
        if remaining.remove(f.as_ref()) {
            tail.push(f.as_ref().to_string());
        }
    }
    head.extend(remaining);
    head.extend(tail);
    head
}

/// Selection options (spec §1.3).
#[derive(Debug, Clone, Default)]
pub struct SelectionOptions {
    /// `--folder` values (raw names).
    pub folder: Vec<String>,
    /// `--folderrec` values.
    pub folderrec: Vec<String>,
    /// `--include` patterns (Perl syntax).
    pub include: Vec<String>,
    /// `--exclude` patterns (Perl syntax).
    pub exclude: Vec<String>,
    /// `--subscribed`.
    pub subscribed: bool,
    /// `--checkfoldersexist` (imapsync's default: on).
    pub checkfoldersexist: bool,
    /// `--checkselectable`; `None` means imapsync's default (on up to 152 wanted folders).
    pub checkselectable: Option<bool>,
    /// `--subfolder1` as given (sanitized here; acts like `--folderrec`).
    pub subfolder1: Option<String>,
    /// `--folderfirst` values.
    pub folderfirst: Vec<String>,
    /// `--folderlast` values.
    pub folderlast: Vec<String>,
}

impl SelectionOptions {
    /// imapsync's defaults (checkfoldersexist on, checkselectable automatic).
    pub fn imapsync_defaults() -> SelectionOptions {
        SelectionOptions {
            checkfoldersexist: true,
            ..SelectionOptions::default()
        }
    }
}

/// What host1 told us.
#[derive(Debug, Clone, Copy)]
pub struct Host1Listing<'a> {
    /// `LIST "" "*"`, with attributes.
    pub list: &'a [ListedFolder],
    /// `LSUB "" "*"`, with attributes.
    pub lsub: &'a [ListedFolder],
    /// Host1's namespace (separator for `--folderrec`, prefix for `--subfolder1`).
    pub namespace: &'a Namespace,
}

/// The outcome of [`select_folders`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    /// Host1 folders to sync, in processing order.
    pub folders: Vec<String>,
    /// Informational lines, in the order imapsync prints them.
    pub lines: Vec<String>,
    /// Warnings (folders dropped because missing or not selectable).
    pub warnings: Vec<String>,
    /// The folder `--subfolder1` resolved to (it is handled like `--folderrec`).
    pub subfolder1_folder: Option<String>,
    /// Whether the selectability check ran.
    pub checked_selectable: bool,
}

/// Select and order the host1 folders to sync (spec §1.3, §2.3 step 4).
///
/// `--folderrec` is expanded from `listing.list` (folders under `name<sep>`, plus the folder
/// itself when listed and selectable); callers needing a server-side expansion for namespaces
/// absent from `LIST "" "*"` add those LIST results to `list`.
pub fn select_folders(
    listing: Host1Listing<'_>,
    options: &SelectionOptions,
) -> Result<Selection, FolderError> {
    let mut sel = Selection::default();
    let all = selectable_names(listing.list);
    let all_set: BTreeSet<&str> = all.iter().map(String::as_str).collect();
    let sep = listing.namespace.sep.as_str();

    let mut folderrec = options.folderrec.clone();
    if let Some(raw) = &options.subfolder1
        && let Some(s1) = sanitize_subfolder(raw)
    {
        sel.lines
            .push(format!("Sanitizing subfolder1: [{raw}] => [{s1}]"));
        let extended = format!("{}{}", listing.namespace.prefix, s1);
        let found = if all_set.contains(s1.as_str()) {
            s1.clone()
        } else if all_set.contains(extended.as_str()) {
            extended.clone()
        } else {
            return Err(FolderError::Subfolder1Missing {
                subfolder1: s1,
                extended,
            });
        };
        sel.lines
            .push(format!("Acting like --folderrec \"{found}\""));
        folderrec.push(found.clone());
        sel.subfolder1_folder = Some(found);
    }

    let mut requested: BTreeSet<String> = BTreeSet::new();
    if !options.folder.is_empty() || options.subscribed || !folderrec.is_empty() {
        requested.extend(options.folder.iter().cloned());
        if options.subscribed {
            requested.extend(selectable_names(listing.lsub));
        }
        for rec in &folderrec {
            requested.extend(folderrec_members(rec, sep, listing.list));
        }
    } else if options.include.is_empty() {
        sel.lines.push(
            "Including all folders found by default. Use --subscribed or --folder or --folderrec or --include to select specific folders. Use --exclude to unselect specific folders."
                .to_string(),
        );
        requested.extend(all.iter().cloned());
    }

    for pattern in &options.include {
        let re = compile_pattern("include", pattern)?;
        let mut hits = Vec::new();
        for f in &all {
            if pattern_matches("include", pattern, &re, f)? {
                hits.push(f.clone());
            }
        }
        sel.lines.push(format!(
            "Including folders matching pattern {pattern}\n{}",
            display_list(&hits)
        ));
        requested.extend(hits);
    }
    for pattern in &options.exclude {
        let re = compile_pattern("exclude", pattern)?;
        let mut hits = Vec::new();
        for f in &requested {
            if pattern_matches("exclude", pattern, &re, f)? {
                hits.push(f.clone());
            }
        }
        for h in &hits {
            requested.remove(h);
        }
        sel.lines.push(format!(
            "Excluding folders matching pattern {pattern}\n{}",
            display_list(&hits)
        ));
    }

    let requested: Vec<String> = requested.into_iter().collect();
    let mut wanted = order_folders(&requested, &options.folderfirst, &options.folderlast);

    if options.checkfoldersexist {
        sel.lines.push(
            "Host1: Checking wanted folders exist. Use --nocheckfoldersexist to avoid this check (shared of public namespace targeted)."
                .to_string(),
        );
        wanted.retain(|f| {
            let keep = all_set.contains(f.as_str());
            if !keep {
                sel.warnings.push(format!(
                    "Host1: warning! ignoring folder {f} because it is not in host1 whole folders list."
                ));
            }
            keep
        });
    } else {
        sel.lines.push(
            "Host1: Not checking that wanted folders exist. Remove --nocheckfoldersexist to get this check."
                .to_string(),
        );
    }

    let check = match options.checkselectable {
        Some(c) => c,
        None => {
            let on = wanted.len() <= CHECKSELECTABLE_MAX_FOLDERS;
            if !on {
                sel.lines.push(format!(
                    "Host1: Not checking that {} wanted folders are selectable. Use --checkselectable to force this check.",
                    wanted.len()
                ));
            }
            on
        }
    };
    sel.checked_selectable = check;
    if check {
        sel.lines.push(
            "Host1: Checking wanted folders are selectable. Use --nocheckselectable to avoid this check."
                .to_string(),
        );
        wanted.retain(|f| {
            // A folder the LIST does not show counts as selectable (as a LIST of it returning
            // nothing does in imapsync).
            let selectable = listing
                .list
                .iter()
                .filter(|l| l.name == *f)
                .all(ListedFolder::is_selectable);
            if !selectable {
                sel.warnings.push(format!(
                    "Host1: warning! ignoring folder {f} because it is not selectable"
                ));
            }
            selectable
        });
    } else {
        sel.lines.push(
            "Host1: Not checking that wanted folders are selectable. Use --checkselectable to force this check."
                .to_string(),
        );
    }
    sel.folders = wanted;
    Ok(sel)
}

/// `--folderrec NAME`: what `LIST "" "NAME<sep>*"` plus `LIST "" "NAME"` return, selectable
/// only. Servers compare INBOX case-insensitively, so does this.
pub fn folderrec_members(rec: &str, sep: &str, list: &[ListedFolder]) -> Vec<String> {
    let under = if !sep.is_empty() && rec.ends_with(sep) {
        rec.to_string()
    } else {
        format!("{rec}{sep}")
    };
    let starts = |name: &str, prefix: &str| -> bool {
        if name.starts_with(prefix) {
            return true;
        }
        // INBOX is case-insensitive on the server side.
        match (name.get(..5), prefix.get(..5)) {
            (Some(a), Some(b))
                if a.eq_ignore_ascii_case("INBOX") && b.eq_ignore_ascii_case("INBOX") =>
            {
                name.get(5..).is_some_and(|r| r.starts_with(&prefix[5..]))
            }
            _ => false,
        }
    };
    let same = |name: &str| {
        name == rec || (name.eq_ignore_ascii_case("INBOX") && rec.eq_ignore_ascii_case("INBOX"))
    };
    let set: BTreeSet<&str> = list
        .iter()
        .filter(|l| l.is_selectable())
        .filter(|l| starts(&l.name, &under) || same(&l.name))
        .map(|l| l.name.as_str())
        .collect();
    set.into_iter().map(str::to_string).collect()
}

fn compile_pattern(option: &'static str, pattern: &str) -> Result<Regex, FolderError> {
    perl_regex(pattern).map_err(|source| FolderError::BadPattern {
        option,
        pattern: pattern.to_string(),
        source,
    })
}

fn pattern_matches(
    option: &'static str,
    pattern: &str,
    re: &Regex,
    folder: &str,
) -> Result<bool, FolderError> {
    re.is_match(folder)
        .map_err(|e| FolderError::PatternRuntime {
            option,
            pattern: pattern.to_string(),
            folder: folder.to_string(),
            message: e.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns(sep: &str, prefix: &str) -> Namespace {
        Namespace::new(sep, prefix)
    }

    fn rules(list: &[&str]) -> Vec<PerlExpr> {
        list.iter()
            .map(|r| PerlExpr::parse(r).unwrap_or_else(|e| panic!("{r}: {e}")))
            .collect()
    }

    fn mapper(p1: &str, p2: &str, s1: &str, s2: &str, opts: MapperOptions) -> FolderMapper {
        let none: [&str; 0] = [];
        FolderMapper::new(opts, ns(s1, p1), ns(s2, p2), &none, &none).expect("mapper")
    }

    fn opts(fixslash2: bool) -> MapperOptions {
        MapperOptions {
            fixslash2,
            fix_inbox_inbox: true,
            ..MapperOptions::default()
        }
    }

    fn check(m: &FolderMapper, cases: &[(&str, &str)]) {
        for (h1, h2) in cases {
            assert_eq!(m.map(h1).as_deref(), Ok(*h2), "{h1:?}");
        }
    }

    // ---- spec §5.1 vectors (and the rest of imapsync's tests_imap2_folder_name) ----

    #[test]
    fn spec_5_1_no_prefix_slash_to_dot() {
        let m = mapper("", "", "/", ".", opts(false));
        check(
            &m,
            &[
                ("", "INBOX"),
                ("blabla", "blabla"),
                ("spam/spam", "spam.spam"),
                ("spam.spam", "spam/spam"),
                ("spam/spam.spam", "spam.spam/spam"),
                ("s pam/spam.sp  am", "s pam.spam/sp  am"),
            ],
        );
        let m = mapper("", "", "/", ".", opts(true));
        check(
            &m,
            &[
                ("", "INBOX"),
                ("blabla", "blabla"),
                ("spam/spam", "spam.spam"),
                ("spam.spam", "spam_spam"),
                ("spam/spam.spam", "spam.spam_spam"),
                ("s pam/spam.spa  m", "s pam.spam_spa  m"),
            ],
        );
    }

    #[test]
    fn spec_5_1_f1f2_and_regextrans2() {
        let mut o = opts(false);
        o.f1f2 = vec![
            ("auto".into(), "moto".into()),
            ("auto/auto".into(), "moto x 2".into()),
        ];
        let m = mapper("", "", "/", ".", o.clone());
        check(&m, &[("auto", "moto"), ("auto/auto", "moto x 2")]);
        assert_eq!(m.map_with_origin("auto").map(|x| x.1), Ok(MappedVia::F1f2));

        o.regextrans2 = rules(&["s,/,X,g"]);
        let m = mapper("", "", "/", ".", o.clone());
        check(
            &m,
            &[
                ("", "INBOX"),
                ("blabla", "blabla"),
                ("spam/spam", "spam.spam"),
                ("spam.spam", "spamXspam"),
                ("spam/spam.spam", "spam.spamXspam"),
                ("auto", "moto"),
            ],
        );
        o.regextrans2 = rules(&["s, ,_,g"]);
        let m = mapper("", "", "/", ".", o.clone());
        check(&m, &[("blabla", "blabla"), ("bla bla", "bla_bla")]);
        o.regextrans2 = rules(&[r"s,(.*),\U$1,"]);
        let m = mapper("", "", "/", ".", o);
        check(&m, &[("blabla", "BLABLA")]);
    }

    #[test]
    fn spec_5_1_dot_to_slash() {
        let m = mapper("", "", ".", "/", opts(true));
        check(
            &m,
            &[
                ("", "INBOX"),
                ("blabla", "blabla"),
                ("spam/spam", "spam.spam"),
                ("spam.spam", "spam/spam"),
                ("spam/spam.spam", "spam.spam/spam"),
            ],
        );
        // a prefix of a single blank
        let m = mapper(" ", "", ".", "/", opts(false));
        check(
            &m,
            &[
                ("spam/spam.spam", "spam.spam/spam"),
                (" spam/spam.spam", "spam.spam/spam"),
            ],
        );
    }

    #[test]
    fn spec_5_1_inbox_prefix_with_case_rules() {
        let mut o = opts(false);
        o.regextrans2 = rules(&[r"s,(.*),\U$1,"]);
        let m = mapper("INBOX.", "", ".", "/", o.clone());
        check(
            &m,
            &[
                ("blabla", "BLABLA"),
                ("INBOX.TEST.test.Test.tesT", "TEST/TEST/TEST/TEST"),
            ],
        );
        o.regextrans2 = rules(&[r"s,(.*),\L$1,"]);
        let m = mapper("INBOX.", "", ".", "/", o);
        check(&m, &[("INBOX.TEST.test.Test.tesT", "test/test/test/test")]);
    }

    #[test]
    fn spec_5_1_prefixes_and_inbox() {
        let m = mapper("Pf1.", "Pf2/", ".", "/", opts(true));
        check(
            &m,
            &[
                ("F1.F2.F3", "Pf2/F1/F2/F3"),
                ("F1.INBOX", "Pf2/F1/INBOX"),
                ("INBOX", "INBOX"),
                ("Pf1.F1.F2.F3", "Pf2/F1/F2/F3"),
                ("Pf1.F1.INBOX", "Pf2/F1/INBOX"),
                ("Pf1.INBOX", "INBOX"),
                ("Pf1.", "INBOX"),
                ("inbox", "inbox"),
            ],
        );
    }

    #[test]
    fn spec_5_1_subfolder2() {
        let mut o = opts(true);
        o.subfolder2 = Some("S1.S2".into());
        let m = mapper("", "", "/", ".", o);
        check(
            &m,
            &[("F1/F2/F3", "S1.S2.F1.F2.F3"), ("INBOX", "S1.S2.INBOX")],
        );

        let mut o = opts(true);
        o.subfolder2 = Some("Pf2.S1.S2".into());
        let m = mapper("Pf1/", "Pf2.", "/", ".", o);
        check(
            &m,
            &[
                ("F1/F2/F3", "Pf2.S1.S2.F1.F2.F3"),
                ("INBOX", "Pf2.S1.S2.INBOX"),
                ("Pf1/F1/F2/F3", "Pf2.S1.S2.F1.F2.F3"),
                ("Pf1/INBOX", "Pf2.S1.S2.INBOX"),
            ],
        );
        assert_eq!(m.rules().len(), 3);
        assert_eq!(m.rules()[0].source(), "s,^Pf2.(.*),Pf2.Pf2.S1.S2.$1,");
    }

    #[test]
    fn spec_5_1_subfolder1() {
        for s1 in ["S1.S2", "S1.S2."] {
            let mut o = opts(true);
            o.subfolder1 = Some(s1.into());
            let m = mapper("Pf1.", "Pf2/", ".", "/", o);
            check(
                &m,
                &[
                    ("S1.S2.F1.F2.F3", "Pf2/F1/F2/F3"),
                    ("Pf1.S1.S2.F1.F2.F3", "Pf2/F1/F2/F3"),
                    ("S1.S2.INBOX", "INBOX"),
                    ("S1.S2", "INBOX"),
                    ("S1.S2.", "INBOX"),
                    ("Pf1.S1.S2.INBOX", "INBOX"),
                    ("Pf1.S1.S2", "INBOX"),
                    ("Pf1.S1.S2.", "INBOX"),
                ],
            );
        }
        for s1 in ["S1/S2", "S1/S2/"] {
            let mut o = opts(true);
            o.subfolder1 = Some(s1.into());
            let m = mapper("", "", "/", "/", o);
            check(
                &m,
                &[
                    ("S1/S2/F1/F2/F3", "F1/F2/F3"),
                    ("S1/S2/INBOX", "INBOX"),
                    ("S1/S2", "INBOX"),
                    ("S1/S2/", "INBOX"),
                ],
            );
        }
    }

    #[test]
    fn subfolder1_is_an_unanchored_regex_like_imapsync() {
        let mut o = opts(true);
        o.subfolder1 = Some("S1.S2".into());
        let m = mapper("", "", ".", ".", o);
        // the '.' of the value matches any character, and the first occurrence anywhere goes
        assert_eq!(m.map("S1xS2.F").as_deref(), Ok("F"));
        assert_eq!(m.map("A.S1.S2.F").as_deref(), Ok("A.F"));
    }

    #[test]
    fn subfolder1_and_subfolder2_trap() {
        // FAQ/TODO: --subfolder1 X --subfolder2 X sends X to X/INBOX
        let mut o = opts(true);
        o.subfolder1 = Some("X".into());
        o.subfolder2 = Some("X".into());
        let m = mapper("", "", "/", "/", o);
        check(&m, &[("X", "X/INBOX"), ("X/a", "X/a")]);
    }

    #[test]
    fn separator_invert_vectors() {
        assert_eq!(separator_invert("", "", "", false), "");
        assert_eq!(separator_invert("lalala", "", "", false), "lalala");
        assert_eq!(separator_invert("lalala", "/", "/", false), "lalala");
        assert_eq!(separator_invert("lal/ala", "/", "/", false), "lal/ala");
        assert_eq!(separator_invert("lal/ala", "/", ".", false), "lal.ala");
        assert_eq!(separator_invert("lal.ala", ".", "/", false), "lal/ala");
        assert_eq!(separator_invert("la/l.ala", ".", "/", false), "la.l/ala");
        assert_eq!(separator_invert("l.al/ala", "/", ".", false), "l/al.ala");
        assert_eq!(separator_invert("l.al/ala", "/", ".", true), "l_al.ala");
        assert_eq!(separator_invert("a\\\\b/c", "\\\\", "/", false), "a/b\\\\c");
    }

    #[test]
    fn prefix_separator_inversion_vectors() {
        let same = (ns("/", ""), ns("/", ""));
        for n in ["", "lalala", "lal/ala", "lal.ala", "////", "....."] {
            assert_eq!(invert_prefix_and_separator(n, &same.0, &same.1, false), n);
        }
        let (a, b) = (ns("s", "PPP"), ns("t", "QQQ"));
        let cases = [
            ("", "QQQ"),
            ("lalala", "QQQlalala"),
            ("lal/ala", "QQQlal/ala"),
            ("lal.ala", "QQQlal.ala"),
            ("////", "QQQ////"),
            (".....", "QQQ....."),
            ("PPPPlalala", "QQQPlalala"),
            ("PPP", "QQQ"),
            ("sss", "QQQttt"),
            ("s", "QQQt"),
            ("PPPsAAAsBBB", "QQQtAAAtBBB"),
        ];
        for (i, o) in cases {
            assert_eq!(invert_prefix_and_separator(i, &a, &b, false), o, "{i}");
        }
        // INBOX never gets the host2 prefix, whatever its case
        assert_eq!(invert_prefix_and_separator("Inbox", &a, &b, false), "Inbox");
    }

    #[test]
    fn inbox_fix_rule() {
        let v = |l: &[&str]| l.iter().map(|s| (*s).to_string()).collect::<Vec<_>>();
        assert_eq!(inbox_fix(&v(&["INBOX"]), &v(&["INBOX"])), None);
        assert_eq!(inbox_fix(&v(&["Inbox"]), &v(&["Inbox"])), None);
        assert_eq!(
            inbox_fix(&v(&["INBOX"]), &v(&["Inbox"])),
            Some(("INBOX", "Inbox"))
        );
        assert_eq!(
            inbox_fix(&v(&["Inbox"]), &v(&["INBOX"])),
            Some(("Inbox", "INBOX"))
        );
        assert_eq!(inbox_fix(&v(&["INBOX"]), &v(&["rrrrr"])), None);
        assert_eq!(inbox_fix(&v(&["rrrrr"]), &v(&["Inbox"])), None);
        assert_eq!(inbox_fix(&v(&["INBOX", "Inbox"]), &v(&["Inbox"])), None);

        let h1 = ["INBOX", "Sent"];
        let h2 = ["Inbox"];
        let m = FolderMapper::new(opts(true), ns("/", ""), ns("/", ""), &h1, &h2).expect("mapper");
        check(
            &m,
            &[("INBOX", "Inbox"), ("Sent", "Sent"), ("INBOX/x", "INBOX/x")],
        );
        // the automatic rule runs after the user's rules
        let mut o = opts(true);
        o.regextrans2 = rules(&["s/^Sent$/INBOX/"]);
        let m = FolderMapper::new(o, ns("/", ""), ns("/", ""), &h1, &h2).expect("mapper");
        check(&m, &[("Sent", "Inbox")]);
        let mut o = opts(true);
        o.fix_inbox_inbox = false;
        let m = FolderMapper::new(o, ns("/", ""), ns("/", ""), &h1, &h2).expect("mapper");
        check(&m, &[("INBOX", "INBOX")]);
    }

    #[test]
    fn preset_rules_and_automap() {
        let mut o = opts(true);
        o.regextrans2 = rules(&[
            r"s,\[Gmail\].,,",
            r"s,^ +| +$,,g",
            r"s,/ +| +/,/,g",
            r#"s/['\\^"]/_/g"#,
        ]);
        o.automap.insert("[Gmail]/Sent Mail".into(), "Sent".into());
        o.f1f2 = vec![("[Gmail]/Sent Mail".into(), "Sent Mail".into())];
        let m = mapper("", "", "/", "/", o);
        check(
            &m,
            &[
                ("[Gmail]/Sent Mail", "Sent Mail"),
                ("[Gmail]/Trash", "Trash"),
                ("a /b", "a/b"),
                (" x ", "x"),
                ("it's", "it_s"),
            ],
        );
        let mut o = opts(true);
        o.automap.insert("[Gmail]/Sent Mail".into(), "Sent".into());
        let m = mapper("", "", "/", ".", o);
        assert_eq!(
            m.map_with_origin("[Gmail]/Sent Mail"),
            Ok(("Sent".into(), MappedVia::Automap))
        );
    }

    #[test]
    fn subfolders_turn_automap_off_and_f1f2_report() {
        let mut o = opts(true);
        o.automap.insert("Sent".into(), "Sent Items".into());
        o.subfolder2 = Some(" Back&up ".into());
        let m = mapper("", "", "/", "/", o);
        assert_eq!(m.map("Sent").as_deref(), Ok("Backup/Sent"));
        assert_eq!(m.subfolder2(), Some("Backup"));
        assert_eq!(
            m.lines(),
            &[
                "Sanitizing subfolder2: [ Back&up ] => [Backup]".to_string(),
                "Turning off automapping folders because of --subfolder2".to_string()
            ]
        );
        let mut o = opts(true);
        o.f1f2 = vec![("a".into(), "b".into()), ("&ANY-".into(), "x".into())];
        let m = mapper("", "", "/", "/", o);
        let r = m.f1f2_report(&["a"]);
        assert_eq!(
            r[0],
            "Folders mapping from --f1f2 options, it overrides --automap:"
        );
        assert!(
            r[1].starts_with("[&ANY-] = [\u{d6}]")
                && r[1].ends_with("BUT &ANY- does NOT exist on host1!"),
            "{}",
            r[1]
        );
        assert!(r[2].starts_with("[a]") && r[2].ends_with("[b]"), "{}", r[2]);
        assert!(
            mapper("", "", "/", "/", opts(true))
                .f1f2_report(&["a"])
                .is_empty()
        );
    }

    #[test]
    fn domino_rule() {
        let mut o = opts(true);
        o.regextrans2 = rules(&[r"s,^Inbox\\(.*),$1,i"]);
        let m = mapper("", "", "/", "\\", o);
        check(
            &m,
            &[
                ("Inbox/Sub", "Sub"),
                ("INBOX/a/b", "a\\b"),
                ("Other", "Other"),
            ],
        );
    }

    #[test]
    fn regextrans2_errors_and_noops() {
        let mut o = opts(true);
        o.regextrans2 = rules(&["s/(a+)+$/X/"]);
        let mapped = mapper("", "", "/", "/", o);
        let _ = mapped.map("aaaa");
        let mut o = opts(true);
        o.regextrans2 = rules(&["s/a/b/r", "m/x/", "tr/a/c/r"]);
        let m = mapper("", "", "/", "/", o);
        assert_eq!(m.map("abc").as_deref(), Ok("abc"));
        assert_eq!(m.lines().len(), 2);
        let mut o = opts(true);
        o.regextrans2 =
            vec![PerlExpr::parse_with_backtrack_limit(r"s/(a|aa)+\1$/X/", 1000).expect("parse")];
        let m = mapper("", "", "/", "/", o);
        let err = m.map(&format!("{}b", "a".repeat(40))).expect_err("limit");
        assert!(matches!(err, FolderError::Regextrans2 { .. }));
        assert!(err.to_string().contains("regextrans2"));
    }

    #[test]
    fn bad_subfolder2_prefix() {
        let mut o = opts(true);
        o.subfolder2 = Some("S".into());
        let r = FolderMapper::new(o, ns("/", ""), ns("/", "[bad"), &["a"], &["b"]);
        assert!(matches!(r, Err(FolderError::GeneratedRule { .. })));
    }

    // ---- separator and prefix guessing ----

    #[test]
    fn guess_separator_vectors() {
        let none: [&str; 0] = [];
        assert_eq!(guess_separator(&none), "/");
        assert_eq!(guess_separator(&["abcd"]), "/");
        assert_eq!(guess_separator(&["a/b/c.d"]), "/");
        assert_eq!(guess_separator(&["a.b/c.d"]), ".");
        assert_eq!(guess_separator(&["a\\\\b\\\\c.c\\\\d/e/f"]), "\\\\");
        assert_eq!(guess_separator(&["a\\b\\c.c\\d/e/f"]), "\\");
        assert_eq!(guess_separator(&["a\\b"]), "\\");
        assert_eq!(guess_separator(&["a\\b\\c"]), "\\");
        assert_eq!(guess_separator(&["INBOX", "INBOX.Sent", "INBOX.a.b"]), ".");
        // ties: '/' first
        assert_eq!(guess_separator(&["a/b.c"]), "/");
    }

    #[test]
    fn guess_prefix_vectors() {
        let none: [&str; 0] = [];
        assert_eq!(guess_prefix(&none), "");
        assert_eq!(guess_prefix(&["INBOX"]), "");
        assert_eq!(guess_prefix(&["Inbox"]), "");
        assert_eq!(guess_prefix(&["INBOX", "INBOX/Junk"]), "INBOX/");
        assert_eq!(guess_prefix(&["INBOX", "INBOX.Junk"]), "INBOX.");
        assert_eq!(guess_prefix(&["Inbox", "Inbox/Junk"]), "Inbox/");
        assert_eq!(guess_prefix(&["Inbox", "Inbox.Junk"]), "Inbox.");
        assert_eq!(
            guess_prefix(&["INBOX", "INBOX/Junk", "INBOX/rrr"]),
            "INBOX/"
        );
        assert_eq!(
            guess_prefix(&["INBOX", "INBOX/Junk", "INBOX/rrr", "zzz"]),
            ""
        );
        assert_eq!(guess_prefix(&["INBOX", "Junk"]), "");
        assert_eq!(guess_prefix(&["INBOXfoo"]), "");
        assert_eq!(guess_prefix(&["INBOX.a", "INBOXfoo"]), "INBOX.");
        assert_eq!(guess_prefix(&["\u{e9}"]), "");
    }

    #[test]
    fn resolve_separator_and_prefix() {
        let names = ["INBOX", "INBOX.a", "INBOX.b"];
        let r = resolve_separator("Host1", "--sep1", true, Some("/"), None, &names);
        assert_eq!((r.value.as_str(), r.origin), ("/", Origin::Server));
        let r = resolve_separator("Host1", "--sep1", true, Some("/"), Some("."), &names);
        assert_eq!((r.value.as_str(), r.origin), (".", Origin::Option));
        let r = resolve_separator("Host1", "--sep1", true, None, None, &names);
        assert_eq!((r.value.as_str(), r.origin), (".", Origin::Guessed));
        assert!(
            r.lines
                .iter()
                .any(|l| l.contains("NAMESPACE request failed"))
        );
        let r = resolve_separator("Host2", "--sep2", false, Some("/"), None, &names);
        assert_eq!((r.value.as_str(), r.origin), (".", Origin::Guessed));
        assert!(r.lines.iter().all(|l| l.starts_with("Host2: ")));

        let r = resolve_prefix("Host1", "--prefix1", true, Some(""), None, &names);
        assert_eq!((r.value.as_str(), r.origin), ("", Origin::Server));
        let r = resolve_prefix("Host1", "--prefix1", false, None, None, &names);
        assert_eq!((r.value.as_str(), r.origin), ("INBOX.", Origin::Guessed));
        let r = resolve_prefix("Host1", "--prefix1", true, Some("INBOX."), Some(""), &names);
        assert_eq!((r.value.as_str(), r.origin), ("", Origin::Option));
    }

    #[test]
    fn sanitize_subfolder_vectors() {
        assert_eq!(sanitize_subfolder(""), None);
        assert_eq!(sanitize_subfolder(" "), None);
        assert_eq!(sanitize_subfolder("  "), None);
        assert_eq!(sanitize_subfolder("abcd").as_deref(), Some("abcd"));
        assert_eq!(sanitize_subfolder(" ab cd ").as_deref(), Some("ab cd"));
        assert_eq!(sanitize_subfolder("a&~b#\\c[]=d;").as_deref(), Some("abcd"));
        assert_eq!(
            sanitize_subfolder("aA.b-_ 8c/dD").as_deref(),
            Some("aA.b-_ 8c/dD")
        );
        assert_eq!(
            sanitize_subfolder("&AOk-t&AOk-").as_deref(),
            Some("AOk-tAOk-")
        );
        // blanks are trimmed before the other characters go
        assert_eq!(sanitize_subfolder("& x").as_deref(), Some(" x"));
    }

    #[test]
    fn f1f2_parsing() {
        assert_eq!(parse_f1f2("a=b"), Ok(("a".into(), "b".into())));
        assert_eq!(parse_f1f2("a=b=c"), Ok(("a".into(), "b=c".into())));
        assert_eq!(
            parse_f1f2("Files=Files_renamed_by_imapsync"),
            Ok(("Files".into(), "Files_renamed_by_imapsync".into()))
        );
        assert!(matches!(
            parse_f1f2("--delete1"),
            Err(FolderError::BadF1f2 { .. })
        ));
    }

    // ---- creation ----

    #[test]
    fn parents_first() {
        let none: [&str; 0] = [];
        assert_eq!(parents_to_create("a/b/c", "/", &none), vec!["a", "a/b"]);
        assert_eq!(parents_to_create("a/b/c", "/", &["a"]), vec!["a/b"]);
        assert_eq!(
            parents_to_create("a/b/c", "/", &["a/b"]),
            Vec::<String>::new()
        );
        assert_eq!(parents_to_create("a", "/", &none), Vec::<String>::new());
        assert_eq!(
            parents_to_create("INBOX.a", ".", &none),
            Vec::<String>::new()
        );
        assert_eq!(parents_to_create("INBOX.a.b", ".", &none), vec!["INBOX.a"]);
        assert_eq!(parents_to_create("Inbox.a.b", ".", &none), vec!["Inbox.a"]);
        assert_eq!(
            parents_to_create("inbox/x", "/", &["INBOX"]),
            Vec::<String>::new()
        );
        assert_eq!(
            parents_to_create("INBOX.a.b.c", ".", &["INBOX"]),
            vec!["INBOX.a", "INBOX.a.b"]
        );
        assert_eq!(parents_to_create("a /b", "/", &none), vec!["a"]);
        assert_eq!(parents_to_create("a/b/", "/", &none), vec!["a"]);
        assert_eq!(parents_to_create("/a", "/", &none), Vec::<String>::new());
        assert_eq!(parents_to_create("a//b", "/", &none), vec!["a/"]);
        assert_eq!(
            parents_to_create("x\\\\y\\\\z", "\\\\", &none),
            vec!["x", "x\\\\y"]
        );
        assert_eq!(parents_to_create("a/b", "", &none), Vec::<String>::new());
    }

    // ---- selection and ordering ----

    #[test]
    fn folder_order_vector() {
        let sel = ["A_99", "M_55", "Z_11", "M_44", "A_88", "Z_22"];
        assert_eq!(
            order_folders(&sel, &["Z_22", "Z_11"], &["A_99", "A_88"]),
            vec!["Z_22", "Z_11", "M_44", "M_55", "A_99", "A_88"]
        );
        let none: [&str; 0] = [];
        assert_eq!(order_folders(&none, &none, &none), Vec::<String>::new());
        assert_eq!(
            order_folders(&["A_99", "M_55", "Z_11"], &none, &none),
            vec!["A_99", "M_55", "Z_11"]
        );
        assert_eq!(
            order_folders(&["A_99", "M_55", "Z_11"], &["Z_11"], &none),
            vec!["Z_11", "A_99", "M_55"]
        );
        assert_eq!(
            order_folders(&["A_99", "M_55", "Z_11"], &["Z_11"], &["A_99"]),
            vec!["Z_11", "M_55", "A_99"]
        );
        // first/last not selected are not added; a folder in both goes first
        assert_eq!(
            order_folders(&["b", "a"], &["x", "b"], &["b", "y"]),
            vec!["b", "a"]
        );
        // byte-wise, so INBOX is not necessarily first
        assert_eq!(
            order_folders(&["INBOX", "Archive", "a", "[Gmail]/All Mail"], &none, &none),
            vec!["Archive", "INBOX", "[Gmail]/All Mail", "a"]
        );
    }

    fn list(entries: &[(&str, &[&str])]) -> Vec<ListedFolder> {
        entries
            .iter()
            .map(|(n, a)| ListedFolder::new(*n, a))
            .collect()
    }

    fn gmail_list() -> Vec<ListedFolder> {
        list(&[
            ("INBOX", &["\\HasNoChildren"]),
            ("Perso", &["\\HasChildren"]),
            ("Perso/Sub", &["\\HasNoChildren"]),
            ("[Gmail]", &["\\HasChildren", "\\Noselect"]),
            ("[Gmail]/All Mail", &["\\All", "\\HasNoChildren"]),
            ("[Gmail]/Drafts", &["\\Drafts", "\\HasNoChildren"]),
            ("[Gmail]/Sent Mail", &["\\HasNoChildren", "\\Sent"]),
            ("[Gmail]/Spam", &["\\HasNoChildren", "\\Junk"]),
            ("[Gmail]/Starred", &["\\Flagged", "\\HasNoChildren"]),
            ("[Gmail]/Trash", &["\\HasNoChildren", "\\Trash"]),
        ])
    }

    #[test]
    fn default_selection_is_every_selectable_folder_sorted() {
        let l = gmail_list();
        let n = ns("/", "");
        let sel = select_folders(
            Host1Listing {
                list: &l,
                lsub: &[],
                namespace: &n,
            },
            &SelectionOptions::imapsync_defaults(),
        )
        .expect("select");
        assert_eq!(
            sel.folders,
            vec![
                "INBOX",
                "Perso",
                "Perso/Sub",
                "[Gmail]/All Mail",
                "[Gmail]/Drafts",
                "[Gmail]/Sent Mail",
                "[Gmail]/Spam",
                "[Gmail]/Starred",
                "[Gmail]/Trash"
            ]
        );
        assert!(sel.lines[0].starts_with("Including all folders found by default"));
        assert!(sel.warnings.is_empty());
        assert!(sel.checked_selectable);
    }

    #[test]
    fn gmail_preset_ordering_and_exclude() {
        let l = gmail_list();
        let n = ns("/", "");
        let mut o = SelectionOptions::imapsync_defaults();
        o.exclude = vec![r"\[Gmail\]$".into()];
        o.folderlast = vec!["[Gmail]/All Mail".into()];
        let sel = select_folders(
            Host1Listing {
                list: &l,
                lsub: &[],
                namespace: &n,
            },
            &o,
        )
        .expect("select");
        assert_eq!(
            sel.folders.last().map(String::as_str),
            Some("[Gmail]/All Mail")
        );
        assert_eq!(sel.folders.len(), 9);
    }

    #[test]
    fn requested_folders_and_warnings() {
        let l = gmail_list();
        let n = ns("/", "");
        let mut o = SelectionOptions::imapsync_defaults();
        o.folder = vec![
            "INBOX".into(),
            "Nope".into(),
            "[Gmail]".into(),
            "Perso".into(),
        ];
        let sel = select_folders(
            Host1Listing {
                list: &l,
                lsub: &[],
                namespace: &n,
            },
            &o,
        )
        .expect("select");
        assert_eq!(sel.folders, vec!["INBOX", "Perso"]);
        assert_eq!(sel.warnings.len(), 2);
        assert!(
            sel.warnings
                .iter()
                .any(|w| w.contains("ignoring folder Nope"))
        );
        assert!(
            sel.warnings
                .iter()
                .any(|w| w.contains("ignoring folder [Gmail] "))
        );

        // without checkfoldersexist, only the selectability check drops [Gmail]
        o.checkfoldersexist = false;
        let sel = select_folders(
            Host1Listing {
                list: &l,
                lsub: &[],
                namespace: &n,
            },
            &o,
        )
        .expect("select");
        assert_eq!(sel.folders, vec!["INBOX", "Nope", "Perso"]);
        assert_eq!(
            sel.warnings,
            vec!["Host1: warning! ignoring folder [Gmail] because it is not selectable"]
        );
        o.checkselectable = Some(false);
        let sel = select_folders(
            Host1Listing {
                list: &l,
                lsub: &[],
                namespace: &n,
            },
            &o,
        )
        .expect("select");
        assert_eq!(sel.folders, vec!["INBOX", "Nope", "Perso", "[Gmail]"]);
        assert!(!sel.checked_selectable);
    }

    #[test]
    fn folderrec_subscribed_include() {
        let l = list(&[
            ("INBOX", &[]),
            ("INBOX.a", &[]),
            ("INBOX.a.b", &[]),
            ("INBOX.ab", &[]),
            ("INBOX.c", &["\\Noselect"]),
            ("INBOX.c.d", &[]),
            ("mail", &[]),
            ("mail.x", &[]),
        ]);
        let lsub = list(&[
            ("INBOX.ab", &[]),
            ("INBOX.c", &["\\Noselect"]),
            ("gone", &[]),
        ]);
        let n = ns(".", "INBOX.");
        let listing = Host1Listing {
            list: &l,
            lsub: &lsub,
            namespace: &n,
        };
        let mut o = SelectionOptions::imapsync_defaults();
        o.folderrec = vec!["INBOX.a".into()];
        let sel = select_folders(listing, &o).expect("select");
        assert_eq!(sel.folders, vec!["INBOX.a", "INBOX.a.b"]);

        o.folderrec = vec!["INBOX.c".into()];
        let sel = select_folders(listing, &o).expect("select");
        assert_eq!(sel.folders, vec!["INBOX.c.d"]);

        o.folderrec = vec!["inbox".into()];
        let sel = select_folders(listing, &o).expect("select");
        assert_eq!(
            sel.folders,
            vec!["INBOX", "INBOX.a", "INBOX.a.b", "INBOX.ab", "INBOX.c.d"]
        );

        let mut o = SelectionOptions::imapsync_defaults();
        o.subscribed = true;
        let sel = select_folders(listing, &o).expect("select");
        assert_eq!(sel.folders, vec!["INBOX.ab"]);
        assert_eq!(
            sel.warnings,
            vec![
                "Host1: warning! ignoring folder gone because it is not in host1 whole folders list."
            ]
        );

        // --include alone selects only what it matches; --exclude applies to everything
        let mut o = SelectionOptions::imapsync_defaults();
        o.include = vec!["^mail".into()];
        let sel = select_folders(listing, &o).expect("select");
        assert_eq!(sel.folders, vec!["mail", "mail.x"]);
        o.folder = vec!["INBOX".into()];
        o.exclude = vec!["x$".into()];
        let sel = select_folders(listing, &o).expect("select");
        assert_eq!(sel.folders, vec!["INBOX", "mail"]);
        assert!(
            sel.lines
                .iter()
                .any(|l| l == "Excluding folders matching pattern x$\n[mail.x]\n")
        );

        let mut o = SelectionOptions::imapsync_defaults();
        o.exclude = vec!["(?i)INBOX\\.A".into()];
        let sel = select_folders(listing, &o).expect("select");
        assert_eq!(sel.folders, vec!["INBOX", "INBOX.c.d", "mail", "mail.x"]);

        let mut o = SelectionOptions::imapsync_defaults();
        o.include = vec!["(".into()];
        assert!(matches!(
            select_folders(listing, &o),
            Err(FolderError::BadPattern {
                option: "include",
                ..
            })
        ));
    }

    #[test]
    fn subfolder1_selection() {
        let l = list(&[
            ("INBOX", &[]),
            ("INBOX/SUBI", &[]),
            ("INBOX/SUBI/x", &[]),
            ("SUBO", &[]),
            ("SUBO/y", &[]),
        ]);
        let n = ns("/", "INBOX/");
        let listing = Host1Listing {
            list: &l,
            lsub: &[],
            namespace: &n,
        };
        let mut o = SelectionOptions::imapsync_defaults();
        o.subfolder1 = Some(" SUBO ".into());
        let sel = select_folders(listing, &o).expect("select");
        assert_eq!(sel.folders, vec!["SUBO", "SUBO/y"]);
        assert_eq!(sel.subfolder1_folder.as_deref(), Some("SUBO"));
        o.subfolder1 = Some("SUBI".into());
        let sel = select_folders(listing, &o).expect("select");
        assert_eq!(sel.folders, vec!["INBOX/SUBI", "INBOX/SUBI/x"]);
        assert_eq!(sel.subfolder1_folder.as_deref(), Some("INBOX/SUBI"));
        o.subfolder1 = Some("NOPE".into());
        assert_eq!(
            select_folders(listing, &o),
            Err(FolderError::Subfolder1Missing {
                subfolder1: "NOPE".into(),
                extended: "INBOX/NOPE".into()
            })
        );
    }

    #[test]
    fn checkselectable_turns_off_above_152() {
        let many: Vec<ListedFolder> = (0..200)
            .map(|i| ListedFolder::new(format!("f{i:03}"), &[]))
            .collect();
        let n = ns("/", "");
        let sel = select_folders(
            Host1Listing {
                list: &many,
                lsub: &[],
                namespace: &n,
            },
            &SelectionOptions::imapsync_defaults(),
        )
        .expect("select");
        assert!(!sel.checked_selectable);
        assert!(
            sel.lines
                .iter()
                .any(|l| l.contains("Not checking that 200 wanted folders are selectable"))
        );
        let few = &many[..152];
        let sel = select_folders(
            Host1Listing {
                list: few,
                lsub: &[],
                namespace: &n,
            },
            &SelectionOptions::imapsync_defaults(),
        )
        .expect("select");
        assert!(sel.checked_selectable);
    }

    // ---- §5.9 and folders in 2 not in 1 ----

    #[test]
    fn several_host1_folders_to_one() {
        let mut o = opts(true);
        o.regextrans2 = rules(&["s/^(Sent|Sent Items|Gesendet)$/Sent/"]);
        let m = mapper("", "", "/", "/", o);
        let src =
            host2_sources(&m, &["INBOX", "Sent", "Sent Items", "Gesendet", "x"]).expect("map");
        assert_eq!(
            src.get("Sent"),
            Some(&vec![
                "Sent".to_string(),
                "Sent Items".into(),
                "Gesendet".into()
            ])
        );
        assert_eq!(
            shared_host2_folders(&src).into_iter().collect::<Vec<_>>(),
            vec!["Sent"]
        );
    }

    #[test]
    fn host2_only_folders() {
        let mut o = opts(true);
        o.subfolder2 = Some("Backup".into());
        let m = mapper("", "", "/", "/", o);
        let h1 = ["INBOX", "a"];
        let h2 = [
            "Backup",
            "Backup/INBOX",
            "Backup/a",
            "Backup/old",
            "Backup/old/x",
            "a",
            "z",
        ];
        assert_eq!(
            folders_in_2_not_in_1(&m, &h1, &h2),
            Ok(vec!["z".into(), "Backup/old/x".into(), "Backup/old".into()])
        );
    }

    #[test]
    fn display_names() {
        assert_eq!(display_name("INBOX"), "[INBOX]");
        assert_eq!(display_name("&ANY-"), "[&ANY-] = [\u{d6}]");
        assert_eq!(
            display_name("&ZTZO9nux-"),
            "[&ZTZO9nux-] = [\u{6536}\u{4ef6}\u{7bb1}]"
        );
        assert_eq!(display_list(&["a", "&ANY-"]), "[a]\n[&ANY-] = [\u{d6}]\n");
        let l = ListedFolder::new("x", &["\\NOSELECT"]);
        assert!(!l.is_selectable());
        assert!(ListedFolder::new("x", &["\\HasChildren"]).is_selectable());
    }
}
