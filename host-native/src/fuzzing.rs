//! The server's parsers that read bytes from the network, as plain
//! functions a fuzz target (or a property test) can call without a socket.
//!
//! Each is the very function the server runs on a request, not a copy:
//! the `Host`/`Origin` guard, the credentials (bearer value, `Cookie`
//! header, session value, `?token=`), the query strings (with the output
//! stream's resume point: `Last-Event-ID` or `?from=`) and each JSON route's
//! body. None of them may panic, whatever the input; errors come back as the
//! message the client would get in `{"error": ...}`.
//!
//! broker-core's parsers (the SSE parser, event types, filters, event ids,
//! output offsets) are public in broker-core itself; its cargo-fuzz targets
//! are in `broker-core/fuzz/` (`output_offset` covers the offset parser this
//! module's [`output_stream_query`] is built on).

use std::net::SocketAddr;
use std::path::PathBuf;

pub use crate::allowed_hosts::{parse_authority, parse_origin, AllowedHost, HostAllowlist};
pub use crate::requests::PublishRequest;
pub use crate::stream::StreamQuery;
use crate::tasks::CreateTask;

/// The `Host` / `:authority` / `Origin` check every request passes before
/// routing, for a server bound to `bound` with `extra` allowed hosts, on a
/// connection that arrived at `local`. `Ok` or the refusal's name.
pub fn check_request_host(
    bound: SocketAddr,
    extra: &[AllowedHost],
    host: Option<&[u8]>,
    authority: Option<&str>,
    origin: Option<&[u8]>,
    local: Option<SocketAddr>,
) -> Result<(), String> {
    HostAllowlist::new(bound, extra)
        .check(host, authority, origin, local)
        .map_err(|r| format!("{r:?}"))
}

/// The token of an `Authorization` header value (`Bearer <token>`).
pub fn bearer_token(value: &str) -> Option<&str> {
    crate::auth::bearer_token(value)
}

/// The values of every cookie called `name` in a `Cookie` header value.
pub fn cookie_values<'a>(header: &'a str, name: &'a str) -> Vec<&'a str> {
    crate::auth::cookie_values(header, name).collect()
}

/// Checks a session cookie value against `token` at `now` (Unix seconds),
/// with the server's maximum age; `Ok` or why it is refused.
pub fn verify_session(token: &str, cookie_name: &str, value: &str, now: u64) -> Result<(), String> {
    crate::session::verify(
        token,
        cookie_name,
        value,
        now,
        crate::session::SESSION_MAX_AGE,
    )
    .map_err(|e| e.to_string())
}

/// The session cookie value the server would set at `now`.
pub fn issue_session(token: &str, cookie_name: &str, now: u64) -> String {
    crate::session::issue(token, cookie_name, now)
}

/// The `token` of a page URL's query (`/?token=...`) and its other pairs.
pub fn token_from_query(query: &str) -> Option<(String, Vec<&str>)> {
    crate::auth::token_from_query(query)
}

/// A query string's `key=value` pairs, percent-decoded.
pub fn query_pairs(query: &str) -> Vec<(String, String)> {
    crate::router::query_pairs(query)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The query of `GET /api/events` (`types`, `task`, `last_event_id`,
/// `heartbeat`), as the stream reads it before building its filter
/// (`broker_core::Filter::parse` of `types` and `task`): the values or the
/// `400` message.
pub fn events_query(query: Option<&str>) -> Result<StreamQuery, String> {
    StreamQuery::parse(query).map_err(|e| e.to_string())
}

/// Where `GET /api/tasks/{id}/output/stream` starts: the `Last-Event-ID`
/// header's raw bytes (it wins) or the query's `from`, and `heartbeat=`.
/// `Ok(offset)` (`None`: from the beginning) or the `400` message.
pub fn output_stream_query(
    last_event_id: Option<&[u8]>,
    query: Option<&str>,
) -> Result<Option<u64>, String> {
    crate::output_stream::OutputQuery::parse(last_event_id, query)
        .map(|q| q.from)
        .map_err(|e| e.to_string())
}

/// `tail` of `GET /api/tasks/{id}/output`.
pub fn tail_query(query: Option<&str>) -> Result<usize, String> {
    crate::requests::parse_tail(query).map_err(|e| e.to_string())
}

/// Whether a `Content-Type` value counts as JSON.
pub fn is_json_content_type(value: &[u8]) -> bool {
    crate::body::is_json_content_type(value)
}

/// The body of `POST /api/events`.
pub fn publish_body(bytes: &[u8]) -> Result<PublishRequest, String> {
    crate::requests::parse_publish(bytes).map_err(|e| e.to_string())
}

/// The size of the frame the broker would encode for a publish body's event
/// with the id `next_id` (what `--max-event-bytes` is compared with).
pub fn encoded_frame_len(next_id: broker_core::EventId, request: &PublishRequest) -> usize {
    crate::api::encoded_frame_len(next_id, request)
}

/// The body of `POST /api/tasks`.
pub fn create_task_body(bytes: &[u8]) -> Result<CreateTask, String> {
    crate::requests::parse_create_task(bytes).map_err(|e| e.to_string())
}

/// The body of `POST /api/tasks/terminal` (the working directory, if any).
pub fn create_terminal_body(bytes: &[u8]) -> Result<Option<PathBuf>, String> {
    crate::requests::parse_create_terminal(bytes).map_err(|e| e.to_string())
}

/// The body of `POST /api/tasks/{id}/input` (the text to type).
pub fn input_body(bytes: &[u8]) -> Result<String, String> {
    crate::requests::parse_input(bytes).map_err(|e| e.to_string())
}

/// The body of `POST /api/tasks/{id}/rename` (the new name).
pub fn rename_body(bytes: &[u8]) -> Result<String, String> {
    crate::requests::parse_rename(bytes).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A few hostile inputs through every entry point: no panics, sensible
    /// answers.
    #[test]
    fn every_entry_point_takes_hostile_input() {
        let bound: SocketAddr = "127.0.0.1:7171".parse().expect("an address");
        let junk: [&[u8]; 6] = [b"", b"\xff\xfe", b"[", b"[::1", b"a:b:c", b"{\"type\":"];
        for bytes in junk {
            let text = String::from_utf8_lossy(bytes);
            assert!(
                check_request_host(bound, &[], Some(bytes), Some(&text), Some(bytes), None)
                    .is_err()
            );
            let _ = bearer_token(&text);
            let _ = cookie_values(&text, "x");
            assert!(verify_session("token", "x", &text, 0).is_err());
            let _ = token_from_query(&text);
            let _ = query_pairs(&text);
            let _ = events_query(Some(&text));
            let _ = tail_query(Some(&text));
            let _ = output_stream_query(Some(bytes), Some(&text));
            assert!(!is_json_content_type(bytes));
            assert!(publish_body(bytes).is_err());
            assert!(create_task_body(bytes).is_err());
            let _ = create_terminal_body(bytes);
            assert!(input_body(bytes).is_err());
            assert!(rename_body(bytes).is_err());
        }
        let session = issue_session("token", "x", 100);
        assert_eq!(verify_session("token", "x", &session, 100), Ok(()));
        let request = publish_body(br#"{"type":"a","data":{"n":1e15}}"#).expect("valid");
        let id = broker_core::EventId::new(broker_core::Epoch::new(0xab), 7);
        assert_eq!(
            encoded_frame_len(id, &request),
            "id: ab-7\nevent: a\ndata: {\"n\":1000000000000000.0}\n\n".len()
        );
    }
}
