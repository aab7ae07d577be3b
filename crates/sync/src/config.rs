//! The resolved configuration of a run: imapsync's options after defaults, presets and
//! implied options (resolved once, by the command line's high-level arguments). The option
//! types themselves are pure data from [`imapsync_plan::options`]; this adds the connection
//! settings of each side.

use std::path::PathBuf;

use imapsync_client::ConnectOptions;

pub use imapsync_plan::options::{
    DeleteConfig, FolderConfig, MessageConfig, Mode, Phase, RateConfig, ReportConfig, SignalAction,
    SignalPlan, SizesConfig,
};

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

/// The whole run.
#[derive(Debug)]
pub struct Config {
    pub side1: SideConfig,
    pub side2: SideConfig,
    /// How far the run goes.
    pub mode: Mode,
    /// `--dry`: decide and print, change nothing.
    pub dry: bool,
    pub sizes: SizesConfig,
    pub folders: FolderConfig,
    pub messages: MessageConfig,
    pub delete: DeleteConfig,
    pub rates: RateConfig,
    pub errorsmax: u64,
    /// `--errorsdump` (default on): list the errors at the end.
    pub errorsdump: bool,
    /// The state database, `None` = no state store.
    pub state_path: Option<PathBuf>,
    /// Print per-message lines and the folder lists.
    pub debug: bool,
    /// `--debugfolders`: the folder lists and mapping; `--debuglist`: the UIDs each folder
    /// lists; `--debugmemory`: memory after each copy.
    pub debugfolders: bool,
    pub debuglist: bool,
    pub debugmemory: bool,
    /// `--debugsleep N`: sleep N seconds after the folders are mapped, before each folder and
    /// after each copy (to test reconnections by hand).
    pub debugsleep: Option<f64>,
    /// `--mixfolders` (default on); off: a host2 folder that several host1 folders map to
    /// (names differing only by case, say) takes the first one only.
    pub mixfolders: bool,
    /// `--checknoabletosearch` (default on, off with `--justfolders`): check SEARCH ALL on
    /// INBOX before a SEARCH is used, and fall back to listing everything when it fails.
    pub checknoabletosearch: bool,
    /// What signals do to the run.
    pub signals: SignalPlan,
    /// The file whose appearance stops the run (exit 7): `PIDFILEabortPID`, as imapsync
    /// watches for it (`--abort --abortbyfile` creates it).
    pub abort_file: Option<PathBuf>,
    /// The report message appended at the end (`--emailreport1`, `--emailreport2`).
    pub report: ReportConfig,
    /// What `--releasecheck` found, printed at the end of the statistics (`None`: imapsync's
    /// hint to add `--releasecheck`).
    pub release_line: Option<String>,
}

impl Config {
    pub fn side(&self, side: imapsync_client::Side) -> &SideConfig {
        match side {
            imapsync_client::Side::Host1 => &self.side1,
            imapsync_client::Side::Host2 => &self.side2,
        }
    }

    /// Connection pairs the per-side limits allow.
    pub fn pairs(&self) -> usize {
        self.side1.connections.min(self.side2.connections).max(1)
    }
}
