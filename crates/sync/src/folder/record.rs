//! Phase 7: record where both sides stand, for the next run.

use imapsync_client::{Connection, Side};
use imapsync_plan::folderplan::{self, FolderOutcome, FolderPlan};
use imapsync_proto::command::cmd;
use imapsync_proto::response::Untagged;
use imapsync_state::SideStatus;

use super::{FolderError, FolderSync, Selection, conn_err};

impl FolderSync<'_> {
    /// Saves the record the plan and the outcome make (nothing with `--dry`, without a
    /// store, or when host2's folder was never selected).
    pub(super) async fn record(
        &mut self,
        sel: &Selection,
        plan: &FolderPlan,
        outcome: FolderOutcome,
    ) -> Result<(), FolderError> {
        let (Some(sel2), Some((store, _))) = (&sel.sel2, self.store()) else {
            return Ok(());
        };
        let status2 = status(self.c2, &self.job.name2)
            .await
            .map_err(conn_err(Side::Host2))?;
        let Some(rec) = &self.rec else {
            return Ok(());
        };
        let new =
            folderplan::finish_record(rec, &self.rules, &sel.sel1, sel2, status2, plan, outcome);
        self.stored("save the folder record", store.save_folder(&new));
        self.rec = Some(new);
        Ok(())
    }
}

/// UIDNEXT, HIGHESTMODSEQ and message count of a folder now.
async fn status(c: &Connection, name: &str) -> Result<SideStatus, imapsync_client::ConnError> {
    let items = if c.caps().condstore() {
        "MESSAGES UIDNEXT UIDVALIDITY HIGHESTMODSEQ"
    } else {
        "MESSAGES UIDNEXT UIDVALIDITY"
    };
    let done = c.run(cmd::status(name.as_bytes(), items)).await?;
    let mut s = SideStatus::default();
    for u in done.untagged {
        if let Untagged::MailboxStatus { items, .. } = u {
            s = SideStatus {
                uidnext: items.uidnext,
                modseq: items.highestmodseq,
                messages: items.messages,
            };
        }
    }
    Ok(s)
}
