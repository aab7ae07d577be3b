//! The imapsync-compatible command line.
//!
//! * [`flags`]: the option table and the Getopt::Long-compatible parser (low-level arguments).
//! * [`hiargs`]: defaults, implied options and secrets resolved into the run configuration.
//! * [`oauthargs`]: how each side gets its OAuth2 access tokens.
//! * [`app`]: the program — logging, pidfile, the run, the final lines and the exit code.

pub mod app;
pub mod flags;
pub mod hiargs;
pub mod oauthargs;
