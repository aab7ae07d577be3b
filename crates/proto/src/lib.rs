//! IMAP framing and grammar, with no I/O.
//!
//! * [`mutf7`]: modified UTF-7 mailbox names (RFC 3501 §5.1.3).
//! * [`framer`]: splits a byte stream into response lines and literals; large literals are
//!   handed out in bounded chunks instead of being buffered whole.
//! * [`response`]: the response grammar we read (status, FETCH, LIST, STATUS, ...).
//! * [`command`]: command encoding (quoting, literals, sequence sets, dates).

pub mod mutf7;
