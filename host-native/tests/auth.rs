//! Credentials: bearer, the cookie set by `/?token=`, and the same-origin
//! rule for cookie-authenticated state changes.

mod common;

use bytes::Bytes;
use http_body_util::Full;
use hyper::Request;

use common::{start, TOKEN};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_api_route_and_metrics_need_credentials() {
    let server = start(|_| {}).await;
    for (method, path) in [
        ("GET", "/api/events"),
        ("POST", "/api/events"),
        ("GET", "/api/tasks"),
        ("POST", "/api/tasks"),
        ("GET", "/api/tasks/x"),
        ("GET", "/api/health"),
        ("GET", "/api/openapi.json"),
        ("GET", "/api/nope"),
        ("GET", "/metrics"),
    ] {
        let req = Request::builder()
            .method(method)
            .uri(format!("{}{path}", server.base));
        let (status, headers, text) = server.send(req, "{}").await;
        assert_eq!(status, 401, "{method} {path}: {text}");
        assert_eq!(headers["www-authenticate"], "Bearer");
        assert!(text.contains("\"error\""));
        let wrong = Request::builder()
            .method(method)
            .uri(format!("{}{path}", server.base))
            .header("authorization", "Bearer not-the-token-at-all");
        assert_eq!(server.send(wrong, "{}").await.0, 401, "{method} {path}");
    }
    server.running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opening_the_url_sets_a_cookie_and_redirects_to_a_clean_url() {
    let server = start(|_| {}).await;
    let port = server.running.addr.port();
    assert_eq!(
        server.running.url(),
        format!("{}/?token={TOKEN}", server.base)
    );
    let (status, headers, _) = server
        .send(
            Request::get(format!("{}/?token={TOKEN}&tab=2", server.base)),
            "",
        )
        .await;
    assert_eq!(status, 303);
    assert_eq!(headers["location"], "/?tab=2");
    let cookie = headers["set-cookie"].to_str().expect("text").to_owned();
    assert!(
        cookie.starts_with(&format!("tidings_token_{port}=")),
        "{cookie}"
    );
    let pair = cookie.split(';').next().expect("name=value").to_owned();

    // The cookie alone opens the stream (what EventSource does).
    let req = Request::get(format!("{}/api/events", server.base))
        .header("cookie", pair.as_str())
        .body(Full::<Bytes>::default())
        .expect("a request");
    let resp = server.client.request(req).await.expect("answers");
    let mut sse = common::Sse::new(resp);
    sse.ready().await;

    // A wrong token in the URL sets nothing.
    let (status, headers, _) = server
        .send(Request::get(format!("{}/?token=wrong", server.base)), "")
        .await;
    assert_eq!(status, 401);
    assert!(headers.get("set-cookie").is_none());
    server.running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cookie_requests_that_change_state_must_come_from_the_same_origin() {
    let server = start(|_| {}).await;
    let cookie = common::session_cookie(&server).await;
    let host = server.running.addr.to_string();
    let post = |extra: &[(&str, &str)]| {
        let mut req = Request::post(format!("{}/api/events", server.base))
            .header("cookie", cookie.as_str())
            .header("content-type", "application/json");
        for (k, v) in extra {
            req = req.header(*k, *v);
        }
        req
    };
    let body = r#"{"type":"trigger.fired","data":{}}"#;
    let same = format!("http://{host}");
    assert_eq!(
        server
            .send(post(&[("origin", same.as_str())]), body)
            .await
            .0,
        202
    );
    assert_eq!(
        server
            .send(post(&[("sec-fetch-site", "same-origin")]), body)
            .await
            .0,
        202
    );
    for refused in [
        vec![("origin", "http://evil.example")],
        vec![("origin", "http://localhost:1")],
        vec![("origin", "null")],
        vec![("sec-fetch-site", "same-site")],
        vec![("sec-fetch-site", "cross-site"), ("origin", same.as_str())],
    ] {
        let (status, _, text) = server.send(post(&refused), body).await;
        assert_eq!(status, 403, "{refused:?}: {text}");
        assert!(text.contains("cross-origin"), "{text}");
    }
    // Reading with the cookie needs no signal, and gets no CORS headers.
    let req = Request::get(format!("{}/api/tasks", server.base)).header("cookie", cookie.as_str());
    let (status, headers, _) = server.send(req, "").await;
    assert_eq!(status, 200);
    assert!(headers.get("access-control-allow-origin").is_none());
    // A foreign Origin is refused even on a read.
    let req = Request::get(format!("{}/api/tasks", server.base))
        .header("cookie", cookie.as_str())
        .header("origin", "http://evil.example");
    assert_eq!(server.send(req, "").await.0, 403);
    // Bearer credentials need no origin signal: no page can attach them.
    assert_eq!(server.send(server.post("/api/events"), body).await.0, 202);
    server.running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_auth_refuses_a_non_loopback_address_and_serves_loopback_openly() {
    let data = tempfile::tempdir().expect("a temp dir");
    let mut cfg = common::config(&data);
    cfg.no_auth = true;
    cfg.addr = "0.0.0.0:0".parse().expect("an address");
    let err = tidings::start(cfg.clone()).await.expect_err("refused");
    assert!(
        matches!(err, tidings::StartError::NoAuthNonLoopback(_)),
        "{err}"
    );

    cfg.addr = "127.0.0.1:0".parse().expect("an address");
    let running = tidings::start(cfg).await.expect("starts on loopback");
    assert_eq!(running.url(), format!("http://{}/", running.addr));
    let server = common::Server {
        base: format!("http://{}", running.addr),
        running,
        client: hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build_http(),
        _data: data,
    };
    let req = Request::get(format!("{}/api/health", server.base));
    assert_eq!(server.send(req, "").await.0, 200);
    // Open, but pages from other origins still cannot change state.
    let req = Request::post(format!("{}/api/events", server.base))
        .header("content-type", "application/json")
        .header("origin", "http://evil.example");
    assert_eq!(server.send(req, r#"{"type":"a"}"#).await.0, 403);
    let req = Request::post(format!("{}/api/events", server.base))
        .header("content-type", "application/json")
        .header("origin", format!("http://{}", server.running.addr));
    assert_eq!(server.send(req, r#"{"type":"a"}"#).await.0, 202);
    server.running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_file_is_created_once_and_reused() {
    let data = tempfile::tempdir().expect("a temp dir");
    let file = data.path().join("token");
    let mut cfg = common::config(&data);
    cfg.token = tidings::TokenSource::File(file.clone());
    let first = tidings::start(cfg.clone()).await.expect("starts");
    let token = first.token.clone();
    assert_eq!(
        std::fs::read_to_string(&file).expect("written").trim(),
        token
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file)
            .expect("metadata")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    first.shutdown().await;
    let second = tidings::start(cfg).await.expect("restarts");
    assert_eq!(second.token, token);
    second.shutdown().await;
}
