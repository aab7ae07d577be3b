//! The `--help` text, generated from the option table.

use std::fmt::Write as _;

use super::table::{Category, FLAGS, Flag, Kind, Sides, Support};

/// Version of this program.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Column where the help of each option starts.
const HELP_COLUMN: usize = 40;

/// The short hint printed after a usage error.
pub fn usage_hint() -> String {
    "Run imapsync --help to list the options.".to_string()
}

/// The left column of an option line: its names and value placeholder.
fn synopsis(flag: &Flag) -> String {
    let neg = if flag.kind == Kind::Bool { "[no]" } else { "" };
    let mut spelled: Vec<String> = flag.names().iter().map(|n| format!("--{neg}{n}")).collect();
    if flag.sides == Sides::One {
        spelled.extend(flag.aliases.iter().map(|a| format!("--{neg}{a}")));
    }
    let mut left = spelled.join(", ");
    let placeholder = flag.placeholder();
    if !placeholder.is_empty() {
        left.push(' ');
        left.push_str(placeholder);
    }
    if matches!(flag.kind, Kind::List | Kind::Hash) {
        left.push_str(" ...");
    }
    left
}

/// One help line per option.
fn option_line(flag: &Flag) -> String {
    let left = synopsis(flag);
    let mut line = format!("    {left}");
    let width = 4 + left.chars().count();
    if width < HELP_COLUMN {
        line.push_str(&" ".repeat(HELP_COLUMN - width));
    } else {
        line.push_str("  ");
    }
    line.push_str(flag.help);
    if !flag.default.is_empty() {
        let _ = write!(line, " [default: {}]", flag.default);
    }
    if flag.support == Support::NotYet {
        line.push_str(" (not supported yet)");
    }
    line
}

/// The full usage text, in imapsync's layout (`Name:`, `Version:`, `Usage:`, `Options:`,
/// then where it runs): scripts that look for those headings keep working.
pub fn help_text() -> String {
    let mut out = String::new();
    out.push_str("Name:\n\n");
    out.push_str(
        " imapsync - copy the messages of one IMAP account to another, one way,\n\
         \x20without duplicates, again and again until both sides agree.\n\
         \x20imapsync-rs is a re-implementation in Rust, option-compatible with imapsync.\n\n",
    );
    out.push_str("Version:\n\n");
    let _ = writeln!(out, " This documentation refers to imapsync-rs {VERSION}\n");
    out.push_str("Usage:\n\n");
    out.push_str(
        "  To copy the account \"alice\" on \"imap.source.example\" (password \"secret1\")\n\
         \x20 to the account \"alice\" on \"imap.target.example\" (password \"secret2\"):\n\n\
         \x20  imapsync \\\n\
         \x20   --host1 imap.source.example --user1 alice --password1 secret1 \\\n\
         \x20   --host2 imap.target.example --user2 alice --password2 secret2\n\n",
    );
    out.push_str("Options:\n\n");
    out.push_str("  usage: imapsync [options]\n\n");
    out.push_str(
        "    STR is a string, INT an integer, NUM a number; numbers may group digits\n\
         \x20   with '_' (45_000_000). An option shown as --[no]NAME is switched off by\n\
         \x20   --noNAME or --no-NAME. '...' marks options that may be repeated. Any\n\
         \x20   unambiguous beginning of an option name is enough, case does not matter,\n\
         \x20   and '--name=value' is the same as '--name value'.\n",
    );
    for category in Category::ALL {
        let _ = write!(out, "\n  {}\n", category.title());
        for flag in FLAGS.iter().filter(|f| f.category == category) {
            out.push_str(&option_line(flag));
            out.push('\n');
        }
    }
    let _ = write!(
        out,
        "\nHere is imapsync-rs {VERSION} on {} {}\n\
         Check if a new imapsync release is available by adding --releasecheck\n\
         Homepage: https://imapsync.lamiral.info/\n",
        std::env::consts::OS,
        std::env::consts::ARCH
    );
    out
}
