//! # imapsync-testkit
//!
//! Everything the integration tests, the benchmark and the demo scripts of the
//! imapsync re-implementation need to exercise real IMAP servers, without depending
//! on anything outside this repository at run time.
//!
//! * [`Dovecot`] starts a private, throwaway Dovecot 2.3 instance (own config, own
//!   temp dir, random loopback ports, plain+STARTTLS and implicit-TLS listeners) in one
//!   of four [`Layout`]s: Courier-like `INBOX.` + `.`, plain `/`, Gmail-like and
//!   Exchange-like special folders. A builder emulates other servers by removing
//!   capabilities, adding quota limits, enabling COMPRESS, and so on. Servers cannot
//!   outlive the test process (see [`spawn`]) and are stopped on drop.
//! * [`TestImap`] is a deliberately independent, blocking IMAP client for assertions:
//!   LIST/STATUS/SELECT/APPEND/STORE/EXPUNGE and [`TestImap::snapshot`], which records
//!   every message's flags, INTERNALDATE, size, SHA-256 of the body and Message-ID.
//! * [`FaultProxy`] is a tokio TCP proxy that injects latency (a delay line, not a
//!   throttle), bandwidth caps, connection drops (RST or FIN) after N bytes or on the
//!   K-th match of a pattern, stalls and refused connections, per connection number.
//! * [`Shim`] is an IMAP-aware proxy that forwards by default and, by [`shim::Rule`],
//!   answers chosen commands itself (`NO [OVERQUOTA]`, throttling `BAD`, ...), delays them,
//!   drops the connection before or in the middle of a literal, injects untagged responses,
//!   or rewrites the greeting / answers `* BYE` (Gmail's connection limit).
//! * [`OAuthServer`] is a local OAuth2 authorization server (token, introspection for
//!   Dovecot's `oauth2` passdb, device code, browser sign-in, discovery, service-account
//!   JWT checks) with short-lived tokens; [`DovecotBuilder::oauth2`] makes Dovecot accept
//!   its tokens with XOAUTH2 and OAUTHBEARER.
//! * [`corpus`] generates deterministic mailboxes (seeded PRNG, realistic RFC 5322
//!   messages, size distributions, flags, keywords, awkward folder names), and
//!   [`fill()`] uploads them quickly with pipelined LITERAL+ APPENDs over several
//!   connections.
//! * [`mod@fixtures`] gives access to the edge-case messages copied under
//!   `fixtures/corpus/` together with what Dovecot is known to do with them.
//! * [`verify`] canonicalises folder names across layouts and compares two
//!   snapshots; the `imapsync-testkit` binary exposes `serve`, `fill`, `snapshot` and
//!   `verify` to shell scripts.
//!
//! Dovecot 2.3 behaviour worth knowing when writing assertions (each one is pinned
//! by a test in `tests/`):
//! * an APPEND INTERNALDATE in the future is stored as "now" (past dates, even before
//!   1970, are kept);
//! * bare LF comes back as CRLF and NUL bytes come back as 0x80 in a non-BINARY FETCH
//!   (see `fixtures/corpus/SERVER-BEHAVIOUR.tsv`);
//! * removing a capability only removes the advertisement: Dovecot still accepts
//!   `{n+}` literals, answers APPENDUID and enables CONDSTORE;
//! * SPECIAL-USE is advertised only when some mailbox has a special-use flag (the
//!   Gmail and Exchange layouts), and `quota_max_mail_size` gives `NO [LIMIT]`
//!   without advertising APPENDLIMIT (use `advertise_appendlimit()`);
//! * instances answer failed logins after ~0.5 s (`auth_failure_delay = 0`) and have
//!   the per-IP auth penalty switched off, so tests with wrong passwords stay fast.
//!
//! Failure policy: nothing here skips. A missing Dovecot binary, a server that does
//! not greet, or a protocol error is an `Err` carrying the relevant log tail.

mod background;
pub mod corpus;
pub mod date;
pub mod dovecot;
pub mod fill;
pub mod fixtures;
pub mod imap;
pub mod mutf7;
pub mod oauth;
pub mod parse;
pub mod prng;
pub mod proxy;
pub mod shim;
pub mod spawn;
pub mod tls;
pub mod verify;

pub use corpus::{Corpus, CorpusSpec};
pub use dovecot::{
    Dovecot, DovecotBuilder, Layout, MASTER_PASSWORD, MASTER_SEPARATOR, MASTER_USER, USERS,
    WEIRD_PASSWORD,
};
pub use fill::{FillReport, fill, fill_at};
pub use fixtures::{Fixture, fixtures};
pub use imap::{ListEntry, Msg, Selected, Snapshot, Status, TestImap};
pub use oauth::{OAuthServer, OAuthStats};
pub use proxy::{ConnSet, Direction, FaultProxy, Faults, Kill, ProxyStats};
pub use shim::{Shim, ShimStats};

#[cfg(test)]
mod tests {
    fn send_sync<T: Send + Sync>() {}

    #[test]
    fn shareable_between_tests() {
        // e.g. one server in a `static OnceLock<Dovecot>` used by many tests
        send_sync::<crate::Dovecot>();
        send_sync::<crate::FaultProxy>();
        send_sync::<crate::Corpus>();
    }
}
