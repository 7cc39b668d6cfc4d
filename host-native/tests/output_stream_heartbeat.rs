//! A quiet output stream beats: the `: keep-alive` comment by default, or
//! `event: heartbeat` with `{}` and no id with `heartbeat=event` (what a
//! browser asks for), every `heartbeat_ms` that `ready` announces.

mod common;
mod output_support;

use std::time::{Duration, Instant};

use common::start;
use output_support::read_until;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quiet_stream_beats_in_the_asked_for_form() {
    let server = start(|c| c.heartbeat = Duration::from_millis(150)).await;
    let id = server.create_task("echo hi; sleep 30").await;

    let mut comments = server.output_stream(&id, "", &[]).await;
    let seen = read_until(&mut comments, |s| s.text().contains("hi")).await;
    assert_eq!(seen.ready["heartbeat_ms"], 150);
    let before = comments.raw.len();
    let began = Instant::now();
    while !comments.raw[before..].ends_with(b": keep-alive\n\n") {
        assert!(comments.read_chunk().await, "the stream stays open");
    }
    assert!(began.elapsed() >= Duration::from_millis(100));

    let mut events = server.output_stream(&id, "?heartbeat=event", &[]).await;
    let mut seen = read_until(&mut events, |s| s.text().contains("hi")).await;
    let before = events.raw.len();
    output_support::follow(&mut events, &mut seen, |s| s.heartbeats >= 2).await;
    assert_eq!(seen.heartbeats, 2);
    let raw = String::from_utf8_lossy(&events.raw[before..]).into_owned();
    assert!(raw.contains("event: heartbeat\ndata: {}\n\n"), "{raw}");
    assert!(
        !raw.contains(": keep-alive"),
        "no comment in the event form"
    );
    assert!(!raw.contains("id:"), "a heartbeat carries no id");
    server.running.shutdown().await;
}
