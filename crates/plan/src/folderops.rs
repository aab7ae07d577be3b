//! Folder operations of a run, decided before any is sent: which folders to create and
//! subscribe on host2, which folder pairs are synced, which host2 folders `--delete2folders`
//! removes, which empty host1 folders `--delete1emptyfolders` removes.

use std::collections::{HashMap, HashSet};

use crate::folders;
use crate::options::FolderConfig;

/// A folder pair as mapped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PairNames<'a> {
    pub name1: &'a str,
    pub name2: &'a str,
}

/// What host2 needs before the messages move.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Host2Folders {
    /// Folders to create, parents first: `(host2 name, host1 name it is for)`.
    pub create: Vec<(String, String)>,
    /// Folders to subscribe to (once they exist).
    pub subscribe: Vec<String>,
    /// Host1 folders left out by `--skipemptyfolders`.
    pub skipped_empty: Vec<String>,
}

/// What the side listings tell about a pair's folders.
#[derive(Clone, Copy, Debug)]
pub struct Listed<'a> {
    /// Host1 folders that exist.
    pub existing1: &'a [String],
    /// Host2 folders that exist.
    pub existing2: &'a [String],
    /// Message count of each host1 folder (from STATUS), when known.
    pub messages1: &'a HashMap<String, u32>,
    pub subscribed1: &'a [String],
    pub subscribed2: &'a [String],
    /// Host2's hierarchy separator.
    pub sep2: &'a str,
}

/// Folders to create and subscribe on host2 for these pairs.
pub fn host2_folders(
    cfg: &FolderConfig,
    pairs: &[PairNames<'_>],
    listed: Listed<'_>,
) -> Host2Folders {
    let mut out = Host2Folders::default();
    let mut known: Vec<String> = listed.existing2.to_vec();
    for p in pairs {
        // A --folder host1 does not have (--nocheckfoldersexist) gets nothing on host2: it
        // fails at its SELECT, as imapsync.
        if !listed.existing1.iter().any(|e| e == p.name1) {
            continue;
        }
        let exists = listed.existing2.iter().any(|e| e == p.name2);
        if cfg.skipemptyfolders && listed.messages1.get(p.name1) == Some(&0) && !exists {
            out.skipped_empty.push(p.name1.to_string());
            continue;
        }
        for name in to_create(p.name2, listed.sep2, &known) {
            known.push(name.clone());
            out.create.push((name, p.name1.to_string()));
        }
        let wanted =
            cfg.subscribeall || (cfg.subscribe && listed.subscribed1.iter().any(|s| s == p.name1));
        if wanted
            && !listed.subscribed2.iter().any(|s| s == p.name2)
            && !out.subscribe.iter().any(|s| s == p.name2)
        {
            out.subscribe.push(p.name2.to_string());
        }
    }
    out
}

/// Folders to create on host2 for `name2` (parents first, then itself), given what exists.
/// INBOX always exists.
pub fn to_create(name2: &str, sep2: &str, existing: &[String]) -> Vec<String> {
    if name2.eq_ignore_ascii_case("INBOX") || existing.iter().any(|e| e == name2) {
        return Vec::new();
    }
    let mut v = folders::parents_to_create(name2, sep2, existing);
    v.push(name2.to_string());
    v
}

/// Why `--delete2folders` deletes nothing at all.
pub const NO_HOST1_FOLDERS: &str = "Host2: not deleting folders: host1 listed no folder at all";

/// `--delete2folders`: the host2 folders no host1 folder maps to, never INBOX, kept by
/// `--delete2foldersonly` and not excluded by `--delete2foldersbutnot` (a filter that fails
/// to run spares the folder). `None` when host1 listed no folder at all (nothing is deleted
/// on such evidence).
pub fn host2_folders_to_delete(
    cfg: &FolderConfig,
    host1_folders: usize,
    only_on_2: &[String],
) -> Option<Vec<String>> {
    if host1_folders == 0 {
        return None;
    }
    Some(
        only_on_2
            .iter()
            .filter(|name| !name.eq_ignore_ascii_case("INBOX"))
            .filter(|name| {
                cfg.delete2foldersonly
                    .as_ref()
                    .is_none_or(|o| o.is_match(name).unwrap_or(false))
            })
            .filter(|name| {
                cfg.delete2foldersbutnot
                    .as_ref()
                    .is_none_or(|b| !b.is_match(name).unwrap_or(true))
            })
            .cloned()
            .collect(),
    )
}

/// `--delete1emptyfolders`: synced host1 folders left empty, without children, not INBOX;
/// children first.
pub fn host1_empty_folders(
    synced1: &[String],
    all1: &[String],
    messages1: &HashMap<String, u32>,
    sep1: char,
) -> Vec<String> {
    let all: HashSet<&str> = all1.iter().map(String::as_str).collect();
    synced1
        .iter()
        .rev()
        .filter(|name| !name.eq_ignore_ascii_case("INBOX"))
        .filter(|name| {
            let prefix = format!("{name}{sep1}");
            !all.iter().any(|f| f.starts_with(&prefix))
        })
        .filter(|name| messages1.get(name.as_str()) == Some(&0))
        .cloned()
        .collect()
}

/// `--nomixfolders`: the pairs (indexes) whose host2 folder an earlier pair already goes to
/// (same name, or the same but for case: a case-sensitive host1 against a server that is
/// not). Without `--nomixfolders` they are merged into that folder, as imapsync does.
pub fn not_mixed(pairs: &[PairNames<'_>]) -> Vec<usize> {
    let mut seen: HashSet<String> = HashSet::new();
    pairs
        .iter()
        .enumerate()
        .filter(|(_, p)| !seen.insert(p.name2.to_lowercase()))
        .map(|(i, _)| i)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::perlre::PerlExpr;

    fn all1(pairs: &[PairNames<'_>]) -> Vec<String> {
        pairs.iter().map(|p| p.name1.to_string()).collect()
    }

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn creation_parents_first_and_once() {
        let cfg = FolderConfig {
            subscribe: true,
            ..FolderConfig::default()
        };
        let counts: HashMap<String, u32> = HashMap::new();
        let existing = s(&["INBOX", "A"]);
        let pairs = [
            PairNames {
                name1: "INBOX",
                name2: "INBOX",
            },
            PairNames {
                name1: "a.b.c",
                name2: "A/b/c",
            },
            PairNames {
                name1: "a.b.d",
                name2: "A/b/d",
            },
            PairNames {
                name1: "sub",
                name2: "Sub",
            },
        ];
        let got = host2_folders(
            &cfg,
            &pairs,
            Listed {
                existing1: &all1(&pairs),
                existing2: &existing,
                messages1: &counts,
                subscribed1: &s(&["sub", "a.b.c"]),
                subscribed2: &s(&["Sub"]),
                sep2: "/",
            },
        );
        assert_eq!(
            got.create,
            vec![
                ("A/b".to_string(), "a.b.c".to_string()),
                ("A/b/c".to_string(), "a.b.c".to_string()),
                ("A/b/d".to_string(), "a.b.d".to_string()),
                ("Sub".to_string(), "sub".to_string()),
            ]
        );
        assert_eq!(got.subscribe, s(&["A/b/c"]), "Sub is subscribed already");
        let all = FolderConfig {
            subscribeall: true,
            ..FolderConfig::default()
        };
        let got = host2_folders(
            &all,
            &pairs[..2],
            Listed {
                existing1: &all1(&pairs),
                existing2: &existing,
                messages1: &counts,
                subscribed1: &[],
                subscribed2: &[],
                sep2: "/",
            },
        );
        assert_eq!(got.subscribe, s(&["INBOX", "A/b/c"]));
    }

    #[test]
    fn skip_empty_folders_only_when_missing_on_host2() {
        let cfg = FolderConfig {
            skipemptyfolders: true,
            ..FolderConfig::default()
        };
        let counts: HashMap<String, u32> = [
            ("e".to_string(), 0),
            ("f".to_string(), 0),
            ("g".to_string(), 3),
        ]
        .into_iter()
        .collect();
        let pairs = [
            PairNames {
                name1: "e",
                name2: "E",
            },
            PairNames {
                name1: "f",
                name2: "F",
            },
            PairNames {
                name1: "g",
                name2: "G",
            },
        ];
        let got = host2_folders(
            &cfg,
            &pairs,
            Listed {
                existing1: &all1(&pairs),
                existing2: &s(&["F"]),
                messages1: &counts,
                subscribed1: &[],
                subscribed2: &[],
                sep2: "/",
            },
        );
        assert_eq!(got.skipped_empty, s(&["e"]));
        assert_eq!(got.create, vec![("G".to_string(), "g".to_string())]);
    }

    #[test]
    fn delete2folders_filters() {
        let only_on_2 = s(&["INBOX", "Old", "Old/Sub", "Keep", "Trash"]);
        let plain = FolderConfig::default();
        assert_eq!(host2_folders_to_delete(&plain, 0, &only_on_2), None);
        assert_eq!(
            host2_folders_to_delete(&plain, 3, &only_on_2),
            Some(s(&["Old", "Old/Sub", "Keep", "Trash"]))
        );
        let filtered = FolderConfig {
            delete2foldersonly: PerlExpr::parse("/^Old|^Keep/").ok(),
            delete2foldersbutnot: PerlExpr::parse("/Keep/").ok(),
            ..FolderConfig::default()
        };
        assert_eq!(
            host2_folders_to_delete(&filtered, 3, &only_on_2),
            Some(s(&["Old", "Old/Sub"]))
        );
    }

    #[test]
    fn empty_host1_folders_children_first() {
        let synced = s(&["INBOX", "a", "a.b", "c", "d"]);
        let all = s(&["INBOX", "a", "a.b", "c", "d", "d.x"]);
        let counts: HashMap<String, u32> = [("INBOX", 0), ("a", 0), ("a.b", 0), ("c", 2), ("d", 0)]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        // a.b is empty and childless; a has child a.b (still listed); d has an unsynced child.
        assert_eq!(
            host1_empty_folders(&synced, &all, &counts, '.'),
            s(&["a.b"])
        );
    }

    #[test]
    fn nomixfolders_keeps_the_first_of_a_host2_folder() {
        let pairs = [
            PairNames {
                name1: "Work",
                name2: "Work",
            },
            PairNames {
                name1: "work",
                name2: "work",
            },
            PairNames {
                name1: "a",
                name2: "A",
            },
            PairNames {
                name1: "WORK",
                name2: "Work",
            },
        ];
        assert_eq!(not_mixed(&pairs), vec![1, 3]);
    }

    #[test]
    fn a_folder_host1_does_not_have_gets_nothing_on_host2() {
        let cfg = FolderConfig::default();
        let counts: HashMap<String, u32> = HashMap::new();
        let pairs = [
            PairNames {
                name1: "INBOX.Nope",
                name2: "Nope",
            },
            PairNames {
                name1: "INBOX.Sent",
                name2: "Sent",
            },
        ];
        let got = host2_folders(
            &cfg,
            &pairs,
            Listed {
                existing1: &s(&["INBOX", "INBOX.Sent"]),
                existing2: &s(&["INBOX"]),
                messages1: &counts,
                subscribed1: &[],
                subscribed2: &[],
                sep2: "/",
            },
        );
        assert_eq!(
            got.create,
            vec![("Sent".to_string(), "INBOX.Sent".to_string())]
        );
    }
}
