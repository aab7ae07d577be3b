//! Gmail labels (X-GM-EXT-1): which folders stand for which labels, which folder of a
//! message with several labels copies it, and which labels to store on host2.
//!
//! Gmail shows each label as a folder: a message labelled `Work` and `\Inbox` is listed in
//! `INBOX`, in `Work` and in `[Gmail]/All Mail`, and `FETCH X-GM-LABELS` gives its labels
//! (`\Inbox Work`, system labels begin with a backslash). The rules, decided here:
//!
//! * **The mode** ([`mode`]): with `--synclabels`/`--resynclabels` and a host1 that
//!   announces X-GM-EXT-1, labels are read from host1. On a host2 that announces it too,
//!   labels are synced as labels ([`LabelMode::Labels`]); on any other host2 each label is
//!   a folder ([`LabelMode::Folders`]). Without X-GM-EXT-1 on host1 nothing changes, and
//!   the run says so.
//! * **What a folder stands for** ([`folder_label`]): `INBOX` is `\Inbox`, the special-use
//!   folders are `\Sent`, `\Draft`, `\Spam`, `\Trash`, `\Important` (`\Important`) and
//!   `\Starred` (`\Flagged`); any other folder is the label of its own name. All Mail
//!   (`\All`) is no label: every message not in Spam or Trash is there. Important, Starred
//!   and All Mail are *views*: they show messages that have a place elsewhere.
//! * **A message's home** ([`LabelPlan::home`]): of the synced folders that hold it, the
//!   first label folder in the run's folder order; when none, the first view in the order
//!   Important, Starred, All Mail (imapsync's Gmail presets process them last, in that
//!   order, so that they only receive what no other folder took). In Labels mode the home
//!   is All Mail whenever it is synced and the message is not in Spam or Trash: All Mail
//!   holds every message whatever its labels, so the home does not move when labels change
//!   (a home that moved would append the message a second time).
//! * **Folders mode**: each label folder copies its messages (one copy per label); a view
//!   copies a message only when it is the message's home — so All Mail receives only the
//!   messages no synced folder holds, never a duplicate.
//! * **Labels mode** with `--synclabels`: a message is appended once, in its home (All
//!   Mail), then given its labels with `UID STORE +X-GM-LABELS`; the other folders skip it
//!   (the labels put it there) and, with `--resynclabels`, make the labels of what they find
//!   on host2 equal. Labels are translated like folder names: a label whose host1
//!   folder maps to host2 folder X becomes X's label on host2 (`\Inbox` for INBOX, the
//!   system label of a special-use folder, else X's name); a label without a host1 folder
//!   (hidden from IMAP) is kept as it is.
//! * **`--resynclabels`**: for a message already on host2, the labels host2 lacks are added
//!   (`+X-GM-LABELS`) and those host1 does not have are removed (`-X-GM-LABELS`), never the
//!   label of the folder being synced. The label of the selected folder counts as present on
//!   both sides, whether or not the server lists it.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::folderplan::Listed;
use crate::folders::ListedFolder;

/// The label options of a run (`--synclabels`, `--resynclabels`, `--debuglabels`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LabelOptions {
    pub synclabels: bool,
    pub resynclabels: bool,
    pub debuglabels: bool,
}

impl LabelOptions {
    /// Labels are read at all.
    pub fn any(&self) -> bool {
        self.synclabels || self.resynclabels
    }
}

/// How labels are synced in a run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LabelMode {
    /// Every folder is synced as a folder; labels are not read.
    #[default]
    Off,
    /// Host1 is Gmail, host2 is not: one copy per label folder; the views (Important,
    /// Starred, All Mail) take only what no synced label folder holds.
    Folders,
    /// Both sides are Gmail.
    Labels {
        /// `--synclabels`: copy once, in the home folder, then store the labels.
        sync: bool,
        /// `--resynclabels`: make the labels of messages already there equal.
        resync: bool,
    },
}

impl LabelMode {
    /// Host1's listings carry X-GM-LABELS.
    pub fn reads_host1(self) -> bool {
        self != LabelMode::Off
    }

    /// Host2's listings carry X-GM-LABELS.
    pub fn reads_host2(self) -> bool {
        matches!(self, LabelMode::Labels { resync: true, .. })
    }

    /// A message is copied once, in its home, and labelled there.
    pub fn copies_once(self) -> bool {
        matches!(self, LabelMode::Labels { sync: true, .. })
    }

    /// Label changes of a message show in no folder status of its home: every listing is
    /// full (no fast path, no incremental listing).
    pub fn needs_full_listing(self) -> bool {
        self.reads_host2()
    }
}

/// The run's label mode from its options and what both servers announce, with the line to
/// print about it (none when labels are not asked for).
pub fn mode(opts: &LabelOptions, gm1: bool, gm2: bool) -> (LabelMode, Option<String>) {
    if !opts.any() {
        return (LabelMode::Off, None);
    }
    if !gm1 {
        return (
            LabelMode::Off,
            Some("Labels: host1 does not announce X-GM-EXT-1, its labels can not be read: --synclabels/--resynclabels do nothing, every folder is synced as a folder".into()),
        );
    }
    if !gm2 {
        return (
            LabelMode::Folders,
            Some("Labels: host2 does not announce X-GM-EXT-1: each label is synced as a folder (a message with several labels gets a copy in each label's folder); All Mail, Important and Starred only receive messages no synced label folder holds".into()),
        );
    }
    let line = match (opts.synclabels, opts.resynclabels) {
        (true, true) => {
            "Labels: both hosts are Gmail (X-GM-EXT-1): each message is copied once (through All Mail when it is synced) and given its labels (--synclabels); labels of messages already on host2 are made equal to host1's (--resynclabels)"
        }
        (true, false) => {
            "Labels: both hosts are Gmail (X-GM-EXT-1): each message is copied once (through All Mail when it is synced) and given its labels (--synclabels)"
        }
        _ => {
            "Labels: both hosts are Gmail (X-GM-EXT-1): labels of messages already on host2 are made equal to host1's (--resynclabels); new messages are copied folder by folder"
        }
    };
    (
        LabelMode::Labels {
            sync: opts.synclabels,
            resync: opts.resynclabels,
        },
        Some(line.into()),
    )
}

/// The views, in the order they take a message no label folder holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum View {
    Important,
    Starred,
    AllMail,
}

/// What a folder stands for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FolderLabel {
    /// Its label (`None` for All Mail).
    pub label: Option<String>,
    /// It is a view (Important, Starred, All Mail).
    pub view: Option<View>,
}

const GMAIL_ROOTS: [&str; 2] = ["[Gmail]/", "[Google Mail]/"];

/// What a folder stands for, from its special-use attributes (or, without them, Gmail's
/// English names under `[Gmail]/` or `[Google Mail]/`).
pub fn folder_label(name: &str, attributes: &[String]) -> FolderLabel {
    let has = |a: &str| attributes.iter().any(|x| x.eq_ignore_ascii_case(a));
    let sys = |l: &str, view: Option<View>| FolderLabel {
        label: Some(l.to_string()),
        view,
    };
    if name.eq_ignore_ascii_case("INBOX") {
        return sys("\\Inbox", None);
    }
    let leaf = GMAIL_ROOTS.iter().find_map(|r| name.strip_prefix(r));
    let named = |n: &str| leaf == Some(n);
    if has("\\All") || has("\\AllMail") || named("All Mail") {
        FolderLabel {
            label: None,
            view: Some(View::AllMail),
        }
    } else if has("\\Important") || named("Important") {
        sys("\\Important", Some(View::Important))
    } else if has("\\Flagged") || has("\\Starred") || named("Starred") {
        sys("\\Starred", Some(View::Starred))
    } else if has("\\Sent") || named("Sent Mail") {
        sys("\\Sent", None)
    } else if has("\\Drafts") || named("Drafts") {
        sys("\\Draft", None)
    } else if has("\\Junk") || has("\\Spam") || named("Spam") {
        sys("\\Spam", None)
    } else if has("\\Trash") || named("Trash") || named("Bin") {
        sys("\\Trash", None)
    } else {
        sys(name, None)
    }
}

/// A label as compared: system labels (`\Inbox`) case-insensitively, `INBOX` as `\Inbox`,
/// user labels as they are.
pub fn normalize(label: &str) -> String {
    if label.eq_ignore_ascii_case("INBOX") || label.eq_ignore_ascii_case("\\Inbox") {
        return "\\Inbox".into();
    }
    match label.strip_prefix('\\') {
        Some(rest) => {
            let mut c = rest.chars();
            match c.next() {
                Some(f) => format!(
                    "\\{}{}",
                    f.to_ascii_uppercase(),
                    c.as_str().to_ascii_lowercase()
                ),
                None => label.to_string(),
            }
        }
        None => label.to_string(),
    }
}

/// What the run's label decisions are made from.
#[derive(Clone, Copy, Debug)]
pub struct LabelInputs<'a> {
    pub mode: LabelMode,
    /// Host1's folders as listed (name, attributes).
    pub folders1: &'a [ListedFolder],
    /// Host2's folders as listed.
    pub folders2: &'a [ListedFolder],
    /// The synced host1 folders, in the run's order.
    pub selected: &'a [String],
    /// Host1 folder → host2 folder, for every host1 folder the mapping rules map (synced or
    /// not: labels of unsynced folders are translated too).
    pub mapped: &'a [(String, String)],
    pub debug: bool,
}

/// The label decisions of a run, made once after the folder mapping.
#[derive(Clone, Debug, Default)]
pub struct LabelPlan {
    pub mode: LabelMode,
    pub debug: bool,
    /// Host1 folder → what it stands for.
    pub(crate) role1: HashMap<String, FolderLabel>,
    /// Normalised host1 label → its host1 folder.
    pub(crate) folder_of: HashMap<String, String>,
    /// Synced host1 folder → its place in the run's order.
    pub(crate) order: HashMap<String, usize>,
    /// Host1 folder → the host2 label it becomes (`None`: All Mail, no label).
    pub(crate) to2: HashMap<String, Option<String>>,
    /// Host1's All Mail, when synced.
    pub(crate) all_mail: Option<String>,
}

/// Where a message with labels is copied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Placement {
    /// Copy it here (and, in Labels mode, store `labels` on the copy).
    Copy { labels: Vec<String> },
    /// Not here: `home` copies it.
    Elsewhere { home: String },
}

impl LabelPlan {
    /// The run's label plan.
    pub fn new(i: &LabelInputs<'_>) -> LabelPlan {
        let mut role1 = HashMap::new();
        let mut folder_of = HashMap::new();
        let mut all_mail = None;
        for f in i.folders1.iter().filter(|f| f.is_selectable()) {
            let r = folder_label(&f.name, &f.attributes);
            if let Some(l) = &r.label {
                folder_of
                    .entry(normalize(l))
                    .or_insert_with(|| f.name.clone());
            }
            role1.insert(f.name.clone(), r);
        }
        let order: HashMap<String, usize> = i
            .selected
            .iter()
            .enumerate()
            .map(|(k, n)| (n.clone(), k))
            .collect();
        for n in i.selected {
            let r = role1
                .entry(n.clone())
                .or_insert_with(|| folder_label(n, &[]));
            if r.view == Some(View::AllMail) {
                all_mail.get_or_insert_with(|| n.clone());
            }
        }
        let attrs2: HashMap<&str, &[String]> = i
            .folders2
            .iter()
            .map(|f| (f.name.as_str(), f.attributes.as_slice()))
            .collect();
        let to2 = i
            .mapped
            .iter()
            .map(|(n1, n2)| {
                let a2 = attrs2.get(n2.as_str()).copied().unwrap_or(&[]);
                (n1.clone(), folder_label(n2, a2).label)
            })
            .collect();
        LabelPlan {
            mode: i.mode,
            debug: i.debug,
            role1,
            folder_of,
            order,
            to2,
            all_mail,
        }
    }

    /// What a host1 folder stands for.
    pub fn role(&self, folder1: &str) -> FolderLabel {
        self.role1
            .get(folder1)
            .cloned()
            .unwrap_or_else(|| folder_label(folder1, &[]))
    }

    /// A message's labels as listed in `folder1`, with that folder's own label (the server
    /// may leave it out), normalised and sorted.
    pub fn labels_in(&self, folder1: &str, listed: &[String]) -> BTreeSet<String> {
        let mut s: BTreeSet<String> = listed.iter().map(|l| normalize(l)).collect();
        if let Some(l) = self.role(folder1).label {
            s.insert(normalize(&l));
        }
        s
    }

    /// The synced folder that copies a message found in `folder1` with these labels.
    pub fn home(&self, folder1: &str, labels: &BTreeSet<String>) -> String {
        let spam_or_trash = labels.contains("\\Spam") || labels.contains("\\Trash");
        if let (Some(all), false, true) = (&self.all_mail, spam_or_trash, self.mode.copies_once()) {
            // Gmail to Gmail: All Mail holds every message, whatever its labels become.
            return all.clone();
        }
        let mut holders: Vec<&str> = vec![folder1];
        holders.extend(
            labels
                .iter()
                .filter_map(|l| self.folder_of.get(l).map(String::as_str)),
        );
        if let (Some(all), false) = (&self.all_mail, spam_or_trash) {
            holders.push(all);
        }
        holders
            .into_iter()
            .filter(|f| self.order.contains_key(*f))
            .min_by_key(|f| {
                let view = self.role(f).view;
                (view.is_some(), view, self.order.get(*f).copied())
            })
            .unwrap_or(folder1)
            .to_string()
    }

    /// Host1 labels as host2 labels: through the folder mapping, system labels of host2's
    /// special-use folders, unknown labels as they are.
    pub fn translate(&self, labels: &BTreeSet<String>) -> BTreeSet<String> {
        labels
            .iter()
            .filter_map(|l| match self.folder_of.get(l) {
                Some(f1) => match self.to2.get(f1) {
                    Some(to) => to.as_ref().map(|t| normalize(t)),
                    None => Some(l.clone()),
                },
                None => Some(l.clone()),
            })
            .collect()
    }

    /// The host2 label of the host2 folder `folder1` maps to (what an APPEND there gives).
    fn own2(&self, folder1: &str) -> Option<String> {
        match self.to2.get(folder1) {
            Some(l) => l.as_ref().map(|l| normalize(l)),
            None => self.role(folder1).label.map(|l| normalize(&l)),
        }
    }

    /// Where the message found in `folder1` with `listed` labels is copied, when host2 lacks
    /// it.
    pub fn placement(&self, folder1: &str, listed: &[String]) -> Placement {
        let labels = self.labels_in(folder1, listed);
        let home = self.home(folder1, &labels);
        let copy_here = match self.mode {
            LabelMode::Off | LabelMode::Labels { sync: false, .. } => true,
            LabelMode::Folders => self.role(folder1).view.is_none() || home == folder1,
            LabelMode::Labels { sync: true, .. } => home == folder1,
        };
        if !copy_here {
            return Placement::Elsewhere { home };
        }
        let labels = if self.mode.copies_once() {
            let own = self.own2(folder1);
            self.translate(&labels)
                .into_iter()
                .filter(|l| Some(l) != own.as_ref())
                .collect()
        } else {
            Vec::new()
        };
        Placement::Copy { labels }
    }

    /// `--resynclabels`: the labels to add to and remove from a host2 message (listed in the
    /// host2 folder `folder1` maps to) so that they equal its host1 message's.
    pub fn resync(
        &self,
        folder1: &str,
        listed1: &[String],
        listed2: &[String],
    ) -> (Vec<String>, Vec<String>) {
        let want = self.translate(&self.labels_in(folder1, listed1));
        let own = self.own2(folder1);
        let mut have: BTreeSet<String> = listed2.iter().map(|l| normalize(l)).collect();
        have.extend(own.clone());
        let add = want.difference(&have).cloned().collect();
        let remove = have
            .difference(&want)
            .filter(|l| Some(*l) != own.as_ref())
            .cloned()
            .collect();
        (add, remove)
    }
}

/// One `UID STORE uids [+-]X-GM-LABELS (labels)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabelStore {
    /// Add (`+X-GM-LABELS`) or remove (`-X-GM-LABELS`).
    pub add: bool,
    pub labels: Vec<String>,
    /// Host2 UIDs (or, for copies not yet made, host1 UIDs: see [`FolderLabelPlan`]).
    pub uids: Vec<u32>,
}

/// Groups per-message label changes into as few STOREs as possible (one per distinct list),
/// additions first.
pub fn group_stores<I>(changes: I) -> Vec<LabelStore>
where
    I: IntoIterator<Item = (u32, Vec<String>, Vec<String>)>,
{
    let mut g: BTreeMap<(bool, Vec<String>), Vec<u32>> = BTreeMap::new();
    for (uid, add, remove) in changes {
        if !add.is_empty() {
            g.entry((false, add)).or_default().push(uid);
        }
        if !remove.is_empty() {
            g.entry((true, remove)).or_default().push(uid);
        }
    }
    g.into_iter()
        .map(|((removal, labels), uids)| LabelStore {
            add: !removal,
            labels,
            uids,
        })
        .collect()
}

/// The label decisions of one folder pair.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FolderLabelPlan {
    /// Host1 UIDs not copied here, with the folder that copies them.
    pub elsewhere: Vec<(u32, String)>,
    /// Labels to store on each copy once appended, by host1 UID.
    pub copy_labels: BTreeMap<u32, Vec<String>>,
    /// STOREs on messages already on host2 (host2 UIDs).
    pub stores: Vec<LabelStore>,
    /// `--debuglabels` lines.
    pub lines: Vec<String>,
}

/// Label decisions of the folder pair `folder1`: `copy` are the indexes in `list1` of the
/// messages host2 lacks, `present` the (index in `list1`, host2 UID) pairs found on host2.
pub fn plan_folder(
    plan: &LabelPlan,
    folder1: &str,
    list1: &[Listed],
    list2: &[Listed],
    copy: &[usize],
    present: &[(usize, u32)],
) -> FolderLabelPlan {
    let mut out = FolderLabelPlan::default();
    if plan.mode == LabelMode::Off {
        return out;
    }
    let debug = plan.debug;
    let shown = |l: &[String]| l.join(" ");
    for &i in copy {
        let m = &list1[i];
        let Some(labels) = &m.labels else { continue };
        match plan.placement(folder1, labels) {
            Placement::Copy { labels: to_store } => {
                if debug {
                    out.lines.push(format!(
                        "Host1 labels of msg {folder1}/{}: {}; copied here{}",
                        m.uid,
                        shown(labels),
                        if plan.mode.copies_once() {
                            format!(", then labelled: {}", shown(&to_store))
                        } else {
                            String::new()
                        }
                    ));
                }
                if !to_store.is_empty() {
                    out.copy_labels.insert(m.uid, to_store);
                }
            }
            Placement::Elsewhere { home } => {
                if debug {
                    out.lines.push(format!(
                        "Host1 labels of msg {folder1}/{}: {}; copied through folder [{home}], not here",
                        m.uid,
                        shown(labels)
                    ));
                }
                out.elsewhere.push((m.uid, home));
            }
        }
    }
    if !plan.mode.reads_host2() {
        return out;
    }
    let labels2: HashMap<u32, &Vec<String>> = list2
        .iter()
        .filter_map(|m| m.labels.as_ref().map(|l| (m.uid, l)))
        .collect();
    let mut changes = Vec::new();
    for &(i, uid2) in present {
        let m = &list1[i];
        let (Some(l1), Some(l2)) = (&m.labels, labels2.get(&uid2)) else {
            continue;
        };
        let (add, remove) = plan.resync(folder1, l1, l2);
        if debug {
            out.lines.push(format!(
                "Host1 labels of msg {folder1}/{}: {}; host2 labels of its copy {uid2}: {}; {}",
                m.uid,
                shown(l1),
                shown(l2),
                if add.is_empty() && remove.is_empty() {
                    "already equal".to_string()
                } else {
                    format!("add ({}) remove ({})", shown(&add), shown(&remove))
                }
            ));
        }
        changes.push((uid2, add, remove));
    }
    out.stores = group_stores(changes);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(sync: bool, resync: bool) -> LabelOptions {
        LabelOptions {
            synclabels: sync,
            resynclabels: resync,
            debuglabels: false,
        }
    }

    #[test]
    fn the_mode_follows_options_and_both_servers() {
        let table = [
            (opts(false, false), true, true, LabelMode::Off, false),
            (opts(true, true), false, true, LabelMode::Off, true),
            (opts(true, true), false, false, LabelMode::Off, true),
            (opts(true, false), true, false, LabelMode::Folders, true),
            (opts(false, true), true, false, LabelMode::Folders, true),
            (
                opts(true, true),
                true,
                true,
                LabelMode::Labels {
                    sync: true,
                    resync: true,
                },
                true,
            ),
            (
                opts(false, true),
                true,
                true,
                LabelMode::Labels {
                    sync: false,
                    resync: true,
                },
                true,
            ),
        ];
        for (o, gm1, gm2, want, says) in table {
            let (m, line) = mode(&o, gm1, gm2);
            assert_eq!(m, want, "{o:?} {gm1} {gm2}");
            assert_eq!(line.is_some(), says, "{o:?} {gm1} {gm2}");
        }
        assert!(
            LabelMode::Labels {
                sync: false,
                resync: true
            }
            .needs_full_listing()
        );
        assert!(!LabelMode::Folders.needs_full_listing());
        assert!(!LabelMode::Folders.reads_host2() && LabelMode::Folders.reads_host1());
    }

    fn lf(name: &str, attrs: &[&str]) -> ListedFolder {
        ListedFolder::new(name, attrs)
    }

    #[test]
    fn what_each_folder_stands_for() {
        let s = |v: &[&str]| v.iter().map(|a| a.to_string()).collect::<Vec<_>>();
        type Row<'a> = (&'a str, &'a [&'a str], Option<&'a str>, Option<View>);
        let table: &[Row<'_>] = &[
            ("INBOX", &[], Some("\\Inbox"), None),
            ("[Gmail]/All Mail", &["\\All"], None, Some(View::AllMail)),
            (
                "[Gmail]/Tous les messages",
                &["\\All"],
                None,
                Some(View::AllMail),
            ),
            ("[Google Mail]/All Mail", &[], None, Some(View::AllMail)),
            (
                "[Gmail]/Important",
                &["\\Important"],
                Some("\\Important"),
                Some(View::Important),
            ),
            (
                "[Gmail]/Starred",
                &["\\Flagged"],
                Some("\\Starred"),
                Some(View::Starred),
            ),
            ("[Gmail]/Sent Mail", &["\\Sent"], Some("\\Sent"), None),
            ("[Gmail]/Drafts", &[], Some("\\Draft"), None),
            ("[Gmail]/Spam", &["\\Junk"], Some("\\Spam"), None),
            ("[Gmail]/Bin", &["\\Trash"], Some("\\Trash"), None),
            (
                "Work/Project X",
                &["\\HasNoChildren"],
                Some("Work/Project X"),
                None,
            ),
            // Only under [Gmail]/ do English names count.
            ("Important", &[], Some("Important"), None),
        ];
        for (name, attrs, label, view) in table {
            let r = folder_label(name, &s(attrs));
            assert_eq!(r.label.as_deref(), *label, "{name}");
            assert_eq!(r.view, *view, "{name}");
        }
        assert_eq!(normalize("\\INBOX"), "\\Inbox");
        assert_eq!(normalize("Inbox"), "\\Inbox");
        assert_eq!(normalize("\\important"), "\\Important");
        assert_eq!(normalize("Work"), "Work");
    }

    /// A Gmail account: INBOX, Work, Sent, Important, Starred, All Mail, Spam, Trash.
    fn gmail() -> Vec<ListedFolder> {
        vec![
            lf("INBOX", &[]),
            lf("Work", &[]),
            lf("[Gmail]", &["\\Noselect"]),
            lf("[Gmail]/All Mail", &["\\All"]),
            lf("[Gmail]/Important", &["\\Important"]),
            lf("[Gmail]/Sent Mail", &["\\Sent"]),
            lf("[Gmail]/Spam", &["\\Junk"]),
            lf("[Gmail]/Starred", &["\\Flagged"]),
            lf("[Gmail]/Trash", &["\\Trash"]),
        ]
    }

    /// The run's order as imapsync's Gmail presets make it: sorted, views last.
    fn order() -> Vec<String> {
        [
            "INBOX",
            "Work",
            "[Gmail]/Sent Mail",
            "[Gmail]/Spam",
            "[Gmail]/Trash",
            "[Gmail]/Important",
            "[Gmail]/Starred",
            "[Gmail]/All Mail",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    }

    fn identity_map(list: &[ListedFolder]) -> Vec<(String, String)> {
        list.iter()
            .filter(|f| f.is_selectable())
            .map(|f| (f.name.clone(), f.name.clone()))
            .collect()
    }

    fn plan_for(mode: LabelMode, host2: &[ListedFolder], mapped: &[(String, String)]) -> LabelPlan {
        let g = gmail();
        LabelPlan::new(&LabelInputs {
            mode,
            folders1: &g,
            folders2: host2,
            selected: &order(),
            mapped,
            debug: false,
        })
    }

    fn v(l: &[&str]) -> Vec<String> {
        l.iter().map(|s| s.to_string()).collect()
    }

    fn copy(l: &[&str]) -> Placement {
        Placement::Copy { labels: v(l) }
    }

    fn elsewhere(h: &str) -> Placement {
        Placement::Elsewhere { home: h.into() }
    }

    #[test]
    fn gmail_to_a_plain_server_copies_per_label_and_all_mail_gets_only_the_rest() {
        // Host2 plain: --gmail1's regextrans2 strips [Gmail]/.
        let host2 = vec![lf("INBOX", &[]), lf("Work", &[])];
        let mapped: Vec<(String, String)> = gmail()
            .iter()
            .filter(|f| f.is_selectable())
            .map(|f| {
                (
                    f.name.clone(),
                    f.name.trim_start_matches("[Gmail]/").to_string(),
                )
            })
            .collect();
        let p = plan_for(LabelMode::Folders, &host2, &mapped);
        // (folder, labels listed, placement)
        let table: &[(&str, &[&str], Placement)] = &[
            // Each label folder copies: one copy per label.
            ("INBOX", &["\\Inbox", "Work"], copy(&[])),
            ("Work", &["\\Inbox", "Work"], copy(&[])),
            ("[Gmail]/Sent Mail", &["\\Sent", "Work"], copy(&[])),
            // Gmail may leave the selected folder's own label out.
            ("Work", &["\\Inbox"], copy(&[])),
            // All Mail: only what no synced folder holds.
            ("[Gmail]/All Mail", &["\\Inbox"], elsewhere("INBOX")),
            (
                "[Gmail]/All Mail",
                &["Work", "\\Important"],
                elsewhere("Work"),
            ),
            ("[Gmail]/All Mail", &[], copy(&[])),
            ("[Gmail]/All Mail", &["Hidden"], copy(&[])),
            (
                "[Gmail]/All Mail",
                &["\\Important"],
                elsewhere("[Gmail]/Important"),
            ),
            (
                "[Gmail]/All Mail",
                &["\\Starred"],
                elsewhere("[Gmail]/Starred"),
            ),
            // Important and Starred: only archived messages, Important first.
            (
                "[Gmail]/Important",
                &["\\Important", "\\Inbox"],
                elsewhere("INBOX"),
            ),
            (
                "[Gmail]/Important",
                &["\\Important", "\\Starred"],
                copy(&[]),
            ),
            (
                "[Gmail]/Starred",
                &["\\Important", "\\Starred"],
                elsewhere("[Gmail]/Important"),
            ),
            ("[Gmail]/Starred", &["\\Starred"], copy(&[])),
            ("[Gmail]/Starred", &[], copy(&[])),
            // Trash and Spam are not in All Mail.
            ("[Gmail]/Trash", &["\\Trash"], copy(&[])),
        ];
        for (folder, labels, want) in table {
            assert_eq!(
                &p.placement(folder, &v(labels)),
                want,
                "{folder} {labels:?}"
            );
        }
    }

    #[test]
    fn an_unsynced_label_folder_is_no_home() {
        let g = gmail();
        let selected: Vec<String> = order().into_iter().filter(|f| f != "Work").collect();
        let p = LabelPlan::new(&LabelInputs {
            mode: LabelMode::Folders,
            folders1: &g,
            folders2: &[],
            selected: &selected,
            mapped: &identity_map(&g),
            debug: false,
        });
        assert_eq!(p.placement("[Gmail]/All Mail", &v(&["Work"])), copy(&[]));
        assert_eq!(
            p.placement("[Gmail]/All Mail", &v(&["Work", "\\Inbox"])),
            elsewhere("INBOX")
        );
    }

    fn both_gmail() -> LabelPlan {
        let g = gmail();
        plan_for(
            LabelMode::Labels {
                sync: true,
                resync: true,
            },
            &g,
            &identity_map(&g),
        )
    }

    #[test]
    fn gmail_to_gmail_copies_once_in_the_home_with_the_other_labels() {
        let p = both_gmail();
        let all = "[Gmail]/All Mail";
        let table: &[(&str, &[&str], Placement)] = &[
            // All Mail copies every message, with its labels.
            (
                all,
                &["\\Inbox", "Work", "\\Important"],
                copy(&["Work", "\\Important", "\\Inbox"]),
            ),
            (all, &[], copy(&[])),
            // Labels hidden from IMAP travel as they are.
            (all, &["Hidden/Deep"], copy(&["Hidden/Deep"])),
            // The label folders leave it to All Mail, whatever the labels.
            ("INBOX", &["Work"], elsewhere(all)),
            ("Work", &["\\Inbox", "Work"], elsewhere(all)),
            ("[Gmail]/Important", &["\\Important"], elsewhere(all)),
            ("[Gmail]/Sent Mail", &["\\Sent", "Work"], elsewhere(all)),
            // Spam and Trash are not in All Mail.
            ("[Gmail]/Trash", &[], copy(&[])),
        ];
        for (folder, labels, want) in table {
            assert_eq!(
                &p.placement(folder, &v(labels)),
                want,
                "{folder} {labels:?}"
            );
        }
        // Without --synclabels every folder copies, without labels.
        let g = gmail();
        let per_folder = plan_for(
            LabelMode::Labels {
                sync: false,
                resync: true,
            },
            &g,
            &identity_map(&g),
        );
        assert_eq!(
            per_folder.placement("Work", &v(&["\\Inbox", "Work"])),
            copy(&[])
        );
        // Without All Mail in the sync, the first label folder copies; the selected
        // folder's label (maybe missing from the listing) is not stored again.
        let selected: Vec<String> = order().into_iter().filter(|f| f != all).collect();
        let no_all = LabelPlan::new(&LabelInputs {
            mode: LabelMode::Labels {
                sync: true,
                resync: true,
            },
            folders1: &g,
            folders2: &g,
            selected: &selected,
            mapped: &identity_map(&g),
            debug: false,
        });
        let table: &[(&str, &[&str], Placement)] = &[
            (
                "INBOX",
                &["Work", "\\Important"],
                copy(&["Work", "\\Important"]),
            ),
            ("Work", &["\\Inbox", "Work"], elsewhere("INBOX")),
            ("Work", &["Work", "\\Starred"], copy(&["\\Starred"])),
            (
                "[Gmail]/Important",
                &["\\Important", "Work"],
                elsewhere("Work"),
            ),
            (
                "[Gmail]/Important",
                &["\\Important", "\\Starred"],
                copy(&["\\Starred"]),
            ),
        ];
        for (folder, labels, want) in table {
            assert_eq!(
                &no_all.placement(folder, &v(labels)),
                want,
                "{folder} {labels:?}"
            );
        }
    }

    #[test]
    fn labels_follow_the_folder_mapping() {
        // Host1 Work -> host2 Projects/Work, INBOX -> host2 "Old/INBOX" (subfolder2),
        // host1 Important -> host2's \Important folder under another name.
        let host2 = vec![
            lf("INBOX", &[]),
            lf("Old/INBOX", &[]),
            lf("Projects/Work", &[]),
            lf("[Gmail]/Wichtig", &["\\Important"]),
            lf("[Gmail]/All Mail", &["\\All"]),
        ];
        let mapped = v(&["INBOX", "Work", "[Gmail]/Important", "[Gmail]/All Mail"])
            .into_iter()
            .zip(v(&[
                "Old/INBOX",
                "Projects/Work",
                "[Gmail]/Wichtig",
                "[Gmail]/All Mail",
            ]))
            .collect::<Vec<_>>();
        let p = plan_for(
            LabelMode::Labels {
                sync: true,
                resync: true,
            },
            &host2,
            &mapped,
        );
        assert_eq!(
            p.placement(
                "[Gmail]/All Mail",
                &v(&["\\Inbox", "Work", "\\Important", "Other"])
            ),
            copy(&["Old/INBOX", "Other", "Projects/Work", "\\Important"]),
        );
        assert_eq!(
            p.placement("INBOX", &v(&["Work"])),
            elsewhere("[Gmail]/All Mail")
        );
    }

    #[test]
    fn resync_adds_and_removes_but_never_the_folders_own_label() {
        let p = both_gmail();
        type Row<'a> = (
            &'a str,
            &'a [&'a str],
            &'a [&'a str],
            &'a [&'a str],
            &'a [&'a str],
        );
        let table: &[Row<'_>] = &[
            (
                "INBOX",
                &["\\Inbox", "Work"],
                &["\\Inbox", "Work"],
                &[],
                &[],
            ),
            ("INBOX", &["Work"], &[], &["Work"], &[]),
            ("INBOX", &["\\Inbox"], &["Old", "\\Inbox"], &[], &["Old"]),
            // The folder's own label is never removed, listed or not.
            ("Work", &[], &["Work"], &[], &[]),
            (
                "[Gmail]/All Mail",
                &["\\Starred"],
                &["Old"],
                &["\\Starred"],
                &["Old"],
            ),
            ("INBOX", &["\\IMPORTANT"], &["\\Important"], &[], &[]),
        ];
        for (folder, l1, l2, add, remove) in table {
            let (a, r) = p.resync(folder, &v(l1), &v(l2));
            assert_eq!((a, r), (v(add), v(remove)), "{folder} {l1:?} {l2:?}");
        }
    }

    #[test]
    fn stores_are_grouped_by_label_list() {
        let s = group_stores(vec![
            (3, v(&["A"]), vec![]),
            (1, v(&["A"]), v(&["B"])),
            (2, vec![], v(&["B"])),
            (4, vec![], vec![]),
        ]);
        assert_eq!(
            s,
            vec![
                LabelStore {
                    add: true,
                    labels: v(&["A"]),
                    uids: vec![3, 1]
                },
                LabelStore {
                    add: false,
                    labels: v(&["B"]),
                    uids: vec![1, 2]
                },
            ]
        );
    }

    fn listed(uid: u32, labels: Option<&[&str]>) -> Listed {
        Listed {
            uid,
            labels: labels.map(v),
            ..Listed::default()
        }
    }

    #[test]
    fn a_folder_plan_in_each_mode() {
        let p = both_gmail();
        let list1 = vec![
            listed(1, Some(&["\\Inbox", "Work"])),
            listed(2, Some(&["Work"])),
            listed(3, None),
            listed(4, Some(&["\\Inbox", "Work"])),
        ];
        let list2 = vec![listed(40, Some(&[]))];
        let f = plan_folder(&p, "Work", &list1, &list2, &[0, 1, 2], &[(3, 40)]);
        let all = "[Gmail]/All Mail".to_string();
        assert_eq!(
            f.elsewhere,
            vec![(1, all.clone()), (2, all)],
            "3 is unknown"
        );
        assert!(f.copy_labels.is_empty());
        assert_eq!(
            f.stores,
            vec![LabelStore {
                add: true,
                labels: v(&["\\Inbox"]),
                uids: vec![40]
            }],
            "host2 listed the copy in Work without \\Inbox"
        );
        let off = LabelPlan::default();
        assert_eq!(
            plan_folder(&off, "Work", &list1, &list2, &[0, 1], &[(3, 40)]),
            FolderLabelPlan::default()
        );
    }
}
