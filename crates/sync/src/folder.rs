//! Syncing one folder pair.
//!
//! 1. **Fast path.** When the state store vouches for the pair (last sync complete, same
//!    options) and the LIST-STATUS values of both sides (UIDVALIDITY, UIDNEXT, message count,
//!    HIGHESTMODSEQ) equal those recorded at its end, nothing changed on either side: the
//!    folder costs no command at all and its counters are replayed from the record.
//! 2. Otherwise both folders are selected and listed (UID, size, flags, date, identity key),
//!    the decision is taken by [`imapsync_plan::diff`] (UID map first, then identity), the
//!    missing messages are copied ([`crate::copy`]) and the flags of the others resynced.
//! 3. The record is saved with the statuses seen at the end, `complete` only when nothing
//!    failed.
//!
//! A connection failure returns [`FolderError::Conn`]; the caller reconnects and runs the
//! folder again — the journal and the identity match make the second attempt copy only what
//! is still missing.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use bytes::Bytes;

use imapsync_client::{ConnError, Connection, Side};
use imapsync_plan::diff::{self, Msg};
use imapsync_plan::flags::{self, BuggyFlagsFilter, FlagOptions, FlagRewrite};
use imapsync_plan::identity;
use imapsync_proto::command::{StoreMode, cmd};
use imapsync_proto::response::{Status, StatusItems};
use imapsync_proto::seqset::UidSet;
use imapsync_state::{MapEntry, NewIntent, SideStatus, Summary};

use crate::copy::{self, CopyItem, CopyOptions, CopySink, Outcome};
use crate::ctx::Ctx;
use crate::listing::{self, ListError, ListSpec, Listed, Selected};

/// One folder pair to sync.
#[derive(Clone, Debug)]
pub struct FolderJob {
    pub index: usize,
    pub total: usize,
    pub name1: String,
    pub name2: String,
    /// Shown names (`[raw] = [utf8]` when not ASCII).
    pub shown1: String,
    pub shown2: String,
    pub exists2: bool,
    /// Several host1 folders map to this host2 folder (no `--delete2` there).
    pub shared2: bool,
    pub status1: Option<StatusItems>,
    pub status2: Option<StatusItems>,
}

/// Why a folder did not finish.
#[derive(Debug)]
pub enum FolderError {
    /// A connection failed: reconnect and retry.
    Conn { side: Side, err: ConnError },
    /// An error was recorded; do not retry.
    Recorded,
}

fn conn_err(side: Side) -> impl Fn(ConnError) -> FolderError {
    move |err| FolderError::Conn { side, err }
}

/// The options that decide what a folder record vouches for.
pub fn fingerprint(ctx: &Ctx) -> String {
    let c = &ctx.cfg;
    let m = &c.messages;
    format!(
        "v1|s1={:?}|s2={:?}|max={:?}|min={:?}|uh={:?}|nodom={}|skipsize={}|syncdup={}|useuid={}|addheader={}|regexflag={}",
        c.side1.search,
        c.side2.search,
        m.maxsize,
        m.minsize,
        m.identity.useheader.names(),
        m.identity.messageidnodomain,
        m.identity.skipsize,
        m.syncduplicates,
        m.useuid,
        m.addheader,
        m.regexflag.len(),
    )
}

fn status_matches(
    st: Option<&StatusItems>,
    uidvalidity: Option<u32>,
    side: &SideStatus,
    need_modseq: bool,
) -> bool {
    let Some(st) = st else { return false };
    let Some(uv) = st.uidvalidity else {
        return false;
    };
    if uidvalidity != Some(uv) {
        return false;
    }
    if st.uidnext.is_none()
        || st.uidnext != side.uidnext
        || st.messages.is_none()
        || st.messages != side.messages
    {
        return false;
    }
    match (st.highestmodseq, side.modseq) {
        (Some(a), Some(b)) => a == b,
        (None, None) => !need_modseq,
        _ => false,
    }
}

/// The fast path: when the state store vouches that neither side changed since the last
/// complete sync of this pair under the same options, prints the folder's lines, replays its
/// counters and returns true. Needs no connection.
pub fn unchanged(ctx: &Ctx, job: &FolderJob) -> bool {
    let cfg = &ctx.cfg;
    let Some(store) = &ctx.store else {
        return false;
    };
    let Ok(r) = store.folder(&job.name1, &job.name2) else {
        return false;
    };
    let fp = fingerprint(ctx);
    let need_modseq = cfg.messages.resyncflags;
    let time_dependent = cfg.messages.minage.is_some();
    // Deletions asked for now may have work in a folder nothing changed in: extras or
    // duplicates the last run left on host2, copies to remove from host1.
    let d = &cfg.delete;
    let deletions_pending = (d.delete2 && r.summary.extra > 0)
        || (d.delete2duplicates && r.summary.dup2 > 0)
        || ((d.delete1 || d.expunge1) && r.summary.n1 > 0)
        || d.expunge2;
    if deletions_pending {
        return false;
    }
    if !(r.complete
        && r.options.as_deref() == Some(fp.as_str())
        && !time_dependent
        && job.exists2
        && status_matches(job.status1.as_ref(), r.uidvalidity1, &r.side1, need_modseq)
        && status_matches(job.status2.as_ref(), r.uidvalidity2, &r.side2, need_modseq))
    {
        return false;
    }
    ctx.out.lines(&[
        folder_line(job),
        format!(
            "Host1: folder [{}] unchanged since the last sync ({} messages), nothing to do",
            job.shown1, r.summary.n1
        ),
    ]);
    let mut st = ctx.stats();
    st.folders_synced += 1;
    st.skipped += r.summary.n1;
    st.bytes_skipped += r.summary.bytes1;
    st.dup1 += r.summary.dup1;
    st.dup2 += r.summary.dup2;
    st.identified1 += r.summary.n1;
    st.identified2 += r.summary.n2;
    st.missing += r.summary.missing;
    st.extra += r.summary.extra;
    true
}

fn folder_line(job: &FolderJob) -> String {
    format!(
        "Folder {:>7} {:<35} -> {:<35}",
        format!("{}/{}", job.index, job.total),
        format!("[{}]", job.shown1),
        format!("[{}]", job.shown2)
    )
}

/// Syncs one folder pair.
pub async fn sync_folder(
    ctx: &Ctx,
    c1: &Connection,
    c2: &Connection,
    job: &FolderJob,
) -> Result<(), FolderError> {
    let cfg = &ctx.cfg;
    let out = &ctx.out;
    let dry = cfg.modes.dry;
    let fp = fingerprint(ctx);
    out.line(folder_line(job));
    let mut rec = match &ctx.store {
        Some(s) => match s.folder(&job.name1, &job.name2) {
            Ok(r) => Some(r),
            Err(e) => {
                out.line(format!(
                    "Warning: state store: {e}; syncing {} without it",
                    job.name1
                ));
                None
            }
        },
        None => None,
    };
    if let (Some(s), Some(r)) = (&ctx.store, &rec) {
        let _ = s.mark_incomplete(r.id);
    }
    // 2. Select both sides.
    let write1 = cfg.delete.delete1 || cfg.delete.expunge1;
    let sel1 = match listing::select(c1, &job.name1, write1)
        .await
        .map_err(conn_err(Side::Host1))?
    {
        Ok(s) => s,
        Err(status) => {
            ctx.error(format!(
                "Host1 folder [{}]: Could not select: {}",
                job.shown1,
                status.full_text()
            ));
            return Err(FolderError::Recorded);
        }
    };
    out.line(format!(
        "Host1: folder [{}] has {} messages in total (mentioned by SELECT)",
        job.shown1, sel1.exists
    ));
    let sel2: Option<Selected> = if !job.exists2 && dry {
        out.line(format!(
            "Host2: folder [{}] does not exist yet; its messages are not simulated in --dry mode",
            job.shown2
        ));
        None
    } else {
        match listing::select(c2, &job.name2, true)
            .await
            .map_err(conn_err(Side::Host2))?
        {
            Ok(s) => Some(s),
            Err(first) => {
                // imapsync: try to create it, then select again.
                if !dry {
                    let _ = c2
                        .run(cmd::create(job.name2.as_bytes()))
                        .await
                        .map_err(conn_err(Side::Host2))?;
                }
                match listing::select(c2, &job.name2, true)
                    .await
                    .map_err(conn_err(Side::Host2))?
                {
                    Ok(s) => Some(s),
                    Err(status) => {
                        let _ = first;
                        ctx.error(format!(
                            "Host2 folder [{}]: Could not select: {}",
                            job.shown2,
                            status.full_text()
                        ));
                        return Err(FolderError::Recorded);
                    }
                }
            }
        }
    };
    if let Some(s2) = &sel2 {
        out.line(format!(
            "Host2: folder [{}] has {} messages in total (mentioned by SELECT)",
            job.shown2, s2.exists
        ));
        out.line(format!(
            "Host2: folder [{}] permanentflags: {}",
            job.shown2, s2.permanentflags_shown
        ));
    }
    // UIDVALIDITY changes invalidate the UID map.
    let mut uidvalidity_changed = false;
    if let (Some(store), Some(r)) = (&ctx.store, &mut rec) {
        let changed1 = r.uidvalidity1.is_some() && r.uidvalidity1 != sel1.uidvalidity;
        let changed2 = match &sel2 {
            Some(s2) => r.uidvalidity2.is_some() && r.uidvalidity2 != s2.uidvalidity,
            None => false,
        };
        if changed1 || changed2 {
            uidvalidity_changed = true;
            out.line(format!(
                "{}: folder [{}] UIDVALIDITY changed since the last sync; UIDs are not trusted, identifying messages by their headers",
                if changed1 { "Host1" } else { "Host2" },
                if changed1 { &job.shown1 } else { &job.shown2 }
            ));
            let _ = store.reset_folder(r.id);
            r.uidvalidity1 = None;
            r.uidvalidity2 = None;
        }
    }
    let map: Vec<MapEntry> = match (&ctx.store, &rec) {
        (Some(store), Some(r)) if !uidvalidity_changed => store.load_map(r.id).unwrap_or_default(),
        _ => Vec::new(),
    };
    let open_intents = match (&ctx.store, &rec) {
        (Some(store), Some(r)) => store.open_intents(r.id).unwrap_or_default(),
        _ => Vec::new(),
    };
    // 3. List both sides: everything, or only what changed since the recorded sync.
    let incremental = match (&rec, &sel2) {
        (Some(r), Some(s2)) => {
            r.complete
                && !uidvalidity_changed
                && open_intents.is_empty()
                && r.options.as_deref() == Some(fp.as_str())
                && r.uidvalidity1.is_some()
                && r.uidvalidity1 == sel1.uidvalidity
                && r.uidvalidity2 == s2.uidvalidity
                && cfg.side1.search.is_none()
                && cfg.side2.search.is_none()
                && !(cfg.delete.delete2 && cfg.messages.syncduplicates)
                && !cfg.messages.skipcrossduplicates
        }
        _ => false,
    };
    let listed = if incremental {
        let (Some(r), Some(s2)) = (&rec, &sel2) else {
            return Err(FolderError::Recorded);
        };
        list_changes(ctx, c1, c2, r, &sel1, s2, &map, &job.shown1).await
    } else {
        list_all(ctx, c1, c2, sel2.is_some()).await
    };
    let (mut list1, list2) = match listed {
        Ok(l) => l,
        Err((side, ListError::Conn(e))) => return Err(FolderError::Conn { side, err: e }),
        Err((side, ListError::Refused { command, status })) => {
            ctx.error(format!(
                "{side} folder [{}]: {command} failed: {}",
                if side == Side::Host1 {
                    &job.shown1
                } else {
                    &job.shown2
                },
                status.full_text()
            ));
            return Err(FolderError::Recorded);
        }
    };
    // --addheader: host1 messages without identifying header get imapsync's invented one.
    if cfg.messages.addheader {
        for m in list1.iter_mut().filter(|m| m.pairwise) {
            m.key = Some(identity::addheader_signature(
                m.uid,
                Some(m.size),
                cfg.messages.identity.skipsize,
            ));
            m.pairwise = false;
        }
    }
    // Client-side age filter when SEARCH is not used for it.
    let list1 = apply_age_filter(ctx, list1);
    out.line(format!(
        "Host1: folder [{}] considering {} messages",
        job.shown1,
        list1.len()
    ));
    if sel2.is_some() {
        out.line(format!(
            "Host2: folder [{}] considering {} messages",
            job.shown2,
            list2.len()
        ));
    }
    // 4. Decide.
    let pairs: Vec<(u32, u32)> = map.iter().map(|e| (e.uid1, e.uid2)).collect();
    let to_msg = |m: &Listed| Msg {
        uid: m.uid,
        size: m.size,
        key: m.key.clone(),
    };
    let msgs1: Vec<Msg> = list1.iter().map(to_msg).collect();
    let msgs2: Vec<Msg> = list2.iter().map(to_msg).collect();
    let pairwise_keys: HashSet<&str> = list1
        .iter()
        .chain(list2.iter())
        .filter(|m| m.pairwise)
        .filter_map(|m| m.key.as_deref())
        .collect();
    let d = diff_with_pairwise(
        &msgs1,
        &msgs2,
        &pairs,
        cfg.messages.syncduplicates,
        cfg.messages.useuid,
        &pairwise_keys,
    );
    let dup1 = d.dup1.len() as u64;
    let dup2 = d.dup2.len() as u64;
    out.line(format!(
        "Host1: folder [{}] selected {} messages, duplicates {}",
        job.shown1,
        list1.len(),
        dup1
    ));
    if sel2.is_some() {
        out.line(format!(
            "Host2: folder [{}] selected {} messages, duplicates {}",
            job.shown2,
            list2.len(),
            dup2
        ));
    }
    // Journal bookkeeping: adopted pairs, stale entries, settled intents.
    if let (Some(store), Some(r)) = (&ctx.store, &rec)
        && !dry
    {
        let flags1: HashMap<u32, &str> = list1.iter().map(|m| (m.uid, m.flags.as_str())).collect();
        let adopted: Vec<MapEntry> = d
            .adopted
            .iter()
            .map(|&(u1, u2)| MapEntry {
                uid1: u1,
                uid2: u2,
                flags: flags1.get(&u1).map(|f| f.to_string()),
            })
            .collect();
        let _ = store.insert_map(r.id, &adopted);
        let stale1: Vec<u32> = d.stale.iter().map(|&(u1, _)| u1).collect();
        let _ = store.remove_uid1(r.id, &stale1);
        // Every host2 message has now been matched by identity: open intents are settled.
        let ids: Vec<i64> = open_intents.iter().map(|i| i.id).collect();
        let _ = store.drop_intents(&ids);
    }
    if !open_intents.is_empty() {
        out.line(format!(
            "Host2: folder [{}] {} copies of an interrupted run were checked by identity ({} found on host2)",
            job.shown2,
            open_intents.len(),
            d.adopted.len()
        ));
    }
    // Counters common to every outcome.
    {
        let mut st = ctx.stats();
        st.dup1 += dup1;
        st.dup2 += dup2;
        st.noheader1 += list1.iter().filter(|m| m.pairwise).count() as u64;
        st.noheader2 += d.unidentified2.len() as u64;
        st.skipped += (d.present.len() + d.dup1.len()) as u64;
        st.bytes_skipped += d.present.iter().map(|&(i, _)| list1[i].size).sum::<u64>();
    }
    let mut folder_ok = true;
    // 5. Copy.
    let perm2 = sel2
        .as_ref()
        .map(|s| s.permanentflags.clone())
        .unwrap_or_default();
    let (host2_flags, updates, new_flags) =
        decide_flags(ctx, &list1, &list2, &d, &perm2, sel2.is_some());
    let mut items: Vec<CopyItem> = Vec::new();
    let mut keys_of: HashMap<u32, Option<String>> = HashMap::new();
    let cross: std::collections::HashSet<String> = if cfg.messages.skipcrossduplicates {
        ctx.cross_keys.lock().map(|k| k.clone()).unwrap_or_default()
    } else {
        Default::default()
    };
    let mut crossdup = 0u64;
    for &i in &d.copy {
        let m = &list1[i];
        if let Some(k) = &m.key
            && cross.contains(k)
        {
            crossdup += 1;
            if cfg.debug {
                out.line(format!(
                    "msg {}/{} is a cross duplicate: already on host2 in a folder synced before",
                    job.name1, m.uid
                ));
            }
            continue;
        }
        if let Some(skip) = imapsync_plan::select::size_filtered(
            Some(m.size),
            ctx.maxsize().map(|v| v as i64),
            cfg.messages.minsize.map(|v| v as i64),
        ) {
            out.line(skip.message(&job.name1, m.uid));
            let mut st = ctx.stats();
            st.skipped += 1;
            st.bytes_skipped += m.size;
            continue;
        }
        let prefix = if cfg.messages.addheader
            && m.key.as_deref().is_some_and(|k| {
                k == identity::addheader_signature(
                    m.uid,
                    Some(m.size),
                    cfg.messages.identity.skipsize,
                )
            }) {
            let mut line = identity::add_header_line(m.uid).into_bytes();
            line.extend_from_slice(b"\r\n");
            Some(Bytes::from(line))
        } else {
            None
        };
        keys_of.insert(m.uid, m.key.clone());
        items.push(CopyItem {
            uid: m.uid,
            size: m.size,
            flags: host2_flags.get(&m.uid).cloned().unwrap_or_default(),
            internaldate: if cfg.messages.syncinternaldates {
                m.internaldate.clone()
            } else {
                None
            },
            prefix,
        });
    }
    if cfg.messages.idatefromheader && !items.is_empty() && !dry {
        dates_from_headers(c1, &mut items)
            .await
            .map_err(conn_err(Side::Host1))?;
    }
    let mut copied_pairs: Vec<(u32, u32)> = Vec::new();
    let size_skipped = (d.copy.len() - items.len()) as u64 - crossdup;
    if crossdup > 0 {
        let mut st = ctx.stats();
        st.crossdup2 += crossdup;
        st.skipped += crossdup;
    }
    let mut missing_after = items.len() as u64;
    if dry {
        for it in &items {
            out.line(format!(
                "msg {}/{:<19} copied to {}/{:<10} (not really since --dry mode)",
                job.name1,
                format!("{} {{{}}}", it.uid, it.size),
                job.name2,
                "?"
            ));
        }
        let mut st = ctx.stats();
        st.transferred_dry += items.len() as u64;
    } else if !items.is_empty() && !cfg.modes.justfolders {
        let opts = CopyOptions {
            folder2: job.name2.clone(),
            multiappend: cfg.messages.multiappend,
            uidnext2: sel2.as_ref().and_then(|s| s.uidnext),
            transform: transformer(ctx),
        };
        let mut sink = Sink {
            ctx,
            job,
            folder_id: rec.as_ref().map(|r| r.id),
            uidvalidity2: sel2.as_ref().and_then(|s| s.uidvalidity),
            keys_of: &keys_of,
            copied: &mut copied_pairs,
            failed: 0,
            done: 0,
            resolved: Vec::new(),
            skipped_toobig: 0,
        };
        let r = copy_split(ctx, c1, c2, &job.name1, &items, &opts, &mut sink).await;
        sink.flush();
        let failed = sink.failed;
        missing_after = items.len() as u64 - sink.done;
        if failed > 0 {
            folder_ok = false;
        }
        if let Err(e) = r {
            // Which side? The copy fails on either; ask the connections.
            let side = if c1.is_alive() {
                Side::Host2
            } else {
                Side::Host1
            };
            return Err(FolderError::Conn { side, err: e });
        }
    }
    // 6. Flag resync for messages already there.
    if !updates.is_empty() {
        let mut pending = Vec::new();
        for (fl, uids) in &updates {
            let list: Vec<String> = fl.split_whitespace().map(str::to_string).collect();
            for set in UidSet::chunks_by_len(uids, listing::MAX_SET_LEN) {
                if dry {
                    out.line(format!(
                        "Host2: flags msg {}/{} would be set to [{}] (not really since --dry mode)",
                        job.name2, set, fl
                    ));
                    continue;
                }
                pending.push((
                    set.clone(),
                    fl.clone(),
                    c2.submit(cmd::uid_store(&set, StoreMode::Replace, &list, true)),
                ));
            }
        }
        for (set, fl, p) in pending {
            let done = p.await.map_err(conn_err(Side::Host2))?;
            if done.is_ok() {
                ctx.stats().flags_updated += set.len();
                if cfg.debug {
                    out.line(format!(
                        "Host2: flags msg {}/{} set to [{}]",
                        job.name2, set, fl
                    ));
                }
            } else {
                folder_ok = false;
                ctx.error(format!(
                    "Host2: flags msg {}/{} could not add flags [{}]: {}",
                    job.name2,
                    set,
                    fl,
                    done.status.full_text()
                ));
            }
        }
        if let (Some(store), Some(r)) = (&ctx.store, &rec)
            && !dry
        {
            let _ = store.update_flags(r.id, &new_flags);
        }
    }
    let present1: HashSet<u32> = d.present.iter().map(|&(i, _)| list1[i].uid).collect();
    let present2: HashSet<u32> = d.present.iter().map(|&(_, u)| u).collect();
    let identified1 = list1
        .iter()
        .filter(|m| m.key.is_some() || present1.contains(&m.uid))
        .count() as u64;
    let identified2 = list2
        .iter()
        .filter(|m| m.key.is_some() || present2.contains(&m.uid))
        .count() as u64
        + copied_pairs.len() as u64;
    // 7. Deletions, each one verified first.
    let mut deleted2: HashSet<u32> = HashSet::new();
    if let Some(s2) = &sel2 {
        let (ok, gone) = delete_on_host2(
            ctx,
            c2,
            job,
            s2,
            &sel1,
            &list1,
            &list2,
            &d,
            uidvalidity_changed,
            &rec,
        )
        .await
        .map_err(conn_err(Side::Host2))?;
        folder_ok &= ok;
        deleted2.extend(gone);
    }
    let extra_left = d.extra2.iter().filter(|u| !deleted2.contains(u)).count() as u64;
    if cfg.delete.delete1 || cfg.delete.expunge1 {
        folder_ok &= delete_on_host1(ctx, c1, job, &list1, &d, &copied_pairs, &rec)
            .await
            .map_err(conn_err(Side::Host1))?;
    }
    if cfg.delete.expunge2 && sel2.is_some() && !dry {
        let done = c2
            .run(cmd::expunge())
            .await
            .map_err(conn_err(Side::Host2))?;
        out.line(format!(
            "Host2: expunging folder [{}]: {}",
            job.shown2,
            done.status.full_text()
        ));
    }
    // 8. Record where both sides stand now.
    if let (Some(store), Some(r)) = (&ctx.store, &mut rec)
        && !dry
        && sel2.is_some()
    {
        let status2 = c2
            .run(cmd::status(job.name2.as_bytes(), status_items(c2)))
            .await
            .map_err(conn_err(Side::Host2))?;
        let mut s2 = SideStatus::default();
        for u in status2.untagged {
            if let imapsync_proto::response::Untagged::MailboxStatus { items, .. } = u {
                s2 = SideStatus {
                    uidnext: items.uidnext,
                    modseq: items.highestmodseq,
                    messages: items.messages,
                };
            }
        }
        r.uidvalidity1 = sel1.uidvalidity;
        r.uidvalidity2 = sel2.as_ref().and_then(|s| s.uidvalidity);
        r.side1 = SideStatus {
            uidnext: sel1.uidnext,
            modseq: sel1.highestmodseq,
            messages: Some(sel1.exists),
        };
        r.side2 = s2;
        let all_selected = cfg.side1.search.is_none() && cfg.side2.search.is_none();
        r.complete =
            folder_ok && missing_after == 0 && all_selected && list1.len() as u32 == sel1.exists;
        r.options = Some(fp.clone());
        r.uids1 = r
            .complete
            .then(|| UidSet::from_uids(list1.iter().map(|m| m.uid)).to_string());
        r.summary = Summary {
            n1: identified1,
            n2: identified2,
            dup1,
            dup2,
            missing: missing_after + size_skipped,
            extra: d.extra2.len() as u64,
            bytes1: list1.iter().map(|m| m.size).sum(),
            bytes2: list2.iter().map(|m| m.size).sum(),
        };
        let _ = store.save_folder(r);
    }
    if cfg.messages.skipcrossduplicates
        && let Ok(mut k) = ctx.cross_keys.lock()
    {
        k.extend(list2.iter().filter_map(|m| m.key.clone()));
        let copied1: HashSet<u32> = copied_pairs.iter().map(|&(u1, _)| u1).collect();
        k.extend(
            list1
                .iter()
                .filter(|m| copied1.contains(&m.uid))
                .filter_map(|m| m.key.clone()),
        );
    }
    {
        let mut st = ctx.stats();
        st.identified1 += identified1;
        st.identified2 += identified2;
        st.missing += missing_after + size_skipped;
        st.extra += extra_left;
        st.folders_synced += 1;
    }
    Ok(())
}

/// The whole-message rewrite of the run (`--skipmess`, `--maxlinelength`, `--regexmess`,
/// `--disarmreadreceipts`), or `None` when there is none: messages then stream untouched.
pub fn transformer(ctx: &Ctx) -> Option<copy::Transformer> {
    let m = &ctx.cfg.messages;
    if m.regexmess.is_empty()
        && m.skipmess.is_empty()
        && !m.disarmreadreceipts
        && m.maxlinelength.is_none()
    {
        return None;
    }
    let skipmess = m.skipmess.clone();
    let regexmess = m.regexmess.clone();
    let disarm = m.disarmreadreceipts;
    let maxline = m.maxlinelength;
    Some(std::sync::Arc::new(move |msg: &Bytes| {
        for e in &skipmess {
            match e.is_match_bytes(msg) {
                Ok(true) => return copy::Transformed::Skip(format!("--skipmess {}", e.source())),
                Ok(false) => {}
                Err(err) => {
                    return copy::Transformed::Skip(format!(
                        "--skipmess {} failing: {err}",
                        e.source()
                    ));
                }
            }
        }
        if let Some(max) = maxline {
            let longest = msg
                .split(|&b| b == b'\n')
                .map(|l| l.len() as u64)
                .max()
                .unwrap_or(0);
            if longest > max {
                return copy::Transformed::Skip(format!(
                    "--maxlinelength {max} (a line of {longest} bytes)"
                ));
            }
        }
        let mut cur: Option<Vec<u8>> = None;
        if disarm {
            cur = disarm_read_receipts(msg).or(cur);
        }
        for e in &regexmess {
            let input: &[u8] = cur.as_deref().unwrap_or(msg);
            match e.apply_bytes(input) {
                Ok(out) => cur = Some(out),
                Err(err) => {
                    return copy::Transformed::Skip(format!(
                        "--regexmess {} failing: {err}",
                        e.source()
                    ));
                }
            }
        }
        match cur {
            Some(v) if v.as_slice() != &msg[..] => copy::Transformed::Replace(Bytes::from(v)),
            _ => copy::Transformed::Keep,
        }
    }))
}

/// Renames `Disposition-Notification-To:` header lines to `X-Disposition-Notification-To:`
/// (in the header only), so that moved messages do not send read receipts again.
fn disarm_read_receipts(msg: &[u8]) -> Option<Vec<u8>> {
    let header_len = identity::header_block(msg).len();
    let (head, body) = msg.split_at(header_len);
    const NAME: &[u8] = b"disposition-notification-to:";
    let mut out = Vec::with_capacity(msg.len() + 8);
    let mut changed = false;
    for line in head.split_inclusive(|&b| b == b'\n') {
        if line.len() >= NAME.len() && line[..NAME.len()].eq_ignore_ascii_case(NAME) {
            out.extend_from_slice(b"X-");
            changed = true;
        }
        out.extend_from_slice(line);
    }
    out.extend_from_slice(body);
    changed.then_some(out)
}

/// A folder with at least this many messages to copy is split by UID range over extra
/// connection pairs, when the per-side connection limits leave some free.
pub const SPLIT_MIN_MESSAGES: usize = 400;
/// ... and only over a link whose round trip is at least this long: on a fast link the
/// destination's own locking of one folder makes parallel APPENDs slower, not faster.
pub const SPLIT_MIN_RTT_US: u64 = 5_000;

/// A copy sink shared by the parallel copies of one folder.
struct SharedSink<'a, 'b>(&'a std::sync::Mutex<&'b mut (dyn CopySink + Send)>);

impl SharedSink<'_, '_> {
    /// Runs `f` on the shared sink (a panicked holder does not stop the others).
    fn with<R>(&self, f: impl FnOnce(&mut (dyn CopySink + Send)) -> R) -> R {
        let mut guard = self.0.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut **guard)
    }
}

impl CopySink for SharedSink<'_, '_> {
    fn intents(&mut self, items: &[&CopyItem], uidnext2: Option<u32>) -> Vec<i64> {
        self.with(|s| s.intents(items, uidnext2))
    }
    fn outcome(&mut self, item: &CopyItem, outcome: Outcome, intent: Option<i64>) {
        self.with(|s| s.outcome(item, outcome, intent))
    }
    fn discard(&mut self, intents: &[i64]) {
        self.with(|s| s.discard(intents))
    }
    fn flush(&mut self) {
        self.with(|s| s.flush())
    }
    fn pause(&mut self) -> Option<std::time::Duration> {
        self.with(|s| s.pause())
    }
    fn stop(&self) -> bool {
        self.with(|s| s.stop())
    }
    fn pushed_back(&mut self, status: &Status, wait: std::time::Duration, n: usize) {
        self.with(|s| s.pushed_back(status, wait, n))
    }
}

/// Copies `items`, splitting a big folder by UID range over extra connection pairs when the
/// per-side connection limits allow (each extra pair selects the host1 folder read-only;
/// host2 needs no selection to APPEND).
#[allow(clippy::too_many_arguments)]
async fn copy_split(
    ctx: &Ctx,
    c1: &Connection,
    c2: &Connection,
    folder1: &str,
    items: &[CopyItem],
    opts: &CopyOptions,
    sink: &mut (dyn CopySink + Send),
) -> Result<(), ConnError> {
    let mut extra = Vec::new();
    let slow_link = ctx.rtt_us.load(std::sync::atomic::Ordering::Relaxed) >= SPLIT_MIN_RTT_US;
    if items.len() >= SPLIT_MIN_MESSAGES && slow_link {
        let wanted = (items.len() / (SPLIT_MIN_MESSAGES / 2))
            .min(ctx.cfg.side1.connections.min(ctx.cfg.side2.connections));
        for _ in 1..wanted {
            let Some(slots) = ctx.try_connection_slots() else {
                break;
            };
            let (a, b) = tokio::join!(
                crate::run::open_side_quiet(ctx, Side::Host1),
                crate::run::open_side_quiet(ctx, Side::Host2)
            );
            let (Some(a), Some(b)) = (a, b) else { break };
            match listing::select(&a, folder1, false).await {
                Ok(Ok(_)) => extra.push((a, b, slots)),
                _ => {
                    a.logout().await;
                    b.logout().await;
                    break;
                }
            }
        }
    }
    if extra.is_empty() {
        return copy::copy(c1, c2, items, opts, ctx.budget.clone(), sink).await;
    }
    let parts = extra.len() + 1;
    ctx.out.line(format!(
        "Host1: folder [{folder1}] {} messages to copy, split over {parts} connection pairs",
        items.len()
    ));
    let chunk = items.len().div_ceil(parts);
    let shared = std::sync::Mutex::new(sink);
    let mut pairs: Vec<(&Connection, &Connection)> = vec![(c1, c2)];
    pairs.extend(extra.iter().map(|(a, b, _)| (a, b)));
    let jobs = items.chunks(chunk).zip(pairs).map(|(part, (a, b))| {
        let shared = &shared;
        let budget = ctx.budget.clone();
        async move {
            let mut s = SharedSink(shared);
            copy::copy(a, b, part, opts, budget, &mut s).await
        }
    });
    let results = futures_join_all(jobs).await;
    for (a, b, _) in &extra {
        a.logout().await;
        b.logout().await;
    }
    results.into_iter().collect()
}

/// Runs futures concurrently on this task and returns their results in order.
async fn futures_join_all<F: std::future::Future>(
    futs: impl IntoIterator<Item = F>,
) -> Vec<F::Output> {
    let mut set: Vec<std::pin::Pin<Box<F>>> = futs.into_iter().map(Box::pin).collect();
    let mut out: Vec<Option<F::Output>> = (0..set.len()).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, f) in set.iter_mut().enumerate() {
            if out[i].is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => out[i] = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter().flatten().collect()
}

/// `--delete2` / `--delete2duplicates` in one folder: host2 messages with no host1 counterpart
/// (or duplicates) are flagged `\Deleted` and removed with `UID EXPUNGE` — never a plain
/// EXPUNGE, which would also purge what the user flagged by hand. Refused when the host1
/// listing is not known to be complete, when a UIDVALIDITY changed in this run, or when
/// several host1 folders feed this host2 folder. Returns false when something failed.
#[allow(clippy::too_many_arguments)]
async fn delete_on_host2(
    ctx: &Ctx,
    c2: &Connection,
    job: &FolderJob,
    sel2: &Selected,
    sel1: &Selected,
    list1: &[Listed],
    list2: &[Listed],
    d: &diff::Diff,
    uidvalidity_changed: bool,
    rec: &Option<imapsync_state::FolderRecord>,
) -> Result<(bool, Vec<u32>), ConnError> {
    let cfg = &ctx.cfg;
    let del = &cfg.delete;
    let dups = del.delete2duplicates || (del.delete2 && !cfg.messages.syncduplicates);
    let mut targets: Vec<u32> = Vec::new();
    if del.delete2 {
        targets.extend(&d.extra2);
    }
    if dups {
        targets.extend(&d.dup2);
    }
    if targets.is_empty() {
        return Ok((true, Vec::new()));
    }
    targets.sort_unstable();
    targets.dedup();
    let out = &ctx.out;
    let refuse = |why: &str| {
        out.line(format!(
            "Host2: folder [{}]: NOT deleting {} messages: {why}",
            job.shown2,
            targets.len()
        ));
    };
    // A refusal leaves the folder marked incomplete, so the next run looks again.
    if uidvalidity_changed {
        refuse("a UIDVALIDITY changed in this run, UIDs can not be trusted");
        return Ok((false, Vec::new()));
    }
    if job.shared2 {
        refuse("several host1 folders are synced into this host2 folder");
        return Ok((false, Vec::new()));
    }
    let selection_free = cfg.side1.search.is_none()
        && cfg.messages.maxage.is_none()
        && cfg.messages.minage.is_none();
    if selection_free && list1.len() as u32 != sel1.exists {
        refuse(&format!(
            "the host1 listing has {} messages but SELECT announced {}: it may be incomplete",
            list1.len(),
            sel1.exists
        ));
        return Ok((false, Vec::new()));
    }
    let keys: HashMap<u32, &str> = list2
        .iter()
        .filter_map(|m| m.key.as_deref().map(|k| (m.uid, k)))
        .collect();
    let dry = cfg.modes.dry;
    let suffix = if dry {
        "\t(not really since --dry mode)"
    } else {
        ""
    };
    let extra: HashSet<u32> = d.extra2.iter().copied().collect();
    let lines: Vec<String> = targets
        .iter()
        .map(|u| {
            format!(
                "Host2: msg {}/{u} marked \\Deleted on host2 [{}]{}{suffix}",
                job.name2,
                keys.get(u).copied().unwrap_or(""),
                if extra.contains(u) {
                    ""
                } else {
                    " [duplicate]"
                }
            )
        })
        .collect();
    out.lines(&lines);
    if dry {
        return Ok((true, Vec::new()));
    }
    let mut ok = true;
    let mut deleted: Vec<u32> = Vec::new();
    for set in UidSet::chunks_by_len(&targets, listing::MAX_SET_LEN) {
        let done = c2
            .run(cmd::uid_store(
                &set,
                StoreMode::Add,
                &["\\Deleted".to_string()],
                true,
            ))
            .await?;
        if !done.is_ok() {
            ok = false;
            ctx.error(format!(
                "Host2: flags msg {}/{set} could not add flags [\\Deleted]: {}",
                job.name2,
                done.status.full_text()
            ));
            continue;
        }
        if c2.caps().has("UIDPLUS") {
            let done = c2.run(cmd::uid_expunge(&set)).await?;
            if done.is_ok() {
                deleted.extend(set.expand(1_000_000).unwrap_or_default());
            } else {
                ok = false;
                ctx.error(format!(
                    "Host2: folder {}: UID EXPUNGE {set} failed: {}",
                    job.name2,
                    done.status.full_text()
                ));
            }
        } else {
            deleted.extend(set.expand(1_000_000).unwrap_or_default());
        }
    }
    if c2.caps().has("UIDPLUS") {
        out.line(format!(
            "Host2: UidExpunging {} message(s) in folder {}",
            deleted.len(),
            job.name2
        ));
    } else {
        out.line(format!(
            "Host2: folder {}: no UIDPLUS, so {} message(s) are only flagged \\Deleted (a plain EXPUNGE would also purge messages flagged by hand); use --expunge2 to remove them",
            job.name2,
            deleted.len()
        ));
    }
    if let (Some(store), Some(r)) = (&ctx.store, rec) {
        let _ = store.remove_uid2(r.id, &deleted);
    }
    ctx.stats().deleted2 += deleted.len() as u64;
    let _ = sel2;
    Ok((ok, deleted))
}

/// `--delete1` (and `--expunge1`): host1 messages whose copy on host2 is confirmed — found
/// there by identity or the UID map in this run, or appended with an APPENDUID answer — are
/// flagged `\Deleted` and expunged (UID EXPUNGE when host1 has UIDPLUS). Nothing else is.
async fn delete_on_host1(
    ctx: &Ctx,
    c1: &Connection,
    job: &FolderJob,
    list1: &[Listed],
    d: &diff::Diff,
    copied: &[(u32, u32)],
    rec: &Option<imapsync_state::FolderRecord>,
) -> Result<bool, ConnError> {
    let cfg = &ctx.cfg;
    let out = &ctx.out;
    let dry = cfg.modes.dry;
    let mut ok = true;
    let mut deleted: Vec<u32> = Vec::new();
    if cfg.delete.delete1 {
        let mut confirmed: Vec<u32> = d.present.iter().map(|&(i, _)| list1[i].uid).collect();
        confirmed.extend(copied.iter().filter(|(_, u2)| *u2 != 0).map(|(u1, _)| *u1));
        confirmed.sort_unstable();
        confirmed.dedup();
        if !confirmed.is_empty() {
            let suffix = if dry {
                "\t(not really since --dry mode)"
            } else {
                ""
            };
            out.lines(
                &confirmed
                    .iter()
                    .map(|u| {
                        format!(
                            "Host1: {}/{u} marking deleted{}{suffix}",
                            job.name1,
                            if cfg.delete.expunge1 {
                                " and expunged"
                            } else {
                                ""
                            }
                        )
                    })
                    .collect::<Vec<_>>(),
            );
        }
        if !dry {
            for set in UidSet::chunks_by_len(&confirmed, listing::MAX_SET_LEN) {
                let done = c1
                    .run(cmd::uid_store(
                        &set,
                        StoreMode::Add,
                        &["\\Deleted".to_string()],
                        true,
                    ))
                    .await?;
                if done.is_ok() {
                    deleted.extend(set.expand(1_000_000).unwrap_or_default());
                } else {
                    ok = false;
                    ctx.error(format!(
                        "Host1: flags msg {}/{set} could not add flags [\\Deleted]: {}",
                        job.name1,
                        done.status.full_text()
                    ));
                }
            }
        }
    }
    if cfg.delete.expunge1 && !dry {
        let done = if c1.caps().has("UIDPLUS") && cfg.delete.delete1 {
            if deleted.is_empty() {
                None
            } else {
                Some(
                    c1.run(cmd::uid_expunge(&UidSet::from_uids(
                        deleted.iter().copied(),
                    )))
                    .await?,
                )
            }
        } else {
            Some(c1.run(cmd::expunge()).await?)
        };
        if let Some(done) = done
            && !done.is_ok()
        {
            ok = false;
            ctx.error(format!(
                "Host1: folder {}: expunge failed: {}",
                job.name1,
                done.status.full_text()
            ));
        }
    }
    if !deleted.is_empty() {
        if let (Some(store), Some(r)) = (&ctx.store, rec) {
            let _ = store.remove_uid1(r.id, &deleted);
        }
        ctx.stats().deleted1 += deleted.len() as u64;
    }
    Ok(ok)
}

type FlagUpdates = BTreeMap<String, Vec<u32>>;
/// Flags per host1 UID to copy, STOREs to send, new flags per host1 UID.
type FlagDecision = (HashMap<u32, Vec<String>>, FlagUpdates, Vec<(u32, String)>);

type Listings = (Vec<Listed>, Vec<Listed>);
type ListFail = (Side, ListError);

/// Both sides in full: every message with its size, flags, date (host1) and key.
async fn list_all(
    ctx: &Ctx,
    c1: &Connection,
    c2: &Connection,
    have2: bool,
) -> Result<Listings, ListFail> {
    let cfg = &ctx.cfg;
    let ident = &cfg.messages.identity;
    let want_keys = !cfg.messages.useuid;
    let spec1 = ListSpec {
        search: cfg.side1.search.as_deref(),
        since_uid: None,
        uids: None,
        want_date: true,
        want_keys,
        identity: ident,
    };
    let spec2 = ListSpec {
        search: cfg.side2.search.as_deref(),
        since_uid: None,
        uids: None,
        want_date: false,
        want_keys,
        identity: ident,
    };
    let (l1, l2) = tokio::join!(listing::list(c1, &spec1), async {
        if have2 {
            listing::list(c2, &spec2).await
        } else {
            Ok(Vec::new())
        }
    });
    let l1 = l1.map_err(|e| (Side::Host1, e))?;
    let l2 = l2.map_err(|e| (Side::Host2, e))?;
    Ok((l1, l2))
}

/// Both sides relative to the recorded sync (same UIDVALIDITYs, complete, same options):
/// UIDs present (one SEARCH per side), flags changed since the recorded HIGHESTMODSEQ
/// (CONDSTORE) or all flags, and full details only for messages not in the UID map.
/// Host2 flags are fetched only where host1 flags changed when host2 itself did not change.
#[allow(clippy::too_many_arguments)]
async fn list_changes(
    ctx: &Ctx,
    c1: &Connection,
    c2: &Connection,
    rec: &imapsync_state::FolderRecord,
    sel1: &Selected,
    sel2: &Selected,
    map: &[MapEntry],
    shown1: &str,
) -> Result<Listings, ListFail> {
    let cfg = &ctx.cfg;
    let ident = &cfg.messages.identity;
    let want_keys = !cfg.messages.useuid;
    let host2_unchanged = sel2.highestmodseq.is_some()
        && sel2.highestmodseq == rec.side2.modseq
        && sel2.uidnext == rec.side2.uidnext
        && Some(sel2.exists) == rec.side2.messages;
    let since1 = if host2_unchanged && sel1.highestmodseq.is_some() {
        rec.side1.modseq
    } else {
        None
    };
    // With QRESYNC, host1's UIDs come from the recorded set minus what VANISHED since the
    // recorded HIGHESTMODSEQ plus what changed: one command, no full UID listing. The result
    // must add up to the EXISTS of the SELECT, or the full listing is used. Runs that delete
    // on host2 always list in full.
    let base1 = rec.uids1.as_deref().and_then(UidSet::parse);
    let qresync = match (since1, &base1) {
        (Some(m), Some(_))
            if c1.qresync_enabled()
                && !cfg.delete.delete2
                && !cfg.delete.delete2duplicates
                && sel1.highestmodseq >= Some(m) =>
        {
            Some(m)
        }
        _ => None,
    };
    let h1 = async {
        if let (Some(m), Some(base)) = (qresync, &base1) {
            let (flags, vanished) = listing::changes_since(c1, m).await?;
            // (A recorded set far bigger than the folder is not expanded: full listing.)
            let limit = (sel1.exists as usize).saturating_mul(4).max(100_000);
            let mut all: Vec<u32> = base.expand(limit).unwrap_or_default();
            all.retain(|u| !vanished.iter().any(|v| v.contains(*u)));
            all.extend(flags.keys().copied());
            all.sort_unstable();
            all.dedup();
            if all.len() == sel1.exists as usize {
                let gone: u64 = vanished.iter().map(|v| v.len()).sum();
                return Ok::<_, ListError>((all, flags, Some(gone)));
            }
            return Ok((listing::search(c1, "ALL").await?, flags, None));
        }
        let all = listing::search(c1, "ALL");
        let flags = listing::flags(c1, None, since1);
        let (all, flags) = tokio::join!(all, flags);
        Ok((all?, flags?, None))
    };
    let h2 = async {
        if host2_unchanged {
            Ok::<_, ListError>((listing::search(c2, "ALL").await?, None))
        } else {
            let f = listing::flags(c2, None, None).await?;
            let mut all: Vec<u32> = f.keys().copied().collect();
            all.sort_unstable();
            Ok((all, Some(f)))
        }
    };
    let (r1, r2) = tokio::join!(h1, h2);
    let (all1, flags1, vanished1) = r1.map_err(|e| (Side::Host1, e))?;
    if let Some(gone) = vanished1 {
        ctx.out.line(format!(
            "Host1: folder [{}] QRESYNC: {} changed and up to {gone} expunged since the last sync",
            shown1,
            flags1.len()
        ));
    }
    let (all2, flags2_all) = r2.map_err(|e| (Side::Host2, e))?;
    let set1: HashSet<u32> = all1.iter().copied().collect();
    let set2: HashSet<u32> = all2.iter().copied().collect();
    // Pairs whose both ends still exist.
    let pairs: HashMap<u32, u32> = map
        .iter()
        .filter(|e| set1.contains(&e.uid1) && set2.contains(&e.uid2))
        .map(|e| (e.uid1, e.uid2))
        .collect();
    let paired2: HashSet<u32> = pairs.values().copied().collect();
    let unpaired1: Vec<u32> = all1
        .iter()
        .copied()
        .filter(|u| !pairs.contains_key(u))
        .collect();
    let unpaired2: Vec<u32> = all2
        .iter()
        .copied()
        .filter(|u| !paired2.contains(u))
        .collect();
    // Host2 messages nobody paired may be duplicates of paired ones, whose keys the
    // incremental listing does not fetch: when they are to be deleted, classify them from a
    // full listing instead of guessing.
    if (cfg.delete.delete2 || cfg.delete.delete2duplicates) && !unpaired2.is_empty() {
        return list_all(ctx, c1, c2, true).await;
    }
    // Host2 flags needed: where host1 flags changed (when host2 flags were not all fetched).
    let need2: Vec<u32> = if flags2_all.is_none() {
        flags1
            .keys()
            .filter_map(|u1| pairs.get(u1).copied())
            .collect()
    } else {
        Vec::new()
    };
    let spec1 = ListSpec {
        search: None,
        since_uid: None,
        uids: Some(&unpaired1),
        want_date: true,
        want_keys,
        identity: ident,
    };
    let spec2 = ListSpec {
        search: None,
        since_uid: None,
        uids: Some(&unpaired2),
        want_date: false,
        want_keys,
        identity: ident,
    };
    let (full1, full2, f2) = tokio::join!(
        listing::list(c1, &spec1),
        listing::list(c2, &spec2),
        listing::flags(c2, Some(&need2), None)
    );
    let full1 = full1.map_err(|e| (Side::Host1, e))?;
    let full2 = full2.map_err(|e| (Side::Host2, e))?;
    let some_flags2 = f2.map_err(|e| (Side::Host2, e))?;
    let flags2 = flags2_all.unwrap_or(some_flags2);
    let stub = |uid: u32, flags: Option<&String>| Listed {
        uid,
        size: 0,
        flags: flags.cloned().unwrap_or_default(),
        internaldate: None,
        key: None,
        pairwise: false,
        flags_known: flags.is_some(),
    };
    let mut list1: Vec<Listed> = full1;
    list1.extend(pairs.keys().map(|&u| stub(u, flags1.get(&u))));
    list1.sort_by_key(|m| m.uid);
    let mut list2: Vec<Listed> = full2;
    list2.extend(paired2.iter().map(|&u| stub(u, flags2.get(&u))));
    list2.sort_by_key(|m| m.uid);
    ctx.out.line(format!(
        "Host1: {} messages unchanged since the last sync are paired through the state store; {} listed in full, {} flag changes",
        pairs.len(),
        unpaired1.len(),
        flags1.len()
    ));
    Ok((list1, list2))
}

/// `--idatefromheader`: the internal date of each copy comes from its `Date:` header (when
/// imapsync's date normaliser recognises it; otherwise host1's internal date stays).
async fn dates_from_headers(c1: &Connection, items: &mut [CopyItem]) -> Result<(), ConnError> {
    let uids: Vec<u32> = items.iter().map(|i| i.uid).collect();
    let mut dates: HashMap<u32, String> = HashMap::new();
    for set in UidSet::chunks_by_len(&uids, listing::MAX_SET_LEN) {
        let done = c1
            .run(cmd::uid_fetch(
                &set,
                "UID BODY.PEEK[HEADER.FIELDS (DATE)]",
                None,
                false,
            ))
            .await?;
        for u in done.untagged {
            let imapsync_proto::response::Untagged::Fetch { items, .. } = u else {
                continue;
            };
            let (Some(uid), Some(raw)) = (
                items.uid,
                items.sections.first().and_then(|s| s.data.bytes()),
            ) else {
                continue;
            };
            let fields = identity::parse_header_fields(raw);
            let Some(date) = fields.iter().find(|f| f.name.eq_ignore_ascii_case(b"date")) else {
                continue;
            };
            let good = imapsync_plan::dates::good_date(&date.value);
            if good.starts_with('"') {
                dates.insert(uid, good.trim_matches('"').to_string());
            }
        }
    }
    for it in items.iter_mut() {
        if let Some(d) = dates.remove(&it.uid) {
            it.internaldate = Some(d);
        }
    }
    Ok(())
}

/// Flags for host2: those of each message to copy (by host1 UID), and the STOREs that make
/// the flags of present messages equal to host1's (grouped by flag list), with the new flags
/// per host1 UID for the state store.
fn decide_flags(
    ctx: &Ctx,
    list1: &[Listed],
    list2: &[Listed],
    d: &diff::Diff,
    perm2: &str,
    have2: bool,
) -> FlagDecision {
    let cfg = &ctx.cfg;
    let flag_opts = FlagOptions {
        flagscase: cfg.messages.flagscase,
        filterflags: cfg.messages.filterflags,
    };
    let closures: Vec<_> = cfg
        .messages
        .regexflag
        .iter()
        .map(|e| move |s: &str| e.apply(s).map_err(|err| err.to_string()))
        .collect();
    let mut rewriters: Vec<&dyn FlagRewrite> = Vec::new();
    if cfg.messages.filterbuggyflags {
        rewriters.push(&BuggyFlagsFilter);
    }
    for c in &closures {
        rewriters.push(c);
    }
    let mut for_copy = HashMap::new();
    for &i in &d.copy {
        let m = &list1[i];
        let f = flags::flags_for_host2(&m.flags, &flag_opts, perm2, &rewriters);
        for_copy.insert(
            m.uid,
            f.flags.split_whitespace().map(str::to_string).collect(),
        );
    }
    let mut updates: FlagUpdates = BTreeMap::new();
    let mut new_flags = Vec::new();
    if cfg.messages.resyncflags && have2 {
        let flags2: HashMap<u32, &str> = list2
            .iter()
            .filter(|m| m.flags_known)
            .map(|m| (m.uid, m.flags.as_str()))
            .collect();
        for &(i, u2) in &d.present {
            let m = &list1[i];
            if !m.flags_known {
                continue;
            }
            let Some(h2) = flags2.get(&u2) else { continue };
            let r = flags::flags_resync(&m.flags, h2, &flag_opts, perm2, &rewriters);
            if r.differ {
                updates.entry(r.h1_sorted.join(" ")).or_default().push(u2);
                new_flags.push((m.uid, r.h1_sorted.join(" ")));
            }
        }
    }
    (for_copy, updates, new_flags)
}

fn status_items(c: &Connection) -> &'static str {
    if c.caps().condstore() {
        "MESSAGES UIDNEXT UIDVALIDITY HIGHESTMODSEQ"
    } else {
        "MESSAGES UIDNEXT UIDVALIDITY"
    }
}

fn apply_age_filter(ctx: &Ctx, list: Vec<Listed>) -> Vec<Listed> {
    let m = &ctx.cfg.messages;
    if (m.maxage.is_none() && m.minage.is_none()) || ctx.cfg.side1.search.is_some() {
        return list;
    }
    let now = ctx.started_epoch;
    list.into_iter()
        .filter(|msg| {
            let epoch = msg
                .internaldate
                .as_deref()
                .and_then(|d| imapsync_plan::dates::parse_internaldate(d).ok())
                .map(|d| d.epoch);
            let newer = m
                .maxage
                .map(|a| imapsync_plan::dates::in_maxage_window(epoch, now as i64, a));
            let older = m
                .minage
                .map(|a| imapsync_plan::dates::in_minage_window(epoch, now as i64, a));
            match (newer, older, m.maxage, m.minage) {
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
        })
        .collect()
}

/// [`diff::diff`] where fallback-keyed messages pair n-th with n-th (never "duplicates").
fn diff_with_pairwise(
    h1: &[Msg],
    h2: &[Msg],
    map: &[(u32, u32)],
    syncdup: bool,
    useuid: bool,
    pairwise: &HashSet<&str>,
) -> diff::Diff {
    if pairwise.is_empty() || syncdup {
        return diff::diff(&diff::Input {
            host1: h1,
            host2: h2,
            map,
            host1_all: None,
            host2_all: None,
            syncduplicates: syncdup,
            useuid,
        });
    }
    // Decide normal keys and fallback keys separately, then merge.
    let split = |v: &[Msg], pw: bool| -> Vec<Msg> {
        v.iter()
            .filter(|m| m.key.as_deref().is_some_and(|k| pairwise.contains(k)) == pw)
            .cloned()
            .collect()
    };
    let all1: HashSet<u32> = h1.iter().map(|m| m.uid).collect();
    let all2: HashSet<u32> = h2.iter().map(|m| m.uid).collect();
    let (n1, n2, p1, p2) = (
        split(h1, false),
        split(h2, false),
        split(h1, true),
        split(h2, true),
    );
    let a = diff::diff(&diff::Input {
        host1: &n1,
        host2: &n2,
        map,
        host1_all: Some(&all1),
        host2_all: Some(&all2),
        syncduplicates: false,
        useuid,
    });
    let b = diff::diff(&diff::Input {
        host1: &p1,
        host2: &p2,
        map,
        host1_all: Some(&all1),
        host2_all: Some(&all2),
        syncduplicates: true,
        useuid,
    });
    // Re-index into h1.
    let index: HashMap<u32, usize> = h1.iter().enumerate().map(|(i, m)| (m.uid, i)).collect();
    let re = |list: &[Msg], i: usize| list.get(i).and_then(|m| index.get(&m.uid).copied());
    let mut out = diff::Diff::default();
    for i in a
        .copy
        .iter()
        .filter_map(|&i| re(&n1, i))
        .chain(b.copy.iter().filter_map(|&i| re(&p1, i)))
    {
        out.copy.push(i);
    }
    out.copy.sort_unstable();
    out.present = a
        .present
        .iter()
        .filter_map(|&(i, u)| re(&n1, i).map(|j| (j, u)))
        .chain(
            b.present
                .iter()
                .filter_map(|&(i, u)| re(&p1, i).map(|j| (j, u))),
        )
        .collect();
    // A mapped pair appears in both halves' `present` only through the half holding uid1.
    out.present.sort_unstable();
    out.present.dedup();
    out.adopted = a.adopted.into_iter().chain(b.adopted).collect();
    out.dup1 = a.dup1.iter().filter_map(|&i| re(&n1, i)).collect();
    out.dup2 = a.dup2;
    out.extra2 = a.extra2;
    // Fallback-keyed host2 leftovers are treated like unidentified ones: never deleted.
    out.unidentified2 = a
        .unidentified2
        .into_iter()
        .chain(b.extra2)
        .chain(b.unidentified2)
        .collect();
    out.stale = a.stale;
    out.stale.retain(|s| b.stale.contains(s));
    out.unidentified1 = a.unidentified1 + b.unidentified1;
    out
}

struct Sink<'a> {
    ctx: &'a Ctx,
    job: &'a FolderJob,
    folder_id: Option<i64>,
    uidvalidity2: Option<u32>,
    keys_of: &'a HashMap<u32, Option<String>>,
    copied: &'a mut Vec<(u32, u32)>,
    failed: u64,
    done: u64,
    /// Journal entries to settle in one transaction (per APPEND command).
    resolved: Vec<(i64, MapEntry)>,
    skipped_toobig: u64,
}

impl CopySink for Sink<'_> {
    fn intents(&mut self, items: &[&CopyItem], uidnext2: Option<u32>) -> Vec<i64> {
        let (Some(store), Some(id)) = (&self.ctx.store, self.folder_id) else {
            return Vec::new();
        };
        let news: Vec<NewIntent> = items
            .iter()
            .map(|it| NewIntent {
                uid1: it.uid,
                key: self.keys_of.get(&it.uid).cloned().flatten(),
                size: it.size,
                uidvalidity2: self.uidvalidity2,
                uidnext2,
            })
            .collect();
        store.add_intents(id, &news).unwrap_or_default()
    }

    fn outcome(&mut self, item: &CopyItem, outcome: Outcome, intent: Option<i64>) {
        let ctx = self.ctx;
        match outcome {
            Outcome::Copied { uid2, bytes } => {
                self.done += 1;
                // Without UIDPLUS the intent stays: the next run matches by identity.
                if let (Some(intent), Some(u2)) = (intent, uid2) {
                    self.resolved.push((
                        intent,
                        MapEntry {
                            uid1: item.uid,
                            uid2: u2,
                            flags: Some(item.flags.join(" ")),
                        },
                    ));
                }
                if let Some(u2) = uid2 {
                    self.copied.push((item.uid, u2));
                } else {
                    self.copied.push((item.uid, 0));
                }
                let (count, total_bytes, elapsed) = {
                    let mut st = ctx.stats();
                    st.transferred += 1;
                    st.bytes_transferred += bytes;
                    st.biggest_transferred = st.biggest_transferred.max(bytes);
                    (st.transferred, st.bytes_transferred, ctx.elapsed())
                };
                if let Some(msg) = imapsync_plan::throttle::total_bytes_max_reached(
                    ctx.cfg.rates.exitwhenover,
                    total_bytes,
                ) && !ctx.aborted()
                {
                    ctx.error(msg);
                    ctx.abort();
                }
                let rate = if elapsed > 0.0 {
                    count as f64 / elapsed
                } else {
                    0.0
                };
                let byterate = if elapsed > 0.0 {
                    total_bytes as f64 / elapsed
                } else {
                    0.0
                };
                ctx.out.line(format!(
                    "msg {}/{:<19} copied to {}/{:<10} {:.2} msgs/s  {}/s {} copied",
                    self.job.name1,
                    format!("{} {{{}}}", item.uid, bytes),
                    self.job.name2,
                    uid2.map(|u| u.to_string()).unwrap_or_else(|| "?".into()),
                    rate,
                    imapsync_plan::display::bytes_display_string_bin(byterate),
                    imapsync_plan::display::bytes_display_string_bin(total_bytes as f64),
                ));
            }
            Outcome::Skipped { reason } => {
                self.failed += 1;
                self.skipped_toobig += 1;
                ctx.out.line(format!(
                    "- msg {}/{} {{{}}} skipped by {reason}",
                    self.job.name1, item.uid, item.size
                ));
                let mut st = ctx.stats();
                st.skipped += 1;
                st.bytes_skipped += item.size;
            }
            Outcome::TooBig { status, bytes } => {
                // Skipped and reported, like a --maxsize skip: not an error.
                self.failed += 1;
                self.skipped_toobig += 1;
                if let (Some(store), Some(intent)) = (&ctx.store, intent) {
                    let _ = store.drop_intents(&[intent]);
                }
                ctx.out.line(format!(
                    "msg {}/{} {{{bytes}}} skipped: host2 refuses it as too big: {}",
                    self.job.name1,
                    item.uid,
                    status.full_text()
                ));
                let mut st = ctx.stats();
                st.skipped += 1;
                st.bytes_skipped += bytes;
            }
            Outcome::Refused { status, bytes } => {
                self.failed += 1;
                if let (Some(store), Some(intent)) = (&ctx.store, intent) {
                    let _ = store.drop_intents(&[intent]);
                }
                if imapsync_client::pushback::of_status(&status)
                    == imapsync_client::pushback::PushBack::OverQuota
                {
                    if !ctx.aborted() {
                        ctx.error(format!(
                            "- msg {}/{} {{{bytes}}} could not append to folder {}: {} — host2 is over quota (OVERQUOTA), stopping the sync: free space on host2 or raise its quota, then sync again",
                            self.job.name1,
                            item.uid,
                            self.job.name2,
                            status.full_text()
                        ));
                        ctx.abort();
                    }
                    return;
                }
                ctx.error(format!(
                    "- msg {}/{} {{{}}} could not append ( Subject:[], Date:[{}], Size:[{}], Flags:[{}] ) to folder {}: {}",
                    self.job.name1,
                    item.uid,
                    bytes,
                    item.internaldate.clone().unwrap_or_default(),
                    bytes,
                    item.flags.join(" "),
                    self.job.name2,
                    status.full_text()
                ));
            }
            Outcome::FetchFailed { reason } => {
                self.failed += 1;
                ctx.error(format!("- msg {}/{} {}", self.job.name1, item.uid, reason));
            }
        }
    }

    fn discard(&mut self, intents: &[i64]) {
        if let Some(store) = &self.ctx.store {
            let _ = store.drop_intents(intents);
        }
    }

    fn pause(&mut self) -> Option<std::time::Duration> {
        let r = &self.ctx.cfg.rates;
        let limits = imapsync_plan::throttle::ThrottleLimits {
            maxmessagespersecond: r.maxmessagespersecond,
            maxbytespersecond: r.maxbytespersecond,
            maxbytesafter: Some(r.maxbytesafter as i64),
            maxsleep: r.maxsleep,
        };
        let (n, bytes) = {
            let st = self.ctx.stats();
            (st.transferred, st.bytes_transferred)
        };
        let progress = imapsync_plan::throttle::TransferProgress {
            nb_msg_transferred: n,
            total_bytes_transferred: bytes,
            time_spent: self.ctx.elapsed(),
        };
        imapsync_plan::throttle::sleep_if_needed(&limits, &progress)
            .filter(|s| *s > 0.0)
            .map(std::time::Duration::from_secs_f64)
    }

    fn stop(&self) -> bool {
        self.ctx.aborted()
    }

    fn pushed_back(&mut self, status: &Status, wait: std::time::Duration, n: usize) {
        self.ctx.out.line(format!(
            "Host2: folder [{}] the server pushed back ({}): waiting {} ms, then sending {n} message(s) again, one APPEND at a time",
            self.job.shown2,
            status.full_text(),
            wait.as_millis()
        ));
    }

    fn flush(&mut self) {
        if self.resolved.is_empty() {
            return;
        }
        if let (Some(store), Some(id)) = (&self.ctx.store, self.folder_id) {
            let _ = store.resolve_intents(id, &self.resolved);
        }
        self.resolved.clear();
    }
}

/// Re-export for the run loop.
pub type SharedJob = Arc<FolderJob>;
