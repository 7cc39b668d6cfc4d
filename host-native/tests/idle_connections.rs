//! `--idle-timeout`: a keep-alive HTTP/1.1 connection between requests and
//! an HTTP/2 connection without an open stream are closed once idle that
//! long; a connection carrying an open stream never is.

mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::Request;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use common::{start, Sse, TOKEN};

const IDLE: Duration = Duration::from_millis(300);

async fn idle_server() -> common::Server {
    start(|c| {
        c.idle_timeout = IDLE;
        // Far longer, so it is the idle timeout that closes.
        c.header_read_timeout = Duration::from_secs(30);
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_http1_keep_alive_connection_is_closed() {
    let server = idle_server().await;
    let mut tcp = TcpStream::connect(server.running.addr)
        .await
        .expect("connects");
    let head = format!(
        "GET /api/health HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {TOKEN}\r\n\r\n",
        server.running.addr
    );
    tcp.write_all(head.as_bytes()).await.expect("writes");
    let mut buf = vec![0u8; 4096];
    let n = tcp.read(&mut buf).await.expect("an answer");
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"), "{:?}", &buf[..n]);
    let answered = Instant::now();
    let n = tokio::time::timeout(Duration::from_secs(3), tcp.read(&mut buf))
        .await
        .expect("the idle connection is closed in time")
        .unwrap_or(0);
    assert_eq!(n, 0, "closed without another answer");
    let idle = answered.elapsed();
    assert!(idle >= IDLE - Duration::from_millis(50), "{idle:?}");
    server
        .wait_metric("tidings_connections_timed_out_total", 1.0)
        .await;
    server.running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http2_connection_without_an_open_stream_is_closed_and_one_with_a_stream_is_kept() {
    let server = idle_server().await;
    let base = server.base.clone();
    let get = |path: &str| {
        Request::get(format!("{base}{path}"))
            .header("authorization", format!("Bearer {TOKEN}"))
            .body(Empty::<Bytes>::new())
            .expect("a request")
    };

    // One request, then nothing: the connection goes away.
    let tcp = TcpStream::connect(server.running.addr)
        .await
        .expect("connects");
    let (mut sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp))
            .await
            .expect("h2 handshake");
    let idle_conn = tokio::spawn(conn);
    let resp = sender
        .send_request(get("/api/health"))
        .await
        .expect("answers");
    assert_eq!(resp.status(), 200);
    resp.into_body().collect().await.expect("the body");
    tokio::time::timeout(Duration::from_secs(3), idle_conn)
        .await
        .expect("the idle HTTP/2 connection is closed in time")
        .expect("the connection task")
        .ok();

    // With an open stream it stays, well past the idle timeout.
    let tcp = TcpStream::connect(server.running.addr)
        .await
        .expect("connects");
    let (mut sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp))
            .await
            .expect("h2 handshake");
    let streaming_conn = tokio::spawn(conn);
    let mut sse = Sse::new(
        sender
            .send_request(get("/api/events"))
            .await
            .expect("a stream"),
    );
    sse.ready().await;
    tokio::time::sleep(IDLE * 4).await;
    assert!(
        !streaming_conn.is_finished(),
        "a connection with a stream stays open"
    );
    server.post_event("trigger.fired", 1).await;
    let m = sse.expect().await;
    assert_eq!(m.event, "trigger.fired");
    server.running.shutdown().await;
}
