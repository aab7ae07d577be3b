//! Folder operations of a run, carried out as [`imapsync_plan::folderops`] decides them:
//! create and subscribe host2 folders (pipelined: a server runs them in order), delete host2
//! folders (`--delete2folders`), delete empty host1 folders (`--delete1emptyfolders`).

use std::collections::HashMap;

use imapsync_client::{Connection, Side};
use imapsync_plan::folderops::{self, Host2Folders, PairNames};
use imapsync_proto::command::cmd;

use crate::ctx::Ctx;
use crate::discover;
use crate::mapping::Mapped;
use crate::session;

const DRY: &str = "(not really since --dry mode)";

/// Creates and subscribes what host2 lacks, runs `--delete2folders`; returns the host2
/// folders that exist now. Freshly created folders get their statuses.
pub async fn prepare_host2(ctx: &Ctx, c2: &Connection, m: &mut Mapped) -> Vec<String> {
    let cfg = &ctx.cfg;
    let pairs: Vec<PairNames<'_>> = m
        .plan
        .pairs
        .iter()
        .map(|p| PairNames {
            name1: &p.name1,
            name2: &p.name2,
        })
        .collect();
    let messages1: HashMap<String, u32> = m
        .status1
        .iter()
        .filter_map(|(k, s)| Some((k.clone(), s.messages?)))
        .collect();
    let mut existing2 = m.f2.names();
    let todo = folderops::host2_folders(
        &cfg.folders,
        &pairs,
        folderops::Listed {
            existing1: &m.f1.names(),
            existing2: &existing2,
            messages1: &messages1,
            subscribed1: &m.f1.subscribed,
            subscribed2: &m.f2.subscribed,
            sep2: &m.plan.sep2,
        },
    );
    for name1 in &todo.skipped_empty {
        let shown = m
            .plan
            .pairs
            .iter()
            .find(|p| &p.name1 == name1)
            .map(|p| p.shown1.as_str())
            .unwrap_or(name1);
        ctx.out
            .line(format!("Host1: skipping empty folder [{shown}]"));
    }
    let created_any = create(ctx, c2, &todo, &mut existing2).await;
    subscribe(ctx, c2, &todo, &existing2).await;
    if created_any {
        let names: Vec<String> = m
            .plan
            .pairs
            .iter()
            .filter(|p| existing2.contains(&p.name2) && !m.status2.contains_key(&p.name2))
            .map(|p| p.name2.clone())
            .collect();
        if let Ok(more) = discover::statuses(c2, &names).await {
            m.status2.extend(more);
        }
    }
    if cfg.folders.delete2folders {
        delete_host2_folders(ctx, c2, m).await;
    }
    existing2
}

/// Sends the CREATEs pipelined; true when one was created.
async fn create(
    ctx: &Ctx,
    c2: &Connection,
    todo: &Host2Folders,
    existing2: &mut Vec<String>,
) -> bool {
    if ctx.cfg.dry {
        for (name, _) in &todo.create {
            ctx.out
                .line(format!("Creating folder [{name}] on host2 {DRY}"));
        }
        return false;
    }
    let pending: Vec<_> = todo
        .create
        .iter()
        .map(|(name, _)| c2.submit(cmd::create(name.as_bytes())))
        .collect();
    let mut created_any = false;
    for ((name, from), p) in todo.create.iter().zip(pending) {
        ctx.out.line(format!("Creating folder [{name}] on host2"));
        match p.await {
            Ok(d) if d.is_ok() => {
                existing2.push(name.clone());
                created_any = true;
            }
            Ok(d) => {
                let text = d.status.full_text();
                if text.to_ascii_lowercase().contains("already exists") {
                    existing2.push(name.clone());
                } else {
                    ctx.error(format!(
                        "Could not create folder [{name}] from [{from}]: {text}"
                    ));
                }
            }
            Err(e) => ctx.error(format!(
                "Could not create folder [{name}] from [{from}]: {e}"
            )),
        }
    }
    created_any
}

/// Subscribes host2 to the folders that exist (all of them with `--dry`).
async fn subscribe(ctx: &Ctx, c2: &Connection, todo: &Host2Folders, existing2: &[String]) {
    let names: Vec<&String> = todo
        .subscribe
        .iter()
        .filter(|n| ctx.cfg.dry || existing2.contains(n))
        .collect();
    if ctx.cfg.dry {
        for n in names {
            ctx.out
                .line(format!("Host2: subscribing to folder [{n}] {DRY}"));
        }
        return;
    }
    let pending: Vec<_> = names
        .iter()
        .map(|n| c2.submit(cmd::subscribe(n.as_bytes())))
        .collect();
    for (n, p) in names.into_iter().zip(pending) {
        if let Ok(d) = p.await
            && d.is_ok()
        {
            ctx.out.line(format!("Host2: subscribing to folder [{n}]"));
        }
    }
}

/// `--delete2folders`: host2 folders that no host1 folder (selected or not) maps to.
async fn delete_host2_folders(ctx: &Ctx, c2: &Connection, m: &Mapped) {
    let Some(names) =
        folderops::host2_folders_to_delete(&ctx.cfg.folders, m.f1.list.len(), &m.plan.only_on_2)
    else {
        ctx.out.line(folderops::NO_HOST1_FOLDERS);
        return;
    };
    for name in names {
        if ctx.cfg.dry {
            ctx.out
                .line(format!("Deleting folder [{name}] on host2\t{DRY}"));
            ctx.stats().folders_deleted2 += 1;
            continue;
        }
        let _ = c2.run(cmd::unsubscribe(name.as_bytes())).await;
        let failure = match c2.run(cmd::delete(name.as_bytes())).await {
            Ok(d) if d.is_ok() => {
                ctx.out.line(format!("Deleted host2 folder [{name}]"));
                ctx.stats().folders_deleted2 += 1;
                continue;
            }
            Ok(d) => d.status.full_text(),
            Err(e) => e.to_string(),
        };
        ctx.out
            .line(format!("Deleting host2 folder [{name}] failed: {failure}"));
        ctx.stats().folders_delete_failed2 += 1;
    }
}

/// `--delete1emptyfolders`: synced host1 folders left empty, without children, not INBOX.
pub async fn delete_empty_folders_on_host1(ctx: &Ctx, m: &Mapped) {
    let Some(c1) = session::open_quiet(ctx, Side::Host1).await else {
        ctx.out.line("Host1: no connection to delete empty folders");
        return;
    };
    let synced: Vec<String> = m.plan.pairs.iter().map(|p| p.name1.clone()).collect();
    let statuses = discover::statuses(&c1, &synced).await.unwrap_or_default();
    let messages1: HashMap<String, u32> = statuses
        .iter()
        .filter_map(|(k, s)| Some((k.clone(), s.messages?)))
        .collect();
    let sep =
        m.f1.namespace_separator()
            .or_else(|| m.f1.list.iter().find_map(|f| f.delimiter))
            .unwrap_or('/');
    for name in folderops::host1_empty_folders(&synced, &m.f1.names(), &messages1, sep) {
        if ctx.cfg.dry {
            ctx.out
                .line(format!("Deleting empty host1 folder [{name}]\t{DRY}"));
            continue;
        }
        match c1.run(cmd::delete(name.as_bytes())).await {
            Ok(d) if d.is_ok() => ctx.out.line(format!("Deleted empty host1 folder [{name}]")),
            Ok(d) => ctx.out.line(format!(
                "Deleting empty host1 folder [{name}] failed: {}",
                d.status.full_text()
            )),
            Err(e) => ctx
                .out
                .line(format!("Deleting empty host1 folder [{name}] failed: {e}")),
        }
    }
    c1.logout().await;
}
