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

/// The fuzz target's whole check, here so that `tests/sse_fixtures.rs`
/// replays a saved fuzz input exactly as the fuzzer ran it.
///
/// Input layout: byte 0 picks the limits, byte 1 the number of chunk sizes
/// that follow (up to 15), then those sizes (cycled; 0 is an empty chunk),
/// then the stream itself. Panics when the parser's output depends on the
/// chunking or, without limits, differs from [`reference`].
pub fn check_fuzz_input(input: &[u8]) {
    let Some((&limits, rest)) = input.split_first() else {
        return;
    };
    let Some((&count, rest)) = rest.split_first() else {
        return;
    };
    let count = usize::from(count % 16).min(rest.len());
    let (sizes, stream) = rest.split_at(count);
    let cuts = cycled_cuts(sizes, stream.len());

    // Mostly small limits, so the error paths are fuzzed too.
    let config = match limits % 4 {
        0 => unlimited(),
        1 => ParserConfig::default(),
        _ => ParserConfig {
            max_line: usize::from(limits >> 2),
            max_event: usize::from(limits >> 1),
        },
    };

    let whole = run_whole(config, stream);
    assert_eq!(
        run_chunked(config, stream, &cuts),
        whole,
        "chunking changed the output"
    );
    if stream.len() <= 2048 {
        let every: Vec<usize> = (0..stream.len()).collect();
        assert_eq!(
            run_chunked(config, stream, &every),
            whole,
            "byte-by-byte feeding changed the output"
        );
    }
    if limits % 4 == 0 {
        assert_eq!(
            whole,
            reference(stream),
            "disagrees with the spec algorithm"
        );
    }
}

/// Cut positions over `len` bytes from chunk sizes used in a cycle.
fn cycled_cuts(sizes: &[u8], len: usize) -> Vec<usize> {
    let mut cuts = Vec::new();
    if sizes.is_empty() {
        return cuts;
    }
    let mut at = 0;
    for &size in sizes.iter().cycle() {
        at += usize::from(size);
        // All-zero sizes would cycle forever: a few empty chunks are enough.
        if at >= len || cuts.len() > 4 * len + 16 {
            break;
        }
        cuts.push(at);
    }
    cuts
}
