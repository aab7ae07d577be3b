//! Selecting a folder and listing its messages (UID, size, flags, internal date, identity key).

use imapsync_client::engine::MAX_COMMAND_RETRIES;
use imapsync_client::pushback;
use imapsync_client::{ConnError, Connection, Item};
pub use imapsync_plan::folderplan::{Listed, Selected};
use imapsync_plan::identity::{self, IdentityOptions};
use imapsync_proto::command::cmd;
use imapsync_proto::response::{Code, Status, Untagged};
use imapsync_proto::seqset::{STAR, UidSet};

/// Longest UID set put in one command (imapsync keeps command lines under 1000 characters).
pub const MAX_SET_LEN: usize = 900;

/// SELECT (or EXAMINE when `write` is false). `Ok(Err(status))` when the server refuses.
pub async fn select(
    conn: &Connection,
    name: &str,
    write: bool,
) -> Result<Result<Selected, Status>, ConnError> {
    let opts = cmd::SelectOpts {
        condstore: conn.caps().condstore(),
        qresync: None,
    };
    let c = if write {
        cmd::select(name.as_bytes(), &opts)
    } else {
        cmd::examine(name.as_bytes(), &opts)
    };
    let done = conn.run(c).await?;
    if !done.is_ok() {
        return Ok(Err(done.status));
    }
    let mut s = Selected {
        read_only: matches!(done.status.code, Some(Code::ReadOnly)),
        ..Selected::default()
    };
    let mut perm: Option<Vec<String>> = None;
    for u in &done.untagged {
        match u {
            Untagged::Exists(n) => s.exists = *n,
            Untagged::Status(st) => match &st.code {
                Some(Code::UidValidity(v)) => s.uidvalidity = Some(*v),
                Some(Code::UidNext(v)) => s.uidnext = Some(*v),
                Some(Code::HighestModSeq(v)) => s.highestmodseq = Some(*v),
                Some(Code::PermanentFlags(f)) => perm = Some(f.clone()),
                _ => {}
            },
            _ => {}
        }
    }
    if let Some(p) = perm {
        s.permanentflags_shown = p.join(" ");
        if !p.is_empty() && !p.iter().any(|f| f == "\\*") {
            s.permanentflags = p.join(" ");
        }
    }
    Ok(Ok(s))
}

/// What to list.
#[derive(Debug)]
pub struct ListSpec<'a> {
    /// SEARCH criteria (`--search`, `--maxage`...), `None` = all messages.
    pub search: Option<&'a str>,
    /// Only UIDs from this one on.
    pub since_uid: Option<u32>,
    /// Only these UIDs (overrides `search`).
    pub uids: Option<&'a [u32]>,
    /// Without `search` nor `uids`: the UIDs listed (`--fetch_hash_set`), else `1:*`.
    pub fetch_set: Option<&'a str>,
    pub want_date: bool,
    pub want_keys: bool,
    /// Gmail labels (X-GM-LABELS).
    pub want_labels: bool,
    pub identity: &'a IdentityOptions,
}

/// Why a listing did not complete.
#[derive(Debug)]
pub enum ListError {
    Conn(ConnError),
    /// The server refused a SEARCH or FETCH.
    Refused {
        command: &'static str,
        status: Status,
    },
}

impl From<ConnError> for ListError {
    fn from(e: ConnError) -> Self {
        ListError::Conn(e)
    }
}

/// UIDs matching a search.
pub async fn search(conn: &Connection, criteria: &str) -> Result<Vec<u32>, ListError> {
    let esearch = conn.caps().has("ESEARCH");
    let done = conn.run(cmd::uid_search(criteria, esearch)).await?;
    if !done.is_ok() {
        return Err(ListError::Refused {
            command: "UID SEARCH",
            status: done.status,
        });
    }
    let mut uids = Vec::new();
    for u in done.untagged {
        match u {
            Untagged::Search { ids, .. } => uids.extend(ids),
            Untagged::ESearch(es) => {
                if let Some(all) = es.all {
                    uids.extend(all.expand(100_000_000).unwrap_or_default());
                }
            }
            _ => {}
        }
    }
    uids.sort_unstable();
    uids.dedup();
    Ok(uids)
}

fn items(spec: &ListSpec<'_>) -> String {
    let mut s = String::from("UID FLAGS RFC822.SIZE");
    if spec.want_date {
        s.push_str(" INTERNALDATE");
    }
    if spec.want_labels {
        s.push_str(" X-GM-LABELS");
    }
    if spec.want_keys {
        s.push(' ');
        s.push_str(&spec.identity.useheader.fetch_item());
    }
    s
}

/// Lists messages with their keys.
pub async fn list(conn: &Connection, spec: &ListSpec<'_>) -> Result<Vec<Listed>, ListError> {
    let items = items(spec);
    let sets: Vec<UidSet> = match (spec.uids, spec.search) {
        (Some(uids), _) => {
            if uids.is_empty() {
                return Ok(Vec::new());
            }
            UidSet::chunks_by_len(uids, MAX_SET_LEN)
        }
        (None, Some(criteria)) => {
            let mut uids = search(conn, criteria).await?;
            if let Some(since) = spec.since_uid {
                uids.retain(|&u| u >= since);
            }
            UidSet::chunks_by_len(&uids, MAX_SET_LEN)
        }
        (None, None) => match spec.fetch_set.and_then(UidSet::parse) {
            Some(set) => vec![set],
            None => vec![UidSet::range(spec.since_uid.unwrap_or(1).max(1), STAR)],
        },
    };
    let mut out = match sets.as_slice() {
        [one] => list_streamed(conn, one, &items, spec).await?,
        _ => list_collected(conn, &sets, &items, spec).await?,
    };
    out.sort_by_key(|m| m.uid);
    out.dedup_by_key(|m| m.uid);
    if spec.want_keys {
        fill_missing_keys(conn, &mut out, spec.identity).await?;
    }
    Ok(out)
}

/// One listed message from a FETCH answer (`None` for an answer outside the spec).
fn listed(it: imapsync_proto::response::FetchItems, spec: &ListSpec<'_>) -> Option<Listed> {
    let uid = it.uid?;
    if spec.since_uid.is_some_and(|s| uid < s) {
        // `n:*` also matches the last message when n is beyond it.
        return None;
    }
    let size = it.rfc822_size.unwrap_or(0);
    let key = if spec.want_keys {
        it.sections
            .first()
            .and_then(|s| s.data.bytes())
            .and_then(|raw| identity::header_signature(raw, Some(size), spec.identity))
    } else {
        None
    };
    Some(Listed {
        uid,
        size,
        flags: it.flags.map(|f| f.join(" ")).unwrap_or_default(),
        internaldate: it.internaldate,
        key,
        pairwise: false,
        flags_known: true,
        labels: if spec.want_labels {
            Some(it.x_gm_labels.unwrap_or_default())
        } else {
            None
        },
    })
}

/// One command: its answers are streamed (a whole folder's listing is never held as
/// responses); it is the only streaming command on the connection. Refused as busy, it
/// waits as told and lists again from scratch.
async fn list_streamed(
    conn: &Connection,
    set: &UidSet,
    items: &str,
    spec: &ListSpec<'_>,
) -> Result<Vec<Listed>, ListError> {
    let mut attempt = 0;
    loop {
        let mut out = Vec::new();
        let mut st = conn.stream(cmd::uid_fetch(set, items, None, false));
        let status = loop {
            match st.next().await {
                Some(Item::Untagged(Untagged::Fetch { items: it, .. })) => {
                    out.extend(listed(it, spec))
                }
                Some(Item::Done(Ok(status))) => break status,
                Some(Item::Done(Err(e))) => return Err(ListError::Conn(e)),
                Some(_) => {}
                None => return Ok(out),
            }
        };
        if status.is_ok() {
            return Ok(out);
        }
        if attempt < MAX_COMMAND_RETRIES
            && let Some(wait) = pushback::retry_wait(&status, attempt + 1)
        {
            attempt += 1;
            conn.pushed_back("UID FETCH", &status, wait);
            tokio::time::sleep(wait).await;
            continue;
        }
        return Err(ListError::Refused {
            command: "UID FETCH",
            status,
        });
    }
}

/// Several chunks: collected, a few ahead (collecting commands never block the reader, even
/// if the server interleaves their answers).
async fn list_collected(
    conn: &Connection,
    sets: &[UidSet],
    items: &str,
    spec: &ListSpec<'_>,
) -> Result<Vec<Listed>, ListError> {
    let mut out = Vec::new();
    let mut pending = std::collections::VecDeque::new();
    let mut next = 0;
    loop {
        while pending.len() < 4 && next < sets.len() {
            pending.push_back(conn.submit(cmd::uid_fetch(&sets[next], items, None, false)));
            next += 1;
        }
        let Some(p) = pending.pop_front() else {
            return Ok(out);
        };
        let done = p.await?;
        if !done.is_ok() {
            return Err(ListError::Refused {
                command: "UID FETCH",
                status: done.status,
            });
        }
        for u in done.untagged {
            if let Untagged::Fetch { items: it, .. } = u {
                out.extend(listed(it, spec));
            }
        }
    }
}

/// For messages without a key: fetch the whole header; imapsync's key when the wanted headers
/// are there after all, else our fallback key (hash of the whole header and the size).
async fn fill_missing_keys(
    conn: &Connection,
    msgs: &mut [Listed],
    opts: &IdentityOptions,
) -> Result<(), ListError> {
    let missing: Vec<u32> = msgs
        .iter()
        .filter(|m| m.key.is_none())
        .map(|m| m.uid)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let mut headers: std::collections::HashMap<u32, bytes::Bytes> =
        std::collections::HashMap::new();
    for set in UidSet::chunks_by_len(&missing, MAX_SET_LEN) {
        let done = conn
            .run(cmd::uid_fetch(&set, "UID BODY.PEEK[HEADER]", None, false))
            .await?;
        if !done.is_ok() {
            return Err(ListError::Refused {
                command: "UID FETCH",
                status: done.status,
            });
        }
        for u in done.untagged {
            if let Untagged::Fetch { items, .. } = u
                && let (Some(uid), Some(b)) = (
                    items.uid,
                    items.sections.first().and_then(|s| s.data.bytes()),
                )
            {
                headers.insert(uid, b.clone());
            }
        }
    }
    for m in msgs.iter_mut().filter(|m| m.key.is_none()) {
        let Some(h) = headers.get(&m.uid) else {
            continue;
        };
        if let Some(k) = identity::header_signature_whole(h, Some(m.size), opts) {
            m.key = Some(k);
        } else {
            m.key = Some(fallback_key(h, m.size));
            m.pairwise = true;
        }
    }
    Ok(())
}

/// Our key for a message without any identifying header: MD5 of its header block with line
/// ends reduced to LF (servers differ in CRLF handling), plus its size.
pub fn fallback_key(header: &[u8], size: u64) -> String {
    let lf: Vec<u8> = header.iter().copied().filter(|&b| b != b'\r').collect();
    format!("H:{}:{size}", identity::md5_base64(&lf))
}

/// Flags by UID: of every message (`set` = `1:*`) or of a set, optionally only those changed
/// since a modseq (CONDSTORE).
pub async fn flags(
    conn: &Connection,
    uids: Option<&[u32]>,
    changedsince: Option<u64>,
) -> Result<std::collections::HashMap<u32, String>, ListError> {
    let sets = match uids {
        Some([]) => return Ok(Default::default()),
        Some(u) => UidSet::chunks_by_len(u, MAX_SET_LEN),
        None => vec![UidSet::range(1, STAR)],
    };
    let pending: Vec<_> = sets
        .iter()
        .map(|s| conn.submit(cmd::uid_fetch(s, "UID FLAGS", changedsince, false)))
        .collect();
    let mut out = std::collections::HashMap::new();
    for p in pending {
        let done = p.await?;
        if !done.is_ok() {
            return Err(ListError::Refused {
                command: "UID FETCH",
                status: done.status,
            });
        }
        for u in done.untagged {
            if let Untagged::Fetch { items, .. } = u
                && let (Some(uid), Some(f)) = (items.uid, items.flags)
            {
                out.insert(uid, f.join(" "));
            }
        }
    }
    Ok(out)
}

/// QRESYNC (RFC 7162): flags changed since `modseq` (new messages included) and the UIDs
/// expunged since then (`VANISHED (EARLIER)`), in one command.
pub async fn changes_since(
    conn: &Connection,
    modseq: u64,
) -> Result<(std::collections::HashMap<u32, String>, Vec<UidSet>), ListError> {
    let done = conn
        .run(cmd::uid_fetch(
            &UidSet::range(1, STAR),
            "UID FLAGS",
            Some(modseq),
            true,
        ))
        .await?;
    if !done.is_ok() {
        return Err(ListError::Refused {
            command: "UID FETCH",
            status: done.status,
        });
    }
    let mut flags = std::collections::HashMap::new();
    let mut vanished = Vec::new();
    for u in done.untagged {
        match u {
            Untagged::Fetch { items, .. } => {
                if let (Some(uid), Some(f)) = (items.uid, items.flags) {
                    flags.insert(uid, f.join(" "));
                }
            }
            Untagged::Vanished {
                earlier: true,
                uids,
            } => vanished.push(uids),
            _ => {}
        }
    }
    Ok((flags, vanished))
}
