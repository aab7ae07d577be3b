//! Signals and the abort file, as imapsync handles them while a sync runs (the choice of what
//! each signal does is [`crate::config::SignalPlan`], decided from the options):
//!
//! * an *exit* signal (QUIT, TERM by default) ends the run: the statistics so far, exit
//!   128 + the signal's number (what a shell reports for a process killed by it);
//! * a *reconnect* signal (INT by default, so Ctrl-C) drops every connection: the workers
//!   reconnect and run their folder again; the same signal twice within 2 s ends the run;
//! * HUP prints the statistics so far; `--sigignore` signals too; USR1 switches the throttle's
//!   longest sleep between 0 and 2 s;
//! * the abort file `PIDFILEabortPID` (created by `imapsync --abort --abortbyfile`) stops the
//!   run gracefully: nothing new starts, what is in flight completes, exit 7.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use tokio::signal::unix::{Signal, SignalKind, signal};

use crate::config::{SignalAction, SignalPlan};
use crate::ctx::Ctx;

/// How often the abort file is looked for.
pub const ABORT_FILE_CHECK: Duration = Duration::from_millis(500);

/// Why the run stops early.
#[derive(Debug)]
pub enum Stopped {
    /// An exit signal (name, number).
    Signal(&'static str, i32),
    /// The abort file appeared.
    File(PathBuf),
}

fn listeners(plan: &SignalPlan) -> Vec<(&'static str, i32, SignalAction, Signal)> {
    imapsync_plan::options::SIGNALS
        .iter()
        .filter_map(|&(name, num)| {
            let action = plan.action(name)?;
            let s = signal(SignalKind::from_raw(num)).ok()?;
            Some((name, num, action, s))
        })
        .collect()
}

/// The next signal among the listeners.
async fn next(
    listeners: &mut [(&'static str, i32, SignalAction, Signal)],
) -> (&'static str, i32, SignalAction) {
    std::future::poll_fn(|cx| {
        for (name, num, action, s) in listeners.iter_mut() {
            if let std::task::Poll::Ready(Some(())) = s.poll_recv(cx) {
                return std::task::Poll::Ready((*name, *num, *action));
            }
        }
        std::task::Poll::Pending
    })
    .await
}

/// Handles signals and watches the abort file until one of them stops the run.
pub async fn watch(ctx: &Ctx) -> Stopped {
    let mut listeners = listeners(&ctx.cfg.signals);
    let mut last_reconnect: Option<Instant> = None;
    let mut counts: std::collections::HashMap<&str, u64> = Default::default();
    let mut tick = tokio::time::interval(ABORT_FILE_CHECK);
    let pid = std::process::id();
    loop {
        let (name, num, action) = tokio::select! {
            s = next(&mut listeners) => s,
            _ = tick.tick() => {
                if let Some(f) = ctx.cfg.abort_file.as_ref().filter(|f| f.exists()) {
                    return Stopped::File(f.clone());
                }
                continue;
            }
        };
        let n = counts.entry(name).or_default();
        *n += 1;
        match action {
            SignalAction::Exit => return Stopped::Signal(name, num),
            SignalAction::Reconnect => {
                let twice = last_reconnect.is_some_and(|t| {
                    t.elapsed() <= Duration::from_secs(imapsync_plan::options::SIGNAL_TWICE_SECONDS)
                });
                if twice {
                    ctx.out.line(format!(
                        "Got two signals {name} within {} seconds. Exiting...",
                        imapsync_plan::options::SIGNAL_TWICE_SECONDS
                    ));
                    return Stopped::Signal(name, num);
                }
                last_reconnect = Some(Instant::now());
                ctx.out.lines(&[
                    format!("Got a signal {name} (my PID is {pid})"),
                    format!(
                        "Hit 2 ctr-c within {} seconds to exit the program",
                        imapsync_plan::options::SIGNAL_TWICE_SECONDS
                    ),
                    "Hit only 1 ctr-c to reconnect to both imap servers".to_string(),
                ]);
                let dropped = ctx.reconnect_all();
                ctx.out.line(format!(
                    "Info: reconnecting to both imap servers ({dropped} connections dropped)"
                ));
            }
            SignalAction::Print | SignalAction::Ignore => {
                ctx.out.line(format!(
                    "Got a signal {name} (my PID is {pid}). Received {n} {name} signals so far. Thanks!"
                ));
                ctx.out.lines(&crate::run::statistics_now(ctx));
            }
            SignalAction::ToggleSleep => {
                let m = ctx.toggle_maxsleep();
                ctx.out
                    .line(imapsync_plan::throttle::toggle_sleep_message(m));
            }
        }
    }
}
