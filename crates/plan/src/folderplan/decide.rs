//! The per-folder decision: both listings, the UID map and the run's options in, the
//! [`FolderPlan`] out — messages to copy with their host2 flags and date, size and
//! cross-folder skips, flag STOREs for messages already there, map entries to adopt or drop,
//! and the counters imapsync prints.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::Listed;
use crate::dates;
use crate::diff::{self, Diff, Msg};
use crate::flags::{self, BuggyFlagsFilter, FlagOptions, FlagRewrite};
use crate::identity;
use crate::labels::{self, FolderLabelPlan, LabelPlan};
use crate::options::{DeleteConfig, MessageConfig};
use crate::record::MapEntry;
use crate::select::{self, SizeSkip};

/// The run's options as a folder's decisions need them.
#[derive(Clone, Copy, Debug)]
pub struct Rules<'a> {
    pub messages: &'a MessageConfig,
    pub delete: &'a DeleteConfig,
    /// SEARCH criteria restrict what is listed on host1 / host2 (`--search`, server-side
    /// `--maxage`/`--minage`).
    pub search1: bool,
    pub search2: bool,
    /// `--fetch_hash_set` lists part of host1's / host2's folders (without SEARCH).
    pub partial1: bool,
    pub partial2: bool,
    /// `--maxsize`, lowered to host2's APPENDLIMIT when it announces one.
    pub maxsize: Option<u64>,
    /// Start of the run (UNIX seconds), for the age windows.
    pub now: i64,
    /// [`super::fingerprint`] of the run's options.
    pub fingerprint: &'a str,
    /// The run's Gmail label decisions (`--synclabels`, `--resynclabels`), once both hosts
    /// are known; `None` without labels.
    pub labels: Option<&'a LabelPlan>,
}

impl<'a> Rules<'a> {
    /// Rules with no SEARCH, `--maxsize` as given and the clock at 0.
    pub fn new(
        messages: &'a MessageConfig,
        delete: &'a DeleteConfig,
        fingerprint: &'a str,
    ) -> Self {
        Rules {
            messages,
            delete,
            search1: false,
            search2: false,
            partial1: false,
            partial2: false,
            maxsize: messages.maxsize,
            now: 0,
            fingerprint,
            labels: None,
        }
    }

    /// Some SEARCH (or `--fetch_hash_set`) restricts a listing: the folder is never known in
    /// full.
    pub fn searched(&self) -> bool {
        self.search1 || self.search2 || self.partial1 || self.partial2
    }
}

/// What the folder's decision is made from.
#[derive(Debug)]
pub struct Listings<'a> {
    /// Host1 messages as listed (UID order).
    pub list1: Vec<Listed>,
    /// Host2 messages as listed (empty when host2's folder does not exist yet).
    pub list2: Vec<Listed>,
    /// The UID map of the pair (empty when not trusted).
    pub map: &'a [MapEntry],
    /// Host2's folder is selected (false: it does not exist yet, `--dry`).
    pub have2: bool,
    /// Host2's PERMANENTFLAGS as imapsync filters with them (empty = no filtering).
    pub permanentflags2: &'a str,
    /// `--skipcrossduplicates`: keys already on host2 in folders synced before this one.
    pub cross_keys: Option<&'a HashSet<String>>,
}

/// A message to copy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedCopy {
    pub uid: u32,
    pub size: u64,
    /// Flags for host2 (filtered, rewritten).
    pub flags: Vec<String>,
    /// Internal date to give it (`--syncinternaldates`).
    pub internaldate: Option<String>,
    /// `--addheader`: put imapsync's invented `Message-Id` line in front.
    pub addheader: bool,
    /// Identity key (journalled with the APPEND).
    pub key: Option<String>,
}

/// What `--debugflags` shows of one message's flags.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FlagTrace {
    /// A copy: host1's flags, and those asked of host2.
    Copy {
        uid: u32,
        flags: String,
        filtered: String,
    },
    /// A message already on host2: both sides' flags, host1's filtered, whether host2's are
    /// replaced.
    Resync {
        uid1: u32,
        uid2: u32,
        flags1: String,
        flags2: String,
        filtered1: String,
        replaced: bool,
    },
}

/// Counters of the decision (imapsync's statistics).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub dup1: u64,
    pub dup2: u64,
    /// Host1 messages identified by our fallback key only (no identifying header).
    pub noheader1: u64,
    /// Host2 messages without key and pair.
    pub noheader2: u64,
    /// Host1 messages already on host2, or host1 duplicates: skipped.
    pub skipped: u64,
    /// Bytes of the host1 messages already on host2.
    pub bytes_present: u64,
}

/// The plan of one folder pair.
#[derive(Clone, Debug, Default)]
pub struct FolderPlan {
    /// The host1 messages considered (after the age filter), UID order.
    pub list1: Vec<Listed>,
    pub list2: Vec<Listed>,
    /// The pairing ([`crate::diff`]); indexes refer to `list1`.
    pub diff: Diff,
    /// Messages to copy, UID order.
    pub copies: Vec<PlannedCopy>,
    /// Messages not copied because of `--maxsize`/`--minsize`/APPENDLIMIT.
    pub size_skips: Vec<(u32, SizeSkip)>,
    /// Host1 UIDs not copied because an earlier folder's host2 side has them
    /// (`--skipcrossduplicates`).
    pub cross_duplicates: Vec<u32>,
    /// Gmail labels: messages another folder copies, labels to store on the copies (of
    /// planned copies only) and on messages already there ([`crate::labels`]).
    pub labels: FolderLabelPlan,
    /// Flag STOREs (replace) for messages already on host2: flag list → host2 UIDs.
    pub flag_updates: BTreeMap<String, Vec<u32>>,
    /// The flags those STOREs leave on host2, per host1 UID (for the UID map).
    pub new_flags: Vec<(u32, String)>,
    /// `--regexflag` failures (the message keeps its flags without the rewrite).
    pub flag_errors: Vec<String>,
    /// `--debugflags`: how each message's flags were filtered.
    pub flag_trace: Vec<FlagTrace>,
    /// Pairs found by identity, for the UID map.
    pub adopted: Vec<MapEntry>,
    /// Host1 UIDs of map entries that point at a message gone from either side.
    pub stale1: Vec<u32>,
    pub counts: Counts,
}

impl FolderPlan {
    /// Identified messages on host1 and host2 once `copied` messages were appended.
    pub fn identified(&self, copied: u64) -> (u64, u64) {
        let present1: HashSet<u32> = self
            .diff
            .present
            .iter()
            .map(|&(i, _)| self.list1[i].uid)
            .collect();
        let present2: HashSet<u32> = self.diff.present.iter().map(|&(_, u)| u).collect();
        let n1 = self
            .list1
            .iter()
            .filter(|m| m.key.is_some() || present1.contains(&m.uid))
            .count() as u64;
        let n2 = self
            .list2
            .iter()
            .filter(|m| m.key.is_some() || present2.contains(&m.uid))
            .count() as u64;
        (n1, n2 + copied)
    }

    /// Host1 UIDs already on host2 (found through the map or by identity).
    pub fn present_uids1(&self) -> Vec<u32> {
        self.diff
            .present
            .iter()
            .map(|&(i, _)| self.list1[i].uid)
            .collect()
    }
}

/// Decides one folder pair.
pub fn decide(rules: &Rules<'_>, input: Listings<'_>) -> FolderPlan {
    decide_folder(rules, input, None)
}

/// Decides one folder pair; `folder1` (host1's folder name) brings in the label rules of
/// `rules.labels`.
pub fn decide_folder(rules: &Rules<'_>, input: Listings<'_>, folder1: Option<&str>) -> FolderPlan {
    let m = rules.messages;
    let mut list1 = input.list1;
    if m.addheader {
        give_addheader_keys(&mut list1, m.identity.skipsize);
    }
    let list1 = age_filter(rules, list1);
    let pairs: Vec<(u32, u32)> = input.map.iter().map(|e| (e.uid1, e.uid2)).collect();
    let to_msg = |l: &Listed| Msg {
        uid: l.uid,
        size: l.size,
        key: l.key.clone(),
        pairwise: l.pairwise,
    };
    let msgs1: Vec<Msg> = list1.iter().map(to_msg).collect();
    let msgs2: Vec<Msg> = input.list2.iter().map(to_msg).collect();
    let d = diff::diff(&diff::Input {
        host1: &msgs1,
        host2: &msgs2,
        map: &pairs,
        host1_all: None,
        host2_all: None,
        syncduplicates: m.syncduplicates,
        useuid: m.useuid,
    });
    let counts = Counts {
        dup1: d.dup1.len() as u64,
        dup2: d.dup2.len() as u64,
        noheader1: list1.iter().filter(|l| l.pairwise).count() as u64,
        noheader2: d.unidentified2.len() as u64,
        skipped: (d.present.len() + d.dup1.len()) as u64,
        bytes_present: d.present.iter().map(|&(i, _)| list1[i].size).sum(),
    };
    let flags1: HashMap<u32, &str> = list1.iter().map(|l| (l.uid, l.flags.as_str())).collect();
    let adopted = d
        .adopted
        .iter()
        .map(|&(uid1, uid2)| MapEntry {
            uid1,
            uid2,
            flags: flags1.get(&uid1).map(|f| f.to_string()),
        })
        .collect();
    let stale1 = d.stale.iter().map(|&(u1, _)| u1).collect();
    let labels = match (rules.labels, folder1) {
        (Some(lp), Some(f1)) => {
            labels::plan_folder(lp, f1, &list1, &input.list2, &d.copy, &d.present)
        }
        _ => FolderLabelPlan::default(),
    };
    let mut plan = FolderPlan {
        list1,
        list2: input.list2,
        diff: d,
        adopted,
        stale1,
        counts,
        labels,
        ..FolderPlan::default()
    };
    let flagger = Flagger::new(m, input.permanentflags2);
    plan_copies(rules, &mut plan, &flagger, input.cross_keys);
    let planned: HashSet<u32> = plan.copies.iter().map(|c| c.uid).collect();
    plan.labels
        .copy_labels
        .retain(|uid, _| planned.contains(uid));
    if m.resyncflags && input.have2 {
        plan_flag_updates(&mut plan, &flagger, m.debugflags);
    }
    plan
}

/// `--addheader`: host1 messages without identifying header get imapsync's invented key (a
/// `Message-Id` made from the UID and size, added to the copy).
fn give_addheader_keys(list1: &mut [Listed], skipsize: bool) {
    for l in list1.iter_mut().filter(|l| l.pairwise) {
        l.key = Some(identity::addheader_signature(l.uid, Some(l.size), skipsize));
        l.pairwise = false;
    }
}

/// `--maxage`/`--minage` on our side, when the server does not SEARCH for them.
fn age_filter(rules: &Rules<'_>, list: Vec<Listed>) -> Vec<Listed> {
    let m = rules.messages;
    if (m.maxage.is_none() && m.minage.is_none()) || rules.search1 {
        return list;
    }
    list.into_iter()
        .filter(|l| {
            let epoch = l
                .internaldate
                .as_deref()
                .and_then(|d| dates::parse_internaldate(d).ok())
                .map(|d| d.epoch);
            in_age_window(epoch, rules.now, m.maxage, m.minage)
        })
        .collect()
}

/// imapsync's age rule: with both `--maxage` and `--minage`, the message must be in both
/// windows when they overlap (`minage <= maxage`), in either one otherwise.
fn in_age_window(epoch: Option<i64>, now: i64, maxage: Option<f64>, minage: Option<f64>) -> bool {
    let newer = maxage.map(|a| dates::in_maxage_window(epoch, now, a));
    let older = minage.map(|a| dates::in_minage_window(epoch, now, a));
    match (newer, older, maxage, minage) {
        (Some(n), Some(o), Some(max), Some(min)) => {
            if min <= max {
                n && o
            } else {
                n || o
            }
        }
        (Some(n), None, ..) => n,
        (None, Some(o), ..) => o,
        _ => true,
    }
}

/// The flag pipeline of the run (`--regexflag`, `--filterbuggyflags`, case, PERMANENTFLAGS).
struct Flagger<'a> {
    opts: FlagOptions,
    permanentflags2: &'a str,
    buggy: bool,
    regexflag: &'a [crate::perlre::PerlExpr],
}

impl<'a> Flagger<'a> {
    fn new(m: &'a MessageConfig, permanentflags2: &'a str) -> Self {
        Flagger {
            opts: FlagOptions {
                flagscase: m.flagscase,
                filterflags: m.filterflags,
            },
            permanentflags2,
            buggy: m.filterbuggyflags,
            regexflag: &m.regexflag,
        }
    }

    fn with_rewriters<R>(&self, f: impl FnOnce(&[&dyn FlagRewrite]) -> R) -> R {
        let closures: Vec<_> = self
            .regexflag
            .iter()
            .map(|e| move |s: &str| e.apply(s).map_err(|err| err.to_string()))
            .collect();
        let mut rewriters: Vec<&dyn FlagRewrite> = Vec::new();
        if self.buggy {
            rewriters.push(&BuggyFlagsFilter);
        }
        for c in &closures {
            rewriters.push(c);
        }
        f(&rewriters)
    }

    /// Host2 flags for a copy, and the rewrite error if one failed.
    fn for_copy(&self, flags: &str) -> (Vec<String>, Option<String>) {
        let f = self
            .with_rewriters(|r| flags::flags_for_host2(flags, &self.opts, self.permanentflags2, r));
        (
            f.flags.split_whitespace().map(str::to_string).collect(),
            f.rewrite_error.map(|e| e.to_string()),
        )
    }

    fn resync(&self, h1: &str, h2: &str) -> flags::FlagResync {
        self.with_rewriters(|r| flags::flags_resync(h1, h2, &self.opts, self.permanentflags2, r))
    }
}

/// What to copy: every message the diff did not find on host2, but cross-folder duplicates
/// and messages outside the size limits.
fn plan_copies(
    rules: &Rules<'_>,
    plan: &mut FolderPlan,
    flagger: &Flagger<'_>,
    cross_keys: Option<&HashSet<String>>,
) {
    let m = rules.messages;
    let elsewhere: HashSet<u32> = plan.labels.elsewhere.iter().map(|(u, _)| *u).collect();
    for &i in &plan.diff.copy {
        let l = &plan.list1[i];
        if elsewhere.contains(&l.uid) {
            continue;
        }
        if let (Some(k), Some(cross)) = (&l.key, cross_keys)
            && cross.contains(k)
        {
            plan.cross_duplicates.push(l.uid);
            continue;
        }
        if let Some(skip) = select::size_filtered(
            Some(l.size),
            rules.maxsize.map(|v| v as i64),
            m.minsize.map(|v| v as i64),
        ) {
            plan.size_skips.push((l.uid, skip));
            continue;
        }
        let addheader = m.addheader
            && l.key.as_deref().is_some_and(|k| {
                k == identity::addheader_signature(l.uid, Some(l.size), m.identity.skipsize)
            });
        let (flags, error) = flagger.for_copy(&l.flags);
        plan.flag_errors.extend(error);
        if m.debugflags {
            plan.flag_trace.push(FlagTrace::Copy {
                uid: l.uid,
                flags: l.flags.clone(),
                filtered: flags.join(" "),
            });
        }
        plan.copies.push(PlannedCopy {
            uid: l.uid,
            size: l.size,
            flags,
            internaldate: if m.syncinternaldates {
                l.internaldate.clone()
            } else {
                None
            },
            addheader,
            key: l.key.clone(),
        });
    }
}

/// Flag resync of messages already on host2 whose flags are known on both sides: one STORE
/// per distinct flag list.
fn plan_flag_updates(plan: &mut FolderPlan, flagger: &Flagger<'_>, trace: bool) {
    let flags2: HashMap<u32, &str> = plan
        .list2
        .iter()
        .filter(|l| l.flags_known)
        .map(|l| (l.uid, l.flags.as_str()))
        .collect();
    for &(i, u2) in &plan.diff.present {
        let l = &plan.list1[i];
        if !l.flags_known {
            continue;
        }
        let Some(h2) = flags2.get(&u2) else { continue };
        let r = flagger.resync(&l.flags, h2);
        if trace {
            plan.flag_trace.push(FlagTrace::Resync {
                uid1: l.uid,
                uid2: u2,
                flags1: l.flags.clone(),
                flags2: h2.to_string(),
                filtered1: r.h1_sorted.join(" "),
                replaced: r.differ,
            });
        }
        if r.differ {
            let joined = r.h1_sorted.join(" ");
            plan.flag_updates
                .entry(joined.clone())
                .or_default()
                .push(u2);
            plan.new_flags.push((l.uid, joined));
        }
    }
}

/// `--syncflagsaftercopy`: the STOREs (flag list → host2 UIDs) that give new host2
/// messages the flags their APPEND asked for, from the flags host2 reports for them (`\Recent`
/// and the case of system flags aside). A message host2 did not report is left alone.
pub fn flags_after_copy(
    wanted: &[(u32, Vec<String>)],
    got: &HashMap<u32, String>,
) -> BTreeMap<String, Vec<u32>> {
    let mut out: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    for (uid2, want) in wanted {
        let Some(have) = got.get(uid2) else { continue };
        let mut have: Vec<String> = flags::remove_recent(&flags::flagscase(have))
            .split_whitespace()
            .map(str::to_string)
            .collect();
        let mut want = want.clone();
        have.sort();
        want.sort();
        if have != want {
            out.entry(want.join(" ")).or_default().push(*uid2);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::testutil::msg;
    use super::*;
    use crate::perlre::PerlExpr;

    fn opts() -> MessageConfig {
        MessageConfig {
            resyncflags: true,
            syncinternaldates: true,
            flagscase: true,
            filterflags: true,
            ..MessageConfig::default()
        }
    }

    fn run(
        m: &MessageConfig,
        list1: Vec<Listed>,
        list2: Vec<Listed>,
        map: &[MapEntry],
    ) -> FolderPlan {
        let d = DeleteConfig::default();
        let rules = Rules::new(m, &d, "FP");
        decide(
            &rules,
            Listings {
                list1,
                list2,
                map,
                have2: true,
                permanentflags2: "",
                cross_keys: None,
            },
        )
    }

    fn entry(uid1: u32, uid2: u32) -> MapEntry {
        MapEntry {
            uid1,
            uid2,
            flags: None,
        }
    }

    #[test]
    fn copies_carry_flags_dates_and_keys() {
        let m = opts();
        let p = run(
            &m,
            vec![
                msg(1, Some("a"), "\\Seen \\Recent $Label"),
                msg(2, Some("b"), ""),
            ],
            vec![],
            &[],
        );
        assert_eq!(p.copies.len(), 2);
        assert_eq!(
            p.copies[0].flags,
            vec!["\\Seen", "$Label"],
            "\\Recent is never copied"
        );
        assert_eq!(
            p.copies[0].internaldate.as_deref(),
            Some("01-Jan-2024 10:00:00 +0000")
        );
        assert_eq!(p.copies[0].key.as_deref(), Some("a"));
        let nodates = MessageConfig {
            syncinternaldates: false,
            ..opts()
        };
        let p = run(&nodates, vec![msg(1, Some("a"), "")], vec![], &[]);
        assert_eq!(p.copies[0].internaldate, None);
    }

    #[test]
    fn present_messages_get_their_flags_resynced() {
        let m = opts();
        let p = run(
            &m,
            vec![
                msg(1, Some("a"), "\\Seen"),
                msg(2, Some("b"), "\\Flagged"),
                msg(3, Some("c"), ""),
            ],
            vec![
                msg(10, Some("a"), ""),
                msg(11, Some("b"), "\\Flagged"),
                msg(12, Some("c"), "\\Seen"),
            ],
            &[],
        );
        assert!(p.copies.is_empty());
        let want: BTreeMap<String, Vec<u32>> =
            [("\\Seen".to_string(), vec![10]), (String::new(), vec![12])]
                .into_iter()
                .collect();
        assert_eq!(p.flag_updates, want);
        assert_eq!(
            p.new_flags,
            vec![(1, "\\Seen".to_string()), (3, String::new())]
        );
        assert_eq!(p.counts.skipped, 3);
        assert_eq!(p.counts.bytes_present, 101 + 102 + 103);
        // --noresyncflags: no STORE at all.
        let noresync = MessageConfig {
            resyncflags: false,
            ..opts()
        };
        let p = run(
            &noresync,
            vec![msg(1, Some("a"), "\\Seen")],
            vec![msg(10, Some("a"), "")],
            &[],
        );
        assert!(p.flag_updates.is_empty());
    }

    #[test]
    fn unknown_flags_are_not_resynced() {
        let m = opts();
        let mut h1 = msg(1, None, "\\Seen");
        h1.flags_known = false;
        let p = run(&m, vec![h1], vec![msg(10, None, "")], &[entry(1, 10)]);
        assert!(p.flag_updates.is_empty());
        let mut h2 = msg(10, None, "");
        h2.flags_known = false;
        let p = run(&m, vec![msg(1, None, "\\Seen")], vec![h2], &[entry(1, 10)]);
        assert!(p.flag_updates.is_empty());
    }

    #[test]
    fn size_limits_and_cross_duplicates() {
        let m = MessageConfig {
            maxsize: Some(103),
            minsize: Some(101),
            ..opts()
        };
        let d = DeleteConfig::default();
        let rules = Rules::new(&m, &d, "FP");
        let cross: HashSet<String> = ["x".to_string()].into_iter().collect();
        let p = decide(
            &rules,
            Listings {
                // sizes are 100 + uid
                list1: vec![
                    msg(1, Some("a"), ""),
                    msg(2, Some("x"), ""),
                    msg(3, Some("c"), ""),
                    msg(4, Some("d"), ""),
                ],
                list2: vec![],
                map: &[],
                have2: false,
                permanentflags2: "",
                cross_keys: Some(&cross),
            },
        );
        assert_eq!(p.copies.iter().map(|c| c.uid).collect::<Vec<_>>(), vec![3]);
        assert_eq!(p.cross_duplicates, vec![2]);
        assert_eq!(
            p.size_skips.iter().map(|(u, _)| *u).collect::<Vec<_>>(),
            vec![1, 4]
        );
        // APPENDLIMIT lowers --maxsize.
        let m = MessageConfig {
            maxsize: Some(1000),
            ..opts()
        };
        let lowered = Rules {
            maxsize: Some(101),
            ..Rules::new(&m, &d, "FP")
        };
        let p = decide(
            &lowered,
            Listings {
                list1: vec![msg(1, Some("a"), ""), msg(2, Some("b"), "")],
                list2: vec![],
                map: &[],
                have2: false,
                permanentflags2: "",
                cross_keys: None,
            },
        );
        assert_eq!(p.copies.len(), 1);
    }

    #[test]
    fn addheader_gives_unidentified_messages_imapsyncs_key() {
        let m = MessageConfig {
            addheader: true,
            ..opts()
        };
        let mut bare = msg(5, Some("H:fallback"), "");
        bare.pairwise = true;
        let p = run(&m, vec![bare.clone(), msg(6, Some("k"), "")], vec![], &[]);
        assert!(p.copies[0].addheader);
        assert!(!p.copies[1].addheader);
        assert_eq!(p.counts.noheader1, 0);
        let without = run(&opts(), vec![bare], vec![], &[]);
        assert!(!without.copies[0].addheader);
        assert_eq!(without.counts.noheader1, 1);
    }

    #[test]
    fn age_windows_filter_on_our_side() {
        let now = dates::parse_internaldate("11-Jan-2024 10:00:00 +0000")
            .map(|d| d.epoch)
            .unwrap_or(0);
        let m = MessageConfig {
            maxage: Some(5.0),
            ..opts()
        };
        let d = DeleteConfig::default();
        let mut old = msg(1, Some("a"), "");
        old.internaldate = Some("01-Jan-2024 10:00:00 +0000".into());
        let mut new = msg(2, Some("b"), "");
        new.internaldate = Some("10-Jan-2024 10:00:00 +0000".into());
        let input = || Listings {
            list1: vec![old.clone(), new.clone()],
            list2: vec![],
            map: &[],
            have2: false,
            permanentflags2: "",
            cross_keys: None,
        };
        let rules = Rules {
            now,
            ..Rules::new(&m, &d, "FP")
        };
        let p = decide(&rules, input());
        assert_eq!(p.list1.iter().map(|l| l.uid).collect::<Vec<_>>(), vec![2]);
        // With a SEARCH on host1 the server already filtered.
        let searched = Rules {
            search1: true,
            ..rules
        };
        assert_eq!(decide(&searched, input()).list1.len(), 2);
        // Both windows: overlapping = both, disjoint = either.
        assert!(in_age_window(
            Some(now - 3 * 86400),
            now,
            Some(5.0),
            Some(2.0)
        ));
        assert!(!in_age_window(Some(now - 86400), now, Some(5.0), Some(2.0)));
        assert!(in_age_window(Some(now - 86400), now, Some(2.0), Some(5.0)));
        assert!(in_age_window(
            Some(now - 9 * 86400),
            now,
            Some(2.0),
            Some(5.0)
        ));
        assert!(!in_age_window(
            Some(now - 3 * 86400),
            now,
            Some(2.0),
            Some(5.0)
        ));
    }

    #[test]
    fn adopted_pairs_and_stale_entries_are_recorded() {
        let m = opts();
        let p = run(
            &m,
            vec![msg(1, Some("a"), "\\Seen")],
            vec![msg(10, Some("a"), "\\Seen")],
            &[entry(9, 20)],
        );
        assert_eq!(
            p.adopted,
            vec![MapEntry {
                uid1: 1,
                uid2: 10,
                flags: Some("\\Seen".into())
            }]
        );
        assert_eq!(p.stale1, vec![9]);
        assert_eq!(p.identified(0), (1, 1));
    }

    #[test]
    fn regexflag_rewrites_and_failures() {
        let m = MessageConfig {
            regexflag: vec![PerlExpr::parse(r"s/\\Flagged//g").unwrap_or_else(|e| panic!("{e}"))],
            ..opts()
        };
        let p = run(&m, vec![msg(1, Some("a"), "\\Flagged \\Seen")], vec![], &[]);
        assert_eq!(p.copies[0].flags, vec!["\\Seen"]);
        assert!(p.flag_errors.is_empty());
    }

    #[test]
    fn labels_decide_where_a_message_is_copied() {
        use crate::folders::ListedFolder;
        use crate::labels::{LabelInputs, LabelMode, LabelPlan};
        let folders: Vec<ListedFolder> = ["INBOX", "Work"]
            .iter()
            .map(|n| ListedFolder::new(*n, &[]))
            .collect();
        let names: Vec<String> = vec!["INBOX".into(), "Work".into()];
        let mapped: Vec<(String, String)> = names.iter().map(|n| (n.clone(), n.clone())).collect();
        let lp = LabelPlan::new(&LabelInputs {
            mode: LabelMode::Labels {
                sync: true,
                resync: false,
            },
            folders1: &folders,
            folders2: &folders,
            selected: &names,
            mapped: &mapped,
            debug: false,
        });
        let m = MessageConfig {
            maxsize: Some(150),
            ..opts()
        };
        let d = DeleteConfig::default();
        let rules = Rules {
            labels: Some(&lp),
            ..Rules::new(&m, &d, "FP")
        };
        let with = |uid, labels: &[&str]| Listed {
            labels: Some(labels.iter().map(|s| s.to_string()).collect()),
            ..msg(uid, Some(&format!("k{uid}")), "")
        };
        let input = || Listings {
            list1: vec![
                with(1, &["\\Inbox", "Work"]),
                with(2, &["Work", "Other"]),
                with(60, &["Work", "Other"]),
            ],
            list2: vec![],
            map: &[],
            have2: true,
            permanentflags2: "",
            cross_keys: None,
        };
        let p = decide_folder(&rules, input(), Some("Work"));
        assert_eq!(p.copies.iter().map(|c| c.uid).collect::<Vec<_>>(), vec![2]);
        assert_eq!(p.labels.elsewhere, vec![(1, "INBOX".to_string())]);
        assert_eq!(
            p.labels.copy_labels.keys().copied().collect::<Vec<_>>(),
            vec![2],
            "uid 60 is too big: no labels to store for a copy not made"
        );
        assert_eq!(p.size_skips.len(), 1);
        // Without the folder name (or without labels) nothing changes.
        assert_eq!(decide(&rules, input()).copies.len(), 2);
    }

    #[test]
    fn fallback_keys_pair_nth_with_nth() {
        // Two identical unidentified messages on host1, one already on host2: the second is
        // copied, never called a duplicate.
        let m = opts();
        let mut a = msg(1, Some("H:x"), "");
        a.pairwise = true;
        let mut b = msg(2, Some("H:x"), "");
        b.pairwise = true;
        let mut c = msg(10, Some("H:x"), "");
        c.pairwise = true;
        let p = run(&m, vec![a, b], vec![c], &[]);
        assert_eq!(p.copies.iter().map(|c| c.uid).collect::<Vec<_>>(), vec![2]);
        assert_eq!(p.counts.dup1, 0);
        assert_eq!(p.counts.noheader1, 2);
    }

    #[test]
    fn flags_after_copy_stores_only_what_differs() {
        let wanted = vec![
            (10, vec!["\\Seen".to_string()]),
            (11, vec!["\\Seen".to_string(), "$Label".to_string()]),
            (12, vec![]),
            (13, vec!["\\Flagged".to_string()]),
        ];
        let got: HashMap<u32, String> = [
            (10, "\\Seen \\Recent".to_string()),
            (11, "\\SEEN".to_string()),
            (12, "\\Draft".to_string()),
        ]
        .into_iter()
        .collect();
        let stores = flags_after_copy(&wanted, &got);
        assert_eq!(
            stores.into_iter().collect::<Vec<_>>(),
            vec![
                ("".to_string(), vec![12]),
                ("$Label \\Seen".to_string(), vec![11]),
            ]
        );
    }

    #[test]
    fn debugflags_traces_copies_and_resyncs() {
        let m = MessageConfig {
            debugflags: true,
            ..opts()
        };
        let p = run(
            &m,
            vec![
                msg(1, Some("a"), "\\Seen \\Recent"),
                msg(2, Some("b"), "\\Seen"),
            ],
            vec![msg(20, Some("b"), "")],
            &[],
        );
        assert_eq!(
            p.flag_trace,
            vec![
                FlagTrace::Copy {
                    uid: 1,
                    flags: "\\Seen \\Recent".into(),
                    filtered: "\\Seen".into()
                },
                FlagTrace::Resync {
                    uid1: 2,
                    uid2: 20,
                    flags1: "\\Seen".into(),
                    flags2: "".into(),
                    filtered1: "\\Seen".into(),
                    replaced: true
                },
            ]
        );
        assert!(
            run(&opts(), vec![msg(1, Some("a"), "")], vec![], &[])
                .flag_trace
                .is_empty()
        );
    }
}
