//! Message content, checks, ACLs and the end report: `--pipemess`, `--pipemesscheck`,
//! `--truncmess`, `--maxlinelengthcmd`, `--minmaxlinelength`, `--debugcontent`,
//! `--debugmaxlinelength`, `--dry1`, `--syncflagsaftercopy`, `--checkmessageexists`,
//! `--allowsizemismatch`, `--appendlimit`, `--fetch_hash_set`, `--debugflags`,
//! `--debugcrossduplicates`, `--expungeaftereach`, `--syncacls`, `--emailreport1`,
//! `--emailreport2`, `--emailreportfrom`. Read here, their defaults decided here (imapsync's),
//! and the lines that say when one of them can have no effect.

use imapsync_plan::options::{DeleteConfig, FolderConfig, MessageConfig, Mode, ReportConfig};
use imapsync_proto::seqset::UidSet;
use imapsync_sync::config::Config;

use super::{ConfigError, usage};
use crate::flags::Parsed;

/// A Perl-true string (imapsync tests these options with `if ( $x )`).
fn perl_true(s: Option<&str>) -> Option<&str> {
    s.filter(|v| !v.is_empty() && *v != "0")
}

/// A byte count that must not be negative.
fn bytes(p: &Parsed, name: &str) -> Result<Option<u64>, ConfigError> {
    match p.int(name) {
        None => Ok(None),
        Some(v) if v < 0 => Err(usage(format!(
            "--{name} {v}: expected a number of bytes, 0 or more"
        ))),
        Some(v) => Ok(Some(v as u64)),
    }
}

/// The message options of this module; the caller fills in the others (`..` of its
/// [`MessageConfig`]). `searches`: whether host1 / host2 list with SEARCH criteria.
pub(super) fn messages(p: &Parsed, searches: [bool; 2]) -> Result<MessageConfig, ConfigError> {
    let debug = p.bool("debug").unwrap_or(false);
    let dry = p.bool("dry").unwrap_or(false);
    let fetch_set = match perl_true(p.string("fetch_hash_set")) {
        Some(set) => {
            UidSet::parse(set).ok_or_else(|| {
                usage(format!(
                    "--fetch_hash_set {set}: expected a UID set like 1:1000 or 1,5,10:*"
                ))
            })?;
            searches.map(|searched| (!searched).then(|| set.to_string()))
        }
        None => [None, None],
    };
    Ok(MessageConfig {
        pipemess: p.list("pipemess").to_vec(),
        pipemesscheck: p.bool("pipemesscheck").unwrap_or(true),
        truncmess: bytes(p, "truncmess")?,
        maxlinelengthcmd: perl_true(p.string("maxlinelengthcmd")).map(str::to_string),
        minmaxlinelength: p
            .int("minmaxlinelength")
            .and_then(|v| u64::try_from(v).ok()),
        debugcontent: p.bool("debugcontent").unwrap_or(false),
        debugmaxlinelength: p.bool("debugmaxlinelength").unwrap_or(false),
        // --dry1 follows --dry unless given: --dry --nodry1 fetches and transforms.
        dry_fetch: dry && !p.bool("dry1").unwrap_or(dry),
        syncflagsaftercopy: p.bool("syncflagsaftercopy").unwrap_or(false),
        // imapsync turns it off when host1 can not search (it checks with SEARCH).
        checkmessageexists: p.bool("checkmessageexists").unwrap_or(false) && abletosearch(p, 1),
        allowsizemismatch: p.bool("allowsizemismatch").unwrap_or(true),
        appendlimit: bytes(p, "appendlimit")?,
        fetch_set,
        debugflags: p.bool("debugflags").unwrap_or(false) || debug,
        debugcrossduplicates: p.bool("debugcrossduplicates").unwrap_or(false) || debug,
        ..MessageConfig::default()
    })
}

fn abletosearch(p: &Parsed, side: u8) -> bool {
    p.bool(&format!("abletosearch{side}"))
        .or(p.bool("abletosearch"))
        .unwrap_or(true)
}

/// `--expungeaftereach` (on unless `--noexpungeaftereach`); the caller fills in the rest.
pub(super) fn delete(p: &Parsed) -> DeleteConfig {
    DeleteConfig {
        expungeaftereach: p.bool("expungeaftereach").unwrap_or(true),
        ..DeleteConfig::default()
    }
}

/// `--syncacls` (off unless asked); the caller fills in the rest.
pub(super) fn folders(p: &Parsed) -> FolderConfig {
    FolderConfig {
        syncacls: p.bool("syncacls").unwrap_or(false),
        ..FolderConfig::default()
    }
}

/// `--emailreport1`, `--emailreport2`: only after a sync that can change something (never
/// with `--dry` nor `--justfolders`, as imapsync).
pub(super) fn report(p: &Parsed, mode: Mode, dry: bool) -> ReportConfig {
    let possible = mode == Mode::Sync && !dry;
    ReportConfig {
        emailreport1: possible && p.bool("emailreport1").unwrap_or(false),
        emailreport2: possible && p.bool("emailreport2").unwrap_or(false),
        from: p.string("emailreportfrom").map(str::to_string),
    }
}

/// The `--f1f2h` pairs, as `--f1f2` values (`SRC=DST`).
pub(super) fn f1f2h(p: &Parsed) -> Vec<String> {
    p.hash("f1f2h")
        .iter()
        .map(|(a, b)| format!("{a}={b}"))
        .collect()
}

/// Lines saying when one of these options, as given, can have no effect.
pub(super) fn notes(p: &Parsed, cfg: &Config) -> Vec<String> {
    let m = &cfg.messages;
    let given = |n: &str| p.is_set(n);
    let mut notes = Vec::new();
    if m.maxlinelengthcmd.is_some() && m.maxlinelength.is_none() {
        notes.push("Note: --maxlinelengthcmd is used only for messages over --maxlinelength, which is not given: it has no effect".into());
    }
    if given("dry1") && !cfg.dry {
        notes.push("Note: --dry1/--nodry1 only matter with --dry: no effect".into());
    }
    if cfg.dry && !m.dry_fetch && (m.debugcontent || !m.pipemess.is_empty()) {
        notes.push("Note: with --dry, messages are not fetched from host1, so they are neither transformed nor shown; add --nodry1 to see them".into());
    }
    if p.bool("checkmessageexists") == Some(true) && !m.checkmessageexists {
        notes.push(
            "Note: --checkmessageexists is off because host1 can not search (--noabletosearch)"
                .into(),
        );
    }
    if perl_true(p.string("fetch_hash_set")).is_some() {
        for (side, set) in m.fetch_set.iter().enumerate() {
            if set.is_none() {
                notes.push(format!(
                    "Note: --fetch_hash_set is not used on host{}: it lists with SEARCH",
                    side + 1
                ));
            }
        }
    }
    let asked = |n: &str| p.bool(n) == Some(true);
    if (asked("emailreport1") || asked("emailreport2"))
        && !(cfg.report.emailreport1 || cfg.report.emailreport2)
    {
        notes.push(format!(
            "Note: no email report is appended with {}",
            if cfg.dry { "--dry" } else { cfg.mode.option() }
        ));
    }
    if given("emailreportfrom") && !asked("emailreport1") && !asked("emailreport2") {
        notes.push("Note: --emailreportfrom without --emailreport1 or --emailreport2: no report is appended".into());
    }
    if given("pipemesscheck") && m.pipemess.is_empty() {
        notes.push("Note: --pipemesscheck/--nopipemesscheck without --pipemess: no effect".into());
    }
    if p.bool("debugcrossduplicates") == Some(true) && !m.skipcrossduplicates {
        notes.push("Note: --debugcrossduplicates shows the messages --skipcrossduplicates skips, which is not given: nothing to show".into());
    }
    if cfg.delete.expungeaftereach && given("expungeaftereach") && !cfg.delete.delete1 {
        notes.push("Note: --expungeaftereach only matters with --delete1: no effect".into());
    }
    notes
}

#[cfg(test)]
mod tests {
    use crate::hiargs::{Action, resolve};
    use imapsync_sync::config::Config;

    fn inv(extra: &[&str]) -> Result<(Config, Vec<String>), String> {
        let mut args = vec![
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
        ];
        args.extend_from_slice(extra);
        let parsed = crate::flags::parse(args).map_err(|e| e.to_string())?;
        match resolve(parsed) {
            Ok(Action::Run(inv)) => Ok((inv.config, inv.notes)),
            Ok(other) => Err(format!("{other:?}")),
            Err(e) => Err(e.message),
        }
    }

    fn cfg(extra: &[&str]) -> Config {
        inv(extra).unwrap_or_else(|e| panic!("{extra:?}: {e}")).0
    }

    #[test]
    fn content_defaults() {
        let m = cfg(&[]).messages;
        assert!(m.pipemess.is_empty() && m.pipemesscheck);
        assert!(m.allowsizemismatch, "--allowsizemismatch is on by default");
        assert!(!m.syncflagsaftercopy && !m.checkmessageexists && !m.dry_fetch);
        assert_eq!((m.truncmess, m.appendlimit), (None, None));
        let m = cfg(&[
            "--pipemess",
            "cat",
            "--pipemess",
            "sort -r",
            "--nopipemesscheck",
            "--truncmess",
            "1_000",
            "--noallowsizemismatch",
            "--appendlimit",
            "5000",
        ])
        .messages;
        assert_eq!(m.pipemess, vec!["cat", "sort -r"]);
        assert!(!m.pipemesscheck && !m.allowsizemismatch);
        assert_eq!((m.truncmess, m.appendlimit), (Some(1000), Some(5000)));
    }

    #[test]
    fn dry1_follows_dry() {
        // (options, dry_fetch)
        let table: &[(&[&str], bool)] = &[
            (&[], false),
            (&["--dry"], false),
            (&["--dry", "--nodry1"], true),
            (&["--dry", "--dry1"], false),
            (&["--nodry1"], false),
        ];
        for (args, want) in table {
            assert_eq!(cfg(args).messages.dry_fetch, *want, "{args:?}");
        }
        let (_, notes) = inv(&["--nodry1"]).expect("run");
        assert!(
            notes
                .iter()
                .any(|n| n.contains("--dry1/--nodry1 only matter with --dry"))
        );
    }

    #[test]
    fn debug_implies_the_debug_details() {
        let m = cfg(&["--debug"]).messages;
        assert!(m.debugflags && m.debugcrossduplicates);
        let m = cfg(&["--debugflags"]).messages;
        assert!(m.debugflags && !m.debugcrossduplicates);
    }

    #[test]
    fn fetch_hash_set_per_side() {
        let m = cfg(&["--fetch_hash_set", "1:100"]).messages;
        assert_eq!(m.fetch_set, [Some("1:100".into()), Some("1:100".into())]);
        // A side that searches lists what SEARCH finds.
        let (c, notes) = inv(&["--fetch_hash_set", "1:100", "--search1", "SEEN"]).expect("run");
        assert_eq!(c.messages.fetch_set, [None, Some("1:100".into())]);
        assert!(notes.iter().any(|n| n.contains("not used on host1")));
        let e = inv(&["--fetch_hash_set", "x:y"]).expect_err("bad set");
        assert!(e.starts_with("--fetch_hash_set x:y"), "{e}");
    }

    #[test]
    fn checkmessageexists_needs_search() {
        assert!(cfg(&["--checkmessageexists"]).messages.checkmessageexists);
        let (c, notes) = inv(&["--checkmessageexists", "--noabletosearch"]).expect("run");
        assert!(!c.messages.checkmessageexists);
        assert!(
            notes
                .iter()
                .any(|n| n.contains("--checkmessageexists is off"))
        );
        assert!(
            !cfg(&["--checkmessageexists", "--noabletosearch1"])
                .messages
                .checkmessageexists
        );
    }

    #[test]
    fn negative_sizes_are_usage_errors() {
        for opt in ["--truncmess", "--appendlimit"] {
            let e = inv(&[opt, "-1"]).expect_err("negative");
            assert!(e.starts_with(&format!("{opt} -1")), "{e}");
        }
    }

    #[test]
    fn reports_only_after_a_real_sync() {
        let r = cfg(&["--emailreport2", "--emailreportfrom", "me@x.org"]).report;
        assert!(r.emailreport2 && !r.emailreport1);
        assert_eq!(r.from.as_deref(), Some("me@x.org"));
        for args in [
            &["--emailreport1", "--dry"][..],
            &["--emailreport1", "--justfolders"][..],
        ] {
            let (c, notes) = inv(args).expect("run");
            assert!(!c.report.emailreport1, "{args:?}");
            assert!(
                notes.iter().any(|n| n.contains("no email report")),
                "{notes:?}"
            );
        }
    }

    #[test]
    fn deletion_and_folder_extras() {
        let c = cfg(&[]);
        assert!(c.delete.expungeaftereach && !c.folders.syncacls);
        let c = cfg(&["--noexpungeaftereach", "--syncacls"]);
        assert!(!c.delete.expungeaftereach && c.folders.syncacls);
        // --f1f2h is --f1f2 in hash form.
        let c = cfg(&["--f1f2h", "Sent=Sent Items", "--f1f2", "a=b"]);
        assert_eq!(
            c.folders.f1f2,
            vec![
                ("a".to_string(), "b".to_string()),
                ("Sent".to_string(), "Sent Items".to_string())
            ]
        );
        let (_, notes) = inv(&["--maxlinelengthcmd", "fold"]).expect("run");
        assert!(notes.iter().any(|n| n.contains("--maxlinelengthcmd")));
        let (_, notes) = inv(&["--debugcrossduplicates", "--nopipemesscheck"]).expect("run");
        assert!(
            notes
                .iter()
                .any(|n| n.contains("--skipcrossduplicates skips, which is not given"))
        );
        assert!(
            notes
                .iter()
                .any(|n| n.contains("--pipemesscheck/--nopipemesscheck without"))
        );
    }
}
