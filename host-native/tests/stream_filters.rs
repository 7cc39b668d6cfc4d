//! `types` and `task` filters, and the stream cap.

mod common;

use broker_core::{EventType, TaskId};
use serde_json::Map;

use common::start;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn type_patterns_and_task_filters_select_events() {
    let server = start(|_| {}).await;
    let mut exact = server.stream("?types=memory.changed", &[]).await;
    let mut prefix = server.stream("?types=trigger.*,memory.changed", &[]).await;
    let mut task = server.stream("?task=t-1", &[]).await;
    for sse in [&mut exact, &mut prefix, &mut task] {
        sse.ready().await;
    }
    let hub = &server.running.hub;
    let kind = |k: &str| EventType::new(k).expect("a type");
    let fired = hub
        .publish(kind("trigger.fired"), None, Map::new())
        .to_string();
    let memory = hub
        .publish(kind("memory.changed"), None, Map::new())
        .to_string();
    let other = hub.publish(
        kind("other.thing"),
        Some(TaskId::new("t-2").expect("id")),
        Map::new(),
    );
    let of_task = hub
        .publish(
            kind("trigger.done"),
            Some(TaskId::new("t-1").expect("id")),
            Map::new(),
        )
        .to_string();
    let _ = other;
    let last = hub
        .publish(kind("memory.changed"), None, Map::new())
        .to_string();

    let mut got = Vec::new();
    while got.last() != Some(&last) {
        got.push(exact.expect().await.last_event_id);
    }
    assert_eq!(got, [memory.clone(), last.clone()]);

    let mut got = Vec::new();
    while got.last() != Some(&last) {
        got.push(prefix.expect().await.last_event_id);
    }
    assert_eq!(got, [fired, memory, of_task.clone(), last]);

    assert_eq!(task.expect().await.last_event_id, of_task);
    server.running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_filter_is_a_400_before_the_stream_starts() {
    let server = start(|_| {}).await;
    for query in [
        "?types=",
        "?types=*",
        "?types=a%20b",
        "?task=..%2Fx",
        "?types=a&types=b",
    ] {
        let (status, v) = server
            .json(server.get(&format!("/api/events{query}")), "")
            .await;
        assert_eq!(status, 400, "{query}: {v}");
        assert!(v["error"].is_string());
    }
    assert_eq!(server.metric("tidings_subscribers").await, 0.0);
    server.running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stream_cap_answers_503_with_retry_after_and_frees_slots() {
    let server = start(|c| c.max_streams = 2).await;
    let mut a = server.stream("", &[]).await;
    a.ready().await;
    let mut b = server.stream("", &[]).await;
    b.ready().await;
    let (status, headers, text) = server.send(server.get("/api/events"), "").await;
    assert_eq!(status, 503, "{text}");
    assert_eq!(headers["retry-after"], "2");
    assert_eq!(headers["content-type"], "application/json");
    assert!(text.contains("\"error\""));
    assert_eq!(server.metric("tidings_streams_refused_total").await, 1.0);
    drop(a);
    server.wait_metric("tidings_open_streams", 1.0).await;
    let mut c = server.stream("", &[]).await;
    c.ready().await;
    server.running.shutdown().await;
}
