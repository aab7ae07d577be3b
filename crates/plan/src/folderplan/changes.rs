//! The incremental listing: when the record vouches for a folder pair ([`super::incremental`]),
//! only what changed since is listed — UIDs present (one SEARCH per side, or QRESYNC's
//! `VANISHED (EARLIER)` applied to the recorded UID set), flags changed since the recorded
//! HIGHESTMODSEQ (CONDSTORE), and full details only for messages the UID map does not pair.
//! Messages the map pairs get a stub listing (no size, no key) carrying their flags.

use std::collections::{HashMap, HashSet};

use imapsync_proto::seqset::UidSet;

use super::{Listed, Rules, Selected};
use crate::record::{FolderRecord, MapEntry};

/// What to ask the servers for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChangesPlan {
    /// Host2 shows the recorded HIGHESTMODSEQ, UIDNEXT and count: its flags need not be
    /// listed (only those of messages whose host1 flags changed).
    pub host2_unchanged: bool,
    /// Host1 flags changed since this modseq (`CHANGEDSINCE`); `None` = all flags.
    pub since1: Option<u64>,
    /// QRESYNC on host1: one `UID FETCH 1:* (FLAGS) (CHANGEDSINCE m VANISHED)` applied to the
    /// recorded UID set replaces the full UID SEARCH.
    pub qresync: Option<(u64, UidSet)>,
}

/// Decides the incremental listing of a folder pair.
pub fn changes_plan(
    rec: &FolderRecord,
    sel1: &Selected,
    sel2: &Selected,
    qresync_enabled: bool,
    rules: &Rules<'_>,
) -> ChangesPlan {
    let host2_unchanged = sel2.highestmodseq.is_some()
        && sel2.highestmodseq == rec.side2.modseq
        && sel2.uidnext == rec.side2.uidnext
        && Some(sel2.exists) == rec.side2.messages;
    // Only when host2 did not change can host1's unchanged flags be trusted to be there.
    let since1 = if host2_unchanged && sel1.highestmodseq.is_some() {
        rec.side1.modseq
    } else {
        None
    };
    // Runs that delete on host2 always list host1 in full.
    let qresync = match (since1, rec.uids1.as_deref().and_then(UidSet::parse)) {
        (Some(m), Some(base))
            if qresync_enabled
                && !rules.delete.deletes_on_host2()
                && sel1.highestmodseq >= Some(m) =>
        {
            Some((m, base))
        }
        _ => None,
    };
    ChangesPlan {
        host2_unchanged,
        since1,
        qresync,
    }
}

/// Host1's UIDs from the recorded set, what vanished and what changed (new messages
/// included); `None` when the result does not add up to the `exists` of the SELECT (then the
/// UIDs are searched in full). A recorded set far bigger than the folder is not expanded.
pub fn qresync_uids(
    base: &UidSet,
    vanished: &[UidSet],
    changed: &[u32],
    exists: u32,
) -> Option<Vec<u32>> {
    let limit = (exists as usize).saturating_mul(4).max(100_000);
    let mut all: Vec<u32> = base.expand(limit)?;
    all.retain(|u| !vanished.iter().any(|v| v.contains(*u)));
    all.extend(changed);
    all.sort_unstable();
    all.dedup();
    (all.len() == exists as usize).then_some(all)
}

/// The UID map's pairs whose both ends still exist, and the UIDs it does not pair.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pairing {
    pub pairs: HashMap<u32, u32>,
    /// Host1 UIDs to list in full (UID order).
    pub unpaired1: Vec<u32>,
    /// Host2 UIDs to list in full (UID order).
    pub unpaired2: Vec<u32>,
}

/// Pairs the UIDs present on both sides through the map.
pub fn pairing(map: &[MapEntry], all1: &[u32], all2: &[u32]) -> Pairing {
    let set1: HashSet<u32> = all1.iter().copied().collect();
    let set2: HashSet<u32> = all2.iter().copied().collect();
    let pairs: HashMap<u32, u32> = map
        .iter()
        .filter(|e| set1.contains(&e.uid1) && set2.contains(&e.uid2))
        .map(|e| (e.uid1, e.uid2))
        .collect();
    let paired2: HashSet<u32> = pairs.values().copied().collect();
    Pairing {
        unpaired1: all1
            .iter()
            .copied()
            .filter(|u| !pairs.contains_key(u))
            .collect(),
        unpaired2: all2
            .iter()
            .copied()
            .filter(|u| !paired2.contains(u))
            .collect(),
        pairs,
    }
}

impl Pairing {
    /// Host2 messages nobody paired may be duplicates of paired ones, whose keys the
    /// incremental listing does not fetch: when host2 deletions are asked for, the folder is
    /// listed in full instead of guessing.
    pub fn full_listing_needed(&self, rules: &Rules<'_>) -> bool {
        rules.delete.deletes_on_host2() && !self.unpaired2.is_empty()
    }

    /// Host2 UIDs whose flags are needed when host2's flags were not all listed: the pairs of
    /// host1 messages whose flags changed.
    pub fn flags2_needed<'a>(&self, changed1: impl IntoIterator<Item = &'a u32>) -> Vec<u32> {
        let mut v: Vec<u32> = changed1
            .into_iter()
            .filter_map(|u1| self.pairs.get(u1).copied())
            .collect();
        v.sort_unstable();
        v
    }

    /// Both listings: the messages listed in full plus a stub for each paired message, with
    /// its flags when known.
    pub fn listings(
        &self,
        full1: Vec<Listed>,
        full2: Vec<Listed>,
        flags1: &HashMap<u32, String>,
        flags2: &HashMap<u32, String>,
    ) -> (Vec<Listed>, Vec<Listed>) {
        let stub = |uid: u32, flags: Option<&String>| Listed {
            uid,
            size: 0,
            flags: flags.cloned().unwrap_or_default(),
            internaldate: None,
            key: None,
            pairwise: false,
            flags_known: flags.is_some(),
            labels: None,
        };
        let mut list1 = full1;
        list1.extend(self.pairs.keys().map(|&u| stub(u, flags1.get(&u))));
        list1.sort_by_key(|m| m.uid);
        let mut list2 = full2;
        list2.extend(self.pairs.values().map(|&u| stub(u, flags2.get(&u))));
        list2.sort_by_key(|m| m.uid);
        (list1, list2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::{DeleteConfig, MessageConfig};
    use crate::record::SideStatus;

    fn rec() -> FolderRecord {
        FolderRecord {
            side1: SideStatus {
                uidnext: Some(11),
                modseq: Some(50),
                messages: Some(10),
            },
            side2: SideStatus {
                uidnext: Some(21),
                modseq: Some(60),
                messages: Some(10),
            },
            uids1: Some("1:10".into()),
            ..FolderRecord::default()
        }
    }

    fn sel(exists: u32, uidnext: u32, modseq: Option<u64>) -> Selected {
        Selected {
            exists,
            uidnext: Some(uidnext),
            highestmodseq: modseq,
            ..Selected::default()
        }
    }

    #[test]
    fn what_is_asked_for() {
        let m = MessageConfig::default();
        let d = DeleteConfig::default();
        let r = Rules::new(&m, &d, "FP");
        let s1 = sel(12, 13, Some(55));
        let s2 = sel(10, 21, Some(60));
        let p = changes_plan(&rec(), &s1, &s2, true, &r);
        assert!(p.host2_unchanged);
        assert_eq!(p.since1, Some(50));
        assert_eq!(p.qresync.as_ref().map(|q| q.0), Some(50));
        assert_eq!(
            changes_plan(&rec(), &s1, &s2, false, &r).qresync,
            None,
            "not enabled"
        );
        // Host2 changed: all host1 flags, no QRESYNC.
        let p = changes_plan(&rec(), &s1, &sel(11, 22, Some(61)), true, &r);
        assert!(!p.host2_unchanged);
        assert_eq!((p.since1, p.qresync), (None, None));
        // Host2 without CONDSTORE never counts as unchanged.
        assert!(!changes_plan(&rec(), &s1, &sel(10, 21, None), true, &r).host2_unchanged);
        // Deletions on host2: no QRESYNC (host1 listed in full), CHANGEDSINCE still.
        let del = DeleteConfig {
            delete2: true,
            ..DeleteConfig::default()
        };
        let p = changes_plan(&rec(), &s1, &s2, true, &Rules::new(&m, &del, "FP"));
        assert_eq!((p.since1, p.qresync), (Some(50), None));
        // A host1 modseq below the recorded one (server reset): no QRESYNC.
        assert_eq!(
            changes_plan(&rec(), &sel(12, 13, Some(40)), &s2, true, &r).qresync,
            None
        );
    }

    #[test]
    fn qresync_uids_must_add_up() {
        let base = UidSet::from_uids(1..=10);
        let gone = [UidSet::from_uids([3, 4])];
        let got = qresync_uids(&base, &gone, &[11, 12], 10);
        assert_eq!(got, Some(vec![1, 2, 5, 6, 7, 8, 9, 10, 11, 12]));
        assert_eq!(qresync_uids(&base, &gone, &[11], 10), None, "one missing");
        assert_eq!(
            qresync_uids(&base, &[], &[5], 10),
            Some((1..=10).collect()),
            "a changed old message"
        );
    }

    #[test]
    fn pairing_and_stub_listings() {
        let map = [
            MapEntry {
                uid1: 1,
                uid2: 10,
                flags: None,
            },
            MapEntry {
                uid1: 2,
                uid2: 11,
                flags: None,
            },
            MapEntry {
                uid1: 3,
                uid2: 99,
                flags: None,
            },
        ];
        let p = pairing(&map, &[1, 2, 3, 4], &[10, 11, 12]);
        assert_eq!(p.pairs.len(), 2);
        assert_eq!(p.unpaired1, vec![3, 4]);
        assert_eq!(p.unpaired2, vec![12]);
        assert_eq!(p.flags2_needed(&[2, 4]), vec![11]);
        let m = MessageConfig::default();
        let d = DeleteConfig {
            delete2duplicates: true,
            ..DeleteConfig::default()
        };
        assert!(p.full_listing_needed(&Rules::new(&m, &d, "FP")));
        assert!(!p.full_listing_needed(&Rules::new(&m, &DeleteConfig::default(), "FP")));
        let flags1: HashMap<u32, String> = [(2, "\\Seen".to_string())].into_iter().collect();
        let flags2: HashMap<u32, String> = [(11, String::new())].into_iter().collect();
        let full = |uid| Listed {
            uid,
            size: 5,
            key: Some("k".into()),
            flags_known: true,
            ..Listed::default()
        };
        let (l1, l2) = p.listings(vec![full(3), full(4)], vec![full(12)], &flags1, &flags2);
        assert_eq!(
            l1.iter().map(|l| l.uid).collect::<Vec<_>>(),
            vec![1, 2, 3, 4]
        );
        assert!(!l1[0].flags_known && l1[1].flags_known && l1[1].flags == "\\Seen");
        assert_eq!(
            l2.iter()
                .map(|l| (l.uid, l.flags_known))
                .collect::<Vec<_>>(),
            vec![(10, false), (11, true), (12, true)]
        );
    }
}
