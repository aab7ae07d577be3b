//! The run's options once resolved: typed, every default and implied option already applied
//! (by the command line's high-level arguments, `imapsync-cli`'s `hiargs`). Everything after
//! option parsing reads these values, never option names.
//!
//! Connection settings are not here (they belong to the client crate); the executor's
//! `Config` puts both together.

use crate::identity::IdentityOptions;
use crate::perlre::PerlExpr;

/// What kind of run: how far the run goes before it stops. Each mode is a prefix of the
/// phases of a full sync (connect, log in, list and map folders, folder sizes, create folders
/// on host2, sync messages).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mode {
    /// `--justbanner`: print the banner and the start lines, connect nowhere.
    JustBanner,
    /// `--justconnect` (also implied when a host or user is missing): connect, print banners
    /// and capabilities, no login.
    JustConnect,
    /// `--justlogin`: log in on both sides, then stop.
    JustLogin,
    /// `--justfolderlists`: print both folder lists and the mapping.
    JustFolderLists,
    /// `--justautomap`: the same, to check the special-use mapping.
    JustAutomap,
    /// `--justfoldersizes`: print the folder sizes of both sides.
    JustFolderSizes,
    /// `--justfolders`: create the folders on host2, copy no message.
    JustFolders,
    /// A sync.
    #[default]
    Sync,
}

/// The phases of a run, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    Start,
    Connect,
    Login,
    MapFolders,
    FolderSizes,
    CreateFolders,
    SyncMessages,
}

impl Mode {
    /// The last phase this mode runs.
    pub fn last_phase(self) -> Phase {
        match self {
            Mode::JustBanner => Phase::Start,
            Mode::JustConnect => Phase::Connect,
            Mode::JustLogin => Phase::Login,
            Mode::JustFolderLists | Mode::JustAutomap => Phase::MapFolders,
            Mode::JustFolderSizes => Phase::FolderSizes,
            Mode::JustFolders => Phase::CreateFolders,
            Mode::Sync => Phase::SyncMessages,
        }
    }

    /// Whether the run stops once `phase` is done.
    pub fn stops_after(self, phase: Phase) -> bool {
        phase >= self.last_phase()
    }

    /// The mode only looks: it ends before anything is written and without the statistics
    /// block (imapsync's "Exiting because of --justX").
    pub fn only_looks(self) -> bool {
        matches!(
            self,
            Mode::JustBanner
                | Mode::JustLogin
                | Mode::JustFolderLists
                | Mode::JustAutomap
                | Mode::JustFolderSizes
        )
    }

    /// The option that selects this mode (for messages).
    pub fn option(self) -> &'static str {
        match self {
            Mode::JustBanner => "--justbanner",
            Mode::JustConnect => "--justconnect",
            Mode::JustLogin => "--justlogin",
            Mode::JustFolderLists => "--justfolderlists",
            Mode::JustAutomap => "--justautomap",
            Mode::JustFolderSizes => "--justfoldersizes",
            Mode::JustFolders => "--justfolders",
            Mode::Sync => "",
        }
    }
}

/// Folder sizes tables.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SizesConfig {
    /// `--foldersizes`: before the sync.
    pub before: bool,
    /// `--foldersizesatend`: after it.
    pub after: bool,
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
    pub regextrans2: Vec<PerlExpr>,
    pub fixslash2: bool,
    pub fixinboxinbox: bool,
    pub subscribe: bool,
    pub subscribeall: bool,
    /// `--delete2folders` (implied by its two filters).
    pub delete2folders: bool,
    pub delete2foldersonly: Option<PerlExpr>,
    pub delete2foldersbutnot: Option<PerlExpr>,
    pub delete1emptyfolders: bool,
}

/// Message selection, identity, flags and rewrites.
#[derive(Clone, Debug, Default)]
pub struct MessageConfig {
    pub identity: IdentityOptions,
    pub addheader: bool,
    pub maxsize: Option<u64>,
    pub minsize: Option<u64>,
    /// `--maxage`/`--minage` in days, filtered on our side (when the server does not SEARCH
    /// for them).
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

/// Deletions (all verified first). Every derived default (`--delete2` implies
/// `--delete2duplicates` unless `--syncduplicates`, `--delete1` implies `--expunge1`, ...) is
/// already applied: the executor reads these as they are.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DeleteConfig {
    pub delete1: bool,
    pub expunge1: bool,
    pub delete2: bool,
    pub delete2duplicates: bool,
    pub expunge2: bool,
    pub uidexpunge2: bool,
}

impl DeleteConfig {
    /// Host1 is changed (selected read-write).
    pub fn writes_host1(&self) -> bool {
        self.delete1 || self.expunge1
    }

    /// Host2 messages may be deleted.
    pub fn deletes_on_host2(&self) -> bool {
        self.delete2 || self.delete2duplicates
    }
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

/// What a signal does to a running sync (imapsync's `--sigexit`, `--sigreconnect`,
/// `--sigignore`, and its defaults).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignalAction {
    /// Print the statistics so far and end the run (exit 128 + the signal's number).
    Exit,
    /// Reconnect both sides and go on; the same signal twice within
    /// [`SIGNAL_TWICE_SECONDS`] ends the run.
    Reconnect,
    /// Print a line and the statistics so far, go on (`HUP`).
    Print,
    /// Print a line and the statistics so far, go on (`--sigignore`).
    Ignore,
    /// Switch the throttle's longest sleep between 0 and its default (`USR1`).
    ToggleSleep,
}

/// A second reconnecting signal within this many seconds ends the run.
pub const SIGNAL_TWICE_SECONDS: u64 = 2;

/// The signals a run handles, by name (`INT`, `TERM`, ...), and what each does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignalPlan {
    pub actions: Vec<(String, SignalAction)>,
}

/// Signal names a run may handle, with their numbers on Linux.
pub const SIGNALS: &[(&str, i32)] = &[
    ("HUP", 1),
    ("INT", 2),
    ("QUIT", 3),
    ("USR1", 10),
    ("USR2", 12),
    ("ALRM", 14),
    ("TERM", 15),
];

impl SignalPlan {
    /// imapsync's choice: `--sigexit` (default QUIT TERM), `--sigreconnect` (default INT),
    /// HUP prints, `--sigignore` (none by default) overrides the others for the same signal,
    /// USR1 toggles the sleeps. Names may be given with or without `SIG`, any case.
    pub fn new(
        sigexit: Option<&[String]>,
        sigreconnect: Option<&[String]>,
        sigignore: &[String],
    ) -> Result<SignalPlan, String> {
        let norm = |n: &String| -> Result<String, String> {
            let up = n.trim().to_ascii_uppercase();
            let name = up.strip_prefix("SIG").unwrap_or(&up).to_string();
            if SIGNALS.iter().any(|(s, _)| *s == name) {
                Ok(name)
            } else {
                Err(format!(
                    "unknown signal {n:?} (known: {})",
                    SIGNALS
                        .iter()
                        .map(|(s, _)| *s)
                        .collect::<Vec<_>>()
                        .join(" ")
                ))
            }
        };
        let names = |given: Option<&[String]>, default: &[&str]| -> Result<Vec<String>, String> {
            match given {
                Some(list) => list
                    .iter()
                    .flat_map(|l| {
                        l.split([',', ' '])
                            .filter(|w| !w.is_empty())
                            .map(str::to_string)
                            .collect::<Vec<_>>()
                    })
                    .map(|n| norm(&n))
                    .collect(),
                None => Ok(default.iter().map(|s| s.to_string()).collect()),
            }
        };
        let mut actions: Vec<(String, SignalAction)> = Vec::new();
        let mut set = |name: String, a: SignalAction| {
            actions.retain(|(n, _)| *n != name);
            actions.push((name, a));
        };
        set("USR1".into(), SignalAction::ToggleSleep);
        set("HUP".into(), SignalAction::Print);
        for n in names(sigreconnect, &["INT"])? {
            set(n, SignalAction::Reconnect);
        }
        for n in names(sigexit, &["QUIT", "TERM"])? {
            set(n, SignalAction::Exit);
        }
        for n in names(Some(sigignore), &[])? {
            set(n, SignalAction::Ignore);
        }
        Ok(SignalPlan { actions })
    }

    /// What `name` does, if the run handles it.
    pub fn action(&self, name: &str) -> Option<SignalAction> {
        self.actions
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, a)| *a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_stop_after_their_phase() {
        let table = [
            (Mode::JustBanner, Phase::Start),
            (Mode::JustConnect, Phase::Connect),
            (Mode::JustLogin, Phase::Login),
            (Mode::JustFolderLists, Phase::MapFolders),
            (Mode::JustAutomap, Phase::MapFolders),
            (Mode::JustFolderSizes, Phase::FolderSizes),
            (Mode::JustFolders, Phase::CreateFolders),
            (Mode::Sync, Phase::SyncMessages),
        ];
        for (mode, last) in table {
            assert_eq!(mode.last_phase(), last, "{mode:?}");
            assert!(mode.stops_after(last), "{mode:?}");
            for earlier in [
                Phase::Start,
                Phase::Connect,
                Phase::Login,
                Phase::MapFolders,
                Phase::FolderSizes,
                Phase::CreateFolders,
            ]
            .into_iter()
            .filter(|p| *p < last)
            {
                assert!(!mode.stops_after(earlier), "{mode:?} {earlier:?}");
            }
        }
    }

    #[test]
    fn deletion_sides() {
        let d = DeleteConfig {
            delete2duplicates: true,
            ..DeleteConfig::default()
        };
        assert!(d.deletes_on_host2() && !d.writes_host1());
        let d = DeleteConfig {
            expunge1: true,
            ..DeleteConfig::default()
        };
        assert!(d.writes_host1() && !d.deletes_on_host2());
    }

    #[test]
    fn signal_plans() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let d = SignalPlan::new(None, None, &[]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(d.action("TERM"), Some(SignalAction::Exit));
        assert_eq!(d.action("QUIT"), Some(SignalAction::Exit));
        assert_eq!(d.action("INT"), Some(SignalAction::Reconnect));
        assert_eq!(d.action("HUP"), Some(SignalAction::Print));
        assert_eq!(d.action("USR1"), Some(SignalAction::ToggleSleep));
        assert_eq!(d.action("USR2"), None);
        // --sigexit INT: Ctrl-C ends the run at once (INT no longer reconnects).
        let p = SignalPlan::new(Some(&s(&["INT"])), None, &[]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.action("INT"), Some(SignalAction::Exit));
        assert_eq!(
            p.action("TERM"),
            None,
            "the given list replaces the default"
        );
        // --sigignore wins over the others for the same signal; names in any spelling.
        let p =
            SignalPlan::new(None, None, &s(&["sigterm", "hup"])).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.action("TERM"), Some(SignalAction::Ignore));
        assert_eq!(p.action("HUP"), Some(SignalAction::Ignore));
        assert_eq!(p.action("QUIT"), Some(SignalAction::Exit));
        assert!(
            SignalPlan::new(Some(&s(&["KILL"])), None, &[]).is_err(),
            "KILL can not be caught"
        );
    }
}
