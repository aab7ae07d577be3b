//! The scheduler of one process: claims accounts from the job store as long as it has free
//! slots (`--jobs`), runs them in this process, renews their leases while they run, records
//! how each ended, and stops cleanly on INT/TERM (the running accounts stop as a plain
//! imapsync run does on a signal, and go back to `pending`).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinSet;

use crate::accounts::SecretRef;
use crate::plan::{self, AccountArgs, JobState, SecretArg};
use crate::progress::{Display, Running, Snapshot};
use crate::runner::{AccountRunner, LiveAccount, Outcome};
use crate::store::{BatchConfig, Claim, Finish, Job, JobStore, Progress};

/// Inline passwords of the account file this process read, by account key.
pub type Secrets = HashMap<String, (SecretRef, SecretRef)>;

/// How this process works.
#[derive(Clone, Debug)]
pub struct WorkerOptions {
    /// Accounts at once.
    pub jobs: usize,
    /// Total bytes per second for this process's accounts.
    pub bandwidth: Option<f64>,
    /// This worker's name in the job store (`host:pid:random`).
    pub id: String,
    /// The per-account state database, when the job store is PostgreSQL (URL without
    /// password).
    pub statedir: Option<String>,
}

/// How the worker ended.
#[derive(Clone, Debug, PartialEq)]
pub struct WorkerEnd {
    /// The signal that stopped it.
    pub signal: Option<i32>,
    /// Accounts this worker ran to an end.
    pub finished: usize,
}

/// A name for this worker: host, pid and a random part.
pub fn worker_id() -> String {
    format!(
        "{}:{}:{:04x}",
        imapsync_state::hostname(),
        std::process::id(),
        rand::random::<u16>()
    )
}

struct Active {
    job: Job,
    live: Arc<dyn LiveAccount>,
    started: Instant,
}

/// Runs accounts until the batch has nothing left (or a signal).
pub async fn work(
    store: Arc<dyn JobStore>,
    runner: Arc<dyn AccountRunner>,
    cfg: BatchConfig,
    opts: WorkerOptions,
    secrets: Arc<Secrets>,
    display: Arc<Display>,
) -> WorkerEnd {
    use tokio::signal::unix::{SignalKind, signal};
    let jobs = opts.jobs.max(1);
    let lease = if cfg.lease > 0.0 { cfg.lease } else { 60.0 };
    let beat = Duration::from_secs_f64((lease / 3.0).clamp(0.2, 20.0));
    let mut heartbeat = tokio::time::interval(beat);
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let every = Duration::from_millis(if display.is_tty() { 250 } else { 10_000 });
    let mut redraw = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    redraw.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let (mut int, mut term) = match (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) {
        (Ok(a), Ok(b)) => (a, b),
        _ => {
            display.line("batch: can not watch INT/TERM signals");
            return WorkerEnd {
                signal: None,
                finished: 0,
            };
        }
    };
    let has_inline = secrets
        .values()
        .any(|(a, b)| a.is_inline() || b.is_inline());
    let bandwidth = plan::per_account_bandwidth(opts.bandwidth, jobs);
    let mut active: HashMap<i64, Active> = HashMap::new();
    let mut set: JoinSet<Outcome> = JoinSet::new();
    let mut tasks: HashMap<tokio::task::Id, i64> = HashMap::new();
    let mut stopping: Option<i32> = None;
    let mut finished = 0usize;
    let mut last_beat_ok = Instant::now();
    let mut done_totals = Progress::default();
    let started = Instant::now();
    let mut counts = store.counts().unwrap_or_default();
    let mut counts_at = Instant::now();
    let mut counts_stale = false;
    loop {
        let mut wait = 1.0f64;
        if stopping.is_none() {
            while active.len() < jobs {
                match store.claim(&opts.id, has_inline) {
                    Ok(Claim::Job(job)) => {
                        let job = *job;
                        match start(&job, &cfg, &opts, &secrets, bandwidth, &*runner) {
                            Ok((live, fut)) => {
                                display.line(&format!(
                                    "batch: start {} (attempt {}{})",
                                    job.name(),
                                    job.attempts,
                                    if job.reserved < job.conns {
                                        format!(
                                            ", {} connection pairs under the host caps",
                                            job.reserved
                                        )
                                    } else {
                                        String::new()
                                    }
                                ));
                                let id = job.id;
                                active.insert(
                                    id,
                                    Active {
                                        job,
                                        live,
                                        started: Instant::now(),
                                    },
                                );
                                let task = set.spawn(fut);
                                tasks.insert(task.id(), id);
                                counts_stale = true;
                            }
                            Err(why) => {
                                display.line(&format!("batch: refused {}: {why}", job.name()));
                                let f = Finish {
                                    state: JobState::Refused,
                                    not_before: None,
                                    exit_code: 66,
                                    progress: Progress::default(),
                                    duration: 0.0,
                                    last_error: Some(why),
                                    log_file: None,
                                    uncount: false,
                                };
                                if let Err(e) = store.finish(&opts.id, job.id, &f) {
                                    display.line(&format!("batch: {e}"));
                                }
                                finished += 1;
                            }
                        }
                    }
                    Ok(Claim::Later(s)) => {
                        wait = s.clamp(0.01, 1.0);
                        break;
                    }
                    Ok(Claim::Finished) => {
                        if active.is_empty() {
                            display.finish(&snapshot(&counts, &active, done_totals, started));
                            return WorkerEnd {
                                signal: None,
                                finished,
                            };
                        }
                        break;
                    }
                    Err(e) => {
                        display.line(&format!("batch: {e}; trying again in 5 s"));
                        wait = 5.0;
                        break;
                    }
                }
            }
        } else if active.is_empty() {
            display.finish(&snapshot(&counts, &active, done_totals, started));
            return WorkerEnd {
                signal: stopping,
                finished,
            };
        }
        tokio::select! {
            Some(joined) = set.join_next_with_id(), if !set.is_empty() => {
                let (task, outcome) = match joined {
                    Ok((task, outcome)) => (task, outcome),
                    // A run that panicked: recorded as ended with errors, with why.
                    Err(e) => (e.id(), Outcome {
                        exit_code: 1,
                        progress: Progress::default(),
                        errors: vec![format!("internal error: the run of this account ended abnormally ({e})")],
                        log_file: None,
                    }),
                };
                let Some(id) = tasks.remove(&task) else { continue };
                let Some(a) = active.remove(&id) else { continue };
                let p = outcome.progress;
                done_totals.transferred += p.transferred;
                done_totals.bytes += p.bytes;
                finished += 1;
                record(&*store, &opts.id, &cfg, &a, outcome, &display);
                counts = store.counts().unwrap_or(counts);
                counts_at = Instant::now();
            }
            _ = tokio::time::sleep(Duration::from_secs_f64(wait)) => {}
            _ = heartbeat.tick() => {
                let mut ok = true;
                for a in active.values() {
                    match store.heartbeat(&opts.id, a.job.id, lease, a.live.progress()) {
                        Ok(true) => {}
                        Ok(false) => {
                            display.line(&format!("batch: {} was taken over by another worker (lease lost): stopping it here", a.job.name()));
                            a.live.stop("the batch lost this account's lease");
                        }
                        Err(e) => {
                            ok = false;
                            display.line(&format!("batch: heartbeat: {e}"));
                        }
                    }
                }
                if ok {
                    last_beat_ok = Instant::now();
                } else if last_beat_ok.elapsed().as_secs_f64() > lease * 0.8 {
                    // Another worker may take these accounts over once the leases expire:
                    // stop them before that can happen.
                    for a in active.values() {
                        a.live.stop("the batch lost contact with the job store");
                    }
                }
                if counts_at.elapsed() > Duration::from_secs(2) {
                    counts = store.counts().unwrap_or(counts);
                    counts_at = Instant::now();
                }
            }
            _ = redraw.tick() => {
                if counts_stale || counts_at.elapsed() > Duration::from_secs(1) {
                    counts = store.counts().unwrap_or(counts);
                    counts_at = Instant::now();
                    counts_stale = false;
                }
                display.progress(&snapshot(&counts, &active, done_totals, started));
            }
            _ = int.recv() => stop(&mut stopping, 2, &active, &display),
            _ = term.recv() => stop(&mut stopping, 15, &active, &display),
        }
    }
}

fn stop(stopping: &mut Option<i32>, sig: i32, active: &HashMap<i64, Active>, display: &Display) {
    if stopping.is_some() {
        display.line("batch: second signal: exiting now (the accounts resume on the next run)");
        std::process::exit(128 + sig);
    }
    display.line(&format!(
        "batch: got signal {sig}: stopping {} running accounts; run the same command again to resume",
        active.len()
    ));
    *stopping = Some(sig);
    for a in active.values() {
        a.live.stop("the batch was interrupted");
    }
}

fn snapshot(
    counts: &plan::Counts,
    active: &HashMap<i64, Active>,
    done: Progress,
    started: Instant,
) -> Snapshot {
    let mut running: Vec<Running> = active
        .values()
        .map(|a| Running {
            name: a.job.name(),
            progress: a.live.progress(),
            seconds: a.started.elapsed().as_secs_f64(),
        })
        .collect();
    running.sort_by(|a, b| a.name.cmp(&b.name));
    let mut total = done;
    for r in &running {
        total.transferred += r.progress.transferred;
        total.bytes += r.progress.bytes;
    }
    Snapshot {
        counts: counts.clone(),
        running,
        transferred: total.transferred,
        bytes: total.bytes,
        seconds: started.elapsed().as_secs_f64(),
    }
}

/// Resolves an account's secrets and starts it.
fn start(
    job: &Job,
    cfg: &BatchConfig,
    opts: &WorkerOptions,
    secrets: &Secrets,
    bandwidth: Option<f64>,
    runner: &dyn AccountRunner,
) -> Result<(Arc<dyn LiveAccount>, crate::runner::OutcomeFuture), String> {
    let inline = secrets.get(&job.key);
    let s1 = resolve(&job.secret1, inline.map(|s| &s.0), 1)?;
    let s2 = resolve(&job.secret2, inline.map(|s| &s.1), 2)?;
    let args = plan::account_args(&AccountArgs {
        global: &cfg.options,
        host1: &job.host1,
        user1: &job.user1,
        secret1: &s1,
        host2: &job.host2,
        user2: &job.user2,
        secret2: &s2,
        extra: &job.extra,
        reserved: Some(job.reserved),
        bandwidth,
        statedir: opts.statedir.as_deref(),
    });
    Ok(runner.start(args))
}

/// How a password reference reaches imapsync on this machine.
pub fn resolve(stored: &str, inline: Option<&SecretRef>, side: u8) -> Result<SecretArg, String> {
    match SecretRef::from_stored(stored) {
        SecretRef::None => Err(format!(
            "no password for user{side} in the account file (give one, or a file:/env:/oauth2: reference)"
        )),
        SecretRef::Inline(_) => match inline {
            Some(SecretRef::Inline(p)) => Ok(SecretArg::Password(p.clone())),
            _ => Err(format!(
                "the password of user{side} is written in an account file this worker was not given (start it with --accounts FILE, or use file:/env: references)"
            )),
        },
        SecretRef::File(p) => Ok(SecretArg::Passfile(p)),
        SecretRef::Env(n) => std::env::var(&n).map(SecretArg::Password).map_err(|_| {
            format!("environment variable {n} (password of user{side}) is not set on this worker")
        }),
        SecretRef::OAuth2File(p) => {
            if Path::new(&p).is_file() {
                Ok(SecretArg::OAuth2(p))
            } else {
                Err(format!(
                    "OAuth2 token file {p} of user{side} does not exist on this worker"
                ))
            }
        }
        SecretRef::OAuth2Cmd(cmd) => token_from_command(&cmd)
            .map(SecretArg::OAuth2)
            .map_err(|e| format!("OAuth2 token command of user{side}: {e}")),
    }
}

/// Runs a token command (`sh -c`), 60 s at most; its first output line is the token.
fn token_from_command(cmd: &str) -> Result<String, String> {
    let run = || {
        let mut child = std::process::Command::new("sh")
            .arg("-c")
            .arg(cmd)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .map_err(|e| e.to_string())?;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            match child.try_wait() {
                Ok(Some(_)) => break,
                Ok(None) if Instant::now() > deadline => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err("did not end within 60 s".to_string());
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
                Err(e) => return Err(e.to_string()),
            }
        }
        let out = child.wait_with_output().map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(format!(
                "exited with {}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        let text = String::from_utf8_lossy(&out.stdout);
        let token = text.lines().next().unwrap_or("").trim().to_string();
        if token.is_empty() {
            Err("printed no token".into())
        } else {
            Ok(token)
        }
    };
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(run)
        }
        _ => run(),
    }
}

fn record(
    store: &dyn JobStore,
    worker: &str,
    cfg: &BatchConfig,
    a: &Active,
    outcome: Outcome,
    display: &Display,
) {
    let (state, delay) = plan::verdict(outcome.exit_code, a.job.attempts, &cfg.retry);
    let last_error = outcome
        .errors
        .first()
        .map(|e| e.trim().chars().take(500).collect::<String>())
        .or_else(|| {
            (outcome.exit_code != 0)
                .then(|| format!("exit {} without an error message", outcome.exit_code))
        });
    let f = Finish {
        state,
        not_before: delay,
        exit_code: outcome.exit_code,
        progress: outcome.progress,
        duration: a.started.elapsed().as_secs_f64(),
        last_error: last_error.clone(),
        log_file: outcome.log_file.clone(),
        uncount: state == JobState::Pending,
    };
    let p = outcome.progress;
    let mut line = format!(
        "batch: {} {}: exit {}, {} transferred, {} skipped, {} errors, {} in {:.1} s",
        state.as_str(),
        a.job.name(),
        outcome.exit_code,
        p.transferred,
        p.skipped,
        p.errors,
        crate::report::bytes(p.bytes),
        f.duration
    );
    if let Some(d) = delay {
        line.push_str(&format!(", retry in {d:.0} s"));
    }
    if state != JobState::Done
        && let Some(e) = &last_error
    {
        line.push_str(&format!(" ({e})"));
    }
    display.line(&line);
    match store.finish(worker, a.job.id, &f) {
        Ok(true) => {}
        Ok(false) => display.line(&format!(
            "batch: {} had been taken over by another worker; its end here is not recorded",
            a.job.name()
        )),
        Err(e) => display.line(&format!(
            "batch: recording the end of {}: {e} (its lease expires and another run settles it)",
            a.job.name()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_resolve_on_this_machine() {
        let inline = SecretRef::Inline("pw".into());
        assert_eq!(
            resolve("inline", Some(&inline), 1),
            Ok(SecretArg::Password("pw".into()))
        );
        assert!(
            resolve("inline", None, 1)
                .unwrap_err()
                .contains("--accounts")
        );
        assert_eq!(
            resolve("file:/x/p", None, 2),
            Ok(SecretArg::Passfile("/x/p".into()))
        );
        assert!(
            resolve("", None, 2)
                .unwrap_err()
                .contains("no password for user2")
        );
        assert!(
            resolve("env:IMAPSYNC_BATCH_SURELY_UNSET_VAR", None, 1)
                .unwrap_err()
                .contains("not set")
        );
        assert!(resolve("oauth2:/nonexistent/tok", None, 1).is_err());
        assert_eq!(
            resolve("oauth2-cmd:echo tok123; echo second", None, 1),
            Ok(SecretArg::OAuth2("tok123".into()))
        );
        assert!(resolve("oauth2-cmd:exit 3", None, 1).is_err());
        assert!(resolve("oauth2-cmd:true", None, 1).is_err());
    }
}
