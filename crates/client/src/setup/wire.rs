//! The sequential connection used during set-up: one command at a time, each answer read
//! whole before the next command goes. The [states](super::states) own one and move it along.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use imapsync_proto::caps::Capabilities;
use imapsync_proto::command::{Command, Part, cmd};
use imapsync_proto::framer::{Event, Framer};
use imapsync_proto::response::{self, Code, Response, Status, StatusKind, Untagged};

use super::auth::Sasl;
use crate::deflate::{Deflater, Inflater};
use crate::engine::Tracer;
use crate::error::{ConnError, SetupError, Side};
use crate::tls::TlsOptions;
use crate::transport::Transport;

/// The untagged answers and the tagged status of one command.
pub(super) type Answer = (Vec<Untagged>, Status);

pub(super) struct Wire {
    side: Side,
    stream: Transport,
    framer: Framer,
    timeout: Option<Duration>,
    tracer: Option<Tracer>,
    /// The capabilities last announced (they decide literals and SASL-IR).
    pub(super) caps: Capabilities,
    tag: u64,
    /// Text of a `* BYE` the server sent, told when it then closes.
    bye: Option<String>,
}

impl Wire {
    pub(super) fn new(
        side: Side,
        stream: Transport,
        timeout: Option<Duration>,
        tracer: Option<Tracer>,
    ) -> Self {
        Wire {
            side,
            stream,
            framer: Framer::default(),
            timeout,
            tracer,
            caps: Capabilities::default(),
            tag: 0,
            bye: None,
        }
    }

    pub(super) fn is_tls(&self) -> bool {
        self.stream.is_tls()
    }

    fn trace(&self, line: &str) {
        if let Some(t) = &self.tracer {
            t(self.side, line);
        }
    }

    async fn with_timeout<T>(
        timeout: Option<Duration>,
        fut: impl std::future::Future<Output = std::io::Result<T>>,
    ) -> Result<T, ConnError> {
        match timeout {
            Some(t) => tokio::time::timeout(t, fut)
                .await
                .map_err(|_| ConnError::Timeout(t))?
                .map_err(|e| ConnError::Io(e.to_string())),
            None => fut.await.map_err(|e| ConnError::Io(e.to_string())),
        }
    }

    /// Reads one complete response.
    pub(super) async fn read_response(&mut self) -> Result<Response, ConnError> {
        loop {
            match self
                .framer
                .next_event()
                .map_err(|e| ConnError::Protocol(e.to_string()))?
            {
                Some(Event::Response(frame)) => {
                    self.trace(&format!(
                        "S: {}",
                        String::from_utf8_lossy(&frame.bytes).trim_end()
                    ));
                    let r =
                        response::parse(&frame).map_err(|e| ConnError::Protocol(e.to_string()))?;
                    if let Response::Untagged(Untagged::Status(st)) = &r
                        && st.kind == StatusKind::Bye
                    {
                        self.bye = Some(st.full_text());
                    }
                    return Ok(r);
                }
                Some(_) => {
                    return Err(ConnError::Protocol(
                        "unexpected large literal during set-up".into(),
                    ));
                }
                None => {}
            }
            let buf = self.framer.buffer();
            buf.reserve(16 * 1024);
            let n = Self::with_timeout(self.timeout, self.stream.read_buf(buf)).await?;
            if n == 0 {
                return Err(ConnError::Closed {
                    bye: self.bye.clone(),
                });
            }
        }
    }

    async fn write(&mut self, data: &[u8]) -> Result<(), ConnError> {
        let stream = &mut self.stream;
        Self::with_timeout(self.timeout, async {
            stream.write_all(data).await?;
            stream.flush().await
        })
        .await
    }

    fn next_tag(&mut self, c: &Command) -> String {
        self.tag += 1;
        let tag = format!("S{}", self.tag);
        self.trace(&format!("C: {tag} {}", c.trace()));
        tag
    }

    /// Sends a command, answering `+` continuations for literals, and collects the answer.
    pub(super) async fn command(&mut self, c: &Command) -> Result<Answer, ConnError> {
        let tag = self.next_tag(c);
        let mut buf = format!("{tag} ").into_bytes();
        let mut untagged = Vec::new();
        for part in &c.parts {
            match part {
                Part::Text(t) => buf.extend_from_slice(t),
                Part::Literal(data) => {
                    let len = data.len() as u64;
                    if self.caps.literal_nonsync(len) {
                        buf.extend_from_slice(format!("{{{len}+}}\r\n").as_bytes());
                    } else {
                        buf.extend_from_slice(format!("{{{len}}}\r\n").as_bytes());
                        self.write(&buf).await?;
                        buf.clear();
                        loop {
                            match self.read_response().await? {
                                Response::Continuation { .. } => break,
                                Response::Untagged(u) => untagged.push(u),
                                Response::Tagged { status, .. } => return Ok((untagged, status)),
                            }
                        }
                    }
                    buf.extend_from_slice(data);
                }
                Part::External { .. } => {
                    return Err(ConnError::Protocol("external literal during set-up".into()));
                }
            }
        }
        buf.extend_from_slice(b"\r\n");
        self.write(&buf).await?;
        self.finish(&tag, untagged).await
    }

    async fn finish(
        &mut self,
        tag: &str,
        mut untagged: Vec<Untagged>,
    ) -> Result<Answer, ConnError> {
        loop {
            match self.read_response().await? {
                Response::Tagged { tag: t, status } if t == tag => return Ok((untagged, status)),
                Response::Tagged { tag: t, .. } => {
                    return Err(ConnError::Protocol(format!("answer for unknown tag {t}")));
                }
                Response::Untagged(u) => untagged.push(u),
                Response::Continuation { .. } => {
                    return Err(ConnError::Protocol(
                        "unexpected continuation request".into(),
                    ));
                }
            }
        }
    }

    /// A SASL exchange: `AUTHENTICATE name [initial response]` (the initial response goes on
    /// the command line with SASL-IR, else as the answer to the first challenge), then `mech`
    /// answers each challenge; no answer aborts the exchange with `*`.
    pub(super) async fn sasl(&mut self, mech: &mut (dyn Sasl + Send)) -> Result<Answer, ConnError> {
        let (ir, mut pending) = match mech.initial() {
            Some(i) if self.caps.has("SASL-IR") => (Some(i), None),
            other => (None, other),
        };
        let c = cmd::authenticate(mech.name(), ir.as_deref());
        self.challenges(&c, |text| match pending.take() {
            Some(p) => Some(p),
            None => {
                let challenge = B64.decode(text.trim()).unwrap_or_default();
                mech.respond(&challenge)
            }
        })
        .await
    }

    /// Sends `c`, then answers each continuation request with what `respond` makes of its
    /// text (`None`: `*`, abort), until the tagged answer. The answers are not traced.
    pub(super) async fn challenges(
        &mut self,
        c: &Command,
        mut respond: impl FnMut(&str) -> Option<String>,
    ) -> Result<Answer, ConnError> {
        let tag = self.next_tag(c);
        let mut line = format!("{tag} ").into_bytes();
        for p in &c.parts {
            if let Part::Text(t) = p {
                line.extend_from_slice(t);
            }
        }
        line.extend_from_slice(b"\r\n");
        self.write(&line).await?;
        let mut untagged = Vec::new();
        loop {
            match self.read_response().await? {
                Response::Continuation { text } => {
                    let answer = respond(&text).unwrap_or_else(|| "*".to_string());
                    self.trace("C: <SASL response MASKED>");
                    let mut l = answer.into_bytes();
                    l.extend_from_slice(b"\r\n");
                    self.write(&l).await?;
                }
                Response::Untagged(u) => untagged.push(u),
                Response::Tagged { tag: t, status } if t == tag => return Ok((untagged, status)),
                Response::Tagged { tag: t, .. } => {
                    return Err(ConnError::Protocol(format!("answer for unknown tag {t}")));
                }
            }
        }
    }

    /// Asks CAPABILITY; `None` when the answer lists none.
    pub(super) async fn capability(&mut self) -> Result<Option<Capabilities>, ConnError> {
        let answer = self.command(&cmd::capability()).await?;
        Ok(caps_from(&answer))
    }

    /// STARTTLS has been accepted: the TLS handshake on the same TCP stream. Every byte the
    /// server sent before the handshake is discarded (RFC 3501 §6.2.1; command injection).
    /// Returns the lines `--debugssl` asks for.
    pub(super) async fn upgrade(
        self,
        host: &str,
        opts: &TlsOptions,
    ) -> Result<(Wire, Vec<String>), SetupError> {
        let Transport::Plain(tcp) = self.stream else {
            return Err(SetupError::Tls("STARTTLS on a non-plain stream".into()));
        };
        let (stream, notes) =
            super::net::tls_wrap(tcp, host, opts, self.timeout, self.side).await?;
        Ok((
            Wire {
                stream,
                framer: Framer::default(),
                ..self
            },
            notes,
        ))
    }

    /// COMPRESS=DEFLATE was accepted: what was already read past the answer is inflated, and
    /// the compressor pair goes to the engine.
    pub(super) fn start_compression(&mut self) -> Result<(Deflater, Inflater), ConnError> {
        let mut inflater = Inflater::default();
        let pending = self.framer.buffer().split();
        let mut plain = BytesMut::new();
        inflater
            .decompress(&pending, &mut plain)
            .map_err(|e| ConnError::Protocol(format!("decompression: {e}")))?;
        self.framer.buffer().extend_from_slice(&plain);
        Ok((Deflater::default(), inflater))
    }

    /// The stream and the bytes already read past the last answer, for the engine.
    pub(super) fn into_parts(mut self) -> (Transport, BytesMut, Capabilities) {
        let leftover = self.framer.buffer().split();
        (self.stream, leftover, self.caps)
    }
}

/// Capabilities announced in a status code or an untagged CAPABILITY response.
pub(super) fn caps_from((untagged, status): &Answer) -> Option<Capabilities> {
    if let Some(Code::Capability(c)) = &status.code {
        return Some(Capabilities::new(c.clone()));
    }
    untagged.iter().find_map(|u| match u {
        Untagged::Capability(c) => Some(Capabilities::new(c.clone())),
        _ => None,
    })
}
