//! `drain_frames`: every ready item as SSE frames in one buffer.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use broker_core::{sse, Broker, BrokerConfig, Epoch, EventType, Filter, TaskId};
use bytes::BytesMut;
use serde_json::{json, Map};

#[test]
fn pending_events_are_written_as_their_frames_in_order() {
    let mut b = Broker::new(Epoch::new(0x2a), 7, BrokerConfig::default());
    let (s, _) = b.subscribe(Filter::all(), None);
    let data = json!({"id": "t1"}).as_object().cloned().expect("an object");
    b.publish(
        EventType::new("task.created").expect("valid"),
        Some(TaskId::new("t1").expect("valid")),
        &data,
    );
    b.publish(
        EventType::new("task.status").expect("valid"),
        None,
        &Map::new(),
    );
    let mut out = BytesMut::new();
    assert_eq!(b.drain_frames(s, &mut out, 1 << 16), 2);
    assert_eq!(
        &out[..],
        b"id: 2a-7\nevent: task.created\ndata: {\"id\":\"t1\"}\n\n\
          id: 2a-8\nevent: task.status\ndata: {}\n\n"
    );
    assert!(!b.has_pending(s));
    assert_eq!(b.drain_frames(s, &mut out, 1 << 16), 0);
}

#[test]
fn a_loss_is_written_as_a_lagged_frame_before_the_kept_events() {
    let mut b = Broker::new(
        Epoch::new(1),
        1,
        BrokerConfig {
            history: 8,
            queue: 1,
            ..BrokerConfig::default()
        },
    );
    let (s, _) = b.subscribe(Filter::all(), None);
    for _ in 0..3 {
        b.publish(EventType::new("a").expect("valid"), None, &Map::new());
    }
    let mut out = BytesMut::new();
    assert_eq!(b.drain_frames(s, &mut out, 1 << 16), 2);
    let mut expected = BytesMut::new();
    expected.extend_from_slice(&sse::lagged_frame(2));
    expected.extend_from_slice(b"id: 1-3\nevent: a\ndata: {}\n\n");
    assert_eq!(out, expected);
    assert!(out.starts_with(b"event: lagged\ndata: {\"dropped\":2}\n\n"));
}

#[test]
fn writing_stops_at_the_byte_budget_and_the_rest_stays_pending() {
    let mut b = Broker::new(
        Epoch::new(1),
        1,
        BrokerConfig {
            history: 64,
            queue: 64,
            ..BrokerConfig::default()
        },
    );
    let (s, _) = b.subscribe(Filter::all(), None);
    for _ in 0..10 {
        b.publish(EventType::new("a").expect("valid"), None, &Map::new());
    }
    let frame_len = b"id: 1-1\nevent: a\ndata: {}\n\n".len();
    let mut out = BytesMut::new();
    // Stops before an item once the buffer holds the budget.
    assert_eq!(b.drain_frames(s, &mut out, 3 * frame_len), 3);
    assert!(b.has_pending(s));
    // Always makes progress, even with a full buffer.
    assert_eq!(b.drain_frames(s, &mut out, 0), 1);
    out.clear();
    assert_eq!(b.drain_frames(s, &mut out, usize::MAX), 6);
    assert!(out.starts_with(b"id: 1-5\n"));
    assert!(!b.has_pending(s));
}

#[test]
fn an_unknown_subscriber_writes_nothing() {
    let mut b = Broker::new(Epoch::new(1), 1, BrokerConfig::default());
    let (s, _) = b.subscribe(Filter::all(), None);
    b.unsubscribe(s);
    b.publish(EventType::new("a").expect("valid"), None, &Map::new());
    let mut out = BytesMut::new();
    assert_eq!(b.drain_frames(s, &mut out, 1024), 0);
    assert!(out.is_empty());
}
