//! A handle on a run from outside (batch mode, many accounts in one process): the live
//! counters while it runs, the recorded errors, and a stop that acts like a TERM signal.
//! A plain `imapsync` run does not use it ([`crate::run()`] passes an unused one).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};

use crate::ctx::Ctx;
use crate::stats::Stats;

#[derive(Default)]
pub struct RunHandle {
    ctx: Mutex<Weak<Ctx>>,
    errors: Mutex<Vec<String>>,
    stop: tokio::sync::Notify,
    stopping: AtomicBool,
}

impl std::fmt::Debug for RunHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RunHandle")
    }
}

impl RunHandle {
    pub fn new() -> Arc<RunHandle> {
        Arc::new(RunHandle::default())
    }

    /// The counters so far; `None` before the run starts and after it ended.
    pub fn stats(&self) -> Option<Stats> {
        let ctx = self.ctx.lock().ok()?.upgrade()?;
        Some(ctx.stats().clone())
    }

    /// The error messages recorded so far (all of them once the run ended).
    pub fn errors(&self) -> Vec<String> {
        if let Some(ctx) = self.ctx.lock().ok().and_then(|w| w.upgrade()) {
            return ctx.errors().messages().to_vec();
        }
        self.errors.lock().map(|e| e.clone()).unwrap_or_default()
    }

    /// Stops the run as a TERM signal would (exit 143); whatever was in flight is settled by
    /// the journal on the next run.
    pub fn stop(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        self.stop.notify_waiters();
    }

    pub(crate) fn attach(&self, ctx: &Arc<Ctx>) {
        if let Ok(mut w) = self.ctx.lock() {
            *w = Arc::downgrade(ctx);
        }
    }

    /// Keeps the errors once the run is over (the context goes away with the run).
    pub(crate) fn detach(&self, ctx: &Ctx) {
        if let Ok(mut e) = self.errors.lock() {
            *e = ctx.errors().messages().to_vec();
        }
        if let Ok(mut w) = self.ctx.lock() {
            *w = Weak::new();
        }
    }

    /// Resolves when [`stop`](Self::stop) was called (at once if it already was).
    pub(crate) async fn stopped(&self) -> (&'static str, i32) {
        loop {
            let notified = self.stop.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.stopping.load(Ordering::SeqCst) {
                return ("TERM", 15);
            }
            notified.await;
        }
    }
}
