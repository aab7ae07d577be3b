//! The executor: carries out what `imapsync-plan` decides, over IMAP connections with
//! bounded concurrency. No rule is decided here; see `docs/ARCHITECTURE.md`.
//!
//! * [`run::run`] is a whole run, as phases the run mode stops early: log in on both sides,
//!   discover and map folders ([`discover`], [`mapping`]), folder sizes ([`sizes`]), create
//!   what host2 lacks ([`folderops`]), sync the folders with a pool of connection pairs
//!   ([`pool`]), print the summary ([`report`]).
//! * [`session`]: every connection is opened, re-opened and watched there.
//! * [`folder`] syncs one folder pair, phase by phase (select, list, decide, copy, resync
//!   flags, delete, record).
//! * [`copy`] streams bodies from host1 FETCH into host2 APPEND, pipelined, with the journal
//!   written before each APPEND.
//! * [`listing`]: SELECT and message listings.
//! * [`pipe`]: the external commands messages go through (`--pipemess`,
//!   `--maxlinelengthcmd`), and their check before connecting.
//! * [`acls`]: `--syncacls`; [`emailreport`]: the report appended at the end
//!   (`--emailreport1`, `--emailreport2`).
//! * [`fit`]: before copying, the warnings about what will not fit on host2.
//! * [`labels`]: Gmail labels, the run's label plan (each folder stores its labels).

pub mod acls;
pub mod config;
pub mod copy;
pub mod ctx;
pub mod discover;
pub mod emailreport;
pub mod fit;
pub mod folder;
pub mod folderops;
pub mod handle;
pub mod labels;
pub mod listing;
pub mod mapping;
pub mod output;
pub mod pipe;
pub mod pool;
pub mod report;
pub mod run;
pub mod searchcheck;
pub mod session;
pub mod signals;
pub mod sizes;
pub mod stats;

pub use config::Config;
pub use handle::RunHandle;
pub use output::Out;
pub use run::{RunResult, run, run_with};
