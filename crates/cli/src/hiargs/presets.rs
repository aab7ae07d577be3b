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
    pub(super) notes: Vec<String>,
}

/// imapsync's line-wrapping rule for Exchange/Office 365 (lines of at most 10239 bytes).
const WRAP_10239: &str = r"s,(.{10239}),$1\r\n,g";

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
        x.notes.push("Gmail to Gmail: labels are not copied (X-GM-LABELS is not supported yet); every label folder is synced as a folder".into());
    } else if g1 {
        x.host[0] = Some("imap.gmail.com");
        x.ssl[0] = true;
        x.maxbytespersecond = Some(40_000.0);
        x.maxbytesafter = Some(3_000_000_000);
        x.maxsleep = true;
        x.automap = true;
        x.skipcrossduplicates = Some(true);
        x.useheader = vec!["X-Gmail-Received", "Message-Id"];
        x.regextrans2.push(r"s,\[Gmail\].,,");
        x.folderlast.push("[Gmail]/All Mail");
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
