//! The imapsync-compatible command line.

pub mod flags;
