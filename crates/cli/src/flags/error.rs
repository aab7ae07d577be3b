//! Usage errors: everything the parser can object to, all mapped to exit code 64.

use std::fmt;

/// `EX_USAGE` from sysexits.h: the exit code of every command line usage error.
pub const EX_USAGE: i32 = 64;

/// One problem found on the command line.
///
/// The messages of the variants that come from Getopt::Long are reproduced
/// exactly (`Unknown option: foo`, `Option del is ambiguous (...)`, ...):
/// scripts grep them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    /// The words `--delete` and `2` were given separately (imapsync checks
    /// this before anything else and stops there).
    DeleteSpaceTwo,
    /// No option has this name or a name starting with it.
    UnknownOption {
        /// What was typed after the dashes, lower-cased, without any `=value`.
        given: String,
    },
    /// A bare `+` (Getopt::Long also accepts `+` as an option starter).
    MissingOptionAfter {
        /// The option starter (`+`).
        starter: String,
    },
    /// A prefix matching several options.
    Ambiguous {
        /// What was typed, lower-cased.
        given: String,
        /// Every name starting with it, sorted.
        candidates: Vec<String>,
    },
    /// `--switch=value` on an option that takes no value.
    TakesNoValue {
        /// The option name as matched.
        option: String,
    },
    /// A value option at the end of the command line, or `--option=` with nothing after `=`.
    RequiresValue {
        /// The option name as matched.
        option: String,
    },
    /// A `key=value` option given a word without `=`.
    KeyRequiresValue {
        /// The option name as matched.
        option: String,
        /// The word given.
        key: String,
    },
    /// An integer option given something else.
    NotAnInteger {
        /// The option name as matched.
        option: String,
        /// The value given.
        value: String,
    },
    /// A real-number option given something else.
    NotARealNumber {
        /// The option name as matched.
        option: String,
        /// The value given.
        value: String,
    },
    /// Words that are neither options nor option values.
    ExtraArguments {
        /// The words, in command line order.
        words: Vec<String>,
    },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::DeleteSpaceTwo => write!(f, "May be you mean --delete2 instead of --delete 2"),
            Problem::UnknownOption { given } => write!(f, "Unknown option: {given}"),
            Problem::MissingOptionAfter { starter } => write!(f, "Missing option after {starter}"),
            Problem::Ambiguous { given, candidates } => {
                write!(f, "Option {given} is ambiguous ({})", candidates.join(", "))
            }
            Problem::TakesNoValue { option } => {
                write!(f, "Option {option} does not take an argument")
            }
            Problem::RequiresValue { option } => write!(f, "Option {option} requires an argument"),
            Problem::KeyRequiresValue { option, key } => {
                write!(f, "Option {option}, key \"{key}\", requires a value")
            }
            Problem::NotAnInteger { option, value } => {
                write!(
                    f,
                    "Value \"{value}\" invalid for option {option} (number expected)"
                )
            }
            Problem::NotARealNumber { option, value } => {
                write!(
                    f,
                    "Value \"{value}\" invalid for option {option} (real number expected)"
                )
            }
            Problem::ExtraArguments { words } => write!(
                f,
                "Found {} extra arguments : [{}]\n\
                 They are neither options nor option values: check the quoting of the \
                 command line and the spelling of the options.",
                words.len(),
                words.join(" ")
            ),
        }
    }
}

/// A command line that cannot be used: one or more [`Problem`]s, in the order found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsageError {
    problems: Vec<Problem>,
}

impl UsageError {
    pub(crate) fn new(problems: Vec<Problem>) -> UsageError {
        UsageError { problems }
    }

    /// The problems, in command line order (extra arguments come last).
    pub fn problems(&self) -> &[Problem] {
        &self.problems
    }

    /// The exit code to use: always [`EX_USAGE`] (64).
    pub fn exit_code(&self) -> i32 {
        EX_USAGE
    }
}

impl fmt::Display for UsageError {
    /// One problem per line, without a trailing newline.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for UsageError {}
