//! Gmail's IMAP extensions (the part of X-GM-EXT-1 imapsync uses), emulated by the
//! [`Shim`](crate::Shim) in front of a real Dovecot ([`Shim::gmail`](crate::Shim::gmail)).
//!
//! How labels are emulated — Dovecot's folders *are* the labels:
//!
//! * a message with labels `\Inbox` and `Work` is one message file present in the folders
//!   `INBOX` and `Work`, and in the `\All` folder (`[Gmail]/All Mail`); copies made by
//!   Dovecot's COPY keep the message's GUID (maildir hard links), and **the GUID is the
//!   message's identity**: `X-GM-MSGID` is a 63-bit hash of it, and its labels are the
//!   folders that hold it;
//! * what a folder stands for: `INBOX` is `\Inbox`, special-use folders are `\Sent`,
//!   `\Draft` (`\Drafts`), `\Spam` (`\Junk`), `\Trash`, `\Important`, `\Starred`
//!   (`\Flagged`); All Mail (`\All`) is no label; any other folder is the label of its name;
//! * `FETCH ... X-GM-LABELS` / `X-GM-MSGID`: the shim asks Dovecot for `X-GUID` instead and
//!   answers with the labels of that GUID, computed from every folder's GUIDs (read on a
//!   connection of the shim's own, just before the FETCH is forwarded). Like Gmail is
//!   reported to do, the label of the selected folder is left out;
//! * `UID STORE set [+-]X-GM-LABELS[.SILENT] (labels)`: answered by the shim — a label
//!   added is a `UID COPY` into its folder (created when missing, as Gmail creates the
//!   label), a label removed is the message's copy in that folder flagged `\Deleted` and
//!   `UID EXPUNGE`d; without sign, the labels are made equal;
//! * `APPEND` to a label folder: once Dovecot answers `OK [APPENDUID ...]`, the shim copies
//!   the new message into All Mail before passing the answer on (All Mail is the set of all
//!   messages but Spam and Trash);
//! * `X-GM-EXT-1` is announced by Dovecot itself (the test adds it to the capabilities,
//!   see [`GMAIL_CAPABILITY`]).
//!
//! Not emulated: `X-GM-THRID` (answered with the MSGID), `X-GM-RAW` searches, Gmail's
//! de-duplication of an APPEND of a message the account already has, `\Starred` as
//! `\Flagged`, Gmail's trash/archive semantics of EXPUNGE in All Mail.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::Mutex;

use anyhow::{Context, Result, anyhow};

use crate::imap::{ListEntry, TestImap};

/// The capability to add to a Dovecot behind a Gmail shim.
pub const GMAIL_CAPABILITY: &str = "X-GM-EXT-1";

/// What a folder stands for.
fn folder_label(e: &ListEntry) -> Option<String> {
    if e.name.eq_ignore_ascii_case("INBOX") {
        return Some("\\Inbox".into());
    }
    let table = [
        ("\\All", None),
        ("\\Sent", Some("\\Sent")),
        ("\\Drafts", Some("\\Draft")),
        ("\\Junk", Some("\\Spam")),
        ("\\Trash", Some("\\Trash")),
        ("\\Important", Some("\\Important")),
        ("\\Flagged", Some("\\Starred")),
    ];
    for (attr, label) in table {
        if e.has_attr(attr) {
            return label.map(str::to_string);
        }
    }
    Some(e.name.clone())
}

fn norm(label: &str) -> String {
    if label.eq_ignore_ascii_case("\\Inbox") || label.eq_ignore_ascii_case("INBOX") {
        return "\\Inbox".into();
    }
    match label.strip_prefix('\\') {
        Some(r) => {
            let mut c = r.chars();
            c.next().map_or_else(
                || label.to_string(),
                |f| {
                    format!(
                        "\\{}{}",
                        f.to_ascii_uppercase(),
                        c.as_str().to_ascii_lowercase()
                    )
                },
            )
        }
        None => label.to_string(),
    }
}

/// `X-GM-MSGID` of a GUID (FNV-1a, 63 bits).
pub fn msgid(guid: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in guid.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h & 0x7fff_ffff_ffff_ffff
}

/// Every folder's messages by GUID, at one moment.
#[derive(Clone, Debug, Default)]
pub struct Index {
    /// Selectable folders with their label (`None`: All Mail).
    labels: BTreeMap<String, Option<String>>,
    /// Folder → UID → GUID.
    uids: HashMap<String, BTreeMap<u32, String>>,
    /// GUID → folders holding it.
    holders: HashMap<String, BTreeSet<String>>,
    all_mail: Option<String>,
}

impl Index {
    /// The labels of a message, as FETCH X-GM-LABELS gives them in `selected`.
    pub fn labels(&self, guid: &str, selected: &str) -> Vec<String> {
        let mut out: Vec<String> = self
            .holders
            .get(guid)
            .into_iter()
            .flatten()
            .filter(|f| f.as_str() != selected)
            .filter_map(|f| self.labels.get(f).cloned().flatten())
            .collect();
        out.sort();
        out.dedup();
        out
    }

    fn folder_of(&self, label: &str) -> Option<String> {
        let l = norm(label);
        self.labels
            .iter()
            .find(|(_, fl)| fl.as_deref().map(norm).as_deref() == Some(l.as_str()))
            .map(|(f, _)| f.clone())
    }
}

/// One `UID STORE` of labels.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabelStore {
    /// `Some(true)`: `+`, `Some(false)`: `-`, `None`: replace.
    pub add: Option<bool>,
    pub labels: Vec<String>,
}

/// The emulation's own connection to the server and what it does with it.
pub struct GmailEmu {
    target: SocketAddr,
    user: String,
    pass: String,
    conn: Mutex<Option<TestImap>>,
}

impl std::fmt::Debug for GmailEmu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GmailEmu")
            .field("user", &self.user)
            .finish()
    }
}

fn uid_guid(line: &[u8]) -> Option<(u32, String)> {
    let s = String::from_utf8_lossy(line);
    let uid = s
        .split("UID ")
        .nth(1)?
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()?;
    let g = s.split("X-GUID ").nth(1)?;
    let g = g.trim_end_matches(')');
    let g = g.split([' ', ')']).next()?.trim_matches('"').to_string();
    Some((uid, g))
}

/// A quoted IMAP string.
fn q(s: &str) -> String {
    let mut o = String::from("\"");
    for c in s.chars() {
        if c == '"' || c == '\\' {
            o.push('\\');
        }
        o.push(c);
    }
    o.push('"');
    o
}

impl GmailEmu {
    pub(crate) fn new(target: SocketAddr, user: &str, pass: &str) -> GmailEmu {
        GmailEmu {
            target,
            user: user.into(),
            pass: pass.into(),
            conn: Mutex::new(None),
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut TestImap) -> Result<R>) -> Result<R> {
        let mut g = self
            .conn
            .lock()
            .map_err(|_| anyhow!("gmail emulation lock"))?;
        if g.is_none() {
            *g = Some(
                TestImap::connect_login(
                    &self.target.ip().to_string(),
                    self.target.port(),
                    &self.user,
                    &self.pass,
                )
                .context("gmail emulation: own connection")?,
            );
        }
        let c = g.as_mut().ok_or_else(|| anyhow!("no connection"))?;
        let r = f(c);
        if r.is_err() {
            // Start afresh next time.
            *g = None;
        }
        r
    }

    fn index_on(c: &mut TestImap) -> Result<Index> {
        let mut ix = Index::default();
        for e in c.list()?.into_iter().filter(ListEntry::selectable) {
            if e.has_attr("\\All") {
                ix.all_mail = Some(e.name.clone());
            }
            ix.labels.insert(e.name.clone(), folder_label(&e));
        }
        let names: Vec<String> = ix.labels.keys().cloned().collect();
        for name in names {
            let sel = c.examine(&name)?;
            let mut m = BTreeMap::new();
            if sel.exists > 0 {
                let r = c.command("UID FETCH 1:* (UID X-GUID)")?;
                for u in &r.untagged {
                    if let Some((uid, guid)) = uid_guid(u) {
                        ix.holders
                            .entry(guid.clone())
                            .or_default()
                            .insert(name.clone());
                        m.insert(uid, guid);
                    }
                }
            }
            ix.uids.insert(name, m);
        }
        Ok(ix)
    }

    /// Every folder's GUIDs, now.
    pub fn index(&self) -> Result<Index> {
        self.with(Self::index_on)
    }

    /// After an APPEND to `folder` answered with these UIDs: the copies in All Mail.
    pub fn appended(&self, folder: &str, uids: &str) -> Result<()> {
        self.with(|c| {
            let list = c.list()?;
            let Some(all) = list.iter().find(|e| e.has_attr("\\All")) else {
                return Ok(());
            };
            let target = list.iter().find(|e| e.name == folder);
            let outside = target.is_none_or(|e| {
                e.has_attr("\\All") || e.has_attr("\\Junk") || e.has_attr("\\Trash")
            });
            if outside {
                return Ok(());
            }
            c.examine(folder)?;
            c.command(&format!("UID COPY {uids} {}", q(&all.name)))?;
            Ok(())
        })
    }

    /// `UID STORE uids [+-]X-GM-LABELS (labels)` on messages of `selected`.
    pub fn store(&self, selected: &str, uids: &str, s: &LabelStore) -> Result<()> {
        self.with(|c| {
            let ix = Self::index_on(c)?;
            let in_sel = ix.uids.get(selected).cloned().unwrap_or_default();
            let wanted: BTreeSet<u32> = expand(uids, in_sel.keys().copied());
            let guids: Vec<(u32, String)> = in_sel
                .into_iter()
                .filter(|(u, _)| wanted.contains(u))
                .collect();
            let named: BTreeSet<String> = s.labels.iter().map(|l| norm(l)).collect();
            let mut add: BTreeSet<String> = BTreeSet::new();
            let mut remove: BTreeMap<String, Vec<String>> = BTreeMap::new();
            for (_, g) in &guids {
                let current: BTreeSet<String> =
                    ix.labels(g, "").into_iter().map(|l| norm(&l)).collect();
                let (plus, minus): (Vec<String>, Vec<String>) = match s.add {
                    Some(true) => (named.iter().cloned().collect(), vec![]),
                    Some(false) => (vec![], named.iter().cloned().collect()),
                    None => (
                        named.difference(&current).cloned().collect(),
                        current.difference(&named).cloned().collect(),
                    ),
                };
                add.extend(plus);
                for l in minus {
                    remove.entry(l).or_default().push(g.clone());
                }
            }
            for l in &add {
                let folder = match ix.folder_of(l) {
                    Some(f) => f,
                    None => {
                        // Gmail creates a label stored on a message.
                        c.command_status(&format!("CREATE {}", q(l)))?;
                        l.clone()
                    }
                };
                let have = ix.uids.get(&folder);
                let missing: Vec<String> = guids
                    .iter()
                    .filter(|(_, g)| !have.is_some_and(|m| m.values().any(|x| x == g)))
                    .map(|(u, _)| u.to_string())
                    .collect();
                if missing.is_empty() || folder == selected {
                    continue;
                }
                c.examine(selected)?;
                c.command(&format!("UID COPY {} {}", missing.join(","), q(&folder)))?;
            }
            for (l, gs) in remove {
                let Some(folder) = ix.folder_of(&l) else {
                    continue;
                };
                let Some(m) = ix.uids.get(&folder) else {
                    continue;
                };
                let uids: Vec<String> = m
                    .iter()
                    .filter(|(_, g)| gs.contains(g))
                    .map(|(u, _)| u.to_string())
                    .collect();
                if uids.is_empty() {
                    continue;
                }
                let set = uids.join(",");
                c.select(&folder)?;
                c.command(&format!("UID STORE {set} +FLAGS.SILENT (\\Deleted)"))?;
                c.command(&format!("UID EXPUNGE {set}"))?;
            }
            Ok(())
        })
    }
}

/// The UIDs of a set (`1:3,7`, `*`), among `known`.
fn expand(set: &str, known: impl Iterator<Item = u32>) -> BTreeSet<u32> {
    let known: Vec<u32> = known.collect();
    let max = known.iter().copied().max().unwrap_or(0);
    let num = |s: &str| {
        if s == "*" {
            Some(max)
        } else {
            s.parse::<u32>().ok()
        }
    };
    let mut out = BTreeSet::new();
    for part in set.split(',') {
        let (a, b) = match part.split_once(':') {
            Some((a, b)) => (num(a), num(b)),
            None => (num(part), num(part)),
        };
        if let (Some(a), Some(b)) = (a, b) {
            let (lo, hi) = (a.min(b), a.max(b));
            out.extend(known.iter().copied().filter(|u| (lo..=hi).contains(u)));
        }
    }
    out
}

/// Reads an astring at the start of `s` (quoted with `\` escapes, or an atom): the value and
/// the rest.
pub(crate) fn astring(s: &str) -> Option<(String, &str)> {
    let s = s.trim_start();
    if let Some(body) = s.strip_prefix('"') {
        let mut out = String::new();
        let mut it = body.char_indices();
        while let Some((i, c)) = it.next() {
            match c {
                '\\' => out.push(it.next()?.1),
                '"' => return Some((out, &body[i + 1..])),
                _ => out.push(c),
            }
        }
        return None;
    }
    let end = s.find([' ', '(', ')']).unwrap_or(s.len());
    (end > 0).then(|| (s[..end].to_string(), &s[end..]))
}

/// `set [+-]X-GM-LABELS[.SILENT] (labels)` (a `UID STORE`'s arguments).
pub(crate) fn parse_store(args: &str) -> Option<(String, LabelStore)> {
    let (set, rest) = args.trim().split_once(' ')?;
    let rest = rest.trim_start();
    let (op, list) = rest.split_once(' ')?;
    let add = match op.chars().next() {
        Some('+') => Some(true),
        Some('-') => Some(false),
        _ => None,
    };
    let item = op.trim_start_matches(['+', '-']).to_ascii_uppercase();
    if item != "X-GM-LABELS" && item != "X-GM-LABELS.SILENT" {
        return None;
    }
    let mut l = list
        .trim()
        .strip_prefix('(')?
        .trim_end()
        .strip_suffix(')')?;
    let mut labels = Vec::new();
    while !l.trim().is_empty() {
        let (v, rest) = astring(l)?;
        labels.push(v);
        l = rest;
    }
    Some((set.to_string(), LabelStore { add, labels }))
}

/// A FETCH command's item list with Gmail's items replaced by Dovecot's `X-GUID`; `None`
/// when it asks for none of them.
pub(crate) fn rewrite_fetch(args: &str) -> Option<String> {
    let upper = args.to_ascii_uppercase();
    if !upper.contains("X-GM-") {
        return None;
    }
    let mut out = String::with_capacity(args.len());
    let mut guid = false;
    let mut i = 0;
    while i < args.len() {
        let rest = &upper[i..];
        let hit = ["X-GM-LABELS", "X-GM-MSGID", "X-GM-THRID"]
            .iter()
            .find(|w| rest.starts_with(**w));
        match hit {
            Some(w) => {
                if !guid {
                    out.push_str("X-GUID");
                    guid = true;
                } else if out.ends_with(' ') {
                    out.pop();
                }
                i += w.len();
            }
            None => {
                let c = args[i..].chars().next()?;
                out.push(c);
                i += c.len_utf8();
            }
        }
    }
    Some(out)
}

/// A FETCH response line with `X-GUID g` replaced by Gmail's items.
pub(crate) fn rewrite_response(line: &[u8], ix: &Index, selected: &str) -> Option<Vec<u8>> {
    let s = std::str::from_utf8(line).ok()?;
    let at = s.find("X-GUID ")?;
    let after = &s[at + "X-GUID ".len()..];
    let (guid, rest) = astring(after)?;
    let labels: Vec<String> = ix.labels(&guid, selected).iter().map(|l| q(l)).collect();
    Some(
        format!(
            "{}X-GM-MSGID {} X-GM-THRID {} X-GM-LABELS ({}){rest}",
            &s[..at],
            msgid(&guid),
            msgid(&guid),
            labels.join(" ")
        )
        .into_bytes(),
    )
}

/// The UIDs of an `APPENDUID uidvalidity uids` code in a tagged OK.
pub(crate) fn appenduid(line: &[u8]) -> Option<String> {
    let s = String::from_utf8_lossy(line);
    let at = s.to_ascii_uppercase().find("[APPENDUID ")?;
    let code = &s[at + "[APPENDUID ".len()..];
    let code = &code[..code.find(']')?];
    code.split_whitespace().nth(1).map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_and_response_rewrites() {
        assert_eq!(
            rewrite_fetch("1:* (UID FLAGS X-GM-LABELS X-GM-MSGID RFC822.SIZE)").as_deref(),
            Some("1:* (UID FLAGS X-GUID RFC822.SIZE)")
        );
        assert_eq!(rewrite_fetch("1 x-gm-labels").as_deref(), Some("1 X-GUID"));
        assert_eq!(rewrite_fetch("1:* (UID FLAGS)"), None);
        let (set, st) = parse_store(r#"3,5 +X-GM-LABELS (\Inbox Work "Muy Importante" "a\"b")"#)
            .expect("store");
        assert_eq!(set, "3,5");
        assert_eq!(st.add, Some(true));
        assert_eq!(st.labels, vec!["\\Inbox", "Work", "Muy Importante", "a\"b"]);
        let (_, st) = parse_store("1 X-GM-LABELS.SILENT ()").expect("store");
        assert_eq!((st.add, st.labels.len()), (None, 0));
        assert!(parse_store("1 +FLAGS (\\Seen)").is_none());
        assert_eq!(
            appenduid(b"a3 OK [APPENDUID 17 4:6] Append completed.\r\n").as_deref(),
            Some("4:6")
        );
        let mut ix = Index::default();
        ix.labels.insert("INBOX".into(), Some("\\Inbox".into()));
        ix.labels.insert("Work".into(), Some("Work".into()));
        ix.labels.insert("[Gmail]/All Mail".into(), None);
        ix.holders.insert(
            "g1".into(),
            ["INBOX", "Work", "[Gmail]/All Mail"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
        );
        let out = rewrite_response(b"* 1 FETCH (UID 4 X-GUID g1 FLAGS ())\r\n", &ix, "INBOX")
            .expect("rewritten");
        assert_eq!(
            String::from_utf8_lossy(&out),
            format!(
                "* 1 FETCH (UID 4 X-GM-MSGID {0} X-GM-THRID {0} X-GM-LABELS (\"Work\") FLAGS ())\r\n",
                msgid("g1")
            )
        );
        assert_eq!(
            ix.labels("g1", "[Gmail]/All Mail"),
            vec!["Work".to_string(), "\\Inbox".to_string()]
        );
        assert_eq!(
            expand("2:4,9,*", [1, 2, 3, 5, 9, 12].into_iter()),
            [2, 3, 9, 12].into_iter().collect()
        );
    }
}
