//! Pure decisions, no sockets.
//!
//! * [`perlre`]: Perl-style `s///`, `tr///`/`y///` and `m//` expressions (for `--regextrans2`,
//!   `--regexflag`, `--regexmess`, `--skipmess`, `--include`, `--exclude`, ...).
//! * [`folders`]: host1 → host2 folder-name mapping (spec §5), separator/prefix guessing,
//!   folder selection and ordering.
//! * [`automap`]: special-use mapping (`--automap`).
//! * [`options`]: the run's options once resolved (run mode, folders, messages, deletions,
//!   rates), as typed values.
//! * [`record`]: what the state store records per folder pair.
//! * [`folderops`]: folders to create, subscribe and delete in a run.
//! * [`folderplan`]: one folder pair decided — copy, flags, deletions, what to record.
//! * [`rewrite`]: whole-message rewrites before APPEND (`--regexmess`, `--skipmess`,
//!   `--pipemess`, `--truncmess`, line lengths), as a step machine; [`pipe`] judges the runs
//!   of external commands.
//! * [`acls`]: `--syncacls`, what to set on host2 from both ACL listings.
//! * [`diff`]: the pairing of both listings: copy, present (flag resync), duplicates, host2
//!   extras.
//! * [`identity`]: imapsync's header signature.
//! * [`labels`]: Gmail labels — which folder copies a message with several labels, which
//!   labels to store on host2.
//! * [`fit`]: before copying, what will not fit on host2 (QUOTA, APPENDLIMIT).
//! * [`flags`]: flag filtering and normalisation.
//! * [`dates`]: INTERNALDATE and Date: header normalisation.
//! * [`select`]: age windows and size filters.
//! * [`throttle`]: imapsync's average-rate sleeps.
//! * [`errors`]: error classification and exit codes.
//! * [`display`]: byte and date renderings used in imapsync's output.

pub mod acls;
pub mod automap;
pub mod dates;
pub mod diff;
pub mod display;
pub mod errors;
pub mod fit;
pub mod flags;
pub mod folderops;
pub mod folderplan;
pub mod folders;
pub mod identity;
pub mod labels;
pub mod options;
pub mod perlre;
pub mod pipe;
pub mod record;
pub mod rewrite;
pub mod select;
pub mod throttle;
