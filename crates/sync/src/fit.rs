//! Before copying, what will not fit on host2: the facts the warnings of
//! [`imapsync_plan::fit`] need (folder sizes, messages over APPENDLIMIT), read only when
//! host2 announced a quota limit or an APPENDLIMIT, then one warning line each.

use std::collections::HashMap;

use imapsync_client::Connection;
use imapsync_plan::fit::{self, TooBig, Volume};
use imapsync_plan::labels::View;
use imapsync_proto::command::cmd;
use imapsync_proto::response::Untagged;
use imapsync_proto::seqset::{STAR, UidSet};

use crate::ctx::Ctx;
use crate::listing::{self, MAX_SET_LEN};
use crate::mapping::Mapped;

/// UID → size of some messages of the selected folder (`None`: all of them).
async fn sizes(conn: &Connection, uids: Option<&[u32]>) -> Option<HashMap<u32, u64>> {
    let sets = match uids {
        Some([]) => return Some(HashMap::new()),
        Some(u) => UidSet::chunks_by_len(u, MAX_SET_LEN),
        None => vec![UidSet::range(1, STAR)],
    };
    let mut out = HashMap::new();
    for set in sets {
        let done = conn
            .run(cmd::uid_fetch(&set, "UID RFC822.SIZE", None, false))
            .await
            .ok()?;
        if !done.is_ok() {
            return None;
        }
        for u in done.untagged {
            if let Untagged::Fetch { items, .. } = u
                && let (Some(uid), Some(size)) = (items.uid, items.rfc822_size)
            {
                out.insert(uid, size);
            }
        }
    }
    Some(out)
}

/// A folder's volume, from its status or by fetching every size; with `limit`, its messages
/// bigger than that (from the sizes, or by `SEARCH LARGER`).
async fn scan(
    conn: &Connection,
    name: &str,
    known: Option<Volume>,
    limit: Option<u64>,
) -> Option<(Volume, Vec<(u32, u64)>)> {
    if let (Some(v), None) = (known, limit) {
        return Some((v, Vec::new()));
    }
    let sel = listing::select(conn, name, false).await.ok()?.ok()?;
    if sel.exists == 0 {
        return Some((Volume::default(), Vec::new()));
    }
    let (volume, big) = match known {
        Some(v) => {
            let big = match limit {
                Some(l) => {
                    let uids = listing::search(conn, &format!("LARGER {l}")).await.ok()?;
                    sizes(conn, Some(&uids)).await?.into_iter().collect()
                }
                None => Vec::new(),
            };
            (v, big)
        }
        None => {
            let all = sizes(conn, None).await?;
            let v = Volume {
                messages: all.len() as u64,
                bytes: all.values().sum(),
            };
            let big = all
                .into_iter()
                .filter(|&(_, s)| limit.is_some_and(|l| s > l))
                .collect();
            (v, big)
        }
    };
    Some((volume, big))
}

/// The warnings about what will not fit on host2, printed up front.
pub async fn warn(ctx: &Ctx, c1: &Connection, c2: &Connection, m: &Mapped) {
    let quota = ctx.quota2.get().copied().unwrap_or_default();
    let appendlimit = ctx.appendlimit.get().copied();
    let quota_known = quota.storage_kib.is_some() || quota.messages.is_some();
    if !quota_known && appendlimit.is_none() {
        return;
    }
    let Some(lp) = ctx.labels.get() else { return };
    let all_mail_synced = m
        .plan
        .pairs
        .iter()
        .any(|p| lp.role(&p.name1).view == Some(View::AllMail));
    let volume = |st: Option<&imapsync_proto::response::StatusItems>| {
        let st = st?;
        Some(Volume {
            messages: u64::from(st.messages?),
            bytes: st.size?,
        })
    };
    let (mut need1, mut have2, mut hits) = (Volume::default(), Volume::default(), Vec::new());
    let mut complete = true;
    for p in &m.plan.pairs {
        if !fit::counted(&lp.role(&p.name1), lp.mode, all_mail_synced) {
            continue;
        }
        let known1 = volume(m.status1.get(&p.name1));
        let Some((v1, big)) = scan(c1, &p.name1, known1, appendlimit).await else {
            complete = false;
            continue;
        };
        need1.messages += v1.messages;
        need1.bytes += v1.bytes;
        hits.extend(big.into_iter().map(|(uid, size)| TooBig {
            folder: p.name1.clone(),
            uid,
            size,
        }));
        if quota_known && m.f2.contains(&p.name2) {
            let known2 = volume(m.status2.get(&p.name2));
            match scan(c2, &p.name2, known2, None).await {
                Some((v2, _)) => {
                    have2.messages += v2.messages;
                    have2.bytes += v2.bytes;
                }
                None => complete = false,
            }
        }
    }
    if let Some(l) = appendlimit {
        hits.sort_by(|a, b| (&a.folder, a.uid).cmp(&(&b.folder, b.uid)));
        if let Some(w) = fit::appendlimit_warning(l, &hits) {
            ctx.out.line(format!("Warning: {w}"));
        }
    }
    if !complete {
        ctx.out.line(
            "Warning: some folder sizes could not be read: host2's quota is not compared with them",
        );
        return;
    }
    if let Some(w) = fit::quota_warning(&quota, fit::without_too_big(need1, &hits), have2) {
        ctx.out.line(format!("Warning: {w}"));
    }
}
