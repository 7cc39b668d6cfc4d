//! The SSE wire format: an encoder and an incremental, spec-conformant parser.
//!
//! SKELETON — signatures are the contract; bodies are being filled in.

use bytes::{Bytes, BytesMut};

use crate::broker::Ready;

/// Why something cannot be written as SSE.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// An `id` holding CR, LF or NUL would break the frame or be ignored.
    #[error("an SSE id must not contain CR, LF or NUL")]
    BadId,
    /// An event type holding CR or LF would break the frame.
    #[error("an SSE event type must not contain CR or LF")]
    BadEventType,
    /// A comment holding CR or LF would break the frame.
    #[error("an SSE comment must not contain CR or LF")]
    BadComment,
}

/// Appends one event: optional `id:` and `event:` lines, then `data:` lines
/// (one per line of `data`, split at CR, LF and CRLF), then the blank line.
pub fn encode_event(
    out: &mut BytesMut,
    id: Option<&str>,
    event: Option<&str>,
    data: &str,
) -> Result<(), EncodeError> {
    let _ = (out, id, event, data);
    todo!()
}

/// Appends a comment line (`: text`).
pub fn encode_comment(out: &mut BytesMut, text: &str) -> Result<(), EncodeError> {
    let _ = (out, text);
    todo!()
}

/// Appends a `retry: ms` line.
pub fn encode_retry(out: &mut BytesMut, ms: u64) {
    let _ = (out, ms);
    todo!()
}

/// Why a stream ends on the server's initiative.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndReason {
    /// The stream reached its (jittered) maximum lifetime.
    MaxLifetime,
    /// The server is shutting down.
    Shutdown,
}

/// The opening of a stream: `retry: ms` then `event: ready` (no `id:`).
pub fn ready_frame(retry_ms: u64, ready: &Ready) -> Bytes {
    let _ = (retry_ms, ready);
    todo!()
}

/// `event: lagged` with `{"dropped": N}` (no `id:`).
pub fn lagged_frame(dropped: u64) -> Bytes {
    let _ = dropped;
    todo!()
}

/// `event: end` with `{"reason": ...}` (no `id:`).
pub fn end_frame(reason: EndReason) -> Bytes {
    let _ = reason;
    todo!()
}

/// The heartbeat comment `: keep-alive`.
pub fn keep_alive_frame() -> Bytes {
    Bytes::from_static(b": keep-alive\n\n")
}

/// Limits that keep a hostile stream from growing the parser without bound.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParserConfig {
    /// The longest line, in bytes, before [`ParseError::LineTooLong`].
    pub max_line: usize,
    /// The largest event (data buffer), before [`ParseError::EventTooLarge`].
    pub max_event: usize,
}

impl Default for ParserConfig {
    fn default() -> Self {
        ParserConfig {
            max_line: 1 << 20,
            max_event: 4 << 20,
        }
    }
}

/// A stream that broke the parser's limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// A line longer than [`ParserConfig::max_line`].
    #[error("SSE line longer than the configured maximum")]
    LineTooLong,
    /// An event larger than [`ParserConfig::max_event`].
    #[error("SSE event larger than the configured maximum")]
    EventTooLarge,
}

/// A dispatched message, as an `EventSource` would fire it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Message {
    /// The event type (`message` when the block had no `event:` field).
    pub event: String,
    /// The data, lines joined with `\n`.
    pub data: String,
    /// The last event id at dispatch time.
    pub last_event_id: String,
}

/// One output of the parser.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SseItem {
    /// A dispatched message.
    Message(Message),
    /// A valid `retry:` field was read: reconnect after this many ms.
    Retry(u64),
}

/// Incremental parser following the WHATWG HTML "server-sent events" rules.
#[derive(Debug)]
pub struct Parser {
    _todo: (),
}

impl Parser {
    /// A parser with the given limits.
    pub fn new(config: ParserConfig) -> Self {
        let _ = config;
        todo!()
    }

    /// Feeds the next chunk of bytes, split anywhere.
    pub fn handle_bytes(&mut self, chunk: &[u8]) {
        let _ = chunk;
        todo!()
    }

    /// The stream ended: an incomplete final block is discarded.
    pub fn handle_eof(&mut self) {
        todo!()
    }

    /// The next output, until `None`. After an error the parser stays failed.
    pub fn poll_output(&mut self) -> Option<Result<SseItem, ParseError>> {
        todo!()
    }

    /// The last event id committed so far.
    pub fn last_event_id(&self) -> &str {
        todo!()
    }
}
