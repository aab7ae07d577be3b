//! `--checknoabletosearch` (imapsync's default): before a SEARCH is relied on to select
//! messages, both sides show that `UID SEARCH ALL` on INBOX finds what SELECT counts. A side
//! that does not makes the run act like `--noabletosearch`: every message is listed and the
//! ages (`--maxage`, `--minage`) are filtered on our side.

use imapsync_client::{Connection, Side};
use imapsync_proto::command::cmd;
use imapsync_proto::response::Untagged;

use crate::ctx::Ctx;
use crate::listing;

/// Settles the run's SEARCH criteria (see the module documentation).
pub async fn settle(ctx: &Ctx, c1: &Connection, c2: &Connection) {
    let configured = [ctx.cfg.side1.search.clone(), ctx.cfg.side2.search.clone()];
    if !ctx.cfg.checknoabletosearch || configured.iter().all(Option::is_none) {
        ctx.settle_searches(configured);
        return;
    }
    ctx.out.line("Checking SEARCH ALL works on both accounts. To avoid that check, use --nochecknoabletosearch");
    let (ok1, ok2) = tokio::join!(works(ctx, c1, Side::Host1), works(ctx, c2, Side::Host2));
    if ok1 && ok2 {
        ctx.out.line("Good! SEARCH ALL works on both accounts.");
        ctx.settle_searches(configured);
        return;
    }
    ctx.out
        .line("At least one account can not SEARCH ALL. So acting like --noabletosearch");
    let explicit = ctx.cfg.side1.search.is_some()
        && ctx.cfg.messages.maxage.is_none()
        && ctx.cfg.messages.minage.is_none();
    if explicit {
        ctx.out
            .line("Warning: the --search criteria can not be used: every message is listed");
    }
    ctx.settle_searches([None, None]);
}

/// Whether `UID SEARCH ALL` finds on INBOX as many messages as SELECT counts.
async fn works(ctx: &Ctx, c: &Connection, side: Side) -> bool {
    ctx.out
        .line(format!("{side}: checking if SEARCH ALL works on INBOX"));
    let exists = match c
        .run(cmd::examine(b"INBOX", &cmd::SelectOpts::default()))
        .await
    {
        Ok(d) if d.is_ok() => d
            .untagged
            .iter()
            .rev()
            .find_map(|u| match u {
                Untagged::Exists(n) => Some(*n),
                _ => None,
            })
            .unwrap_or(0),
        _ => return false,
    };
    ctx.out.line(format!(
        "{side}: folder [INBOX] has {exists} messages mentioned by SELECT"
    ));
    let found = match listing::search(c, "ALL").await {
        Ok(uids) => uids.len() as u32,
        Err(_) => {
            ctx.out
                .line(format!("{side}: folder [INBOX] can not be searched"));
            return false;
        }
    };
    ctx.out.line(format!(
        "{side}: folder [INBOX] has {found} messages found by SEARCH ALL"
    ));
    if found == exists {
        ctx.out.line(format!(
            "{side}: folder [INBOX] has the same messages count ({exists}) by SELECT and SEARCH ALL"
        ));
        true
    } else {
        ctx.out.line(format!(
            "{side}: Warning, folder [INBOX] has not the same count by SELECT ({exists}) and SEARCH ALL ({found})"
        ));
        false
    }
}
