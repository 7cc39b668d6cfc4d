//! `--max-connections`: at the cap a new connection takes the place of an
//! idle one; when every connection is busy (streams open) it is answered
//! `503` with `Retry-After` and closed at once, and the busy ones go on.

mod common;

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use common::{start, TOKEN};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_every_connection_busy_a_new_one_is_refused_at_once() {
    let server = start(|c| c.max_connections = Some(2)).await;
    // Two streams on two connections: both busy.
    let mut a = server.stream("", &[]).await;
    let mut b = server.stream("", &[]).await;
    a.ready().await;
    b.ready().await;
    let started = Instant::now();
    let mut tcp = TcpStream::connect(server.running.addr)
        .await
        .expect("the kernel accepts");
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(2), tcp.read_to_end(&mut answer))
        .await
        .expect("closed at once, not left waiting")
        .ok();
    assert!(started.elapsed() < Duration::from_secs(1));
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 503"), "{text}");
    assert!(text.contains("retry-after: 1"), "{text}");
    // The streams are untouched.
    let id = {
        // Publish through the hub: a new connection would be refused too.
        let kind = broker_core::EventType::new("trigger.fired").expect("a type");
        server
            .running
            .hub
            .publish(kind, None, serde_json::Map::new())
    };
    for sse in [&mut a, &mut b] {
        assert_eq!(sse.expect().await.last_event_id, id.to_string());
    }
    server.running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_cap_an_idle_connection_gives_way_to_a_new_one() {
    let server = start(|c| c.max_connections = Some(2)).await;
    let mut stream = server.stream("", &[]).await;
    stream.ready().await;
    // An idle connection that never sends a request holds the second slot.
    let mut idle = TcpStream::connect(server.running.addr)
        .await
        .expect("connects");
    tokio::time::sleep(Duration::from_millis(50)).await;
    // A real client still gets in: the idle one is closed for it.
    let mut client = TcpStream::connect(server.running.addr)
        .await
        .expect("connects");
    let head = format!(
        "GET /api/health HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {TOKEN}\r\nConnection: close\r\n\r\n",
        server.running.addr
    );
    client.write_all(head.as_bytes()).await.expect("writes");
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(3), client.read_to_end(&mut answer))
        .await
        .expect("answered")
        .expect("reads");
    assert!(
        answer.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    let mut byte = [0u8; 1];
    let n = tokio::time::timeout(Duration::from_secs(2), idle.read(&mut byte))
        .await
        .expect("the idle connection was closed")
        .unwrap_or(0);
    assert_eq!(n, 0);
    // (The metrics request's own connection may make room the same way.)
    assert!(server.metric("tidings_connections_evicted_total").await >= 1.0);
    server.running.shutdown().await;
}
