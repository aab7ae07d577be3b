//! What a folder record vouches for, and the record saved at the end of a folder's sync.
//!
//! A record vouches for a folder pair only under the options it was made with (the
//! [`fingerprint`]), with both UIDVALIDITYs unchanged, and only when its last sync was
//! complete. Then:
//! * equal LIST-STATUS values on both sides mean nothing changed: the folder costs no command
//!   ([`unchanged`]);
//! * otherwise only what changed since is listed ([`incremental`]).

use imapsync_proto::response::StatusItems;
use imapsync_proto::seqset::UidSet;

use super::{FolderPlan, Rules, Selected};
use crate::options::{DeleteConfig, MessageConfig};
use crate::record::{FolderRecord, SideStatus, Summary};

/// The options that decide what a folder record vouches for: what was selected and how
/// messages were identified. A record made under other options is not trusted.
pub fn fingerprint(search1: Option<&str>, search2: Option<&str>, m: &MessageConfig) -> String {
    format!(
        "v1|s1={:?}|s2={:?}|max={:?}|min={:?}|uh={:?}|nodom={}|skipsize={}|syncdup={}|useuid={}|addheader={}|regexflag={}",
        search1,
        search2,
        m.maxsize,
        m.minsize,
        m.identity.useheader.names(),
        m.identity.messageidnodomain,
        m.identity.skipsize,
        m.syncduplicates,
        m.useuid,
        m.addheader,
        m.regexflag.len(),
    )
}

/// A side's LIST-STATUS values equal those recorded (HIGHESTMODSEQ compared when both have
/// it; required when flags are resynced, since flag changes show only there).
fn status_matches(
    st: Option<&StatusItems>,
    uidvalidity: Option<u32>,
    side: &SideStatus,
    need_modseq: bool,
) -> bool {
    let Some(st) = st else { return false };
    let Some(uv) = st.uidvalidity else {
        return false;
    };
    if uidvalidity != Some(uv) {
        return false;
    }
    if st.uidnext.is_none()
        || st.uidnext != side.uidnext
        || st.messages.is_none()
        || st.messages != side.messages
    {
        return false;
    }
    match (st.highestmodseq, side.modseq) {
        (Some(a), Some(b)) => a == b,
        (None, None) => !need_modseq,
        _ => false,
    }
}

/// Deletions asked for now that may have work in a folder nothing changed in: extras or
/// duplicates the last run left on host2, copies to remove from host1.
fn deletions_pending(rec: &FolderRecord, d: &DeleteConfig) -> bool {
    (d.delete2 && rec.summary.extra > 0)
        || (d.delete2duplicates && rec.summary.dup2 > 0)
        || (d.writes_host1() && rec.summary.n1 > 0)
        || d.expunge2
}

/// The fast path: the record vouches that neither side changed since the last complete sync
/// of this pair under the same options (the caller then replays the recorded counters).
pub fn unchanged(
    rec: &FolderRecord,
    status1: Option<&StatusItems>,
    status2: Option<&StatusItems>,
    exists2: bool,
    rules: &Rules<'_>,
) -> bool {
    let (m, d) = (rules.messages, rules.delete);
    // A --minage window moves with time: what was too young last time may qualify now.
    let time_dependent = m.minage.is_some();
    rec.complete
        && !deletions_pending(rec, d)
        && rec.options.as_deref() == Some(rules.fingerprint)
        && !time_dependent
        && exists2
        && status_matches(status1, rec.uidvalidity1, &rec.side1, m.resyncflags)
        && status_matches(status2, rec.uidvalidity2, &rec.side2, m.resyncflags)
}

/// Which side's UIDVALIDITY changed since the record was made (host1 first).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UidValidityChange {
    Host1,
    Host2,
}

/// A UIDVALIDITY change invalidates the record's UID map: identity falls back to headers.
pub fn uidvalidity_change(
    rec: &FolderRecord,
    sel1: &Selected,
    sel2: Option<&Selected>,
) -> Option<UidValidityChange> {
    let changed1 = rec.uidvalidity1.is_some() && rec.uidvalidity1 != sel1.uidvalidity;
    let changed2 =
        sel2.is_some_and(|s2| rec.uidvalidity2.is_some() && rec.uidvalidity2 != s2.uidvalidity);
    if changed1 {
        Some(UidValidityChange::Host1)
    } else if changed2 {
        Some(UidValidityChange::Host2)
    } else {
        None
    }
}

/// Whether only what changed since the recorded sync may be listed: the record is complete,
/// made under the same options, nothing was left in flight, both UIDVALIDITYs are the
/// recorded ones, and the run selects every message (no SEARCH) and needs no knowledge of
/// other folders or of every duplicate. A folder with host1 duplicates is listed in full:
/// telling a duplicate needs the keys of the messages already paired, which an incremental
/// listing does not fetch, and a duplicate must be skipped on every run alike.
pub fn incremental(
    rec: &FolderRecord,
    sel1: &Selected,
    sel2: &Selected,
    open_intents: bool,
    rules: &Rules<'_>,
) -> bool {
    let (m, d) = (rules.messages, rules.delete);
    rec.complete
        && !open_intents
        && rec.summary.dup1 == 0
        && rec.options.as_deref() == Some(rules.fingerprint)
        && rec.uidvalidity1.is_some()
        && rec.uidvalidity1 == sel1.uidvalidity
        && rec.uidvalidity2 == sel2.uidvalidity
        && !rules.searched()
        && !(d.delete2 && m.syncduplicates)
        && !m.skipcrossduplicates
}

/// How a folder's sync ended, as the record needs it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FolderOutcome {
    /// Nothing failed (no refused APPEND or STORE, no refused deletion).
    pub ok: bool,
    /// Host1 messages planned for copy that did not arrive.
    pub missing_after: u64,
    /// Messages appended in this run.
    pub copied: u64,
}

/// The record saved at the end of a folder's sync: where both sides stand now, `complete`
/// only when nothing failed and every host1 message was considered.
pub fn finish_record(
    rec: &FolderRecord,
    rules: &Rules<'_>,
    sel1: &Selected,
    sel2: &Selected,
    status2: SideStatus,
    plan: &FolderPlan,
    outcome: FolderOutcome,
) -> FolderRecord {
    let complete = outcome.ok
        && outcome.missing_after == 0
        && !rules.searched()
        && plan.list1.len() as u32 == sel1.exists;
    let (n1, n2) = plan.identified(outcome.copied);
    FolderRecord {
        uidvalidity1: sel1.uidvalidity,
        uidvalidity2: sel2.uidvalidity,
        side1: SideStatus {
            uidnext: sel1.uidnext,
            modseq: sel1.highestmodseq,
            messages: Some(sel1.exists),
        },
        side2: status2,
        complete,
        options: Some(rules.fingerprint.to_string()),
        uids1: complete.then(|| UidSet::from_uids(plan.list1.iter().map(|m| m.uid)).to_string()),
        summary: Summary {
            n1,
            n2,
            dup1: plan.counts.dup1,
            dup2: plan.counts.dup2,
            missing: outcome.missing_after + plan.size_skips.len() as u64,
            extra: plan.diff.extra2.len() as u64,
            bytes1: plan.list1.iter().map(|m| m.size).sum(),
            bytes2: plan.list2.iter().map(|m| m.size).sum(),
        },
        ..rec.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(uv: u32, next: u32, n: u32, modseq: Option<u64>) -> StatusItems {
        StatusItems {
            uidvalidity: Some(uv),
            uidnext: Some(next),
            messages: Some(n),
            highestmodseq: modseq,
            ..StatusItems::default()
        }
    }

    fn side(next: u32, n: u32, modseq: Option<u64>) -> SideStatus {
        SideStatus {
            uidnext: Some(next),
            modseq,
            messages: Some(n),
        }
    }

    fn record(fp: &str) -> FolderRecord {
        FolderRecord {
            id: 1,
            name1: "INBOX".into(),
            name2: "INBOX".into(),
            uidvalidity1: Some(7),
            uidvalidity2: Some(9),
            side1: side(11, 10, Some(50)),
            side2: side(21, 10, Some(60)),
            complete: true,
            options: Some(fp.into()),
            summary: Summary {
                n1: 10,
                n2: 10,
                ..Summary::default()
            },
            uids1: Some("1:10".into()),
        }
    }

    fn opts() -> MessageConfig {
        MessageConfig {
            resyncflags: true,
            ..MessageConfig::default()
        }
    }

    fn rules<'a>(m: &'a MessageConfig, d: &'a DeleteConfig) -> Rules<'a> {
        Rules::new(m, d, "FP")
    }

    #[test]
    fn fingerprint_is_stable() {
        // Records written by earlier versions must keep vouching: the format is frozen.
        let fp = fingerprint(Some("ALL"), None, &opts());
        assert_eq!(
            fp,
            "v1|s1=Some(\"ALL\")|s2=None|max=None|min=None|uh=[\"Message-Id\", \"Received\"]|nodom=false|skipsize=true|syncdup=false|useuid=false|addheader=false|regexflag=0"
        );
    }

    #[test]
    fn unchanged_table() {
        let rec = record("FP");
        let s1 = status(7, 11, 10, Some(50));
        let s2 = status(9, 21, 10, Some(60));
        let m = opts();
        let d = DeleteConfig::default();
        let r = rules(&m, &d);
        let yes = |rec: &FolderRecord, a: &StatusItems, b: &StatusItems, r: &Rules<'_>| {
            unchanged(rec, Some(a), Some(b), true, r)
        };
        assert!(yes(&rec, &s1, &s2, &r));
        // Each difference defeats it.
        assert!(
            !yes(&rec, &status(8, 11, 10, Some(50)), &s2, &r),
            "uidvalidity1"
        );
        assert!(
            !yes(&rec, &status(7, 12, 10, Some(50)), &s2, &r),
            "uidnext1"
        );
        assert!(
            !yes(&rec, &s1, &status(9, 21, 9, Some(60)), &r),
            "messages2"
        );
        assert!(!yes(&rec, &s1, &status(9, 21, 10, Some(61)), &r), "modseq2");
        assert!(
            !yes(&rec, &status(7, 11, 10, None), &s2, &r),
            "modseq now missing"
        );
        assert!(!unchanged(&rec, Some(&s1), None, true, &r), "no status2");
        assert!(
            !unchanged(&rec, Some(&s1), Some(&s2), false, &r),
            "host2 folder missing"
        );
        let other = Rules::new(&m, &d, "other");
        assert!(!yes(&rec, &s1, &s2, &other), "options changed");
        let incomplete = FolderRecord {
            complete: false,
            ..rec.clone()
        };
        assert!(!yes(&incomplete, &s1, &s2, &r));
        let minage = MessageConfig {
            minage: Some(3.0),
            ..opts()
        };
        assert!(
            !yes(&rec, &s1, &s2, &rules(&minage, &d)),
            "--minage moves with time"
        );
        // Without CONDSTORE on either side: fine only when flags are not resynced.
        let mut plain = rec.clone();
        plain.side1.modseq = None;
        plain.side2.modseq = None;
        let (p1, p2) = (status(7, 11, 10, None), status(9, 21, 10, None));
        assert!(!yes(&plain, &p1, &p2, &r));
        let noresync = MessageConfig {
            resyncflags: false,
            ..opts()
        };
        assert!(yes(&plain, &p1, &p2, &rules(&noresync, &d)));
    }

    #[test]
    fn unchanged_folders_still_get_pending_deletions() {
        let mut rec = record("FP");
        let s1 = status(7, 11, 10, Some(50));
        let s2 = status(9, 21, 10, Some(60));
        let m = opts();
        let run = |rec: &FolderRecord, d: DeleteConfig| {
            unchanged(rec, Some(&s1), Some(&s2), true, &rules(&m, &d))
        };
        let delete2 = DeleteConfig {
            delete2: true,
            ..DeleteConfig::default()
        };
        assert!(run(&rec, delete2), "nothing extra recorded");
        rec.summary.extra = 2;
        assert!(!run(&rec, delete2), "extras left by an earlier run");
        rec.summary.extra = 0;
        rec.summary.dup2 = 1;
        let dups = DeleteConfig {
            delete2duplicates: true,
            ..DeleteConfig::default()
        };
        assert!(!run(&rec, dups));
        for d in [
            DeleteConfig {
                delete1: true,
                ..DeleteConfig::default()
            },
            DeleteConfig {
                expunge1: true,
                ..DeleteConfig::default()
            },
            DeleteConfig {
                expunge2: true,
                ..DeleteConfig::default()
            },
        ] {
            assert!(!run(&rec, d), "{d:?}");
        }
    }

    #[test]
    fn uidvalidity_changes() {
        let rec = record("FP");
        let sel = |uv| Selected {
            uidvalidity: Some(uv),
            ..Selected::default()
        };
        let h1 = Some(UidValidityChange::Host1);
        let h2 = Some(UidValidityChange::Host2);
        assert_eq!(uidvalidity_change(&rec, &sel(7), Some(&sel(9))), None);
        assert_eq!(uidvalidity_change(&rec, &sel(8), Some(&sel(9))), h1);
        assert_eq!(uidvalidity_change(&rec, &sel(7), Some(&sel(10))), h2);
        assert_eq!(uidvalidity_change(&rec, &sel(8), Some(&sel(10))), h1);
        assert_eq!(uidvalidity_change(&rec, &sel(7), None), None);
        let fresh = FolderRecord::default();
        assert_eq!(
            uidvalidity_change(&fresh, &sel(1), Some(&sel(2))),
            None,
            "nothing recorded yet"
        );
    }

    #[test]
    fn incremental_table() {
        let rec = record("FP");
        let s1 = Selected {
            uidvalidity: Some(7),
            ..Selected::default()
        };
        let s2 = Selected {
            uidvalidity: Some(9),
            ..Selected::default()
        };
        let m = opts();
        let d = DeleteConfig::default();
        let r = rules(&m, &d);
        assert!(incremental(&rec, &s1, &s2, false, &r));
        assert!(!incremental(&rec, &s1, &s2, true, &r), "open intents");
        assert!(
            !incremental(&rec, &s1, &s2, false, &Rules::new(&m, &d, "XX")),
            "options"
        );
        let searched = Rules {
            search1: true,
            ..rules(&m, &d)
        };
        assert!(!incremental(&rec, &s1, &s2, false, &searched), "search");
        let other2 = Selected {
            uidvalidity: Some(10),
            ..Selected::default()
        };
        assert!(!incremental(&rec, &s1, &other2, false, &r), "uidvalidity2");
        let syncdup = MessageConfig {
            syncduplicates: true,
            ..opts()
        };
        let del2 = DeleteConfig {
            delete2: true,
            ..DeleteConfig::default()
        };
        assert!(incremental(&rec, &s1, &s2, false, &rules(&syncdup, &d)));
        assert!(!incremental(&rec, &s1, &s2, false, &rules(&syncdup, &del2)));
        let cross = MessageConfig {
            skipcrossduplicates: true,
            ..opts()
        };
        assert!(!incremental(&rec, &s1, &s2, false, &rules(&cross, &d)));
        let incomplete = FolderRecord {
            complete: false,
            ..rec.clone()
        };
        assert!(!incremental(&incomplete, &s1, &s2, false, &r));
        let mut dups = rec.clone();
        dups.summary.dup1 = 1;
        assert!(!incremental(&dups, &s1, &s2, false, &r), "host1 duplicates");
    }

    #[test]
    fn the_record_saved_at_the_end() {
        use crate::folderplan::testutil::msg;
        use crate::folderplan::{Listings, decide};
        let m = opts();
        let d = DeleteConfig::default();
        let r = rules(&m, &d);
        let plan = decide(
            &r,
            Listings {
                list1: vec![
                    msg(1, Some("a"), ""),
                    msg(2, Some("b"), ""),
                    msg(3, Some("c"), ""),
                ],
                list2: vec![msg(10, Some("a"), ""), msg(11, Some("x"), "")],
                map: &[],
                have2: true,
                permanentflags2: "",
                cross_keys: None,
            },
        );
        let sel1 = Selected {
            exists: 3,
            uidvalidity: Some(7),
            uidnext: Some(4),
            highestmodseq: Some(5),
            ..Selected::default()
        };
        let sel2 = Selected {
            uidvalidity: Some(9),
            ..Selected::default()
        };
        let status2 = side(14, 4, Some(8));
        let all_copied = FolderOutcome {
            ok: true,
            missing_after: 0,
            copied: 2,
        };
        let rec = finish_record(
            &FolderRecord::default(),
            &r,
            &sel1,
            &sel2,
            status2,
            &plan,
            all_copied,
        );
        assert!(rec.complete);
        assert_eq!((rec.uidvalidity1, rec.uidvalidity2), (Some(7), Some(9)));
        assert_eq!(rec.side1, side(4, 3, Some(5)));
        assert_eq!(rec.side2, status2);
        assert_eq!(rec.options.as_deref(), Some("FP"));
        assert_eq!(rec.uids1.as_deref(), Some("1:3"));
        assert_eq!(
            rec.summary,
            Summary {
                n1: 3,
                n2: 4,
                dup1: 0,
                dup2: 0,
                missing: 0,
                extra: 1,
                bytes1: 101 + 102 + 103,
                bytes2: 110 + 111,
            }
        );
        // Anything short of that leaves it incomplete, without a UID set to build on.
        for outcome in [
            FolderOutcome {
                ok: false,
                ..all_copied
            },
            FolderOutcome {
                missing_after: 1,
                ..all_copied
            },
        ] {
            let rec = finish_record(
                &FolderRecord::default(),
                &r,
                &sel1,
                &sel2,
                status2,
                &plan,
                outcome,
            );
            assert!(!rec.complete && rec.uids1.is_none(), "{outcome:?}");
        }
        let more = Selected {
            exists: 4,
            ..sel1.clone()
        };
        assert!(
            !finish_record(
                &FolderRecord::default(),
                &r,
                &more,
                &sel2,
                status2,
                &plan,
                all_copied
            )
            .complete
        );
        let searched = Rules { search2: true, ..r };
        assert!(
            !finish_record(
                &FolderRecord::default(),
                &searched,
                &sel1,
                &sel2,
                status2,
                &plan,
                all_copied
            )
            .complete
        );
    }
}
