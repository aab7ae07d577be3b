//! Modified UTF-7 (RFC 3501 §5.1.3).
