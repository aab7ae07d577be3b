//! `--automap`: map special-use folders (Sent, Drafts, Trash, Junk, Archive, All, Flagged)
//! across servers that name them differently (spec §5.5).
//!
//! Each side's folders get a role in two independent ways:
//!
//! * [`roles_from_attributes`]: RFC 6154 attributes in the LIST response (`\Sent`...). A folder's
//!   role is its first special-use attribute; when two folders claim a role, the first listed
//!   keeps it and a line reports the conflict.
//! * [`roles_from_names`]: the well-known names table ([`WELL_KNOWN_NAMES`], English, German,
//!   French, Spanish, Italian, Polish, Russian, Japanese; kept in UTF-8 and compared in modified
//!   UTF-7, the form servers list), matched on the full raw name or the name with the side's
//!   prefix removed. Every folder with a known name gets the role; the first one in byte order
//!   is the one the role points to.
//!
//! [`automap`] then resolves each selected host1 folder in four steps: attribute → attribute on
//! host2, attribute → name-guessed host2 folder, name-guessed → attribute, name-guessed →
//! name-guessed. The result ([`Automap`]) is the host1 → host2 table that
//! [`crate::folders::MapperOptions::automap`] takes (`--f1f2` still wins over it) and the lines
//! to print, headed by "Folders mapping from --automap feature (use --f1f2 to override any
//! mapping):". Only the special folder itself is remapped, not its subfolders.

use std::collections::BTreeMap;
use std::fmt;

use imapsync_proto::mutf7;

use crate::folders::{ListedFolder, display_name};

/// A special-use role (RFC 6154 attributes imapsync knows).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SpecialUse {
    /// `\All`
    All,
    /// `\Archive`
    Archive,
    /// `\Drafts`
    Drafts,
    /// `\Flagged`
    Flagged,
    /// `\Junk`
    Junk,
    /// `\Sent`
    Sent,
    /// `\Trash`
    Trash,
}

impl SpecialUse {
    /// Every role, in imapsync's order.
    pub const ALL: [SpecialUse; 7] = [
        SpecialUse::All,
        SpecialUse::Archive,
        SpecialUse::Drafts,
        SpecialUse::Flagged,
        SpecialUse::Junk,
        SpecialUse::Sent,
        SpecialUse::Trash,
    ];

    /// The attribute as written in LIST responses.
    pub fn attribute(self) -> &'static str {
        match self {
            SpecialUse::All => "\\All",
            SpecialUse::Archive => "\\Archive",
            SpecialUse::Drafts => "\\Drafts",
            SpecialUse::Flagged => "\\Flagged",
            SpecialUse::Junk => "\\Junk",
            SpecialUse::Sent => "\\Sent",
            SpecialUse::Trash => "\\Trash",
        }
    }

    /// The role of an attribute (case-insensitive, exact).
    pub fn from_attribute(attribute: &str) -> Option<SpecialUse> {
        SpecialUse::ALL
            .into_iter()
            .find(|r| r.attribute().eq_ignore_ascii_case(attribute))
    }
}

impl fmt::Display for SpecialUse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.attribute())
    }
}

/// Folder names recognised per role, in UTF-8 (compared after modified UTF-7 encoding).
pub const WELL_KNOWN_NAMES: &[(SpecialUse, &[&str])] = &[
    (
        SpecialUse::All,
        &["All", "All Messages", "\u{412}\u{441}\u{435}"],
    ),
    (
        SpecialUse::Archive,
        &["Archive", "Archives", "\u{410}\u{440}\u{445}\u{438}\u{432}"],
    ),
    (
        SpecialUse::Drafts,
        &[
            "Drafts",
            "DRAFTS",
            "\u{427}\u{435}\u{440}\u{43d}\u{43e}\u{432}\u{438}\u{43a}\u{438}",
            "Szkice",
            "Wersje robocze",
        ],
    ),
    (
        SpecialUse::Flagged,
        &[
            "Flagged",
            "Starred",
            "\u{41f}\u{43e}\u{43c}\u{435}\u{447}\u{435}\u{43d}\u{43d}\u{44b}\u{435}",
        ],
    ),
    (
        SpecialUse::Junk,
        &[
            "Junk",
            "junk",
            "Spam",
            "SPAM",
            "\u{421}\u{43f}\u{430}\u{43c}",
            "Potwierdzony spam",
            "Wiadomo\u{15b}ci-\u{15b}mieci",
            "Junk E-Mail",
            "Junk Email",
        ],
    ),
    (
        SpecialUse::Sent,
        &[
            "Sent",
            "Sent Messages",
            "Sent Items",
            "Gesendete Elemente",
            "Gesendete Objekte",
            "\u{c9}l\u{e9}ments envoy\u{e9}s",
            "E\u{301}le\u{301}ments envoye\u{301}s",
            "Envoy\u{e9}",
            "Objets envoy\u{e9}s",
            "Elementos enviados",
            "Posta inviata",
            "\u{9001}\u{4fe1}\u{6e08}\u{307f}\u{30a2}\u{30a4}\u{30c6}\u{30e0}",
            "\u{41e}\u{442}\u{43f}\u{440}\u{430}\u{432}\u{43b}\u{435}\u{43d}\u{43d}\u{44b}\u{435}",
            "Elementy wys\u{142}ane",
        ],
    ),
    (
        SpecialUse::Trash,
        &[
            "Trash",
            "TRASH",
            "\u{423}\u{434}\u{430}\u{43b}\u{435}\u{43d}\u{43d}\u{44b}\u{435}",
            "\u{41a}\u{43e}\u{440}\u{437}\u{438}\u{43d}\u{430}",
            "Kosz",
            "Deleted Items",
            "Deleted Messages",
        ],
    ),
];

/// The role a raw (modified UTF-7) folder name suggests, trying the full name first, then the
/// name with the first occurrence of `prefix` removed (as imapsync does).
pub fn guess_special(raw_name: &str, prefix: &str) -> Option<SpecialUse> {
    let lookup = |n: &str| {
        WELL_KNOWN_NAMES
            .iter()
            .find(|(_, names)| names.iter().any(|w| mutf7::encode(w) == n))
            .map(|(role, _)| *role)
    };
    if let Some(r) = lookup(raw_name) {
        return Some(r);
    }
    if prefix.is_empty() {
        return None;
    }
    let stripped = raw_name.replacen(prefix, "", 1);
    lookup(&stripped)
}

/// One side's roles.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SideRoles {
    /// Role → the folder holding it.
    pub by_role: BTreeMap<SpecialUse, String>,
    /// Folder → its role.
    pub by_folder: BTreeMap<String, SpecialUse>,
    /// Lines to print (assignments and conflicts).
    pub lines: Vec<String>,
}

/// Roles from special-use attributes, in LIST order (`side` is `Host1`/`Host2`). A folder whose
/// role is already held by an earlier one gets no role (and a line saying so). `\Noselect`
/// entries are ignored, as imapsync's folder lists do.
pub fn roles_from_attributes(side: &str, list: &[ListedFolder]) -> SideRoles {
    let mut r = SideRoles::default();
    for f in list.iter().filter(|f| f.is_selectable()) {
        let roles: Vec<SpecialUse> = f
            .attributes
            .iter()
            .filter_map(|a| SpecialUse::from_attribute(a))
            .collect();
        let Some(&role) = roles.first() else { continue };
        let shown: Vec<&str> = roles.iter().map(|r| r.attribute()).collect();
        if let Some(holder) = r.by_role.get(&role) {
            r.lines.push(format!(
                "{side}: special {:<20} = {} already assigned to {holder}",
                f.name,
                shown.join(" ")
            ));
        } else {
            r.lines.push(format!(
                "{side}: special {:<20} = {}",
                f.name,
                shown.join(" ")
            ));
            r.by_role.insert(role, f.name.clone());
            r.by_folder.insert(f.name.clone(), role);
        }
    }
    r
}

/// Roles guessed from well-known names over all folders in byte order. Every recognised folder
/// gets its role in `by_folder`; `by_role` points at the first one, later ones are reported.
pub fn roles_from_names<S: AsRef<str>>(side: &str, names: &[S], prefix: &str) -> SideRoles {
    let mut sorted: Vec<&str> = names.iter().map(AsRef::as_ref).collect();
    sorted.sort_unstable();
    sorted.dedup();
    let mut r = SideRoles::default();
    for name in sorted {
        let Some(role) = guess_special(name, prefix) else {
            continue;
        };
        r.by_folder.insert(name.to_string(), role);
        if let Some(holder) = r.by_role.get(&role) {
            r.lines
                .push(format!("{side}: {name} not {role} because set to {holder}"));
        } else {
            r.by_role.insert(role, name.to_string());
        }
    }
    r
}

/// One side's view for [`automap`].
#[derive(Debug, Clone, Copy)]
pub struct AutomapSide<'a> {
    /// LIST with attributes.
    pub list: &'a [ListedFolder],
    /// The side's personal prefix.
    pub prefix: &'a str,
}

/// How an automap entry was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AutomapVia {
    /// Special-use attribute on both sides.
    AttributeToAttribute,
    /// Attribute on host1, well-known name on host2.
    AttributeToName,
    /// Well-known name on host1, attribute on host2.
    NameToAttribute,
    /// Well-known names on both sides.
    NameToName,
}

/// One automap entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AutomapEntry {
    /// Host1 folder.
    pub host1: String,
    /// Host2 folder.
    pub host2: String,
    /// The role that linked them.
    pub role: SpecialUse,
    /// Which of the four steps found it.
    pub via: AutomapVia,
}

/// The automap outcome.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Automap {
    /// Entries in `wanted` order.
    pub entries: Vec<AutomapEntry>,
    /// Role assignment and conflict lines for both sides, in imapsync's order.
    pub lines: Vec<String>,
}

impl Automap {
    /// The host1 → host2 table for [`crate::folders::MapperOptions::automap`].
    pub fn table(&self) -> BTreeMap<String, String> {
        self.entries
            .iter()
            .map(|e| (e.host1.clone(), e.host2.clone()))
            .collect()
    }

    /// The mapping block imapsync prints (empty when there is no entry).
    pub fn report(&self) -> Vec<String> {
        if self.entries.is_empty() {
            return Vec::new();
        }
        let mut out = vec![
            "Folders mapping from --automap feature (use --f1f2 to override any mapping):"
                .to_string(),
        ];
        for e in &self.entries {
            out.push(format!(
                "{:<40} -> {:<40}",
                display_name(&e.host1),
                display_name(&e.host2)
            ));
        }
        out.push(String::new());
        out
    }
}

/// Resolve the automap table for the selected host1 folders (`wanted`, in processing order).
pub fn automap<S: AsRef<str>>(
    host1: AutomapSide<'_>,
    host2: AutomapSide<'_>,
    wanted: &[S],
) -> Automap {
    let h1_attr = roles_from_attributes("Host1", host1.list);
    let h2_attr = roles_from_attributes("Host2", host2.list);
    let h1_names: Vec<&str> = selectable(host1.list);
    let h2_names: Vec<&str> = selectable(host2.list);
    let h1_guess = roles_from_names("Host1", &h1_names, host1.prefix);
    let h2_guess = roles_from_names("Host2", &h2_names, host2.prefix);

    let mut out = Automap::default();
    for side in [&h1_attr, &h2_attr, &h1_guess, &h2_guess] {
        out.lines.extend(side.lines.iter().cloned());
    }
    for h1 in wanted {
        let h1 = h1.as_ref();
        let found = match (h1_attr.by_folder.get(h1), h1_guess.by_folder.get(h1)) {
            (Some(role), _) => h2_attr
                .by_role
                .get(role)
                .map(|f| (f, *role, AutomapVia::AttributeToAttribute))
                .or_else(|| {
                    h2_guess
                        .by_role
                        .get(role)
                        .map(|f| (f, *role, AutomapVia::AttributeToName))
                }),
            (None, Some(role)) => h2_attr
                .by_role
                .get(role)
                .map(|f| (f, *role, AutomapVia::NameToAttribute))
                .or_else(|| {
                    h2_guess
                        .by_role
                        .get(role)
                        .map(|f| (f, *role, AutomapVia::NameToName))
                }),
            (None, None) => None,
        };
        if let Some((h2, role, via)) = found {
            out.entries.push(AutomapEntry {
                host1: h1.to_string(),
                host2: h2.clone(),
                role,
                via,
            });
        }
    }
    out
}

fn selectable(list: &[ListedFolder]) -> Vec<&str> {
    list.iter()
        .filter(|f| f.is_selectable())
        .map(|f| f.name.as_str())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(entries: &[(&str, &[&str])]) -> Vec<ListedFolder> {
        entries
            .iter()
            .map(|(n, a)| ListedFolder::new(*n, a))
            .collect()
    }

    fn side<'a>(l: &'a [ListedFolder], prefix: &'a str) -> AutomapSide<'a> {
        AutomapSide { list: l, prefix }
    }

    fn names(l: &[ListedFolder]) -> Vec<String> {
        l.iter()
            .filter(|f| f.is_selectable())
            .map(|f| f.name.clone())
            .collect()
    }

    /// imapsync's table as it stores it (modified UTF-7), to check our UTF-8 table encodes to it.
    const IMAPSYNC_MUTF7: &[&str] = &[
        "&BBIEQQQ1-",
        "&BBAEQARFBDgEMg-",
        "&BCcENQRABD0EPgQyBDgEOgQ4-",
        "&BB8EPgQ8BDUERwQ1BD0EPQRLBDU-",
        "&BCEEPwQwBDw-",
        "Wiadomo&AVs-ci-&AVs-mieci",
        "&AMk-l&AOk-ments envoy&AOk-s",
        "E&AwE-le&AwE-ments envoye&AwE-s",
        "Envoy&AOk-",
        "Objets envoy&AOk-s",
        "&kAFP4W4IMH8wojCkMMYw4A-",
        "&BB4EQgQ,BEAEMAQyBDsENQQ9BD0ESwQ1-",
        "Elementy wys&AUI-ane",
        "&BCMENAQwBDsENQQ9BD0ESwQ1-",
        "&BBoEPgRABDcEOAQ9BDA-",
    ];

    #[test]
    fn table_encodes_to_imapsyncs_mutf7_constants() {
        let encoded: Vec<String> = WELL_KNOWN_NAMES
            .iter()
            .flat_map(|(_, n)| n.iter().map(|w| mutf7::encode(w)))
            .collect();
        for m in IMAPSYNC_MUTF7 {
            assert!(encoded.iter().any(|e| e == m), "{m} missing");
        }
        let total: usize = WELL_KNOWN_NAMES.iter().map(|(_, n)| n.len()).sum();
        assert_eq!(total, 3 + 3 + 5 + 3 + 9 + 14 + 7);
    }

    #[test]
    fn guess_special_vectors() {
        assert_eq!(guess_special("Sent", ""), Some(SpecialUse::Sent));
        assert_eq!(guess_special("Blabla", ""), None);
        assert_eq!(
            guess_special("INBOX.Sent", "INBOX."),
            Some(SpecialUse::Sent)
        );
        assert_eq!(
            guess_special("IN BOX.Sent", "IN BOX."),
            Some(SpecialUse::Sent)
        );
        assert_eq!(guess_special("INBOX.Sent", ""), None);
        assert_eq!(guess_special("sent", ""), None);
        assert_eq!(guess_special("&BCEEPwQwBDw-", ""), Some(SpecialUse::Junk));
        assert_eq!(guess_special("Spam", "INBOX/"), Some(SpecialUse::Junk));
        assert_eq!(
            guess_special("INBOX/Gesendete Objekte", "INBOX/"),
            Some(SpecialUse::Sent)
        );
    }

    #[test]
    fn attributes() {
        assert_eq!(SpecialUse::from_attribute("\\sent"), Some(SpecialUse::Sent));
        assert_eq!(SpecialUse::from_attribute("\\Sentx"), None);
        assert_eq!(SpecialUse::from_attribute("\\HasChildren"), None);
        let l = list(&[
            ("Sent", &["\\Sent"]),
            ("Other Sent", &["\\HasNoChildren", "\\Sent", "\\Junk"]),
            ("Bin", &["\\Trash", "\\Junk"]),
            ("X", &["\\Noselect", "\\Drafts"]),
        ]);
        let r = roles_from_attributes("Host1", &l);
        assert_eq!(
            r.by_role.get(&SpecialUse::Sent).map(String::as_str),
            Some("Sent")
        );
        assert_eq!(
            r.by_role.get(&SpecialUse::Trash).map(String::as_str),
            Some("Bin")
        );
        assert_eq!(r.by_folder.get("Other Sent"), None);
        assert_eq!(r.by_role.get(&SpecialUse::Junk), None);
        assert_eq!(r.by_role.get(&SpecialUse::Drafts), None);
        assert!(
            r.lines
                .iter()
                .any(|l| l.contains("already assigned to Sent"))
        );
        assert!(r.lines[0].starts_with("Host1: special Sent "));
    }

    #[test]
    fn gmail_with_attributes_to_exchange_with_attributes() {
        let h1 = list(&[
            ("INBOX", &["\\HasNoChildren"]),
            ("[Gmail]", &["\\HasChildren", "\\Noselect"]),
            ("[Gmail]/All Mail", &["\\All", "\\HasNoChildren"]),
            ("[Gmail]/Drafts", &["\\Drafts", "\\HasNoChildren"]),
            ("[Gmail]/Important", &["\\HasNoChildren", "\\Important"]),
            ("[Gmail]/Sent Mail", &["\\HasNoChildren", "\\Sent"]),
            ("[Gmail]/Spam", &["\\HasNoChildren", "\\Junk"]),
            ("[Gmail]/Starred", &["\\Flagged", "\\HasNoChildren"]),
            ("[Gmail]/Trash", &["\\HasNoChildren", "\\Trash"]),
        ]);
        let h2 = list(&[
            ("Archive", &["\\Archive"]),
            ("Deleted Items", &["\\Trash"]),
            ("Drafts", &["\\Drafts"]),
            ("INBOX", &[]),
            ("Junk Email", &["\\Junk"]),
            ("Sent Items", &["\\Sent"]),
        ]);
        let wanted = names(&h1);
        let a = automap(side(&h1, ""), side(&h2, ""), &wanted);
        let t = a.table();
        assert_eq!(
            t.get("[Gmail]/Sent Mail").map(String::as_str),
            Some("Sent Items")
        );
        assert_eq!(
            t.get("[Gmail]/Spam").map(String::as_str),
            Some("Junk Email")
        );
        assert_eq!(
            t.get("[Gmail]/Trash").map(String::as_str),
            Some("Deleted Items")
        );
        assert_eq!(t.get("[Gmail]/Drafts").map(String::as_str), Some("Drafts"));
        assert_eq!(t.get("[Gmail]/All Mail"), None);
        assert_eq!(t.get("[Gmail]/Starred"), None);
        assert_eq!(t.get("INBOX"), None);
        assert!(
            a.entries
                .iter()
                .all(|e| e.via == AutomapVia::AttributeToAttribute)
        );
        let report = a.report();
        assert_eq!(
            report[0],
            "Folders mapping from --automap feature (use --f1f2 to override any mapping):"
        );
        assert_eq!(report.len(), 1 + 4 + 1);
        assert!(report[1].starts_with("[[Gmail]/Drafts]"));
        assert!(report[1].contains(" -> [Drafts]"));
    }

    #[test]
    fn gmail_without_attributes_to_exchange_without_attributes() {
        // Names only: the [Gmail]/ prefix is not the personal prefix, so only names that are
        // in the table as such match; here the host1 prefix is set to "[Gmail]/" to show how
        // the prefix-stripped lookup works.
        let h1 = list(&[
            ("INBOX", &[]),
            ("[Gmail]/All Mail", &[]),
            ("[Gmail]/Drafts", &[]),
            ("[Gmail]/Sent Mail", &[]),
            ("[Gmail]/Spam", &[]),
            ("[Gmail]/Starred", &[]),
            ("[Gmail]/Trash", &[]),
        ]);
        let h2 = list(&[
            ("INBOX", &[]),
            ("Drafts", &[]),
            ("Sent Items", &[]),
            ("Junk Email", &[]),
            ("Deleted Items", &[]),
            ("Archive", &[]),
        ]);
        let wanted = names(&h1);
        let a = automap(side(&h1, "[Gmail]/"), side(&h2, ""), &wanted);
        let t = a.table();
        assert_eq!(t.get("[Gmail]/Drafts").map(String::as_str), Some("Drafts"));
        assert_eq!(
            t.get("[Gmail]/Spam").map(String::as_str),
            Some("Junk Email")
        );
        assert_eq!(
            t.get("[Gmail]/Trash").map(String::as_str),
            Some("Deleted Items")
        );
        // "Sent Mail" is not a known name, "Starred" is but host2 has no \Flagged folder
        assert_eq!(t.get("[Gmail]/Sent Mail"), None);
        assert_eq!(t.get("[Gmail]/Starred"), None);
        assert!(a.entries.iter().all(|e| e.via == AutomapVia::NameToName));

        // without the prefix nothing under [Gmail]/ is recognised
        let a = automap(side(&h1, ""), side(&h2, ""), &wanted);
        assert!(a.entries.is_empty());
        assert!(a.report().is_empty());
    }

    #[test]
    fn mixed_steps() {
        // step 2: attribute on host1, name on host2
        let h1 = list(&[
            ("[Gmail]/Sent Mail", &["\\Sent"]),
            ("[Gmail]/Starred", &["\\Flagged"]),
        ]);
        let h2 = list(&[
            ("INBOX.Sent", &[]),
            ("INBOX.Flagged", &[]),
            ("INBOX.Other", &[]),
        ]);
        let a = automap(side(&h1, ""), side(&h2, "INBOX."), &names(&h1));
        assert_eq!(
            a.entries,
            vec![
                AutomapEntry {
                    host1: "[Gmail]/Sent Mail".into(),
                    host2: "INBOX.Sent".into(),
                    role: SpecialUse::Sent,
                    via: AutomapVia::AttributeToName
                },
                AutomapEntry {
                    host1: "[Gmail]/Starred".into(),
                    host2: "INBOX.Flagged".into(),
                    role: SpecialUse::Flagged,
                    via: AutomapVia::AttributeToName
                },
            ]
        );
        // step 3: name on host1, attribute on host2
        let h1 = list(&[
            ("Sent Items", &[]),
            ("Deleted Items", &[]),
            ("Junk E-Mail", &[]),
        ]);
        let h2 = list(&[
            ("[Gmail]/Sent Mail", &["\\Sent"]),
            ("[Gmail]/Trash", &["\\Trash"]),
            ("[Gmail]/Spam", &["\\Junk"]),
        ]);
        let a = automap(side(&h1, ""), side(&h2, ""), &names(&h1));
        let t = a.table();
        assert_eq!(
            t.get("Sent Items").map(String::as_str),
            Some("[Gmail]/Sent Mail")
        );
        assert_eq!(
            t.get("Deleted Items").map(String::as_str),
            Some("[Gmail]/Trash")
        );
        assert_eq!(
            t.get("Junk E-Mail").map(String::as_str),
            Some("[Gmail]/Spam")
        );
        assert!(
            a.entries
                .iter()
                .all(|e| e.via == AutomapVia::NameToAttribute)
        );
    }

    #[test]
    fn only_wanted_folders_are_mapped_and_in_order() {
        let h1 = list(&[("Drafts", &[]), ("Sent", &[]), ("Trash", &[])]);
        let h2 = list(&[
            ("Entw\u{fc}rfe", &[]),
            ("Gesendete Objekte", &[]),
            ("Papierkorb", &["\\Trash"]),
        ]);
        let a = automap(side(&h1, ""), side(&h2, ""), &["Trash", "Sent"]);
        assert_eq!(
            a.entries
                .iter()
                .map(|e| (e.host1.as_str(), e.host2.as_str()))
                .collect::<Vec<_>>(),
            vec![("Trash", "Papierkorb"), ("Sent", "Gesendete Objekte")]
        );
    }

    #[test]
    fn several_names_for_one_role() {
        // both host1 folders carry the \Sent name; both go to the single host2 Sent folder
        let h1 = list(&[("Sent", &[]), ("Sent Items", &[]), ("Sent Messages", &[])]);
        let h2 = list(&[("Sent", &["\\Sent"])]);
        let wanted = names(&h1);
        let a = automap(side(&h1, ""), side(&h2, ""), &wanted);
        assert_eq!(a.entries.len(), 3);
        assert!(a.entries.iter().all(|e| e.host2 == "Sent"));
        assert!(
            a.lines
                .iter()
                .any(|l| l == "Host1: Sent Items not \\Sent because set to Sent")
        );
        assert!(
            a.lines
                .iter()
                .any(|l| l == "Host1: Sent Messages not \\Sent because set to Sent")
        );
        // host2 side: the first name in byte order holds the role
        let h2 = list(&[("Trash", &[]), ("Deleted Items", &[])]);
        let h1 = list(&[("Bin", &["\\Trash"])]);
        let a = automap(side(&h1, ""), side(&h2, ""), &["Bin"]);
        assert_eq!(
            a.table().get("Bin").map(String::as_str),
            Some("Deleted Items")
        );
    }

    fn mutf(s: &str) -> String {
        mutf7::encode(s)
    }

    #[test]
    fn localized_names() {
        // German, Spanish, French, Russian, Polish, Italian, Japanese host1 → English host2
        let h1_utf8 = [
            ("Gesendete Elemente", SpecialUse::Sent),
            ("Elementos enviados", SpecialUse::Sent),
            ("\u{c9}l\u{e9}ments envoy\u{e9}s", SpecialUse::Sent),
            ("E\u{301}le\u{301}ments envoye\u{301}s", SpecialUse::Sent),
            ("Envoy\u{e9}", SpecialUse::Sent),
            (
                "\u{41e}\u{442}\u{43f}\u{440}\u{430}\u{432}\u{43b}\u{435}\u{43d}\u{43d}\u{44b}\u{435}",
                SpecialUse::Sent,
            ),
            ("\u{421}\u{43f}\u{430}\u{43c}", SpecialUse::Junk),
            (
                "\u{41a}\u{43e}\u{440}\u{437}\u{438}\u{43d}\u{430}",
                SpecialUse::Trash,
            ),
            (
                "\u{423}\u{434}\u{430}\u{43b}\u{435}\u{43d}\u{43d}\u{44b}\u{435}",
                SpecialUse::Trash,
            ),
            (
                "\u{427}\u{435}\u{440}\u{43d}\u{43e}\u{432}\u{438}\u{43a}\u{438}",
                SpecialUse::Drafts,
            ),
            ("\u{410}\u{440}\u{445}\u{438}\u{432}", SpecialUse::Archive),
            ("\u{412}\u{441}\u{435}", SpecialUse::All),
            (
                "\u{41f}\u{43e}\u{43c}\u{435}\u{447}\u{435}\u{43d}\u{43d}\u{44b}\u{435}",
                SpecialUse::Flagged,
            ),
            ("Wiadomo\u{15b}ci-\u{15b}mieci", SpecialUse::Junk),
            ("Elementy wys\u{142}ane", SpecialUse::Sent),
            ("Kosz", SpecialUse::Trash),
            ("Posta inviata", SpecialUse::Sent),
            (
                "\u{9001}\u{4fe1}\u{6e08}\u{307f}\u{30a2}\u{30a4}\u{30c6}\u{30e0}",
                SpecialUse::Sent,
            ),
        ];
        for (name, role) in h1_utf8 {
            assert_eq!(guess_special(&mutf(name), ""), Some(role), "{name}");
            // raw UTF-8 (non-conforming server) is not recognised: names are compared raw
            if !name.is_ascii() {
                assert_eq!(guess_special(name, ""), None, "{name}");
            }
        }
        // a Russian account to an English one with attributes
        let h1 = list(&[
            ("INBOX", &[]),
            (
                &mutf(
                    "\u{41e}\u{442}\u{43f}\u{440}\u{430}\u{432}\u{43b}\u{435}\u{43d}\u{43d}\u{44b}\u{435}",
                ),
                &[],
            ),
            (&mutf("\u{421}\u{43f}\u{430}\u{43c}"), &[]),
            (
                &mutf("\u{41a}\u{43e}\u{440}\u{437}\u{438}\u{43d}\u{430}"),
                &[],
            ),
        ]);
        let h2 = list(&[
            ("INBOX", &[]),
            ("Sent", &["\\Sent"]),
            ("Junk", &["\\Junk"]),
            ("Trash", &["\\Trash"]),
        ]);
        let a = automap(side(&h1, ""), side(&h2, ""), &names(&h1));
        let t = a.table();
        assert_eq!(
            t.get("&BB4EQgQ,BEAEMAQyBDsENQQ9BD0ESwQ1-")
                .map(String::as_str),
            Some("Sent")
        );
        assert_eq!(t.get("&BCEEPwQwBDw-").map(String::as_str), Some("Junk"));
        assert_eq!(
            t.get("&BBoEPgRABDcEOAQ9BDA-").map(String::as_str),
            Some("Trash")
        );
        let report = a.report().join("\n");
        assert!(
            report.contains("[&BCEEPwQwBDw-] = [\u{421}\u{43f}\u{430}\u{43c}]"),
            "{report}"
        );
        // German and French host2 with a prefix
        let h1 = list(&[
            ("Sent", &["\\Sent"]),
            ("Trash", &["\\Trash"]),
            ("Drafts", &[]),
        ]);
        let h2 = list(&[
            ("INBOX", &[]),
            ("INBOX.Gesendete Objekte", &[]),
            (
                &format!("INBOX.{}", mutf("\u{c9}l\u{e9}ments envoy\u{e9}s")),
                &[],
            ),
            ("INBOX.Deleted Messages", &[]),
        ]);
        let a = automap(side(&h1, ""), side(&h2, "INBOX."), &names(&h1));
        let t = a.table();
        // byte order: "INBOX.&AMk-..." sorts before "INBOX.Gesendete Objekte"
        assert_eq!(
            t.get("Sent").map(String::as_str),
            Some("INBOX.&AMk-l&AOk-ments envoy&AOk-s")
        );
        assert_eq!(
            t.get("Trash").map(String::as_str),
            Some("INBOX.Deleted Messages")
        );
        assert_eq!(t.get("Drafts"), None);
    }

    #[test]
    fn mapper_integration() {
        use crate::folders::{FolderMapper, MapperOptions, Namespace};
        let h1 = list(&[
            ("INBOX", &[]),
            ("[Gmail]/Sent Mail", &["\\Sent"]),
            ("[Gmail]/Sent Mail/Sub", &[]),
        ]);
        let h2 = list(&[("INBOX", &[]), ("Sent Items", &["\\Sent"])]);
        let wanted = names(&h1);
        let a = automap(side(&h1, ""), side(&h2, ""), &wanted);
        let mut o = MapperOptions::imapsync_defaults();
        o.automap = a.table();
        let m = FolderMapper::new(
            o,
            Namespace::new("/", ""),
            Namespace::new(".", ""),
            &names(&h1),
            &names(&h2),
        )
        .expect("mapper");
        assert_eq!(m.map("[Gmail]/Sent Mail").as_deref(), Ok("Sent Items"));
        // children are not remapped (known limitation)
        assert_eq!(
            m.map("[Gmail]/Sent Mail/Sub").as_deref(),
            Ok("[Gmail].Sent Mail.Sub")
        );
        // --f1f2 wins
        let mut o = MapperOptions::imapsync_defaults();
        o.automap = a.table();
        o.f1f2 = vec![("[Gmail]/Sent Mail".into(), "Elsewhere".into())];
        let m = FolderMapper::new(
            o,
            Namespace::new("/", ""),
            Namespace::new(".", ""),
            &names(&h1),
            &names(&h2),
        )
        .expect("mapper");
        assert_eq!(m.map("[Gmail]/Sent Mail").as_deref(), Ok("Elsewhere"));
    }
}
