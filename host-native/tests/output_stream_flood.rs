//! A task printing as fast as it can (`yes`) does not flood anything: each
//! of its output streams gets at most one chunk per ~50 ms, each frame at
//! most 64 KiB; none of it goes through the event broker; and a client that
//! stops reading stops its stream (the server stops reading the log for it
//! instead of buffering), which, reading again, is told what the log
//! dropped meanwhile (`truncated`) and goes on.

mod common;
mod output_support;

use std::time::{Duration, Instant};

use broker_core::sse::{Parser, SseItem};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpSocket;

use common::{start, Server, PATIENCE, TOKEN};
use output_support::{follow, read_until, Seen};

const MAX_FRAME: usize = 64 * 1024;

async fn kill(server: &Server, id: &str) {
    let (status, _) = server
        .json(
            hyper::Request::delete(format!("{}/api/tasks/{id}", server.base))
                .header("authorization", format!("Bearer {TOKEN}")),
            "",
        )
        .await;
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn yes_gets_coalesced_chunks_and_never_reaches_the_broker() {
    let server = start(|_| {}).await;
    let id = server.create_task("yes").await;
    let mut streams = Vec::new();
    for _ in 0..4 {
        let mut sse = server.output_stream(&id, "", &[]).await;
        let seen = read_until(&mut sse, |s| !s.chunks.is_empty()).await;
        streams.push((sse, seen));
    }
    let published = server.metric("tidings_events_published_total").await;
    let window = Duration::from_secs(2);
    let began = Instant::now();
    let mut readers = Vec::new();
    for (mut sse, mut seen) in streams {
        readers.push(tokio::spawn(async move {
            let before = seen.chunks.len();
            follow(&mut sse, &mut seen, |s: &Seen| {
                s.chunks.last().is_some_and(|c| c.2 >= began + window)
            })
            .await;
            (before, seen, sse.raw)
        }));
    }
    let mut counts = Vec::new();
    for reader in readers {
        let (before, seen, raw) = reader.await.expect("the reader runs");
        let during = seen
            .chunks
            .iter()
            .skip(before)
            .filter(|c| c.2 < began + window)
            .count();
        counts.push(during);
        // Each output frame on the wire is at most 64 KiB.
        let text = String::from_utf8(raw).expect("the stream is UTF-8");
        for frame in text
            .split_inclusive("\n\n")
            .filter(|f| f.contains("event: output\n"))
        {
            assert!(frame.len() <= MAX_FRAME, "a frame of {} bytes", frame.len());
        }
        assert!(seen.truncated.is_empty() || seen.truncated.iter().all(|t| t.0 > 0));
    }
    // At most one chunk per 50 ms per stream (2 s: 40, and the window's
    // edges), and the streams keep up with the task (reading at full rate,
    // each gets a good share of that).
    eprintln!("chunks per stream in {window:?}: {counts:?}");
    for &n in &counts {
        assert!(n <= 42, "{n} chunks in {window:?}: {counts:?}");
        assert!(n >= 10, "the stream keeps flowing: {counts:?}");
    }
    assert_eq!(
        server.metric("tidings_events_published_total").await,
        published,
        "the output went through no event"
    );
    kill(&server, &id).await;
    server.running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_stops_its_stream_and_resumes_with_truncated() {
    let server = start(|c| c.task_log_max = 256 * 1024).await;
    let id = server.create_task("yes").await;
    // A client with a small receive window that reads nothing after its
    // request.
    let socket = TcpSocket::new_v4().expect("a socket");
    socket.set_recv_buffer_size(4096).expect("a small window");
    let mut tcp = socket.connect(server.running.addr).await.expect("connects");
    let request = format!(
        "GET /api/tasks/{id}/output/stream HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {TOKEN}\r\n\r\n",
        server.running.addr
    );
    tcp.write_all(request.as_bytes()).await.expect("sent");

    // The stream writes until the socket's buffers are full, then nothing:
    // it does not read the log for a client that does not read.
    let began = Instant::now();
    let mut last = server.metric("tidings_output_writes_total").await;
    let mut still_since = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let now = server.metric("tidings_output_writes_total").await;
        if now != last {
            last = now;
            still_since = Instant::now();
        } else if still_since.elapsed() >= Duration::from_secs(1) {
            break;
        }
        assert!(
            began.elapsed() < Duration::from_secs(20),
            "a stalled stream kept writing: {now} writes"
        );
    }
    let (_, out) = server
        .json(server.get(&format!("/api/tasks/{id}/output?tail=0")), "")
        .await;
    let end_then = out["end"].as_u64().expect("end");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (_, out) = server
        .json(server.get(&format!("/api/tasks/{id}/output?tail=0")), "")
        .await;
    assert!(
        out["end"].as_u64().expect("end") > end_then,
        "yes kept printing"
    );
    assert_eq!(
        server.metric("tidings_output_writes_total").await,
        last,
        "and the stalled stream still wrote nothing"
    );

    // Reading again: what is buffered, then the stream learns the log
    // dropped what it had not read, and goes on from there.
    let mut parser = Parser::default();
    let mut buf = vec![0u8; 64 * 1024];
    let mut last_id = 0u64;
    let truncated_from = loop {
        let n = tokio::time::timeout(PATIENCE, tcp.read(&mut buf))
            .await
            .expect("data in time")
            .expect("reads");
        assert!(n > 0, "the stream stays open");
        parser.handle_bytes(&buf[..n]);
        let mut found = None;
        while let Some(item) = parser.poll_output() {
            // The HTTP head and chunk sizes are not SSE: skip what the
            // parser cannot make sense of.
            let Ok(SseItem::Message(m)) = item else {
                continue;
            };
            if m.event == "output" {
                last_id = m.last_event_id.parse().unwrap_or(last_id);
            }
            if m.event == "truncated" {
                let data: serde_json::Value = serde_json::from_str(&m.data).expect("JSON data");
                found = data["from"].as_u64();
            }
        }
        if let Some(from) = found {
            break from;
        }
    };
    assert!(
        truncated_from > last_id,
        "the stream jumped ahead: {truncated_from} after {last_id}"
    );
    kill(&server, &id).await;
    server.running.shutdown().await;
}
