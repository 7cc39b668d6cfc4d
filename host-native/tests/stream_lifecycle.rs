//! The life of a stream: heartbeat when idle, `end` at its (jittered)
//! lifetime and on shutdown, coalesced writes, and prompt cleanup when the
//! client goes away.

mod common;

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use common::{start, TOKEN};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_stream_gets_keep_alive_comments() {
    let server = start(|c| c.heartbeat = Duration::from_millis(100)).await;
    let mut sse = server.stream("", &[]).await;
    sse.ready().await;
    let before = sse.raw.len();
    let started = Instant::now();
    while !sse.raw[before..].ends_with(b": keep-alive\n\n") {
        assert!(sse.read_chunk().await, "the stream stays open");
    }
    assert!(
        started.elapsed() >= Duration::from_millis(80),
        "not before the interval"
    );
    // Comments dispatch nothing: the parser saw no message.
    let id = server.post_event("trigger.fired", 1).await;
    assert_eq!(sse.expect().await.last_event_id, id);
    server.running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeat_event_is_a_visible_event_without_an_id_and_ready_names_its_period() {
    let server = start(|c| c.heartbeat = Duration::from_millis(100)).await;
    let mut sse = server.stream("?heartbeat=event", &[]).await;
    let ready = sse.ready().await;
    assert_eq!(ready["heartbeat_ms"], 100);
    let before = sse.raw.len();
    let beat = sse.expect().await;
    assert_eq!(beat.event, "heartbeat");
    assert_eq!(beat.data, "{}");
    assert_eq!(beat.last_event_id, "", "a heartbeat carries no id");
    assert!(
        !String::from_utf8_lossy(&sse.raw[before..]).contains(": keep-alive"),
        "no comment in the event form"
    );
    // The event form does not change what real events carry.
    let id = server.post_event("trigger.fired", 1).await;
    loop {
        let m = sse.expect().await;
        if m.event != "heartbeat" {
            assert_eq!(m.last_event_id, id);
            break;
        }
    }
    // The comment form is still the default, and `ready` names the period too.
    let mut plain = server.stream("", &[]).await;
    assert_eq!(plain.ready().await["heartbeat_ms"], 100);
    let (status, _) = server
        .json(server.get("/api/events?heartbeat=loud"), "")
        .await;
    assert_eq!(status, 400);
    server.running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_ends_with_max_lifetime_within_ten_percent_of_it() {
    let lifetime = Duration::from_millis(400);
    let server = start(|c| c.stream_lifetime = lifetime).await;
    for _ in 0..3 {
        let opened = Instant::now();
        let mut sse = server.stream("", &[]).await;
        sse.ready().await;
        let end = sse.expect().await;
        let elapsed = opened.elapsed();
        assert_eq!(end.event, "end");
        assert_eq!(end.data, r#"{"reason":"max-lifetime"}"#);
        assert_eq!(end.last_event_id, "", "end carries no id");
        assert!(
            elapsed >= lifetime * 9 / 10 - Duration::from_millis(5),
            "{elapsed:?}"
        );
        assert!(
            elapsed < lifetime + Duration::from_millis(500),
            "{elapsed:?}"
        );
        assert!(sse.next().await.is_none(), "the server closes after end");
    }
    server.running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_ends_every_stream_with_reason_shutdown() {
    let server = start(|_| {}).await;
    let mut streams = Vec::new();
    for _ in 0..3 {
        let mut sse = server.stream("", &[]).await;
        sse.ready().await;
        streams.push(sse);
    }
    let started = Instant::now();
    let shutdown = tokio::spawn(server.running.shutdown());
    for sse in &mut streams {
        let end = sse.expect().await;
        assert_eq!(
            (end.event.as_str(), end.data.as_str()),
            ("end", r#"{"reason":"shutdown"}"#)
        );
        assert!(sse.next().await.is_none());
    }
    shutdown.await.expect("shutdown completes");
    assert!(started.elapsed() < Duration::from_secs(5));
}

/// Sends a raw HTTP/1.1 request for the stream and returns the socket.
async fn raw_stream(addr: std::net::SocketAddr, extra: &str) -> TcpStream {
    let mut tcp = TcpStream::connect(addr).await.expect("connects");
    let req = format!(
        "GET /api/events HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {TOKEN}\r\n{extra}\r\n"
    );
    tcp.write_all(req.as_bytes()).await.expect("writes");
    tcp
}

/// Reads until `needle` has been seen.
async fn read_until(tcp: &mut TcpStream, raw: &mut Vec<u8>, needle: &[u8]) {
    let mut buf = [0u8; 16 * 1024];
    while !raw.windows(needle.len()).any(|w| w == needle) {
        let n = tokio::time::timeout(common::PATIENCE, tcp.read(&mut buf))
            .await
            .expect("data in time")
            .expect("reads");
        assert!(n > 0, "connection closed early");
        raw.extend_from_slice(&buf[..n]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_goes_away_is_unsubscribed_promptly() {
    let server = start(|_| {}).await;
    let mut tcp = raw_stream(server.running.addr, "").await;
    let mut raw = Vec::new();
    read_until(&mut tcp, &mut raw, b"event: ready").await;
    assert_eq!(server.metric("tidings_subscribers").await, 1.0);
    assert_eq!(server.metric("tidings_open_streams").await, 1.0);
    drop(tcp);
    // No publish, no heartbeat (15 s): the close itself must be noticed.
    server.wait_metric("tidings_subscribers", 0.0).await;
    server.wait_metric("tidings_open_streams", 0.0).await;
    server.running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_and_a_whole_replay_go_out_in_one_write() {
    let server = start(|_| {}).await;
    let first = server.post_event("trigger.fired", 0).await;
    let mut last = String::new();
    for n in 1..=100 {
        last = server.post_event("trigger.fired", n).await;
    }
    let mut tcp = raw_stream(server.running.addr, &format!("Last-Event-ID: {first}\r\n")).await;
    let mut raw = Vec::new();
    read_until(&mut tcp, &mut raw, format!("id: {last}\n").as_bytes()).await;
    let text = String::from_utf8(raw).expect("utf-8");
    let (head, body) = text.split_once("\r\n\r\n").expect("headers end");
    assert!(head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked"));
    // The first chunk holds retry, ready and all 100 events.
    let (size, rest) = body.split_once("\r\n").expect("a chunk size line");
    let size = usize::from_str_radix(size.trim(), 16).expect("a hex chunk size");
    let chunk = &rest[..size.min(rest.len())];
    assert!(
        chunk.starts_with("retry: 2000\nevent: ready\n"),
        "{chunk:.80}"
    );
    assert_eq!(chunk.matches("\nevent: trigger.fired\n").count(), 100);
    assert!(chunk.ends_with(&format!(
        "id: {last}\nevent: trigger.fired\ndata: {{\"n\":100}}\n\n"
    )));
    server.running.shutdown().await;
}
