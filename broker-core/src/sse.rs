//! The SSE wire format: an encoder and an incremental, spec-conformant parser.
//!
//! The server writes every frame through the encoder, so a frame that a
//! browser would misread (an id with a line break, say) is refused here
//! instead of corrupting a stream that thousands of clients share. The parser
//! is the same algorithm a browser's `EventSource` runs (WHATWG HTML,
//! "server-sent events", interpreting an event stream), so the native CLI and
//! the tests see exactly what a browser would see, whatever the chunking of
//! the bytes on the wire.
//!
//! ```
//! use broker_core::sse::{encode_event, Parser, ParserConfig, SseItem};
//! use bytes::BytesMut;
//!
//! let mut wire = BytesMut::new();
//! encode_event(&mut wire, Some("1f-7"), Some("task.status"), "{\"ok\":true}")?;
//!
//! let mut parser = Parser::new(ParserConfig::default());
//! // Bytes may be split anywhere, even inside a line ending or a character.
//! for chunk in wire.chunks(5) {
//!     parser.handle_bytes(chunk);
//! }
//! match parser.poll_output() {
//!     Some(Ok(SseItem::Message(m))) => {
//!         assert_eq!((m.event.as_str(), m.data.as_str()), ("task.status", "{\"ok\":true}"));
//!         assert_eq!(m.last_event_id, "1f-7");
//!     }
//!     other => panic!("expected a message, got {other:?}"),
//! }
//! assert_eq!(parser.poll_output(), None);
//! # Ok::<(), broker_core::sse::EncodeError>(())
//! ```

mod encode;
mod parse;

pub use encode::{
    encode_comment, encode_event, encode_retry, end_frame, heartbeat_frame, keep_alive_frame,
    lagged_frame, ready_frame, EncodeError, EndReason, HeartbeatForm,
};
pub use parse::{Message, ParseError, Parser, ParserConfig, SseItem};
