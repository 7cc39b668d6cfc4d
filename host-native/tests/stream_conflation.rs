//! Keyed conflation over a real socket: a stream that stopped reading while
//! a burst of renames of one task overflowed its queue gets the task's newest
//! state, and no `lagged` (its client need not list again).

mod common;

use broker_core::sse::SseItem;
use broker_core::{EventType, TaskId};
use bytes::Bytes;
use http_body_util::Empty;
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{json, Map, Value};
use tokio::net::TcpSocket;

use common::{seq, start, Sse, TOKEN};

/// Large task events, each of its own task (so that none supersedes another
/// however fast the server reads), enough to fill every buffer between the
/// server and a client that does not read.
const FILLER: u64 = 1500;
const RENAMES: usize = 60;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_renames_reaches_a_stalled_stream_as_the_newest_state_without_lagged() {
    let server = start(|c| c.queue = 4).await;
    let (status, task) = server
        .json(
            server.post("/api/tasks"),
            &json!({"command": "sleep 30", "name": "before"}).to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{task}");
    let id = task["id"].as_str().expect("an id").to_owned();

    // The dashboard's stream, on a connection with a tiny receive buffer
    // that we stop reading.
    let socket = TcpSocket::new_v4().expect("a socket");
    socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
    let tcp = socket.connect(server.running.addr).await.expect("connects");
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .expect("handshake");
    tokio::spawn(conn);
    let req = Request::get("/api/events?types=task.*")
        .header("host", server.running.addr.to_string())
        .header("authorization", format!("Bearer {TOKEN}"))
        .body(Empty::<Bytes>::new())
        .expect("a request");
    let mut slow = Sse::new(sender.send_request(req).await.expect("a response"));
    slow.ready().await;

    // Stall it: whole-task updates of other tasks, 8 KiB each.
    let updated = EventType::new("task.updated").expect("a type");
    let pad = "x".repeat(8 * 1024);
    for n in 0..FILLER {
        let mut data = Map::new();
        let filler = format!("filler-{n}");
        data.insert("id".into(), Value::from(filler.as_str()));
        data.insert("n".into(), Value::from(n));
        data.insert("pad".into(), Value::from(pad.as_str()));
        server.running.hub.publish(
            updated.clone(),
            Some(TaskId::new(&filler).expect("an id")),
            data,
        );
    }
    // The burst: many more renames than the stream's queue of 4.
    for n in 0..RENAMES {
        let (status, renamed) = server
            .json(
                server.post(&format!("/api/tasks/{id}/rename")),
                &json!({"name": format!("name {n}")}).to_string(),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{renamed}");
    }
    let (_, now) = server
        .json(server.get(&format!("/api/tasks/{id}")), "")
        .await;
    assert_eq!(now["name"], "name 59");

    // It reads again: ids increasing, no lagged, and the newest state of
    // both tasks, with the superseded renames skipped.
    let mut last_seq = 0;
    let mut renames_seen = 0;
    let mut last_filler = None;
    loop {
        match slow.next_item().await.expect("the stream goes on") {
            SseItem::Retry(_) => {}
            SseItem::Message(m) => {
                assert_ne!(m.event, "lagged", "{}", m.data);
                if m.event == "heartbeat" {
                    continue;
                }
                let s = seq(&m.last_event_id);
                assert!(s > last_seq, "ids increase: {last_seq} then {s}");
                last_seq = s;
                let data: Value = serde_json::from_str(&m.data).expect("JSON");
                if data["id"]
                    .as_str()
                    .is_some_and(|t| t.starts_with("filler-"))
                {
                    last_filler = data["n"].as_u64();
                    continue;
                }
                assert_eq!(data["id"], id.as_str());
                if m.event == "task.updated" {
                    renames_seen += 1;
                    if data["name"] == now["name"] {
                        assert_eq!(data, now_without_output(&now));
                        break;
                    }
                }
            }
        }
    }
    assert_eq!(
        last_filler,
        Some(FILLER - 1),
        "every other task's event too"
    );
    assert!(
        renames_seen < RENAMES,
        "superseded renames were skipped ({renames_seen} of {RENAMES} arrived)"
    );
    assert_eq!(server.metric("tidings_events_dropped_total").await, 0.0);
    assert_eq!(server.metric("tidings_lagged_total").await, 0.0);
    let conflated = server.metric("tidings_events_conflated_total").await;
    assert!(
        conflated >= (RENAMES - renames_seen) as f64,
        "the skipped renames are counted as conflated: {conflated}"
    );

    let (status, _, _) = server
        .send(
            hyper::Request::delete(format!("{}/api/tasks/{id}", server.base))
                .header("authorization", format!("Bearer {TOKEN}")),
            "",
        )
        .await;
    assert!(status.is_success(), "{status}");
    server.running.shutdown().await;
}

/// `GET /api/tasks/{id}` is the task plus its `recent_output`; the event
/// carries the task alone.
fn now_without_output(task: &Value) -> Value {
    let mut task = task.clone();
    if let Some(map) = task.as_object_mut() {
        map.remove("recent_output");
    }
    task
}
