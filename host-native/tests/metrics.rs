//! `/metrics`: Prometheus text with every promised figure, tracking reality.

mod common;

use common::start;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_name_every_figure_and_follow_streams_events_and_tasks() {
    let server = start(|_| {}).await;
    let (status, headers, text) = server.send(server.get("/metrics"), "").await;
    assert_eq!(status, 200);
    assert!(headers["content-type"]
        .to_str()
        .is_ok_and(|c| c.starts_with("text/plain; version=0.0.4")));
    for name in [
        "tidings_open_streams",
        "tidings_streams_refused_total",
        "tidings_subscribers",
        "tidings_events_published_total",
        "tidings_events_dropped_total",
        "tidings_lagged_total",
        "tidings_events_conflated_total",
        "tidings_history_events",
        "tidings_history_bytes",
        "tidings_reconcile_duration_seconds",
        "tidings_reconcile_passes_total",
    ] {
        assert!(
            text.contains(&format!("# TYPE {name} ")),
            "{name} in {text}"
        );
        assert!(
            text.lines().any(|l| l.starts_with(&format!("{name} "))),
            "{name} sample"
        );
    }
    for status in [
        "running",
        "waiting-for-input",
        "completed",
        "killed",
        "error",
    ] {
        assert!(
            text.contains(&format!("tidings_tasks{{status=\"{status}\"}} ")),
            "{status}"
        );
    }

    let mut sse = server.stream("", &[]).await;
    sse.ready().await;
    assert_eq!(server.metric("tidings_open_streams").await, 1.0);
    assert_eq!(server.metric("tidings_subscribers").await, 1.0);
    server.post_event("trigger.fired", 1).await;
    server.post_event("trigger.fired", 2).await;
    assert_eq!(server.metric("tidings_events_published_total").await, 2.0);

    let (status, task) = server
        .json(server.post("/api/tasks"), r#"{"command":["sleep","30"]}"#)
        .await;
    assert_eq!(status, 201, "{task}");
    assert_eq!(
        server.metric("tidings_tasks{status=\"running\"}").await,
        1.0
    );
    let id = task["id"].as_str().expect("an id");
    let (status, _) = server
        .json(server.get(&format!("/api/tasks/{id}")).method("DELETE"), "")
        .await;
    assert_eq!(status, 200);
    assert_eq!(server.metric("tidings_tasks{status=\"killed\"}").await, 1.0);
    assert_eq!(
        server.metric("tidings_tasks{status=\"running\"}").await,
        0.0
    );
    // created + status(killed) on top of the two triggers.
    assert_eq!(server.metric("tidings_events_published_total").await, 4.0);
    server.running.shutdown().await;
}
