//! One task's live output stream as a state machine: where it is in the log,
//! when to read, what each chunk says, and when it ends.

use core::time::Duration;
use std::collections::VecDeque;

use bytes::{Bytes, BytesMut};

use super::frame::{output_frame, output_ready_frame, truncated_frame, OUTPUT_FRAME_OVERHEAD};
use super::text::{encode_text, Stop};
use crate::id::TaskId;
use crate::session::{Action, SessionConfig, StreamSession, OUTPUT_FLUSH_INTERVAL};
use crate::sse::{EndReason, HeartbeatForm};
use crate::time::Timestamp;

/// The smallest frame an output stream writes: room for the overhead and a
/// few escaped characters, so every chunk makes progress.
pub const MIN_OUTPUT_FRAME: usize = OUTPUT_FRAME_OVERHEAD + 64;

/// Which bytes of a task's output its log holds, by absolute offset: every
/// byte the task ever wrote has one, counted from its first output.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Span {
    /// The first byte still kept (older output was dropped).
    pub start: u64,
    /// The offset the next byte will get.
    pub end: u64,
}

/// The settings of an output stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutputConfig {
    /// The `retry:` sent first.
    pub retry_ms: u64,
    /// Heartbeat, lifetime and coalescing: `flush_interval` spaces the
    /// chunks, `max_write` caps one output frame (at least
    /// [`MIN_OUTPUT_FRAME`]).
    pub session: SessionConfig,
}

impl Default for OutputConfig {
    /// `retry: 2000`, heartbeat 15 s (comment form), lifetime 1800 s, a
    /// chunk at most every [`OUTPUT_FLUSH_INTERVAL`] of at most 64 KiB.
    fn default() -> Self {
        OutputConfig {
            retry_ms: 2000,
            session: SessionConfig {
                flush_interval: OUTPUT_FLUSH_INTERVAL,
                ..SessionConfig::default()
            },
        }
    }
}

impl OutputConfig {
    /// The server's output stream: its heartbeat (in the asked-for form),
    /// lifetime and `retry:`, with the contract's coalescing.
    pub fn new(
        heartbeat: Duration,
        heartbeat_form: HeartbeatForm,
        max_lifetime: Duration,
        retry_ms: u64,
    ) -> Self {
        let mut config = OutputConfig {
            retry_ms,
            ..OutputConfig::default()
        };
        config.session.heartbeat = heartbeat;
        config.session.heartbeat_form = heartbeat_form;
        config.session.max_lifetime = max_lifetime;
        config
    }
}

/// Why a stream cannot open.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    /// The asked offset lies beyond anything the task has written.
    #[error("offset {from} is past the end of the task's output ({end})")]
    PastEnd {
        /// The asked offset.
        from: u64,
        /// The log's end.
        end: u64,
    },
}

/// What the driver does next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OutputAction {
    /// Read up to `max` bytes of the log from offset `from` — or from the
    /// log's start when `from` is older than what it keeps — and hand them
    /// to [`OutputStream::handle_read`]. One read at a time.
    Read {
        /// The offset of the first byte wanted.
        from: u64,
        /// The most bytes wanted.
        max: usize,
    },
    /// Write these bytes.
    Write(Bytes),
    /// Write this `end` frame, then close the stream.
    End {
        /// Why the stream ends.
        reason: EndReason,
        /// The `end` frame.
        frame: Bytes,
    },
}

/// The logic of one task's live output stream (see the module docs).
#[derive(Debug)]
pub struct OutputStream {
    session: StreamSession,
    /// The most bytes one output frame takes.
    max_frame: usize,
    /// The offset of the next byte to send; every chunk's `id:` is this
    /// after the chunk.
    next: u64,
    /// The newest span heard of.
    span: Span,
    /// The asked offset was older than the log: the first read says where
    /// the stream goes on (`truncated`).
    truncated: bool,
    /// A read ended inside a character, at this offset: nothing new to send
    /// until the log grows past it (or ends).
    stalled_to: Option<u64>,
    /// The log will never grow again and the task is final.
    complete: bool,
    /// A read is in flight.
    reading: bool,
    actions: VecDeque<OutputAction>,
}

fn is_continuation(b: u8) -> bool {
    b & 0xc0 == 0x80
}

impl OutputStream {
    /// Opens a stream of `task_id`'s output from offset `from` (the client's
    /// `Last-Event-ID` or `?from=`; `None` is from the first byte the task
    /// wrote) on a log holding `span`. The first action writes `retry` and
    /// `ready`; output follows at once. `seed` draws the lifetime's jitter.
    pub fn open(
        config: OutputConfig,
        task_id: &TaskId,
        from: Option<u64>,
        span: Span,
        seed: u64,
        now: Timestamp,
    ) -> Result<Self, OpenError> {
        let span = Span {
            start: span.start.min(span.end),
            end: span.end,
        };
        let next = from.unwrap_or(0);
        if next > span.end {
            return Err(OpenError::PastEnd {
                from: next,
                end: span.end,
            });
        }
        let mut session_config = config.session;
        session_config.max_write = session_config.max_write.max(MIN_OUTPUT_FRAME);
        let session = StreamSession::new(session_config, seed, now);
        let mut ready = BytesMut::new();
        output_ready_frame(
            &mut ready,
            config.retry_ms,
            task_id,
            span.start,
            span.end,
            session_config.heartbeat_ms(),
        );
        let mut stream = OutputStream {
            session,
            max_frame: session_config.max_write,
            next,
            span,
            truncated: next < span.start,
            stalled_to: None,
            complete: false,
            reading: false,
            actions: VecDeque::from([OutputAction::Write(ready.freeze())]),
        };
        stream.after(now);
        Ok(stream)
    }

    /// The offset of the next byte this stream sends (the `id:` of its last
    /// chunk, or where it started).
    pub fn offset(&self) -> u64 {
        self.next
    }

    /// Whether the stream ended (its `end` action was given out or queued).
    pub fn is_ended(&self) -> bool {
        self.session.is_ended()
    }

    /// Why the stream ended, once it did.
    pub fn end_reason(&self) -> Option<EndReason> {
        self.session.end_reason()
    }

    /// Whether the driver should tell it of new output now. While it has
    /// output still to send (or a read in flight) it learns the log's span
    /// from its own reads, so a task printing as fast as it can wakes the
    /// stream once per chunk, not once per write to the log.
    pub fn wants_span(&self) -> bool {
        !self.is_ended() && !self.complete && !self.reading && !self.has_unsent()
    }

    /// The log holds `span` now (it grew, or dropped old bytes).
    pub fn handle_span(&mut self, span: Span, now: Timestamp) {
        self.span.start = self.span.start.max(span.start);
        self.span.end = self.span.end.max(span.end);
        self.after(now);
    }

    /// The log will never grow again — it holds `span` for good — and the
    /// task is final: once everything is sent (a character cut off at the
    /// very end as U+FFFD), the stream ends with `finished`. The final span
    /// comes with it, so a stream that learnt the log's growth only from its
    /// reads cannot end before the last bytes.
    pub fn handle_complete(&mut self, span: Span, now: Timestamp) {
        self.complete = true;
        self.span.start = self.span.start.max(span.start);
        self.span.end = self.span.end.max(span.end);
        self.after(now);
    }

    /// The answer to [`OutputAction::Read`]: `bytes` start at offset `from`
    /// (later than asked when the log dropped the asked bytes meanwhile),
    /// and the log held `span` when they were read.
    pub fn handle_read(&mut self, from: u64, bytes: &[u8], span: Span, now: Timestamp) {
        if !self.reading || self.is_ended() {
            return;
        }
        self.reading = false;
        if from < self.next || span.end < self.next {
            // The log no longer reaches this stream's position: it was
            // removed with its (finished) task. Nothing more will come.
            self.complete = true;
            self.stalled_to = None;
            self.span.end = self.next;
            self.session.handle_finished(now);
            self.pump(now);
            return;
        }
        // A read sees the log as it is on disk, which is never behind what
        // was announced.
        self.span = Span {
            start: self.span.start.max(span.start),
            end: span.end,
        };
        let mut out = BytesMut::new();
        let mut at = from;
        let mut bytes = bytes;
        if from > self.next || self.truncated {
            // The bytes before `from` are gone. Continuation bytes at the
            // cut belong to a character whose first byte went with them.
            let skip = bytes
                .iter()
                .take(3)
                .take_while(|b| is_continuation(**b))
                .count();
            at = from + skip as u64;
            bytes = &bytes[skip..];
            truncated_frame(&mut out, at);
            self.next = at;
            self.truncated = false;
            self.stalled_to = None;
        }
        let budget = self.max_frame - OUTPUT_FRAME_OVERHEAD;
        let read_to = at + bytes.len() as u64;
        let at_end = self.complete && read_to >= self.span.end;
        let mut text = Vec::with_capacity(bytes.len().min(budget));
        let encoded = encode_text(&mut text, bytes, at_end, budget);
        if encoded.consumed > 0 {
            self.next = at + encoded.consumed as u64;
            output_frame(&mut out, self.next, &text);
        }
        self.stalled_to = (encoded.stop == Stop::Incomplete).then_some(read_to);
        if out.is_empty() {
            self.session.handle_flush_empty(now);
        } else {
            self.session.handle_flush_written(now);
            self.actions.push_back(OutputAction::Write(out.freeze()));
        }
        self.after(now);
    }

    /// The deadline from [`OutputStream::poll_timeout`] passed.
    pub fn handle_timeout(&mut self, now: Timestamp) {
        self.after(now);
    }

    /// The server is shutting down: `end` with `shutdown` now.
    pub fn handle_shutdown(&mut self, now: Timestamp) {
        self.session.handle_shutdown(now);
        self.pump(now);
    }

    /// When to call [`OutputStream::handle_timeout`] next (`None` once
    /// ended).
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        self.session.poll_timeout()
    }

    /// The next thing to do, until `None`.
    pub fn poll_action(&mut self) -> Option<OutputAction> {
        self.actions.pop_front()
    }

    /// Whether bytes of the log (or a `truncated` notice) wait to be sent.
    fn has_unsent(&self) -> bool {
        if self.truncated {
            return true;
        }
        if self.next >= self.span.end {
            return false;
        }
        match self.stalled_to {
            Some(to) => self.complete || self.span.end > to,
            None => true,
        }
    }

    /// Tells the session where things stand, then carries out what it says.
    fn after(&mut self, now: Timestamp) {
        if !self.is_ended() {
            if self.reading {
                self.session.handle_timeout(now);
            } else if self.has_unsent() {
                self.session.handle_data_ready(now);
            } else if self.complete {
                self.session.handle_finished(now);
            } else {
                self.session.handle_timeout(now);
            }
        }
        self.pump(now);
    }

    fn pump(&mut self, now: Timestamp) {
        while let Some(action) = self.session.poll_action() {
            match action {
                Action::Flush => {
                    if !self.reading && self.has_unsent() {
                        self.reading = true;
                        self.actions.push_back(OutputAction::Read {
                            from: self.next,
                            max: self.max_frame - OUTPUT_FRAME_OVERHEAD,
                        });
                    } else {
                        self.session.handle_flush_empty(now);
                    }
                }
                Action::Heartbeat(frame) => self.actions.push_back(OutputAction::Write(frame)),
                Action::End { reason, frame } => {
                    self.reading = false;
                    self.actions
                        .retain(|a| !matches!(a, OutputAction::Read { .. }));
                    self.actions.push_back(OutputAction::End { reason, frame });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn ms(n: u64) -> Timestamp {
        Timestamp::from_millis(n)
    }

    fn id() -> TaskId {
        TaskId::new("t1").expect("a task id")
    }

    fn open(from: Option<u64>, span: Span) -> OutputStream {
        OutputStream::open(OutputConfig::default(), &id(), from, span, 1, ms(0)).expect("opens")
    }

    fn span(start: u64, end: u64) -> Span {
        Span { start, end }
    }

    fn actions(s: &mut OutputStream) -> Vec<OutputAction> {
        std::iter::from_fn(|| s.poll_action()).collect()
    }

    fn written(actions: &[OutputAction]) -> String {
        actions
            .iter()
            .map(|a| match a {
                OutputAction::Write(b) => String::from_utf8_lossy(b).into_owned(),
                OutputAction::End { frame, .. } => String::from_utf8_lossy(frame).into_owned(),
                OutputAction::Read { from, max } => format!("<read {from} {max}>"),
            })
            .collect()
    }

    const BUDGET: usize = crate::session::DEFAULT_MAX_WRITE - OUTPUT_FRAME_OVERHEAD;

    #[test]
    fn ready_first_then_a_read_at_once_then_the_chunk_with_its_end_offset() {
        let mut s = open(None, span(0, 5));
        let got = actions(&mut s);
        assert_eq!(
            written(&got),
            format!(
                "retry: 2000\nevent: ready\ndata: {{\"task_id\":\"t1\",\"start\":0,\"end\":5,\"heartbeat_ms\":15000}}\n\n<read 0 {BUDGET}>"
            )
        );
        s.handle_read(0, b"hello", span(0, 5), ms(1));
        assert_eq!(
            written(&actions(&mut s)),
            "id: 5\nevent: output\ndata: {\"text\":\"hello\"}\n\n"
        );
        assert_eq!(s.offset(), 5);
        assert!(s.wants_span());
    }

    #[test]
    fn an_offset_past_the_end_is_refused() {
        assert_eq!(
            OutputStream::open(
                OutputConfig::default(),
                &id(),
                Some(6),
                span(0, 5),
                1,
                ms(0)
            )
            .map(|_| ()),
            Err(OpenError::PastEnd { from: 6, end: 5 })
        );
        // The end itself is fine: nothing to send yet.
        let mut s = open(Some(5), span(0, 5));
        assert_eq!(actions(&mut s).len(), 1, "only ready");
    }

    #[test]
    fn chunks_are_spaced_by_the_flush_interval() {
        let mut s = open(Some(0), span(0, 0));
        actions(&mut s);
        s.handle_span(span(0, 3), ms(10));
        assert_eq!(written(&actions(&mut s)), format!("<read 0 {BUDGET}>"));
        s.handle_read(0, b"abc", span(0, 6), ms(11));
        assert!(written(&actions(&mut s)).contains("id: 3\n"));
        assert!(!s.wants_span(), "it knows of more: no need to hear of it");
        assert_eq!(
            s.poll_timeout(),
            Some(ms(61)),
            "the next chunk 50 ms after this one was written"
        );
        s.handle_timeout(ms(61));
        assert_eq!(written(&actions(&mut s)), format!("<read 3 {BUDGET}>"));
    }

    #[test]
    fn a_cut_character_waits_for_the_log_to_grow() {
        let mut s = open(Some(0), span(0, 3));
        actions(&mut s);
        s.handle_read(0, b"a\xe2\x82", span(0, 3), ms(1));
        assert!(written(&actions(&mut s)).contains("id: 1\n"));
        assert!(s.wants_span(), "nothing more to send until the log grows");
        assert_eq!(
            s.poll_timeout(),
            Some(ms(15_001)),
            "only the heartbeat, 15 s after the last write"
        );
        s.handle_span(span(0, 4), ms(100));
        assert_eq!(written(&actions(&mut s)), format!("<read 1 {BUDGET}>"));
        s.handle_read(1, b"\xe2\x82\xac", span(0, 4), ms(101));
        assert_eq!(
            written(&actions(&mut s)),
            "id: 4\nevent: output\ndata: {\"text\":\"€\"}\n\n"
        );
    }

    #[test]
    fn a_read_that_writes_nothing_does_not_postpone_the_heartbeat() {
        let mut s = open(Some(0), span(0, 0));
        actions(&mut s);
        s.handle_span(span(0, 1), ms(10_000));
        actions(&mut s);
        s.handle_read(0, b"\xe2", span(0, 1), ms(10_001));
        assert_eq!(actions(&mut s), vec![]);
        assert_eq!(s.poll_timeout(), Some(ms(15_000)), "from the ready frame");
    }

    #[test]
    fn an_offset_older_than_the_log_is_truncated_to_the_next_whole_character() {
        // The log starts inside "€" (e2 82 ac): its two last bytes are kept.
        let mut s = open(Some(0), span(10, 13));
        let first = actions(&mut s);
        assert!(written(&first).contains("\"start\":10,\"end\":13"));
        s.handle_read(10, b"\x82\xacZ", span(10, 13), ms(1));
        assert_eq!(
            written(&actions(&mut s)),
            "event: truncated\ndata: {\"from\":12}\n\nid: 13\nevent: output\ndata: {\"text\":\"Z\"}\n\n"
        );
        // Truncated again later: the log dropped bytes the stream had not read.
        s.handle_span(span(20, 30), ms(100));
        actions(&mut s);
        s.handle_read(20, b"0123456789", span(20, 30), ms(101));
        assert_eq!(
            written(&actions(&mut s)),
            "event: truncated\ndata: {\"from\":20}\n\nid: 30\nevent: output\ndata: {\"text\":\"0123456789\"}\n\n"
        );
    }

    #[test]
    fn an_empty_log_dropped_past_the_asked_offset_is_still_truncated() {
        let mut s = open(None, span(50, 50));
        actions(&mut s);
        s.handle_read(50, b"", span(50, 50), ms(1));
        assert_eq!(
            written(&actions(&mut s)),
            "event: truncated\ndata: {\"from\":50}\n\n"
        );
        assert!(s.wants_span());
    }

    #[test]
    fn a_complete_log_ends_finished_after_its_last_byte_even_a_cut_character() {
        let mut s = open(Some(0), span(0, 2));
        actions(&mut s);
        s.handle_read(0, b"a\xe2", span(0, 2), ms(1));
        actions(&mut s);
        s.handle_complete(span(0, 2), ms(5));
        assert_eq!(
            written(&actions(&mut s)),
            "",
            "the next chunk waits its turn"
        );
        s.handle_timeout(ms(51));
        assert_eq!(written(&actions(&mut s)), format!("<read 1 {BUDGET}>"));
        s.handle_read(1, b"\xe2", span(0, 2), ms(52));
        assert_eq!(
            written(&actions(&mut s)),
            "id: 2\nevent: output\ndata: {\"text\":\"\u{FFFD}\"}\n\nevent: end\ndata: {\"reason\":\"finished\"}\n\n"
        );
        assert_eq!(s.end_reason(), Some(EndReason::Finished));
        assert_eq!(s.poll_timeout(), None);
    }

    #[test]
    fn a_complete_log_already_sent_ends_at_once() {
        let mut s = open(Some(3), span(0, 3));
        actions(&mut s);
        s.handle_complete(span(0, 3), ms(1));
        assert_eq!(
            written(&actions(&mut s)),
            "event: end\ndata: {\"reason\":\"finished\"}\n\n"
        );
    }

    #[test]
    fn a_removed_log_ends_the_stream() {
        let mut s = open(Some(0), span(0, 4));
        actions(&mut s);
        s.handle_read(0, b"ab", span(0, 4), ms(1));
        actions(&mut s);
        s.handle_timeout(ms(60));
        actions(&mut s);
        // The file is gone: an empty log.
        s.handle_read(0, b"", span(0, 0), ms(61));
        assert_eq!(
            written(&actions(&mut s)),
            "event: end\ndata: {\"reason\":\"finished\"}\n\n"
        );
    }

    #[test]
    fn shutdown_and_lifetime_end_the_stream_and_drop_a_pending_read() {
        let mut s = open(Some(0), span(0, 9));
        actions(&mut s);
        s.handle_shutdown(ms(2));
        assert_eq!(
            written(&actions(&mut s)),
            "event: end\ndata: {\"reason\":\"shutdown\"}\n\n"
        );
        s.handle_read(0, b"late", span(0, 9), ms(3));
        assert_eq!(actions(&mut s), vec![], "a read after the end is ignored");
        let mut s = open(Some(0), span(0, 0));
        actions(&mut s);
        let mut last = None;
        while let Some(at) = s.poll_timeout() {
            s.handle_timeout(at);
            last = actions(&mut s).pop();
        }
        assert!(matches!(
            last,
            Some(OutputAction::End {
                reason: EndReason::MaxLifetime,
                ..
            })
        ));
    }

    #[test]
    fn escape_heavy_output_is_cut_below_the_frame_cap() {
        let bytes = vec![0x1bu8; 20_000]; // 120,000 bytes escaped
        let mut s = open(Some(0), span(0, bytes.len() as u64));
        actions(&mut s);
        s.handle_read(0, &bytes, span(0, bytes.len() as u64), ms(1));
        let got = actions(&mut s);
        let OutputAction::Write(frame) = &got[0] else {
            panic!("a write, got {got:?}");
        };
        assert!(frame.len() <= crate::session::DEFAULT_MAX_WRITE);
        assert!(
            frame.len() > crate::session::DEFAULT_MAX_WRITE - 64,
            "nearly full"
        );
        assert_eq!(s.offset(), ((BUDGET) / 6) as u64);
    }
}
