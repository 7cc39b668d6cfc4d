//! How an output stream ends: `end {"reason": "finished"}` once the task is
//! final and its whole log was sent (at once for a task that already
//! finished, and for a killed one too); `max-lifetime` after the stream's
//! lifetime, from where a resumption goes on; `shutdown` when the server
//! stops. A running task's stream does not end by itself.

mod common;
mod output_support;

use std::time::Duration;

use common::start;
use output_support::{read_to_end, read_until};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finished_task_ends_its_stream_after_the_last_byte() {
    let server = start(|_| {}).await;
    let id = server
        .create_task("echo first; sleep 0.3; printf 'last line'")
        .await;
    let mut sse = server.output_stream(&id, "", &[]).await;
    let seen = read_to_end(&mut sse).await;
    assert_eq!(seen.end.as_deref(), Some("finished"));
    assert!(seen.text().ends_with("last line"), "{:?}", seen.text());
    let (_, log) = server.log(&id);
    assert_eq!(seen.last_id(), Some(log.len() as u64));
    // `finished` comes once the task is final: a client asking now sees it.
    let (_, task) = server
        .json(server.get(&format!("/api/tasks/{id}")), "")
        .await;
    assert_eq!(task["status"], "completed", "{task}");

    // A stream of a task that already finished: everything, then `end`.
    let mut later = server.output_stream(&id, "", &[]).await;
    let again = read_to_end(&mut later).await;
    assert_eq!(again.text(), seen.text());
    assert_eq!(again.end.as_deref(), Some("finished"));
    server.running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_task_ends_its_stream_as_finished() {
    let server = start(|_| {}).await;
    let id = server.create_task("echo started; sleep 30").await;
    let mut sse = server.output_stream(&id, "", &[]).await;
    let mut seen = read_until(&mut sse, |s| s.text().contains("started")).await;
    // Still running: no end by itself.
    let quiet = tokio::time::timeout(Duration::from_millis(400), sse.next()).await;
    assert!(
        quiet.is_err(),
        "a running task's stream stays open: {quiet:?}"
    );
    let (status, _) = server
        .json(
            hyper::Request::delete(format!("{}/api/tasks/{id}", server.base))
                .header("authorization", format!("Bearer {}", common::TOKEN)),
            "",
        )
        .await;
    assert_eq!(status, 200);
    output_support::follow(&mut sse, &mut seen, |_| false).await;
    assert_eq!(seen.end.as_deref(), Some("finished"));
    server.running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lifetime_ends_a_stream_and_a_resumption_goes_on_from_its_last_id() {
    let lifetime = Duration::from_millis(500);
    let server = start(|c| c.stream_lifetime = lifetime).await;
    let id = server
        .create_task("i=0; while [ $i -lt 12 ]; do echo tick $i; i=$((i+1)); sleep 0.1; done")
        .await;
    let mut text = String::new();
    let mut last: Option<u64> = None;
    let mut ends = Vec::new();
    loop {
        let header = last.map(|l| l.to_string());
        let headers: Vec<(&str, &str)> = header
            .iter()
            .map(|h| ("last-event-id", h.as_str()))
            .collect();
        let mut sse = server.output_stream(&id, "", &headers).await;
        let seen = read_to_end(&mut sse).await;
        text.push_str(&seen.text());
        last = seen.last_id().or(last);
        let reason = seen.end.clone().expect("an end");
        ends.push(reason.clone());
        if reason == "finished" {
            break;
        }
        assert_eq!(reason, "max-lifetime");
        assert!(ends.len() < 20, "{ends:?}");
    }
    assert!(
        ends.len() >= 2,
        "the 1.2 s task outlived a stream: {ends:?}"
    );
    let (_, log) = server.log(&id);
    assert_eq!(text, String::from_utf8_lossy(&log), "no gap, no repeat");
    server.running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_ends_the_stream() {
    let server = start(|_| {}).await;
    let id = server.create_task("echo up; sleep 30").await;
    let mut sse = server.output_stream(&id, "", &[]).await;
    let mut seen = read_until(&mut sse, |s| s.text().contains("up")).await;
    let stopping = tokio::spawn(async move { server.running.shutdown().await });
    output_support::follow(&mut sse, &mut seen, |_| false).await;
    assert_eq!(seen.end.as_deref(), Some("shutdown"));
    stopping.await.expect("shutdown finishes");
}
