//! Keyed conflation: a lagging subscriber keeps the newest state of every
//! task instead of losing it, and is told `lagged` only for unkeyed events.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use broker_core::{Broker, BrokerConfig, Delivery, Epoch, EventType, Filter, SubscriberId, TaskId};
use serde_json::Map;

fn broker(queue: usize, conflation: bool) -> Broker {
    Broker::new(
        Epoch::new(0xc),
        1,
        BrokerConfig {
            history: 4096,
            queue,
            conflation,
            ..BrokerConfig::default()
        },
    )
}

fn publish(b: &mut Broker, kind: &str, task: Option<&str>) -> u64 {
    b.publish(
        EventType::new(kind).expect("valid"),
        task.map(|t| TaskId::new(t).expect("valid")),
        &Map::new(),
    )
    .seq
}

/// Deliveries as `Ok(seq)` for events and `Err(dropped)` for `lagged`.
fn drain(b: &mut Broker, id: SubscriberId) -> Vec<Result<u64, u64>> {
    std::iter::from_fn(|| b.poll_delivery(id))
        .map(|d| match d {
            Delivery::Event(e) => Ok(e.id().seq),
            Delivery::Lagged { dropped } => Err(dropped),
        })
        .collect()
}

#[test]
fn a_burst_of_renames_of_one_task_reaches_a_lagging_subscriber_as_its_newest_state() {
    let mut b = broker(4, true);
    let (s, _) = b.subscribe(Filter::all(), None);
    let created = publish(&mut b, "task.created", Some("t"));
    let mut last = created;
    for _ in 0..100 {
        last = publish(&mut b, "task.updated", Some("t"));
    }
    assert_eq!(drain(&mut b, s), vec![Ok(last)], "no lagged, one event");
    let stats = b.stats();
    assert_eq!((stats.dropped, stats.lagged, stats.conflated), (0, 0, 100));
}

#[test]
fn without_conflation_the_same_burst_costs_a_lagged_notice() {
    let mut b = broker(4, false);
    let (s, _) = b.subscribe(Filter::all(), None);
    publish(&mut b, "task.created", Some("t"));
    let mut last = 0;
    for _ in 0..100 {
        last = publish(&mut b, "task.updated", Some("t"));
    }
    assert_eq!(
        drain(&mut b, s),
        vec![Err(97), Ok(last - 3), Ok(last - 2), Ok(last - 1), Ok(last)]
    );
}

#[test]
fn every_task_keeps_its_newest_whole_state_and_newer_status_beyond_the_queue() {
    let mut b = broker(2, true);
    let (s, _) = b.subscribe(Filter::all(), None);
    let mut expected = Vec::new();
    for t in ["a", "b", "c", "d", "e"] {
        publish(&mut b, "task.created", Some(t));
        publish(&mut b, "task.status", Some(t));
        expected.push(publish(&mut b, "task.updated", Some(t)));
    }
    // A status after the newest whole task is state too.
    expected.push(publish(&mut b, "task.status", Some("a")));
    publish(&mut b, "task.status", Some("b"));
    expected.push(publish(&mut b, "task.status", Some("b")));
    expected.sort_unstable();
    assert_eq!(
        drain(&mut b, s),
        expected.into_iter().map(Ok).collect::<Vec<_>>(),
        "five tasks: more than the queue of 2, none lost, ids increasing"
    );
}

#[test]
fn a_status_does_not_supersede_a_whole_task() {
    let mut b = broker(1, true);
    let (s, _) = b.subscribe(Filter::all(), None);
    let created = publish(&mut b, "task.created", Some("t"));
    publish(&mut b, "task.status", Some("t"));
    let status = publish(&mut b, "task.status", Some("t"));
    assert_eq!(drain(&mut b, s), vec![Ok(created), Ok(status)]);
}

#[test]
fn lagged_counts_only_the_unkeyed_events_lost() {
    let mut b = broker(3, true);
    let (s, _) = b.subscribe(Filter::all(), None);
    for _ in 0..5 {
        publish(&mut b, "trigger.fired", None);
    }
    let renamed = (0..10)
        .map(|_| publish(&mut b, "task.updated", Some("t")))
        .last();
    let trigger = publish(&mut b, "trigger.fired", None);
    // Of 16 pending, the newest 3 are within the queue: the 5 triggers
    // before them are lost, the renames collapse into the newest.
    assert_eq!(
        drain(&mut b, s),
        vec![Err(5), Ok(renamed.expect("renamed")), Ok(trigger)]
    );
}

#[test]
fn only_events_the_subscriber_receives_supersede() {
    let mut b = broker(1, true);
    let statuses = Filter::parse(Some("task.status,trigger.fired"), None).expect("valid");
    let (s, _) = b.subscribe(statuses, None);
    let status = publish(&mut b, "task.status", Some("t"));
    // A rename would supersede the status, but this subscriber does not
    // receive renames: the status is its newest state of the task.
    publish(&mut b, "task.updated", Some("t"));
    publish(&mut b, "trigger.fired", None);
    let trigger = publish(&mut b, "trigger.fired", None);
    assert_eq!(drain(&mut b, s), vec![Err(1), Ok(status), Ok(trigger)]);
}

#[test]
fn a_task_filter_conflates_its_own_task() {
    let mut b = broker(2, true);
    let (s, _) = b.subscribe(Filter::parse(None, Some("t")).expect("valid"), None);
    let mut last = 0;
    for _ in 0..20 {
        publish(&mut b, "task.status", Some("other"));
        last = publish(&mut b, "task.status", Some("t"));
    }
    assert_eq!(drain(&mut b, s), vec![Ok(last)]);
}

#[test]
fn removal_is_kept_and_supersedes_nothing() {
    let mut b = broker(1, true);
    let (s, _) = b.subscribe(Filter::all(), None);
    let status = publish(&mut b, "task.status", Some("t"));
    let removed = publish(&mut b, "task.removed", Some("t"));
    publish(&mut b, "task.status", Some("u"));
    let newest = publish(&mut b, "task.status", Some("u"));
    assert_eq!(drain(&mut b, s), vec![Ok(status), Ok(removed), Ok(newest)]);
}

#[test]
fn a_subscriber_that_keeps_up_receives_every_task_event() {
    let mut b = broker(4, true);
    let (s, _) = b.subscribe(Filter::all(), None);
    let mut got = Vec::new();
    let mut published = Vec::new();
    for i in 0..40 {
        published.push(publish(&mut b, "task.status", Some("t")));
        if i % 3 == 2 {
            got.extend(drain(&mut b, s));
        }
    }
    got.extend(drain(&mut b, s));
    assert_eq!(got, published.into_iter().map(Ok).collect::<Vec<_>>());
    assert_eq!(b.stats().conflated, 0);
}

#[test]
fn a_resumed_replay_is_never_conflated() {
    let mut b = broker(2, true);
    let from = publish(&mut b, "task.created", Some("t"));
    let mut missed = Vec::new();
    for _ in 0..10 {
        missed.push(publish(&mut b, "task.status", Some("t")));
    }
    let (s, ready) = b.subscribe(Filter::all(), Some(&format!("c-{from}")));
    assert!(ready.resumed);
    assert_eq!(
        drain(&mut b, s),
        missed.into_iter().map(Ok).collect::<Vec<_>>()
    );
}

#[test]
fn a_later_status_published_while_it_reads_still_supersedes() {
    let mut b = broker(2, true);
    let (s, _) = b.subscribe(Filter::all(), None);
    let a = publish(&mut b, "task.status", Some("a"));
    let stale = publish(&mut b, "task.status", Some("b"));
    let c = publish(&mut b, "task.status", Some("c"));
    assert!(matches!(b.poll_delivery(s), Some(Delivery::Event(e)) if e.id().seq == a));
    // Still lagging: b's newer status, published meanwhile, replaces the
    // stale one.
    let fresh = publish(&mut b, "task.status", Some("b"));
    assert_eq!(drain(&mut b, s), vec![Ok(c), Ok(fresh)]);
    assert!(stale < c);
}
