//! Property tests: encode → parse gives back the input under any chunking;
//! the parser's output never depends on chunk boundaries; and it agrees with
//! a literal reading of the WHATWG algorithm on arbitrary bytes.
#![cfg(not(target_arch = "wasm32"))]
// `prop_oneof!` expands to `Arc`s; the no-sharing rule is for the core, not
// for proptest's strategy plumbing in a native-only test.
#![allow(clippy::disallowed_types)]

mod sse_support;

use broker_core::sse::{
    encode_comment, encode_event, encode_retry, keep_alive_frame, EncodeError, Message,
    ParserConfig, SseItem,
};
use bytes::BytesMut;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::Index;
use sse_support::{reference, run_chunked, run_whole, unlimited};

/// Pieces that make the parser's decisions interesting; random sequences of
/// them reach far more corner cases than uniform random bytes.
fn token() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(b"data".to_vec()),
        Just(b"id".to_vec()),
        Just(b"event".to_vec()),
        Just(b"retry".to_vec()),
        Just(b":".to_vec()),
        Just(b" ".to_vec()),
        Just(b"\r".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\xEF\xBB\xBF".to_vec()),
        Just(b"\xEF".to_vec()),
        Just(b"\xBB".to_vec()),
        Just(b"\x00".to_vec()),
        Just(b"\x80".to_vec()),
        Just(b"\xFF".to_vec()),
        Just(b"\xC3".to_vec()),
        Just(b"\xE2\x82".to_vec()),
        Just("\u{e9}\u{1F600}".as_bytes().to_vec()),
        Just(b"data: x\n\n".to_vec()),
        Just(b"id: 7\n".to_vec()),
        Just(b"retry: 30\n".to_vec()),
        "[0-9]{1,3}".prop_map(String::into_bytes),
        "[a-z]{1,4}".prop_map(String::into_bytes),
    ]
}

fn sse_like_bytes() -> impl Strategy<Value = Vec<u8>> {
    vec(token(), 0..60).prop_map(|tokens| tokens.concat())
}

fn any_stream() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![sse_like_bytes(), vec(any::<u8>(), 0..200)]
}

/// Cut positions as fractions of whatever length the input has, so short and
/// long inputs alike get cuts everywhere (duplicates become empty chunks).
fn cuts() -> impl Strategy<Value = Vec<Index>> {
    vec(any::<Index>(), 0..24)
}

fn positions(cuts: &[Index], len: usize) -> Vec<usize> {
    cuts.iter().map(|cut| cut.index(len + 1)).collect()
}

/// One frame the server might write.
#[derive(Clone, Debug)]
enum Frame {
    Event {
        id: Option<String>,
        event: Option<String>,
        data: String,
    },
    Comment(String),
    Retry(u64),
    KeepAlive,
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[ -~]{0,12}",
        "[a-z \r\n:\u{0}\u{e9}\u{FEFF}\u{1F600}]{0,16}",
        any::<String>(),
    ]
}

fn frame() -> impl Strategy<Value = Frame> {
    let no_line_break = |s: String| s.replace(['\r', '\n'], "");
    prop_oneof![
        4 => (
            proptest::option::of(text().prop_map(|s| s.replace(['\r', '\n', '\0'], ""))),
            proptest::option::of(text().prop_map(no_line_break)),
            text(),
        )
            .prop_map(|(id, event, data)| Frame::Event { id, event, data }),
        1 => text().prop_map(no_line_break).prop_map(Frame::Comment),
        1 => any::<u64>().prop_map(Frame::Retry),
        1 => Just(Frame::KeepAlive),
    ]
}

/// What an `EventSource` hands the application for `frames`.
fn expected(frames: &[Frame]) -> (Vec<SseItem>, String) {
    let mut items = Vec::new();
    let mut last_id = String::new();
    for frame in frames {
        match frame {
            Frame::Event { id, event, data } => {
                if let Some(id) = id {
                    last_id = id.clone();
                }
                items.push(SseItem::Message(Message {
                    event: match event.as_deref() {
                        None | Some("") => "message".to_owned(),
                        Some(event) => event.to_owned(),
                    },
                    data: data.replace("\r\n", "\n").replace('\r', "\n"),
                    last_event_id: last_id.clone(),
                }));
            }
            Frame::Retry(ms) => items.push(SseItem::Retry(*ms)),
            Frame::Comment(_) | Frame::KeepAlive => {}
        }
    }
    (items, last_id)
}

fn encode(frames: &[Frame]) -> BytesMut {
    let mut wire = BytesMut::new();
    for frame in frames {
        match frame {
            Frame::Event { id, event, data } => {
                encode_event(&mut wire, id.as_deref(), event.as_deref(), data)
                    .expect("the strategy only makes encodable events");
            }
            Frame::Comment(text) => {
                encode_comment(&mut wire, text).expect("comments without line breaks encode")
            }
            Frame::Retry(ms) => encode_retry(&mut wire, *ms),
            Frame::KeepAlive => wire.extend_from_slice(&keep_alive_frame()),
        }
    }
    wire
}

proptest! {
    #[test]
    fn encode_then_parse_under_random_chunking_gives_back_the_input(
        frames in vec(frame(), 0..12),
        cuts in cuts(),
    ) {
        let wire = encode(&frames);
        let run = run_chunked(ParserConfig::default(), &wire, &positions(&cuts, wire.len()));
        let outputs: Result<Vec<SseItem>, _> = run.outputs.into_iter().collect();
        let (items, last_id) = expected(&frames);
        prop_assert_eq!(outputs, Ok(items));
        prop_assert_eq!(run.last_event_id, last_id);
    }

    #[test]
    fn encoder_refuses_exactly_what_cannot_be_encoded(
        id in proptest::option::of(text()),
        event in proptest::option::of(text()),
        comment in text(),
    ) {
        let bad_id = id.as_deref().is_some_and(|id| id.contains(['\r', '\n', '\0']));
        let bad_event = event.as_deref().is_some_and(|e| e.contains(['\r', '\n']));
        let mut out = BytesMut::new();
        let result = encode_event(&mut out, id.as_deref(), event.as_deref(), "x");
        let want = if bad_id {
            Err(EncodeError::BadId)
        } else if bad_event {
            Err(EncodeError::BadEventType)
        } else {
            Ok(())
        };
        prop_assert_eq!(result, want);
        prop_assert_eq!(out.is_empty(), result.is_err());
        let mut out = BytesMut::new();
        let result = encode_comment(&mut out, &comment);
        prop_assert_eq!(result.is_err(), comment.contains(['\r', '\n']));
    }

    #[test]
    fn output_does_not_depend_on_chunk_boundaries(
        input in any_stream(),
        cuts in cuts(),
    ) {
        let whole = run_whole(unlimited(), &input);
        prop_assert_eq!(run_chunked(unlimited(), &input, &positions(&cuts, input.len())), whole);
    }

    #[test]
    fn output_under_tight_limits_does_not_depend_on_chunk_boundaries(
        input in any_stream(),
        cuts in cuts(),
        max_line in 0usize..24,
        max_event in 0usize..48,
    ) {
        let config = ParserConfig { max_line, max_event };
        let whole = run_whole(config, &input);
        prop_assert!(whole.outputs.iter().filter(|o| o.is_err()).count() <= 1);
        prop_assert_eq!(run_chunked(config, &input, &positions(&cuts, input.len())), whole);
    }

    #[test]
    fn parser_agrees_with_the_literal_spec_algorithm(
        input in any_stream(),
        cuts in cuts(),
    ) {
        prop_assert_eq!(
            run_chunked(unlimited(), &input, &positions(&cuts, input.len())),
            reference(&input)
        );
    }

}

proptest! {
    // The slowest property (one call per byte); the random cuts above cover
    // the same ground more cheaply, so fewer cases suffice here.
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn byte_by_byte_feeding_agrees_with_one_chunk(input in sse_like_bytes()) {
        let every: Vec<usize> = (0..input.len()).collect();
        prop_assert_eq!(
            run_chunked(unlimited(), &input, &every),
            run_whole(unlimited(), &input)
        );
    }
}
