//! A whole run, as a sequence of phases that the run mode stops early: connect and log in
//! on both sides, discover and map folders, folder sizes, create what host2 lacks, sync the
//! folders with a pool of connection pairs, then the summary.

use std::sync::Arc;

use imapsync_client::{Connection, SessionInfo, Side};
use imapsync_plan::errors::AdviceContext;
use imapsync_proto::command::cmd;

use crate::config::{Config, Mode, Phase};
use crate::ctx::Ctx;
use crate::discover;
use crate::folder::FolderJob;
use crate::handle::RunHandle;
use crate::mapping::{self, Mapped};
use crate::output::Out;
use crate::report::{self, ReportInput};
use crate::sizes::{self, Totals};
use crate::stats::Stats;
use crate::{folderops, pool, searchcheck, session, signals};

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

/// [`run`] with a handle the caller can read live counters from and stop the run with (as
/// a TERM signal would).
pub async fn run_with(cfg: Config, out: Out, handle: &RunHandle) -> RunResult {
    if cfg.mode == Mode::JustBanner {
        out.line("Exiting because of --justbanner");
        return RunResult {
            exit_code: 0,
            signal: None,
            stats: Stats::default(),
            nb_errors: 0,
        };
    }
    if cfg.mode == Mode::JustConnect {
        let (exit_code, nb_errors) = session::justconnect(&cfg, &out).await;
        return RunResult {
            exit_code,
            signal: None,
            stats: Stats::default(),
            nb_errors,
        };
    }
    // imapsync tries the --pipemess and --maxlinelengthcmd commands before connecting.
    if !crate::pipe::check_commands(&cfg.messages, &out).await {
        return RunResult {
            exit_code: 64,
            signal: None,
            stats: Stats::default(),
            nb_errors: 1,
        };
    }
    let start_rss = report::rss_mib();
    let store = match open_store(&cfg, &out) {
        Ok(s) => s,
        Err(busy) => return busy.into(),
    };
    let ctx = Arc::new(Ctx::new(Arc::new(cfg), out.clone(), store));
    handle.attach(&ctx);
    let r = run_attached(&ctx, &out, handle, start_rss).await;
    handle.detach(&ctx);
    r
}

async fn run_attached(ctx: &Arc<Ctx>, out: &Out, handle: &RunHandle, start_rss: f64) -> RunResult {
    let ctx = ctx.clone();
    let phases = phases(&ctx);
    tokio::pin!(phases);
    let stopped = tokio::select! {
        ended = &mut phases => return finish(&ctx, ended, start_rss),
        stopped = signals::watch(&ctx) => stopped,
        (name, num) = handle.stopped() => signals::Stopped::Signal(name, num),
    };
    let pid = std::process::id();
    match stopped {
        // What is in flight completes, nothing new starts; the journal covers the rest.
        signals::Stopped::File(file) => {
            out.line(format!("Asked to terminate by file {}", file.display()));
            ctx.abort();
            let mut ended = phases.await;
            ended.summary = true;
            let _ = std::fs::remove_file(&file);
            let mut r = finish(&ctx, ended, start_rss);
            out.lines(&resync_advice());
            r.exit_code = EXIT_BY_FILE;
            r
        }
        // Whatever was being appended is settled by the journal on the next run.
        signals::Stopped::Signal(name, num) => {
            ctx.abort();
            out.line(format!(
                "Got a signal {name} (my PID is {pid}). Asked to terminate"
            ));
            let ended = Ended {
                code: Some(128 + num),
                summary: true,
                sizes: None,
            };
            let mut r = finish(&ctx, ended, start_rss);
            out.line(format!(
                "Ended by a signal {name} (my PID is {pid}). I am asked to terminate immediately."
            ));
            out.lines(&resync_advice());
            r.exit_code = 128 + num;
            r.signal = Some(num);
            r
        }
    }
}

/// imapsync's exit code when the abort file stopped the run.
pub const EXIT_BY_FILE: i32 = 7;

fn resync_advice() -> Vec<String> {
    vec![
        "You should resynchronize those accounts by running a sync again,".to_string(),
        "since some messages and entire folders might still be missing on host2.".to_string(),
    ]
}

/// Another run holds this account pair's state store.
struct Busy;

impl From<Busy> for RunResult {
    fn from(_: Busy) -> Self {
        RunResult {
            exit_code: 8,
            signal: None,
            stats: Stats::default(),
            nb_errors: 1,
        }
    }
}

/// The state store of this account pair (none when it can not be opened: the run goes on
/// without it), or [`Busy`].
fn open_store(cfg: &Config, out: &Out) -> Result<Option<imapsync_state::Store>, Busy> {
    let Some(p) = &cfg.state_path else {
        return Ok(None);
    };
    match imapsync_state::Store::open(p) {
        Ok(s) => {
            out.line(format!("State store: {}", s.path().display()));
            Ok(Some(s))
        }
        // Two runs on one account pair at once would both see the same messages missing
        // and both append them: refuse, as imapsync does with --pidfilelocking.
        Err(e @ imapsync_state::StateError::Busy { .. }) => {
            out.line(format!("Error: {e}"));
            out.line("Wait for it to end, or give this run its own --statedir (or --nostate) if you really want two runs on these accounts at once.");
            Err(Busy)
        }
        Err(e) => {
            out.line(format!(
                "Warning: {e}; this run goes on without the state store (identity by headers only)"
            ));
            Ok(None)
        }
    }
}

/// Both sides, logged in.
struct Connected {
    c1: Connection,
    c2: Connection,
    info2: SessionInfo,
}

/// How the phases ended.
struct Ended {
    /// The exit code decided there; `None`: the error log decides.
    code: Option<i32>,
    /// The statistics block is printed (the run reached the folder loop).
    summary: bool,
    /// Host2 - host1 before and after the sync (messages, bytes), when both tables were made.
    sizes: Option<(Totals, Totals)>,
}

impl Ended {
    /// Before the folder loop: no statistics (imapsync's exits on a login failure or a
    /// just* mode).
    fn early(code: Option<i32>) -> Self {
        Ended {
            code,
            summary: false,
            sizes: None,
        }
    }
}

/// The phases of the run, stopped where the mode says.
async fn phases(ctx: &Arc<Ctx>) -> Ended {
    let mode = ctx.cfg.mode;
    let Some(conn) = connect_both(ctx).await else {
        return Ended::early(None);
    };
    if !mode.stops_after(Phase::Login) {
        searchcheck::settle(ctx, &conn.c1, &conn.c2).await;
    }
    let mut mapped = None;
    if !mode.stops_after(Phase::Login) {
        match map_folders(ctx, &conn).await {
            Ok(m) => mapped = Some(m),
            Err(code) => return stop(&conn, Ended::early(code)).await,
        }
    }
    let (Some(mut mapped), false) = (mapped, mode.stops_after(Phase::MapFolders)) else {
        return stop(&conn, looked(ctx, mode)).await;
    };
    let before = sizes::before(ctx, &mapped, &conn.c1, &conn.c2).await;
    if before.is_some() {
        let start: u64 = mapped
            .status1
            .values()
            .filter_map(|s| s.messages)
            .map(u64::from)
            .sum();
        ctx.h1_nb_msg_start
            .store(start, std::sync::atomic::Ordering::Relaxed);
    }
    if mode.stops_after(Phase::FolderSizes) {
        return stop(&conn, looked(ctx, mode)).await;
    }
    crate::labels::prepare(ctx, &conn.c1, &conn.c2, &mapped);
    ctx.stats().folders_wanted = mapped.plan.pairs.len() as u64;
    ctx.debugsleep().await;
    if !mode.stops_after(Phase::CreateFolders) {
        crate::fit::warn(ctx, &conn.c1, &conn.c2, &mapped).await;
    }
    let existing2 = folderops::prepare_host2(ctx, &conn.c2, &mut mapped).await;
    if mode.stops_after(Phase::CreateFolders) {
        ctx.stats().folders_synced = mapped.plan.pairs.len() as u64;
        let ended = Ended {
            code: None,
            summary: true,
            sizes: None,
        };
        return stop(&conn, ended).await;
    }
    if ctx.cfg.folders.syncacls {
        crate::acls::sync(ctx, &conn.c1, &conn.c2, &mapped, &existing2).await;
    }
    ctx.out.line(format!(
        "++++ Looping on each one of {} folders to sync",
        mapped.plan.pairs.len()
    ));
    let jobs = folder_jobs(ctx, &mapped, &existing2);
    pool::sync_folders(ctx, jobs, (conn.c1, conn.c2)).await;
    if ctx.cfg.folders.delete1emptyfolders && !ctx.aborted() {
        folderops::delete_empty_folders_on_host1(ctx, &mapped).await;
    }
    let mut diff = None;
    if ctx.cfg.sizes.after && !ctx.aborted() {
        let after = sizes::after(ctx, &mapped, &existing2).await;
        if let (Some(b), Some(a)) = (before, after) {
            diff = Some((b, a));
        }
    }
    crate::emailreport::append(ctx).await;
    Ended {
        code: None,
        summary: true,
        sizes: diff,
    }
}

/// The end of a mode that only looks: "Exiting because of --justX", exit 0 unless an error
/// was recorded.
fn looked(ctx: &Ctx, mode: Mode) -> Ended {
    ctx.out
        .line(format!("Exiting because of {}", mode.option()));
    Ended::early(Some(0))
}

/// Logs both connections out and ends the run.
async fn stop(conn: &Connected, ended: Ended) -> Ended {
    tokio::join!(conn.c1.logout(), conn.c2.logout());
    ended
}

/// Logs in on both sides at once, measures the round trip, learns host2's limits.
async fn connect_both(ctx: &Arc<Ctx>) -> Option<Connected> {
    let (r1, r2) = tokio::join!(
        session::open(ctx, Side::Host1),
        session::open(ctx, Side::Host2)
    );
    let ((c1, _), (c2, info2)) = match (r1, r2) {
        (Some(a), Some(b)) => (a, b),
        (a, b) => {
            for c in [a, b].into_iter().flatten() {
                c.0.logout().await;
            }
            return None;
        }
    };
    // One NOOP per side tells the round-trip time, which decides whether splitting a big
    // folder over several connections pays (it does over a slow link, not on a LAN where the
    // servers' own locking dominates).
    let (r1, r2) = tokio::join!(session::rtt(&c1), session::rtt(&c2));
    ctx.rtt_us
        .store(r1.max(r2), std::sync::atomic::Ordering::Relaxed);
    if ctx.cfg.mode == Mode::JustLogin {
        ctx.out.line("Exiting because of --justlogin");
    }
    Some(Connected { c1, c2, info2 })
}

/// Discovers both sides (and host2's quota) and maps the folders; the statuses of every
/// folder concerned are known at the end. `Err` with the run's exit code when no mapping can
/// be made.
async fn map_folders(ctx: &Arc<Ctx>, conn: &Connected) -> Result<Mapped, Option<i32>> {
    let (c1, c2, info2) = (&conn.c1, &conn.c2, &conn.info2);
    let announced = info2.caps.append_limit();
    if let Some((limit, line)) =
        imapsync_plan::select::appendlimit(ctx.cfg.messages.appendlimit, announced)
    {
        ctx.out.line(line);
        let _ = ctx.appendlimit.set(limit);
    }
    let quota = async {
        if info2.caps.has("QUOTA") {
            check_quota(ctx, c2).await;
        }
    };
    let (d1, d2, ()) = tokio::join!(discover::discover(c1), discover::discover(c2), quota);
    let (f1, f2) = match (d1, d2) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) => {
            ctx.error(format!("Host1: can not list folders: {e}"));
            return Err(None);
        }
        (_, Err(e)) => {
            ctx.error(format!("Host2: can not list folders: {e}"));
            return Err(None);
        }
    };
    ctx.out
        .line(format!("Host1: found {} folders.", f1.list.len()));
    ctx.out
        .line(format!("Host2: found {} folders.", f2.list.len()));
    for raw in &f1.unusable {
        ctx.error(format!(
            "Host1: folder name {:?} is not valid UTF-8/modified UTF-7; it can not be synced",
            String::from_utf8_lossy(raw)
        ));
    }
    let plan = mapping::plan(ctx, &f1, &f2).map_err(|e| {
        ctx.error(e.message.clone());
        Some(e.exit_code)
    })?;
    ctx.out.lines(&plan.lines);
    let names1: Vec<String> = plan.pairs.iter().map(|p| p.name1.clone()).collect();
    let names2: Vec<String> = plan
        .pairs
        .iter()
        .filter(|p| f2.contains(&p.name2))
        .map(|p| p.name2.clone())
        .collect();
    let (status1, status2) = tokio::join!(
        sizes::statuses(c1, &f1, names1),
        sizes::statuses(c2, &f2, names2)
    );
    Ok(Mapped {
        f1,
        f2,
        plan,
        status1,
        status2,
    })
}

/// The folder pairs to sync, in order, without those the state store vouches for (they need
/// no connection at all).
fn folder_jobs(ctx: &Ctx, m: &Mapped, existing2: &[String]) -> Vec<FolderJob> {
    let total = m.plan.pairs.len();
    let dry = ctx.cfg.dry;
    let not_mixed = if ctx.cfg.mixfolders {
        Vec::new()
    } else {
        let names: Vec<_> = m
            .plan
            .pairs
            .iter()
            .map(|p| imapsync_plan::folderops::PairNames {
                name1: &p.name1,
                name2: &p.name2,
            })
            .collect();
        imapsync_plan::folderops::not_mixed(&names)
    };
    for &i in &not_mixed {
        ctx.out.line(format!(
            "Folder [{}] already exists and --nomixfolders is set: [{}] is not synced into it",
            m.plan.pairs[i].shown2, m.plan.pairs[i].shown1
        ));
    }
    m.plan
        .pairs
        .iter()
        .enumerate()
        .filter(|(i, _)| !not_mixed.contains(i))
        // A --folder host1 does not have still runs, to fail at its SELECT (exit 117).
        .filter(|(_, p)| dry || existing2.contains(&p.name2) || !m.f1.contains(&p.name1))
        .map(|(i, p)| FolderJob {
            index: i + 1,
            total,
            name1: p.name1.clone(),
            name2: p.name2.clone(),
            shown1: p.shown1.clone(),
            shown2: p.shown2.clone(),
            shared2: m.plan.pairs.iter().filter(|q| q.name2 == p.name2).count() > 1,
            exists2: existing2.contains(&p.name2),
            status1: m.status1.get(&p.name1).cloned(),
            status2: m.status2.get(&p.name2).cloned(),
        })
        .filter(|job| !crate::folder::unchanged(ctx, job))
        .collect()
}

/// imapsync's start-up quota check on host2: more than 90 % used is an error (exit 113).
async fn check_quota(ctx: &Ctx, c2: &Connection) {
    let Ok(done) = c2.run(cmd::getquotaroot(b"INBOX")).await else {
        return;
    };
    let mut quota = imapsync_plan::fit::Quota::default();
    for u in done.untagged {
        let imapsync_proto::response::Untagged::Quota { resources, .. } = u else {
            continue;
        };
        for (name, usage, limit) in resources {
            if name.eq_ignore_ascii_case("MESSAGE") && limit > 0 {
                quota.messages.get_or_insert((usage, limit));
            }
            if name != "STORAGE" || limit == 0 {
                continue;
            }
            quota.storage_kib.get_or_insert((usage, limit));
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
    let _ = ctx.quota2.set(quota);
}

fn finish(ctx: &Arc<Ctx>, ended: Ended, start_rss: f64) -> RunResult {
    let early = ended.code;
    let cfg = &ctx.cfg;
    let ended_at = ctx.started_epoch + ctx.elapsed();
    let stats = ctx.stats().clone();
    let (nb_errors, code, listing) = {
        let e = ctx.errors();
        let nb = e.nb_errors();
        // An exit code decided early wins over the error log, unless it is a plain 0 (a
        // just* mode that met an error).
        let code = match early {
            Some(c) if nb == 0 || c != 0 => c,
            _ => e.exit_code().code(),
        };
        let adv = AdviceContext {
            user1: cfg.side1.connect.user.clone(),
            user2: cfg.side2.connect.user.clone(),
            host1: cfg.side1.connect.host.clone(),
            port1: cfg.side1.connect.port.unwrap_or(143),
            host2: cfg.side2.connect.host.clone(),
            port2: cfg.side2.connect.port.unwrap_or(143),
            exitwhenover: cfg.rates.exitwhenover,
        };
        (nb, code, (nb > 0).then(|| e.listing(cfg.errorsdump, &adv)))
    };
    if ended.summary {
        let lines = report::statistics(
            &stats,
            &ReportInput {
                started: ctx.started_epoch,
                ended: ended_at,
                dry: cfg.dry,
                justfolders: cfg.mode == Mode::JustFolders,
                nb_errors,
                cpu_seconds: report::cpu_seconds(),
                rss_mib: report::rss_mib(),
                start_rss_mib: start_rss,
                sizes: ended.sizes,
                release_line: cfg.release_line.clone(),
            },
        );
        ctx.out.lines(&lines);
    }
    if let Some(l) = listing {
        ctx.out.line(l.trim_end());
    }
    RunResult {
        exit_code: code,
        signal: None,
        stats,
        nb_errors,
    }
}

/// The statistics block of the run so far (asked for by a signal).
pub fn statistics_now(ctx: &Ctx) -> Vec<String> {
    let stats = ctx.stats().clone();
    let nb_errors = ctx.errors().nb_errors();
    report::statistics(
        &stats,
        &ReportInput {
            started: ctx.started_epoch,
            ended: ctx.started_epoch + ctx.elapsed(),
            dry: ctx.cfg.dry,
            justfolders: ctx.cfg.mode == Mode::JustFolders,
            nb_errors,
            cpu_seconds: report::cpu_seconds(),
            rss_mib: report::rss_mib(),
            start_rss_mib: 0.0,
            sizes: None,
            release_line: ctx.cfg.release_line.clone(),
        },
    )
}
