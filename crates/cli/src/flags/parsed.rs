//! [`Parsed`]: the typed result of a command line parse, and the entry points
//! [`parse`] and [`parse_extra`].

use super::error::{Problem, UsageError};
use super::getopt::{self, Occurrence, Secret, perl_true, shellwords};
use super::table::{Kind, OptName, Support, extra_spellings, name_index, names, spellings};
use super::value::Value;

/// What the masked command line shows instead of a secret.
pub const MASK: &str = "MASKED";

/// The options of one command line (or of an `options_extra.txt` string).
///
/// Every accessor takes a canonical name (`delete1`, not `delete`; `inet4`,
/// not `ipv4`), case-insensitively. Asking for a name that is not in the
/// table, or with the accessor of another kind, is a bug: it trips a
/// `debug_assert!` and answers `None`/empty in release builds.
#[derive(Clone, Debug)]
pub struct Parsed {
    args: Vec<String>,
    values: Vec<Option<Value>>,
    occurrences: Vec<Occurrence>,
    leftover: Vec<String>,
    secrets: Vec<Secret>,
}

/// Parse a command line (without the program name) with imapsync's rules.
///
/// Checks, in imapsync's order: the `--delete 2` mistake (reported alone),
/// then every Getopt::Long rule, then left-over words. A left-over list whose
/// first word is empty or `0` is tolerated like imapsync does (GNU parallel
/// adds an empty word); those words are available in [`Parsed::leftover`].
pub fn parse<I>(args: I) -> Result<Parsed, UsageError>
where
    I: IntoIterator,
    I::Item: Into<String>,
{
    let args: Vec<String> = args.into_iter().map(Into::into).collect();
    let delete_space_two = args
        .windows(2)
        .any(|w| w[0].ends_with("-delete") && w[1].starts_with('2'));
    if delete_space_two {
        return Err(UsageError::new(vec![Problem::DeleteSpaceTwo]));
    }
    let outcome = getopt::run(&args, spellings());
    let mut problems = outcome.problems;
    if outcome.leftover.first().is_some_and(|w| perl_true(w)) {
        problems.push(Problem::ExtraArguments {
            words: outcome.leftover.clone(),
        });
    }
    if !problems.is_empty() {
        return Err(UsageError::new(problems));
    }
    Ok(Parsed {
        args,
        values: outcome.values,
        occurrences: outcome.occurrences,
        leftover: outcome.leftover,
        secrets: outcome.secrets,
    })
}

/// The result of [`parse_extra`]: like imapsync, problems in an extra options
/// string are warnings, and what could be understood is still used.
#[derive(Clone, Debug)]
pub struct ExtraOptions {
    /// The options understood (only names of the restricted set can be set).
    pub options: Parsed,
    /// Getopt problems (unknown option, bad value, ...), to print as warnings.
    pub problems: Vec<Problem>,
    /// Words that were not options; imapsync ignores them.
    pub leftover: Vec<String>,
    /// The string had an unclosed quote or a trailing backslash, so (like
    /// Perl's `shellwords`) no word at all was taken from it.
    pub unbalanced: bool,
}

impl ExtraOptions {
    /// Strict view: the options if nothing at all was wrong, else the problems
    /// (left-over words reported as [`Problem::ExtraArguments`]).
    pub fn into_result(self) -> Result<Parsed, UsageError> {
        let mut problems = self.problems;
        if !self.leftover.is_empty() {
            problems.push(Problem::ExtraArguments {
                words: self.leftover,
            });
        }
        if problems.is_empty() {
            Ok(self.options)
        } else {
            Err(UsageError::new(problems))
        }
    }
}

/// Parse an extra options string (first line of `options_extra.txt`, or the
/// value of `--extra`) with the restricted option set of imapsync:
/// debugimap, debugimap1/2, debugflags, debugsleep, errorsmax, folder,
/// timeout, timeout1/2, keepalive1/2, reconnectretry1/2, ssl1/2, tls1/2,
/// compress1/2. Prefixes are resolved within that set only. The string is
/// split into words like a shell would (quotes, backslashes).
/// Combine the result with [`Parsed::merge`].
pub fn parse_extra(text: &str) -> ExtraOptions {
    let (words, unbalanced) = match shellwords(text) {
        Some(w) => (w, false),
        None => (Vec::new(), true),
    };
    let outcome = getopt::run(&words, extra_spellings());
    ExtraOptions {
        options: Parsed {
            args: words,
            values: outcome.values,
            occurrences: outcome.occurrences,
            leftover: Vec::new(),
            secrets: outcome.secrets,
        },
        problems: outcome.problems,
        leftover: outcome.leftover,
        unbalanced,
    }
}

impl Parsed {
    /// Index of a canonical name; a name outside the table is a bug.
    fn slot(&self, name: &str) -> Option<(usize, &'static OptName)> {
        let found = name_index(name);
        debug_assert!(
            found.is_some(),
            "option name {name:?} is not in the flag table"
        );
        let index = found?;
        Some((index, &names()[index]))
    }

    fn value_of(&self, name: &str, kinds: &[Kind]) -> Option<&Value> {
        let (index, opt) = self.slot(name)?;
        let kind = opt.entry().kind;
        debug_assert!(
            kinds.contains(&kind),
            "option {name:?} is of kind {kind:?}, not one of {kinds:?}"
        );
        if !kinds.contains(&kind) {
            return None;
        }
        self.values.get(index)?.as_ref()
    }

    /// The option was given explicitly (including as `--noX`).
    pub fn is_set(&self, name: &str) -> bool {
        self.slot(name)
            .and_then(|(index, _)| self.values.get(index))
            .is_some_and(Option::is_some)
    }

    /// The raw value of any option, if given.
    pub fn value(&self, name: &str) -> Option<&Value> {
        let (index, _) = self.slot(name)?;
        self.values.get(index)?.as_ref()
    }

    /// A switch or negatable option: `Some(true)` for `--X`, `Some(false)` for `--noX`.
    pub fn bool(&self, name: &str) -> Option<bool> {
        match self.value_of(name, &[Kind::Switch, Kind::Bool])? {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// A string option; for number options, the number's text.
    pub fn string(&self, name: &str) -> Option<&str> {
        match self.value_of(name, &[Kind::Str, Kind::Int, Kind::Float])? {
            Value::Str(s) => Some(s),
            Value::Int { text, .. } | Value::Float { text, .. } => Some(text),
            _ => None,
        }
    }

    /// An integer option.
    pub fn int(&self, name: &str) -> Option<i64> {
        match self.value_of(name, &[Kind::Int])? {
            Value::Int { value, .. } => Some(*value),
            _ => None,
        }
    }

    /// A real-number option (integer options are converted too).
    pub fn float(&self, name: &str) -> Option<f64> {
        match self.value_of(name, &[Kind::Float, Kind::Int])? {
            Value::Float { value, .. } => Some(*value),
            // Precision loss only beyond 2^53, far above any sensible option value.
            #[allow(clippy::cast_precision_loss)]
            Value::Int { value, .. } => Some(*value as f64),
            _ => None,
        }
    }

    /// A repeatable option, in command line order (empty when not given).
    pub fn list(&self, name: &str) -> &[String] {
        match self.value_of(name, &[Kind::List]) {
            Some(Value::List(items)) => items,
            _ => &[],
        }
    }

    /// A `key=value` option (empty when not given).
    pub fn hash(&self, name: &str) -> &[(String, String)] {
        match self.value_of(name, &[Kind::Hash]) {
            Some(Value::Hash(pairs)) => pairs,
            _ => &[],
        }
    }

    /// The canonical names given explicitly, in table order.
    pub fn given(&self) -> Vec<&'static str> {
        names()
            .iter()
            .zip(&self.values)
            .filter(|(_, v)| v.is_some())
            .map(|(n, _)| n.name.as_str())
            .collect()
    }

    /// The options given whose entry is not implemented yet, as `--name`
    /// (the full name the user's spelling resolved to, alias included), each
    /// once, in command line order.
    pub fn not_yet_supported(&self) -> Vec<String> {
        let mut seen: Vec<usize> = Vec::new();
        let mut out = Vec::new();
        for occ in &self.occurrences {
            if names()[occ.name].entry().support == Support::NotYet && !seen.contains(&occ.name) {
                seen.push(occ.name);
                out.push(format!("--{}", occ.spelling));
            }
        }
        out
    }

    /// Every option given, in command line order (extra options merged last).
    pub fn occurrences(&self) -> &[Occurrence] {
        &self.occurrences
    }

    /// The arguments as given.
    pub fn args(&self) -> &[String] {
        &self.args
    }

    /// Words that were neither options nor values but were tolerated (see [`parse`]).
    pub fn leftover(&self) -> &[String] {
        &self.leftover
    }

    /// The arguments with every secret value (passwords, OAuth tokens and
    /// strings) replaced by `MASKED`; `--password1=x` becomes `--password1=MASKED`.
    pub fn masked_args(&self) -> Vec<String> {
        let mut out = self.args.clone();
        for s in &self.secrets {
            if let Some(arg) = out.get_mut(s.arg)
                && let Some(head) = arg.get(..s.from)
            {
                *arg = format!("{head}{MASK}");
            }
        }
        out
    }

    /// [`Parsed::masked_args`] joined with single spaces, like imapsync echoes it.
    pub fn masked_command_line(&self) -> String {
        self.masked_args().join(" ")
    }

    /// Apply options read later (an extra options string) over these ones,
    /// the way imapsync's second Getopt pass does: a value given in `extra`
    /// replaces ours; a list or key=value option given in `extra` replaces
    /// ours entirely (it does not append). Arguments and masking stay ours.
    pub fn merge(&mut self, extra: &Parsed) {
        for (mine, theirs) in self.values.iter_mut().zip(&extra.values) {
            if let Some(v) = theirs {
                *mine = Some(v.clone());
            }
        }
        self.occurrences.extend(extra.occurrences.iter().cloned());
    }
}
