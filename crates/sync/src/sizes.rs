//! Folder statuses and imapsync's "Folders sizes before/after the synchronization" tables.

use std::collections::HashMap;

use imapsync_client::{Connection, Side};
use imapsync_proto::response::StatusItems;

use crate::config::Mode;
use crate::ctx::Ctx;
use crate::discover::{self, Folder, SideFolders};
use crate::mapping::{self, Mapped};
use crate::session;

/// Host2 - host1 (messages, bytes).
pub type Totals = (i64, i64);

/// Statuses of the given folders: from LIST-STATUS when the server gave them, else STATUS.
pub async fn statuses(
    conn: &Connection,
    side: &SideFolders,
    names: Vec<String>,
) -> HashMap<String, StatusItems> {
    let mut out = HashMap::new();
    let mut missing = Vec::new();
    for n in names {
        match side.status.get(&n) {
            Some(s) => {
                out.insert(n, s.clone());
            }
            None if side.contains(&n) => missing.push(n),
            None => {}
        }
    }
    if !missing.is_empty()
        && let Ok(more) = discover::statuses(conn, &missing).await
    {
        out.extend(more);
    }
    out
}

/// The table before the sync (`--foldersizes`, `--justfoldersizes`).
pub fn before(ctx: &Ctx, m: &Mapped) -> Option<Totals> {
    if !(ctx.cfg.sizes.before || ctx.cfg.mode == Mode::JustFolderSizes) {
        return None;
    }
    let (lines, totals) = table(&m.plan, &m.status1, &m.status2, &m.f2, "before");
    ctx.out.lines(&lines);
    Some(totals)
}

/// The table after the sync (`--foldersizesatend`), on connections of its own: sizes are
/// informative, a connection refused now is not an error of the sync.
pub async fn after(ctx: &Ctx, m: &Mapped, existing2: &[String]) -> Option<Totals> {
    let (c1, c2) = tokio::join!(
        session::open_quiet(ctx, Side::Host1),
        session::open_quiet(ctx, Side::Host2)
    );
    let (c1, c2) = (c1?, c2?);
    let names1: Vec<String> = m.plan.pairs.iter().map(|p| p.name1.clone()).collect();
    let names2: Vec<String> = m.plan.pairs.iter().map(|p| p.name2.clone()).collect();
    let (s1, s2) = tokio::join!(
        discover::statuses(&c1, &names1),
        discover::statuses(&c2, &names2)
    );
    let mut f2_after = m.f2.clone();
    for n in existing2 {
        if !f2_after.contains(n) {
            f2_after.list.push(Folder {
                name: n.clone(),
                attrs: vec![],
                delimiter: None,
            });
        }
    }
    let (lines, totals) = table(
        &m.plan,
        &s1.unwrap_or_default(),
        &s2.unwrap_or_default(),
        &f2_after,
        "after",
    );
    ctx.out.lines(&lines);
    tokio::join!(c1.logout(), c2.logout());
    Some(totals)
}

fn folder_line(
    host: u8,
    i: usize,
    n: usize,
    shown: &str,
    st: Option<&StatusItems>,
) -> (String, i64, i64) {
    let msgs = st.and_then(|s| s.messages).unwrap_or(0) as i64;
    let size = st.and_then(|s| s.size).map(|v| v as i64);
    let line = format!(
        "Host{host} folder {:>7} {:<35} Size: {:>9} Messages: {:>6}",
        format!("{}/{n}", i + 1),
        format!("[{shown}]"),
        size.map(|v| v.to_string()).unwrap_or_else(|| "?".into()),
        msgs
    );
    (line, msgs, size.unwrap_or(0))
}

/// The sizes table; returns host2 - host1 (messages, bytes).
fn table(
    plan: &mapping::Plan,
    s1: &HashMap<String, StatusItems>,
    s2: &HashMap<String, StatusItems>,
    f2: &SideFolders,
    when: &str,
) -> (Vec<String>, Totals) {
    let n = plan.pairs.len();
    let mut lines = vec![format!(
        "++++ Calculating sizes of {n} folders on each side ({when} the sync)"
    )];
    let (mut m1, mut b1, mut m2, mut b2) = (0i64, 0i64, 0i64, 0i64);
    for (i, p) in plan.pairs.iter().enumerate() {
        let (line, msgs, bytes) = folder_line(1, i, n, &p.shown1, s1.get(&p.name1));
        lines.push(line);
        m1 += msgs;
        b1 += bytes;
        if f2.contains(&p.name2) {
            let (line, msgs, bytes) = folder_line(2, i, n, &p.shown2, s2.get(&p.name2));
            lines.push(line);
            m2 += msgs;
            b2 += bytes;
        } else {
            lines.push(format!(
                "Host2 folder {:>7} {:<35} does not exist yet",
                format!("{}/{n}", i + 1),
                format!("[{}]", p.shown2)
            ));
        }
    }
    let shown = |b: i64| imapsync_plan::display::bytes_display_string_bin(b as f64);
    lines.extend([
        format!("Host1 Nb folders:            {n} folders"),
        format!(
            "Host2 Nb folders:            {} folders",
            plan.pairs.iter().filter(|p| f2.contains(&p.name2)).count()
        ),
        format!("Host1 Nb messages:           {m1} messages"),
        format!("Host2 Nb messages:           {m2} messages"),
        format!("Host1 Total size:            {b1} bytes ({})", shown(b1)),
        format!("Host2 Total size:            {b2} bytes ({})", shown(b2)),
    ]);
    (lines, (m2 - m1, b2 - b1))
}
