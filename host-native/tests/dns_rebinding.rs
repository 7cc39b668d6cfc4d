//! The Host allowlist: a page whose name was rebound to 127.0.0.1 sends its
//! own name as `Host` and `Origin` and `Sec-Fetch-Site: same-origin`. Even
//! with `--no-auth` it must not create a task, and foreign Hosts do not get
//! the dashboard. Names given with `--allowed-host` are served.

mod common;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::Request;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::Value;
use tokio::net::TcpStream;

use common::start;

fn www() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temp dir");
    std::fs::write(dir.path().join("index.html"), "<h1>dashboard</h1>").expect("writes");
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rebinding_headers_cannot_create_a_task_even_with_no_auth() {
    let files = www();
    let server = start(|c| {
        c.no_auth = true;
        c.www = Some(files.path().to_path_buf());
    })
    .await;
    let port = server.running.addr.port();
    let evil = format!("a.rebind.example:{port}");
    let evil_origin = format!("http://{evil}");
    let rebound = || {
        Request::post(format!("{}/api/tasks", server.base))
            .header("host", evil.as_str())
            .header("origin", evil_origin.as_str())
            .header("sec-fetch-site", "same-origin")
            .header("content-type", "application/json")
    };
    let (status, v) = server
        .json(rebound(), r#"{"command":"touch /tmp/rebound"}"#)
        .await;
    assert_eq!(status, 421, "{v}");
    assert!(
        v["error"].as_str().is_some_and(|e| e.contains("Host")),
        "{v}"
    );
    let (status, list) = server
        .json(Request::get(format!("{}/api/tasks", server.base)), "")
        .await;
    assert_eq!(status, 200);
    assert_eq!(list["tasks"], Value::Array(vec![]), "no task was created");

    // Foreign Hosts get no dashboard, and no page at all.
    for path in ["/", "/index.html", "/api/health"] {
        let req = Request::get(format!("{}{path}", server.base)).header("host", evil.as_str());
        let (status, _) = server.json(req, "").await;
        assert_eq!(status, 421, "{path}");
    }
    // The server's own names do.
    for host in [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        format!("[::1]:{port}"),
    ] {
        let req = Request::get(format!("{}/", server.base)).header("host", host.as_str());
        let (status, _, text) = server.send(req, "").await;
        assert_eq!(status, 200, "{host}");
        assert!(text.contains("dashboard"));
    }
    // The loopback names count on the server's own port only.
    let req = Request::get(format!("{}/", server.base)).header("host", "localhost:1");
    assert_eq!(server.send(req, "").await.0, 421);
    server.running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http2_authority_is_checked_too() {
    let server = start(|c| c.no_auth = true).await;
    let tcp = TcpStream::connect(server.running.addr)
        .await
        .expect("connects");
    let (mut sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp))
            .await
            .expect("h2 handshake");
    tokio::spawn(conn);
    let port = server.running.addr.port();
    let ask = |authority: String| {
        Request::get(format!("http://{authority}/api/health"))
            .body(Empty::<Bytes>::new())
            .expect("a request")
    };
    let resp = sender
        .send_request(ask(format!("a.rebind.example:{port}")))
        .await
        .expect("answers");
    assert_eq!(resp.status(), 421);
    let body = resp.into_body().collect().await.expect("a body").to_bytes();
    let v: Value = serde_json::from_slice(&body).expect("JSON");
    assert!(v["error"].is_string());
    let resp = sender
        .send_request(ask(format!("127.0.0.1:{port}")))
        .await
        .expect("answers");
    assert_eq!(resp.status(), 200);
    server.running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allowed_hosts_are_served_and_their_origins_accepted() {
    let server = start(|c| {
        c.no_auth = true;
        c.allowed_hosts = vec![
            "dash.example".parse().expect("an entry"),
            "proxy.example:8443".parse().expect("an entry"),
        ];
    })
    .await;
    let post = |host: &str, origin: &str| {
        Request::post(format!("{}/api/events", server.base))
            .header("host", host)
            .header("origin", origin)
            .header("content-type", "application/json")
    };
    let body = r#"{"type":"trigger.fired"}"#;
    assert_eq!(
        server
            .send(post("dash.example", "http://dash.example"), body)
            .await
            .0,
        202
    );
    assert_eq!(
        server
            .send(
                post("proxy.example:8443", "https://proxy.example:8443"),
                body
            )
            .await
            .0,
        202
    );
    // Allowed with its port only, and a foreign Origin is still refused.
    assert_eq!(
        server
            .send(post("proxy.example:9", "http://proxy.example:9"), body)
            .await
            .0,
        421
    );
    let (status, _, text) = server
        .send(post("dash.example", "http://evil.example"), body)
        .await;
    assert_eq!(status, 403, "{text}");
    server.running.shutdown().await;
}
