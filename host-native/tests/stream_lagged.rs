//! A client that stops reading is told exactly how many events it lost,
//! while a client that keeps up loses nothing.

mod common;

use broker_core::sse::SseItem;
use broker_core::EventType;
use bytes::Bytes;
use http_body_util::Empty;
use hyper::Request;
use hyper_util::rt::TokioIo;
use serde_json::{Map, Value};
use tokio::net::TcpSocket;

use common::{seq, start, Sse, TOKEN};

const EVENTS: u64 = 1500;
const BATCH: u64 = 10;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_reader_gets_lagged_with_the_exact_count_and_others_lose_nothing() {
    let server = start(|c| c.queue = 16).await;

    // The slow client: a tiny receive buffer, so the kernel cannot hide the
    // stall, and a plain HTTP/1 connection we stop polling.
    let socket = TcpSocket::new_v4().expect("a socket");
    socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
    let tcp = socket.connect(server.running.addr).await.expect("connects");
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .expect("handshake");
    tokio::spawn(conn);
    let req = Request::get("/api/events")
        .header("host", server.running.addr.to_string())
        .header("authorization", format!("Bearer {TOKEN}"))
        .body(Empty::<Bytes>::new())
        .expect("a request");
    let mut slow = Sse::new(sender.send_request(req).await.expect("a response"));
    slow.ready().await;

    let mut fast = server.stream("", &[]).await;
    fast.ready().await;

    let kind = EventType::new("trigger.fired").expect("a type");
    let pad = "x".repeat(8 * 1024);
    let mut last = String::new();
    let mut fast_seen = Vec::new();
    for batch in 0..EVENTS / BATCH {
        for i in 0..BATCH {
            let mut data = Map::new();
            data.insert("n".into(), Value::from(batch * BATCH + i));
            data.insert("pad".into(), Value::from(pad.as_str()));
            last = server
                .running
                .hub
                .publish(kind.clone(), None, data)
                .to_string();
        }
        // The fast client keeps up: it reads each batch before the next.
        while fast_seen.last() != Some(&last) {
            let m = fast.expect().await;
            assert_ne!(m.event, "lagged", "the fast reader never lags");
            fast_seen.push(m.last_event_id);
        }
    }
    assert_eq!(fast_seen.len() as u64, EVENTS);

    // The slow client reads again: events in order, one lagged notice whose
    // count is exactly the gap, and the newest events after it.
    let mut expected = seq(&fast_seen[0]);
    let mut dropped_total = 0;
    let mut received = 0;
    loop {
        match slow.next_item().await.expect("the stream goes on") {
            SseItem::Retry(_) => {}
            SseItem::Message(m) if m.event == "lagged" => {
                let v: Value = serde_json::from_str(&m.data).expect("lagged data");
                let dropped = v["dropped"].as_u64().expect("a count");
                assert!(dropped > 0);
                dropped_total += dropped;
                expected += dropped;
            }
            SseItem::Message(m) => {
                assert_eq!(
                    seq(&m.last_event_id),
                    expected,
                    "no gap other than the announced one"
                );
                expected += 1;
                received += 1;
                if m.last_event_id == last {
                    break;
                }
            }
        }
    }
    assert!(dropped_total > 0, "the stalled reader lagged");
    assert_eq!(received + dropped_total, EVENTS);
    assert_eq!(
        server.metric("tidings_events_dropped_total").await,
        dropped_total as f64
    );
    assert!(server.metric("tidings_lagged_total").await >= 1.0);
    server.running.shutdown().await;
}
