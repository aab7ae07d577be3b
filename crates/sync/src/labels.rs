//! Gmail labels for the run: the label mode (from the options and both servers'
//! X-GM-EXT-1) and the folder ↔ label relations, decided once by
//! [`imapsync_plan::labels`] after the folders are mapped. Each folder pair then carries
//! its part out (`folder::labels`).

use imapsync_client::Connection;
use imapsync_plan::folders::ListedFolder;
use imapsync_plan::labels::{self, LabelInputs, LabelPlan};

use crate::ctx::Ctx;
use crate::discover::SideFolders;
use crate::mapping::Mapped;

/// The X-GM-EXT-1 capability (Gmail's IMAP extensions).
pub const GMAIL_EXT: &str = "X-GM-EXT-1";

fn listed(side: &SideFolders) -> Vec<ListedFolder> {
    side.list
        .iter()
        .map(|f| ListedFolder {
            name: f.name.clone(),
            attributes: f.attrs.clone(),
        })
        .collect()
}

/// Decides the run's label plan and keeps it in the context; prints the mode.
pub fn prepare(ctx: &Ctx, c1: &Connection, c2: &Connection, m: &Mapped) {
    let opts = ctx.cfg.messages.labels;
    let (mode, line) = labels::mode(&opts, c1.caps().has(GMAIL_EXT), c2.caps().has(GMAIL_EXT));
    if let Some(l) = line {
        ctx.out.line(l);
    }
    let (f1, f2) = (listed(&m.f1), listed(&m.f2));
    let selected: Vec<String> = m.plan.pairs.iter().map(|p| p.name1.clone()).collect();
    let _ = ctx.labels.set(LabelPlan::new(&LabelInputs {
        mode,
        folders1: &f1,
        folders2: &f2,
        selected: &selected,
        mapped: &m.plan.mapped_all,
        debug: opts.debuglabels,
    }));
}
