//! A whole run: log in on both sides, discover and map folders, create what is missing on
//! host2, sync the folders with a pool of connection pairs, print the summary.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use imapsync_client::{ConnError, Connection, SessionInfo, SetupError, Side, connect};
use imapsync_plan::errors::AdviceContext;
use imapsync_proto::command::cmd;
use imapsync_proto::response::StatusItems;

use crate::config::{Config, SideConfig};
use crate::ctx::Ctx;
use crate::discover::{self, SideFolders};
use crate::folder::{self, FolderError, FolderJob};
use crate::handle::RunHandle;
use crate::mapping;
use crate::output::Out;
use crate::report::{self, ReportInput};
use crate::stats::Stats;

/// The end of a run.
#[derive(Debug)]
pub struct RunResult {
    pub exit_code: i32,
    /// The signal that stopped the run, if one did.
    pub signal: Option<i32>,
    pub stats: Stats,
    pub nb_errors: u64,
}

/// Runs a sync described by `cfg`, printing through `out`.
pub async fn run(cfg: Config, out: Out) -> RunResult {
    run_with(cfg, out, &RunHandle::default()).await
}

/// [`run`] with a handle the caller can read live counters from and stop the run with.
pub async fn run_with(cfg: Config, out: Out, handle: &RunHandle) -> RunResult {
    let start_rss = report::rss_mib();
    let store = match &cfg.state_path {
        Some(p) => match imapsync_state::Store::open(p) {
            Ok(s) => Some(s),
            // Two runs on one account pair at once would both see the same messages missing
            // and both append them: refuse, as imapsync does with --pidfilelocking.
            Err(e @ imapsync_state::StateError::Busy { .. }) => {
                out.line(format!("Error: {e}"));
                out.line("Wait for it to end, or give this run its own --statedir (or --nostate) if you really want two runs on these accounts at once.");
                return RunResult {
                    exit_code: 8,
                    signal: None,
                    stats: Stats::default(),
                    nb_errors: 1,
                };
            }
            Err(e) => {
                out.line(format!("Warning: {e}; this run goes on without the state store (identity by headers only)"));
                None
            }
        },
        None => None,
    };
    if let Some(s) = &store {
        out.line(format!("State store: {}", s.path().display()));
    }
    let ctx = Arc::new(Ctx::new(Arc::new(cfg), out.clone(), store));
    handle.attach(&ctx);
    let mut sizes = None;
    // QUIT, TERM and INT stop the run: the counters so far are printed and the exit code is
    // 128 + the signal number, as a shell reports a process killed by it (imapsync re-raises
    // the signal). Whatever was being appended is settled by the journal on the next run.
    let signalled = tokio::select! {
        code = run_inner(&ctx, &mut sizes) => Err(code),
        sig = terminating_signal() => Ok(sig),
        sig = handle.stopped() => Ok(sig),
    };
    let result = match signalled {
        Err(code) => finish(&ctx, code, start_rss, sizes),
        Ok((name, num)) => {
            ctx.abort();
            out.line(format!("Got a signal {name} ({num}): asked to terminate"));
            out.line("You should resynchronize those accounts by running a sync again, since some messages may not be transferred yet.");
            let mut r = finish(&ctx, Some(128 + num), start_rss, None);
            r.exit_code = 128 + num;
            r.signal = Some(num);
            r
        }
    };
    handle.detach(&ctx);
    result
}

/// Waits for SIGTERM, SIGQUIT or SIGINT.
async fn terminating_signal() -> (&'static str, i32) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut quit), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::quit()),
        signal(SignalKind::interrupt()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => ("TERM", 15),
        _ = quit.recv() => ("QUIT", 3),
        _ = int.recv() => ("INT", 2),
    }
}

/// The exit code decided early (login failure, just* modes) or `None` to use the error log.
async fn run_inner(ctx: &Arc<Ctx>, sizes: &mut Option<(Totals, Totals)>) -> Option<i32> {
    let cfg = ctx.cfg.clone();
    let out = &ctx.out;
    // Log in on both sides at once.
    let (r1, r2) = tokio::join!(
        open_side(ctx, Side::Host1, false),
        open_side(ctx, Side::Host2, false)
    );
    let (c1, c2) = match (r1, r2) {
        (Some(a), Some(b)) => (a, b),
        (a, b) => {
            for c in [a, b].into_iter().flatten() {
                c.0.logout().await;
            }
            return None;
        }
    };
    let (c1, _info1) = c1;
    let (c2, info2) = c2;
    // One NOOP per side tells the round-trip time, which decides whether splitting a big
    // folder over several connections pays (it does over a slow link, not on a LAN where the
    // servers' own locking dominates).
    let (r1, r2) = tokio::join!(rtt(&c1), rtt(&c2));
    ctx.rtt_us
        .store(r1.max(r2), std::sync::atomic::Ordering::Relaxed);
    if cfg.modes.justlogin {
        c1.logout().await;
        c2.logout().await;
        out.line("Exiting because of --justlogin");
        return Some(0);
    }
    // Quota and APPENDLIMIT of host2.
    if let Some(limit) = info2.caps.append_limit() {
        out.line(format!(
            "Host2: found APPENDLIMIT={limit} in CAPABILITY, messages bigger are skipped"
        ));
        let _ = ctx.appendlimit.set(limit);
    }
    // Discover both sides (and host2's quota) at once.
    let quota = async {
        if info2.caps.has("QUOTA") {
            check_quota(ctx, &c2).await;
        }
    };
    let (d1, d2, ()) = tokio::join!(discover::discover(&c1), discover::discover(&c2), quota);
    let (f1, f2) = match (d1, d2) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) => {
            ctx.error(format!("Host1: can not list folders: {e}"));
            return None;
        }
        (_, Err(e)) => {
            ctx.error(format!("Host2: can not list folders: {e}"));
            return None;
        }
    };
    out.line(format!("Host1: found {} folders.", f1.list.len()));
    out.line(format!("Host2: found {} folders.", f2.list.len()));
    for raw in &f1.unusable {
        ctx.error(format!(
            "Host1: folder name {:?} is not valid UTF-8/modified UTF-7; it can not be synced",
            String::from_utf8_lossy(raw)
        ));
    }
    let plan = match mapping::plan(ctx, &f1, &f2) {
        Ok(p) => p,
        Err(e) => {
            ctx.error(e.message.clone());
            return Some(e.exit_code);
        }
    };
    out.lines(&plan.lines);
    if cfg.modes.justfolderlists || cfg.modes.justautomap {
        c1.logout().await;
        c2.logout().await;
        return Some(0);
    }
    ctx.stats().folders_wanted = plan.pairs.len() as u64;
    // Folder sizes before.
    let status1 = fill_status(
        &c1,
        &f1,
        plan.pairs.iter().map(|p| p.name1.clone()).collect(),
    )
    .await;
    let mut status2 = fill_status(
        &c2,
        &f2,
        plan.pairs
            .iter()
            .filter(|p| f2.contains(&p.name2))
            .map(|p| p.name2.clone())
            .collect(),
    )
    .await;
    let mut start_sizes = None;
    if cfg.modes.foldersizes || cfg.modes.justfoldersizes {
        let (lines, totals) = sizes_table(ctx, &plan, &status1, &status2, &f2, "before");
        out.lines(&lines);
        start_sizes = Some(totals);
    }
    if cfg.modes.justfoldersizes {
        c1.logout().await;
        c2.logout().await;
        return Some(0);
    }
    // Create missing folders on host2 (parents first) and subscribe: decided first, then sent
    // pipelined (a server runs them in order), then the answers are read.
    let mut existing2: Vec<String> = f2.names();
    let mut planned: Vec<(String, String)> = Vec::new(); // (host2 name, host1 name)
    let mut to_subscribe: Vec<String> = Vec::new();
    for p in &plan.pairs {
        if cfg.folders.skipemptyfolders {
            let empty = status1.get(&p.name1).and_then(|s| s.messages) == Some(0);
            if empty && !existing2.contains(&p.name2) {
                out.line(format!("Host1: skipping empty folder [{}]", p.shown1));
                continue;
            }
        }
        let known: Vec<String> = existing2
            .iter()
            .cloned()
            .chain(planned.iter().map(|(n, _)| n.clone()))
            .collect();
        for name in mapping::to_create(&plan, &p.name2, &known) {
            planned.push((name, p.name1.clone()));
        }
        let subscribe =
            cfg.folders.subscribeall || (cfg.folders.subscribe && f1.subscribed.contains(&p.name1));
        if subscribe && !f2.subscribed.contains(&p.name2) && !to_subscribe.contains(&p.name2) {
            to_subscribe.push(p.name2.clone());
        }
    }
    let mut created_any = false;
    if cfg.modes.dry {
        for (name, _) in &planned {
            out.line(format!(
                "Creating folder [{name}] on host2 (not really since --dry mode)"
            ));
        }
    } else {
        let pending: Vec<_> = planned
            .iter()
            .map(|(name, _)| c2.submit(cmd::create(name.as_bytes())))
            .collect();
        for ((name, from), p) in planned.iter().zip(pending) {
            out.line(format!("Creating folder [{name}] on host2"));
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
                Err(e) => {
                    ctx.error(format!(
                        "Could not create folder [{name}] from [{from}]: {e}"
                    ));
                }
            }
        }
    }
    let to_subscribe: Vec<String> = to_subscribe
        .into_iter()
        .filter(|n| existing2.contains(n) || cfg.modes.dry)
        .collect();
    if cfg.modes.dry {
        for n in &to_subscribe {
            out.line(format!(
                "Host2: subscribing to folder [{n}] (not really since --dry mode)"
            ));
        }
    } else {
        let pending: Vec<_> = to_subscribe
            .iter()
            .map(|n| c2.submit(cmd::subscribe(n.as_bytes())))
            .collect();
        for (n, p) in to_subscribe.iter().zip(pending) {
            if let Ok(d) = p.await
                && d.is_ok()
            {
                out.line(format!("Host2: subscribing to folder [{n}]"));
            }
        }
    }
    if created_any {
        // Statuses of freshly created folders.
        let names: Vec<String> = plan
            .pairs
            .iter()
            .filter(|p| existing2.contains(&p.name2) && !status2.contains_key(&p.name2))
            .map(|p| p.name2.clone())
            .collect();
        if let Ok(more) = discover::statuses(&c2, &names).await {
            status2.extend(more);
        }
    }
    if cfg.folders.delete2folders {
        delete_folders_on_host2(ctx, &c2, &f1, &plan).await;
    }
    if cfg.modes.justfolders {
        ctx.stats().folders_synced = plan.pairs.len() as u64;
        c1.logout().await;
        c2.logout().await;
        return None;
    }
    // Folder loop.
    out.line(format!(
        "++++ Looping on each one of {} folders to sync",
        plan.pairs.len()
    ));
    let total = plan.pairs.len();
    let jobs: VecDeque<FolderJob> = plan
        .pairs
        .iter()
        .enumerate()
        .filter(|(_, p)| existing2.contains(&p.name2) || cfg.modes.dry)
        .map(|(i, p)| FolderJob {
            index: i + 1,
            total,
            name1: p.name1.clone(),
            name2: p.name2.clone(),
            shown1: p.shown1.clone(),
            shown2: p.shown2.clone(),
            shared2: plan.pairs.iter().filter(|q| q.name2 == p.name2).count() > 1,
            exists2: existing2.contains(&p.name2),
            status1: status1.get(&p.name1).cloned(),
            status2: status2.get(&p.name2).cloned(),
        })
        // Folders the state store vouches for need no connection at all.
        .filter(|job| !folder::unchanged(ctx, job))
        .collect();
    if jobs.is_empty() {
        tokio::join!(c1.logout(), c2.logout());
    }
    let workers = cfg
        .side1
        .connections
        .min(cfg.side2.connections)
        .max(1)
        .min(jobs.len().max(1));
    let queue = Arc::new(Mutex::new(jobs));
    let mut handles = Vec::new();
    let mut first = if jobs_len(&queue) > 0 {
        Some((c1, c2))
    } else {
        None
    };
    // --skipcrossduplicates: "already copied in an earlier folder" needs folders in order.
    let workers = if cfg.messages.skipcrossduplicates {
        1
    } else {
        workers
    };
    let n_workers = workers.min(jobs_len(&queue));
    let alive = Arc::new(AtomicUsize::new(n_workers));
    for _ in 0..n_workers {
        let ctx = ctx.clone();
        let queue = queue.clone();
        let conns = first.take();
        let alive = alive.clone();
        handles.push(tokio::spawn(async move {
            worker(ctx, queue, conns, alive).await
        }));
    }
    for h in handles {
        let _ = h.await;
    }
    out.line("++++ End looping on each folder");
    if cfg.folders.delete1emptyfolders && !ctx.aborted() {
        delete_empty_folders_on_host1(ctx, &f1, &plan).await;
    }
    // Folder sizes after.
    if cfg.modes.foldersizesatend
        && !ctx.aborted()
        // Sizes are informative: a connection refused now is not an error of the sync.
        && let (Some(c1), Some(c2)) = (
            open_side_quiet(ctx, Side::Host1).await,
            open_side_quiet(ctx, Side::Host2).await,
        )
    {
        let names1 = plan
            .pairs
            .iter()
            .map(|p| p.name1.clone())
            .collect::<Vec<_>>();
        let names2 = plan
            .pairs
            .iter()
            .map(|p| p.name2.clone())
            .collect::<Vec<_>>();
        let s1 = discover::statuses(&c1, &names1).await.unwrap_or_default();
        let s2 = discover::statuses(&c2, &names2).await.unwrap_or_default();
        let mut f2_after = f2.clone();
        for n in &existing2 {
            if !f2_after.contains(n) {
                f2_after.list.push(discover::Folder {
                    name: n.clone(),
                    attrs: vec![],
                    delimiter: None,
                });
            }
        }
        let (lines, totals) = sizes_table(ctx, &plan, &s1, &s2, &f2_after, "after");
        out.lines(&lines);
        if let Some(start) = start_sizes {
            *sizes = Some((start, totals));
        }
        c1.logout().await;
        c2.logout().await;
    }
    None
}

/// Ensures a live connection on `side`, reconnecting with back-off. `None` after the
/// `--reconnectretryN` attempts, or at once for a worker that is not the last one alive (the
/// run then continues with fewer connections: providers refuse connections beyond their limit).
async fn ensure(
    ctx: &Arc<Ctx>,
    side: Side,
    conn: &mut Option<Connection>,
    alive_workers: &AtomicUsize,
) -> Option<Connection> {
    if let Some(c) = conn.as_ref().filter(|c| c.is_alive()) {
        return Some(c.clone());
    }
    let reconnect = conn.is_some();
    let retry = side_cfg(ctx, side).reconnect_retry;
    let mut attempt = 0u32;
    loop {
        if reconnect {
            let mut st = ctx.stats();
            match side {
                Side::Host1 => st.reconnect1 += 1,
                Side::Host2 => st.reconnect2 += 1,
            }
        }
        match connect(&side_cfg(ctx, side).connect).await {
            Ok((c, _)) => {
                watch_pushback(ctx, &c);
                *conn = Some(c.clone());
                return Some(c);
            }
            Err(e) => {
                attempt += 1;
                let others = alive_workers.load(Ordering::SeqCst) > 1;
                if !reconnect && others {
                    ctx.out.line(format!(
                        "{side}: could not open one more connection ({e}); going on with fewer connections"
                    ));
                    return None;
                }
                if attempt > retry || ctx.aborted() {
                    ctx.error(format!(
                        "{side} failure: can not open imap connection on host{} [{}] with user [{}]: {e}",
                        side.number(),
                        side_cfg(ctx, side).connect.host,
                        side_cfg(ctx, side).connect.user
                    ));
                    return None;
                }
                ctx.out.line(format!(
                    "{side}: connection attempt {attempt}/{retry} failed: {e}; retrying"
                ));
                backoff(attempt).await;
            }
        }
    }
}

async fn worker(
    ctx: Arc<Ctx>,
    queue: Arc<Mutex<VecDeque<FolderJob>>>,
    conns: Option<(Connection, Connection)>,
    alive: Arc<AtomicUsize>,
) {
    // This worker's place under the connection limits, held until it ends.
    let _slots = ctx.connection_slots().await;
    let mut c1: Option<Connection> = conns.as_ref().map(|c| c.0.clone());
    let mut c2: Option<Connection> = conns.map(|c| c.1);
    'jobs: loop {
        if ctx.aborted() {
            break;
        }
        let job = match queue.lock() {
            Ok(mut q) => q.pop_front(),
            Err(_) => None,
        };
        let Some(job) = job else { break };
        let mut attempts = 0u32;
        loop {
            let a = ensure(&ctx, Side::Host1, &mut c1, &alive).await;
            let b = match a {
                Some(_) => ensure(&ctx, Side::Host2, &mut c2, &alive).await,
                None => None,
            };
            let (Some(a), Some(b)) = (a, b) else {
                if alive.load(Ordering::SeqCst) > 1 && (c1.is_none() || c2.is_none()) {
                    // Another worker takes this folder; this one stops.
                    if let Ok(mut q) = queue.lock() {
                        q.push_front(job);
                    }
                    break 'jobs;
                }
                ctx.error(format!(
                    "Folder [{}]: no connection, the folder is not synced",
                    job.shown1
                ));
                break;
            };
            match folder::sync_folder(&ctx, &a, &b, &job).await {
                Ok(()) => break,
                Err(FolderError::Recorded) => break,
                Err(FolderError::Conn { side, err }) => {
                    attempts += 1;
                    let retry = side_cfg(&ctx, side).reconnect_retry;
                    ctx.out.line(format!(
                        "{side}: connection lost during folder [{}]: {err}",
                        job.shown1
                    ));
                    if attempts > retry {
                        ctx.error(format!(
                            "{side} failure: folder [{}] not synced after {attempts} connection losses: {err}",
                            job.shown1
                        ));
                        break;
                    }
                    // The failed side is replaced (with back-off) and the folder run again:
                    // the UID map, the journal and identity matching make the second attempt
                    // copy only what is still missing.
                    if side == Side::Host1 || !a.is_alive() {
                        a.abandon();
                    }
                    if side == Side::Host2 || !b.is_alive() {
                        b.abandon();
                    }
                    backoff(attempts).await;
                }
            }
        }
    }
    alive.fetch_sub(1, Ordering::SeqCst);
    for c in [c1, c2].into_iter().flatten() {
        c.logout().await;
    }
}

/// `--delete2folders`: host2 folders that no host1 folder (selected or not) maps to, children
/// first, never INBOX, filtered by `--delete2foldersonly` / `--delete2foldersbutnot`.
async fn delete_folders_on_host2(
    ctx: &Ctx,
    c2: &Connection,
    f1: &SideFolders,
    plan: &mapping::Plan,
) {
    let cfg = &ctx.cfg;
    let out = &ctx.out;
    if f1.list.is_empty() {
        out.line("Host2: not deleting folders: host1 listed no folder at all");
        return;
    }
    let parse = |o: &Option<String>| {
        o.as_deref()
            .and_then(|r| imapsync_plan::perlre::PerlExpr::parse(r).ok())
    };
    let only = parse(&cfg.folders.delete2foldersonly);
    let butnot = parse(&cfg.folders.delete2foldersbutnot);
    for name in &plan.only_on_2 {
        if name.eq_ignore_ascii_case("INBOX") {
            continue;
        }
        if let Some(o) = &only
            && !o.is_match(name).unwrap_or(false)
        {
            continue;
        }
        if let Some(b) = &butnot
            && b.is_match(name).unwrap_or(true)
        {
            continue;
        }
        if cfg.modes.dry {
            out.line(format!(
                "Deleting folder [{name}] on host2\t(not really since --dry mode)"
            ));
            ctx.stats().folders_deleted2 += 1;
            continue;
        }
        let _ = c2.run(cmd::unsubscribe(name.as_bytes())).await;
        match c2.run(cmd::delete(name.as_bytes())).await {
            Ok(d) if d.is_ok() => {
                out.line(format!("Deleted host2 folder [{name}]"));
                ctx.stats().folders_deleted2 += 1;
            }
            Ok(d) => {
                out.line(format!(
                    "Deleting host2 folder [{name}] failed: {}",
                    d.status.full_text()
                ));
                ctx.stats().folders_delete_failed2 += 1;
            }
            Err(e) => {
                out.line(format!("Deleting host2 folder [{name}] failed: {e}"));
                ctx.stats().folders_delete_failed2 += 1;
            }
        }
    }
}

/// `--delete1emptyfolders`: selected host1 folders left empty, without children, not INBOX.
async fn delete_empty_folders_on_host1(ctx: &Arc<Ctx>, f1: &SideFolders, plan: &mapping::Plan) {
    let out = &ctx.out;
    let Some(c1) = open_side_quiet(ctx, Side::Host1).await else {
        ctx.out.line("Host1: no connection to delete empty folders");
        return;
    };
    let names: Vec<String> = plan.pairs.iter().map(|p| p.name1.clone()).collect();
    let statuses = discover::statuses(&c1, &names).await.unwrap_or_default();
    let sep = f1
        .namespace_separator()
        .or_else(|| f1.list.iter().find_map(|f| f.delimiter))
        .unwrap_or('/');
    for name in names.iter().rev() {
        if name.eq_ignore_ascii_case("INBOX") {
            continue;
        }
        let prefix = format!("{name}{sep}");
        if f1.list.iter().any(|f| f.name.starts_with(&prefix)) {
            continue;
        }
        if statuses.get(name).and_then(|s| s.messages) != Some(0) {
            continue;
        }
        if ctx.cfg.modes.dry {
            out.line(format!(
                "Deleting empty host1 folder [{name}]\t(not really since --dry mode)"
            ));
            continue;
        }
        match c1.run(cmd::delete(name.as_bytes())).await {
            Ok(d) if d.is_ok() => out.line(format!("Deleted empty host1 folder [{name}]")),
            Ok(d) => out.line(format!(
                "Deleting empty host1 folder [{name}] failed: {}",
                d.status.full_text()
            )),
            Err(e) => out.line(format!("Deleting empty host1 folder [{name}] failed: {e}")),
        }
    }
    c1.logout().await;
}

async fn rtt(c: &Connection) -> u64 {
    let t = std::time::Instant::now();
    let _ = c.run(cmd::noop()).await;
    t.elapsed().as_micros() as u64
}

fn jobs_len(q: &Mutex<VecDeque<FolderJob>>) -> usize {
    q.lock().map(|q| q.len()).unwrap_or(0)
}

/// imapsync's start-up quota check on host2: more than 90 % used is an error (exit 113).
async fn check_quota(ctx: &Ctx, c2: &Connection) {
    let Ok(done) = c2.run(cmd::getquotaroot(b"INBOX")).await else {
        return;
    };
    for u in done.untagged {
        if let imapsync_proto::response::Untagged::Quota { resources, .. } = u {
            for (name, usage, limit) in resources {
                if name == "STORAGE" && limit > 0 {
                    let pct = 100.0 * usage as f64 / limit as f64;
                    ctx.out.line(format!(
                        "Host2: Quota current storage is {} bytes. Limit is {} bytes. So {pct:.2} % full",
                        usage * 1024,
                        limit * 1024
                    ));
                    if pct > 90.0 {
                        ctx.error(format!(
                            "Host2: Quota is {pct:.2} % full: it is time to find a bigger place"
                        ));
                    }
                }
            }
        }
    }
}

/// Exponential back-off with jitter: 0.5 s, 1 s, 2 s, ... capped at 30 s, ±25 %.
async fn backoff(attempt: u32) {
    let base = 0.5f64 * 2f64.powi(attempt.saturating_sub(1).min(6) as i32);
    let base = base.min(30.0);
    let jitter = 0.75 + rand::random::<f64>() * 0.5;
    tokio::time::sleep(Duration::from_secs_f64(base * jitter)).await;
}

fn side_cfg(ctx: &Ctx, side: Side) -> &SideConfig {
    match side {
        Side::Host1 => &ctx.cfg.side1,
        Side::Host2 => &ctx.cfg.side2,
    }
}

/// Connects and logs in one side for extra work (no lines printed, failures not recorded).
pub(crate) async fn open_side_quiet(ctx: &Ctx, side: Side) -> Option<Connection> {
    let sc = side_cfg(ctx, side);
    let c = connect(&sc.connect).await.ok().map(|(c, _)| c)?;
    watch_pushback(ctx, &c);
    Some(c)
}

/// Prepares a new connection: push-backs are reported; host1 gets QRESYNC when offered.
fn watch_pushback(ctx: &Ctx, c: &Connection) {
    if c.side() == Side::Host1 {
        c.enable_qresync();
    }
    let out = ctx.out.clone();
    let side = c.side();
    c.set_pushback_hook(Arc::new(move |command, status, wait| {
        out.line(format!(
            "{side}: the server pushed back on {command} ({}): waiting {} ms, then sending it again",
            status.full_text(),
            wait.as_millis()
        ));
    }));
}

/// Connects and logs in one side; failures are recorded with imapsync's wording.
async fn open_side(ctx: &Arc<Ctx>, side: Side, quiet: bool) -> Option<(Connection, SessionInfo)> {
    let sc = side_cfg(ctx, side);
    let o = &sc.connect;
    let out = &ctx.out;
    if !quiet {
        out.line(format!(
            "{side}: connecting and login on {} [{}] port [{}] with user [{}]",
            side.to_string().to_lowercase(),
            o.host,
            o.port
                .map(|p| p.to_string())
                .unwrap_or_else(|| "993/143".into()),
            o.user
        ));
    }
    match connect(o).await {
        Ok((conn, info)) => {
            watch_pushback(ctx, &conn);
            if !quiet {
                out.line(format!("{side} IP address: {}", info.address));
                out.line(format!("{side} banner: {}", info.greeting));
                out.line(format!(
                    "{side} capability before authentication: {}",
                    info.caps_before_login.render()
                ));
                for n in &info.notes {
                    out.line(n.clone());
                }
                if info.tls {
                    out.line(format!(
                        "{side}: {} with certificate {}",
                        if info.starttls {
                            "STARTTLS"
                        } else {
                            "implicit TLS"
                        },
                        if o.tls.verify {
                            "verified"
                        } else {
                            "NOT verified (SSL_verify_mode=0)"
                        }
                    ));
                }
                if o.no_login {
                    out.line(format!("{side}: connected (no login requested)"));
                } else {
                    out.line(format!(
                        "{side}: success login on [{}] with user [{}] auth [{}]",
                        o.host, o.user, info.mech
                    ));
                    out.line(format!("{side} capability: {}", info.caps.render()));
                    if info.compressed {
                        out.line(format!("{side}: COMPRESS=DEFLATE enabled"));
                    }
                }
            }
            Some((conn, info))
        }
        Err(e) => {
            let n = side.number();
            let msg = match &e {
                SetupError::Auth(text) => format!("{side} failure: {text}"),
                SetupError::Tls(t) | SetupError::NoEncryption(t) => format!(
                    "{side} failure: Can not go to tls encryption on host{n} [{}]: {t}",
                    o.host
                ),
                other => format!(
                    "{side} failure: can not open imap connection on host{n} [{}] with user [{}]: {other}",
                    o.host, o.user
                ),
            };
            ctx.error(msg);
            None
        }
    }
}

/// Statuses of the given folders: from LIST-STATUS when the server gave them, else STATUS.
async fn fill_status(
    conn: &Connection,
    side: &SideFolders,
    names: Vec<String>,
) -> std::collections::HashMap<String, StatusItems> {
    let mut out = std::collections::HashMap::new();
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

type Totals = (i64, i64);

/// The "Folders sizes before/after the synchronization" table; returns host2 - host1
/// (messages, bytes).
fn sizes_table(
    ctx: &Ctx,
    plan: &mapping::Plan,
    s1: &std::collections::HashMap<String, StatusItems>,
    s2: &std::collections::HashMap<String, StatusItems>,
    f2: &SideFolders,
    when: &str,
) -> (Vec<String>, Totals) {
    let _ = ctx;
    let mut lines = vec![format!(
        "++++ Calculating sizes of {} folders on each side ({when} the sync)",
        plan.pairs.len()
    )];
    let (mut m1, mut b1, mut m2, mut b2) = (0i64, 0i64, 0i64, 0i64);
    let n = plan.pairs.len();
    for (i, p) in plan.pairs.iter().enumerate() {
        let a = s1.get(&p.name1);
        let msgs1 = a.and_then(|s| s.messages).unwrap_or(0) as i64;
        let size1 = a.and_then(|s| s.size).map(|v| v as i64);
        m1 += msgs1;
        b1 += size1.unwrap_or(0);
        lines.push(format!(
            "Host1 folder {:>7} {:<35} Size: {:>9} Messages: {:>6}",
            format!("{}/{n}", i + 1),
            format!("[{}]", p.shown1),
            size1.map(|v| v.to_string()).unwrap_or_else(|| "?".into()),
            msgs1
        ));
        if f2.contains(&p.name2) {
            let b = s2.get(&p.name2);
            let msgs2 = b.and_then(|s| s.messages).unwrap_or(0) as i64;
            let size2 = b.and_then(|s| s.size).map(|v| v as i64);
            m2 += msgs2;
            b2 += size2.unwrap_or(0);
            lines.push(format!(
                "Host2 folder {:>7} {:<35} Size: {:>9} Messages: {:>6}",
                format!("{}/{n}", i + 1),
                format!("[{}]", p.shown2),
                size2.map(|v| v.to_string()).unwrap_or_else(|| "?".into()),
                msgs2
            ));
        } else {
            lines.push(format!(
                "Host2 folder {:>7} {:<35} does not exist yet",
                format!("{}/{n}", i + 1),
                format!("[{}]", p.shown2)
            ));
        }
    }
    lines.push(format!("Host1 Nb folders:            {n} folders"));
    lines.push(format!(
        "Host2 Nb folders:            {} folders",
        plan.pairs.iter().filter(|p| f2.contains(&p.name2)).count()
    ));
    lines.push(format!("Host1 Nb messages:           {m1} messages"));
    lines.push(format!("Host2 Nb messages:           {m2} messages"));
    lines.push(format!(
        "Host1 Total size:            {b1} bytes ({})",
        imapsync_plan::display::bytes_display_string_bin(b1 as f64)
    ));
    lines.push(format!(
        "Host2 Total size:            {b2} bytes ({})",
        imapsync_plan::display::bytes_display_string_bin(b2 as f64)
    ));
    (lines, (m2 - m1, b2 - b1))
}

fn finish(
    ctx: &Arc<Ctx>,
    early: Option<i32>,
    start_rss: f64,
    sizes: Option<(Totals, Totals)>,
) -> RunResult {
    let cfg = &ctx.cfg;
    let out = &ctx.out;
    let ended = ctx.started_epoch + ctx.elapsed();
    let stats = ctx.stats().clone();
    let (nb_errors, code, listing) = {
        let e = ctx.errors();
        let nb = e.nb_errors();
        let code = match early {
            Some(c) if nb == 0 => c,
            _ => e.exit_code().code(),
        };
        let adv = AdviceContext {
            user1: cfg.side1.connect.user.clone(),
            user2: cfg.side2.connect.user.clone(),
            host1: cfg.side1.connect.host.clone(),
            port1: cfg.side1.connect.port.unwrap_or(143),
            host2: cfg.side2.connect.host.clone(),
            port2: cfg.side2.connect.port.unwrap_or(143),
            ..AdviceContext::default()
        };
        let listing = if nb > 0 {
            Some(e.listing(true, &adv))
        } else {
            None
        };
        (nb, code, listing)
    };
    let lines = report::statistics(
        &stats,
        &ReportInput {
            started: ctx.started_epoch,
            ended,
            dry: cfg.modes.dry,
            justfolders: cfg.modes.justfolders,
            nb_errors,
            cpu_seconds: report::cpu_seconds(),
            rss_mib: report::rss_mib(),
            start_rss_mib: start_rss,
            sizes,
        },
    );
    out.lines(&lines);
    if let Some(l) = listing {
        out.line(l.trim_end());
    }
    RunResult {
        exit_code: code,
        signal: None,
        stats,
        nb_errors,
    }
}

/// Connection error text for callers outside this module.
pub fn describe(e: &ConnError) -> String {
    e.to_string()
}
