//! What the state store records per folder pair, as plain data: the executor and the folder
//! plan ([`crate::folderplan`]) read and decide it; `imapsync-state` stores it.

/// The recorded state of one folder pair.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FolderRecord {
    pub id: i64,
    pub name1: String,
    pub name2: String,
    pub uidvalidity1: Option<u32>,
    pub uidvalidity2: Option<u32>,
    /// Host1 status at the end of the last complete sync.
    pub side1: SideStatus,
    /// Host2 status at the end of the last complete sync.
    pub side2: SideStatus,
    /// The last sync of this pair finished without error.
    pub complete: bool,
    /// Fingerprint of the options that decided what was selected and how it was identified;
    /// a record only vouches for a folder under the same options.
    pub options: Option<String>,
    pub summary: Summary,
    /// Host1 UIDs at the start of the last complete sync (an IMAP sequence set), the base
    /// that QRESYNC's VANISHED and CHANGEDSINCE answers are applied to.
    pub uids1: Option<String>,
}

/// UIDNEXT, HIGHESTMODSEQ and message count of one side.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SideStatus {
    pub uidnext: Option<u32>,
    pub modseq: Option<u64>,
    pub messages: Option<u32>,
}

/// Counters of the last complete sync, replayed when a folder is unchanged.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Identified messages on host1 / host2.
    pub n1: u64,
    pub n2: u64,
    pub dup1: u64,
    pub dup2: u64,
    /// Host1 messages not on host2 / host2 messages not on host1.
    pub missing: u64,
    pub extra: u64,
    pub bytes1: u64,
    pub bytes2: u64,
}

/// One entry of the UID map.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapEntry {
    pub uid1: u32,
    pub uid2: u32,
    /// Flags last set on host2 (space separated), when known.
    pub flags: Option<String>,
}

/// An APPEND about to be sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewIntent {
    pub uid1: u32,
    pub key: Option<String>,
    pub size: u64,
    pub uidvalidity2: Option<u32>,
    pub uidnext2: Option<u32>,
}

/// An APPEND whose outcome is not known (left by an interrupted run).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Intent {
    pub id: i64,
    pub uid1: u32,
    pub key: Option<String>,
    pub size: u64,
    pub uidvalidity2: Option<u32>,
    pub uidnext2: Option<u32>,
}
