//! Reading SSE: the WHATWG "interpreting an event stream" algorithm, fed in
//! chunks.
//!
//! The spec decodes the whole stream as UTF-8 first and then splits it into
//! lines. This parser works on bytes instead and decodes each value only when
//! it is used, which gives the same result: CR, LF and `:` are ASCII bytes
//! that never occur inside a multi-byte UTF-8 sequence, so every maximal
//! invalid subsequence (one U+FFFD each) ends before them and a line, a field
//! name or a value can be decoded on its own exactly as it would be inside
//! the whole stream. That lets the hot path scan with `memchr` and copy
//! slices, instead of decoding and pushing byte by byte.

use std::collections::VecDeque;

/// Limits that keep a hostile stream from growing the parser without bound.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParserConfig {
    /// The longest line, in bytes, before [`ParseError::LineTooLong`].
    pub max_line: usize,
    /// The largest event (data buffer), before [`ParseError::EventTooLarge`].
    ///
    /// Measured in received bytes of the data buffer as the spec builds it:
    /// every `data` value plus one LF each.
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

/// Where the parser stands with respect to the optional byte order mark,
/// which the spec's UTF-8 decode strips once, at the very start of a stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Start {
    /// This many bytes (0 to 2) of `EF BB BF` have been seen and held back.
    Bom(usize),
    /// Past the start: every byte is content.
    Body,
}

const BOM: [u8; 3] = [0xEF, 0xBB, 0xBF];

/// Incremental parser following the WHATWG HTML "server-sent events" rules.
///
/// Feed it bytes as they arrive with [`Parser::handle_bytes`], split anywhere
/// (inside a line ending, inside a UTF-8 character, inside the BOM), and drain
/// [`Parser::poll_output`] until `None`. The outputs never depend on where the
/// chunks were split. An event whose block ends in a lone CR is dispatched at
/// once, without waiting to see whether an LF follows. Memory is bounded by
/// [`ParserConfig`] plus the outputs not yet polled; no input makes it panic.
#[derive(Debug)]
pub struct Parser {
    config: ParserConfig,
    start: Start,
    /// The previous chunk ended in a CR: an LF opening the next one belongs
    /// to that line ending.
    skip_lf: bool,
    /// The start of a line whose end has not arrived yet.
    line: Vec<u8>,
    /// The spec's data buffer: every `data` value followed by LF.
    data: Vec<u8>,
    /// The spec's event type buffer.
    event_type: Vec<u8>,
    /// The spec's last event ID buffer, set by `id` fields of the open block.
    id_buffer: Vec<u8>,
    /// Whether `id_buffer` was set since the last commit.
    id_changed: bool,
    /// The last event ID string: committed only when a block completes.
    last_event_id: String,
    output: VecDeque<Result<SseItem, ParseError>>,
    failed: bool,
}

impl Default for Parser {
    fn default() -> Self {
        Parser::new(ParserConfig::default())
    }
}

impl Parser {
    /// A parser with the given limits.
    pub fn new(config: ParserConfig) -> Self {
        Parser {
            config,
            start: Start::Bom(0),
            skip_lf: false,
            line: Vec::new(),
            data: Vec::new(),
            event_type: Vec::new(),
            id_buffer: Vec::new(),
            id_changed: false,
            last_event_id: String::new(),
            output: VecDeque::new(),
            failed: false,
        }
    }

    /// A parser for a reconnection: messages carry `last_event_id` until the
    /// stream sets another, as an `EventSource` keeps its `lastEventId`
    /// across reconnects.
    pub fn with_last_event_id(config: ParserConfig, last_event_id: &str) -> Self {
        let mut parser = Parser::new(config);
        parser.last_event_id = last_event_id.to_owned();
        parser.id_buffer = last_event_id.as_bytes().to_vec();
        parser
    }

    /// Feeds the next chunk of bytes, split anywhere.
    ///
    /// Ignored once the parser has failed.
    pub fn handle_bytes(&mut self, chunk: &[u8]) {
        if self.failed {
            return;
        }
        let mut bytes = chunk;
        if let Start::Bom(mut matched) = self.start {
            while matched < BOM.len() {
                match bytes.first() {
                    None => {
                        self.start = Start::Bom(matched);
                        return;
                    }
                    Some(&byte) if byte == BOM[matched] => {
                        matched += 1;
                        bytes = &bytes[1..];
                    }
                    Some(_) => break,
                }
            }
            self.start = Start::Body;
            if matched < BOM.len() {
                // Not a BOM after all: the bytes held back are content.
                self.feed(&BOM[..matched]);
            }
        }
        self.feed(bytes);
    }

    /// The stream ended: an incomplete final block is discarded.
    ///
    /// The committed last event id stays and the parser is ready for the
    /// next stream of a reconnection (which may open with a BOM again). The
    /// spec starts each stream with an empty last event ID buffer, which
    /// would blank the id at the first block of the new stream that has no
    /// `id:`; Chromium instead seeds each new stream's parser with the id it
    /// holds, and so does this parser, so that a reconnect keeps resuming
    /// from the last real event.
    pub fn handle_eof(&mut self) {
        self.start = Start::Bom(0);
        self.skip_lf = false;
        self.line.clear();
        self.data.clear();
        self.event_type.clear();
        self.id_buffer.clear();
        self.id_buffer
            .extend_from_slice(self.last_event_id.as_bytes());
        self.id_changed = false;
    }

    /// The next output, until `None`. After an error the parser stays failed.
    ///
    /// The outputs before the error come first, then the error once, then
    /// `None` for good: a drain loop ends, and the driver closes the stream.
    pub fn poll_output(&mut self) -> Option<Result<SseItem, ParseError>> {
        self.output.pop_front()
    }

    /// The last event id committed so far.
    ///
    /// This is what a reconnect sends as `Last-Event-ID`: an `id:` line only
    /// counts once the blank line completing its block has arrived.
    pub fn last_event_id(&self) -> &str {
        &self.last_event_id
    }

    /// Whether a limit was broken; from then on input is ignored.
    pub fn is_failed(&self) -> bool {
        self.failed
    }

    /// Splits content bytes (past any BOM) into lines and processes them.
    fn feed(&mut self, mut bytes: &[u8]) {
        if self.failed || bytes.is_empty() {
            return;
        }
        if self.skip_lf {
            self.skip_lf = false;
            if bytes[0] == b'\n' {
                bytes = &bytes[1..];
            }
        }
        while !bytes.is_empty() {
            let Some(end) = memchr::memchr2(b'\r', b'\n', bytes) else {
                if self.line.len() + bytes.len() > self.config.max_line {
                    self.fail(ParseError::LineTooLong);
                } else {
                    self.line.extend_from_slice(bytes);
                }
                return;
            };
            let processed = if self.line.len() + end > self.config.max_line {
                Err(ParseError::LineTooLong)
            } else if self.line.is_empty() {
                self.process_line(&bytes[..end])
            } else {
                let mut line = std::mem::take(&mut self.line);
                line.extend_from_slice(&bytes[..end]);
                let processed = self.process_line(&line);
                line.clear();
                self.line = line;
                processed
            };
            if let Err(error) = processed {
                self.fail(error);
                return;
            }
            let ended_by_cr = bytes[end] == b'\r';
            bytes = &bytes[end + 1..];
            if ended_by_cr {
                match bytes.first() {
                    Some(b'\n') => bytes = &bytes[1..],
                    Some(_) => {}
                    None => self.skip_lf = true,
                }
            }
        }
    }

    /// One complete line, without its line ending.
    fn process_line(&mut self, line: &[u8]) -> Result<(), ParseError> {
        if line.is_empty() {
            self.dispatch();
            return Ok(());
        }
        if line[0] == b':' {
            return Ok(());
        }
        let (name, value) = match memchr::memchr(b':', line) {
            Some(colon) => {
                let value = &line[colon + 1..];
                (&line[..colon], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line, &[][..]),
        };
        match name {
            b"data" => {
                if self.data.len() + value.len() + 1 > self.config.max_event {
                    return Err(ParseError::EventTooLarge);
                }
                // The buffer becomes the message's data at dispatch: size it
                // for the common one-line event, so that is one allocation.
                // (Only when empty: later lines grow it geometrically.)
                if self.data.is_empty() {
                    self.data.reserve_exact(value.len() + 1);
                }
                self.data.extend_from_slice(value);
                self.data.push(b'\n');
            }
            b"event" => {
                self.event_type.clear();
                self.event_type.extend_from_slice(value);
            }
            // An id holding NUL is ignored: browsers could not send it back.
            b"id" if memchr::memchr(0, value).is_none() => {
                self.id_buffer.clear();
                self.id_buffer.extend_from_slice(value);
                self.id_changed = true;
            }
            b"retry" => {
                if let Some(ms) = parse_retry(value) {
                    self.output.push_back(Ok(SseItem::Retry(ms)));
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// The blank line: the spec's "dispatch the event".
    fn dispatch(&mut self) {
        if self.id_changed {
            self.id_changed = false;
            self.last_event_id = decode(&self.id_buffer);
        }
        if self.data.is_empty() {
            self.event_type.clear();
            return;
        }
        // The buffer moves into the message rather than being copied.
        let mut data = std::mem::take(&mut self.data);
        // Every data value was appended with an LF: drop the last one.
        data.pop();
        let data = String::from_utf8(data)
            .unwrap_or_else(|invalid| String::from_utf8_lossy(invalid.as_bytes()).into_owned());
        let event = if self.event_type.is_empty() {
            String::from("message")
        } else {
            decode(&self.event_type)
        };
        self.event_type.clear();
        self.output.push_back(Ok(SseItem::Message(Message {
            event,
            data,
            last_event_id: self.last_event_id.clone(),
        })));
    }

    fn fail(&mut self, error: ParseError) {
        self.failed = true;
        self.output.push_back(Err(error));
        // Nothing buffered can be used any more: give the memory back.
        self.line = Vec::new();
        self.data = Vec::new();
        self.event_type = Vec::new();
    }
}

/// The spec's UTF-8 decode of one line or value: invalid sequences become
/// U+FFFD (see the module docs for why decoding piecewise is exact).
fn decode(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) => text.to_owned(),
        Err(_) => String::from_utf8_lossy(bytes).into_owned(),
    }
}

/// A `retry` value: only ASCII digits, base ten.
///
/// An empty value holds no number and is ignored, as browsers do; so is a
/// number too large for 64 bits (as Chromium does), rather than wrapping.
fn parse_retry(value: &[u8]) -> Option<u64> {
    if value.is_empty() {
        return None;
    }
    value.iter().try_fold(0u64, |ms, &byte| {
        if byte.is_ascii_digit() {
            ms.checked_mul(10)?.checked_add(u64::from(byte - b'0'))
        } else {
            None
        }
    })
}

#[cfg(test)]
mod tests;
