//! The cookie `/?token=` sets is a session credential derived from the token,
//! never the token itself: it has a `Max-Age`, is bound to the server's port
//! by its name, and stays valid across restarts while the token is the same.

mod common;

use hyper::Request;

use common::{session_cookie, start, TOKEN};

async fn get_with_cookie(server: &common::Server, cookie: &str) -> u16 {
    let req = Request::get(format!("{}/api/tasks", server.base)).header("cookie", cookie);
    server.send(req, "").await.0.as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cookie_holds_a_session_not_the_token() {
    let server = start(|_| {}).await;
    let port = server.running.addr.port();
    let (status, headers, _) = server
        .send(Request::get(format!("{}/?token={TOKEN}", server.base)), "")
        .await;
    assert_eq!(status, 303);
    let set = headers["set-cookie"].to_str().expect("text").to_owned();
    let (pair, attributes) = set.split_once(';').expect("attributes");
    let (name, value) = pair.split_once('=').expect("name=value");
    assert_eq!(name, format!("tidings_token_{port}"));
    assert!(
        !value.contains(TOKEN),
        "the token is not in the cookie: {set}"
    );
    assert!(!value.is_empty());
    let attributes: Vec<&str> = attributes.split(';').map(str::trim).collect();
    for expected in ["Max-Age=604800", "Path=/", "HttpOnly", "SameSite=Strict"] {
        assert!(attributes.contains(&expected), "{expected} in {set}");
    }
    assert_eq!(get_with_cookie(&server, pair).await, 200);

    // The token itself is no cookie; neither is a tampered session, nor a
    // session under another port's name.
    assert_eq!(
        get_with_cookie(&server, &format!("tidings_token_{port}={TOKEN}")).await,
        401
    );
    let mut tampered = value.to_owned();
    let last = tampered.pop().expect("a character");
    tampered.push(if last == '0' { '1' } else { '0' });
    assert_eq!(
        get_with_cookie(&server, &format!("{name}={tampered}")).await,
        401
    );
    assert_eq!(
        get_with_cookie(&server, &format!("tidings_token_{}={value}", port + 1)).await,
        401
    );
    server.running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_session_survives_a_restart_with_the_same_token_only() {
    let data = tempfile::tempdir().expect("a temp dir");
    let first = tidings::start(common::config(&data)).await.expect("starts");
    let addr = first.addr;
    let server = common::Server {
        base: format!("http://{addr}"),
        running: first,
        client: hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build_http(),
        _data: tempfile::tempdir().expect("a temp dir"),
    };
    let cookie = session_cookie(&server).await;
    server.running.shutdown().await;

    let mut cfg = common::config(&data);
    cfg.addr = addr;
    let again = tidings::start(cfg.clone()).await.expect("restarts");
    let server = common::Server {
        base: format!("http://{addr}"),
        running: again,
        client: hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build_http(),
        _data: tempfile::tempdir().expect("a temp dir"),
    };
    assert_eq!(get_with_cookie(&server, &cookie).await, 200, "same token");
    server.running.shutdown().await;

    cfg.token = tidings::TokenSource::Given("a-new-token-0123456789".into());
    let changed = tidings::start(cfg).await.expect("restarts");
    let server = common::Server {
        base: format!("http://{addr}"),
        running: changed,
        client: hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build_http(),
        _data: tempfile::tempdir().expect("a temp dir"),
    };
    assert_eq!(get_with_cookie(&server, &cookie).await, 401, "a new token");
    server.running.shutdown().await;
}
