//! # imapsync-batch
//!
//! Many accounts in one command: `imapsync batch run --accounts FILE`, resumable, in
//! parallel within per-host connection caps, with reports; and the same batch spread over
//! several machines that share a PostgreSQL database (`--store postgres://...`).
//!
//! * [`accounts`]: imapsync's account-file format and CSV, password references.
//! * [`plan`]: every rule (exit code → retry class, caps, staggering, back-off, an account's
//!   command line, the batch's exit code), pure and table-tested.
//! * [`store`]: the job store behind one interface, SQLite or PostgreSQL, with claims under
//!   leases.
//! * [`worker`]: the scheduler of one process; [`runner`]: what it needs from the program that
//!   runs an account (the `imapsync` command line provides it, running each account in this
//!   process with its own log file).
//! * [`report`], [`progress`]: CSV/JSON/HTML reports, the list of failures, `status`, and the
//!   terminal display.
//! * [`cmd`]: the `batch` subcommands.

pub mod accounts;
pub mod cmd;
pub mod plan;
pub mod progress;
pub mod report;
pub mod runner;
pub mod store;
pub mod worker;

pub use cmd::main;
pub use runner::{AccountRunner, Checked, LiveAccount, Outcome, OutcomeFuture};
