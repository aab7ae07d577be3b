//! Phase 4: copy the planned messages, with the journal, progress, throttle and stop hooks
//! of [`crate::copy`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;

use imapsync_client::{ConnError, Connection, Side};
use imapsync_plan::folderplan::{FolderPlan, PlannedCopy};
use imapsync_plan::{dates, identity, rewrite};
use imapsync_proto::command::{StoreMode, cmd};
use imapsync_proto::response::{Status, Untagged};
use imapsync_proto::seqset::UidSet;
use imapsync_state::{MapEntry, NewIntent, Store};

use super::{Copied, FolderError, FolderJob, FolderSync, Selection, conn_err};
use crate::copy::{self, CopyItem, CopyOptions, Hooks, Journal, NoJournal, Outcome, Progress};
use crate::ctx::Ctx;
use crate::{listing, session};
use imapsync_plan::rewrite::Rewritten;

/// A folder with at least this many messages to copy is split by UID range over extra
/// connection pairs, when the per-side connection limits leave some free.
pub const SPLIT_MIN_MESSAGES: usize = 400;
/// ... and only over a link whose round trip is at least this long: on a fast link the
/// destination's own locking of one folder makes parallel APPENDs slower, not faster.
pub const SPLIT_MIN_RTT_US: u64 = 5_000;

impl FolderSync<'_> {
    pub(super) async fn copy(
        &mut self,
        sel: &Selection,
        plan: &FolderPlan,
    ) -> Result<Copied, FolderError> {
        self.report_skips(plan);
        let mut items: Vec<CopyItem> = plan.copies.iter().map(copy_item).collect();
        let ctx = self.ctx;
        if ctx.cfg.dry && !ctx.cfg.messages.dry_fetch {
            for it in &items {
                ctx.out.line(format!(
                    "msg {}/{:<19} copied to {}/{:<10} (not really since --dry mode)",
                    self.job.name1,
                    format!("{} {{{}}}", it.uid, it.size),
                    self.job.name2,
                    "?"
                ));
            }
            ctx.stats().transferred_dry += items.len() as u64;
            return Ok(Copied {
                missing_after: items.len() as u64,
                ..Copied::default()
            });
        }
        if ctx.cfg.messages.checkmessageexists && !items.is_empty() {
            items = self.still_on_host1(items).await?;
        }
        if items.is_empty() {
            return Ok(Copied::default());
        }
        if ctx.cfg.messages.idatefromheader {
            dates_from_headers(self.c1, &mut items)
                .await
                .map_err(conn_err(Side::Host1))?;
        }
        let copied = self.copy_items(sel, plan, &items).await?;
        if ctx.cfg.messages.syncflagsaftercopy && !ctx.cfg.dry {
            self.flags_after_copy(&items, &copied.pairs).await?;
        }
        Ok(copied)
    }

    /// `--checkmessageexists`: the messages to copy still on host1 (one UID SEARCH per set);
    /// those gone are skipped, not failed.
    async fn still_on_host1(&mut self, items: Vec<CopyItem>) -> Result<Vec<CopyItem>, FolderError> {
        let uids: Vec<u32> = items.iter().map(|i| i.uid).collect();
        let mut found = std::collections::HashSet::new();
        for set in UidSet::chunks_by_len(&uids, listing::MAX_SET_LEN) {
            match listing::search(self.c1, &format!("UID {set}")).await {
                Ok(u) => found.extend(u),
                Err(listing::ListError::Conn(e)) => return Err(conn_err(Side::Host1)(e)),
                // A refused SEARCH proves nothing: the messages are tried.
                Err(listing::ListError::Refused { .. }) => {
                    found.extend(set.expand(1_000_000).unwrap_or_default())
                }
            }
        }
        let (kept, gone): (Vec<CopyItem>, Vec<CopyItem>) =
            items.into_iter().partition(|i| found.contains(&i.uid));
        let ctx = self.ctx;
        for it in &gone {
            ctx.out.line(format!(
                "- msg {}/{} {{{}}} skipped: no longer on host1 (--checkmessageexists)",
                self.job.name1, it.uid, it.size
            ));
        }
        let mut st = ctx.stats();
        st.skipped += gone.len() as u64;
        st.bytes_skipped += gone.iter().map(|i| i.size).sum::<u64>();
        Ok(kept)
    }

    /// `--syncflagsaftercopy`: host2's flags of the new messages are read and set again where
    /// they are not what the APPEND asked for.
    async fn flags_after_copy(
        &mut self,
        items: &[CopyItem],
        pairs: &[(u32, u32)],
    ) -> Result<(), FolderError> {
        let (ctx, job, c2) = (self.ctx, self.job, self.c2);
        let flags1: HashMap<u32, &Vec<String>> = items.iter().map(|i| (i.uid, &i.flags)).collect();
        let wanted: Vec<(u32, Vec<String>)> = pairs
            .iter()
            .filter(|(_, u2)| *u2 != 0)
            .filter_map(|(u1, u2)| Some((*u2, flags1.get(u1).map(|f| f.to_vec())?)))
            .collect();
        if wanted.is_empty() {
            return Ok(());
        }
        let uids2: Vec<u32> = wanted.iter().map(|(u, _)| *u).collect();
        let got = listing::flags(c2, Some(&uids2), None)
            .await
            .map_err(|e| match e {
                listing::ListError::Conn(err) => conn_err(Side::Host2)(err),
                listing::ListError::Refused { status, .. } => {
                    ctx.error(format!(
                        "Host2: folder {}: could not get the flags of the new messages for --syncflagsaftercopy: {}",
                        job.name2,
                        status.full_text()
                    ));
                    FolderError::Recorded
                }
            })?;
        if ctx.cfg.messages.debugflags {
            for (u2, want) in &wanted {
                ctx.out.line(format!(
                    "Host2: msg {}/{u2} flags after copy ( {} ), asked ( {} )",
                    job.name2,
                    got.get(u2).map(String::as_str).unwrap_or(""),
                    want.join(" ")
                ));
            }
        }
        let stores = imapsync_plan::folderplan::flags_after_copy(&wanted, &got);
        for (fl, uids) in &stores {
            let list: Vec<String> = fl.split_whitespace().map(str::to_string).collect();
            for set in UidSet::chunks_by_len(uids, listing::MAX_SET_LEN) {
                let done = c2
                    .run(cmd::uid_store(&set, StoreMode::Replace, &list, true))
                    .await
                    .map_err(conn_err(Side::Host2))?;
                if done.is_ok() {
                    ctx.out.line(format!(
                        "Host2: flags msg {}/{set} set again after copy to [{fl}] (--syncflagsaftercopy)",
                        job.name2
                    ));
                    ctx.stats().flags_updated += set.len();
                } else {
                    self.ok = false;
                    ctx.error(format!(
                        "Host2: flags msg {}/{set} could not add flags [{fl}]: {}",
                        job.name2,
                        done.status.full_text()
                    ));
                }
            }
        }
        Ok(())
    }

    /// Size and cross-folder skips, as imapsync reports and counts them.
    fn report_skips(&self, plan: &FolderPlan) {
        let ctx = self.ctx;
        for (uid, skip) in &plan.size_skips {
            ctx.out.line(skip.message(&self.job.name1, *uid));
        }
        if ctx.cfg.messages.debugcrossduplicates && !plan.cross_duplicates.is_empty() {
            let keys: HashMap<u32, &str> = plan
                .list1
                .iter()
                .filter_map(|m| Some((m.uid, m.key.as_deref()?)))
                .collect();
            let folders = ctx.cross_folders.lock().unwrap_or_else(|p| p.into_inner());
            for uid in &plan.cross_duplicates {
                let those = keys
                    .get(uid)
                    .and_then(|k| folders.get(*k))
                    .map(|f| f.join(" "))
                    .unwrap_or_default();
                ctx.out.line(format!(
                    "Host1: found that msg {}/{uid} is also in Host2 folders {those}",
                    self.job.name1
                ));
            }
        }
        let mut st = ctx.stats();
        for (_, s) in &plan.size_skips {
            if let imapsync_plan::select::SizeSkip::ExceedsMaxsize { size, .. } = s {
                st.too_big += 1;
                st.bytes_too_big += size;
            }
        }
        st.skipped += (plan.size_skips.len() + plan.cross_duplicates.len()) as u64;
        st.bytes_skipped += plan.size_skips.iter().map(|(_, s)| s.size()).sum::<u64>();
        st.crossdup2 += plan.cross_duplicates.len() as u64;
    }

    async fn copy_items(
        &mut self,
        sel: &Selection,
        plan: &FolderPlan,
        items: &[CopyItem],
    ) -> Result<Copied, FolderError> {
        let ctx = self.ctx;
        let opts = CopyOptions {
            folder2: self.job.name2.clone(),
            multiappend: ctx.cfg.messages.multiappend,
            uidnext2: sel.sel2.as_ref().and_then(|s| s.uidnext),
            transform: transformer(ctx, self.job),
            dry: ctx.cfg.dry,
            allow_size_mismatch: ctx.cfg.messages.allowsizemismatch,
            vanished_is_skip: ctx.cfg.messages.checkmessageexists,
        };
        let store_journal = self.store().map(|(store, id)| FolderJournal {
            ctx,
            job: self.job,
            store,
            folder: id,
            uidvalidity2: sel.sel2.as_ref().and_then(|s| s.uidvalidity),
            keys: plan.copies.iter().map(|c| (c.uid, c.key.clone())).collect(),
        });
        let journal: &dyn Journal = match &store_journal {
            Some(j) => j,
            None => &NoJournal,
        };
        let progress = FolderProgress::new(ctx, self.job, self.c1);
        let hooks = Hooks {
            journal,
            progress: &progress,
            throttle: ctx,
            stop: ctx,
        };
        let r = copy_split(ctx, self.c1, self.c2, &self.job.name1, items, &opts, hooks).await;
        let mut p = progress.take();
        if p.failed > 0 {
            self.ok = false;
        }
        let deleted1 = self.deleted_at_once(std::mem::take(&mut p.deleting)).await;
        if let Err(e) = r {
            // Which side? The copy fails on either; ask the connections.
            let side = if self.c1.is_alive() {
                Side::Host2
            } else {
                Side::Host1
            };
            return Err(FolderError::Conn { side, err: e });
        }
        Ok(Copied {
            missing_after: items.len() as u64 - p.done,
            pairs: p.copied,
            deleted1: deleted1.map_err(conn_err(Side::Host1))?,
        })
    }

    /// `--delete1 --expungeaftereach`: the answers of the deletions sent as each copy was
    /// confirmed; the host1 UIDs removed.
    async fn deleted_at_once(&mut self, deleting: Vec<Deleting>) -> Result<Vec<u32>, ConnError> {
        let mut deleted = Vec::new();
        for d in deleting {
            let stored = d.store.await?;
            let expunged = d.expunge.await?;
            for done in [&stored, &expunged] {
                if !done.is_ok() {
                    self.ok = false;
                    self.ctx.error(format!(
                        "Host1: folder {}: msg {} could not be deleted: {}",
                        self.job.name1,
                        d.uid,
                        done.status.full_text()
                    ));
                }
            }
            if stored.is_ok() {
                deleted.push(d.uid);
            }
        }
        if !deleted.is_empty() {
            if let Some((store, id)) = self.store() {
                self.stored("drop deleted messages", store.remove_uid1(id, &deleted));
            }
            self.ctx.stats().deleted1 += deleted.len() as u64;
        }
        Ok(deleted)
    }
}

/// A host1 message being deleted right after its copy (`--expungeaftereach`).
struct Deleting {
    uid: u32,
    store: imapsync_client::Pending,
    expunge: imapsync_client::Pending,
}

fn copy_item(c: &PlannedCopy) -> CopyItem {
    CopyItem {
        uid: c.uid,
        size: c.size,
        flags: c.flags.clone(),
        internaldate: c.internaldate.clone(),
        prefix: c.addheader.then(|| {
            let mut line = identity::add_header_line(c.uid).into_bytes();
            line.extend_from_slice(b"\r\n");
            Bytes::from(line)
        }),
    }
}

/// The whole-message rewrite of the run, or `None` when there is none: messages then stream
/// untouched.
fn transformer(ctx: &Ctx, job: &FolderJob) -> Option<copy::Transformer> {
    if !rewrite::any(&ctx.cfg.messages) {
        return None;
    }
    Some(Arc::new(FolderTransform {
        cfg: ctx.cfg.clone(),
        out: ctx.out.clone(),
        folder1: job.name1.clone(),
    }))
}

/// The rewrites of one folder's copies ([`crate::pipe::rewrite`]), with what they print.
struct FolderTransform {
    cfg: Arc<crate::config::Config>,
    out: crate::output::Out,
    folder1: String,
}

/// `--debugcontent`'s frame around a message, as imapsync prints it.
fn debugcontent(msg: &[u8]) -> String {
    let rule = "=".repeat(80);
    format!(
        "{rule}\nF message content begin next line ({} characters long)\n{}\nF message content ended on previous line\n{rule}",
        msg.len(),
        String::from_utf8_lossy(msg)
    )
}

impl copy::Transform for FolderTransform {
    fn transform<'a>(&'a self, item: &'a CopyItem, body: Bytes) -> copy::TransformFuture<'a> {
        Box::pin(async move {
            let m = &self.cfg.messages;
            let (r, notes) = crate::pipe::rewrite(m, &body, item.prefix.as_deref()).await;
            let lines: Vec<String> = notes
                .into_iter()
                .map(|n| format!("msg {}/{} {n}", self.folder1, item.uid))
                .collect();
            self.out.lines(&lines);
            let body = match r {
                Rewritten::Keep => body,
                Rewritten::Replace(v) => Bytes::from(v),
                Rewritten::Skip(why) => return copy::Transformed::Skip(why),
            };
            // What is printed is what host2 gets (imapsync prints it before its line-length
            // fix).
            if m.debugcontent {
                self.out.line(debugcontent(&body));
            }
            copy::Transformed::Body(body)
        })
    }
}

/// The intent journal of one folder in the state store.
struct FolderJournal<'a> {
    ctx: &'a Ctx,
    job: &'a FolderJob,
    store: &'a Store,
    folder: i64,
    uidvalidity2: Option<u32>,
    /// Identity key of each message to copy (journalled with its intent).
    keys: HashMap<u32, Option<String>>,
}

impl FolderJournal<'_> {
    fn warn(&self, what: &str, e: &imapsync_state::StateError) {
        self.ctx.out.line(format!(
            "Warning: state store: can not {what} for folder [{}]: {e}; the next run checks these messages by identity",
            self.job.shown1
        ));
    }
}

impl Journal for FolderJournal<'_> {
    fn before_append(
        &self,
        items: &[&CopyItem],
        uidnext2: Option<u32>,
    ) -> Result<Vec<i64>, String> {
        let news: Vec<NewIntent> = items
            .iter()
            .map(|it| NewIntent {
                uid1: it.uid,
                key: self.keys.get(&it.uid).cloned().flatten(),
                size: it.size,
                uidvalidity2: self.uidvalidity2,
                uidnext2,
            })
            .collect();
        self.store
            .add_intents(self.folder, &news)
            .map_err(|e| e.to_string())
    }

    fn settle(&self, done: &[(i64, MapEntry)]) {
        if let Err(e) = self.store.resolve_intents(self.folder, done) {
            self.warn("record copied messages", &e);
        }
    }

    fn discard(&self, intents: &[i64]) {
        if let Err(e) = self.store.drop_intents(intents) {
            self.warn("drop intents of refused messages", &e);
        }
    }
}

/// What the copy of one folder did so far.
#[derive(Default)]
struct ProgressState {
    copied: Vec<(u32, u32)>,
    done: u64,
    failed: u64,
    journal_failure_told: bool,
    /// Host1 deletions sent as copies were confirmed (`--expungeaftereach`).
    deleting: Vec<Deleting>,
}

/// Reports each outcome (lines, counters, errors) as it happens.
struct FolderProgress<'a> {
    ctx: &'a Ctx,
    job: &'a FolderJob,
    /// Host1's connection with the folder selected (for `--expungeaftereach`).
    c1: &'a Connection,
    state: Mutex<ProgressState>,
}

impl<'a> FolderProgress<'a> {
    fn new(ctx: &'a Ctx, job: &'a FolderJob, c1: &'a Connection) -> Self {
        FolderProgress {
            ctx,
            job,
            c1,
            state: Mutex::new(ProgressState::default()),
        }
    }

    /// `--delete1 --expungeaftereach`: the copy is confirmed, so host1's message goes now
    /// (sent without waiting; the answers are read once the folder's copy is over).
    fn delete_at_once(&self, uid: u32) {
        let (ctx, c1) = (self.ctx, self.c1);
        let set = UidSet::from_uids([uid]);
        let store = c1.submit(cmd::uid_store(
            &set,
            StoreMode::Add,
            &["\\Deleted".to_string()],
            true,
        ));
        let expunge = if c1.caps().has("UIDPLUS") {
            c1.submit(cmd::uid_expunge(&set))
        } else {
            c1.submit(cmd::expunge())
        };
        ctx.out.line(format!(
            "Host1: {}/{uid} marking deleted and expunged (--expungeaftereach)",
            self.job.name1
        ));
        self.state().deleting.push(Deleting {
            uid,
            store,
            expunge,
        });
    }

    fn state(&self) -> MutexGuard<'_, ProgressState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn take(self) -> ProgressState {
        self.state.into_inner().unwrap_or_else(|p| p.into_inner())
    }

    fn copied(&self, item: &CopyItem, uid2: Option<u32>, bytes: u64) {
        let ctx = self.ctx;
        {
            let mut s = self.state();
            s.done += 1;
            s.copied.push((item.uid, uid2.unwrap_or(0)));
        }
        if imapsync_plan::folderplan::delete1_at_once(&ctx.cfg.delete, ctx.cfg.dry, uid2) {
            self.delete_at_once(item.uid);
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
            if let Some(d) = &ctx.cfg.rates.daily_limit {
                ctx.out.lines(&d.resume_lines(
                    total_bytes,
                    ctx.started_epoch as i64,
                    imapsync_plan::display::localtimez_local_epoch,
                ));
            }
            ctx.abort();
        }
        let eta = ctx.eta();
        let uid2 = uid2.map(|u| u.to_string()).unwrap_or_else(|| "?".into());
        ctx.out.line(imapsync_plan::display::copied_line(
            &imapsync_plan::display::CopiedLine {
                h1_folder: &self.job.name1,
                h1_uid: item.uid,
                len: bytes,
                h2_folder: &self.job.name2,
                h2_uid: &uid2,
                nb_msg_transferred: count,
                total_bytes_transferred: total_bytes,
                time_spent: elapsed,
                eta: &eta,
            },
        ));
        if ctx.cfg.debugmemory {
            ctx.out.line(format!(
                "Memory consumption: {:.1} MiB",
                crate::report::rss_mib()
            ));
        }
    }

    /// Not copied, not an error: counted as skipped.
    fn skipped(&self, line: String, bytes: u64) {
        self.state().failed += 1;
        self.ctx.out.line(line);
        let mut st = self.ctx.stats();
        st.skipped += 1;
        st.bytes_skipped += bytes;
    }

    fn refused(&self, item: &CopyItem, status: &Status, bytes: u64, subject: &str) {
        let ctx = self.ctx;
        self.state().failed += 1;
        if imapsync_client::pushback::of_status(status)
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
            "- msg {}/{} {{{}}} could not append ( Subject:[{subject}], Date:[{}], Size:[{}], Flags:[{}] ) to folder {}: {}",
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

    fn not_journalled(&self, reason: &str) {
        let first = {
            let mut s = self.state();
            s.failed += 1;
            !std::mem::replace(&mut s.journal_failure_told, true)
        };
        if first {
            self.ctx.error(format!(
                "Host2 folder [{}]: the state store can not journal the next APPEND ({reason}): no more messages are copied into this folder in this run",
                self.job.shown2
            ));
        }
    }
}

impl Progress for FolderProgress<'_> {
    fn outcome(&self, item: &CopyItem, outcome: Outcome) {
        let name1 = &self.job.name1;
        match outcome {
            Outcome::Copied { uid2, bytes } => self.copied(item, uid2, bytes),
            Outcome::DryRun { bytes } => {
                self.ctx.out.line(format!(
                    "msg {name1}/{:<19} copied to {}/{:<10} (not really since --dry mode)",
                    format!("{} {{{bytes}}}", item.uid),
                    self.job.name2,
                    "?"
                ));
                self.ctx.stats().transferred_dry += 1;
            }
            Outcome::Skipped { reason } => self.skipped(
                format!(
                    "- msg {name1}/{} {{{}}} skipped by {reason}",
                    item.uid, item.size
                ),
                item.size,
            ),
            // Skipped and reported, like a --maxsize skip: not an error.
            Outcome::TooBig { status, bytes } => {
                {
                    let mut st = self.ctx.stats();
                    st.too_big += 1;
                    st.bytes_too_big += bytes;
                }
                self.skipped(
                    format!(
                        "msg {name1}/{} {{{bytes}}} skipped: host2 refuses it as too big: {}",
                        item.uid,
                        status.full_text()
                    ),
                    bytes,
                )
            }
            Outcome::Refused {
                status,
                bytes,
                subject,
            } => self.refused(item, &status, bytes, &subject),
            Outcome::FetchFailed { reason } => {
                self.state().failed += 1;
                self.ctx
                    .error(format!("- msg {name1}/{} {}", item.uid, reason));
            }
            Outcome::NotJournalled { reason } => self.not_journalled(&reason),
        }
    }

    fn pushed_back(&self, status: &Status, wait: std::time::Duration, n: usize) {
        self.ctx.out.line(format!(
            "Host2: folder [{}] the server pushed back ({}): waiting {} ms, then sending {n} message(s) again, one APPEND at a time",
            self.job.shown2,
            status.full_text(),
            wait.as_millis()
        ));
    }
}

/// Copies `items`, splitting a big folder by UID range over extra connection pairs when the
/// per-side connection limits allow (each extra pair selects the host1 folder read-only;
/// host2 needs no selection to APPEND).
async fn copy_split(
    ctx: &Ctx,
    c1: &Connection,
    c2: &Connection,
    folder1: &str,
    items: &[CopyItem],
    opts: &CopyOptions,
    hooks: Hooks<'_>,
) -> Result<(), ConnError> {
    let extra = extra_pairs(ctx, folder1, items.len()).await;
    if extra.is_empty() {
        return copy::copy(c1, c2, items, opts, ctx.budget.clone(), hooks).await;
    }
    let parts = extra.len() + 1;
    ctx.out.line(format!(
        "Host1: folder [{folder1}] {} messages to copy, split over {parts} connection pairs",
        items.len()
    ));
    let chunk = items.len().div_ceil(parts);
    let mut pairs: Vec<(&Connection, &Connection)> = vec![(c1, c2)];
    pairs.extend(extra.iter().map(|(a, b, _)| (a, b)));
    let jobs = items
        .chunks(chunk)
        .zip(pairs)
        .map(|(part, (a, b))| copy::copy(a, b, part, opts, ctx.budget.clone(), hooks));
    let results = join_all(jobs).await;
    for (a, b, _) in &extra {
        a.logout().await;
        b.logout().await;
    }
    results.into_iter().collect()
}

/// Extra connection pairs for a big folder over a slow link, as many as the limits leave
/// free (each with its place under them); none on a fast link.
async fn extra_pairs(
    ctx: &Ctx,
    folder1: &str,
    n: usize,
) -> Vec<(Connection, Connection, crate::ctx::Slots)> {
    let mut extra = Vec::new();
    let slow_link = ctx.rtt_us.load(std::sync::atomic::Ordering::Relaxed) >= SPLIT_MIN_RTT_US;
    if n < SPLIT_MIN_MESSAGES || !slow_link {
        return extra;
    }
    let wanted = (n / (SPLIT_MIN_MESSAGES / 2)).min(ctx.cfg.pairs());
    for _ in 1..wanted {
        let Some(slots) = ctx.try_connection_slots() else {
            break;
        };
        let (a, b) = tokio::join!(
            session::open_quiet(ctx, Side::Host1),
            session::open_quiet(ctx, Side::Host2)
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
    extra
}

/// Runs futures concurrently on this task and returns their results in order.
async fn join_all<F: std::future::Future>(futs: impl IntoIterator<Item = F>) -> Vec<F::Output> {
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

/// `--idatefromheader`: the internal date of each copy comes from its `Date:` header (when
/// imapsync's date normaliser recognises it; otherwise host1's internal date stays).
async fn dates_from_headers(c1: &Connection, items: &mut [CopyItem]) -> Result<(), ConnError> {
    let uids: Vec<u32> = items.iter().map(|i| i.uid).collect();
    let mut found: HashMap<u32, String> = HashMap::new();
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
            let Untagged::Fetch { items, .. } = u else {
                continue;
            };
            let (Some(uid), Some(raw)) = (
                items.uid,
                items.sections.first().and_then(|s| s.data.bytes()),
            ) else {
                continue;
            };
            if let Some(d) = date_header(raw) {
                found.insert(uid, d);
            }
        }
    }
    for it in items.iter_mut() {
        if let Some(d) = found.remove(&it.uid) {
            it.internaldate = Some(d);
        }
    }
    Ok(())
}

/// The internal date a `Date:` header gives, when imapsync's normaliser recognises it.
fn date_header(raw: &[u8]) -> Option<String> {
    let fields = identity::parse_header_fields(raw);
    let date = fields
        .iter()
        .find(|f| f.name.eq_ignore_ascii_case(b"date"))?;
    let good = dates::good_date(&date.value);
    good.starts_with('"')
        .then(|| good.trim_matches('"').to_string())
}
