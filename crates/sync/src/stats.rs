//! The counters behind imapsync's statistics block.

/// Counters of a run (see spec §4.1 for their meaning).
#[derive(Clone, Debug, Default)]
pub struct Stats {
    pub folders_wanted: u64,
    pub folders_synced: u64,
    pub folders_deleted2: u64,
    pub folders_delete_failed2: u64,
    pub transferred: u64,
    /// Would have been transferred (`--dry`).
    pub transferred_dry: u64,
    pub skipped: u64,
    pub dup1: u64,
    pub dup2: u64,
    pub crossdup2: u64,
    pub noheader1: u64,
    pub noheader2: u64,
    pub deleted1: u64,
    pub deleted2: u64,
    pub bytes_transferred: u64,
    pub bytes_skipped: u64,
    pub biggest_transferred: u64,
    pub reconnect1: u64,
    pub reconnect2: u64,
    /// Identified messages on host1 / host2 at the end of each folder's sync.
    pub identified1: u64,
    pub identified2: u64,
    /// Host1 messages still missing on host2, host2 messages with no host1 counterpart
    /// (counted per folder pair).
    pub missing: u64,
    pub extra: u64,
    pub flags_updated: u64,
    /// Host2 messages given labels (`STORE [+-]X-GM-LABELS`).
    pub labels_stored: u64,
    /// Messages not copied as too big (`--maxsize`, APPENDLIMIT, or refused by host2).
    pub too_big: u64,
    pub bytes_too_big: u64,
}
