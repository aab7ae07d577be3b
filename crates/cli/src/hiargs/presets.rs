//! Provider presets (`--gmail1`, `--office2`, `--exchange2`, `--domino1`, ...): what each
//! adds to the options, with imapsync's rules — a value the user gave always wins; numeric
//! limits are set when unset or zero; lists are appended to the user's.

use crate::flags::Parsed;

/// What the provider presets (`--gmail1`, `--office2`, ...) add. imapsync's rules: a value
/// the user gave always wins; numeric limits are set when unset or zero; lists are appended
/// to the user's.
#[derive(Debug, Default)]
pub(super) struct Presets {
    pub(super) host: [Option<&'static str>; 2],
    pub(super) ssl: [bool; 2],
    pub(super) maxbytespersecond: Option<f64>,
    pub(super) maxbytesafter: Option<u64>,
    pub(super) maxsleep: bool,
    pub(super) automap: bool,
    pub(super) skipcrossduplicates: Option<bool>,
    pub(super) useheader: Vec<&'static str>,
    pub(super) regextrans2: Vec<&'static str>,
    pub(super) folderlast: Vec<&'static str>,
    pub(super) exclude: Vec<&'static str>,
    pub(super) expunge1: bool,
    pub(super) addheader: bool,
    pub(super) maxsize: Option<u64>,
    pub(super) maxmessagespersecond: Option<f64>,
    pub(super) disarmreadreceipts: bool,
    pub(super) regexmess: Vec<&'static str>,
    pub(super) regexflag: Vec<&'static str>,
    pub(super) f1f2: Vec<(&'static str, &'static str)>,
    pub(super) sep: [Option<char>; 2],
    pub(super) prefix_empty: [bool; 2],
    pub(super) messageidnodomain: bool,
    /// `--synclabels`, `--resynclabels` (Gmail on both sides).
    pub(super) labels: bool,
    /// Most connections per side the provider accepts for one account.
    pub(super) connection_cap: [Option<usize>; 2],
    /// The provider's daily transfer limit: a clean stop (`--exitwhenover`) once reached.
    pub(super) daily_limit: Option<imapsync_plan::throttle::DailyLimit>,
    pub(super) notes: Vec<String>,
}

/// Simultaneous IMAP connections Gmail accepts per account.
pub(super) const GMAIL_CONNECTIONS: usize = 15;

/// imapsync's (2.288+) order for Gmail's special folders under `--gmail1`: after the user's
/// labels, so that with `--skipcrossduplicates` a message lands in its own label first.
const GMAIL1_FOLDERLAST: [&str; 8] = [
    "[Gmail]/Sent Mail",
    "[Gmail]/Important",
    "[Gmail]/Starred",
    "[Gmail]/Drafts",
    "[Gmail]/Trash",
    "[Gmail]/Spam",
    "[Gmail]/Chats",
    "[Gmail]/All Mail",
];

/// imapsync's line-wrapping rule for Exchange/Office 365 (lines of at most 10239 bytes).
const WRAP_10239: &str = r"s,(.{10239}),$1\r\n,g";

/// Gmail's per-account limits: 15 connections, and the daily IMAP transfer limits (about
/// 2,500 MB downloaded and 500 MB uploaded a day) as a clean stop.
fn gmail_limits(x: &mut Presets, g1: bool, g2: bool) {
    use imapsync_plan::throttle::{DailyLimit, Direction};
    if g1 {
        x.connection_cap[0] = Some(GMAIL_CONNECTIONS);
        x.daily_limit = Some(DailyLimit::gmail(Direction::Download));
    }
    if g2 {
        x.connection_cap[1] = Some(GMAIL_CONNECTIONS);
        // The upload limit is the lower one.
        x.daily_limit = Some(DailyLimit::gmail(Direction::Upload));
    }
    if let Some(d) = x.daily_limit {
        x.notes.push(format!(
            "Gmail limits: at most {GMAIL_CONNECTIONS} connections per Gmail account; the run stops cleanly after {} transferred, Gmail's daily IMAP {} limit (--exitwhenover N to change it, 0 for no stop)",
            imapsync_plan::display::bytes_display_string_dec(d.bytes as f64),
            match d.direction {
                Direction::Download => "download",
                Direction::Upload => "upload",
            }
        ));
    }
}

pub(super) fn presets(p: &Parsed) -> Presets {
    let on = |n: &str| p.bool(n) == Some(true);
    let mut x = Presets::default();
    let noexclude = on("noexclude");
    let (g1, g2) = (on("gmail1"), on("gmail2"));
    if g1 && g2 {
        x.host = [Some("imap.gmail.com"), Some("imap.gmail.com")];
        x.ssl = [true, true];
        x.maxbytespersecond = Some(20_000.0);
        x.maxbytesafter = Some(1_000_000_000);
        x.maxsleep = true;
        x.automap = true;
        x.skipcrossduplicates = Some(false);
        x.useheader = vec!["X-Gmail-Received", "Message-Id"];
        x.exclude.push(r"\[Gmail\]$");
        x.folderlast.push("[Gmail]/All Mail");
        x.labels = true;
    } else if g1 {
        x.host[0] = Some("imap.gmail.com");
        x.ssl[0] = true;
        x.maxbytespersecond = Some(40_000.0);
        x.maxbytesafter = Some(3_000_000_000);
        x.maxsleep = true;
        x.automap = true;
        // With --synclabels each label is a folder copy: cross duplicates are wanted.
        x.skipcrossduplicates = Some(!on("synclabels"));
        x.useheader = vec!["X-Gmail-Received", "Message-Id"];
        x.regextrans2.push(r"s,\[Gmail\].,,");
        x.folderlast.extend(GMAIL1_FOLDERLAST);
    } else if g2 {
        x.host[1] = Some("imap.gmail.com");
        x.ssl[1] = true;
        x.maxbytespersecond = Some(20_000.0);
        x.maxbytesafter = Some(1_000_000_000);
        x.maxsleep = true;
        x.automap = true;
        x.expunge1 = true;
        x.addheader = true;
        if !noexclude {
            x.exclude.push(r"\[Gmail\]$");
        }
        x.useheader = vec!["Message-Id"];
        x.regextrans2.extend([
            r"s,\[Gmail\].,,",
            r"s,^ +| +$,,g",
            r"s,/ +| +/,/,g",
            r#"s/['\\^"]/_/g"#,
        ]);
        x.folderlast.push("[Gmail]/All Mail");
    }
    gmail_limits(&mut x, g1, g2);
    if on("office1") {
        x.notes.push(
            r#"Option --office1 is like: --host1 outlook.office365.com --ssl1 --exclude "^Files$""#
                .into(),
        );
        x.host[0] = x.host[0].or(Some("outlook.office365.com"));
        x.ssl[0] = true;
        if !noexclude {
            x.exclude.push("^Files$");
        }
    }
    if on("office2") {
        x.notes.push("Option --office2 is like: --host2 outlook.office365.com --ssl2 --maxsize 45_000_000 --maxmessagespersecond 4 --disarmreadreceipts --regexmess (wrap lines at 10239) --f1f2 Files=Files_renamed_by_imapsync".into());
        x.host[1] = x.host[1].or(Some("outlook.office365.com"));
        x.ssl[1] = true;
        x.maxsize = Some(45_000_000);
        x.maxmessagespersecond = Some(4.0);
        x.disarmreadreceipts = true;
        if !on("noregexmess") {
            x.regexmess.push(WRAP_10239);
        }
        if !on("nof1f2") {
            x.f1f2.push(("Files", "Files_renamed_by_imapsync"));
        }
    }
    if on("exchange1") {
        x.notes
            .push("Option --exchange1 does nothing (except printing this line)".into());
    }
    if on("exchange2") {
        x.notes.push("Option --exchange2 is like: --maxsize 10_000_000 --maxmessagespersecond 4 --disarmreadreceipts --regexflag (drop \\Flagged) --regexmess (wrap lines at 10239)".into());
        x.maxsize = x.maxsize.or(Some(10_000_000));
        x.maxmessagespersecond = Some(4.0);
        x.disarmreadreceipts = true;
        if !on("noregexflag") {
            x.regexflag.push(r"s/\\Flagged//g");
        }
        if !on("noregexmess") && !x.regexmess.contains(&WRAP_10239) {
            x.regexmess.push(WRAP_10239);
        }
    }
    if on("domino1") {
        x.sep[0] = Some('\\');
        x.prefix_empty[0] = true;
        x.messageidnodomain = true;
    }
    if on("domino2") {
        x.sep[1] = Some('\\');
        x.prefix_empty[1] = true;
        x.messageidnodomain = true;
        x.regextrans2.push(r"s,^Inbox\\(.*),$1,i");
    }
    x
}
