//! Bad requests for an output stream get a JSON error and open nothing:
//! `400` for a `from` or `Last-Event-ID` that is not a byte offset or lies
//! past the log's end, or a bad `heartbeat`; `404` for an unknown task; and
//! `HEAD` answers exactly what `GET` would, without opening a stream.

mod common;
mod output_support;

use hyper::Request;

use common::{start, TOKEN};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_offsets_and_unknown_tasks_are_refused_with_json() {
    let server = start(|_| {}).await;
    let id = server.create_task("printf 'hello'").await;
    server.wait_final(&id).await;
    let path = |q: &str| format!("/api/tasks/{id}/output/stream{q}");
    let cases: Vec<(String, Option<&str>, u16, &str)> = vec![
        (path("?from=abc"), None, 400, "from must be a byte offset"),
        (path("?from=-1"), None, 400, "from must be a byte offset"),
        (path("?from=1&from=2"), None, 400, "given twice"),
        (
            path("?from=6"),
            None,
            400,
            "past the end of the task's output (5)",
        ),
        (
            path(""),
            Some("1f-3"),
            400,
            "Last-Event-ID must be a byte offset",
        ),
        (path("?from=0"), Some("99"), 400, "past the end"),
        (path("?heartbeat=loud"), None, 400, "heartbeat must be"),
        (
            "/api/tasks/t-no-such-task/output/stream".into(),
            None,
            404,
            "no such task",
        ),
        (
            "/api/tasks/not%20an%20id/output/stream".into(),
            None,
            404,
            "no such task",
        ),
    ];
    for (p, header, status, message) in &cases {
        let mut req = server.get(p);
        if let Some(h) = header {
            req = req.header("last-event-id", *h);
        }
        let (got, body) = server.json(req, "").await;
        assert_eq!(got.as_u16(), *status, "{p}: {body}");
        let error = body["error"].as_str().expect("an error message");
        assert!(error.contains(message), "{p}: {error}");

        let mut head = Request::head(format!("{}{p}", server.base))
            .header("authorization", format!("Bearer {TOKEN}"));
        if let Some(h) = header {
            head = head.header("last-event-id", *h);
        }
        let (got, _, _) = server.send(head, "").await;
        assert_eq!(got.as_u16(), *status, "HEAD {p}");
    }
    assert_eq!(server.metric("tidings_open_streams").await, 0.0);
    assert_eq!(server.metric("tidings_streams_refused_total").await, 0.0);

    let (ok, headers, body) = server
        .send(
            Request::head(format!("{}{}", server.base, path("?from=5")))
                .header("authorization", format!("Bearer {TOKEN}")),
            "",
        )
        .await;
    assert_eq!(ok, 200);
    assert_eq!(headers["content-type"], "text/event-stream");
    assert!(body.is_empty());
    assert_eq!(server.metric("tidings_open_streams").await, 0.0);

    // Other methods: 405 with the ones the route takes.
    let (status, headers, _) = server.send(server.post(&path("")), "{}").await;
    assert_eq!(status, 405);
    assert_eq!(headers["allow"], "GET, HEAD");

    // And without credentials, 401 like every /api route.
    let (status, _, _) = server
        .send(Request::get(format!("{}{}", server.base, path(""))), "")
        .await;
    assert_eq!(status, 401);
    server.running.shutdown().await;
}
