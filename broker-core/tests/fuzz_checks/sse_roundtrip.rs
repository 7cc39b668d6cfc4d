//! Encode → parse: any id, event type and data the encoder accepts comes
//! back from the parser (line endings in data as LF), however the encoded
//! bytes are cut; and the encoder refuses exactly what it must.
//!
//! Input: byte 0 is a chunk size (0: one chunk), then the text (lossy
//! UTF-8) split at the first two `\u{1}` into id, event type and data.

use broker_core::sse::{encode_event, EncodeError, Message, SseItem};
use bytes::BytesMut;

use crate::sse_support;

/// The check: see the module docs.
pub fn check(input: &[u8]) {
    let Some((&chunk, rest)) = input.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let mut parts = text.splitn(3, '\u{1}');
    let id = parts.next().unwrap_or_default();
    let event = parts.next().unwrap_or_default();
    let data = parts.next().unwrap_or_default();

    let mut wire = BytesMut::new();
    let result = encode_event(&mut wire, Some(id), Some(event), data);
    if id.contains(['\r', '\n', '\0']) {
        assert_eq!(result, Err(EncodeError::BadId));
        return;
    }
    if event.contains(['\r', '\n']) {
        assert_eq!(result, Err(EncodeError::BadEventType));
        return;
    }
    assert_eq!(result, Ok(()));

    let cuts: Vec<usize> = match chunk {
        0 => Vec::new(),
        size => (usize::from(size)..wire.len())
            .step_by(usize::from(size))
            .collect(),
    };
    let run = sse_support::run_chunked(sse_support::unlimited(), &wire, &cuts);
    let expected = Message {
        event: if event.is_empty() {
            "message".to_owned()
        } else {
            event.to_owned()
        },
        data: data.replace("\r\n", "\n").replace('\r', "\n"),
        last_event_id: id.to_owned(),
    };
    assert_eq!(run.outputs, [Ok(SseItem::Message(expected))]);
    assert_eq!(run.last_event_id, id);
}
