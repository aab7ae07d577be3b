//! Phase 1: select both folders.

use imapsync_client::Side;
use imapsync_plan::folderplan::{self, UidValidityChange};
use imapsync_proto::command::cmd;

use super::{FolderError, FolderSync, Selection, conn_err};
use crate::listing::{self, Selected};

impl FolderSync<'_> {
    /// Selects host1's folder (read-only unless host1 is changed) and host2's (created when
    /// SELECT fails, as imapsync), and checks the UIDVALIDITYs against the record.
    pub(super) async fn select(&mut self) -> Result<Selection, FolderError> {
        let (ctx, job) = (self.ctx, self.job);
        let write1 = ctx.cfg.delete.writes_host1();
        let sel1 = match listing::select(self.c1, &job.name1, write1)
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
        ctx.out.line(format!(
            "Host1: folder [{}] has {} messages in total (mentioned by SELECT)",
            job.shown1, sel1.exists
        ));
        let sel2 = self.select2().await?;
        let mut sel1 = sel1;
        if ctx.cfg.delete.expunge1 {
            self.expunge1(&mut sel1).await?;
        }
        let uidvalidity_changed = self.check_uidvalidity(&sel1, sel2.as_ref());
        Ok(Selection {
            sel1,
            sel2,
            uidvalidity_changed,
        })
    }

    /// `--expunge1`: host1's messages flagged `\Deleted` go before anything is copied (as
    /// imapsync, so they never reach host2); the count SELECT told is adjusted.
    async fn expunge1(&mut self, sel1: &mut Selected) -> Result<(), FolderError> {
        let ctx = self.ctx;
        let dry = if ctx.cfg.dry {
            " (not really since --dry mode)"
        } else {
            ""
        };
        ctx.out
            .line(format!("Host1: Expunging {}{dry}", self.job.name1));
        if ctx.cfg.dry {
            return Ok(());
        }
        let done = self
            .c1
            .run(cmd::expunge())
            .await
            .map_err(conn_err(Side::Host1))?;
        if !done.is_ok() {
            ctx.error(format!(
                "Host1: folder {}: expunge failed: {}",
                self.job.name1,
                done.status.full_text()
            ));
            self.ok = false;
            return Ok(());
        }
        let gone = done
            .untagged
            .iter()
            .filter(|u| matches!(u, imapsync_proto::response::Untagged::Expunge(_)))
            .count() as u32;
        sel1.exists = sel1.exists.saturating_sub(gone);
        Ok(())
    }

    /// Host2's folder; `None` when it does not exist and `--dry` can not create it.
    async fn select2(&mut self) -> Result<Option<Selected>, FolderError> {
        let (ctx, job, c2) = (self.ctx, self.job, self.c2);
        let dry = ctx.cfg.dry;
        if !job.exists2 && dry {
            ctx.out.line(format!(
                "Host2: folder [{}] does not exist yet; its messages are not simulated in --dry mode",
                job.shown2
            ));
            return Ok(None);
        }
        let mut selected = listing::select(c2, &job.name2, true)
            .await
            .map_err(conn_err(Side::Host2))?;
        if selected.is_err() {
            // imapsync: try to create it, then select again.
            if !dry {
                c2.run(cmd::create(job.name2.as_bytes()))
                    .await
                    .map_err(conn_err(Side::Host2))?;
            }
            selected = listing::select(c2, &job.name2, true)
                .await
                .map_err(conn_err(Side::Host2))?;
        }
        let s2 = match selected {
            Ok(s) => s,
            Err(status) => {
                ctx.error(format!(
                    "Host2 folder [{}]: Could not select: {}",
                    job.shown2,
                    status.full_text()
                ));
                return Err(FolderError::Recorded);
            }
        };
        ctx.out.lines(&[
            format!(
                "Host2: folder [{}] has {} messages in total (mentioned by SELECT)",
                job.shown2, s2.exists
            ),
            format!(
                "Host2: folder [{}] permanentflags: {}",
                job.shown2, s2.permanentflags_shown
            ),
        ]);
        Ok(Some(s2))
    }

    /// A UIDVALIDITY change invalidates the record's UID map: it is reset, and identity falls
    /// back to headers.
    fn check_uidvalidity(&mut self, sel1: &Selected, sel2: Option<&Selected>) -> bool {
        let Some(rec) = &self.rec else {
            return false;
        };
        let Some(side) = folderplan::uidvalidity_change(rec, sel1, sel2) else {
            return false;
        };
        let (name, shown) = match side {
            UidValidityChange::Host1 => ("Host1", &self.job.shown1),
            UidValidityChange::Host2 => ("Host2", &self.job.shown2),
        };
        self.ctx.out.line(format!(
            "{name}: folder [{shown}] UIDVALIDITY changed since the last sync; UIDs are not trusted, identifying messages by their headers"
        ));
        let id = rec.id;
        if let Some(store) = &self.ctx.store {
            self.stored("reset the folder's UID map", store.reset_folder(id));
        }
        if let Some(r) = &mut self.rec {
            r.uidvalidity1 = None;
            r.uidvalidity2 = None;
        }
        true
    }
}
