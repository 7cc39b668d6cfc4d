//! Shared scaffolding for the HTTP-level tests: a real server on
//! 127.0.0.1:0 started through the library, a real hyper client, and an SSE
//! reader built on the core's parser.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::time::Duration;

use broker_core::sse::{Message, Parser, SseItem};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use tidings::{Config, Running, TokenSource};

/// The token every test server uses.
pub const TOKEN: &str = "test-token-0123456789abcdef";

/// How long a test waits for anything before failing.
pub const PATIENCE: Duration = Duration::from_secs(5);

pub type HttpClient = Client<HttpConnector, Full<Bytes>>;

/// A running server and what it needs to stay alive.
pub struct Server {
    pub running: Running,
    pub client: HttpClient,
    pub base: String,
    pub _data: tempfile::TempDir,
}

/// A config for tests: port 0, a fixed token, a fresh data dir, no files.
pub fn config(data: &tempfile::TempDir) -> Config {
    Config {
        addr: "127.0.0.1:0".parse().expect("an address"),
        data_dir: data.path().to_path_buf(),
        token: TokenSource::Given(TOKEN.into()),
        www: None,
        reconcile_interval: Duration::from_millis(200),
        ..Config::default()
    }
}

/// Starts a server with `adjust` applied to the test config.
pub async fn start(adjust: impl FnOnce(&mut Config)) -> Server {
    let data = tempfile::tempdir().expect("a temp dir");
    let mut cfg = config(&data);
    adjust(&mut cfg);
    let running = tidings::start(cfg).await.expect("the server starts");
    let base = format!("http://{}", running.addr);
    Server {
        running,
        client: Client::builder(TokioExecutor::new()).build_http(),
        base,
        _data: data,
    }
}

impl Server {
    /// A request builder for `path` with the bearer token.
    pub fn get(&self, path: &str) -> hyper::http::request::Builder {
        Request::get(format!("{}{path}", self.base))
            .header("authorization", format!("Bearer {TOKEN}"))
    }

    /// `POST path` with a JSON body and the bearer token.
    pub fn post(&self, path: &str) -> hyper::http::request::Builder {
        Request::post(format!("{}{path}", self.base))
            .header("authorization", format!("Bearer {TOKEN}"))
            .header("content-type", "application/json")
    }

    /// Sends a request and reads the whole answer.
    pub async fn send(
        &self,
        req: hyper::http::request::Builder,
        body: &str,
    ) -> (StatusCode, hyper::HeaderMap, String) {
        let req = req
            .body(Full::new(Bytes::from(body.to_owned())))
            .expect("a request");
        let resp = tokio::time::timeout(PATIENCE, self.client.request(req))
            .await
            .expect("an answer in time")
            .expect("the request succeeds");
        let (parts, body) = resp.into_parts();
        let bytes = body.collect().await.expect("the body").to_bytes();
        (
            parts.status,
            parts.headers,
            String::from_utf8_lossy(&bytes).into_owned(),
        )
    }

    /// Sends and parses a JSON answer.
    pub async fn json(
        &self,
        req: hyper::http::request::Builder,
        body: &str,
    ) -> (StatusCode, Value) {
        let (status, headers, text) = self.send(req, body).await;
        let ct = headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        assert!(
            ct.starts_with("application/json"),
            "JSON content type, got {ct:?} for {text}"
        );
        (status, serde_json::from_str(&text).expect("a JSON body"))
    }

    /// Publishes `trigger.fired` with `{"n": n}` through the REST API.
    pub async fn post_event(&self, kind: &str, n: u64) -> String {
        let (status, v) = self
            .json(
                self.post("/api/events"),
                &format!(r#"{{"type":"{kind}","data":{{"n":{n}}}}}"#),
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{v}");
        v["id"].as_str().expect("an id").to_owned()
    }

    /// Opens `GET /api/events{query}` with extra headers.
    pub async fn stream(&self, query: &str, headers: &[(&str, &str)]) -> Sse {
        let mut req = self.get(&format!("/api/events{query}"));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = tokio::time::timeout(
            PATIENCE,
            self.client
                .request(req.body(Full::default()).expect("a request")),
        )
        .await
        .expect("an answer in time")
        .expect("the stream opens");
        Sse::new(resp)
    }

    /// The value of one metric line (`name value`).
    pub async fn metric(&self, name: &str) -> f64 {
        let (status, _, text) = self.send(self.get("/metrics"), "").await;
        assert_eq!(status, StatusCode::OK);
        text.lines()
            .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("metric {name} in {text}"))
    }

    /// Waits until `metric` equals `value`.
    pub async fn wait_metric(&self, name: &str, value: f64) {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let now = self.metric(name).await;
            if now == value {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{name} stayed {now}, expected {value}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// An open SSE response read with the core parser; keeps the raw bytes too.
pub struct Sse {
    pub status: StatusCode,
    pub headers: hyper::HeaderMap,
    body: Incoming,
    parser: Parser,
    items: VecDeque<SseItem>,
    pub raw: Vec<u8>,
    pub chunks: usize,
    pub ended: bool,
}

impl Sse {
    pub fn new(resp: Response<Incoming>) -> Self {
        let (parts, body) = resp.into_parts();
        Sse {
            status: parts.status,
            headers: parts.headers,
            body,
            parser: Parser::default(),
            items: VecDeque::new(),
            raw: Vec::new(),
            chunks: 0,
            ended: false,
        }
    }

    /// Reads one more chunk; false at the end of the body.
    pub async fn read_chunk(&mut self) -> bool {
        loop {
            let frame = tokio::time::timeout(PATIENCE, self.body.frame())
                .await
                .expect("stream data in time");
            match frame {
                Some(Ok(frame)) => {
                    if let Some(data) = frame.data_ref() {
                        self.chunks += 1;
                        self.raw.extend_from_slice(data);
                        self.parser.handle_bytes(data);
                        while let Some(item) = self.parser.poll_output() {
                            self.items.push_back(item.expect("a well-formed stream"));
                        }
                        return true;
                    }
                }
                Some(Err(e)) => panic!("stream broke: {e}"),
                None => {
                    self.ended = true;
                    return false;
                }
            }
        }
    }

    /// The next item (message or retry), or None at the end of the body.
    pub async fn next_item(&mut self) -> Option<SseItem> {
        loop {
            if let Some(item) = self.items.pop_front() {
                return Some(item);
            }
            if self.ended || !self.read_chunk().await {
                return None;
            }
        }
    }

    /// The next message (skipping `retry`).
    pub async fn next(&mut self) -> Option<Message> {
        loop {
            match self.next_item().await? {
                SseItem::Message(m) => return Some(m),
                SseItem::Retry(_) => continue,
            }
        }
    }

    /// The next message, which must exist.
    pub async fn expect(&mut self) -> Message {
        self.next().await.expect("another message")
    }

    /// Reads `retry` then `ready`; returns the ready data.
    pub async fn ready(&mut self) -> Value {
        assert_eq!(self.status, StatusCode::OK);
        match self.next_item().await {
            Some(SseItem::Retry(_)) => {}
            other => panic!("expected retry first, got {other:?}"),
        }
        let m = self.expect().await;
        assert_eq!(m.event, "ready");
        serde_json::from_str(&m.data).expect("ready data is JSON")
    }
}

/// Opens `/?token=` and returns the `name=value` of the cookie it sets.
pub async fn session_cookie(server: &Server) -> String {
    let (status, headers, _) = server
        .send(Request::get(format!("{}/?token={TOKEN}", server.base)), "")
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let set = headers["set-cookie"].to_str().expect("text");
    set.split(';').next().expect("name=value").to_owned()
}

/// The SEQ of an `EPOCH-SEQ` id.
pub fn seq(id: &str) -> u64 {
    id.rsplit('-')
        .next()
        .and_then(|s| s.parse().ok())
        .expect("an EPOCH-SEQ id")
}
