//! Deletions, decided before anything is deleted.
//!
//! * Host2 (`--delete2`, `--delete2duplicates`): messages with no host1 counterpart, or
//!   duplicates of another host2 message, are removed only when the host1 listing is known to
//!   be whole and UIDs can be trusted — never when a UIDVALIDITY changed in this run, when
//!   several host1 folders feed this host2 folder, or when the host1 listing has fewer
//!   messages than SELECT announced.
//! * Host1 (`--delete1`): only messages whose copy on host2 is confirmed — found there in
//!   this run, or appended with an APPENDUID answer.

use std::collections::HashSet;

use super::{FolderPlan, Rules, Selected};

/// A host2 message to delete.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target2 {
    pub uid: u32,
    /// Its identity key (printed).
    pub key: Option<String>,
    /// Deleted as a duplicate of another host2 message (not as an extra).
    pub duplicate: bool,
}

/// What `--delete2`/`--delete2duplicates` do in one folder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Deletion2 {
    /// Nothing to delete (or not asked for).
    Nothing,
    /// Messages would be deleted, but the listing can not be trusted for it. The folder is
    /// then left incomplete, so the next run looks again.
    Refused { count: usize, reason: String },
    /// Flag these `\Deleted` and expunge them (UID order).
    Delete(Vec<Target2>),
}

/// Facts about the folder that the host2 deletion rules depend on.
#[derive(Clone, Copy, Debug)]
pub struct Host2Facts<'a> {
    /// Host1's folder as selected.
    pub sel1: &'a Selected,
    /// A UIDVALIDITY changed since the record was made.
    pub uidvalidity_changed: bool,
    /// Several host1 folders are synced into this host2 folder.
    pub shared2: bool,
}

/// The host2 deletions of a folder.
pub fn deletion2(rules: &Rules<'_>, plan: &FolderPlan, facts: Host2Facts<'_>) -> Deletion2 {
    let del = rules.delete;
    let extra: HashSet<u32> = plan.diff.extra2.iter().copied().collect();
    let mut uids: Vec<u32> = Vec::new();
    if del.delete2 {
        uids.extend(&plan.diff.extra2);
    }
    if del.delete2duplicates {
        uids.extend(&plan.diff.dup2);
    }
    if uids.is_empty() {
        return Deletion2::Nothing;
    }
    uids.sort_unstable();
    uids.dedup();
    let refuse = |reason: String| Deletion2::Refused {
        count: uids.len(),
        reason,
    };
    if facts.uidvalidity_changed {
        return refuse("a UIDVALIDITY changed in this run, UIDs can not be trusted".into());
    }
    if facts.shared2 {
        return refuse("several host1 folders are synced into this host2 folder".into());
    }
    let m = rules.messages;
    let selection_free = !rules.search1 && m.maxage.is_none() && m.minage.is_none();
    if selection_free && plan.list1.len() as u32 != facts.sel1.exists {
        return refuse(format!(
            "the host1 listing has {} messages but SELECT announced {}: it may be incomplete",
            plan.list1.len(),
            facts.sel1.exists
        ));
    }
    let keys: std::collections::HashMap<u32, &str> = plan
        .list2
        .iter()
        .filter_map(|l| l.key.as_deref().map(|k| (l.uid, k)))
        .collect();
    Deletion2::Delete(
        uids.into_iter()
            .map(|uid| Target2 {
                uid,
                key: keys.get(&uid).map(|k| k.to_string()),
                duplicate: !extra.contains(&uid),
            })
            .collect(),
    )
}

/// `--delete1`: host1 UIDs whose copy on host2 is confirmed — present on host2 in this run,
/// or appended with a host2 UID (`copied` holds `(uid1, uid2)`, `uid2` 0 when the server did
/// not say). UID order.
pub fn delete1_targets(plan: &FolderPlan, copied: &[(u32, u32)]) -> Vec<u32> {
    let mut confirmed = plan.present_uids1();
    confirmed.extend(copied.iter().filter(|(_, u2)| *u2 != 0).map(|(u1, _)| *u1));
    confirmed.sort_unstable();
    confirmed.dedup();
    confirmed
}

#[cfg(test)]
mod tests {
    use super::super::testutil::msg;
    use super::super::{Listed, Listings, decide};
    use super::*;
    use crate::options::{DeleteConfig, MessageConfig};

    /// The same message (key and size) under several UIDs.
    fn b(uid: u32) -> Listed {
        Listed {
            size: 500,
            ..msg(uid, Some("b"), "")
        }
    }

    fn plan(m: &MessageConfig, d: &DeleteConfig) -> FolderPlan {
        // host1: a, b, b ; host2: a, b, b, x (extra), y (extra)
        let rules = Rules::new(m, d, "FP");
        decide(
            &rules,
            Listings {
                list1: vec![msg(1, Some("a"), ""), b(2), b(3)],
                list2: vec![
                    msg(10, Some("a"), ""),
                    b(11),
                    b(12),
                    msg(13, Some("x"), ""),
                    msg(14, Some("y"), ""),
                ],
                map: &[],
                have2: true,
                permanentflags2: "",
                cross_keys: None,
            },
        )
    }

    fn facts(sel1: &Selected) -> Host2Facts<'_> {
        Host2Facts {
            sel1,
            uidvalidity_changed: false,
            shared2: false,
        }
    }

    fn uids(d: &Deletion2) -> Vec<(u32, bool)> {
        match d {
            Deletion2::Delete(t) => t.iter().map(|t| (t.uid, t.duplicate)).collect(),
            other => panic!("expected deletions, got {other:?}"),
        }
    }

    #[test]
    fn what_each_option_deletes() {
        let m = MessageConfig::default();
        let sel1 = Selected {
            exists: 3,
            ..Selected::default()
        };
        let none = DeleteConfig::default();
        assert_eq!(
            deletion2(&Rules::new(&m, &none, "FP"), &plan(&m, &none), facts(&sel1)),
            Deletion2::Nothing
        );
        // --delete2 with its derived --delete2duplicates: extras and duplicates.
        let both = DeleteConfig {
            delete2: true,
            delete2duplicates: true,
            ..DeleteConfig::default()
        };
        let r = Rules::new(&m, &both, "FP");
        assert_eq!(
            uids(&deletion2(&r, &plan(&m, &both), facts(&sel1))),
            vec![(12, true), (13, false), (14, false)]
        );
        // --delete2 --nodelete2duplicates: the duplicate stays (decided once, in the CLI).
        let only = DeleteConfig {
            delete2: true,
            ..DeleteConfig::default()
        };
        let r = Rules::new(&m, &only, "FP");
        assert_eq!(
            uids(&deletion2(&r, &plan(&m, &only), facts(&sel1))),
            vec![(13, false), (14, false)]
        );
        // --delete2duplicates alone.
        let dups = DeleteConfig {
            delete2duplicates: true,
            ..DeleteConfig::default()
        };
        let r = Rules::new(&m, &dups, "FP");
        assert_eq!(
            uids(&deletion2(&r, &plan(&m, &dups), facts(&sel1))),
            vec![(12, true)]
        );
    }

    #[test]
    fn refusals() {
        let m = MessageConfig::default();
        let d = DeleteConfig {
            delete2: true,
            delete2duplicates: true,
            ..DeleteConfig::default()
        };
        let r = Rules::new(&m, &d, "FP");
        let p = plan(&m, &d);
        let sel1 = Selected {
            exists: 3,
            ..Selected::default()
        };
        let reason = |f: Host2Facts<'_>| match deletion2(&r, &p, f) {
            Deletion2::Refused { count, reason } => {
                assert_eq!(count, 3);
                reason
            }
            other => panic!("expected a refusal, got {other:?}"),
        };
        assert!(
            reason(Host2Facts {
                uidvalidity_changed: true,
                ..facts(&sel1)
            })
            .contains("UIDVALIDITY")
        );
        assert!(
            reason(Host2Facts {
                shared2: true,
                ..facts(&sel1)
            })
            .contains("several host1 folders")
        );
        let more = Selected {
            exists: 4,
            ..Selected::default()
        };
        assert!(reason(facts(&more)).contains("has 3 messages but SELECT announced 4"));
        // With a SEARCH the listing is partial by design: the count is not compared.
        let searched = Rules { search1: true, ..r };
        assert!(matches!(
            deletion2(&searched, &p, facts(&more)),
            Deletion2::Delete(_)
        ));
    }

    #[test]
    fn delete1_only_confirmed_copies() {
        let m = MessageConfig::default();
        let d = DeleteConfig::default();
        let p = plan(&m, &d);
        // present: 1 (a) and 2 (b); 3 is a duplicate of 2 on host1 (not copied, not confirmed).
        assert_eq!(delete1_targets(&p, &[]), vec![1, 2]);
        // An APPEND without a host2 UID is not a confirmation.
        assert_eq!(delete1_targets(&p, &[(7, 0), (8, 40)]), vec![1, 2, 8]);
    }
}
