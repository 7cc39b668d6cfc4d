//! How the generator talks to one server under test: where its stream and
//! its publish endpoint are, and how a publish request is written.

use std::fmt::Write as _;
use std::net::SocketAddr;

/// The body shape of a publish request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PublishStyle {
    /// Tidings' contract (and the Rust and Python peers, which copy it):
    /// `POST` a JSON envelope `{"type": ..., "data": {...}}`.
    Envelope,
    /// nchan: the request body is the message itself.
    RawBody,
}

/// One server under test, as the generator sees it.
#[derive(Clone, Debug)]
pub struct Target {
    /// Loopback address and port.
    pub addr: SocketAddr,
    /// Path and query of the SSE stream.
    pub sub_path: String,
    /// Path and query of the publish endpoint.
    pub pub_path: String,
    /// Bearer token, for servers that require one.
    pub token: Option<String>,
    /// How publish bodies are written.
    pub style: PublishStyle,
}

/// The event type bench events are published with.
pub const EVENT_TYPE: &str = "bench.tick";

impl Target {
    /// The request that opens a stream, resuming after `last_event_id` if given.
    pub fn subscribe_request(&self, last_event_id: Option<&str>) -> Vec<u8> {
        let mut req = format!(
            "GET {} HTTP/1.1\r\nHost: {}\r\nAccept: text/event-stream\r\nCache-Control: no-cache\r\n",
            self.sub_path, self.addr
        );
        if let Some(token) = &self.token {
            let _ = write!(req, "Authorization: Bearer {token}\r\n");
        }
        if let Some(id) = last_event_id {
            let _ = write!(req, "Last-Event-ID: {id}\r\n");
        }
        req.push_str("\r\n");
        req.into_bytes()
    }

    /// Appends one publish request carrying `seq` and `sent_us` to `out`.
    pub fn publish_request(&self, seq: u64, sent_us: u64, pad: &str, out: &mut Vec<u8>) {
        let data = if pad.is_empty() {
            format!("{{\"seq\":{seq},\"sent_us\":{sent_us}}}")
        } else {
            format!("{{\"seq\":{seq},\"sent_us\":{sent_us},\"pad\":\"{pad}\"}}")
        };
        let body = match self.style {
            PublishStyle::Envelope => format!("{{\"type\":\"{EVENT_TYPE}\",\"data\":{data}}}"),
            PublishStyle::RawBody => data,
        };
        let mut head = format!(
            "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
            self.pub_path,
            self.addr,
            body.len()
        );
        if let Some(token) = &self.token {
            let _ = write!(head, "Authorization: Bearer {token}\r\n");
        }
        head.push_str("\r\n");
        out.extend_from_slice(head.as_bytes());
        out.extend_from_slice(body.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_requests_each_server_understands() {
        let t = Target {
            addr: "127.0.0.1:8080".parse().expect("literal address"),
            sub_path: "/api/events".into(),
            pub_path: "/api/events".into(),
            token: Some("tok".into()),
            style: PublishStyle::Envelope,
        };
        let sub = String::from_utf8(t.subscribe_request(Some("e-4"))).expect("ascii");
        assert!(sub.starts_with("GET /api/events HTTP/1.1\r\n"));
        assert!(sub.contains("Authorization: Bearer tok\r\nLast-Event-ID: e-4\r\n\r\n"));
        let mut out = Vec::new();
        t.publish_request(3, 99, "", &mut out);
        let text = String::from_utf8(out).expect("ascii");
        let body = r#"{"type":"bench.tick","data":{"seq":3,"sent_us":99}}"#;
        assert!(text.ends_with(&format!(
            "Content-Length: {}\r\nAuthorization: Bearer tok\r\n\r\n{body}",
            body.len()
        )));
        let raw = Target {
            style: PublishStyle::RawBody,
            token: None,
            ..t
        };
        let mut out = Vec::new();
        raw.publish_request(1, 2, "xx", &mut out);
        assert!(String::from_utf8(out)
            .expect("ascii")
            .ends_with("\r\n\r\n{\"seq\":1,\"sent_us\":2,\"pad\":\"xx\"}"));
    }
}
