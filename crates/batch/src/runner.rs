//! What the batch needs from the program that runs one account: the `imapsync` command line
//! implements [`AccountRunner`] (parse an account's options exactly as a plain run does,
//! then run the sync in this process with the account's own log file). The batch crate does
//! not depend on the command line; tests can plug in any runner.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::store::Progress;

/// An account's options checked without running it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checked {
    /// Connection pairs it would open (the smaller of its `--connections1/2`).
    pub connections: u32,
}

/// An account running: live counters, and a stop.
pub trait LiveAccount: Send + Sync {
    fn progress(&self) -> Progress;
    /// Stops it as a TERM signal would (the journal settles what was in flight).
    fn stop(&self, why: &str);
}

/// The end of one run.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    /// imapsync's exit code.
    pub exit_code: i32,
    pub progress: Progress,
    /// The error messages the run recorded (the first ones are the telling ones).
    pub errors: Vec<String>,
    pub log_file: Option<String>,
}

pub type OutcomeFuture = Pin<Box<dyn Future<Output = Outcome> + Send>>;

/// Runs accounts.
pub trait AccountRunner: Send + Sync + 'static {
    /// Checks an account's imapsync arguments (usage errors, option values) without
    /// connecting; `Err` carries imapsync's exit code and message.
    fn check(&self, args: &[String]) -> Result<Checked, (i32, String)>;

    /// Starts an account with its imapsync arguments (passwords included); the future
    /// resolves when the run ends.
    fn start(&self, args: Vec<String>) -> (Arc<dyn LiveAccount>, OutcomeFuture);
}
