//! IMAP framing and grammar, with no I/O.
//!
//! * [`mutf7`]: modified UTF-7 mailbox names (RFC 3501 §5.1.3).
//! * [`framer`]: splits a byte stream into responses; large literals are handed out in bounded
//!   chunks instead of being buffered whole.
//! * [`response`]: the response grammar we read (status, FETCH, LIST, STATUS, ...).
//! * [`command`]: command encoding (quoting, literals, sequence sets, dates), checked against
//!   imap-codec's grammar in tests.
//! * [`seqset`]: UID sets.
//! * [`caps`]: the capability set.
//! * `fuzzing` (feature `fuzzing`, test-only): the checks behind the fuzz targets.

pub mod caps;
pub mod command;
pub mod framer;
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;
pub mod mutf7;
pub mod response;
pub mod seqset;

pub use bytes::Bytes;
