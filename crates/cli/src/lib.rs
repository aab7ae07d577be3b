//! The imapsync-compatible command line.
//!
//! * [`flags`]: the option table and the Getopt::Long-compatible parser (low-level arguments).
//! * [`hiargs`]: defaults, implied options and secrets resolved into the run configuration.
//! * [`app`]: the program — logging, pidfile, the run, the final lines and the exit code.
//! * [`batch_cmd`]: `imapsync batch ...`, many accounts (crate `imapsync-batch`), each run
//!   in-process as [`app`] would run it.

pub mod app;
pub mod batch_cmd;
pub mod flags;
pub mod hiargs;
