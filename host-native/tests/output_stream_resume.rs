//! Resuming an output stream is exact both ways: with the `Last-Event-ID`
//! header (what an `EventSource` sends when it reconnects) and with
//! `?from=OFFSET` (a fresh `EventSource`, which cannot set headers); the
//! header wins when both are given. The texts of a stream and its
//! resumptions concatenate to the log, with no gap and no repeat.

mod common;
mod output_support;

use common::start;
use output_support::{read_to_end, read_until};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_and_its_resumptions_concatenate_to_the_log() {
    let server = start(|_| {}).await;
    let id = server
        .create_task(
            "i=0; while [ $i -lt 20 ]; do echo \"line $i: é€\"; i=$((i+1)); sleep 0.05; done",
        )
        .await;
    // Three chunks, then the client goes away.
    let mut first = server.output_stream(&id, "", &[]).await;
    let a = read_until(&mut first, |s| s.chunks.len() >= 3).await;
    drop(first);
    let after_a = a.last_id().expect("chunks").to_string();
    // Resumed with the header: three more.
    let mut second = server
        .output_stream(&id, "", &[("last-event-id", &after_a)])
        .await;
    let b = read_until(&mut second, |s| s.chunks.len() >= 3).await;
    drop(second);
    assert!(b.chunks[0].0 > a.last_id().expect("an id"));
    // Resumed with `?from=`: to the end.
    let after_b = b.last_id().expect("chunks");
    let mut third = server
        .output_stream(&id, &format!("?from={after_b}"), &[])
        .await;
    let c = read_to_end(&mut third).await;
    assert_eq!(c.end.as_deref(), Some("finished"));

    let (_, log) = server.log(&id);
    let joined = format!("{}{}{}", a.text(), b.text(), c.text());
    assert_eq!(joined, String::from_utf8_lossy(&log));
    assert!(!joined.contains('\u{FFFD}'));
    server.running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_header_wins_over_from_and_the_end_of_a_finished_log_is_only_end() {
    let server = start(|_| {}).await;
    let id = server.create_task("printf 'abcdefghij'").await;
    server.wait_final(&id).await;
    let (_, log) = server.log(&id);
    assert_eq!(log, b"abcdefghij");

    let mut both = server
        .output_stream(&id, "?from=2", &[("last-event-id", "7")])
        .await;
    let seen = read_to_end(&mut both).await;
    assert_eq!(seen.text(), "hij", "from the header's offset");
    assert_eq!(seen.last_id(), Some(10));

    let mut from = server.output_stream(&id, "?from=2", &[]).await;
    assert_eq!(read_to_end(&mut from).await.text(), "cdefghij");

    // An empty header is no id at all: `?from=` applies.
    let mut empty = server
        .output_stream(&id, "?from=9", &[("last-event-id", "")])
        .await;
    assert_eq!(read_to_end(&mut empty).await.text(), "j");

    let mut at_end = server.output_stream(&id, "?from=10", &[]).await;
    let seen = read_to_end(&mut at_end).await;
    assert!(seen.chunks.is_empty(), "{seen:?}");
    assert_eq!(seen.end.as_deref(), Some("finished"));
    assert_eq!(seen.ready["end"], 10);
    server.running.shutdown().await;
}
