//! Pure decisions, no sockets.
//!
//! * [`perlre`]: Perl-style `s///`, `tr///`/`y///` and `m//` expressions (for `--regextrans2`,
//!   `--regexflag`, `--regexmess`, `--skipmess`, `--include`, `--exclude`, ...).
//! * [`folders`]: host1 → host2 folder-name mapping (spec §5), separator/prefix guessing,
//!   folder selection and ordering.
//! * [`automap`]: special-use mapping (`--automap`).
//! * [`diff`]: per-folder decision: copy, present (flag resync), duplicates, host2 extras.
//! * [`identity`]: imapsync's header signature.
//! * [`flags`]: flag filtering and normalisation.
//! * [`dates`]: INTERNALDATE and Date: header normalisation.
//! * [`select`]: age windows and size filters.
//! * [`throttle`]: imapsync's average-rate sleeps.
//! * [`errors`]: error classification and exit codes.
//! * [`display`]: byte and date renderings used in imapsync's output.

pub mod automap;
pub mod dates;
pub mod diff;
pub mod display;
pub mod errors;
pub mod flags;
pub mod folders;
pub mod identity;
pub mod perlre;
pub mod select;
pub mod throttle;
