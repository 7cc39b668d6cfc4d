//! Delivery basics: fan-out, unsubscribe, publishing to nobody, `{}` data,
//! and filters.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use broker_core::{
    event_data, Broker, BrokerConfig, Delivery, Epoch, EventId, EventType, Filter, SubscriberId,
    TaskId,
};
use serde_json::{json, Map, Value};

const EPOCH: Epoch = Epoch::new(0xabc);

fn publish(b: &mut Broker, kind: &str, task: Option<&str>) -> EventId {
    b.publish(
        EventType::new(kind).expect("valid type"),
        task.map(|t| TaskId::new(t).expect("valid task")),
        &Map::new(),
    )
}

/// Every event the subscriber has now, by id; panics on a `lagged` item.
fn events(b: &mut Broker, id: SubscriberId) -> Vec<EventId> {
    let mut got = Vec::new();
    while let Some(d) = b.poll_delivery(id) {
        match d {
            Delivery::Event(e) => got.push(e.id()),
            Delivery::Lagged { dropped } => panic!("unexpected lagged {dropped}"),
        }
    }
    got
}

#[test]
fn every_subscriber_receives_every_event_in_order() {
    let mut b = Broker::new(EPOCH, 1, BrokerConfig::default());
    let subs: Vec<_> = (0..5).map(|_| b.subscribe(Filter::all(), None).0).collect();
    let ids: Vec<_> = (0..10)
        .map(|_| publish(&mut b, "task.status", None))
        .collect();
    for s in subs {
        assert!(b.has_pending(s));
        assert_eq!(events(&mut b, s), ids);
        assert!(!b.has_pending(s));
    }
}

#[test]
fn a_subscriber_receives_only_what_is_published_after_it_joined() {
    let mut b = Broker::new(EPOCH, 1, BrokerConfig::default());
    publish(&mut b, "a", None);
    let (s, ready) = b.subscribe(Filter::all(), None);
    assert!(!ready.resumed);
    assert_eq!(ready.head, EventId::new(EPOCH, 1));
    assert!(!b.has_pending(s));
    let second = publish(&mut b, "a", None);
    assert_eq!(events(&mut b, s), vec![second]);
}

#[test]
fn unsubscribe_stops_delivery_and_is_idempotent() {
    let mut b = Broker::new(EPOCH, 1, BrokerConfig::default());
    let (gone, _) = b.subscribe(Filter::all(), None);
    let (stays, _) = b.subscribe(Filter::all(), None);
    publish(&mut b, "a", None);
    assert!(b.unsubscribe(gone));
    assert!(!b.unsubscribe(gone));
    let later = publish(&mut b, "a", None);
    assert!(!b.has_pending(gone));
    assert!(b.poll_delivery(gone).is_none());
    assert_eq!(events(&mut b, stays).last(), Some(&later));
    assert_eq!(b.stats().subscribers, 1);
}

#[test]
fn publishing_with_no_subscribers_is_safe_and_counted() {
    let mut b = Broker::new(
        EPOCH,
        1,
        BrokerConfig {
            history: 4,
            queue: 2,
            ..BrokerConfig::default()
        },
    );
    for i in 1..=100 {
        assert_eq!(publish(&mut b, "a", None), EventId::new(EPOCH, i));
    }
    let stats = b.stats();
    assert_eq!(
        (stats.subscribers, stats.published, stats.dropped),
        (0, 100, 0)
    );
}

#[test]
fn missing_data_is_delivered_as_an_empty_object() {
    let mut b = Broker::new(EPOCH, 1, BrokerConfig::default());
    let (s, _) = b.subscribe(Filter::all(), None);
    let data = event_data(None).expect("missing data is allowed");
    b.publish(EventType::new("a").expect("valid"), None, &data);
    let data = event_data(Some(Value::Null)).expect("null data is allowed");
    b.publish(EventType::new("a").expect("valid"), None, &data);
    for _ in 0..2 {
        match b.poll_delivery(s) {
            Some(Delivery::Event(e)) => assert_eq!(e.data_json(), b"{}"),
            other => panic!("expected an event, got {other:?}"),
        }
    }
}

#[test]
fn event_data_is_delivered_as_published() {
    let mut b = Broker::new(EPOCH, 1, BrokerConfig::default());
    let (s, _) = b.subscribe(Filter::all(), None);
    let data = event_data(Some(json!({"id": "t1", "status": "running"}))).expect("an object");
    b.publish(EventType::new("task.status").expect("valid"), None, &data);
    match b.poll_delivery(s) {
        Some(Delivery::Event(e)) => {
            let back: Value = serde_json::from_slice(e.data_json()).expect("JSON");
            assert_eq!(back, json!({"id": "t1", "status": "running"}));
            assert_eq!(e.kind().as_str(), "task.status");
        }
        other => panic!("expected an event, got {other:?}"),
    }
}

#[test]
fn filters_select_by_type_prefix_and_task() {
    let mut b = Broker::new(EPOCH, 1, BrokerConfig::default());
    let sub = |b: &mut Broker, types: Option<&str>, task: Option<&str>| {
        b.subscribe(Filter::parse(types, task).expect("valid filter"), None)
            .0
    };
    let exact = sub(&mut b, Some("task.created,trigger.fired"), None);
    let prefix = sub(&mut b, Some("task.*"), None);
    let task = sub(&mut b, None, Some("t1"));
    let both = sub(&mut b, Some("task.status"), Some("t1"));

    let created = publish(&mut b, "task.created", Some("t1"));
    let status_t1 = publish(&mut b, "task.status", Some("t1"));
    let status_t2 = publish(&mut b, "task.status", Some("t2"));
    let fired = publish(&mut b, "trigger.fired", None);
    let other = publish(&mut b, "taskx.status", Some("t1"));

    assert_eq!(events(&mut b, exact), vec![created, fired]);
    assert_eq!(events(&mut b, prefix), vec![created, status_t1, status_t2]);
    assert_eq!(events(&mut b, task), vec![created, status_t1, other]);
    assert_eq!(events(&mut b, both), vec![status_t1]);
}

#[test]
fn a_subscriber_whose_filter_matches_nothing_has_nothing_pending() {
    let mut b = Broker::new(
        EPOCH,
        1,
        BrokerConfig {
            history: 8,
            queue: 2,
            ..BrokerConfig::default()
        },
    );
    let (s, _) = b.subscribe(Filter::parse(Some("x.*"), None).expect("valid"), None);
    for _ in 0..50 {
        publish(&mut b, "y", None);
        assert!(!b.has_pending(s));
    }
    assert!(b.poll_delivery(s).is_none());
    assert_eq!(b.stats().dropped, 0);
}
