//! The option table and the Getopt::Long-compatible parser.
//!
//! imapsync parses its command line with Perl's Getopt::Long in its default
//! configuration, and users rely on every rule of it: abbreviations
//! (`--delete2f`), `--noX`, `-opt` with one dash, values that look like
//! options (`--f1f2 --delete1`), `_` in numbers (`--maxsize 45_000_000`).
//! This module reproduces those rules for the union of the options of
//! imapsync 2.229 and 2.314, plus a few of our own.
//!
//! The design follows ripgrep's "low-level arguments" idea: the parser knows
//! nothing about what options mean; it turns the words of the command line
//! into a flat, typed record that the rest of the program interprets.
//!
//! 1. **Table** ([`table::FLAGS`]): one [`Flag`] per option, or per pair of
//!    per-side options. It holds the kind of value, aliases, help text,
//!    default shown in the help, help category and support status.
//! 2. **Generated names** ([`table::names`], [`table::spellings`]): each
//!    `Sides::Both` entry yields `name1` and `name2`; every name and alias of a
//!    negatable option also yields `noname` and `no-name`. The sorted spelling
//!    list is exactly the table Getopt::Long matches prefixes against.
//! 3. **Parser** (`getopt`): a word-by-word re-implementation of Getopt's
//!    matching and value rules, collecting every problem like Getopt's warnings,
//!    followed by imapsync's own checks (`--delete 2`, left-over words) in
//!    [`parse`]. [`parse_extra`] runs the same engine with the restricted
//!    option set of `options_extra.txt`.
//! 4. **Result** ([`Parsed`]): values indexed by canonical name, with typed
//!    accessors, the list of not-yet-supported options given, and the command
//!    line with its secrets masked. Errors are returned as [`UsageError`]
//!    (exit code 64); nothing here prints or exits.

mod error;
mod getopt;
mod help;
mod parsed;
pub mod table;
mod value;

#[cfg(test)]
mod tests;

pub use error::{EX_USAGE, Problem, UsageError};
pub use getopt::{Occurrence, shellwords};
pub use help::{VERSION, help_text, usage_hint};
pub use parsed::{ExtraOptions, MASK, Parsed, parse, parse_extra};
pub use table::{Category, FLAGS, Flag, Kind, Sides, Support};
pub use value::Value;
