//! The frames the server writes, read back the way a client reads them.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

mod sse_support;

use broker_core::sse::{
    encode_comment, encode_event, encode_retry, end_frame, keep_alive_frame, lagged_frame,
    ready_frame, EndReason, Message, ParserConfig, SseItem,
};
use broker_core::{Epoch, EventId, Ready};
use bytes::BytesMut;
use sse_support::{run_chunked, run_whole, Run};

fn message(event: &str, data: &str, id: &str) -> SseItem {
    SseItem::Message(Message {
        event: event.to_owned(),
        data: data.to_owned(),
        last_event_id: id.to_owned(),
    })
}

/// A whole connection as the server writes it: ready, resumed events, a
/// keep-alive, a lag notice, a live event, and the end of its lifetime.
fn connection() -> Vec<u8> {
    let epoch = Epoch::new(0xbeef);
    let mut wire = BytesMut::new();
    wire.extend_from_slice(&ready_frame(
        2000,
        15_000,
        &Ready {
            epoch,
            resumed: true,
            head: EventId::new(epoch, 12),
        },
    ));
    encode_event(
        &mut wire,
        Some("beef-11"),
        Some("task.created"),
        r#"{"id":"t1","name":"build"}"#,
    )
    .expect("a valid event encodes");
    encode_event(
        &mut wire,
        Some("beef-12"),
        Some("task.status"),
        r#"{"task_id":"t1","status":"running","previous":null,"version":12}"#,
    )
    .expect("a valid event encodes");
    wire.extend_from_slice(&keep_alive_frame());
    wire.extend_from_slice(&lagged_frame(3));
    encode_event(
        &mut wire,
        Some("beef-16"),
        Some("task.status"),
        r#"{"task_id":"t1","status":"completed","previous":"running","version":16,"exit_code":0}"#,
    )
    .expect("a valid event encodes");
    wire.extend_from_slice(&end_frame(EndReason::MaxLifetime));
    wire.to_vec()
}

fn expected_connection() -> Run {
    Run {
        outputs: vec![
            Ok(SseItem::Retry(2000)),
            Ok(message(
                "ready",
                r#"{"epoch":"beef","resumed":true,"head":"beef-12","heartbeat_ms":15000}"#,
                "",
            )),
            Ok(message(
                "task.created",
                r#"{"id":"t1","name":"build"}"#,
                "beef-11",
            )),
            Ok(message(
                "task.status",
                r#"{"task_id":"t1","status":"running","previous":null,"version":12}"#,
                "beef-12",
            )),
            // The lag notice carries no id: the last id still names the last
            // real event, so a reconnect resumes from there.
            Ok(message("lagged", r#"{"dropped":3}"#, "beef-12")),
            Ok(message(
                "task.status",
                r#"{"task_id":"t1","status":"completed","previous":"running","version":16,"exit_code":0}"#,
                "beef-16",
            )),
            Ok(message("end", r#"{"reason":"max-lifetime"}"#, "beef-16")),
        ],
        last_event_id: "beef-16".to_owned(),
    }
}

#[test]
fn a_whole_connection_reads_back_as_sent() {
    assert_eq!(
        run_whole(ParserConfig::default(), &connection()),
        expected_connection()
    );
}

#[test]
fn a_whole_connection_reads_back_the_same_under_every_chunk_size() {
    let wire = connection();
    for size in 1..=wire.len() {
        let cuts: Vec<usize> = (size..wire.len()).step_by(size).collect();
        assert_eq!(
            run_chunked(ParserConfig::default(), &wire, &cuts),
            expected_connection(),
            "chunks of {size} bytes"
        );
    }
}

#[test]
fn the_shutdown_end_frame_names_its_reason() {
    let run = run_whole(ParserConfig::default(), &end_frame(EndReason::Shutdown));
    assert_eq!(
        run.outputs,
        [Ok(message("end", r#"{"reason":"shutdown"}"#, ""))]
    );
}

#[test]
fn keep_alive_and_comments_deliver_nothing() {
    let mut wire = BytesMut::new();
    wire.extend_from_slice(&keep_alive_frame());
    encode_comment(&mut wire, "padding").expect("a plain comment encodes");
    wire.extend_from_slice(b"\n");
    assert_eq!(
        run_whole(ParserConfig::default(), &wire),
        Run {
            outputs: vec![],
            last_event_id: String::new()
        }
    );
}

#[test]
fn a_comment_between_fields_does_not_split_the_event() {
    let mut wire = BytesMut::new();
    wire.extend_from_slice(b"event: t\n");
    encode_comment(&mut wire, "in the middle").expect("a plain comment encodes");
    wire.extend_from_slice(b"data: x\n\n");
    assert_eq!(
        run_whole(ParserConfig::default(), &wire).outputs,
        [Ok(message("t", "x", ""))]
    );
}

#[test]
fn retry_lines_apply_at_once() {
    let mut wire = BytesMut::new();
    encode_retry(&mut wire, 750);
    assert_eq!(
        run_whole(ParserConfig::default(), &wire).outputs,
        [Ok(SseItem::Retry(750))]
    );
}

#[test]
fn multi_line_data_comes_back_with_lf_line_endings() {
    let mut wire = BytesMut::new();
    encode_event(&mut wire, Some("x-1"), None, "one\r\ntwo\rthree\n\nfive\n")
        .expect("a valid event encodes");
    assert_eq!(
        run_whole(ParserConfig::default(), &wire).outputs,
        [Ok(message("message", "one\ntwo\nthree\n\nfive\n", "x-1"))]
    );
}

#[test]
fn an_empty_id_clears_the_last_event_id() {
    let mut wire = BytesMut::new();
    encode_event(&mut wire, Some("x-1"), None, "a").expect("a valid event encodes");
    encode_event(&mut wire, Some(""), None, "b").expect("an empty id encodes");
    let run = run_whole(ParserConfig::default(), &wire);
    assert_eq!(
        run.outputs,
        [
            Ok(message("message", "a", "x-1")),
            Ok(message("message", "b", ""))
        ]
    );
    assert_eq!(run.last_event_id, "");
}

/// A stream with every hard case in a few bytes: BOM, CR, CRLF split
/// candidates, multi-byte and invalid UTF-8, NUL in an id, comments, a field
/// without a colon, retry, and an unterminated final block.
const TRICKY: &[u8] = b"\xEF\xBB\xBFid: 1\r\ndata: \xC3\xA9\xE2\x82\r\r:c\nid: a\0b\nevent: \xF0\x9F\x98\x80\rdata\r\nretry: 42\n\ndata: z\r";

#[test]
fn every_split_of_a_tricky_stream_into_three_chunks_agrees() {
    let whole = run_whole(ParserConfig::default(), TRICKY);
    assert_eq!(
        whole,
        Run {
            outputs: vec![
                Ok(message("message", "\u{e9}\u{FFFD}", "1")),
                Ok(SseItem::Retry(42)),
                Ok(message("\u{1F600}", "", "1")),
            ],
            last_event_id: "1".to_owned(),
        }
    );
    for first in 0..=TRICKY.len() {
        for second in first..=TRICKY.len() {
            assert_eq!(
                run_chunked(ParserConfig::default(), TRICKY, &[first, second]),
                whole,
                "cut at {first} and {second}"
            );
        }
    }
}

#[test]
fn limits_trip_at_the_same_place_under_every_chunking() {
    let config = ParserConfig {
        max_line: 12,
        max_event: 16,
    };
    let wire = b"data: 123456\ndata: 1234\n\ndata: 123456\ndata: 123456\ndata: 12\n\n";
    let whole = run_whole(config, wire);
    assert_eq!(
        whole.outputs,
        [
            Ok(message("message", "123456\n1234", "")),
            Err(broker_core::ParseError::EventTooLarge)
        ]
    );
    for first in 0..=wire.len() {
        for second in first..=wire.len() {
            assert_eq!(run_chunked(config, wire, &[first, second]), whole);
        }
    }
}

#[test]
fn a_published_events_frame_reads_back_as_its_id_type_and_data() {
    let epoch = Epoch::new(0xabc);
    let data = broker_core::event_data(Some(serde_json::json!({
        "task_id": "t-1",
        "status": "error",
        "error": "line one\nline two\r\n\u{e9}\u{1F600} \"quoted\"",
    })))
    .expect("an object is event data");
    let event = broker_core::Event::new(
        EventId::new(epoch, 99),
        broker_core::EventType::new("task.status").expect("a valid type"),
        None,
        &data,
    );
    let frame = event.frame();
    let expected = Run {
        outputs: vec![Ok(message(
            "task.status",
            std::str::from_utf8(event.data_json()).expect("JSON is UTF-8"),
            "abc-99",
        ))],
        last_event_id: "abc-99".to_owned(),
    };
    for size in 1..=frame.len() {
        let cuts: Vec<usize> = (size..frame.len()).step_by(size).collect();
        assert_eq!(
            run_chunked(ParserConfig::default(), frame, &cuts),
            expected,
            "chunks of {size} bytes"
        );
    }
    let Ok(SseItem::Message(read)) = &expected.outputs[0] else {
        unreachable!("built above as a message");
    };
    let parsed: serde_json::Value = serde_json::from_str(&read.data).expect("the data is JSON");
    assert_eq!(parsed, serde_json::Value::Object(data));
}
