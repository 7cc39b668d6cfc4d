//! A task's live output stream, without IO: offsets, coalescing, UTF-8
//! boundaries, `truncated`, resume, and the frames
//! (`GET /api/tasks/{id}/output/stream`, design.md "Live output").
//!
//! A task's log is raw terminal bytes addressed by absolute offset (the
//! first byte the task ever wrote is 0; the log keeps only its newest bytes,
//! from `start` to `end`). The stream sends them as text chunks:
//!
//! - **Offsets.** Each chunk is `id: <offset just past it>` / `event:
//!   output` / `data: {"text": ...}`. A client resumes with that id as
//!   `Last-Event-ID` (or `?from=`), and the stream goes on from exactly that
//!   byte: the texts of a stream and its resumptions concatenate to the log.
//! - **UTF-8.** A character split across reads is never cut: a chunk stops
//!   before a character the log has not finished writing, and its id says
//!   so, so a resumption re-reads that character whole. Bytes that are not
//!   UTF-8 at all become U+FFFD exactly as decoding the whole log would
//!   replace them ([`encode_text`]); ids stay byte offsets.
//! - **Coalescing.** One chunk at most every `flush_interval` (the
//!   contract's ~50 ms, [`OUTPUT_FLUSH_INTERVAL`](crate::session::OUTPUT_FLUSH_INTERVAL)),
//!   each frame at most `max_write` bytes (64 KiB) *after* JSON escaping.
//!   The stream reads the log at its own pace — one read per chunk — so a
//!   task printing as fast as it can costs each stream 20 reads and 20
//!   frames a second, and a client that stops reading stops the reads.
//! - **Truncated.** When the offset wanted is older than the log still
//!   keeps (asked so, or dropped while the stream lagged), `event:
//!   truncated` with `{"from": N}` says where the text goes on.
//! - **Timing.** Heartbeats (comment or event form), the jittered lifetime
//!   and `end {reason}` are the shared [`StreamSession`](crate::session::StreamSession)'s;
//!   `finished` once the log is complete (the task is final and its
//!   terminal closed) and all of it was sent.
//!
//! # Drive loop
//!
//! Open with the log's span; drain [`OutputStream::poll_action`], carrying
//! out each [`OutputAction`] (a `Read` is answered with
//! [`OutputStream::handle_read`]); tell it of a grown log while
//! [`OutputStream::wants_span`] and of a complete one; arm one timer for
//! [`OutputStream::poll_timeout`].
//!
//! ```
//! use broker_core::output::{OutputAction, OutputConfig, OutputStream, Span};
//! use broker_core::{TaskId, Timestamp};
//!
//! let log = "héllo\n".as_bytes(); // what the task wrote
//! let task = TaskId::new("t1")?;
//! let at = Timestamp::from_millis;
//! let mut span = Span { start: 0, end: 2 }; // only "h" and half of "é" so far
//! let mut stream = OutputStream::open(OutputConfig::default(), &task, None, span, 7, at(0))?;
//! let mut wire = Vec::new();
//! let mut now = 0;
//! loop {
//!     while let Some(action) = stream.poll_action() {
//!         match action {
//!             OutputAction::Write(bytes) => wire.extend_from_slice(&bytes),
//!             OutputAction::End { frame, .. } => wire.extend_from_slice(&frame),
//!             OutputAction::Read { from, max } => {
//!                 let to = (from as usize + max).min(span.end as usize);
//!                 stream.handle_read(from, &log[from as usize..to], span, at(now));
//!             }
//!         }
//!     }
//!     if stream.is_ended() {
//!         break;
//!     }
//!     if span.end < log.len() as u64 && stream.wants_span() {
//!         span = Span { start: 0, end: log.len() as u64 }; // the rest arrives
//!         stream.handle_span(span, at(now));
//!     } else if span.end == log.len() as u64 && stream.wants_span() {
//!         stream.handle_complete(span, at(now)); // the task finished
//!     } else {
//!         now = stream.poll_timeout().map_or(now, |t| t.as_millis());
//!         stream.handle_timeout(at(now));
//!     }
//! }
//! let wire = String::from_utf8(wire)?;
//! assert!(wire.contains("id: 1\nevent: output\ndata: {\"text\":\"h\"}\n\n"));
//! assert!(wire.contains("id: 7\nevent: output\ndata: {\"text\":\"éllo\\n\"}\n\n"));
//! assert!(wire.ends_with("event: end\ndata: {\"reason\":\"finished\"}\n\n"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#[cfg(feature = "serde")]
mod frame;
mod offset;
mod pace;
#[cfg(feature = "serde")]
mod stream;
#[cfg(feature = "serde")]
mod text;

#[cfg(feature = "serde")]
pub use frame::{output_frame, output_ready_frame, truncated_frame, OUTPUT_FRAME_OVERHEAD};
pub use offset::{parse_offset, OffsetError};
pub use pace::{OutputPace, DEFAULT_OUTPUT_BURST, DEFAULT_OUTPUT_RATE};
#[cfg(feature = "serde")]
pub use stream::{OpenError, OutputAction, OutputConfig, OutputStream, Span, MIN_OUTPUT_FRAME};
#[cfg(feature = "serde")]
pub use text::{encode_text, Encoded, Stop};
