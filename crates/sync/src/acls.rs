//! `--syncacls`: before the messages, each host2 folder gets the ACL entries of its host1
//! folder (GETACL on both sides, SETACL/DELETEACL on host2), as [`imapsync_plan::acls`]
//! decides. A folder whose ACL host1 will not show (no administer right) is told with the
//! user's own rights there (MYRIGHTS) and left alone. As with imapsync, a refused ACL command
//! is printed, not counted as an error.

use std::collections::HashMap;

use imapsync_client::{Connection, Done, Pending};
use imapsync_plan::acls::{self, AclAction};
use imapsync_proto::command::cmd;
use imapsync_proto::response::Untagged;

use crate::ctx::Ctx;
use crate::mapping::Mapped;

const DRY: &str = " (not really since --dry mode)";

/// The entries an answered GETACL lists, or why there are none.
fn entries(done: &Done) -> Result<Vec<(String, String)>, String> {
    if !done.is_ok() {
        return Err(done.status.full_text());
    }
    Ok(done
        .untagged
        .iter()
        .filter_map(|u| match u {
            Untagged::Other(raw) => acls::parse_acl(raw),
            _ => None,
        })
        .flat_map(|l| l.entries)
        .collect())
}

/// The rights MYRIGHTS gives (empty when it is refused or says nothing).
async fn my_rights(c: &Connection, folder: &str) -> String {
    match c.run(cmd::myrights(folder.as_bytes())).await {
        Ok(done) if done.is_ok() => done
            .untagged
            .iter()
            .find_map(|u| match u {
                Untagged::Other(raw) => acls::parse_myrights(raw).map(|(_, r)| r),
                _ => None,
            })
            .unwrap_or_default(),
        _ => String::new(),
    }
}

/// Both sides can tell ACLs; otherwise says which can not.
fn supported(ctx: &Ctx, c1: &Connection, c2: &Connection) -> bool {
    let mut ok = true;
    for (side, c) in [("Host1", c1), ("Host2", c2)] {
        if !c.caps().has("ACL") {
            ctx.out.line(format!(
                "{side}: no ACL capability, so --syncacls can not sync access control lists"
            ));
            ok = false;
        }
    }
    ok
}

/// Syncs the ACL of every folder pair of the run (host2 folders that do not exist, with
/// `--dry`, count as having none).
pub async fn sync(ctx: &Ctx, c1: &Connection, c2: &Connection, m: &Mapped, existing2: &[String]) {
    if !supported(ctx, c1, c2) {
        return;
    }
    // Every GETACL is sent at once; answers are read in order.
    let asked: Vec<(usize, Pending, Option<Pending>)> = m
        .plan
        .pairs
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let on2 = existing2
                .contains(&p.name2)
                .then(|| c2.submit(cmd::getacl(p.name2.as_bytes())));
            (i, c1.submit(cmd::getacl(p.name1.as_bytes())), on2)
        })
        .collect();
    let mut cache2: HashMap<String, Vec<(String, String)>> = HashMap::new();
    for (i, a1, a2) in asked {
        let p = &m.plan.pairs[i];
        let h1 = match a1.await {
            Ok(done) => entries(&done),
            Err(e) => Err(e.to_string()),
        };
        let h2 = match a2 {
            Some(a) => match a.await {
                Ok(done) => entries(&done),
                Err(e) => Err(e.to_string()),
            },
            None => Ok(Vec::new()),
        };
        let h1 = match h1 {
            Ok(v) => v,
            Err(why) => {
                let mine = my_rights(c1, &p.name1).await;
                ctx.out.line(format!(
                    "Host1: Could not getacl for {}: {why}; my rights there are [{mine}]: its ACL is not synced",
                    p.shown1
                ));
                continue;
            }
        };
        let h2 = match h2 {
            Ok(v) => cache2.entry(p.name2.clone()).or_insert(v).clone(),
            Err(why) => {
                ctx.out.line(format!(
                    "Host2: Could not getacl for {}: {why}: its ACL is not synced",
                    p.shown2
                ));
                continue;
            }
        };
        let (u1, u2) = (&ctx.cfg.side1.connect.user, &ctx.cfg.side2.connect.user);
        apply(ctx, c2, &p.name2, &p.shown2, acls::plan(&h1, &h2, u1, u2)).await;
    }
}

/// Carries out the actions on one host2 folder.
async fn apply(ctx: &Ctx, c2: &Connection, name2: &str, shown2: &str, actions: Vec<AclAction>) {
    let dry = if ctx.cfg.dry { DRY } else { "" };
    for a in actions {
        let (line, command) = match a {
            AclAction::Same { id, rights } => (
                format!(
                    "Host2: folder {shown2}: user {id} has already the same acl [{rights}], no need to set it"
                ),
                None,
            ),
            AclAction::Keep { id, rights } => (
                format!(
                    "Host2: folder {shown2}: keeping acl [{rights}] of user {id}: host1 has none, and removing it would lock the account out"
                ),
                None,
            ),
            AclAction::Set { id, rights, was } => (
                format!(
                    "Host2: setting acl for folder {shown2} user {id} acl {rights} (was [{was}]){dry}"
                ),
                Some(cmd::setacl(
                    name2.as_bytes(),
                    id.as_bytes(),
                    rights.as_bytes(),
                )),
            ),
            AclAction::Remove { id, was } => (
                format!(
                    "Host2: removing acl of user {id} from folder {shown2} (was [{was}], host1 has none){dry}"
                ),
                Some(cmd::deleteacl(name2.as_bytes(), id.as_bytes())),
            ),
        };
        ctx.out.line(line);
        let Some(command) = command.filter(|_| !ctx.cfg.dry) else {
            continue;
        };
        match c2.run(command).await {
            Ok(done) if done.is_ok() => {}
            Ok(done) => ctx.out.line(format!(
                "Host2: could not change the acl of folder {shown2}: {}",
                done.status.full_text()
            )),
            Err(e) => {
                ctx.out.line(format!(
                    "Host2: could not change the acl of folder {shown2}: {e}"
                ));
                return;
            }
        }
    }
}
