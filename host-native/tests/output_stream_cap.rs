//! Output streams count toward the stream cap with `GET /api/events`: at the
//! cap either kind gets `503` with `Retry-After` (and `HEAD` says so too), a
//! closed stream gives its place back at once, and `/metrics` counts the
//! output streams open.

mod common;
mod output_support;

use hyper::Request;

use common::{start, TOKEN};
use output_support::read_until;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_and_event_streams_share_the_cap() {
    let server = start(|c| c.max_streams = 2).await;
    let id = server.create_task("echo hi; sleep 30").await;
    let mut events = server.stream("", &[]).await;
    events.ready().await;
    let mut output = server.output_stream(&id, "", &[]).await;
    read_until(&mut output, |s| s.text().contains("hi")).await;
    assert_eq!(server.metric("tidings_output_streams").await, 1.0);
    assert_eq!(server.metric("tidings_open_streams").await, 2.0);

    let (status, headers, body) = server
        .send(server.get(&format!("/api/tasks/{id}/output/stream")), "")
        .await;
    assert_eq!(status, 503, "{body}");
    assert!(
        headers["retry-after"]
            .to_str()
            .expect("text")
            .parse::<u64>()
            .expect("seconds")
            >= 1
    );
    assert!(body.contains("too many open streams"), "{body}");
    let (status, _, _) = server.send(server.get("/api/events"), "").await;
    assert_eq!(status, 503, "event streams are refused too");
    let (status, headers, _) = server
        .send(
            Request::head(format!("{}/api/tasks/{id}/output/stream", server.base))
                .header("authorization", format!("Bearer {TOKEN}")),
            "",
        )
        .await;
    assert_eq!(status, 503);
    assert!(headers.contains_key("retry-after"));

    drop(output);
    server.wait_metric("tidings_output_streams", 0.0).await;
    server.wait_metric("tidings_open_streams", 1.0).await;
    let mut again = server.output_stream(&id, "", &[]).await;
    assert_eq!(again.ready().await["task_id"], id.as_str());
    server.running.shutdown().await;
}
