//! The IMAP connection engine.
//!
//! * [`setup::connect`] opens a session one command at a time — TCP, implicit TLS or STARTTLS
//!   (rustls, certificates verified by default), capabilities, LOGIN or SASL (PLAIN, LOGIN,
//!   CRAM-MD5, XOAUTH2), COMPRESS=DEFLATE, ID — and hands it to the engine.
//! * [`engine`]: one reader and one writer task own each connection; callers hold a cheap
//!   [`Connection`] handle and pipeline commands through it (see the module docs for the send
//!   window rules).
//! * [`Secret`] keeps passwords out of every output.

pub mod deflate;
pub mod engine;
pub mod error;
pub mod oauth;
pub mod pushback;
pub mod secret;
pub mod setup;
pub mod tls;
pub mod transport;

pub use engine::{
    Body, BodyReceiver, BodySender, Connection, Done, Item, ItemStream, Pending, PushbackHook,
    Tracer, body_channel,
};
pub use error::{ConnError, SetupError, Side};
pub use secret::Secret;
pub use setup::{AuthMech, ConnectOptions, Inet, Security, SessionInfo, connect};
pub use tls::TlsOptions;
