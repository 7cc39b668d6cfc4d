//! The lag limit: a slow subscriber keeps the newest events and is told
//! exactly how many it lost, before them.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use broker_core::{Broker, BrokerConfig, Delivery, Epoch, EventType, Filter, SubscriberId};
use serde_json::Map;

/// Deliveries as `Ok(seq)` for events and `Err(dropped)` for `lagged`.
fn drain(b: &mut Broker, id: SubscriberId) -> Vec<Result<u64, u64>> {
    let mut got = Vec::new();
    while let Some(d) = b.poll_delivery(id) {
        got.push(match d {
            Delivery::Event(e) => Ok(e.id().seq),
            Delivery::Lagged { dropped } => Err(dropped),
        });
    }
    got
}

fn publish(b: &mut Broker, kind: &str) -> u64 {
    b.publish(EventType::new(kind).expect("valid"), None, &Map::new())
        .seq
}

#[test]
fn a_slow_consumer_keeps_the_newest_n_and_loses_the_oldest() {
    let mut b = Broker::new(
        Epoch::new(1),
        1,
        BrokerConfig {
            history: 64,
            queue: 4,
            ..BrokerConfig::default()
        },
    );
    let (slow, _) = b.subscribe(Filter::all(), None);
    let (fast, _) = b.subscribe(Filter::all(), None);
    let mut fast_got = Vec::new();
    for _ in 0..10 {
        publish(&mut b, "a");
        fast_got.extend(drain(&mut b, fast));
    }
    assert_eq!(fast_got, (1..=10).map(Ok).collect::<Vec<_>>());
    assert_eq!(
        drain(&mut b, slow),
        vec![Err(6), Ok(7), Ok(8), Ok(9), Ok(10)]
    );
    let stats = b.stats();
    assert_eq!((stats.dropped, stats.lagged), (6, 1));
}

#[test]
fn the_limit_applies_to_what_is_undelivered_not_to_what_was_published() {
    let mut b = Broker::new(
        Epoch::new(1),
        1,
        BrokerConfig {
            history: 64,
            queue: 3,
            ..BrokerConfig::default()
        },
    );
    let (s, _) = b.subscribe(Filter::all(), None);
    for _ in 0..3 {
        publish(&mut b, "a");
    }
    // Reads one: two are left, so three more overflow by two.
    assert!(matches!(b.poll_delivery(s), Some(Delivery::Event(e)) if e.id().seq == 1));
    for _ in 0..3 {
        publish(&mut b, "a");
    }
    assert_eq!(drain(&mut b, s), vec![Err(2), Ok(4), Ok(5), Ok(6)]);
}

#[test]
fn exactly_the_limit_loses_nothing_and_reports_no_lag() {
    let mut b = Broker::new(
        Epoch::new(1),
        1,
        BrokerConfig {
            history: 64,
            queue: 5,
            ..BrokerConfig::default()
        },
    );
    let (s, _) = b.subscribe(Filter::all(), None);
    for _ in 0..5 {
        publish(&mut b, "a");
    }
    assert_eq!(drain(&mut b, s), (1..=5).map(Ok).collect::<Vec<_>>());
    assert_eq!(b.stats().lagged, 0);
}

#[test]
fn the_lagged_count_counts_only_events_the_filter_passes() {
    let mut b = Broker::new(
        Epoch::new(1),
        1,
        BrokerConfig {
            history: 64,
            queue: 2,
            ..BrokerConfig::default()
        },
    );
    let (s, _) = b.subscribe(Filter::parse(Some("x"), None).expect("valid"), None);
    let mut xs = Vec::new();
    for i in 0..20 {
        if i % 4 == 0 {
            xs.push(publish(&mut b, "x"));
        } else {
            publish(&mut b, "y");
        }
    }
    // Five x events: the newest two are kept, three reported lost.
    assert_eq!(drain(&mut b, s), vec![Err(3), Ok(xs[3]), Ok(xs[4])]);
}

#[test]
fn losses_in_several_rounds_are_each_reported_before_the_kept_events() {
    let mut b = Broker::new(
        Epoch::new(1),
        1,
        BrokerConfig {
            history: 8,
            queue: 2,
            ..BrokerConfig::default()
        },
    );
    let (s, _) = b.subscribe(Filter::all(), None);
    for _ in 0..5 {
        publish(&mut b, "a");
    }
    assert_eq!(drain(&mut b, s), vec![Err(3), Ok(4), Ok(5)]);
    for _ in 0..100 {
        publish(&mut b, "a");
    }
    assert_eq!(drain(&mut b, s), vec![Err(98), Ok(104), Ok(105)]);
    let stats = b.stats();
    assert_eq!((stats.dropped, stats.lagged), (101, 2));
}

#[test]
fn a_stalled_subscriber_does_not_affect_another() {
    let mut b = Broker::new(
        Epoch::new(1),
        1,
        BrokerConfig {
            history: 4,
            queue: 2,
            ..BrokerConfig::default()
        },
    );
    let (_stalled, _) = b.subscribe(Filter::all(), None);
    let (live, _) = b.subscribe(Filter::all(), None);
    for i in 1..=1000 {
        assert_eq!(publish(&mut b, "a"), i);
        assert_eq!(drain(&mut b, live), vec![Ok(i)]);
    }
}
