//! One folder pair, decided: from what both sides list, the run's options and what the state
//! store recorded, the plan of what to do — which host1 messages to copy (and with which
//! flags and date), which flags to store on messages already there, what to delete on either
//! side (or why not), and what to record at the end. No I/O: the executor
//! (`imapsync-sync`'s `folder` module) lists, calls these functions and carries the result
//! out, phase by phase.
//!
//! * [`vouch`]: what the record vouches for — the options fingerprint, the "nothing changed"
//!   fast path, UIDVALIDITY changes, when an incremental listing may be used, the record
//!   saved at the end;
//! * [`changes`]: the incremental listing (CONDSTORE/QRESYNC) — what to ask for and how the
//!   answers make a listing;
//! * [`decide`]: the per-folder decision over both listings (copy, flags, counters);
//! * [`deletion`]: `--delete2`/`--delete2duplicates` targets and refusals, `--delete1`
//!   targets.

pub mod changes;
pub mod decide;
pub mod deletion;
pub mod vouch;

pub use changes::{ChangesPlan, Pairing, changes_plan, pairing, qresync_uids};
pub use decide::{
    Counts, FlagTrace, FolderPlan, Listings, PlannedCopy, Rules, decide, decide_folder,
    flags_after_copy,
};
pub use deletion::{
    Deletion2, Expunge2, Host2Facts, Target2, delete1_at_once, delete1_targets, deletion2, expunge2,
};
pub use vouch::{
    FolderOutcome, UidValidityChange, fingerprint, finish_record, incremental, uidvalidity_change,
    unchanged,
};

/// One message as listed on one side.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Listed {
    pub uid: u32,
    pub size: u64,
    /// Flags, space separated, as the server sent them.
    pub flags: String,
    pub internaldate: Option<String>,
    pub key: Option<String>,
    /// The key is our fallback (hash of the whole header and size): pair n-th with n-th.
    pub pairwise: bool,
    /// `flags` is current (false for a paired message whose flags were not fetched because
    /// nothing changed).
    pub flags_known: bool,
    /// Gmail labels (X-GM-LABELS), when they were fetched.
    pub labels: Option<Vec<String>>,
}

/// A selected folder, as SELECT or EXAMINE told.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Selected {
    pub exists: u32,
    pub uidvalidity: Option<u32>,
    pub uidnext: Option<u32>,
    pub highestmodseq: Option<u64>,
    /// PERMANENTFLAGS as imapsync uses them: empty = no filtering (absent, empty, or `\*`).
    pub permanentflags: String,
    pub permanentflags_shown: String,
    pub read_only: bool,
}

#[cfg(test)]
pub(crate) mod testutil {
    use super::Listed;

    /// A listed message with a key (or none) and flags.
    pub fn msg(uid: u32, key: Option<&str>, flags: &str) -> Listed {
        Listed {
            uid,
            size: 100 + u64::from(uid),
            flags: flags.to_string(),
            internaldate: Some("01-Jan-2024 10:00:00 +0000".into()),
            key: key.map(str::to_string),
            pairwise: false,
            flags_known: true,
            labels: None,
        }
    }
}
