//! Syncing one folder pair: the executor of a [`FolderPlan`].
//!
//! * **Fast path** ([`unchanged`]): when the state store vouches for the pair and the
//!   LIST-STATUS values of both sides equal those recorded, the folder costs no command; its
//!   counters are replayed from the record.
//! * Otherwise [`sync_folder`] runs the phases, each a method of [`FolderSync`]:
//!   1. **select** both sides (host2's folder is created when SELECT fails);
//!   2. **list** both sides, in full or only what changed since the record
//!      ([`imapsync_plan::folderplan::changes`]);
//!   3. **decide**: [`imapsync_plan::folderplan::decide`] makes the plan — nothing is
//!      decided below this point;
//!   4. **copy** the planned messages (FETCH streamed into APPEND, the journal written
//!      before each APPEND);
//!   5. **resync flags** of the messages already there, then Gmail **labels** of the copies
//!      and of the messages already there;
//!   6. **delete** what the plan allows on host2, then on host1;
//!   7. **record** where both sides stand, `complete` only when nothing failed.
//!
//! A connection failure returns [`FolderError::Conn`]; the caller reconnects and runs the
//! folder again — the journal and the identity match make the second attempt copy only what
//! is still missing.

mod copy;
mod delete;
mod flags;
mod labels;
mod list;
mod record;
mod select;

use imapsync_client::{ConnError, Connection, Side};
use imapsync_plan::folderplan::{self, FolderOutcome, FolderPlan, Rules};
use imapsync_proto::response::StatusItems;
use imapsync_state::{FolderRecord, MapEntry};

use crate::ctx::Ctx;
use crate::listing::Selected;

pub use copy::{SPLIT_MIN_MESSAGES, SPLIT_MIN_RTT_US};

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

impl FolderJob {
    fn line(&self) -> String {
        format!(
            "Folder {:>7} {:<35} -> {:<35}",
            format!("{}/{}", self.index, self.total),
            format!("[{}]", self.shown1),
            format!("[{}]", self.shown2)
        )
    }
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

/// The fast path: when the state store vouches that neither side changed since the last
/// complete sync of this pair under the same options, prints the folder's lines, replays its
/// counters and returns true. Needs no connection.
pub fn unchanged(ctx: &Ctx, job: &FolderJob) -> bool {
    let Some(store) = &ctx.store else {
        return false;
    };
    let Ok(r) = store.folder(&job.name1, &job.name2) else {
        return false;
    };
    let rules = ctx.rules();
    if !folderplan::unchanged(
        &r,
        job.status1.as_ref(),
        job.status2.as_ref(),
        job.exists2,
        &rules,
    ) {
        return false;
    }
    ctx.out.lines(&[
        job.line(),
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

/// Syncs one folder pair.
pub async fn sync_folder(
    ctx: &Ctx,
    c1: &Connection,
    c2: &Connection,
    job: &FolderJob,
) -> Result<(), FolderError> {
    ctx.debugsleep().await;
    let mut f = FolderSync::begin(ctx, c1, c2, job);
    let sel = f.select().await?;
    let listed = f.list(&sel).await?;
    let plan = f.decide(&sel, listed);
    let copied = f.copy(&sel, &plan).await?;
    f.resync_flags(&plan).await?;
    f.store_labels(&plan, &copied).await?;
    let deleted2 = f.delete(&sel, &plan, &copied).await?;
    let outcome = FolderOutcome {
        ok: f.ok,
        missing_after: copied.missing_after,
        copied: copied.pairs.len() as u64,
    };
    f.record(&sel, &plan, outcome).await?;
    f.count(&plan, &copied, &deleted2);
    Ok(())
}

/// `--debugflags`: imapsync's lines on how flags were filtered.
fn flag_trace_lines(job: &FolderJob, trace: &[folderplan::FlagTrace]) -> Vec<String> {
    let (f1, f2) = (&job.name1, &job.name2);
    let mut lines = Vec::new();
    for t in trace {
        match t {
            folderplan::FlagTrace::Copy {
                uid,
                flags,
                filtered,
            } => {
                lines.push(format!("Host1: flags init msg {f1}/{uid} flags [{flags}]"));
                lines.push(format!(
                    "Host1: flags filt msg {f1}/{uid} flags [{filtered}]"
                ));
            }
            folderplan::FlagTrace::Resync {
                uid1,
                uid2,
                flags1,
                flags2,
                filtered1,
                replaced,
            } => {
                lines.push(format!(
                    "Host1: flags init msg {f1}/{uid1} flags( {flags1} ) Host2 msg {f2}/{uid2} flags( {flags2} )"
                ));
                lines.push(format!(
                    "Host1: flags filt msg {f1}/{uid1} flags( {filtered1} ) Host2 msg {f2}/{uid2} flags( {flags2} )"
                ));
                if *replaced {
                    lines.push(format!(
                        "Host2: flags msg {f2}/{uid2} replacing h2 flags( {flags2} ) with h1 flags( {filtered1} )"
                    ));
                }
            }
        }
    }
    lines
}

/// One folder pair being synced: the connections, the run's rules, the stored record, and
/// whether everything went right so far.
struct FolderSync<'a> {
    ctx: &'a Ctx,
    c1: &'a Connection,
    c2: &'a Connection,
    job: &'a FolderJob,
    rules: Rules<'a>,
    /// The stored record of the pair (none without a store, or when it can not be read).
    rec: Option<FolderRecord>,
    /// Nothing failed so far (a failure leaves the record incomplete).
    ok: bool,
}

/// Both folders as selected.
struct Selection {
    sel1: Selected,
    /// `None`: host2's folder does not exist yet (`--dry`).
    sel2: Option<Selected>,
    /// A UIDVALIDITY changed since the record was made: its UID map is not trusted.
    uidvalidity_changed: bool,
}

/// Both listings and the UID map they are decided with.
struct Listed2 {
    list1: Vec<folderplan::Listed>,
    list2: Vec<folderplan::Listed>,
    map: Vec<MapEntry>,
    /// Intents an interrupted run left open (settled by this folder's identity match).
    open_intents: Vec<i64>,
}

/// What the copy phase did.
#[derive(Debug, Default)]
struct Copied {
    /// `(uid1, uid2)` of the messages appended (`uid2` 0 when host2 did not tell).
    pairs: Vec<(u32, u32)>,
    /// Planned copies that did not arrive.
    missing_after: u64,
    /// Host1 UIDs already deleted, each right after its copy (`--expungeaftereach`).
    deleted1: Vec<u32>,
}

impl<'a> FolderSync<'a> {
    fn begin(ctx: &'a Ctx, c1: &'a Connection, c2: &'a Connection, job: &'a FolderJob) -> Self {
        ctx.out.line(job.line());
        let rec = ctx
            .store
            .as_ref()
            .and_then(|s| match s.folder(&job.name1, &job.name2) {
                Ok(r) => Some(r),
                Err(e) => {
                    ctx.out.line(format!(
                        "Warning: state store: {e}; syncing {} without it",
                        job.name1
                    ));
                    None
                }
            });
        let mut f = FolderSync {
            ctx,
            c1,
            c2,
            job,
            rules: ctx.rules(),
            rec,
            ok: true,
        };
        // Until this sync completes, the record vouches for nothing.
        if let (Some(s), Some(r)) = (&ctx.store, &f.rec) {
            let id = r.id;
            f.stored("mark the folder incomplete", s.mark_incomplete(id));
        }
        f
    }

    /// A state store write; a failure is told, the folder stays incomplete and the store is
    /// not used any further for it.
    fn stored(&mut self, what: &str, r: Result<(), imapsync_state::StateError>) {
        if let Err(e) = r {
            self.ctx.out.line(format!(
                "Warning: state store: can not {what} for folder [{}]: {e}",
                self.job.shown1
            ));
            self.ok = false;
            self.rec = None;
        }
    }

    /// The store and this pair's record id, when both are usable and the run writes.
    fn store(&self) -> Option<(&'a imapsync_state::Store, i64)> {
        if self.ctx.cfg.dry {
            return None;
        }
        Some((self.ctx.store.as_ref()?, self.rec.as_ref()?.id))
    }

    fn decide(&mut self, sel: &Selection, l: Listed2) -> FolderPlan {
        let ctx = self.ctx;
        let cross = ctx
            .cfg
            .messages
            .skipcrossduplicates
            .then(|| ctx.cross_keys.lock().map(|k| k.clone()).unwrap_or_default());
        let plan = folderplan::decide_folder(
            &self.rules,
            folderplan::Listings {
                list1: l.list1,
                list2: l.list2,
                map: &l.map,
                have2: sel.sel2.is_some(),
                permanentflags2: sel
                    .sel2
                    .as_ref()
                    .map(|s| s.permanentflags.as_str())
                    .unwrap_or(""),
                cross_keys: cross.as_ref(),
            },
            Some(&self.job.name1),
        );
        self.report_decision(sel, &plan);
        self.settle_journal(&plan, &l.open_intents);
        let mut st = self.ctx.stats();
        st.dup1 += plan.counts.dup1;
        st.dup2 += plan.counts.dup2;
        st.noheader1 += plan.counts.noheader1;
        st.noheader2 += plan.counts.noheader2;
        st.skipped += plan.counts.skipped;
        st.bytes_skipped += plan.counts.bytes_present;
        drop(st);
        plan
    }

    fn report_decision(&self, sel: &Selection, plan: &FolderPlan) {
        let (job, out) = (self.job, &self.ctx.out);
        let cfg = &self.ctx.cfg;
        let uids = |l: &[folderplan::Listed]| {
            if cfg.debug || cfg.debuglist {
                let u: Vec<String> = l.iter().map(|m| m.uid.to_string()).collect();
                format!(", LIST gives: {}", u.join(" "))
            } else {
                String::new()
            }
        };
        out.line(format!(
            "Host1: folder [{}] considering {} messages{}",
            job.shown1,
            plan.list1.len(),
            uids(&plan.list1)
        ));
        if sel.sel2.is_some() {
            out.line(format!(
                "Host2: folder [{}] considering {} messages{}",
                job.shown2,
                plan.list2.len(),
                uids(&plan.list2)
            ));
        }
        out.line(format!(
            "Host1: folder [{}] selected {} messages, duplicates {}",
            job.shown1,
            plan.list1.len(),
            plan.counts.dup1
        ));
        if sel.sel2.is_some() {
            out.line(format!(
                "Host2: folder [{}] selected {} messages, duplicates {}",
                job.shown2,
                plan.list2.len(),
                plan.counts.dup2
            ));
        }
        for e in &plan.flag_errors {
            out.line(format!("Error: eval regexflag: {e}"));
        }
        if !plan.flag_trace.is_empty() {
            out.lines(&flag_trace_lines(job, &plan.flag_trace));
        }
    }

    /// Journal bookkeeping after the decision: pairs adopted by identity join the UID map,
    /// entries pointing at vanished messages leave it, and the intents of an interrupted run
    /// are settled (every host2 message has now been matched by identity).
    fn settle_journal(&mut self, plan: &FolderPlan, open_intents: &[i64]) {
        if !open_intents.is_empty() {
            self.ctx.out.line(format!(
                "Host2: folder [{}] {} copies of an interrupted run were checked by identity ({} found on host2)",
                self.job.shown2,
                open_intents.len(),
                plan.adopted.len()
            ));
        }
        let Some((store, id)) = self.store() else {
            return;
        };
        self.stored("record adopted pairs", store.insert_map(id, &plan.adopted));
        self.stored("drop stale pairs", store.remove_uid1(id, &plan.stale1));
        self.stored("settle the journal", store.drop_intents(open_intents));
    }

    /// The run's counters for this folder, at its end.
    fn count(&self, plan: &FolderPlan, copied: &Copied, deleted2: &[u32]) {
        let ctx = self.ctx;
        if ctx.cfg.messages.skipcrossduplicates
            && let Ok(mut k) = ctx.cross_keys.lock()
        {
            let copied1: std::collections::HashSet<u32> =
                copied.pairs.iter().map(|&(u1, _)| u1).collect();
            let now2: Vec<&String> = plan
                .list2
                .iter()
                .filter_map(|m| m.key.as_ref())
                .chain(
                    plan.list1
                        .iter()
                        .filter(|m| copied1.contains(&m.uid))
                        .filter_map(|m| m.key.as_ref()),
                )
                .collect();
            k.extend(now2.iter().map(|s| s.to_string()));
            if ctx.cfg.messages.debugcrossduplicates {
                let mut f = ctx.cross_folders.lock().unwrap_or_else(|p| p.into_inner());
                for key in now2 {
                    let those = f.entry(key.clone()).or_default();
                    if !those.contains(&self.job.name2) {
                        those.push(self.job.name2.clone());
                    }
                }
            }
        }
        let (n1, n2) = plan.identified(copied.pairs.len() as u64);
        let deleted: std::collections::HashSet<u32> = deleted2.iter().copied().collect();
        let mut st = ctx.stats();
        st.identified1 += n1;
        st.identified2 += n2;
        st.missing += copied.missing_after + plan.size_skips.len() as u64;
        st.extra += plan
            .diff
            .extra2
            .iter()
            .filter(|u| !deleted.contains(u))
            .count() as u64;
        st.folders_synced += 1;
    }
}
