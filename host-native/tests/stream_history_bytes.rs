//! `--history-bytes`: large events push the oldest out of the history sooner
//! than the count would; an id that fell out does not resume, one still held
//! resumes exactly.

mod common;

use common::start;
use hyper::StatusCode;
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_id_pushed_out_by_bytes_does_not_resume_and_a_held_one_resumes_exactly() {
    let server = start(|c| c.history_bytes = 64 * 1024).await;
    let pad = "x".repeat(8 * 1024);
    let mut ids = Vec::new();
    for n in 0..20 {
        let (status, v) = server
            .json(
                server.post("/api/events"),
                &json!({"type": "blob.put", "data": {"n": n, "pad": pad}}).to_string(),
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{v}");
        ids.push(v["id"].as_str().expect("an id").to_owned());
    }
    // 20 frames of 8 KiB: the count (4096) keeps them all, 64 KiB about 7.
    let mut old = server
        .stream("", &[("last-event-id", ids[0].as_str())])
        .await;
    assert_eq!(old.ready().await["resumed"], Value::Bool(false));

    let from = &ids[13];
    let mut sse = server.stream("", &[("last-event-id", from.as_str())]).await;
    assert_eq!(sse.ready().await["resumed"], Value::Bool(true));
    let mut got = Vec::new();
    while got.len() < 6 {
        got.push(sse.expect().await.last_event_id);
    }
    assert_eq!(got, ids[14..].to_vec(), "no gap and no duplicate");
    server.running.shutdown().await;
}
