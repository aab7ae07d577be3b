//! Folder statuses and imapsync's "Folders sizes before/after the synchronization" tables.

use std::collections::HashMap;

use imapsync_client::{Connection, Side};
use imapsync_proto::command::cmd;
use imapsync_proto::response::{StatusItems, Untagged};
use imapsync_proto::seqset::{STAR, UidSet};

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

/// The table before the sync (`--foldersizes`), or the whole point of `--justfoldersizes`
/// (which also tells each folder's biggest message, like imapsync).
pub async fn before(ctx: &Ctx, m: &Mapped, c1: &Connection, c2: &Connection) -> Option<Totals> {
    let just = ctx.cfg.mode == Mode::JustFolderSizes;
    if !(ctx.cfg.sizes.before || just) {
        return None;
    }
    let started = std::time::Instant::now();
    ctx.out.lines(&[
        "Folders sizes before the synchronization. It can take some time. Be patient.".to_string(),
        "You can remove foldersizes listings by using \"--nofoldersizes\" and \"--nofoldersizesatend\"".to_string(),
        "but then you will also lose the ETA (Estimation Time of Arrival) given after each message copy.".to_string(),
    ]);
    let biggest = if just {
        let names2: Vec<String> = m
            .plan
            .pairs
            .iter()
            .filter(|p| m.f2.contains(&p.name2))
            .map(|p| p.name2.clone())
            .collect();
        let names1: Vec<String> = m.plan.pairs.iter().map(|p| p.name1.clone()).collect();
        let (b1, b2) = tokio::join!(biggest_messages(c1, &names1), biggest_messages(c2, &names2));
        Some((b1, b2))
    } else {
        None
    };
    let (mut lines, totals) = table(&m.plan, &m.status1, &m.status2, &m.f2, biggest.as_ref());
    lines.push(format!(
        "Time spent on sizing: {:>11.1} seconds",
        started.elapsed().as_secs_f64()
    ));
    ctx.out.lines(&lines);
    Some(totals)
}

/// The biggest message of each folder (EXAMINE and a FETCH of every size, pipelined).
async fn biggest_messages(conn: &Connection, names: &[String]) -> HashMap<String, u64> {
    let pending: Vec<_> = names
        .iter()
        .map(|n| {
            let examine = conn.submit(cmd::examine(n.as_bytes(), &cmd::SelectOpts::default()));
            let fetch = conn.submit(cmd::uid_fetch(
                &UidSet::range(1, STAR),
                "RFC822.SIZE",
                None,
                false,
            ));
            (n, examine, fetch)
        })
        .collect();
    let mut out = HashMap::new();
    for (name, examine, fetch) in pending {
        let (Ok(e), Ok(f)) = (examine.await, fetch.await) else {
            continue;
        };
        if !e.is_ok() || !f.is_ok() {
            continue;
        }
        let biggest = f
            .untagged
            .iter()
            .filter_map(|u| match u {
                Untagged::Fetch { items, .. } => items.rfc822_size,
                _ => None,
            })
            .max()
            .unwrap_or(0);
        out.insert(name.clone(), biggest);
    }
    out
}

/// The table after the sync (`--foldersizesatend`), on connections of its own: sizes are
/// informative, a connection refused now is not an error of the sync.
pub async fn after(ctx: &Ctx, m: &Mapped, existing2: &[String]) -> Option<Totals> {
    let started = std::time::Instant::now();
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
    ctx.out.lines(&[
        "Folders sizes after the synchronization.".to_string(),
        "You can remove this foldersizes listing by using  \"--nofoldersizesatend\"".to_string(),
    ]);
    let (mut lines, totals) = table(
        &m.plan,
        &s1.unwrap_or_default(),
        &s2.unwrap_or_default(),
        &f2_after,
        None,
    );
    lines.push(format!(
        "Time spent on sizing: {:>11.1} seconds",
        started.elapsed().as_secs_f64()
    ));
    ctx.out.lines(&lines);
    tokio::join!(c1.logout(), c2.logout());
    Some(totals)
}

/// One folder's numbers.
#[derive(Clone, Copy, Debug, Default)]
struct Sized {
    messages: i64,
    size: i64,
    biggest: Option<i64>,
}

fn sized(st: Option<&StatusItems>, biggest: Option<u64>) -> Sized {
    Sized {
        messages: st.and_then(|s| s.messages).unwrap_or(0) as i64,
        size: st.and_then(|s| s.size).unwrap_or(0) as i64,
        biggest: biggest.map(|b| b as i64),
    }
}

fn values(v: &Sized) -> String {
    let mut s = format!("Size: {:>9} Messages: {:>5}", v.size, v.messages);
    if let Some(b) = v.biggest {
        s.push_str(&format!(" Biggest: {b:>9}"));
    }
    s
}

/// Per-side biggest message of each folder, when measured.
type Biggest = (HashMap<String, u64>, HashMap<String, u64>);

/// imapsync's sizes table: both sides of each pair and their difference, then the totals;
/// returns host2 - host1 (messages, bytes).
fn table(
    plan: &mapping::Plan,
    s1: &HashMap<String, StatusItems>,
    s2: &HashMap<String, StatusItems>,
    f2: &SideFolders,
    biggest: Option<&Biggest>,
) -> (Vec<String>, Totals) {
    let n = plan.pairs.len();
    let mut lines = Vec::new();
    let (mut t1, mut t2) = (Sized::default(), Sized::default());
    let with_biggest = biggest.is_some();
    for (i, p) in plan.pairs.iter().enumerate() {
        let counter = format!("{}/{n}", i + 1);
        let a = sized(
            s1.get(&p.name1),
            biggest.map(|b| b.0.get(&p.name1).copied().unwrap_or(0)),
        );
        lines.push(match s1.get(&p.name1) {
            Some(_) => format!(
                "Host1 folder {counter:>7} {:<35} {}",
                format!("[{}]", p.shown1),
                values(&a)
            ),
            // A --folder that host1 does not have (--nocheckfoldersexist).
            None => format!(
                "Host1 folder {counter:>7} {:<35}  does not exist",
                format!("[{}]", p.shown1)
            ),
        });
        let b = if f2.contains(&p.name2) {
            let b = sized(
                s2.get(&p.name2),
                biggest.map(|b| b.1.get(&p.name2).copied().unwrap_or(0)),
            );
            lines.push(format!(
                "Host2 folder {counter:>7} {:<35} {}",
                format!("[{}]", p.shown2),
                values(&b)
            ));
            b
        } else {
            lines.push(format!(
                "Host2 folder {counter:>7} {:<35}  does not exist yet",
                format!("[{}]", p.shown2)
            ));
            Sized {
                biggest: a.biggest.map(|_| 0),
                ..Sized::default()
            }
        };
        let mut diff = format!(
            "Host2-Host1  {:>7} {:<35}       {:>9}           {:>5}",
            "",
            "",
            b.size - a.size,
            b.messages - a.messages
        );
        if let (Some(x), Some(y)) = (a.biggest, b.biggest) {
            diff.push_str(&format!("          {:>9}", y - x));
        }
        lines.push(diff);
        lines.push(String::new());
        for (t, v) in [(&mut t1, a), (&mut t2, b)] {
            t.messages += v.messages;
            t.size += v.size;
            t.biggest = v.biggest.map(|x| x.max(t.biggest.unwrap_or(0)));
        }
    }
    let shown = |b: i64| imapsync_plan::display::bytes_display_string_bin(b as f64);
    let nb2 = plan.pairs.iter().filter(|p| f2.contains(&p.name2)).count();
    lines.extend([
        format!("Host1 Nb folders:           {n:>11} folders"),
        format!("Host2 Nb folders:           {nb2:>11} folders"),
        String::new(),
        format!("Host1 Nb messages:          {:>11} messages", t1.messages),
        format!("Host2 Nb messages:          {:>11} messages", t2.messages),
        String::new(),
        format!(
            "Host1 Total size:           {:>11} bytes ({})",
            t1.size,
            shown(t1.size)
        ),
        format!(
            "Host2 Total size:           {:>11} bytes ({})",
            t2.size,
            shown(t2.size)
        ),
        String::new(),
    ]);
    if with_biggest {
        for (side, t) in [(1, &t1), (2, &t2)] {
            let b = t.biggest.unwrap_or(0);
            lines.push(format!(
                "Host{side} Biggest message:      {b:>11} bytes ({})",
                shown(b)
            ));
        }
        lines.push(String::new());
    }
    (lines, (t2.messages - t1.messages, t2.size - t1.size))
}
