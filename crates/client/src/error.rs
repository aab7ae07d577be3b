//! Errors of the connection engine and of session set-up.

use std::time::Duration;

/// Which account a connection belongs to (imapsync's host1/host2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    Host1,
    Host2,
}

impl Side {
    pub fn number(self) -> u8 {
        match self {
            Side::Host1 => 1,
            Side::Host2 => 2,
        }
    }
}

impl std::fmt::Display for Side {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Side::Host1 => f.write_str("Host1"),
            Side::Host2 => f.write_str("Host2"),
        }
    }
}

/// A connection stopped working; every command in flight on it failed with this.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConnError {
    #[error("connection closed by the server{}", bye.as_ref().map(|b| format!(": {b}")).unwrap_or_default())]
    Closed { bye: Option<String> },
    #[error("no answer from the server for {0:?} (--timeout)")]
    Timeout(Duration),
    #[error("I/O error: {0}")]
    Io(String),
    #[error("protocol error: {0}")]
    Protocol(String),
    #[error("the message source failed while its body was being sent: {0}")]
    BodySource(String),
    #[error("connection shut down")]
    Shutdown,
}

impl ConnError {
    /// Errors after which a reconnect may help (all of them, in practice, but protocol errors
    /// are reported differently).
    pub fn is_transient(&self) -> bool {
        !matches!(self, ConnError::Protocol(_))
    }
}

/// Failure to establish a logged-in session.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("can not resolve {host}: {reason}")]
    Resolve { host: String, reason: String },
    #[error("can not connect to {addr}: {reason}")]
    Connect { addr: String, reason: String },
    #[error("TLS failure: {0}")]
    Tls(String),
    #[error("{0}")]
    NoEncryption(String),
    #[error("bad greeting: {0}")]
    Greeting(String),
    #[error("{0}")]
    Auth(String),
    #[error("connection lost during set-up: {0}")]
    Conn(#[from] ConnError),
}
