//! The frames of a task's live output stream (design.md, "Live output").
//!
//! Like the event stream's frames, only real data carries an `id:` — here
//! the byte offset just past the chunk, so `Last-Event-ID` names exactly
//! where a resumption starts. `ready`, `truncated`, heartbeats and `end`
//! describe the connection and carry none.

use bytes::BytesMut;

use crate::id::TaskId;
use crate::sse::encode_retry;

/// The bytes an output frame adds around its escaped text, at most: `id: `,
/// up to 20 digits and a line break, `event: output`, `data: {"text":"`,
/// `"}` and the blank line.
pub const OUTPUT_FRAME_OVERHEAD: usize =
    "id: \n".len() + 20 + "event: output\n".len() + "data: {\"text\":\"".len() + "\"}\n\n".len();

/// `retry: ms` then `event: ready` with `{"task_id", "start", "end",
/// "heartbeat_ms"}`: the log's first and next byte offsets when the stream
/// opened, and how often an idle stream beats.
pub fn output_ready_frame(
    out: &mut BytesMut,
    retry_ms: u64,
    task_id: &TaskId,
    start: u64,
    end: u64,
    heartbeat_ms: u64,
) {
    encode_retry(out, retry_ms);
    // A task id is ASCII letters, digits, `-` and `_`: nothing to escape.
    out.extend_from_slice(b"event: ready\ndata: {\"task_id\":\"");
    out.extend_from_slice(task_id.as_str().as_bytes());
    out.extend_from_slice(b"\",\"start\":");
    out.extend_from_slice(start.to_string().as_bytes());
    out.extend_from_slice(b",\"end\":");
    out.extend_from_slice(end.to_string().as_bytes());
    out.extend_from_slice(b",\"heartbeat_ms\":");
    out.extend_from_slice(heartbeat_ms.to_string().as_bytes());
    out.extend_from_slice(b"}\n\n");
}

/// `id: <offset>` / `event: output` / `data: {"text": ...}`, where `offset`
/// is the byte offset just past the chunk and `escaped` its text already
/// JSON-escaped (see [`encode_text`](super::encode_text)).
pub fn output_frame(out: &mut BytesMut, offset: u64, escaped: &[u8]) {
    out.reserve(OUTPUT_FRAME_OVERHEAD + escaped.len());
    out.extend_from_slice(b"id: ");
    out.extend_from_slice(offset.to_string().as_bytes());
    out.extend_from_slice(b"\nevent: output\ndata: {\"text\":\"");
    out.extend_from_slice(escaped);
    out.extend_from_slice(b"\"}\n\n");
}

/// `event: truncated` with `{"from": N}`: the output before offset `N` is
/// no longer kept (the log holds only its newest `--task-log-max` bytes);
/// the stream goes on from `N`.
pub fn truncated_frame(out: &mut BytesMut, from: u64) {
    out.extend_from_slice(b"event: truncated\ndata: {\"from\":");
    out.extend_from_slice(from.to_string().as_bytes());
    out.extend_from_slice(b"}\n\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn text(out: &BytesMut) -> &str {
        core::str::from_utf8(out).expect("frames are UTF-8")
    }

    #[test]
    fn the_frames_as_the_contract_spells_them() {
        let id = TaskId::new("t-1").expect("a task id");
        let mut out = BytesMut::new();
        output_ready_frame(&mut out, 2000, &id, 10, 42, 15_000);
        assert_eq!(
            text(&out),
            "retry: 2000\nevent: ready\ndata: {\"task_id\":\"t-1\",\"start\":10,\"end\":42,\"heartbeat_ms\":15000}\n\n"
        );
        let mut out = BytesMut::new();
        output_frame(&mut out, 42, b"hi\\n");
        assert_eq!(
            text(&out),
            "id: 42\nevent: output\ndata: {\"text\":\"hi\\n\"}\n\n"
        );
        let mut out = BytesMut::new();
        truncated_frame(&mut out, 7);
        assert_eq!(text(&out), "event: truncated\ndata: {\"from\":7}\n\n");
    }

    #[test]
    fn the_overhead_bounds_the_largest_offset() {
        let mut out = BytesMut::new();
        output_frame(&mut out, u64::MAX, b"");
        assert_eq!(out.len(), OUTPUT_FRAME_OVERHEAD);
    }
}
