//! From parsed options ([`Parsed`], "low-level arguments") to what the program does
//! ([`Action`], "high-level arguments"): defaults, presets, implied options, secrets,
//! host:port forms, TLS arguments, search criteria, the run mode. This is the only reader of
//! the parsed options: everything after it sees typed values, and every derived default
//! (`--delete2` implies `--delete2duplicates`, `--delete1` implies `--expunge1`, a missing
//! host implies `--justconnect`, the presets, ...) is decided here, once.

mod content;
mod presets;
mod side;

use std::path::PathBuf;

use imapsync_plan::identity::{IdentityOptions, UseHeader};
use imapsync_plan::perlre::{ExprKind, PerlExpr, RegexFlags, perl_regex_with_flags};
use imapsync_sync::config::{
    Config, DeleteConfig, FolderConfig, MessageConfig, Mode, RateConfig, SideConfig, SignalPlan,
    SizesConfig,
};

use crate::flags::{self, Parsed};
use presets::{Presets, presets};
pub use side::{
    DEFAULT_CONNECTIONS, DEFAULT_RECONNECT_RETRY, MAX_CONNECTIONS, OAuthLogin, split_host,
};

/// A configuration error, with the exit code it maps to.
#[derive(Debug)]
pub struct ConfigError {
    pub message: String,
    pub exit_code: i32,
}

fn usage(message: impl Into<String>) -> ConfigError {
    ConfigError {
        message: message.into(),
        exit_code: 64,
    }
}

/// What the program does with this command line.
#[derive(Debug)]
pub enum Action {
    /// `--help`.
    Help,
    /// `--version`.
    Version,
    /// Options given that are not supported yet (stop before anything else).
    NotSupported(Vec<String>),
    /// `--abort`: stop the run whose PID is in this pidfile (`None`: `--pidfile ""`), with
    /// signals (QUIT, then KILL) or, with `--abortbyfile`, through its abort file.
    Abort {
        pidfile: Option<PathBuf>,
        by_file: bool,
    },
    /// A run (a sync, or one of the just* modes).
    Run(Box<Invocation>),
}

/// Where the log goes.
#[derive(Clone, Debug)]
pub struct LogSettings {
    /// `--log` (default on); `--nolog` turns it off.
    pub enabled: bool,
    pub logdir: String,
    pub logfile: Option<String>,
    pub user1: Option<String>,
    pub user2: Option<String>,
}

/// A run: its configuration and what the program around it needs.
#[derive(Debug)]
pub struct Invocation {
    pub config: Config,
    pub log: LogSettings,
    /// The pidfile to write (`None`: `--pidfile ""`, or no home directory).
    pub pidfile: Option<PathBuf>,
    pub pidfilelocking: bool,
    /// `--tail`: follow the log of a run already going on.
    pub tail: bool,
    /// `--debugimap`, `--debugimap1`, `--debugimap2`: trace each side.
    pub debugimap: [bool; 2],
    /// The command line with its secrets masked.
    pub command_line: String,
    /// Lines to print at the start (warnings, presets, notes on options read elsewhere).
    pub notes: Vec<String>,
    /// Interactive OAuth2 logins to run before anything else (`--oauthloginN`).
    pub oauth_logins: Vec<OAuthLogin>,
    /// `--releasecheck`: ask for imapsync's latest release number.
    pub releasecheck: bool,
    /// `--debugenv`: print the environment (secrets masked) at the start.
    pub debugenv: bool,
    /// `--debugsig`: print what each signal does at the start.
    pub debugsig: bool,
    /// `--modulesversion` (default on): print the versions of the main libraries built in.
    pub modulesversion: bool,
    /// `--exitonload`: refuse to start on a machine that is already overloaded (exit 69).
    pub exitonload: bool,
}

/// Resolves a parsed command line: merges `options_extra.txt` (its first line, when the file
/// is in the current directory) and `--extra`, then decides the action.
pub fn resolve(mut p: Parsed) -> Result<Action, ConfigError> {
    let mut notes = merge_extra(&mut p);
    if p.bool("help") == Some(true) {
        return Ok(Action::Help);
    }
    if p.bool("version") == Some(true) {
        return Ok(Action::Version);
    }
    let unsupported = p.not_yet_supported();
    if !unsupported.is_empty() {
        return Ok(Action::NotSupported(unsupported));
    }
    if p.bool("abort") == Some(true) {
        return Ok(Action::Abort {
            pidfile: pidfile_path(&p),
            by_file: p.bool("abortbyfile").unwrap_or(false),
        });
    }
    let command_line = format!("imapsync {}", p.masked_command_line());
    let (config, warnings) = build(&p)?;
    notes.extend(warnings);
    let oauth_logins = side::oauth_logins(&p)?;
    Ok(Action::Run(Box::new(Invocation {
        config,
        log: LogSettings {
            enabled: p.bool("log").unwrap_or(true),
            logdir: p.string("logdir").unwrap_or("LOG_imapsync").to_string(),
            logfile: p.string("logfile").map(str::to_string),
            user1: p.string("user1").map(str::to_string),
            user2: p.string("user2").map(str::to_string),
        },
        pidfile: pidfile_path(&p),
        pidfilelocking: p.bool("pidfilelocking").unwrap_or(false),
        tail: p.bool("tail").unwrap_or(false),
        debugimap: [1, 2].map(|n| {
            p.bool("debugimap").unwrap_or(false)
                || p.bool(&format!("debugimap{n}")).unwrap_or(false)
        }),
        command_line,
        notes,
        oauth_logins,
        releasecheck: p.bool("releasecheck").unwrap_or(false),
        debugenv: p.bool("debugenv").unwrap_or(false),
        debugsig: p.bool("debugsig").unwrap_or(false),
        modulesversion: p.bool("modulesversion").unwrap_or(true),
        exitonload: p.bool("exitonload").unwrap_or(false),
    })))
}

/// `options_extra.txt` (first line) and `--extra`: imapsync's restricted option set, merged
/// over the command line. Returns the lines to print about them.
fn merge_extra(p: &mut Parsed) -> Vec<String> {
    let mut notes = Vec::new();
    if let Ok(text) = std::fs::read_to_string("options_extra.txt") {
        let first = text.lines().next().unwrap_or("").to_string();
        let extra = flags::parse_extra(&first);
        for pb in &extra.problems {
            notes.push(format!("options_extra.txt: {pb}"));
        }
        p.merge(&extra.options);
        notes.push(format!("Read options from options_extra.txt: {first}"));
    }
    for e in p.list("extra").to_vec() {
        let extra = flags::parse_extra(&e);
        for pb in &extra.problems {
            notes.push(format!("--extra: {pb}"));
        }
        p.merge(&extra.options);
    }
    notes
}

/// What signals do (`--sigexit`, `--sigreconnect`, `--sigignore`, imapsync's defaults).
fn signals(p: &Parsed) -> Result<SignalPlan, ConfigError> {
    let given = |n: &str| {
        let l = p.list(n);
        (!l.is_empty()).then_some(l)
    };
    SignalPlan::new(given("sigexit"), given("sigreconnect"), p.list("sigignore"))
        .map_err(|e| usage(format!("--sigexit/--sigreconnect/--sigignore: {e}")))
}

/// The file that stops the run with that PID: the pidfile's path followed by `abort` and
/// the PID, as imapsync names it.
pub fn abort_file(pidfile: &std::path::Path, pid: u32) -> PathBuf {
    let mut s = pidfile.as_os_str().to_owned();
    s.push(format!("abort{pid}"));
    PathBuf::from(s)
}

/// `--pidfile`, else `--tmpdir`/imapsync.pid, else `$HOME/tmp/imapsync.pid`; `--pidfile ""`
/// means none.
fn pidfile_path(p: &Parsed) -> Option<PathBuf> {
    if let Some(given) = p.string("pidfile") {
        return (!given.is_empty()).then(|| PathBuf::from(given));
    }
    let tmpdir = match p.string("tmpdir") {
        Some(t) => PathBuf::from(t),
        None => PathBuf::from(std::env::var_os("HOME")?).join("tmp"),
    };
    Some(tmpdir.join("imapsync.pid"))
}

/// IMAP search key for `--maxage`/`--minage` (imapsync uses the Date: header, SENTSINCE /
/// SENTBEFORE, at day granularity).
fn age_criteria(maxage: Option<f64>, minage: Option<f64>, now: i64) -> Option<String> {
    let date = |days: f64| {
        let t = now - (days * 86400.0) as i64;
        imapsync_plan::dates::format_search_date(t, imapsync_plan::display::local_offset(t))
    };
    match (maxage, minage) {
        (None, None) => None,
        (Some(max), None) => Some(format!("SENTSINCE {}", date(max))),
        (None, Some(min)) => Some(format!("SENTBEFORE {}", date(min))),
        (Some(max), Some(min)) => {
            if min <= max {
                Some(format!("SENTSINCE {} SENTBEFORE {}", date(max), date(min)))
            } else {
                Some(format!(
                    "OR SENTSINCE {} SENTBEFORE {}",
                    date(max),
                    date(min)
                ))
            }
        }
    }
}

/// Builds the run configuration; returns it with the lines to print about it.
pub fn build(p: &Parsed) -> Result<(Config, Vec<String>), ConfigError> {
    incompatible(p)?;
    let pre = presets(p);
    let mut warnings: Vec<String> = pre.notes.clone();
    let implied = implied_justconnect(p, &pre);
    let mode = mode(p, implied.is_some());
    if let Some(why) = implied.filter(|_| mode == Mode::JustConnect) {
        warnings.push(why);
    }
    let no_login = matches!(mode, Mode::JustConnect | Mode::JustBanner);
    let mut side1 = side::side_config(p, 1, &mut warnings, no_login, &pre)?;
    let mut side2 = side::side_config(p, 2, &mut warnings, no_login, &pre)?;
    same_account_deletions(p, &side1, &side2)?;
    server_side_ages(p, &mut side1, &mut side2);
    let searches = [side1.search.is_some(), side2.search.is_some()];
    let messages = messages(p, &pre, searches)?;
    let folders = folders(p, &pre)?;
    let delete = delete(p, &pre)?;
    let justfolders = mode == Mode::JustFolders;
    let before = p.bool("foldersizes").unwrap_or(!justfolders);
    let sizes = SizesConfig {
        before,
        after: p.bool("foldersizesatend").unwrap_or(before || justfolders),
    };
    let state_path = state_path(p, &side1, &side2);
    let dry = p.bool("dry").unwrap_or(false);
    let cfg = Config {
        side1,
        side2,
        mode,
        dry,
        sizes,
        folders,
        messages,
        delete,
        rates: rates(p, &pre),
        errorsmax: p.int("errorsmax").map(|v| v.max(1) as u64).unwrap_or(50),
        errorsdump: p.bool("errorsdump").unwrap_or(true),
        state_path,
        debug: p.bool("debug").unwrap_or(false),
        debugfolders: p.bool("debugfolders").unwrap_or(false),
        debuglist: p.bool("debuglist").unwrap_or(false),
        debugmemory: p.bool("debugmemory").unwrap_or(false),
        debugsleep: p.float("debugsleep").filter(|&v| v > 0.0),
        mixfolders: p.bool("mixfolders").unwrap_or(true),
        checknoabletosearch: p
            .bool("checknoabletosearch")
            .unwrap_or(mode != Mode::JustFolders),
        signals: signals(p)?,
        abort_file: pidfile_path(p).map(|f| abort_file(&f, std::process::id())),
        report: content::report(p, mode, dry),
        release_line: None,
    };
    warnings.extend(content::notes(p, &cfg));
    warnings.extend(no_op_notes(p));
    Ok((cfg, warnings))
}

/// Options that mean nothing here, with why; each is accepted (old command lines keep
/// working) and says so in one line when given. The README lists them.
pub const NO_OPS: &[(&str, &str)] = &[
    ("fastio1", "reads are always asynchronous and buffered here"),
    ("fastio2", "reads are always asynchronous and buffered here"),
    (
        "buffersize",
        "buffers are sized by the engine (64 KiB reads, bodies streamed)",
    ),
    (
        "split1",
        "commands are sized by bytes and set length here (a FETCH batch carries at most 64 messages or 1 MiB)",
    ),
    (
        "split2",
        "commands are sized by bytes and set length here (a MULTIAPPEND carries at most 32 messages or 1 MiB)",
    ),
    ("uid1", "messages are always addressed by UID here"),
    ("uid2", "messages are always addressed by UID here"),
    (
        "showpasswords",
        "passwords are never printed, whatever the options",
    ),
    (
        "wholeheaderifneeded",
        "the whole header is fetched whenever the identifying headers are missing",
    ),
    (
        "cacheaftercopy",
        "the state store records each copy as host2 confirms it",
    ),
    (
        "debugcache",
        "the state store replaces imapsync's cache; --debug shows what it pairs",
    ),
    (
        "fixcolonbug",
        "no Windows file cache here, so no colon to fix",
    ),
    (
        "create_folder_old",
        "folders are created as imapsync creates them now (parents first)",
    ),
    ("debugcgi", "there is no CGI mode here"),
    ("debugdev", "there is nothing more to show than --debug"),
];

/// imapsync's self-tests and developer switches: refused (exit 64) with what they are there.
pub const DEVELOPER_SWITCHES: &[(&str, &str)] = &[
    (
        "tests",
        "runs imapsync's unit tests of its own Perl code (this program's tests: scripts/test.sh)",
    ),
    ("testsdebug", "runs imapsync's unit tests in debug mode"),
    ("testsunit", "runs one of imapsync's unit test functions"),
    (
        "testslive",
        "syncs between the imapsync author's public test accounts, over the internet",
    ),
    (
        "testslive6",
        "syncs between the imapsync author's public test accounts, over IPv6",
    ),
    (
        "testslive2",
        "syncs a second time between the imapsync author's public test accounts",
    ),
    (
        "simulong",
        "pretends a long run, to test imapsync's progress output",
    ),
    ("memorystress", "allocates memory to test imapsync's limits"),
    (
        "var",
        "sets an internal variable of imapsync's Perl code, for its tests",
    ),
    (
        "dockercontext",
        "switches imapsync's defaults for its Docker image (no log file, signals)",
    ),
];

/// The line refusing a not-supported option (`--name`).
pub fn not_supported_line(option: &str) -> String {
    let name = option
        .trim_start_matches('-')
        .to_ascii_lowercase()
        .replace("tests_debug", "testsdebug");
    match DEVELOPER_SWITCHES.iter().find(|(n, _)| *n == name) {
        Some((_, what)) => format!("option {option} is not supported: in imapsync it {what}"),
        None => format!("option {option} is not supported yet"),
    }
}

/// One line per no-op option given.
fn no_op_notes(p: &Parsed) -> Vec<String> {
    let given = p.given();
    NO_OPS
        .iter()
        .filter(|(name, _)| given.contains(name))
        .map(|(name, why)| format!("Info: --{name} has no effect here: {why}"))
        .collect()
}

/// Deleting with the same account on both sides would empty it: every message is "on host2"
/// since host2 is host1. imapsync goes ahead (and deletes everything with `--delete1`); we
/// refuse before connecting.
fn same_account_deletions(
    p: &Parsed,
    side1: &SideConfig,
    side2: &SideConfig,
) -> Result<(), ConfigError> {
    let (a, b) = (&side1.connect, &side2.connect);
    let same = !a.host.is_empty()
        && a.host.eq_ignore_ascii_case(&b.host)
        && a.port == b.port
        && a.user == b.user;
    let deleting = [
        "delete1",
        "delete2",
        "delete2duplicates",
        "delete1emptyfolders",
        "delete2folders",
    ]
    .into_iter()
    .filter(|o| p.bool(o) == Some(true))
    .collect::<Vec<_>>();
    if same && !deleting.is_empty() {
        return Err(usage(format!(
            "Error: host1 and host2 are the same account ({} on {}): --{} would delete messages or folders that are only \"copied\" onto themselves; give two different accounts",
            a.user,
            a.host,
            deleting.join(", --")
        )));
    }
    Ok(())
}

/// Options that imapsync refuses together.
fn incompatible(p: &Parsed) -> Result<(), ConfigError> {
    if p.bool("usecache") == Some(true) && p.bool("skipcrossduplicates") == Some(true) {
        return Err(usage(
            "Error: can not have both --usecache and --skipcrossduplicates",
        ));
    }
    Ok(())
}

/// A missing host or user means a justconnect (imapsync's rule); the line saying so.
fn implied_justconnect(p: &Parsed, pre: &Presets) -> Option<String> {
    let missing: Vec<&str> = ["host1", "user1", "host2", "user2"]
        .into_iter()
        .filter(|n| p.string(n).is_none_or(|v| v.trim().is_empty()))
        .filter(|n| match *n {
            "host1" => pre.host[0].is_none(),
            "host2" => pre.host[1].is_none(),
            _ => true,
        })
        .collect();
    (!missing.is_empty()).then(|| {
        format!(
            "No {} given: connecting only (imapsync's --justconnect)",
            missing
                .iter()
                .map(|m| format!("--{m}"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    })
}

/// The run mode: the earliest stop asked for wins.
fn mode(p: &Parsed, implied_justconnect: bool) -> Mode {
    let on = |n: &str| p.bool(n) == Some(true);
    if on("justbanner") {
        Mode::JustBanner
    } else if implied_justconnect || on("justconnect") {
        Mode::JustConnect
    } else if on("justlogin") {
        Mode::JustLogin
    } else if on("justfolderlists") {
        Mode::JustFolderLists
    } else if on("justautomap") {
        Mode::JustAutomap
    } else if on("justfoldersizes") {
        Mode::JustFolderSizes
    } else if on("justfolders") {
        Mode::JustFolders
    } else {
        Mode::Sync
    }
}

/// `--maxage`/`--minage` become SEARCH criteria on each side that can search (unless a
/// `--search` is given).
fn server_side_ages(p: &Parsed, side1: &mut SideConfig, side2: &mut SideConfig) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let server_side = p.bool("abletosearch").unwrap_or(true) && p.string("search").is_none();
    if server_side && let Some(c) = age_criteria(p.float("maxage"), p.float("minage"), now) {
        if side1.search.is_none() && p.bool("abletosearch1").unwrap_or(true) {
            side1.search = Some(c.clone());
        }
        if side2.search.is_none() && p.bool("abletosearch2").unwrap_or(true) {
            side2.search = Some(c);
        }
    }
}

/// Parses the expressions of a list option (and the preset's), naming the option on error.
fn exprs(p: &Parsed, name: &str, preset: &[&'static str]) -> Result<Vec<PerlExpr>, ConfigError> {
    p.list(name)
        .iter()
        .map(String::as_str)
        .chain(preset.iter().copied())
        .map(|e| PerlExpr::parse(e).map_err(|err| usage(format!("--{name} {e}: {err}"))))
        .collect()
}

fn messages(p: &Parsed, pre: &Presets, searches: [bool; 2]) -> Result<MessageConfig, ConfigError> {
    let skipheader = match p.string("skipheader") {
        Some(re) => Some(
            perl_regex_with_flags(re, RegexFlags::SKIPHEADER)
                .map_err(|e| usage(format!("--skipheader {re}: {e}")))?,
        ),
        None => None,
    };
    let identity = IdentityOptions {
        useheader: UseHeader::new(
            p.list("useheader")
                .iter()
                .cloned()
                .chain(pre.useheader.iter().map(|h| h.to_string())),
        ),
        skipheader,
        messageidnodomain: p.bool("messageidnodomain").unwrap_or(pre.messageidnodomain),
        skipsize: p.bool("skipsize").unwrap_or(true),
    };
    Ok(MessageConfig {
        identity,
        addheader: p.bool("addheader").unwrap_or(pre.addheader),
        maxsize: p
            .int("maxsize")
            .filter(|&v| v > 0)
            .map(|v| v as u64)
            .or(pre.maxsize),
        minsize: p.int("minsize").map(|v| v.max(0) as u64),
        // Kept even when the servers SEARCH for them: a side that turns out not to SEARCH
        // (--checknoabletosearch) is then filtered on our side.
        maxage: p.float("maxage"),
        minage: p.float("minage"),
        syncinternaldates: p.bool("syncinternaldates").unwrap_or(true),
        idatefromheader: p.bool("idatefromheader").unwrap_or(false),
        resyncflags: p.bool("resyncflags").unwrap_or(true),
        regexflag: exprs(p, "regexflag", &pre.regexflag)?,
        filterflags: p.bool("filterflags").unwrap_or(true),
        filterbuggyflags: p.bool("filterbuggyflags").unwrap_or(false),
        flagscase: p.bool("flagscase").unwrap_or(true),
        syncduplicates: p.bool("syncduplicates").unwrap_or(false),
        skipcrossduplicates: p
            .bool("skipcrossduplicates")
            .or(pre.skipcrossduplicates)
            .unwrap_or(false),
        useuid: p.bool("useuid").unwrap_or(false),
        // --exitwhenover and the rate limits count messages one by one, as imapsync: no
        // MULTIAPPEND then (a batch would cross a limit 32 messages at a time).
        multiappend: p.bool("multiappend").unwrap_or(
            p.int("exitwhenover").is_none()
                && p.float("maxmessagespersecond").is_none_or(|v| v == 0.0)
                && p.float("maxbytespersecond").is_none_or(|v| v == 0.0)
                && pre.maxmessagespersecond.is_none()
                && pre.maxbytespersecond.is_none(),
        ),
        regexmess: exprs(p, "regexmess", &pre.regexmess)?,
        skipmess: exprs(p, "skipmess", &[])?,
        disarmreadreceipts: p
            .bool("disarmreadreceipts")
            .unwrap_or(pre.disarmreadreceipts),
        maxlinelength: p.int("maxlinelength").filter(|&v| v > 0).map(|v| v as u64),
        labels: imapsync_plan::labels::LabelOptions {
            synclabels: p.bool("synclabels").unwrap_or(pre.labels),
            resynclabels: p.bool("resynclabels").unwrap_or(pre.labels),
            debuglabels: p.bool("debuglabels").unwrap_or(false),
        },
        ..content::messages(p, searches)?
    })
}

/// A `--delete2foldersonly`/`--delete2foldersbutnot` expression: a match (`/pattern/`).
fn folder_filter(p: &Parsed, opt: &str) -> Result<Option<PerlExpr>, ConfigError> {
    let Some(re) = p.string(opt) else {
        return Ok(None);
    };
    let e = PerlExpr::parse(re).map_err(|err| usage(format!("--{opt} {re}: {err}")))?;
    if e.kind() != ExprKind::Match {
        return Err(usage(format!(
            "--{opt} {re}: expected a regex like /pattern/"
        )));
    }
    Ok(Some(e))
}

fn folders(p: &Parsed, pre: &Presets) -> Result<FolderConfig, ConfigError> {
    let f1f2 = p
        .list("f1f2")
        .iter()
        .cloned()
        .chain(content::f1f2h(p))
        .chain(pre.f1f2.iter().map(|(a, b)| format!("{a}={b}")))
        .map(|v| match v.split_once('=') {
            Some((a, b)) => Ok((a.to_string(), b.to_string())),
            None => Err(usage(format!("--f1f2 {v}: expected source=destination"))),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let strings = |name: &str, preset: &[&'static str]| -> Vec<String> {
        p.list(name)
            .iter()
            .cloned()
            .chain(preset.iter().map(|e| e.to_string()))
            .collect()
    };
    let delete2foldersonly = folder_filter(p, "delete2foldersonly")?;
    let delete2foldersbutnot = folder_filter(p, "delete2foldersbutnot")?;
    Ok(FolderConfig {
        folder: p.list("folder").to_vec(),
        folderrec: p.list("folderrec").to_vec(),
        include: p.list("include").to_vec(),
        exclude: strings("exclude", &pre.exclude),
        subscribed: p.bool("subscribed").unwrap_or(false),
        folderfirst: p.list("folderfirst").to_vec(),
        folderlast: strings("folderlast", &pre.folderlast),
        checkfoldersexist: p.bool("checkfoldersexist").unwrap_or(true),
        checkselectable: p.bool("checkselectable"),
        skipemptyfolders: p.bool("skipemptyfolders").unwrap_or(false),
        f1f2,
        automap: p.bool("automap").unwrap_or(pre.automap),
        subfolder1: p.string("subfolder1").map(str::to_string),
        subfolder2: p.string("subfolder2").map(str::to_string),
        // Checked now rather than at first use (imapsync fails later, mid-run).
        regextrans2: exprs(p, "regextrans2", &pre.regextrans2)?,
        fixslash2: p.bool("fixslash2").unwrap_or(true),
        fixinboxinbox: p.bool("fixInboxINBOX").unwrap_or(true),
        subscribe: p.bool("subscribe").unwrap_or(true),
        subscribeall: p.bool("subscribeall").unwrap_or(false),
        delete2folders: p.bool("delete2folders").unwrap_or(false)
            || delete2foldersonly.is_some()
            || delete2foldersbutnot.is_some(),
        delete2foldersonly,
        delete2foldersbutnot,
        delete1emptyfolders: p.bool("delete1emptyfolders").unwrap_or(false),
        ..content::folders(p)
    })
}

/// Deletions with their derived defaults: `--delete2` implies `--delete2duplicates` (unless
/// `--syncduplicates`) and `--uidexpunge2`; `--delete1` (or `--gmail2`) implies `--expunge1`.
fn delete(p: &Parsed, pre: &Presets) -> Result<DeleteConfig, ConfigError> {
    let delete1 = p.bool("delete1").unwrap_or(false);
    let delete2 = p.bool("delete2").unwrap_or(false);
    if delete1 && delete2 {
        return Err(usage(
            "--delete1 and --delete2 can not be used together: that would delete messages on both sides",
        ));
    }
    let delete2duplicates = p
        .bool("delete2duplicates")
        .unwrap_or(delete2 && !p.bool("syncduplicates").unwrap_or(false));
    Ok(DeleteConfig {
        delete1,
        expunge1: p.bool("expunge1").unwrap_or(delete1 || pre.expunge1),
        delete2,
        delete2duplicates,
        expunge2: p.bool("expunge2").unwrap_or(false),
        uidexpunge2: p
            .bool("uidexpunge2")
            .unwrap_or(delete2 || delete2duplicates),
        ..content::delete(p)
    })
}

fn rates(p: &Parsed, pre: &Presets) -> RateConfig {
    RateConfig {
        maxmessagespersecond: p
            .float("maxmessagespersecond")
            .filter(|&v| v != 0.0)
            .or(pre.maxmessagespersecond),
        maxbytespersecond: p
            .float("maxbytespersecond")
            .filter(|&v| v != 0.0)
            .or(pre.maxbytespersecond),
        maxbytesafter: p
            .int("maxbytesafter")
            .filter(|&v| v > 0)
            .map(|v| v as u64)
            .or(pre.maxbytesafter)
            .unwrap_or(0),
        maxsleep: p.float("maxsleep").or(pre
            .maxsleep
            .then_some(imapsync_plan::throttle::DEFAULT_MAXSLEEP)),
        // The provider's daily limit is the default ceiling; 0 means no ceiling.
        exitwhenover: match p.int("exitwhenover") {
            Some(v) if v > 0 => Some(v as u64),
            // 0 (or less): no ceiling, not even the provider's.
            Some(_) => None,
            None => pre.daily_limit.map(|d| d.bytes),
        },
        daily_limit: pre.daily_limit,
    }
}

/// The state store of this account pair: `--statedir`, else `--tmpdir`/imapsync-state, else
/// the user's state directory; `None` with `--nostate`.
fn state_path(p: &Parsed, side1: &SideConfig, side2: &SideConfig) -> Option<PathBuf> {
    if !p.bool("state").unwrap_or(true) {
        return None;
    }
    let dir = match (p.string("statedir"), p.string("tmpdir")) {
        (Some(d), _) => Some(PathBuf::from(d)),
        (None, Some(t)) => Some(PathBuf::from(t).join("imapsync-state")),
        (None, None) => imapsync_state::default_dir(),
    };
    dir.map(|d| {
        d.join(imapsync_state::file_name(
            &side1.connect.host,
            &side1.connect.user,
            &side2.connect.host,
            &side2.connect.user,
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_forms() {
        assert_eq!(split_host("imap.x.org"), ("imap.x.org".into(), None, None));
        assert_eq!(
            split_host(" imap.x.org/ "),
            ("imap.x.org".into(), None, None)
        );
        assert_eq!(
            split_host("imap.foo.kk:114/coco/cucu/"),
            ("imap.foo.kk".into(), Some(114), Some("coco/cucu".into()))
        );
        assert_eq!(
            split_host("127.0.0.1:1143"),
            ("127.0.0.1".into(), Some(1143), None)
        );
        assert_eq!(split_host("[::1]:993"), ("::1".into(), Some(993), None));
        assert_eq!(split_host("::1"), ("::1".into(), None, None));
    }

    #[test]
    fn age_search_keys() {
        let now = 1_700_000_000;
        assert!(age_criteria(Some(10.0), None, now).is_some_and(|s| s.starts_with("SENTSINCE ")));
        assert!(age_criteria(None, Some(10.0), now).is_some_and(|s| s.starts_with("SENTBEFORE ")));
        assert!(
            age_criteria(Some(30.0), Some(10.0), now)
                .is_some_and(|s| s.starts_with("SENTSINCE ") && s.contains(" SENTBEFORE "))
        );
        assert!(age_criteria(Some(10.0), Some(30.0), now).is_some_and(|s| s.starts_with("OR ")));
    }

    /// A run's configuration from a command line (hosts, users and passwords given).
    fn cfg(extra: &[&str]) -> Config {
        let mut args: Vec<String> = [
            "--host1",
            "a",
            "--user1",
            "u",
            "--password1",
            "p",
            "--host2",
            "b",
            "--user2",
            "v",
            "--password2",
            "q",
            "--nostate",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.extend(extra.iter().map(|s| s.to_string()));
        let parsed = crate::flags::parse(args).unwrap_or_else(|e| panic!("{extra:?}: {e}"));
        match resolve(parsed) {
            Ok(Action::Run(inv)) => inv.config,
            other => panic!("{extra:?}: {other:?}"),
        }
    }

    #[test]
    fn presets_keep_working_with_oauth2() {
        let c = cfg(&[
            "--office2",
            "--host2",
            "",
            "--oauthprovider2",
            "microsoft:contoso.onmicrosoft.com",
            "--oauthclientid2",
            "app-id",
            "--oauthclientsecret2",
            "app-secret",
        ]);
        let s2 = &c.side2.connect;
        assert_eq!(s2.host, "outlook.office365.com");
        assert_eq!(s2.security.ssl, Some(true));
        assert_eq!(s2.mech, imapsync_client::AuthMech::OAuth);
        assert!(
            s2.oauth
                .as_ref()
                .is_some_and(|o| o.describe().contains("client credentials"))
        );
        assert!(c.side1.connect.oauth.is_none());
        assert_eq!(c.side1.connect.mech, imapsync_client::AuthMech::Login);
    }

    #[test]
    fn deletion_defaults_are_derived_once() {
        // (options, delete1, expunge1, delete2, delete2duplicates, uidexpunge2)
        let table: &[(&[&str], [bool; 5])] = &[
            (&[], [false, false, false, false, false]),
            (&["--delete2"], [false, false, true, true, true]),
            (
                &["--delete2", "--nodelete2duplicates"],
                [false, false, true, false, true],
            ),
            (
                &["--delete2", "--syncduplicates"],
                [false, false, true, false, true],
            ),
            (&["--delete2duplicates"], [false, false, false, true, true]),
            (
                &["--delete2", "--nouidexpunge2"],
                [false, false, true, true, false],
            ),
            (&["--delete1"], [true, true, false, false, false]),
            (
                &["--delete1", "--noexpunge1"],
                [true, false, false, false, false],
            ),
            (&["--gmail2"], [false, true, false, false, false]),
        ];
        for (args, want) in table {
            let d = cfg(args).delete;
            let got = [
                d.delete1,
                d.expunge1,
                d.delete2,
                d.delete2duplicates,
                d.uidexpunge2,
            ];
            assert_eq!(&got, want, "{args:?}");
        }
    }

    #[test]
    fn run_modes() {
        let table: &[(&[&str], Mode)] = &[
            (&[], Mode::Sync),
            (&["--justconnect"], Mode::JustConnect),
            (&["--justlogin"], Mode::JustLogin),
            (&["--justfolderlists"], Mode::JustFolderLists),
            (&["--justautomap"], Mode::JustAutomap),
            (&["--justfoldersizes"], Mode::JustFolderSizes),
            (&["--justfolders"], Mode::JustFolders),
            // The earliest stop wins.
            (&["--justfolders", "--justlogin"], Mode::JustLogin),
        ];
        for (args, want) in table {
            assert_eq!(cfg(args).mode, *want, "{args:?}");
        }
        // A missing user implies --justconnect, and says so.
        let parsed =
            crate::flags::parse(["--host1", "a", "--host2", "b"]).unwrap_or_else(|e| panic!("{e}"));
        let Ok(Action::Run(inv)) = resolve(parsed) else {
            panic!("expected a run")
        };
        assert_eq!(inv.config.mode, Mode::JustConnect);
        assert!(
            inv.notes
                .iter()
                .any(|n| n.contains("No --user1, --user2 given")),
            "{:?}",
            inv.notes
        );
    }

    #[test]
    fn folder_sizes_defaults() {
        let s = |args: &[&str]| {
            let c = cfg(args);
            (c.sizes.before, c.sizes.after)
        };
        assert_eq!(s(&[]), (true, true));
        assert_eq!(s(&["--justfolders"]), (false, true));
        assert_eq!(s(&["--nofoldersizes"]), (false, false));
        assert_eq!(s(&["--nofoldersizes", "--foldersizesatend"]), (false, true));
        assert_eq!(s(&["--nofoldersizesatend"]), (true, false));
    }

    #[test]
    fn presets_fill_only_what_the_user_left() {
        let c = cfg(&["--office2"]);
        assert_eq!(c.messages.maxsize, Some(45_000_000));
        assert_eq!(c.rates.maxmessagespersecond, Some(4.0));
        assert!(c.messages.disarmreadreceipts);
        let c = cfg(&["--office2", "--maxsize", "1000"]);
        assert_eq!(c.messages.maxsize, Some(1000), "the user's value wins");
        let c = cfg(&["--exchange2", "--noregexflag"]);
        assert!(c.messages.regexflag.is_empty());
        let c = cfg(&["--gmail1"]);
        assert!(c.folders.automap);
        assert!(c.messages.skipcrossduplicates);
        let c = cfg(&["--gmail1", "--noskipcrossduplicates"]);
        assert!(!c.messages.skipcrossduplicates);
    }

    #[test]
    fn gmail_labels_and_limits() {
        // (options, synclabels, resynclabels, skipcrossduplicates)
        let table: &[(&[&str], [bool; 3])] = &[
            (&[], [false, false, false]),
            (&["--gmail1", "--gmail2"], [true, true, false]),
            (
                &["--gmail1", "--gmail2", "--noresynclabels"],
                [true, false, false],
            ),
            (&["--gmail1"], [false, false, true]),
            // Labels as folders: each label is a copy, no cross-duplicate skipping.
            (&["--gmail1", "--synclabels"], [true, false, false]),
            (
                &["--gmail1", "--synclabels", "--skipcrossduplicates"],
                [true, false, true],
            ),
            (&["--gmail2"], [false, false, false]),
            (&["--synclabels"], [true, false, false]),
        ];
        for (args, want) in table {
            let m = cfg(args).messages;
            let got = [
                m.labels.synclabels,
                m.labels.resynclabels,
                m.skipcrossduplicates,
            ];
            assert_eq!(&got, want, "{args:?}");
        }
        assert!(cfg(&["--debuglabels"]).messages.labels.debuglabels);
        // Gmail's daily limits become the transfer ceiling, the user's value wins.
        let table: &[(&[&str], Option<u64>)] = &[
            (&[], None),
            (&["--gmail1"], Some(2_500_000_000)),
            (&["--gmail2"], Some(500_000_000)),
            (&["--gmail1", "--gmail2"], Some(500_000_000)),
            (&["--gmail2", "--exitwhenover", "1000"], Some(1000)),
            (&["--gmail2", "--exitwhenover", "0"], None),
            (&["--exitwhenover", "0"], None),
            (&["--exitwhenover", "1000"], Some(1000)),
        ];
        for (args, want) in table {
            assert_eq!(cfg(args).rates.exitwhenover, *want, "{args:?}");
        }
        assert!(cfg(&["--gmail2"]).rates.daily_limit.is_some());
        assert!(cfg(&[]).rates.daily_limit.is_none());
        // At most 15 connections on a Gmail side.
        let c = cfg(&["--gmail1", "--connections1", "16", "--connections2", "16"]);
        assert_eq!((c.side1.connections, c.side2.connections), (15, 16));
        let c = cfg(&["--gmail2", "--connections2", "9"]);
        assert_eq!(c.side2.connections, 9);
        let c = cfg(&["--gmail1", "--gmail2"]);
        assert_eq!(c.folders.folderlast, vec!["[Gmail]/All Mail".to_string()]);
        let c = cfg(&["--gmail1"]);
        assert_eq!(
            c.folders.folderlast.first().map(String::as_str),
            Some("[Gmail]/Sent Mail")
        );
        assert_eq!(
            c.folders.folderlast.last().map(String::as_str),
            Some("[Gmail]/All Mail")
        );
    }

    #[test]
    fn ages_become_searches_unless_a_search_is_given() {
        let c = cfg(&["--maxage", "10"]);
        assert!(
            c.side1
                .search
                .as_deref()
                .is_some_and(|s| s.starts_with("SENTSINCE "))
        );
        assert!(c.side2.search.is_some());
        assert_eq!(
            c.messages.maxage,
            Some(10.0),
            "kept for a side that can not SEARCH"
        );
        let c = cfg(&["--maxage", "10", "--search", "ALL"]);
        assert_eq!(c.side1.search.as_deref(), Some("ALL"));
        assert_eq!(c.messages.maxage, Some(10.0), "filtered on our side");
        let c = cfg(&["--maxage", "10", "--noabletosearch"]);
        assert_eq!(c.side1.search, None);
        assert_eq!(c.messages.maxage, Some(10.0));
    }

    #[test]
    fn bad_expressions_are_usage_errors() {
        for (args, name) in [
            (&["--regextrans2", "s/(/x/"][..], "--regextrans2"),
            (&["--regexflag", "s/(/x/"][..], "--regexflag"),
            (&["--regexmess", "s/(/x/"][..], "--regexmess"),
            (
                &["--delete2foldersonly", "s/a/b/"][..],
                "--delete2foldersonly",
            ),
        ] {
            let mut all = vec![
                "--host1",
                "a",
                "--user1",
                "u",
                "--password1",
                "p",
                "--host2",
                "b",
                "--user2",
                "v",
                "--password2",
                "q",
            ];
            all.extend_from_slice(args);
            let parsed = crate::flags::parse(all).unwrap_or_else(|e| panic!("{e}"));
            match resolve(parsed) {
                Err(e) => {
                    assert_eq!(e.exit_code, 64);
                    assert!(e.message.starts_with(name), "{}", e.message);
                }
                other => panic!("{args:?}: {other:?}"),
            }
        }
    }
}

#[cfg(test)]
mod consumed {
    use crate::flags::{FLAGS, Sides, Support};

    /// Every option the parser accepts is read by the high-level arguments (the only reader of
    /// parsed options), unless it is refused as not supported or is one of these documented
    /// no-ops (listed in the README with what they were for in imapsync).
    use super::NO_OPS;

    /// The sources that read parsed options.
    const READERS: &[&str] = &[
        include_str!("mod.rs"),
        include_str!("side.rs"),
        include_str!("presets.rs"),
        include_str!("content.rs"),
        include_str!("../oauthargs.rs"),
        include_str!("../release.rs"),
    ];

    #[test]
    fn every_accepted_option_is_read_by_something() {
        let mut unread = Vec::new();
        for f in FLAGS.iter().filter(|f| f.support == Support::Supported) {
            if f.names().iter().all(|n| NO_OPS.iter().any(|(o, _)| o == n)) {
                continue;
            }
            let spellings: Vec<String> = match f.sides {
                Sides::One => vec![
                    format!("\"{}\"", f.name),
                    format!("\"{}\"", f.name.replacen(['1', '2'], "{n}", 1)),
                ],
                Sides::Both => vec![
                    format!("\"{}\"", f.name),
                    format!("\"{}1\"", f.name),
                    format!("\"{}{{n}}\"", f.name),
                ],
            };
            if !READERS
                .iter()
                .any(|src| spellings.iter().any(|s| src.contains(s.as_str())))
            {
                unread.push(f.name);
            }
        }
        assert!(
            unread.is_empty(),
            "accepted but read by nothing: {unread:?}"
        );
    }
}
