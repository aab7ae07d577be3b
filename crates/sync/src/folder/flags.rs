//! Phase 5: the flag STOREs the plan decided for messages already on host2.

use imapsync_client::Side;
use imapsync_plan::folderplan::FolderPlan;
use imapsync_proto::command::{StoreMode, cmd};
use imapsync_proto::seqset::UidSet;

use super::{FolderError, FolderSync, conn_err};
use crate::listing;

impl FolderSync<'_> {
    /// Sends the STOREs (pipelined), then records the new flags in the UID map.
    pub(super) async fn resync_flags(&mut self, plan: &FolderPlan) -> Result<(), FolderError> {
        if plan.flag_updates.is_empty() {
            return Ok(());
        }
        let (ctx, job, c2) = (self.ctx, self.job, self.c2);
        let mut pending = Vec::new();
        for (fl, uids) in &plan.flag_updates {
            let list: Vec<String> = fl.split_whitespace().map(str::to_string).collect();
            for set in UidSet::chunks_by_len(uids, listing::MAX_SET_LEN) {
                if ctx.cfg.dry {
                    ctx.out.line(format!(
                        "Host2: flags msg {}/{set} would be set to [{fl}] (not really since --dry mode)",
                        job.name2
                    ));
                    continue;
                }
                let p = c2.submit(cmd::uid_store(&set, StoreMode::Replace, &list, true));
                pending.push((set, fl, p));
            }
        }
        for (set, fl, p) in pending {
            let done = p.await.map_err(conn_err(Side::Host2))?;
            if done.is_ok() {
                ctx.stats().flags_updated += set.len();
                if ctx.cfg.debug {
                    ctx.out.line(format!(
                        "Host2: flags msg {}/{set} set to [{fl}]",
                        job.name2
                    ));
                }
            } else {
                self.ok = false;
                ctx.error(format!(
                    "Host2: flags msg {}/{set} could not add flags [{fl}]: {}",
                    job.name2,
                    done.status.full_text()
                ));
            }
        }
        if let Some((store, id)) = self.store() {
            self.stored("record flags", store.update_flags(id, &plan.new_flags));
        }
        Ok(())
    }
}
