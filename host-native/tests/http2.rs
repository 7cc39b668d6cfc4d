//! HTTP/2 with prior knowledge: the stream and the REST API work the same.

mod common;

use bytes::Bytes;
use http_body_util::Full;
use hyper::Request;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use common::{start, Sse, TOKEN};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_and_rest_work_over_h2_prior_knowledge() {
    let server = start(|_| {}).await;
    let h2: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build_http();
    let open = || {
        Request::get(format!("{}/api/events", server.base))
            .header("authorization", format!("Bearer {TOKEN}"))
            .body(Full::default())
            .expect("a request")
    };
    // Two streams multiplexed on one connection.
    let a = h2.request(open()).await.expect("h2 stream");
    assert_eq!(a.version(), hyper::Version::HTTP_2);
    let mut a = Sse::new(a);
    let mut b = Sse::new(h2.request(open()).await.expect("h2 stream"));
    a.ready().await;
    b.ready().await;
    let post = Request::post(format!("{}/api/events", server.base))
        .header("authorization", format!("Bearer {TOKEN}"))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from_static(
            br#"{"type":"trigger.fired","data":{"v":2}}"#,
        )))
        .expect("a request");
    let resp = h2.request(post).await.expect("h2 post");
    assert_eq!(
        (resp.version(), resp.status().as_u16()),
        (hyper::Version::HTTP_2, 202)
    );
    for sse in [&mut a, &mut b] {
        let m = sse.expect().await;
        assert_eq!(
            (m.event.as_str(), m.data.as_str()),
            ("trigger.fired", r#"{"v":2}"#)
        );
    }
    // A stream reset by the client is unsubscribed.
    drop(a);
    server.wait_metric("tidings_subscribers", 1.0).await;
    let shutdown = tokio::spawn(server.running.shutdown());
    let end = b.expect().await;
    assert_eq!(end.data, r#"{"reason":"shutdown"}"#);
    shutdown.await.expect("shuts down");
}
