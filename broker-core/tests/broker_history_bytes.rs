//! The history is bounded by the bytes of its encoded frames as well as by
//! count: large events push the oldest out sooner, resume stays exact (an id
//! that fell out does not resume) and a lagging subscriber is told exactly
//! how many it lost.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use broker_core::{Broker, BrokerConfig, Delivery, Epoch, EventType, Filter, SubscriberId};
use serde_json::{Map, Value};

const EPOCH: Epoch = Epoch::new(0xb);

fn broker(history_bytes: usize) -> Broker {
    Broker::new(
        EPOCH,
        1,
        BrokerConfig {
            history: 1000,
            queue: 100,
            history_bytes,
            ..BrokerConfig::default()
        },
    )
}

/// Publishes an event whose frame is about `size` bytes; returns its seq.
fn publish(b: &mut Broker, size: usize) -> u64 {
    let mut data = Map::new();
    data.insert(
        "pad".into(),
        Value::from("x".repeat(size.saturating_sub(40))),
    );
    b.publish(EventType::new("blob.put").expect("valid"), None, &data)
        .seq
}

fn drain(b: &mut Broker, id: SubscriberId) -> Vec<Result<u64, u64>> {
    std::iter::from_fn(|| b.poll_delivery(id))
        .map(|d| match d {
            Delivery::Event(e) => Ok(e.id().seq),
            Delivery::Lagged { dropped } => Err(dropped),
        })
        .collect()
}

#[test]
fn the_frames_held_stay_within_the_budget() {
    let mut b = broker(10_000);
    for _ in 0..50 {
        publish(&mut b, 1_000);
        let stats = b.stats();
        assert!(stats.history_bytes <= 10_000, "{stats:?}");
    }
    let stats = b.stats();
    assert!(
        (9..=10).contains(&stats.history_len),
        "about ten 1 KB frames fit in 10 KB: {stats:?}"
    );
}

#[test]
fn an_id_that_fell_out_by_bytes_does_not_resume_and_one_still_held_does_exactly() {
    let mut b = broker(10_000);
    let first = publish(&mut b, 1_000);
    let mut ids = vec![first];
    for _ in 0..30 {
        ids.push(publish(&mut b, 1_000));
    }
    let (_, ready) = b.subscribe(Filter::all(), Some(&format!("{EPOCH}-{first}")));
    assert!(!ready.resumed, "the event after {first} left the history");
    let held = b.stats().history_len;
    // The id just before the oldest held event still resumes, and the
    // replay is every held event after it.
    let from = ids[ids.len() - held - 1];
    let (s, ready) = b.subscribe(Filter::all(), Some(&format!("{EPOCH}-{from}")));
    assert!(ready.resumed);
    assert_eq!(
        drain(&mut b, s),
        ids[ids.len() - held..]
            .iter()
            .map(|&s| Ok(s))
            .collect::<Vec<_>>()
    );
}

#[test]
fn a_subscriber_whose_pending_events_left_by_bytes_is_told_exactly_how_many() {
    // The queue (100) would keep them all; the bytes do not.
    let mut b = broker(10_000);
    let (s, _) = b.subscribe(Filter::all(), None);
    let ids: Vec<u64> = (0..40).map(|_| publish(&mut b, 1_000)).collect();
    let held = b.stats().history_len;
    let mut expected = vec![Err((ids.len() - held) as u64)];
    expected.extend(ids[ids.len() - held..].iter().map(|&s| Ok(s)));
    assert_eq!(drain(&mut b, s), expected);
    assert_eq!(b.stats().dropped, (ids.len() - held) as u64);
}

#[test]
fn one_event_larger_than_the_budget_is_still_delivered() {
    let mut b = broker(500);
    let (s, _) = b.subscribe(Filter::all(), None);
    publish(&mut b, 100);
    let big = publish(&mut b, 5_000);
    assert_eq!(b.stats().history_len, 1);
    assert_eq!(drain(&mut b, s), vec![Err(1), Ok(big)]);
    let next = publish(&mut b, 5_000);
    assert_eq!(drain(&mut b, s), vec![Ok(next)], "kept up: nothing lost");
}
