//! What to do in one folder pair: which host1 messages to copy, which pairs already exist (for
//! flag resync), which host2 messages have no host1 counterpart (for `--delete2`), and which
//! are duplicates.
//!
//! Identity is layered:
//! 1. the UID map of the state store (`uid1 → uid2`, from APPENDUID or an earlier match) wins —
//!    it holds even when headers are missing or rewritten;
//! 2. otherwise imapsync's header signature (see [`crate::identity`]): the first host1 message
//!    with a key is matched with the first unused host2 message with the same key;
//! 3. a host1 message whose key *and size* were already seen in this folder is a duplicate
//!    and is not copied — unless `--syncduplicates`, where the n-th duplicate pairs with the
//!    n-th host2 message of that key and the rest are copied. Two messages that share their
//!    identifying headers but differ in size are different messages (a mailer that reuses
//!    Message-IDs): both are copied (imapsync copies only the first). Pairing with host2
//!    prefers the same key and size, then the same key whatever the size;
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
    let (map1, mut used2) = trusted_map(input, &mut out.stale);
    // Host1 messages to pair by key (indexes), once the map and duplicates are taken out.
    let mut candidates: Vec<usize> = Vec::new();
    let mut seen1: HashSet<(&str, u64)> = HashSet::new();
    let mut paired: Vec<(usize, u32)> = Vec::new();
    for (i, m) in input.host1.iter().enumerate() {
        if m.key.is_none() {
            out.unidentified1 += 1;
        }
        if let Some(&u2) = map1.get(&m.uid) {
            out.present.push((i, u2));
            if let Some(k) = &m.key {
                seen1.insert((k.as_str(), m.size));
            }
            continue;
        }
        let Some(k) = m.key.as_deref().filter(|_| !input.useuid) else {
            out.copy.push(i);
            continue;
        };
        // A duplicate is the same message again: same headers *and* same size.
        if !seen1.insert((k, m.size)) && !input.syncduplicates {
            out.dup1.push(i);
            continue;
        }
        candidates.push(i);
    }
    // Host2 messages by key, in UID order, not yet paired.
    let mut by_key2: HashMap<&str, Vec<&Msg>> = HashMap::new();
    for m in input.host2 {
        if let Some(k) = &m.key
            && !used2.contains(&m.uid)
        {
            by_key2.entry(k.as_str()).or_default().push(m);
        }
    }
    // Same key and same size first, then same key whatever the size (a server that
    // rewrites a header changes the size of its copy).
    for exact in [true, false] {
        for &i in &candidates {
            if paired.iter().any(|&(j, _)| j == i) {
                continue;
            }
            let m = &input.host1[i];
            let Some(list) = m.key.as_deref().and_then(|k| by_key2.get(k)) else {
                continue;
            };
            if let Some(u2) = list
                .iter()
                .find(|c| !used2.contains(&c.uid) && (!exact || c.size == m.size))
                .map(|c| c.uid)
            {
                used2.insert(u2);
                paired.push((i, u2));
            }
        }
    }
    for &i in &candidates {
        match paired.iter().find(|&&(j, _)| j == i) {
            Some(&(_, u2)) => {
                out.present.push((i, u2));
                out.adopted.push((input.host1[i].uid, u2));
            }
            None => out.copy.push(i),
        }
    }
    out.present.sort_unstable();
    out.copy.sort_unstable();
    out.adopted.sort_unstable();
    classify_host2_leftovers(input, &used2, &mut out);
    out
}

/// The map entries whose both ends exist (each host2 UID once); the others are stale.
fn trusted_map(
    input: &Input<'_>,
    stale: &mut Vec<(u32, u32)>,
) -> (HashMap<u32, u32>, HashSet<u32>) {
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
            stale.push((u1, u2));
            continue;
        }
        map1.insert(u1, u2);
        used2.insert(u2);
    }
    (map1, used2)
}

/// Host2 messages nothing paired: a duplicate (same key and size as a host2 message that
/// is paired), an extra (no such twin: a key host1 does not have, or not in that size), or
/// unidentified (no key).
fn classify_host2_leftovers(input: &Input<'_>, used2: &HashSet<u32>, out: &mut Diff) {
    let paired: HashSet<(&str, u64)> = input
        .host2
        .iter()
        .filter(|m| used2.contains(&m.uid))
        .filter_map(|m| m.key.as_deref().map(|k| (k, m.size)))
        .collect();
    for m in input.host2 {
        if used2.contains(&m.uid) {
            continue;
        }
        match &m.key {
            Some(_) if input.useuid => out.extra2.push(m.uid),
            Some(k) if paired.contains(&(k.as_str(), m.size)) => out.dup2.push(m.uid),
            Some(_) => out.extra2.push(m.uid),
            None if input.useuid => out.extra2.push(m.uid),
            None => out.unidentified2.push(m.uid),
        }
    }
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

    fn sized(uid: u32, key: &str, size: u64) -> Msg {
        Msg {
            size,
            ..m(uid, Some(key))
        }
    }

    #[test]
    fn same_headers_different_size_are_different_messages() {
        // A mailer that reuses Message-IDs: both host1 messages are copied (imapsync loses
        // the second); identical ones (same size) stay duplicates.
        let h1 = [sized(1, "k", 100), sized(2, "k", 250), sized(3, "k", 100)];
        let d = run(&h1, &[], &[], false);
        assert_eq!(d.copy, vec![0, 1]);
        assert_eq!(d.dup1, vec![2]);
        // A rerun pairs each with its own copy, whatever the UID order on host2.
        let h2 = [sized(10, "k", 250), sized(11, "k", 100)];
        let d = run(&h1, &h2, &[], false);
        assert!(d.copy.is_empty());
        assert_eq!(d.present, vec![(0, 11), (1, 10)]);
        assert_eq!(d.dup1, vec![2]);
        // Only the first was copied (by imapsync, say): the second is copied now, never
        // mistaken for the first.
        let d = run(&h1, &[sized(10, "k", 100)], &[], false);
        assert_eq!(d.present, vec![(0, 10)]);
        assert_eq!(d.copy, vec![1]);
    }

    #[test]
    fn a_copy_whose_size_changed_on_the_way_still_pairs() {
        // Some servers rewrite a header (8-bit bytes, line ends): same key, other size.
        let h1 = [sized(1, "k", 100)];
        let d = run(&h1, &[sized(10, "k", 104)], &[], false);
        assert_eq!(d.present, vec![(0, 10)]);
        assert!(d.copy.is_empty() && d.extra2.is_empty());
    }

    #[test]
    fn host2_leftovers() {
        let h1 = [sized(1, "a", 100)];
        let h2 = [
            sized(10, "a", 100),
            sized(11, "a", 100), // twin of the paired one: duplicate
            sized(12, "a", 300), // same headers, other message: extra
            sized(13, "z", 50),  // not on host1: extra
            sized(14, "z", 50),  // nor this one
        ];
        let d = run(&h1, &h2, &[], false);
        assert_eq!(d.present, vec![(0, 10)]);
        assert_eq!(d.dup2, vec![11]);
        assert_eq!(d.extra2, vec![12, 13, 14]);
    }
}
