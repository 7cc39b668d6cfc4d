//! State changes with cookie (or `--no-auth`) credentials need a positive
//! same-origin signal — `Sec-Fetch-Site: same-origin` or an allowed
//! `Origin` — and JSON routes take only `application/json` bodies (`415`):
//! a form or `text/plain` body is what a cross-site page can send without
//! asking. Bearer requests from scripts need neither header.

mod common;

use hyper::Request;

use common::{session_cookie, start};

const BODY: &str = r#"{"type":"trigger.fired","data":{}}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cookie_post_without_origin_or_sec_fetch_site_is_refused() {
    let server = start(|_| {}).await;
    let cookie = session_cookie(&server).await;
    let post = |extra: &[(&str, &str)]| {
        let mut req = Request::post(format!("{}/api/events", server.base))
            .header("cookie", cookie.as_str())
            .header("content-type", "application/json");
        for (k, v) in extra {
            req = req.header(*k, *v);
        }
        req
    };
    let head = server.running.hub.cursor();
    for refused in [vec![], vec![("sec-fetch-site", "none")]] {
        let (status, v) = server.json(post(&refused), BODY).await;
        assert_eq!(status, 403, "{refused:?}: {v}");
        assert!(
            v["error"]
                .as_str()
                .is_some_and(|e| e.contains("Sec-Fetch-Site")),
            "{v}"
        );
    }
    let req = Request::get(format!("{}/api/tasks/x", server.base))
        .method("DELETE")
        .header("cookie", cookie.as_str());
    assert_eq!(server.send(req, "").await.0, 403, "DELETE too");
    assert_eq!(server.running.hub.cursor(), head, "nothing was published");
    // With the signal it passes.
    let (status, _) = server
        .json(post(&[("sec-fetch-site", "same-origin")]), BODY)
        .await;
    assert_eq!(status, 202);
    server.running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_no_auth_a_post_needs_the_signal_too() {
    let server = start(|c| c.no_auth = true).await;
    let post = || {
        Request::post(format!("{}/api/events", server.base))
            .header("content-type", "application/json")
    };
    assert_eq!(server.send(post(), BODY).await.0, 403);
    let origin = format!("http://{}", server.running.addr);
    assert_eq!(
        server
            .send(post().header("origin", origin.as_str()), BODY)
            .await
            .0,
        202
    );
    server.running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_routes_refuse_other_content_types_with_415() {
    let server = start(|_| {}).await;
    let cookie = session_cookie(&server).await;
    let head = server.running.hub.cursor();
    for content_type in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=x"),
        None,
    ] {
        for (path, body) in [
            ("/api/events", BODY),
            ("/api/tasks", r#"{"command":"true"}"#),
            ("/api/tasks/terminal", "{}"),
        ] {
            let mut req = Request::post(format!("{}{path}", server.base))
                .header("cookie", cookie.as_str())
                .header("sec-fetch-site", "same-origin");
            if let Some(ct) = content_type {
                req = req.header("content-type", ct);
            }
            let (status, v) = server.json(req, body).await;
            assert_eq!(status, 415, "{content_type:?} {path}: {v}");
            assert!(
                v["error"]
                    .as_str()
                    .is_some_and(|e| e.contains("application/json")),
                "{v}"
            );
        }
    }
    assert_eq!(server.running.hub.cursor(), head, "nothing was published");
    let (status, list) = server.json(server.get("/api/tasks"), "").await;
    assert_eq!(status, 200);
    assert_eq!(
        list["tasks"].as_array().map(Vec::len),
        Some(0),
        "no task started"
    );
    server.running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bearer_scripts_need_no_origin() {
    let server = start(|_| {}).await;
    // The bearer token and a JSON content type, no Origin, no Sec-Fetch-Site.
    let req = Request::post(format!("{}/api/events", server.base))
        .header("authorization", format!("Bearer {}", common::TOKEN))
        .header("content-type", "application/json; charset=utf-8");
    assert_eq!(server.send(req, BODY).await.0, 202);
    // An empty body needs no content type where the route takes one.
    let req = Request::post(format!("{}/api/tasks/terminal", server.base))
        .header("authorization", format!("Bearer {}", common::TOKEN));
    let (status, task) = server.json(req, "").await;
    assert_eq!(status, 201, "{task}");
    server.running.shutdown().await;
}
