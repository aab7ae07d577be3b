//! Phase 5b: Gmail labels — the labels of the messages just copied (`--synclabels`) and of
//! those already there (`--resynclabels`), as `UID STORE [+-]X-GM-LABELS` on host2, all
//! decided by [`imapsync_plan::labels`]; and the count of messages another folder copies.

use imapsync_client::Side;
use imapsync_plan::folderplan::FolderPlan;
use imapsync_plan::labels::{self, LabelStore};
use imapsync_proto::command::{StoreMode, cmd};
use imapsync_proto::seqset::UidSet;

use super::{Copied, FolderError, FolderSync, conn_err};
use crate::listing;

impl FolderSync<'_> {
    /// Counts (and with `--debuglabels` tells) the messages another folder copies, then
    /// stores the labels the plan decided.
    pub(super) async fn store_labels(
        &mut self,
        plan: &FolderPlan,
        copied: &Copied,
    ) -> Result<(), FolderError> {
        let (ctx, job) = (self.ctx, self.job);
        let lp = &plan.labels;
        for l in &lp.lines {
            ctx.out.line(l);
        }
        if !lp.elsewhere.is_empty() {
            let sizes: std::collections::HashMap<u32, u64> =
                plan.list1.iter().map(|m| (m.uid, m.size)).collect();
            let mut st = ctx.stats();
            st.skipped += lp.elsewhere.len() as u64;
            st.bytes_skipped += lp
                .elsewhere
                .iter()
                .filter_map(|(u, _)| sizes.get(u))
                .sum::<u64>();
        }
        let mut without_uid = 0;
        let after_copy = labels::group_stores(copied.pairs.iter().filter_map(|&(u1, u2)| {
            let l = lp.copy_labels.get(&u1)?;
            if u2 == 0 {
                without_uid += 1;
                return None;
            }
            Some((u2, l.clone(), Vec::new()))
        }));
        if without_uid > 0 {
            ctx.out.line(format!(
                "Warning: Host2 folder [{}]: {without_uid} copies got no UID (no UIDPLUS): their labels can not be stored",
                job.shown2
            ));
        }
        if ctx.cfg.dry {
            // Nothing was copied; tell what the copies would be given.
            for (u1, l) in &lp.copy_labels {
                ctx.out.line(format!(
                    "Host2: msg {}/{u1} copy would get labels ({}) (not really since --dry mode)",
                    job.name1,
                    l.join(" ")
                ));
            }
        }
        if !after_copy.is_empty() {
            // Makes the new messages part of the selected folder's view before storing.
            let _ = self
                .c2
                .run(cmd::noop())
                .await
                .map_err(conn_err(Side::Host2))?;
        }
        for s in after_copy.iter().chain(&lp.stores) {
            self.label_store(s).await?;
        }
        Ok(())
    }

    /// One `UID STORE uids [+-]X-GM-LABELS (labels)` (in chunks), refused ones recorded.
    async fn label_store(&mut self, s: &LabelStore) -> Result<(), FolderError> {
        let (ctx, job) = (self.ctx, self.job);
        let (sign, mode) = if s.add {
            ('+', StoreMode::Add)
        } else {
            ('-', StoreMode::Remove)
        };
        let shown = s.labels.join(" ");
        for set in UidSet::chunks_by_len(&s.uids, listing::MAX_SET_LEN) {
            if ctx.cfg.dry {
                ctx.out.line(format!(
                    "Host2: labels msg {}/{set} would get {sign}X-GM-LABELS ({shown}) (not really since --dry mode)",
                    job.name2
                ));
                continue;
            }
            let done = self
                .c2
                .run(cmd::uid_store_labels(&set, mode, &s.labels))
                .await
                .map_err(conn_err(Side::Host2))?;
            if done.is_ok() {
                ctx.stats().labels_stored += set.len();
                ctx.out.line(format!(
                    "Host2: labels msg {}/{set} {sign}X-GM-LABELS ({shown})",
                    job.name2
                ));
            } else {
                self.ok = false;
                ctx.error(format!(
                    "Host2: labels msg {}/{set} could not store {sign}X-GM-LABELS ({shown}): {}",
                    job.name2,
                    done.status.full_text()
                ));
            }
        }
        Ok(())
    }
}
