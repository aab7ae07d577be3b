//! Comparing mailboxes across servers with different layouts.
//!
//! Wire names are turned into *canonical* names: the personal namespace prefix is
//! removed (INBOX stays `INBOX`), the separator becomes `/` and modified UTF-7 is
//! decoded. A `.`/`INBOX.` server and a `/` server holding the same folders then yield
//! the same canonical snapshot, which [`compare`] checks message by message (body
//! hash, size, INTERNALDATE, flags), independent of UIDs.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};

use crate::fill::detect_namespace;
use crate::imap::{Msg, Snapshot, TestImap, hex};

/// Canonical `/`-separated UTF-8 name of a wire name.
pub fn canonical_name(wire: &str, prefix: &str, sep: char) -> String {
    if wire.eq_ignore_ascii_case("INBOX") {
        return "INBOX".into();
    }
    let (lead, rest) = if !prefix.is_empty() && wire.starts_with(prefix) {
        ("", &wire[prefix.len()..])
    } else if wire.len() > 6
        && wire
            .get(..5)
            .is_some_and(|p| p.eq_ignore_ascii_case("INBOX"))
        && wire[5..].starts_with(sep)
    {
        ("INBOX/", &wire[5 + sep.len_utf8()..])
    } else {
        ("", wire)
    };
    let parts: Vec<String> = rest
        .split(sep)
        .map(|p| crate::mutf7::decode(p).unwrap_or_else(|_| p.to_string()))
        .collect();
    format!("{lead}{}", parts.join("/"))
}

/// Snapshot of a logged-in connection with canonical folder names.
/// `namespace` overrides the detected `(prefix, separator)`.
pub fn canonical_snapshot(c: &mut TestImap, namespace: Option<(String, char)>) -> Result<Snapshot> {
    let (prefix, sep) = match namespace {
        Some(ns) => ns,
        None => detect_namespace(c)?,
    };
    let raw = c.snapshot()?;
    Ok(raw
        .into_iter()
        .map(|(k, v)| (canonical_name(&k, &prefix, sep), v))
        .collect())
}

/// Log in and take a canonical snapshot.
pub fn snapshot_at(
    host: &str,
    port: u16,
    user: &str,
    pass: &str,
    namespace: Option<(String, char)>,
) -> Result<Snapshot> {
    let mut c = TestImap::connect_login(host, port, user, pass)
        .with_context(|| format!("logging in to {host}:{port} as {user}"))?;
    let s = canonical_snapshot(&mut c, namespace)?;
    let _ = c.logout();
    Ok(s)
}

/// Stable one-line record of a message (no UID): `sha256 size internaldate flags`.
pub fn record(m: &Msg) -> String {
    format!(
        "{} {} {} {}",
        m.sha256,
        m.size,
        m.internaldate_epoch,
        m.flags.join(",")
    )
}

/// SHA-256 over the sorted records of a folder.
pub fn folder_digest(msgs: &[Msg]) -> String {
    let mut recs: Vec<String> = msgs.iter().map(record).collect();
    recs.sort();
    let mut h = Sha256::new();
    for r in recs {
        h.update(r.as_bytes());
        h.update(b"\n");
    }
    hex(&h.finalize())
}

/// Text digest: `folder<TAB>count<TAB>digest` per folder (sorted by name), then
/// `TOTAL<TAB>messages<TAB>digest-of-the-lines-above`.
pub fn digest_text(s: &Snapshot) -> String {
    let mut out = String::new();
    let mut total = 0usize;
    for (name, msgs) in s {
        out.push_str(&format!(
            "{name}\t{}\t{}\n",
            msgs.len(),
            folder_digest(msgs)
        ));
        total += msgs.len();
    }
    let all = hex(&Sha256::digest(out.as_bytes()));
    out.push_str(&format!("TOTAL\t{total}\t{all}\n"));
    out
}

/// What [`compare`] checks and how names correspond.
#[derive(Clone, Debug)]
pub struct CompareOptions {
    /// Canonical host1 name -> canonical host2 name (e.g. `Sent` -> `Sent Items`).
    pub map: Vec<(String, String)>,
    /// Canonical names ignored on both sides (after mapping).
    pub ignore: Vec<String>,
    /// Compare flags (default true).
    pub flags: bool,
    /// Compare INTERNALDATEs (default true).
    pub dates: bool,
    /// Do not report empty folders that exist only on host2 (auto-created specials).
    pub allow_extra_empty: bool,
}

impl Default for CompareOptions {
    fn default() -> Self {
        CompareOptions {
            map: Vec::new(),
            ignore: Vec::new(),
            flags: true,
            dates: true,
            allow_extra_empty: false,
        }
    }
}

fn label(m: &Msg) -> String {
    format!(
        "uid {} size {} message-id {}",
        m.uid,
        m.size,
        m.message_id.as_deref().unwrap_or("(none)")
    )
}

/// Differences between two canonical snapshots (empty = identical under `opts`).
pub fn compare(host1: &Snapshot, host2: &Snapshot, opts: &CompareOptions) -> Vec<String> {
    let ignore: BTreeSet<&str> = opts.ignore.iter().map(String::as_str).collect();
    let a: BTreeMap<String, &Vec<Msg>> = host1
        .iter()
        .map(|(k, v)| {
            let k = opts
                .map
                .iter()
                .find(|(from, _)| from == k)
                .map(|(_, to)| to.clone())
                .unwrap_or_else(|| k.clone());
            (k, v)
        })
        .filter(|(k, _)| !ignore.contains(k.as_str()))
        .collect();
    let b: BTreeMap<String, &Vec<Msg>> = host2
        .iter()
        .filter(|(k, _)| !ignore.contains(k.as_str()))
        .map(|(k, v)| (k.clone(), v))
        .collect();
    let mut diffs = Vec::new();
    for (name, msgs) in &a {
        let Some(other) = b.get(name) else {
            diffs.push(format!(
                "folder {name:?} ({} messages) missing on host2",
                msgs.len()
            ));
            continue;
        };
        compare_folder(name, msgs, other, opts, &mut diffs);
    }
    for (name, msgs) in &b {
        let tolerated = opts.allow_extra_empty && msgs.is_empty();
        if !(a.contains_key(name) || tolerated) {
            diffs.push(format!(
                "folder {name:?} ({} messages) only on host2",
                msgs.len()
            ));
        }
    }
    diffs
}

fn compare_folder(
    name: &str,
    a: &[Msg],
    b: &[Msg],
    opts: &CompareOptions,
    diffs: &mut Vec<String>,
) {
    let group = |msgs: &[Msg]| {
        let mut g: BTreeMap<(String, u64), Vec<Msg>> = BTreeMap::new();
        for m in msgs {
            g.entry((m.sha256.clone(), m.size))
                .or_default()
                .push(m.clone());
        }
        for v in g.values_mut() {
            v.sort_by(|x, y| {
                (x.internaldate_epoch, &x.flags).cmp(&(y.internaldate_epoch, &y.flags))
            });
        }
        g
    };
    let ga = group(a);
    let gb = group(b);
    if a.len() != b.len() {
        diffs.push(format!(
            "folder {name:?}: {} messages on host1, {} on host2",
            a.len(),
            b.len()
        ));
    }
    for (key, va) in &ga {
        let vb = gb.get(key).map(Vec::as_slice).unwrap_or(&[]);
        for m in va.iter().skip(vb.len()) {
            diffs.push(format!("folder {name:?}: missing on host2: {}", label(m)));
        }
        for (x, y) in va.iter().zip(vb) {
            if opts.dates && x.internaldate_epoch != y.internaldate_epoch {
                diffs.push(format!(
                    "folder {name:?}: INTERNALDATE differs for {}: {} vs {}",
                    label(x),
                    x.internaldate_epoch,
                    y.internaldate_epoch
                ));
            }
            if opts.flags && x.flags != y.flags {
                diffs.push(format!(
                    "folder {name:?}: flags differ for {}: {:?} vs {:?}",
                    label(x),
                    x.flags,
                    y.flags
                ));
            }
        }
    }
    for (key, vb) in &gb {
        let na = ga.get(key).map(Vec::len).unwrap_or(0);
        for m in vb.iter().skip(na) {
            diffs.push(format!("folder {name:?}: only on host2: {}", label(m)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_names() {
        assert_eq!(canonical_name("INBOX", "INBOX.", '.'), "INBOX");
        assert_eq!(canonical_name("INBOX.Sent", "INBOX.", '.'), "Sent");
        assert_eq!(
            canonical_name("INBOX.a.Entw&APw-rfe", "INBOX.", '.'),
            "a/Entwürfe"
        );
        assert_eq!(canonical_name("a/b", "", '/'), "a/b");
        assert_eq!(canonical_name("INBOX/x", "", '/'), "INBOX/x");
        assert_eq!(
            canonical_name("[Gmail]/All Mail", "", '/'),
            "[Gmail]/All Mail"
        );
    }
}
