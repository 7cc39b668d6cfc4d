//! The SSE endpoint mounted in a caller's own hyper server behaves like
//! `GET /api/events`: ready, live events from the caller's hub, filters, cap.

mod common;

use std::convert::Infallible;
use std::time::Duration;

use broker_core::{BrokerConfig, Epoch, EventType};
use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use serde_json::Map;
use tidings::{Body, EventsEndpoint, Hub, StreamOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mounted_endpoint_streams_the_callers_hub() {
    let hub = Hub::new(Epoch::new(0xabc), 1, BrokerConfig::default());
    let options = StreamOptions {
        max_streams: 1,
        heartbeat: Duration::from_secs(60),
        ..StreamOptions::default()
    };
    let events = EventsEndpoint::new(hub.clone(), options).expect("an endpoint");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds");
    let addr = listener.local_addr().expect("an address");
    let served = events.clone();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let events = served.clone();
            let service = service_fn(move |req: Request<hyper::body::Incoming>| {
                let response: Response<Body> = if req.uri().path() == "/mine/stream" {
                    events.respond(&req)
                } else {
                    Response::new(Body::full("other route"))
                };
                async move { Ok::<_, Infallible>(response) }
            });
            tokio::spawn(
                auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tcp), service)
                    .into_owned(),
            );
        }
    });
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let get = |q: &str| {
        Request::get(format!("http://{addr}/mine/stream{q}"))
            .body(Full::default())
            .expect("a request")
    };
    let mut sse = common::Sse::new(
        client
            .request(get("?types=trigger.*"))
            .await
            .expect("answers"),
    );
    let ready = sse.ready().await;
    assert_eq!(ready["epoch"], "abc");
    assert_eq!(events.open_streams(), 1);

    let kind = |k: &str| EventType::new(k).expect("a type");
    hub.publish(kind("other.thing"), None, Map::new());
    let id = hub.publish(kind("trigger.fired"), None, Map::new());
    let m = sse.expect().await;
    assert_eq!(
        (m.event.as_str(), m.last_event_id),
        ("trigger.fired", id.to_string())
    );

    // The cap of 1 is reached.
    let refused = client.request(get("")).await.expect("answers");
    assert_eq!(refused.status(), 503);
    // Bad filters and other methods are JSON errors.
    let bad = client.request(get("?types=")).await.expect("answers");
    assert_eq!(bad.status(), 400);
    let post = Request::post(format!("http://{addr}/mine/stream"))
        .body(Full::default())
        .expect("a request");
    let resp = client.request(post).await.expect("answers");
    assert_eq!(resp.status(), 405);
    drop(sse);
    let deadline = tokio::time::Instant::now() + common::PATIENCE;
    while events.open_streams() != 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the stream slot is given back"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    hub.close();
}
