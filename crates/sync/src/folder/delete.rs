//! Phase 6: the deletions the plan allows — host2 first, then host1 — and `--expunge2`.

use imapsync_client::{ConnError, Side};
use imapsync_plan::folderplan::{self, Deletion2, Expunge2, FolderPlan, Host2Facts, Target2};
use imapsync_proto::command::{StoreMode, cmd};
use imapsync_proto::seqset::UidSet;

use super::{Copied, FolderError, FolderSync, Selection, conn_err};
use crate::listing;

const DRY: &str = "\t(not really since --dry mode)";

impl FolderSync<'_> {
    /// Returns the host2 UIDs deleted.
    pub(super) async fn delete(
        &mut self,
        sel: &Selection,
        plan: &FolderPlan,
        copied: &Copied,
    ) -> Result<Vec<u32>, FolderError> {
        let mut deleted2 = Vec::new();
        if sel.sel2.is_some() {
            let facts = Host2Facts {
                sel1: &sel.sel1,
                uidvalidity_changed: sel.uidvalidity_changed,
                shared2: self.job.shared2,
            };
            match folderplan::deletion2(&self.rules, plan, facts) {
                Deletion2::Nothing => {}
                Deletion2::Refused { count, reason } => {
                    // The folder stays incomplete, so the next run looks again.
                    self.ctx.out.line(format!(
                        "Host2: folder [{}]: NOT deleting {count} messages: {reason}",
                        self.job.shown2
                    ));
                    self.ok = false;
                }
                Deletion2::Delete(targets) => {
                    deleted2 = self
                        .delete_on_host2(&targets)
                        .await
                        .map_err(conn_err(Side::Host2))?;
                }
            }
        }
        if self.ctx.cfg.delete.writes_host1() {
            // Those deleted right after their copy (--expungeaftereach) are done.
            let targets: Vec<u32> = folderplan::delete1_targets(plan, &copied.pairs)
                .into_iter()
                .filter(|u| !copied.deleted1.contains(u))
                .collect();
            self.delete_on_host1(&targets)
                .await
                .map_err(conn_err(Side::Host1))?;
        }
        if self.ctx.cfg.delete.expunge2 && sel.sel2.is_some() && !self.ctx.cfg.dry {
            let done = self
                .c2
                .run(cmd::expunge())
                .await
                .map_err(conn_err(Side::Host2))?;
            self.ctx.out.line(format!(
                "Host2: expunging folder [{}]: {}",
                self.job.shown2,
                done.status.full_text()
            ));
        }
        Ok(deleted2)
    }

    /// Flags the targets `\Deleted` and removes exactly them with `UID EXPUNGE` — never a
    /// plain EXPUNGE, which would also purge what the user flagged by hand — unless
    /// `--nouidexpunge2` or `--expunge2` say otherwise ([`folderplan::expunge2`]).
    async fn delete_on_host2(&mut self, targets: &[Target2]) -> Result<Vec<u32>, ConnError> {
        let (ctx, job, c2) = (self.ctx, self.job, self.c2);
        let dry = ctx.cfg.dry;
        let lines: Vec<String> = targets
            .iter()
            .map(|t| {
                format!(
                    "Host2: msg {}/{} marked \\Deleted on host2 [{}]{}{}",
                    job.name2,
                    t.uid,
                    t.key.as_deref().unwrap_or(""),
                    if t.duplicate { " [duplicate]" } else { "" },
                    if dry { DRY } else { "" }
                )
            })
            .collect();
        ctx.out.lines(&lines);
        if dry {
            return Ok(Vec::new());
        }
        let uids: Vec<u32> = targets.iter().map(|t| t.uid).collect();
        let mode = folderplan::expunge2(&ctx.cfg.delete, c2.caps().has("UIDPLUS"));
        let mut deleted: Vec<u32> = Vec::new();
        for set in UidSet::chunks_by_len(&uids, listing::MAX_SET_LEN) {
            let done = c2
                .run(cmd::uid_store(
                    &set,
                    StoreMode::Add,
                    &["\\Deleted".to_string()],
                    true,
                ))
                .await?;
            if !done.is_ok() {
                self.ok = false;
                ctx.error(format!(
                    "Host2: flags msg {}/{set} could not add flags [\\Deleted]: {}",
                    job.name2,
                    done.status.full_text()
                ));
                continue;
            }
            if mode == Expunge2::Uid {
                let done = c2.run(cmd::uid_expunge(&set)).await?;
                if !done.is_ok() {
                    self.ok = false;
                    ctx.error(format!(
                        "Host2: folder {}: UID EXPUNGE {set} failed: {}",
                        job.name2,
                        done.status.full_text()
                    ));
                    continue;
                }
            }
            deleted.extend(set.expand(1_000_000).unwrap_or_default());
        }
        let (n, f) = (deleted.len(), &job.name2);
        ctx.out.line(match mode {
            Expunge2::Uid => format!("Host2: UidExpunging {n} message(s) in folder {f}"),
            Expunge2::Folder => format!(
                "Host2: folder {f}: {n} message(s) flagged \\Deleted, expunged with the folder (--expunge2)"
            ),
            Expunge2::FlaggedOnly => format!(
                "Host2: folder {f}: {n} message(s) only flagged \\Deleted, not expunged (--nouidexpunge2)"
            ),
            Expunge2::NoUidplus => format!(
                "Host2: folder {f}: no UIDPLUS, so {n} message(s) are only flagged \\Deleted (a plain EXPUNGE would also purge messages flagged by hand); use --expunge2 to remove them"
            ),
        });
        if let Some((store, id)) = self.store() {
            self.stored("drop deleted messages", store.remove_uid2(id, &deleted));
        }
        ctx.stats().deleted2 += deleted.len() as u64;
        Ok(deleted)
    }

    /// `--delete1` flags the confirmed copies `\Deleted`; `--expunge1` expunges (only those,
    /// with UID EXPUNGE, when host1 has UIDPLUS and `--delete1` chose them).
    async fn delete_on_host1(&mut self, confirmed: &[u32]) -> Result<(), ConnError> {
        let (ctx, job, c1) = (self.ctx, self.job, self.c1);
        let (dry, del) = (ctx.cfg.dry, ctx.cfg.delete);
        let mut deleted: Vec<u32> = Vec::new();
        if del.delete1 {
            let lines: Vec<String> = confirmed
                .iter()
                .map(|u| {
                    format!(
                        "Host1: {}/{u} marking deleted{}{}",
                        job.name1,
                        if del.expunge1 { " and expunged" } else { "" },
                        if dry { DRY } else { "" }
                    )
                })
                .collect();
            ctx.out.lines(&lines);
            if !dry {
                deleted = self.flag_deleted1(confirmed).await?;
            }
        }
        if del.expunge1 && !dry {
            let done = if c1.caps().has("UIDPLUS") && del.delete1 {
                if deleted.is_empty() {
                    None
                } else {
                    let set = UidSet::from_uids(deleted.iter().copied());
                    Some(c1.run(cmd::uid_expunge(&set)).await?)
                }
            } else {
                Some(c1.run(cmd::expunge()).await?)
            };
            if let Some(done) = done
                && !done.is_ok()
            {
                self.ok = false;
                ctx.error(format!(
                    "Host1: folder {}: expunge failed: {}",
                    job.name1,
                    done.status.full_text()
                ));
            }
        }
        if !deleted.is_empty() {
            if let Some((store, id)) = self.store() {
                self.stored("drop deleted messages", store.remove_uid1(id, &deleted));
            }
            ctx.stats().deleted1 += deleted.len() as u64;
        }
        Ok(())
    }

    async fn flag_deleted1(&mut self, confirmed: &[u32]) -> Result<Vec<u32>, ConnError> {
        let mut deleted = Vec::new();
        for set in UidSet::chunks_by_len(confirmed, listing::MAX_SET_LEN) {
            let done = self
                .c1
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
                self.ok = false;
                self.ctx.error(format!(
                    "Host1: flags msg {}/{set} could not add flags [\\Deleted]: {}",
                    self.job.name1,
                    done.status.full_text()
                ));
            }
        }
        Ok(deleted)
    }
}
