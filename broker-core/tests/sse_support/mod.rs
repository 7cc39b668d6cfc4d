//! Helpers shared by the SSE test files: a drain loop, chunked feeding, and a
//! reference model of the WHATWG algorithm written as literally as possible
//! (decode the whole stream first, then split lines, then interpret), to hold
//! the byte-level, incremental parser against.
#![allow(dead_code)]

use broker_core::sse::{Message, ParseError, Parser, ParserConfig, SseItem};

/// Everything the parser has to say, in order.
pub type Outputs = Vec<Result<SseItem, ParseError>>;

/// What one stream produced, and the id a reconnect would send.
#[derive(Debug, PartialEq, Eq)]
pub struct Run {
    pub outputs: Outputs,
    pub last_event_id: String,
}

/// Feeds `input` cut at `cuts` (positions, any order, duplicates give empty
/// chunks, out-of-range ones are clamped), then ends the stream.
pub fn run_chunked(config: ParserConfig, input: &[u8], cuts: &[usize]) -> Run {
    let mut cuts: Vec<usize> = cuts.iter().map(|&c| c.min(input.len())).collect();
    cuts.sort_unstable();
    let mut parser = Parser::new(config);
    let mut outputs = Vec::new();
    let mut from = 0;
    for cut in cuts.into_iter().chain(std::iter::once(input.len())) {
        parser.handle_bytes(&input[from..cut]);
        outputs.extend(std::iter::from_fn(|| parser.poll_output()));
        from = cut;
    }
    parser.handle_eof();
    outputs.extend(std::iter::from_fn(|| parser.poll_output()));
    Run {
        outputs,
        last_event_id: parser.last_event_id().to_owned(),
    }
}

/// The stream as one chunk.
pub fn run_whole(config: ParserConfig, input: &[u8]) -> Run {
    run_chunked(config, input, &[])
}

/// The WHATWG algorithm, step by step on a decoded string, without limits.
pub fn reference(input: &[u8]) -> Run {
    // "The stream must then be decoded using the UTF-8 decode algorithm":
    // invalid sequences become U+FFFD and one leading BOM is dropped.
    let decoded = String::from_utf8_lossy(input);
    let text = decoded.strip_prefix('\u{FEFF}').unwrap_or(&decoded);

    // Lines end at CRLF, LF or CR; a final line with no ending is never
    // processed (the end of the stream discards it).
    let mut lines = Vec::new();
    let mut current = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                lines.push(std::mem::take(&mut current));
            }
            '\n' => lines.push(std::mem::take(&mut current)),
            other => current.push(other),
        }
    }

    let mut outputs = Vec::new();
    let mut data = String::new();
    let mut event_type = String::new();
    let mut id_buffer = String::new();
    let mut last_event_id = String::new();
    for line in lines {
        if line.is_empty() {
            last_event_id = id_buffer.clone();
            if data.is_empty() {
                event_type.clear();
                continue;
            }
            if data.ends_with('\n') {
                data.pop();
            }
            let event = if event_type.is_empty() {
                "message".to_owned()
            } else {
                event_type.clone()
            };
            outputs.push(Ok(SseItem::Message(Message {
                event,
                data: std::mem::take(&mut data),
                last_event_id: last_event_id.clone(),
            })));
            event_type.clear();
            continue;
        }
        if line.starts_with(':') {
            continue;
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line.as_str(), ""),
        };
        match field {
            "event" => event_type = value.to_owned(),
            "data" => {
                data.push_str(value);
                data.push('\n');
            }
            "id" if !value.contains('\0') => id_buffer = value.to_owned(),
            "retry" if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) => {
                // Too large for 64 bits: ignored (documented choice).
                if let Ok(ms) = value.parse::<u64>() {
                    outputs.push(Ok(SseItem::Retry(ms)));
                }
            }
            _ => {}
        }
    }
    Run {
        outputs,
        last_event_id,
    }
}

/// Limits large enough that the small inputs of the tests never reach them.
pub fn unlimited() -> ParserConfig {
    ParserConfig {
        max_line: usize::MAX,
        max_event: usize::MAX,
    }
}
