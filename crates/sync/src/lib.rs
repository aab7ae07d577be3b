//! The executor: drives the plan over IMAP connections with bounded concurrency.
//!
//! * [`run::run`] is a whole imapsync run: log in on both sides, discover and map folders,
//!   create what host2 lacks, sync folders with a pool of connection pairs, print the summary.
//! * [`folder`] syncs one folder pair (fast path from the state store, else list, decide, copy,
//!   resync flags, record).
//! * [`copy`] streams bodies from host1 FETCH into host2 APPEND, pipelined.
//! * [`listing`], [`discover`], [`mapping`]: what the servers hold and how names map.
//! * [`report`]: imapsync's statistics block.

pub mod config;
pub mod copy;
pub mod ctx;
pub mod discover;
pub mod folder;
pub mod handle;
pub mod listing;
pub mod mapping;
pub mod output;
pub mod report;
pub mod run;
pub mod stats;

pub use config::Config;
pub use handle::RunHandle;
pub use output::Out;
pub use run::{RunResult, run, run_with};
