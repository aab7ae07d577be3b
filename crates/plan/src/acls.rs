//! `--syncacls`: the access control lists (RFC 4314) of each host2 folder are made equal to
//! those of its host1 folder, identifier by identifier, as imapsync does — with two
//! differences, both said when they apply:
//!
//! * rights are compared as sets of letters (`lrs` equals `srl`), so a server that orders
//!   them differently is not rewritten for nothing;
//! * the account's own entry is never changed: host1's user stands for host2's user (imapsync
//!   would give host1's user name rights on host2, where it may be somebody else), and
//!   `owner` or host2's user are left as they are (changing or removing them could lock the
//!   account out of its own folder);
//! * an identifier that host1 does not list is removed from host2 (imapsync sets empty
//!   rights).
//!
//! Rights are copied literally: as imapsync warns, one letter may not mean the same on two
//! different servers.

/// One `ACL` response: the mailbox and its `(identifier, rights)` entries.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AclListing {
    pub mailbox: Vec<u8>,
    pub entries: Vec<(String, String)>,
}

/// What to do for one identifier of a folder pair.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AclAction {
    /// Both sides give it the same rights.
    Same { id: String, rights: String },
    /// Give it host1's rights on host2 (`was`: its host2 rights, empty when none).
    Set {
        id: String,
        rights: String,
        was: String,
    },
    /// Host1 does not list it: remove it from host2.
    Remove { id: String, was: String },
    /// The account's own entry (`owner`, host2's user): left as it is.
    Keep { id: String, rights: String },
}

/// Drops the double quotes (and backslash-escaped ones) an identifier or rights string may
/// carry (imapsync's `remove_doublequotes_if_any`).
fn unquoted(s: &str) -> String {
    s.replace("\\\"", "").replace('"', "")
}

/// The same rights, whatever their order.
fn same_rights(a: &str, b: &str) -> bool {
    let set = |s: &str| {
        let mut v: Vec<char> = s.chars().collect();
        v.sort_unstable();
        v.dedup();
        v
    };
    set(a) == set(b)
}

/// The actions for one folder pair, by identifier (sorted), from host1's and host2's
/// entries; `user1` and `user2` are the accounts logged in on each side.
pub fn plan(
    h1: &[(String, String)],
    h2: &[(String, String)],
    user1: &str,
    user2: &str,
) -> Vec<AclAction> {
    let norm = |list: &[(String, String)], from: &str| -> Vec<(String, String)> {
        list.iter()
            .map(|(i, r)| {
                let i = unquoted(i);
                (if i == from { user2.to_string() } else { i }, unquoted(r))
            })
            .collect()
    };
    let (h1, h2) = (norm(h1, user1), norm(h2, user2));
    let find = |list: &[(String, String)], id: &str| {
        list.iter().find(|(i, _)| i == id).map(|(_, r)| r.clone())
    };
    let own = |id: &str| id == user2 || id.eq_ignore_ascii_case("owner");
    let mut ids: Vec<String> = h1.iter().chain(&h2).map(|(i, _)| i.clone()).collect();
    ids.sort();
    ids.dedup();
    ids.into_iter()
        .map(|id| match (find(&h1, &id), find(&h2, &id)) {
            (Some(r1), Some(r2)) if same_rights(&r1, &r2) => AclAction::Same { id, rights: r1 },
            (_, r2) if own(&id) => AclAction::Keep {
                id,
                rights: r2.unwrap_or_default(),
            },
            (Some(r1), r2) => AclAction::Set {
                id,
                rights: r1,
                was: r2.unwrap_or_default(),
            },
            (None, r2) => AclAction::Remove {
                id,
                was: r2.unwrap_or_default(),
            },
        })
        .collect()
}

/// Splits the arguments of an untagged response into astrings (atoms, quoted strings,
/// literals).
fn astrings(mut s: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    loop {
        while let [b' ' | b'\r' | b'\n', rest @ ..] = s {
            s = rest;
        }
        match s {
            [] => return Some(out),
            [b'"', rest @ ..] => {
                let mut v = Vec::new();
                let mut i = 0;
                loop {
                    match rest.get(i)? {
                        b'\\' => {
                            v.push(*rest.get(i + 1)?);
                            i += 2;
                        }
                        b'"' => break,
                        b => {
                            v.push(*b);
                            i += 1;
                        }
                    }
                }
                out.push(v);
                s = &rest[i + 1..];
            }
            [b'{', rest @ ..] => {
                let close = rest.iter().position(|&b| b == b'}')?;
                let n: usize = std::str::from_utf8(&rest[..close])
                    .ok()?
                    .trim_end_matches('+')
                    .parse()
                    .ok()?;
                let body = rest.get(close + 1..)?.strip_prefix(b"\r\n")?;
                out.push(body.get(..n)?.to_vec());
                s = &body[n..];
            }
            _ => {
                let end = s
                    .iter()
                    .position(|&b| matches!(b, b' ' | b'\r' | b'\n'))
                    .unwrap_or(s.len());
                out.push(s[..end].to_vec());
                s = &s[end..];
            }
        }
    }
}

/// The untagged response `raw` (from its name on, e.g. `ACL INBOX owner lr`) with the given
/// name, as astrings after the name.
fn response_args(raw: &[u8], name: &str) -> Option<Vec<Vec<u8>>> {
    let raw = raw.strip_prefix(b"* ").unwrap_or(raw);
    let (word, rest) = raw.split_at(raw.iter().position(|&b| b == b' ')?);
    if !word.eq_ignore_ascii_case(name.as_bytes()) {
        return None;
    }
    astrings(rest)
}

/// An untagged `ACL` response (the raw text the protocol layer leaves for it).
pub fn parse_acl(raw: &[u8]) -> Option<AclListing> {
    let mut args = response_args(raw, "ACL")?.into_iter();
    let mailbox = args.next()?;
    let rest: Vec<Vec<u8>> = args.collect();
    let entries = rest
        .chunks(2)
        .filter(|c| c.len() == 2)
        .map(|c| {
            (
                String::from_utf8_lossy(&c[0]).into_owned(),
                String::from_utf8_lossy(&c[1]).into_owned(),
            )
        })
        .collect();
    Some(AclListing { mailbox, entries })
}

/// An untagged `MYRIGHTS` response: the mailbox and the rights.
pub fn parse_myrights(raw: &[u8]) -> Option<(Vec<u8>, String)> {
    let mut args = response_args(raw, "MYRIGHTS")?.into_iter();
    let mailbox = args.next()?;
    let rights = String::from_utf8_lossy(&args.next()?).into_owned();
    Some((mailbox, rights))
}

/// Whether rights include administering the ACL (`a`).
pub fn can_administer(rights: &str) -> bool {
    rights.contains('a')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn parses_acl_and_myrights() {
        let l =
            parse_acl(b"ACL INBOX owner lrwstipekxacd \"user 3\" lr {5}\r\nuser4 \"l\\\"r\"\r\n")
                .expect("acl");
        assert_eq!(l.mailbox, b"INBOX");
        assert_eq!(
            l.entries,
            e(&[
                ("owner", "lrwstipekxacd"),
                ("user 3", "lr"),
                ("user4", "l\"r")
            ])
        );
        let l = parse_acl(b"* ACL \"Sent Items\"").expect("empty acl");
        assert_eq!(l.mailbox, b"Sent Items");
        assert!(l.entries.is_empty());
        assert_eq!(parse_acl(b"MYRIGHTS INBOX lr"), None);
        assert_eq!(
            parse_myrights(b"MYRIGHTS INBOX lrwsa\r\n"),
            Some((b"INBOX".to_vec(), "lrwsa".to_string()))
        );
        assert_eq!(parse_acl(b"ACL \"unterminated"), None);
        assert!(can_administer("lrxa") && !can_administer("lrs"));
    }

    #[test]
    fn plans_by_identifier() {
        let h1 = e(&[
            ("owner", "lrwstipekxacd"),
            ("user1", "lrwstipekxacd"),
            ("user3", "lr"),
            ("\"user4\"", "lrs"),
            ("user5", "lrw"),
        ]);
        let h2 = e(&[
            ("owner", "acdeiklprstwx"),
            ("user4", "srl"),
            ("user5", "l"),
            ("user6", "lr"),
            ("user2", "lrwstipekxacd"),
        ]);
        assert_eq!(
            plan(&h1, &h2, "user1", "user2"),
            vec![
                AclAction::Same {
                    id: "owner".into(),
                    rights: "lrwstipekxacd".into()
                },
                AclAction::Same {
                    id: "user2".into(),
                    rights: "lrwstipekxacd".into()
                },
                AclAction::Set {
                    id: "user3".into(),
                    rights: "lr".into(),
                    was: "".into()
                },
                AclAction::Same {
                    id: "user4".into(),
                    rights: "lrs".into()
                },
                AclAction::Set {
                    id: "user5".into(),
                    rights: "lrw".into(),
                    was: "l".into()
                },
                AclAction::Remove {
                    id: "user6".into(),
                    was: "lr".into()
                },
            ]
        );
        // Host1 without an owner entry never strips host2's; host1's own user is host2's
        // (never given rights under host1's name), and its rights are left alone.
        assert_eq!(
            plan(
                &e(&[("u1", "lr")]),
                &e(&[("owner", "lr"), ("u2", "lrwsa")]),
                "u1",
                "u2"
            ),
            vec![
                AclAction::Keep {
                    id: "owner".into(),
                    rights: "lr".into()
                },
                AclAction::Keep {
                    id: "u2".into(),
                    rights: "lrwsa".into()
                },
            ]
        );
    }
}
