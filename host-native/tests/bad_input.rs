//! Bad input of every kind gets the right status and a JSON error that says
//! what is wrong; nothing a client sends can break into the SSE stream.

mod common;

use std::time::{Duration, Instant};

use hyper::Request;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use common::start;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_missing_and_mistyped_fields_are_400s_naming_the_field() {
    let server = start(|_| {}).await;
    let cases: &[(&str, &str, &str)] = &[
        ("/api/events", "{", "malformed JSON"),
        ("/api/events", "[]", "JSON object"),
        ("/api/events", r#"{"data":{}}"#, "`type` is missing"),
        ("/api/events", r#"{"type":7}"#, "`type` must be a string"),
        ("/api/events", r#"{"type":"a b"}"#, "`type`"),
        ("/api/events", r#"{"type":"ready"}"#, "`type`"),
        ("/api/events", r#"{"type":"task.status"}"#, "`type`"),
        (
            "/api/events",
            r#"{"type":"a","data":[1]}"#,
            "`data` must be a JSON object",
        ),
        (
            "/api/events",
            r#"{"type":"a","data":"x"}"#,
            "`data` must be a JSON object",
        ),
        ("/api/events", r#"{"type":"a","tpye":"b"}"#, "`tpye`"),
        ("/api/events", r#"{"type":"a","task":"../x"}"#, "`task`"),
        ("/api/tasks", r#"{}"#, "`command` is missing"),
        (
            "/api/tasks",
            r#"{"command":3}"#,
            "`command` must be a string or an array of strings",
        ),
        ("/api/tasks", r#"{"command":["ls",3]}"#, "`command`"),
        ("/api/tasks", r#"{"command":[]}"#, "`command`"),
        ("/api/tasks", r#"{"command":"  "}"#, "`command`"),
        (
            "/api/tasks",
            r#"{"command":"true","workdir":1}"#,
            "`workdir` must be a string",
        ),
        (
            "/api/tasks",
            r#"{"command":"true","name":false}"#,
            "`name` must be a string",
        ),
        (
            "/api/tasks",
            r#"{"command":"true","input":{}}"#,
            "`input` must be a string",
        ),
        (
            "/api/tasks/terminal",
            r#"{"workdir":[]}"#,
            "`workdir` must be a string",
        ),
    ];
    for (path, body, needle) in cases {
        let (status, v) = server.json(server.post(path), body).await;
        assert_eq!(status, 400, "{path} {body}: {v}");
        let msg = v["error"].as_str().expect("an error message");
        assert!(
            msg.contains(needle),
            "{path} {body}: {msg:?} lacks {needle:?}"
        );
    }
    server.running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn task_routes_check_their_bodies_and_ids() {
    let server = start(|_| {}).await;
    let (status, task) = server
        .json(server.post("/api/tasks"), r#"{"command":["true"]}"#)
        .await;
    assert_eq!(status, 201, "{task}");
    let id = task["id"].as_str().expect("an id");
    let (status, v) = server
        .json(
            server.post(&format!("/api/tasks/{id}/input")),
            r#"{"txt":"a"}"#,
        )
        .await;
    assert_eq!(status, 400, "{v}");
    let (status, v) = server
        .json(server.post(&format!("/api/tasks/{id}/input")), r#"{}"#)
        .await;
    assert_eq!(
        (status.as_u16(), v["error"].as_str()),
        (400, Some("field `text` is missing"))
    );
    let (status, v) = server
        .json(
            server.post(&format!("/api/tasks/{id}/rename")),
            r#"{"name":1}"#,
        )
        .await;
    assert_eq!(status, 400, "{v}");
    let (status, v) = server
        .json(server.get(&format!("/api/tasks/{id}/output?tail=x")), "")
        .await;
    assert_eq!(status, 400);
    assert!(v["error"].as_str().is_some_and(|e| e.contains("`tail`")));
    for path in [
        "/api/tasks/nope",
        "/api/tasks/nope/output",
        "/api/tasks/a%20b",
    ] {
        let (status, v) = server.json(server.get(path), "").await;
        assert_eq!(status, 404, "{path}: {v}");
        assert_eq!(v["error"], "no such task");
    }
    let (status, _) = server
        .json(server.post("/api/tasks/nope/input"), r#"{"text":"a"}"#)
        .await;
    assert_eq!(status, 404);
    let (status, _) = server
        .json(server.get("/api/tasks/nope").method("DELETE"), "")
        .await;
    assert_eq!(status, 404);
    server.running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_over_the_cap_are_413() {
    let server = start(|c| c.max_body = 1024).await;
    let big = format!(r#"{{"type":"a","data":{{"pad":"{}"}}}}"#, "x".repeat(2000));
    let (status, v) = server.json(server.post("/api/events"), &big).await;
    assert_eq!(status, 413, "{v}");
    assert!(v["error"].as_str().is_some_and(|e| e.contains("1024")));
    // Without a Content-Length (chunked), the cap still holds.
    let chunks = Chunks(
        big.into_bytes()
            .chunks(300)
            .map(bytes::Bytes::copy_from_slice)
            .collect(),
    );
    let req = server.post("/api/events").body(chunks).expect("a request");
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Chunks>();
    let resp = client.request(req).await.expect("answers");
    assert_eq!(resp.status(), 413);
    let (status, _) = server
        .json(server.post("/api/events"), r#"{"type":"a"}"#)
        .await;
    assert_eq!(status, 202, "small bodies still pass");
    server.running.shutdown().await;
}

/// A body of unknown length (no Content-Length), sent in chunks.
struct Chunks(std::collections::VecDeque<bytes::Bytes>);

impl hyper::body::Body for Chunks {
    type Data = bytes::Bytes;
    type Error = std::convert::Infallible;
    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<bytes::Bytes>, Self::Error>>> {
        std::task::Poll::Ready(
            self.get_mut()
                .0
                .pop_front()
                .map(|b| Ok(hyper::body::Frame::data(b))),
        )
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_routes_are_404_and_wrong_methods_405_with_allow() {
    let server = start(|_| {}).await;
    for path in ["/api/nope", "/api", "/api/tasks/a/b/c", "/api/events/x"] {
        let (status, v) = server.json(server.get(path), "").await;
        assert_eq!(status, 404, "{path}: {v}");
    }
    for (method, path, allow) in [
        ("DELETE", "/api/events", "GET, HEAD, POST"),
        ("PUT", "/api/tasks", "GET, POST"),
        ("GET", "/api/tasks/terminal", "POST"),
        ("POST", "/api/tasks/x", "GET, DELETE"),
        ("GET", "/api/tasks/x/input", "POST"),
        ("POST", "/api/health", "GET"),
        ("POST", "/metrics", "GET"),
    ] {
        let (status, headers, text) = server.send(server.get(path).method(method), "").await;
        assert_eq!(status, 405, "{method} {path}: {text}");
        assert_eq!(headers["allow"], allow, "{method} {path}");
        let v: Value = serde_json::from_str(&text).expect("JSON");
        assert!(v["error"].is_string());
    }
    server.running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_a_client_sends_can_inject_a_frame() {
    let server = start(|_| {}).await;
    let mut sse = server.stream("", &[]).await;
    sse.ready().await;
    let evil = "x\n\nevent: end\ndata: {\"reason\":\"shutdown\"}\n\nid: 1-1\r\n";
    let body = serde_json::json!({"type": "trigger.fired", "data": {"text": evil}}).to_string();
    let (status, v) = server.json(server.post("/api/events"), &body).await;
    assert_eq!(status, 202, "{v}");
    let m = sse.expect().await;
    assert_eq!(m.event, "trigger.fired");
    let data: Value = serde_json::from_str(&m.data).expect("one JSON line");
    assert_eq!(data["text"], evil);
    assert_eq!(m.last_event_id, v["id"].as_str().expect("an id"));
    // Line breaks in ids, types or filters never reach the stream.
    let (status, _) = server
        .json(server.post("/api/events"), r#"{"type":"a\nevent: end"}"#)
        .await;
    assert_eq!(status, 400);
    server.running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_loris_is_cut_off_after_the_header_read_timeout() {
    let server = start(|c| c.header_read_timeout = Duration::from_millis(300)).await;
    let mut tcp = TcpStream::connect(server.running.addr)
        .await
        .expect("connects");
    tcp.write_all(b"GET /api/health HTTP/1.1\r\nHost: x\r\n")
        .await
        .expect("writes");
    let started = Instant::now();
    let mut buf = [0u8; 1024];
    loop {
        let n = tokio::time::timeout(Duration::from_secs(3), tcp.read(&mut buf))
            .await
            .expect("the server gives up in time")
            .unwrap_or(0);
        if n == 0 {
            break;
        }
        // hyper may answer 408 before closing.
    }
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(200), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
    server.running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_answers_with_the_broker_position() {
    let server = start(|_| {}).await;
    let (status, v) = server.json(server.get("/api/health"), "").await;
    assert_eq!(status, 200);
    assert_eq!(v["status"], "ok");
    let id = server.post_event("trigger.fired", 1).await;
    let (_, v) = server.json(server.get("/api/health"), "").await;
    assert_eq!(v["head"], id.as_str());
    assert_eq!(v["epoch"], id.split('-').next().expect("epoch"));
    let req =
        Request::get(format!("{}/api/health", server.base)).header("authorization", "Basic x");
    assert_eq!(server.send(req, "").await.0, 401);
    server.running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_client_or_a_stalled_h2_preface_is_cut_off_too() {
    let server = start(|c| c.header_read_timeout = Duration::from_millis(300)).await;
    for opening in [&b""[..], b"PRI * HTTP/2.0\r\n"] {
        let mut tcp = TcpStream::connect(server.running.addr)
            .await
            .expect("connects");
        tcp.write_all(opening).await.expect("writes");
        let started = Instant::now();
        let mut buf = [0u8; 1024];
        loop {
            let n = tokio::time::timeout(Duration::from_secs(3), tcp.read(&mut buf))
                .await
                .expect("the server gives up in time")
                .unwrap_or(0);
            if n == 0 {
                break;
            }
        }
        let elapsed = started.elapsed();
        assert!(
            elapsed >= Duration::from_millis(200),
            "{opening:?}: {elapsed:?}"
        );
    }
    server.running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_heads_over_8_kib_are_refused() {
    let server = start(|_| {}).await;
    let big = "x".repeat(9 * 1024);
    let (status, _, _) = server
        .send(server.get("/api/health").header("x-big", big.as_str()), "")
        .await;
    assert_eq!(status, 431);
    let fits = "x".repeat(6 * 1024);
    let (status, _, _) = server
        .send(server.get("/api/health").header("x-big", fits.as_str()), "")
        .await;
    assert_eq!(status, 200);
    server.running.shutdown().await;
}
