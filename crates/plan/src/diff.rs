//! What to do in one folder pair: which host1 messages to copy, which pairs already exist (for
//! flag resync), which host2 messages have no host1 counterpart (for `--delete2`), and which
//! are duplicates.
//!
//! Identity is layered:
//! 1. the UID map of the state store (`uid1 → uid2`, from APPENDUID or an earlier match) wins —
//!    it holds even when headers are missing or rewritten;
//! 2. otherwise imapsync's header signature (see [`crate::identity`]): the first host1 message
//!    with a key is matched with the first unused host2 message with the same key;
//! 3. a host1 message whose key was already seen in this folder is a duplicate and is not
//!    copied — unless `--syncduplicates`, where the n-th duplicate pairs with the n-th host2
//!    message of that key and the rest are copied;
//! 4. a host1 message without any key (no identifying header and no fallback) is copied once;
//!    the UID map keeps a rerun from copying it again (imapsync skips those; we don't);
//! 5. messages identified by our fallback key (a hash of the whole header, [`Msg::pairwise`])
//!    pair n-th with n-th and are never duplicates: identical unidentified messages are all
//!    copied once, and host2 leftovers with such a key are never deleted.

use std::collections::{HashMap, HashSet};

/// A message as listed on one side.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Msg {
    pub uid: u32,
    pub size: u64,
    /// Identity key; `None` = unidentified.
    pub key: Option<String>,
    /// The key is our fallback for a message without identifying header: pair n-th with
    /// n-th, never a duplicate.
    pub pairwise: bool,
}

/// Inputs of the decision.
#[derive(Debug)]
pub struct Input<'a> {
    /// Selected host1 messages, in UID order.
    pub host1: &'a [Msg],
    /// Selected host2 messages, in UID order.
    pub host2: &'a [Msg],
    /// Known pairs `(uid1, uid2)` (only when both UIDVALIDITYs are unchanged).
    pub map: &'a [(u32, u32)],
    /// Every UID that exists on host1 (selected or not); `None` = same as `host1`.
    pub host1_all: Option<&'a HashSet<u32>>,
    /// Every UID that exists on host2; `None` = same as `host2`.
    pub host2_all: Option<&'a HashSet<u32>>,
    pub syncduplicates: bool,
    /// `--useuid`: identity by the UID map only.
    pub useuid: bool,
}

/// The decision.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Diff {
    /// Indexes into `host1` of messages to copy, in UID order.
    pub copy: Vec<usize>,
    /// `(index into host1, uid2)` of messages already on host2.
    pub present: Vec<(usize, u32)>,
    /// Pairs found by identity, to add to the UID map.
    pub adopted: Vec<(u32, u32)>,
    /// Indexes into `host1` of host1 duplicates not copied.
    pub dup1: Vec<usize>,
    /// Host2 UIDs that duplicate another host2 message of the same key.
    pub dup2: Vec<u32>,
    /// Host2 UIDs with a key that no host1 message has (candidates for `--delete2`).
    pub extra2: Vec<u32>,
    /// Host2 UIDs without a key and without a pair (never deleted).
    pub unidentified2: Vec<u32>,
    /// Map entries that point at a UID gone from either side.
    pub stale: Vec<(u32, u32)>,
    /// Host1 messages without a key (copied or present through the map).
    pub unidentified1: usize,
}

/// Computes the decision for one folder pair.
pub fn diff(input: &Input<'_>) -> Diff {
    let pairwise: HashSet<&str> = input
        .host1
        .iter()
        .chain(input.host2)
        .filter(|m| m.pairwise)
        .filter_map(|m| m.key.as_deref())
        .collect();
    if pairwise.is_empty() || input.syncduplicates {
        return diff_keys(input);
    }
    diff_split(input, &pairwise)
}

/// Fallback-keyed messages decided apart (as with `--syncduplicates`, so n-th pairs with
/// n-th), the others as usual, then merged.
fn diff_split(input: &Input<'_>, pairwise: &HashSet<&str>) -> Diff {
    let split = |v: &[Msg], pw: bool| -> Vec<Msg> {
        v.iter()
            .filter(|m| m.key.as_deref().is_some_and(|k| pairwise.contains(k)) == pw)
            .cloned()
            .collect()
    };
    let all1: HashSet<u32> = match input.host1_all {
        Some(s) => s.clone(),
        None => input.host1.iter().map(|m| m.uid).collect(),
    };
    let all2: HashSet<u32> = match input.host2_all {
        Some(s) => s.clone(),
        None => input.host2.iter().map(|m| m.uid).collect(),
    };
    let (n1, n2, p1, p2) = (
        split(input.host1, false),
        split(input.host2, false),
        split(input.host1, true),
        split(input.host2, true),
    );
    let half = |h1: &[Msg], h2: &[Msg], syncduplicates: bool| {
        diff_keys(&Input {
            host1: h1,
            host2: h2,
            map: input.map,
            host1_all: Some(&all1),
            host2_all: Some(&all2),
            syncduplicates,
            useuid: input.useuid,
        })
    };
    let a = half(&n1, &n2, false);
    let b = half(&p1, &p2, true);
    // Indexes of each half back into host1.
    let index: HashMap<u32, usize> = input
        .host1
        .iter()
        .enumerate()
        .map(|(i, m)| (m.uid, i))
        .collect();
    let re = |list: &[Msg], i: usize| list.get(i).and_then(|m| index.get(&m.uid).copied());
    let mut copy: Vec<usize> = a
        .copy
        .iter()
        .filter_map(|&i| re(&n1, i))
        .chain(b.copy.iter().filter_map(|&i| re(&p1, i)))
        .collect();
    copy.sort_unstable();
    let mut present: Vec<(usize, u32)> = a
        .present
        .iter()
        .filter_map(|&(i, u)| re(&n1, i).map(|j| (j, u)))
        .chain(
            b.present
                .iter()
                .filter_map(|&(i, u)| re(&p1, i).map(|j| (j, u))),
        )
        .collect();
    present.sort_unstable();
    present.dedup();
    // A map entry is stale only when both halves found it so (each sees every UID).
    let stale = a
        .stale
        .into_iter()
        .filter(|s| b.stale.contains(s))
        .collect();
    Diff {
        copy,
        present,
        adopted: a.adopted.into_iter().chain(b.adopted).collect(),
        dup1: a.dup1.iter().filter_map(|&i| re(&n1, i)).collect(),
        dup2: a.dup2,
        extra2: a.extra2,
        // Fallback-keyed host2 leftovers are treated like unidentified ones: never deleted.
        unidentified2: a
            .unidentified2
            .into_iter()
            .chain(b.extra2)
            .chain(b.unidentified2)
            .collect(),
        stale,
        unidentified1: a.unidentified1 + b.unidentified1,
    }
}

/// The decision by keys (see the module documentation, rules 1 to 4).
fn diff_keys(input: &Input<'_>) -> Diff {
    let mut out = Diff::default();
    let host2_all: HashSet<u32> = match input.host2_all {
        Some(s) => s.clone(),
        None => input.host2.iter().map(|m| m.uid).collect(),
    };
    let host1_all: HashSet<u32> = match input.host1_all {
        Some(s) => s.clone(),
        None => input.host1.iter().map(|m| m.uid).collect(),
    };
    let mut map1: HashMap<u32, u32> = HashMap::with_capacity(input.map.len());
    let mut used2: HashSet<u32> = HashSet::new();
    for &(u1, u2) in input.map {
        if !host1_all.contains(&u1) || !host2_all.contains(&u2) || used2.contains(&u2) {
            out.stale.push((u1, u2));
            continue;
        }
        map1.insert(u1, u2);
        used2.insert(u2);
    }
    // Host2 messages by key, in UID order, not yet paired.
    let mut by_key2: HashMap<&str, Vec<u32>> = HashMap::new();
    for m in input.host2 {
        if let Some(k) = &m.key
            && !used2.contains(&m.uid)
        {
            by_key2.entry(k.as_str()).or_default().push(m.uid);
        }
    }
    let mut next2: HashMap<&str, usize> = HashMap::new();
    let mut seen1: HashSet<&str> = HashSet::new();
    let keys1: HashSet<&str> = input
        .host1
        .iter()
        .filter_map(|m| m.key.as_deref())
        .collect();
    for (i, m) in input.host1.iter().enumerate() {
        if m.key.is_none() {
            out.unidentified1 += 1;
        }
        if let Some(&u2) = map1.get(&m.uid) {
            out.present.push((i, u2));
            if let Some(k) = &m.key {
                seen1.insert(k.as_str());
            }
            continue;
        }
        let Some(k) = m.key.as_deref().filter(|_| !input.useuid) else {
            out.copy.push(i);
            continue;
        };
        let first = seen1.insert(k);
        if !first && !input.syncduplicates {
            out.dup1.push(i);
            continue;
        }
        let cursor = next2.entry(k).or_insert(0);
        match by_key2.get(k).and_then(|v| v.get(*cursor)) {
            Some(&u2) => {
                *cursor += 1;
                used2.insert(u2);
                out.present.push((i, u2));
                out.adopted.push((m.uid, u2));
            }
            None => out.copy.push(i),
        }
    }
    for m in input.host2 {
        if used2.contains(&m.uid) {
            continue;
        }
        match &m.key {
            Some(k) if keys1.contains(k.as_str()) && !input.useuid => out.dup2.push(m.uid),
            Some(_) => out.extra2.push(m.uid),
            None if input.useuid => out.extra2.push(m.uid),
            None => out.unidentified2.push(m.uid),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(uid: u32, key: Option<&str>) -> Msg {
        Msg {
            uid,
            size: 10,
            key: key.map(str::to_string),
            pairwise: false,
        }
    }

    fn fallback(uid: u32, key: &str) -> Msg {
        Msg {
            pairwise: true,
            ..m(uid, Some(key))
        }
    }

    #[test]
    fn fallback_keys_pair_nth_with_nth_and_are_never_deleted() {
        // Three identical unidentified host1 messages, two on host2, plus normal ones.
        let h1 = [
            fallback(1, "H:x"),
            m(2, Some("a")),
            fallback(3, "H:x"),
            m(4, Some("a")),
            fallback(5, "H:x"),
        ];
        let h2 = [
            fallback(10, "H:x"),
            m(11, Some("a")),
            fallback(12, "H:x"),
            fallback(13, "H:y"),
            m(14, Some("z")),
        ];
        let d = run(&h1, &h2, &[], false);
        assert_eq!(d.copy, vec![4]);
        assert_eq!(d.present, vec![(0, 10), (1, 11), (2, 12)]);
        assert_eq!(d.dup1, vec![3], "a normal duplicate stays a duplicate");
        assert!(d.dup2.is_empty());
        assert_eq!(d.extra2, vec![14]);
        assert_eq!(
            d.unidentified2,
            vec![13],
            "a fallback-keyed leftover is never extra"
        );
        // A map entry of a fallback message is kept (not stale).
        let d = run(&h1, &h2, &[(5, 13)], false);
        assert!(d.stale.is_empty());
        assert!(d.present.contains(&(4, 13)));
    }

    fn run(h1: &[Msg], h2: &[Msg], map: &[(u32, u32)], syncdup: bool) -> Diff {
        diff(&Input {
            host1: h1,
            host2: h2,
            map,
            host1_all: None,
            host2_all: None,
            syncduplicates: syncdup,
            useuid: false,
        })
    }

    #[test]
    fn first_run_copies_everything_once() {
        let h1 = [m(1, Some("a")), m(2, Some("b")), m(3, None)];
        let d = run(&h1, &[], &[], false);
        assert_eq!(d.copy, vec![0, 1, 2]);
        assert_eq!(d.unidentified1, 1);
    }

    #[test]
    fn identity_and_map_pairing() {
        let h1 = [m(1, Some("a")), m(2, Some("b")), m(3, None)];
        let h2 = [m(10, Some("a")), m(11, None), m(12, Some("z"))];
        let d = run(&h1, &h2, &[(3, 11)], false);
        assert_eq!(d.copy, vec![1]);
        assert_eq!(d.present, vec![(0, 10), (2, 11)]);
        assert_eq!(d.adopted, vec![(1, 10)]);
        assert_eq!(d.extra2, vec![12]);
        assert!(d.stale.is_empty());
    }

    #[test]
    fn duplicates_like_imapsync() {
        let h1 = [m(1, Some("a")), m(2, Some("a")), m(3, Some("a"))];
        let h2 = [m(7, Some("a")), m(8, Some("a"))];
        let d = run(&h1, &h2, &[], false);
        assert_eq!(d.present, vec![(0, 7)]);
        assert_eq!(d.dup1, vec![1, 2]);
        assert_eq!(d.dup2, vec![8]);
        assert!(d.copy.is_empty());
        let d = run(&h1, &h2, &[], true);
        assert_eq!(d.present, vec![(0, 7), (1, 8)]);
        assert_eq!(d.copy, vec![2]);
        assert!(d.dup2.is_empty());
    }

    #[test]
    fn stale_map_entries_are_dropped() {
        let h1 = [m(1, Some("a"))];
        let h2 = [m(20, Some("a"))];
        // uid2 5 vanished, uid1 9 vanished.
        let d = run(&h1, &h2, &[(1, 5), (9, 20)], false);
        assert_eq!(d.stale, vec![(1, 5), (9, 20)]);
        assert_eq!(d.present, vec![(0, 20)]);
        assert_eq!(d.adopted, vec![(1, 20)]);
    }

    #[test]
    fn mapped_host2_message_of_unselected_host1_message_is_not_extra() {
        let all1: HashSet<u32> = [1, 2].into_iter().collect();
        let h1 = [m(1, Some("a"))];
        let h2 = [m(10, Some("a")), m(11, Some("b"))];
        let d = diff(&Input {
            host1: &h1,
            host2: &h2,
            map: &[(2, 11)],
            host1_all: Some(&all1),
            host2_all: None,
            syncduplicates: false,
            useuid: false,
        });
        assert!(d.extra2.is_empty());
        assert_eq!(d.present, vec![(0, 10)]);
    }

    #[test]
    fn useuid_ignores_headers() {
        let h1 = [m(1, Some("a")), m(2, Some("b"))];
        let h2 = [m(10, Some("a"))];
        let d = diff(&Input {
            host1: &h1,
            host2: &h2,
            map: &[(2, 10)],
            host1_all: None,
            host2_all: None,
            syncduplicates: false,
            useuid: true,
        });
        assert_eq!(d.copy, vec![0]);
        assert_eq!(d.present, vec![(1, 10)]);
    }
}
