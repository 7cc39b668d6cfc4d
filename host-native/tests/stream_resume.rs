//! `ready`, resume and replay: no gap and no duplicate between the replayed
//! history and the live events, whichever way the id is sent.

mod common;

use common::{seq, start};
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_stream_is_not_resumed_and_sees_live_events() {
    let server = start(|_| {}).await;
    let mut sse = server.stream("", &[]).await;
    assert_eq!(sse.headers["content-type"], "text/event-stream");
    assert_eq!(
        sse.headers["cache-control"],
        "no-cache, no-store, must-revalidate"
    );
    assert_eq!(sse.headers["x-accel-buffering"], "no");
    assert!(sse.raw.is_empty());
    let ready = sse.ready().await;
    assert!(sse.raw.starts_with(b"retry: 2000\n"), "retry comes first");
    assert_eq!(ready["resumed"], Value::Bool(false));
    let epoch = ready["epoch"].as_str().expect("an epoch").to_owned();
    assert_eq!(ready["head"], format!("{epoch}-0"));
    let id = server.post_event("trigger.fired", 1).await;
    let m = sse.expect().await;
    assert_eq!(
        (m.event.as_str(), m.last_event_id.as_str()),
        ("trigger.fired", id.as_str())
    );
    assert_eq!(m.data, r#"{"n":1}"#);
    server.running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_replays_exactly_the_missed_events_then_continues_live() {
    let server = start(|_| {}).await;
    let mut ids = Vec::new();
    for n in 0..5 {
        ids.push(server.post_event("trigger.fired", n).await);
    }
    // Resume from the second event: 3 missed, then live ones.
    let mut sse = server
        .stream("", &[("last-event-id", ids[1].as_str())])
        .await;
    let ready = sse.ready().await;
    assert_eq!(ready["resumed"], Value::Bool(true));
    assert_eq!(ready["head"], ids[4].as_str());
    // Publish while the replay may still be in flight: still in order.
    for n in 5..8 {
        ids.push(server.post_event("trigger.fired", n).await);
    }
    let mut got = Vec::new();
    while got.len() < 6 {
        got.push(sse.expect().await.last_event_id);
    }
    assert_eq!(got, ids[2..8].to_vec(), "no gap and no duplicate");
    server.running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_query_id_resumes_and_the_header_wins_over_it() {
    let server = start(|_| {}).await;
    let a = server.post_event("trigger.fired", 1).await;
    let b = server.post_event("trigger.fired", 2).await;
    let mut by_query = server.stream(&format!("?last_event_id={a}"), &[]).await;
    assert_eq!(by_query.ready().await["resumed"], Value::Bool(true));
    assert_eq!(by_query.expect().await.last_event_id, b);
    // Header names b, query names a: only events after b.
    let mut both = server
        .stream(
            &format!("?last_event_id={a}"),
            &[("last-event-id", b.as_str())],
        )
        .await;
    assert_eq!(both.ready().await["resumed"], Value::Bool(true));
    let c = server.post_event("trigger.fired", 3).await;
    assert_eq!(both.expect().await.last_event_id, c);
    server.running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_list_cursor_resumes_even_before_any_event() {
    let server = start(|_| {}).await;
    let (_, list) = server.json(server.get("/api/tasks"), "").await;
    let cursor = list["cursor"].as_str().expect("a cursor").to_owned();
    let mut sse = server
        .stream("", &[("last-event-id", cursor.as_str())])
        .await;
    assert_eq!(sse.ready().await["resumed"], Value::Bool(true));
    let id = server.post_event("trigger.fired", 1).await;
    assert_eq!(seq(&id), seq(&cursor) + 1);
    assert_eq!(sse.expect().await.last_event_id, id);
    server.running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_foreign_old_or_malformed_ids_are_simply_not_resumed() {
    let server = start(|c| {
        c.history = 4;
        c.queue = 2;
    })
    .await;
    let first = server.post_event("trigger.fired", 0).await;
    for n in 1..10 {
        server.post_event("trigger.fired", n).await;
    }
    let epoch = first.split('-').next().expect("an epoch").to_owned();
    let foreign = if epoch == "1" { "2-1" } else { "1-1" };
    let ahead = format!("{epoch}-999");
    for id in [
        first.as_str(),
        foreign,
        ahead.as_str(),
        "garbage",
        "a-b-c",
        "",
    ] {
        let mut sse = server.stream("", &[("last-event-id", id)]).await;
        assert_eq!(sse.status, 200, "{id:?}");
        assert_eq!(sse.ready().await["resumed"], Value::Bool(false), "{id:?}");
    }
    server.running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seq_continues_above_persisted_versions_across_a_restart() {
    let data = tempfile::tempdir().expect("a temp dir");
    let cfg = common::config(&data);
    let first = tidings::start(cfg.clone()).await.expect("starts");
    let server = common::Server {
        base: format!("http://{}", first.addr),
        running: first,
        client: hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build_http(),
        _data: tempfile::tempdir().expect("a temp dir"),
    };
    let (status, task) = server
        .json(server.post("/api/tasks"), r#"{"command":"true"}"#)
        .await;
    assert_eq!(status, 201, "{task}");
    let version = task["version"].as_u64().expect("a version");
    let old_epoch = server.running.hub.epoch();
    server.running.shutdown().await;
    let second = tidings::start(cfg).await.expect("restarts");
    assert_ne!(second.hub.epoch(), old_epoch, "a new epoch per start");
    assert!(
        second.hub.cursor().seq >= version,
        "seq never goes backwards"
    );
    second.shutdown().await;
}
