//! `--max-event-bytes` caps an event by its encoded SSE frame, computed as
//! the broker would encode it: a 64 KiB body of `1e15` numbers (each
//! re-encoded as `1000000000000000.0`) would become a ~250 KiB frame, so it
//! is refused with `413` and nothing is published.

mod common;

use common::start;

/// A publish body of about `target` bytes whose data is `1e15` numbers.
fn numbers_body(target: usize) -> String {
    let mut numbers = String::from("1e15");
    while numbers.len() + 64 < target {
        numbers.push_str(",1e15");
    }
    format!(r#"{{"type":"bench.blowup","data":{{"n":[{numbers}]}}}}"#)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_would_blow_up_into_a_huge_frame_is_413_and_not_published() {
    let server = start(|_| {}).await;
    let mut sse = server.stream("", &[]).await;
    sse.ready().await;
    let head = server.running.hub.cursor();
    let body = numbers_body(60 * 1024);
    assert!(
        body.len() < 64 * 1024,
        "the body itself is under --max-body"
    );
    let (status, v) = server.json(server.post("/api/events"), &body).await;
    assert_eq!(status, 413, "{v}");
    let error = v["error"].as_str().expect("an error");
    assert!(
        error.contains("65536") && error.contains("--max-event-bytes"),
        "{error}"
    );
    let size: usize = error
        .split_whitespace()
        .find_map(|w| w.parse().ok())
        .expect("the frame size in the message");
    assert!(size > 200 * 1024, "{error}");
    assert_eq!(server.running.hub.cursor(), head, "nothing was published");

    // An event that fits goes out, and it is the first one the stream sees.
    let id = server.post_event("trigger.fired", 7).await;
    let m = sse.expect().await;
    assert_eq!(
        (m.event.as_str(), m.last_event_id.as_str()),
        ("trigger.fired", id.as_str())
    );
    server.running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cap_is_the_encoded_frame_and_can_be_raised() {
    let small = start(|c| c.max_event_bytes = 1024).await;
    // A 1000-byte string: its frame (id, type, JSON) is over 1024 bytes.
    let body = format!(r#"{{"type":"a","data":{{"s":"{}"}}}}"#, "x".repeat(1000));
    assert_eq!(small.json(small.post("/api/events"), &body).await.0, 413);
    let fits = format!(r#"{{"type":"a","data":{{"s":"{}"}}}}"#, "x".repeat(900));
    assert_eq!(small.json(small.post("/api/events"), &fits).await.0, 202);
    small.running.shutdown().await;

    let large = start(|c| c.max_event_bytes = 512 * 1024).await;
    let body = numbers_body(60 * 1024);
    assert_eq!(large.json(large.post("/api/events"), &body).await.0, 202);
    large.running.shutdown().await;
}
