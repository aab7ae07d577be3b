//! The resolved configuration of a run (imapsync's options after defaults and presets).

use std::path::PathBuf;

use imapsync_client::ConnectOptions;
use imapsync_plan::identity::IdentityOptions;
use imapsync_plan::perlre::PerlExpr;

/// One side (host1 or host2).
#[derive(Clone, Debug)]
pub struct SideConfig {
    pub connect: ConnectOptions,
    /// Parallel connections on this side.
    pub connections: usize,
    /// Reconnection attempts per failure (`--reconnectretryN`).
    pub reconnect_retry: u32,
    /// `--sepN`, `--prefixN` overrides.
    pub sep: Option<char>,
    pub prefix: Option<String>,
    /// SEARCH criteria for this side (`--searchN`, `--search`, or the maxage/minage
    /// criteria); `None` = every message.
    pub search: Option<String>,
}

/// Folder selection and name mapping.
#[derive(Clone, Debug, Default)]
pub struct FolderConfig {
    pub folder: Vec<String>,
    pub folderrec: Vec<String>,
    pub include: Vec<String>,
    pub exclude: Vec<String>,
    pub subscribed: bool,
    pub folderfirst: Vec<String>,
    pub folderlast: Vec<String>,
    pub checkfoldersexist: bool,
    pub checkselectable: Option<bool>,
    pub skipemptyfolders: bool,
    pub f1f2: Vec<(String, String)>,
    pub automap: bool,
    pub subfolder1: Option<String>,
    pub subfolder2: Option<String>,
    pub regextrans2: Vec<String>,
    pub fixslash2: bool,
    pub fixinboxinbox: bool,
    pub subscribe: bool,
    pub subscribeall: bool,
    pub delete2folders: bool,
    pub delete2foldersonly: Option<String>,
    pub delete2foldersbutnot: Option<String>,
    pub delete1emptyfolders: bool,
}

/// Message handling.
#[derive(Debug, Default)]
pub struct MessageConfig {
    pub identity: IdentityOptions,
    pub addheader: bool,
    pub maxsize: Option<u64>,
    pub minsize: Option<u64>,
    /// `--maxage`/`--minage` in days (client-side when SEARCH is not used).
    pub maxage: Option<f64>,
    pub minage: Option<f64>,
    pub syncinternaldates: bool,
    pub idatefromheader: bool,
    pub resyncflags: bool,
    pub regexflag: Vec<PerlExpr>,
    pub filterflags: bool,
    pub filterbuggyflags: bool,
    pub flagscase: bool,
    pub syncduplicates: bool,
    pub skipcrossduplicates: bool,
    pub useuid: bool,
    pub multiappend: bool,
    /// `--regexmess` rules applied to whole messages, in order.
    pub regexmess: Vec<PerlExpr>,
    /// `--skipmess`: messages matching any of these are not copied.
    pub skipmess: Vec<PerlExpr>,
    /// `--disarmreadreceipts`: `Disposition-Notification-To:` becomes
    /// `X-Disposition-Notification-To:` in the header.
    pub disarmreadreceipts: bool,
    /// `--maxlinelength`: messages with a longer line are not copied.
    pub maxlinelength: Option<u64>,
}

/// What kind of run.
#[derive(Clone, Debug, Default)]
pub struct Modes {
    pub dry: bool,
    pub justconnect: bool,
    pub justlogin: bool,
    pub justfolders: bool,
    pub justfoldersizes: bool,
    pub justfolderlists: bool,
    pub justautomap: bool,
    pub foldersizes: bool,
    pub foldersizesatend: bool,
}

/// Deletions (all verified first).
#[derive(Clone, Debug, Default)]
pub struct DeleteConfig {
    pub delete1: bool,
    pub expunge1: bool,
    pub delete2: bool,
    pub delete2duplicates: bool,
    pub expunge2: bool,
    pub uidexpunge2: bool,
}

/// Client-side throttling, as imapsync.
#[derive(Clone, Debug, Default)]
pub struct RateConfig {
    pub maxmessagespersecond: Option<f64>,
    pub maxbytespersecond: Option<f64>,
    pub maxbytesafter: u64,
    pub maxsleep: Option<f64>,
    pub exitwhenover: Option<u64>,
}

/// The whole run.
#[derive(Debug)]
pub struct Config {
    pub side1: SideConfig,
    pub side2: SideConfig,
    pub folders: FolderConfig,
    pub messages: MessageConfig,
    pub modes: Modes,
    pub delete: DeleteConfig,
    pub rates: RateConfig,
    pub errorsmax: u64,
    /// The state database, `None` = no state store.
    pub state_path: Option<PathBuf>,
    /// Print per-message lines.
    pub debug: bool,
}
