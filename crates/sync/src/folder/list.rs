//! Phase 2: list both folders — in full, or only what changed since the recorded sync.

use std::collections::HashMap;

use imapsync_client::{Connection, Side};
use imapsync_plan::folderplan::{self, ChangesPlan, Pairing};
use imapsync_state::{FolderRecord, MapEntry};

use super::{FolderError, FolderSync, Listed2, Selection};
use crate::listing::{self, ListError, ListSpec, Listed, Selected};

type Listings = (Vec<Listed>, Vec<Listed>);
type ListFail = (Side, ListError);

impl FolderSync<'_> {
    pub(super) async fn list(&mut self, sel: &Selection) -> Result<Listed2, FolderError> {
        let (map, open_intents) = self.load_map(sel.uidvalidity_changed);
        let incremental = match (&self.rec, &sel.sel2) {
            (Some(r), Some(s2)) => {
                !sel.uidvalidity_changed
                    && folderplan::incremental(
                        r,
                        &sel.sel1,
                        s2,
                        !open_intents.is_empty(),
                        &self.rules,
                    )
            }
            _ => false,
        };
        let listed = match (&self.rec, &sel.sel2) {
            (Some(r), Some(s2)) if incremental => self.list_changes(r, &sel.sel1, s2, &map).await,
            _ => self.list_all(sel.sel2.is_some()).await,
        };
        let (list1, list2) = listed.map_err(|e| self.list_failed(e))?;
        Ok(Listed2 {
            list1,
            list2,
            map,
            open_intents,
        })
    }

    /// The UID map (unless a UIDVALIDITY changed) and the intents an interrupted run left.
    fn load_map(&mut self, uidvalidity_changed: bool) -> (Vec<MapEntry>, Vec<i64>) {
        let (Some(store), Some(id)) = (&self.ctx.store, self.rec.as_ref().map(|r| r.id)) else {
            return (Vec::new(), Vec::new());
        };
        let map = if uidvalidity_changed {
            Ok(Vec::new())
        } else {
            store.load_map(id)
        };
        let intents = store
            .open_intents(id)
            .map(|v| v.iter().map(|i| i.id).collect());
        match (map, intents) {
            (Ok(m), Ok(i)) => (m, i),
            (Err(e), _) | (_, Err(e)) => {
                // Identity by headers still finds what an earlier run copied.
                self.stored("read the UID map", Err(e));
                (Vec::new(), Vec::new())
            }
        }
    }

    fn list_failed(&self, (side, e): ListFail) -> FolderError {
        match e {
            ListError::Conn(err) => FolderError::Conn { side, err },
            ListError::Refused { command, status } => {
                let shown = match side {
                    Side::Host1 => &self.job.shown1,
                    Side::Host2 => &self.job.shown2,
                };
                self.ctx.error(format!(
                    "{side} folder [{shown}]: {command} failed: {}",
                    status.full_text()
                ));
                FolderError::Recorded
            }
        }
    }

    fn spec(&self, side: Side, search: bool) -> ListSpec<'_> {
        let cfg = &self.ctx.cfg;
        ListSpec {
            search: search.then(|| self.ctx.search(side)).flatten(),
            since_uid: None,
            uids: None,
            fetch_set: cfg.messages.fetch_set[match side {
                Side::Host1 => 0,
                Side::Host2 => 1,
            }]
            .as_deref(),
            want_date: side == Side::Host1,
            want_keys: !cfg.messages.useuid,
            want_labels: match side {
                Side::Host1 => self.ctx.label_mode().reads_host1(),
                Side::Host2 => self.ctx.label_mode().reads_host2(),
            },
            identity: &cfg.messages.identity,
        }
    }

    /// Both sides in full: every message with its size, flags, date (host1) and key.
    async fn list_all(&self, have2: bool) -> Result<Listings, ListFail> {
        let (spec1, spec2) = (self.spec(Side::Host1, true), self.spec(Side::Host2, true));
        let (l1, l2) = tokio::join!(listing::list(self.c1, &spec1), async {
            if have2 {
                listing::list(self.c2, &spec2).await
            } else {
                Ok(Vec::new())
            }
        });
        Ok((
            l1.map_err(|e| (Side::Host1, e))?,
            l2.map_err(|e| (Side::Host2, e))?,
        ))
    }

    /// Both sides relative to the recorded sync (see [`folderplan::changes`]).
    async fn list_changes(
        &self,
        rec: &FolderRecord,
        sel1: &Selected,
        sel2: &Selected,
        map: &[MapEntry],
    ) -> Result<Listings, ListFail> {
        let plan =
            folderplan::changes_plan(rec, sel1, sel2, self.c1.qresync_enabled(), &self.rules);
        let (r1, r2) = tokio::join!(
            host1_changes(self.c1, &plan, sel1.exists),
            host2_changes(self.c2, plan.host2_unchanged)
        );
        let (all1, flags1, vanished1) = r1.map_err(|e| (Side::Host1, e))?;
        if let Some(gone) = vanished1 {
            self.ctx.out.line(format!(
                "Host1: folder [{}] QRESYNC: {} changed and up to {gone} expunged since the last sync",
                self.job.shown1,
                flags1.len()
            ));
        }
        let (all2, flags2_all) = r2.map_err(|e| (Side::Host2, e))?;
        let pairing = folderplan::pairing(map, &all1, &all2);
        if pairing.full_listing_needed(&self.rules) {
            return self.list_all(true).await;
        }
        let need2 = if flags2_all.is_none() {
            pairing.flags2_needed(flags1.keys())
        } else {
            Vec::new()
        };
        let (full1, full2, some2) = self.list_unpaired(&pairing, &need2).await?;
        let flags2 = flags2_all.unwrap_or(some2);
        self.ctx.out.line(format!(
            "Host1: {} messages unchanged since the last sync are paired through the state store; {} listed in full, {} flag changes",
            pairing.pairs.len(),
            pairing.unpaired1.len(),
            flags1.len()
        ));
        Ok(pairing.listings(full1, full2, &flags1, &flags2))
    }

    /// Full details of what the map does not pair, and the host2 flags asked for.
    async fn list_unpaired(
        &self,
        pairing: &Pairing,
        need2: &[u32],
    ) -> Result<(Vec<Listed>, Vec<Listed>, HashMap<u32, String>), ListFail> {
        let spec1 = ListSpec {
            uids: Some(&pairing.unpaired1),
            ..self.spec(Side::Host1, false)
        };
        let spec2 = ListSpec {
            uids: Some(&pairing.unpaired2),
            ..self.spec(Side::Host2, false)
        };
        let (full1, full2, f2) = tokio::join!(
            listing::list(self.c1, &spec1),
            listing::list(self.c2, &spec2),
            listing::flags(self.c2, Some(need2), None)
        );
        Ok((
            full1.map_err(|e| (Side::Host1, e))?,
            full2.map_err(|e| (Side::Host2, e))?,
            f2.map_err(|e| (Side::Host2, e))?,
        ))
    }
}

/// Host1's UIDs and changed flags; with QRESYNC also how many vanished.
async fn host1_changes(
    c1: &Connection,
    plan: &ChangesPlan,
    exists: u32,
) -> Result<(Vec<u32>, HashMap<u32, String>, Option<u64>), ListError> {
    if let Some((modseq, base)) = &plan.qresync {
        let (flags, vanished) = listing::changes_since(c1, *modseq).await?;
        let changed: Vec<u32> = flags.keys().copied().collect();
        if let Some(all) = folderplan::qresync_uids(base, &vanished, &changed, exists) {
            let gone: u64 = vanished.iter().map(|v| v.len()).sum();
            return Ok((all, flags, Some(gone)));
        }
        return Ok((listing::search(c1, "ALL").await?, flags, None));
    }
    let (all, flags) = tokio::join!(
        listing::search(c1, "ALL"),
        listing::flags(c1, None, plan.since1)
    );
    Ok((all?, flags?, None))
}

/// Host2's UIDs, and all its flags unless it did not change.
async fn host2_changes(
    c2: &Connection,
    unchanged: bool,
) -> Result<(Vec<u32>, Option<HashMap<u32, String>>), ListError> {
    if unchanged {
        return Ok((listing::search(c2, "ALL").await?, None));
    }
    let f = listing::flags(c2, None, None).await?;
    let mut all: Vec<u32> = f.keys().copied().collect();
    all.sort_unstable();
    Ok((all, Some(f)))
}
