//! The folder loop: a pool of workers, each with a connection pair, taking folders from one
//! queue. A worker that loses a connection gets a new one ([`session::ensure`]) and runs the
//! folder again; one that can not get one leaves its folder to the others.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use imapsync_client::{Connection, Side};

use crate::ctx::Ctx;
use crate::folder::{self, FolderError, FolderJob};
use crate::session;

/// The folders still to sync.
type Queue = Mutex<VecDeque<FolderJob>>;

/// Syncs `jobs` with up to `--connections` pairs; `first` is the pair the run logged in
/// with (given to the first worker).
pub async fn sync_folders(ctx: &Arc<Ctx>, jobs: Vec<FolderJob>, first: (Connection, Connection)) {
    if jobs.is_empty() {
        tokio::join!(first.0.logout(), first.1.logout());
        ctx.out.line("++++ End looping on each folder");
        return;
    }
    // --skipcrossduplicates: "already copied in an earlier folder" needs folders in order.
    let workers = if ctx.cfg.messages.skipcrossduplicates {
        1
    } else {
        ctx.cfg.pairs().min(jobs.len())
    };
    let queue = Arc::new(Mutex::new(VecDeque::from(jobs)));
    let alive = Arc::new(AtomicUsize::new(workers));
    let mut first = Some(first);
    let mut handles = Vec::new();
    for _ in 0..workers {
        let (ctx, queue, alive, conns) = (ctx.clone(), queue.clone(), alive.clone(), first.take());
        handles.push(tokio::spawn(async move {
            worker(ctx, queue, conns, alive).await
        }));
    }
    for h in handles {
        let _ = h.await;
    }
    ctx.out.line("++++ End looping on each folder");
}

/// What a worker does after a folder.
enum Next {
    Continue,
    /// This worker has no connection: it leaves (its folder went back to the queue).
    Leave,
}

async fn worker(
    ctx: Arc<Ctx>,
    queue: Arc<Queue>,
    conns: Option<(Connection, Connection)>,
    alive: Arc<AtomicUsize>,
) {
    // This worker's place under the connection limits, held until it ends.
    let _slots = ctx.connection_slots().await;
    let mut c1: Option<Connection> = conns.as_ref().map(|c| c.0.clone());
    let mut c2: Option<Connection> = conns.map(|c| c.1);
    while !ctx.aborted() {
        let job = queue.lock().ok().and_then(|mut q| q.pop_front());
        let Some(job) = job else { break };
        if let Next::Leave = one_folder(&ctx, &queue, &mut c1, &mut c2, &alive, job).await {
            break;
        }
    }
    alive.fetch_sub(1, Ordering::SeqCst);
    for c in [c1, c2].into_iter().flatten() {
        c.logout().await;
    }
}

/// Syncs one folder, reconnecting and running it again after a connection loss.
async fn one_folder(
    ctx: &Ctx,
    queue: &Queue,
    c1: &mut Option<Connection>,
    c2: &mut Option<Connection>,
    alive: &AtomicUsize,
    job: FolderJob,
) -> Next {
    let mut attempts = 0u32;
    loop {
        let a = session::ensure(ctx, Side::Host1, c1, alive).await;
        let b = match a {
            Some(_) => session::ensure(ctx, Side::Host2, c2, alive).await,
            None => None,
        };
        let (Some(a), Some(b)) = (a, b) else {
            if alive.load(Ordering::SeqCst) > 1 && (c1.is_none() || c2.is_none()) {
                // Another worker takes this folder; this one stops.
                if let Ok(mut q) = queue.lock() {
                    q.push_front(job);
                }
                return Next::Leave;
            }
            ctx.error(format!(
                "Folder [{}]: no connection, the folder is not synced",
                job.shown1
            ));
            return Next::Continue;
        };
        let (side, err) = match folder::sync_folder(ctx, &a, &b, &job).await {
            Ok(()) | Err(FolderError::Recorded) => return Next::Continue,
            Err(FolderError::Conn { side, err }) => (side, err),
        };
        attempts += 1;
        ctx.out.line(format!(
            "{side}: connection lost during folder [{}]: {err}",
            job.shown1
        ));
        if attempts > ctx.cfg.side(side).reconnect_retry {
            ctx.error(format!(
                "{side} failure: folder [{}] not synced after {attempts} connection losses: {err}",
                job.shown1
            ));
            return Next::Continue;
        }
        // The failed side is replaced (with back-off) and the folder run again: the UID map,
        // the journal and identity matching make the second attempt copy only what is still
        // missing.
        if side == Side::Host1 || !a.is_alive() {
            a.abandon();
        }
        if side == Side::Host2 || !b.is_alive() {
            b.abandon();
        }
        session::backoff(attempts).await;
    }
}
