//! Writing SSE frames.
//!
//! Every frame a server sends goes through here. Values that a parser would
//! read back differently (a line break inside an id splits it into two lines;
//! an id with NUL is silently ignored by browsers) are refused with an
//! [`EncodeError`] rather than written, so what is encoded is what a client
//! receives.

use bytes::{Bytes, BytesMut};

use crate::broker::Ready;

/// Why something cannot be written as SSE.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// An `id` holding CR, LF or NUL would break the frame or be ignored.
    #[error("an SSE id must not contain CR, LF or NUL")]
    BadId,
    /// An event type holding CR or LF would break the frame.
    #[error("an SSE event type must not contain CR or LF")]
    BadEventType,
    /// A comment holding CR or LF would break the frame.
    #[error("an SSE comment must not contain CR or LF")]
    BadComment,
}

fn has_line_break(s: &str) -> bool {
    memchr::memchr2(b'\r', b'\n', s.as_bytes()).is_some()
}

/// Appends one event: optional `id:` and `event:` lines, then `data:` lines
/// (one per line of `data`, split at CR, LF and CRLF), then the blank line.
///
/// A parser gives back `data` with every line ending turned into LF (SSE has
/// no way to carry a CR), `event` (or `message` when it is `None` or empty)
/// and `id` as the last event id. Empty `data` is written as one empty `data:`
/// line, so the event is still dispatched. Nothing is appended on error.
pub fn encode_event(
    out: &mut BytesMut,
    id: Option<&str>,
    event: Option<&str>,
    data: &str,
) -> Result<(), EncodeError> {
    if let Some(id) = id {
        if memchr::memchr3(b'\r', b'\n', 0, id.as_bytes()).is_some() {
            return Err(EncodeError::BadId);
        }
    }
    if let Some(event) = event {
        if has_line_break(event) {
            return Err(EncodeError::BadEventType);
        }
    }
    // One reservation for the common single-line case.
    out.reserve(
        id.map_or(0, |id| id.len() + 5) + event.map_or(0, |e| e.len() + 8) + data.len() + 8,
    );
    if let Some(id) = id {
        put_line(out, b"id: ", id.as_bytes());
    }
    if let Some(event) = event {
        put_line(out, b"event: ", event.as_bytes());
    }
    let mut rest = data.as_bytes();
    loop {
        match memchr::memchr2(b'\r', b'\n', rest) {
            None => {
                put_data_line(out, rest);
                break;
            }
            Some(at) => {
                put_data_line(out, &rest[..at]);
                let crlf = rest[at] == b'\r' && rest.get(at + 1) == Some(&b'\n');
                rest = &rest[at + if crlf { 2 } else { 1 }..];
            }
        }
    }
    out.extend_from_slice(b"\n");
    Ok(())
}

/// `prefix` then `value` then LF. The prefix ends in the one space a parser
/// strips, so a value that itself starts with a space survives.
fn put_line(out: &mut BytesMut, prefix: &[u8], value: &[u8]) {
    out.extend_from_slice(prefix);
    out.extend_from_slice(value);
    out.extend_from_slice(b"\n");
}

fn put_data_line(out: &mut BytesMut, line: &[u8]) {
    if line.is_empty() {
        out.extend_from_slice(b"data:\n");
    } else {
        put_line(out, b"data: ", line);
    }
}

/// Appends a comment line (`: text`).
///
/// Comments carry nothing to the application; servers send them to keep
/// idle connections (and proxies) from timing out. No blank line follows,
/// so a comment may also sit between the fields of an event.
pub fn encode_comment(out: &mut BytesMut, text: &str) -> Result<(), EncodeError> {
    if has_line_break(text) {
        return Err(EncodeError::BadComment);
    }
    put_line(out, b": ", text.as_bytes());
    Ok(())
}

/// Appends a `retry: ms` line.
///
/// The client applies it at once (it need not be followed by a blank line),
/// and uses it as the floor of its reconnect delay.
pub fn encode_retry(out: &mut BytesMut, ms: u64) {
    out.extend_from_slice(b"retry: ");
    out.extend_from_slice(ms.to_string().as_bytes());
    out.extend_from_slice(b"\n");
}

/// Why a stream ends on the server's initiative.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndReason {
    /// The stream reached its (jittered) maximum lifetime.
    MaxLifetime,
    /// The server is shutting down.
    Shutdown,
    /// The source has nothing more, ever: a finished task's output stream,
    /// once all of its output was sent.
    Finished,
}

impl EndReason {
    /// The `reason` string of the `end` frame: the contract clients match on.
    pub const fn as_str(self) -> &'static str {
        match self {
            EndReason::MaxLifetime => "max-lifetime",
            EndReason::Shutdown => "shutdown",
            EndReason::Finished => "finished",
        }
    }
}

/// The opening of a stream: `retry: ms` then `event: ready` (no `id:`).
///
/// It carries no id so that the client's last event id keeps naming the last
/// real event it received. `heartbeat_ms` tells the client how often it will
/// hear from an idle stream, so it can tell a dead connection from a quiet one.
pub fn ready_frame(retry_ms: u64, heartbeat_ms: u64, ready: &Ready) -> Bytes {
    let mut out = BytesMut::with_capacity(96);
    encode_retry(&mut out, retry_ms);
    out.extend_from_slice(b"event: ready\ndata: ");
    // The epoch and head are hex digits and decimal digits joined by `-`:
    // nothing in them needs JSON escaping, and the JSON stays on one line.
    out.extend_from_slice(b"{\"epoch\":\"");
    out.extend_from_slice(ready.epoch.to_string().as_bytes());
    out.extend_from_slice(b"\",\"resumed\":");
    out.extend_from_slice(if ready.resumed { b"true" } else { b"false" });
    out.extend_from_slice(b",\"head\":\"");
    out.extend_from_slice(ready.head.to_string().as_bytes());
    out.extend_from_slice(b"\",\"heartbeat_ms\":");
    out.extend_from_slice(heartbeat_ms.to_string().as_bytes());
    out.extend_from_slice(b"}\n\n");
    out.freeze()
}

/// `event: lagged` with `{"dropped": N}` (no `id:`).
///
/// Tells a slow subscriber exactly how many events it lost, so the client
/// knows to list again instead of showing stale state.
pub fn lagged_frame(dropped: u64) -> Bytes {
    let mut out = BytesMut::with_capacity(48);
    out.extend_from_slice(b"event: lagged\ndata: {\"dropped\":");
    out.extend_from_slice(dropped.to_string().as_bytes());
    out.extend_from_slice(b"}\n\n");
    out.freeze()
}

/// `event: end` with `{"reason": ...}` (no `id:`).
///
/// Lets the client tell a deliberate close (reconnect at once, no backoff)
/// from a network failure.
pub fn end_frame(reason: EndReason) -> Bytes {
    let mut out = BytesMut::with_capacity(48);
    out.extend_from_slice(b"event: end\ndata: {\"reason\":\"");
    out.extend_from_slice(reason.as_str().as_bytes());
    out.extend_from_slice(b"\"}\n\n");
    out.freeze()
}

/// How an idle stream shows it is alive.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum HeartbeatForm {
    /// The comment `: keep-alive`: cheapest, and what proxies need, but a
    /// browser's `EventSource` hides comments from the page.
    #[default]
    Comment,
    /// `event: heartbeat` with data `{}` (no `id:`): visible to a browser
    /// client, which uses it to detect a connection that went silent.
    Event,
}

/// The heartbeat frame in the asked-for form.
pub fn heartbeat_frame(form: HeartbeatForm) -> Bytes {
    match form {
        HeartbeatForm::Comment => keep_alive_frame(),
        HeartbeatForm::Event => Bytes::from_static(b"event: heartbeat\ndata: {}\n\n"),
    }
}

/// The heartbeat comment `: keep-alive`.
///
/// The blank line after it ends nothing (no event is pending between frames)
/// but flushes line-buffering proxies.
pub fn keep_alive_frame() -> Bytes {
    Bytes::from_static(b": keep-alive\n\n")
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;
    use crate::id::{Epoch, EventId};

    fn event(id: Option<&str>, ty: Option<&str>, data: &str) -> Result<String, EncodeError> {
        let mut out = BytesMut::new();
        encode_event(&mut out, id, ty, data)?;
        Ok(String::from_utf8(out.to_vec()).expect("the encoder writes UTF-8"))
    }

    #[test]
    fn event_with_id_type_and_data() {
        assert_eq!(
            event(Some("a-1"), Some("task.created"), "{}").as_deref(),
            Ok("id: a-1\nevent: task.created\ndata: {}\n\n")
        );
    }

    #[test]
    fn event_without_id_or_type_is_only_data() {
        assert_eq!(event(None, None, "x").as_deref(), Ok("data: x\n\n"));
    }

    #[test]
    fn multi_line_data_splits_at_lf_cr_and_crlf() {
        assert_eq!(
            event(None, None, "a\nb\rc\r\nd").as_deref(),
            Ok("data: a\ndata: b\ndata: c\ndata: d\n\n")
        );
    }

    #[test]
    fn consecutive_line_breaks_give_empty_data_lines() {
        assert_eq!(
            event(None, None, "a\r\r\n\nb\n").as_deref(),
            Ok("data: a\ndata:\ndata:\ndata: b\ndata:\n\n")
        );
    }

    #[test]
    fn empty_data_is_one_data_line() {
        assert_eq!(event(None, None, "").as_deref(), Ok("data:\n\n"));
    }

    #[test]
    fn values_keep_their_own_leading_space() {
        assert_eq!(
            event(Some(" i"), Some(" t"), " d").as_deref(),
            Ok("id:  i\nevent:  t\ndata:  d\n\n")
        );
    }

    #[test]
    fn id_with_cr_lf_or_nul_is_refused() {
        for bad in ["a\rb", "a\nb", "a\0b"] {
            assert_eq!(
                event(Some(bad), None, "x"),
                Err(EncodeError::BadId),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn event_type_with_cr_or_lf_is_refused() {
        for bad in ["a\rb", "a\nb"] {
            assert_eq!(
                event(None, Some(bad), "x"),
                Err(EncodeError::BadEventType),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn refused_event_appends_nothing() {
        let mut out = BytesMut::from(&b"before"[..]);
        assert_eq!(
            encode_event(&mut out, Some("ok"), Some("bad\n"), "x"),
            Err(EncodeError::BadEventType)
        );
        assert_eq!(&out[..], b"before");
    }

    #[test]
    fn comment_line() {
        let mut out = BytesMut::new();
        encode_comment(&mut out, "hello").expect("a plain comment encodes");
        assert_eq!(&out[..], b": hello\n");
    }

    #[test]
    fn comment_with_line_break_is_refused() {
        let mut out = BytesMut::new();
        assert_eq!(
            encode_comment(&mut out, "a\nb"),
            Err(EncodeError::BadComment)
        );
        assert_eq!(
            encode_comment(&mut out, "a\rb"),
            Err(EncodeError::BadComment)
        );
        assert!(out.is_empty());
    }

    #[test]
    fn retry_line() {
        let mut out = BytesMut::new();
        encode_retry(&mut out, 2000);
        assert_eq!(&out[..], b"retry: 2000\n");
    }

    #[test]
    fn ready_frame_has_retry_then_ready_and_no_id() {
        let epoch = Epoch::new(0x1f);
        let ready = Ready {
            epoch,
            resumed: true,
            head: EventId::new(epoch, 42),
        };
        assert_eq!(
            &ready_frame(2000, 15000, &ready)[..],
            &b"retry: 2000\nevent: ready\ndata: {\"epoch\":\"1f\",\"resumed\":true,\"head\":\"1f-42\",\"heartbeat_ms\":15000}\n\n"[..]
        );
    }

    #[test]
    fn ready_frame_json_matches_serde() {
        let epoch = Epoch::new(u64::MAX);
        let ready = Ready {
            epoch,
            resumed: false,
            head: EventId::new(Epoch::new(7), u64::MAX),
        };
        let frame = ready_frame(0, u64::MAX, &ready);
        let text = std::str::from_utf8(&frame).expect("frames are UTF-8");
        let json = text
            .strip_prefix("retry: 0\nevent: ready\ndata: ")
            .and_then(|rest| rest.strip_suffix("\n\n"))
            .expect("frame layout");
        let mut expected = serde_json::to_value(&ready).expect("Ready serializes");
        expected["heartbeat_ms"] = serde_json::Value::from(u64::MAX);
        let parsed: serde_json::Value = serde_json::from_str(json).expect("the data is JSON");
        assert_eq!(parsed, expected);
    }

    #[test]
    fn heartbeat_frames_in_both_forms() {
        assert_eq!(
            &heartbeat_frame(HeartbeatForm::Comment)[..],
            b": keep-alive\n\n"
        );
        assert_eq!(
            &heartbeat_frame(HeartbeatForm::Event)[..],
            b"event: heartbeat\ndata: {}\n\n"
        );
    }

    #[test]
    fn lagged_frame_counts_dropped() {
        assert_eq!(
            &lagged_frame(17)[..],
            b"event: lagged\ndata: {\"dropped\":17}\n\n"
        );
    }

    #[test]
    fn end_frames_name_their_reason() {
        assert_eq!(
            &end_frame(EndReason::MaxLifetime)[..],
            b"event: end\ndata: {\"reason\":\"max-lifetime\"}\n\n"
        );
        assert_eq!(
            &end_frame(EndReason::Shutdown)[..],
            b"event: end\ndata: {\"reason\":\"shutdown\"}\n\n"
        );
        assert_eq!(
            &end_frame(EndReason::Finished)[..],
            b"event: end\ndata: {\"reason\":\"finished\"}\n\n"
        );
    }

    #[test]
    fn keep_alive_is_a_comment_and_a_blank_line() {
        assert_eq!(&keep_alive_frame()[..], b": keep-alive\n\n");
    }
}
