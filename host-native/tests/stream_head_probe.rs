//! `HEAD /api/events` answers what a `GET` would, without subscribing: the
//! one cheap request a browser makes to learn why its `EventSource` failed.

mod common;

use common::start;
use hyper::Request;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn head_tells_the_status_a_stream_would_get_and_subscribes_nothing() {
    let server = start(|c| c.max_streams = 1).await;
    let head = |query: &str, token: bool| {
        let req = Request::head(format!("{}/api/events{query}", server.base));
        if token {
            req.header("authorization", format!("Bearer {}", common::TOKEN))
        } else {
            req
        }
    };
    let (status, headers, body) = server.send(head("?heartbeat=event", true), "").await;
    assert_eq!(status, 200);
    assert!(headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream")));
    assert!(body.is_empty());
    assert_eq!(
        server.metric("tidings_subscribers").await,
        0.0,
        "no subscription"
    );

    let (status, _, _) = server.send(head("", false), "").await;
    assert_eq!(status, 401, "no credentials");
    let (status, _, _) = server.send(head("?types=a,,b", true), "").await;
    assert_eq!(status, 400, "a malformed filter");

    // At the cap (one stream here): 503 with Retry-After, as GET would say.
    let _open = server.stream("", &[]).await;
    server.wait_metric("tidings_subscribers", 1.0).await;
    let (status, headers, _) = server.send(head("", true), "").await;
    assert_eq!(status, 503);
    assert!(headers.get("retry-after").is_some(), "{headers:?}");
    server.running.shutdown().await;
}
