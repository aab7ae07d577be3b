//! The counters behind imapsync's statistics block.

use std::collections::HashSet;

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
    /// Identity keys seen on host1 / host2 across all folders, and those missing on the
    /// other side, for the "found in host1 not in host2" lines.
    pub keys1: HashSet<String>,
    pub keys2: HashSet<String>,
    /// Counts replayed from the state store for folders that were not listed.
    pub n1_replayed: u64,
    pub n2_replayed: u64,
    pub missing_replayed: u64,
    pub extra_replayed: u64,
    pub flags_updated: u64,
    pub unidentified_copied: u64,
}

impl Stats {
    /// Identified messages on host1 (listed or replayed).
    pub fn identified1(&self) -> u64 {
        self.keys1.len() as u64 + self.n1_replayed
    }

    pub fn identified2(&self) -> u64 {
        self.keys2.len() as u64 + self.n2_replayed
    }

    /// Host1 keys not found on host2 (over all folders).
    pub fn missing_on2(&self) -> u64 {
        self.keys1.difference(&self.keys2).count() as u64 + self.missing_replayed
    }

    /// Host2 keys not found on host1.
    pub fn extra_on2(&self) -> u64 {
        self.keys2.difference(&self.keys1).count() as u64 + self.extra_replayed
    }
}
