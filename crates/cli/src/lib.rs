//! The imapsync-compatible command line.
//!
//! * [`flags`]: the option table and the Getopt::Long-compatible parser (low-level arguments).
//! * [`hiargs`]: the only reader of the parsed options — defaults, presets, implied options,
//!   secrets and the run mode resolved once into an [`hiargs::Action`] with typed configuration.
//! * [`oauthargs`]: how each side gets its OAuth2 access tokens.
//! * [`release`]: `--releasecheck`, one bounded HTTP GET.
//! * [`app`]: the program — logging, pidfile, the run, the final lines and the exit code.
//! * [`batch_cmd`]: `imapsync batch ...`, many accounts (crate `imapsync-batch`), each run
//!   in-process as [`app`] would run it.

pub mod app;
pub mod batch_cmd;
pub mod flags;
pub mod hiargs;
pub mod oauthargs;
pub mod release;
