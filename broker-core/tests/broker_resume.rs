//! Resuming from a `Last-Event-ID`: when it resumes, the missed events come
//! first with no gap and no duplicate; otherwise the client is told to list.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use broker_core::{
    Broker, BrokerConfig, Delivery, Epoch, EventId, EventType, Filter, SubscriberId,
};
use serde_json::Map;

const EPOCH: Epoch = Epoch::new(0x5e);

/// A broker whose first event is `EPOCH-10`, with `n` events published.
fn broker_with(n: u64, history: usize, queue: usize) -> Broker {
    let mut b = Broker::new(
        EPOCH,
        10,
        BrokerConfig {
            history,
            queue,
            ..BrokerConfig::default()
        },
    );
    for _ in 0..n {
        publish(&mut b);
    }
    b
}

fn publish(b: &mut Broker) -> u64 {
    b.publish(EventType::new("a").expect("valid"), None, &Map::new())
        .seq
}

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

fn resumes(b: &mut Broker, raw: &str) -> bool {
    let (id, ready) = b.subscribe(Filter::all(), Some(raw));
    assert_eq!(ready.epoch, EPOCH);
    assert_eq!(ready.head, b.head());
    b.unsubscribe(id);
    ready.resumed
}

#[test]
fn an_id_of_this_epoch_still_in_history_resumes_with_the_missed_events_first() {
    let mut b = broker_with(5, 16, 4); // seqs 10..=14
    let (s, ready) = b.subscribe(Filter::all(), Some("5e-11"));
    assert!(ready.resumed);
    assert_eq!(ready.head, EventId::new(EPOCH, 14));
    let live = publish(&mut b);
    assert_eq!(drain(&mut b, s), vec![Ok(12), Ok(13), Ok(14), Ok(live)]);
}

#[test]
fn the_head_itself_resumes_with_nothing_missed() {
    let mut b = broker_with(5, 16, 4);
    let (s, ready) = b.subscribe(Filter::all(), Some("5e-14"));
    assert!(ready.resumed);
    assert!(!b.has_pending(s));
    assert_eq!(drain(&mut b, s), vec![]);
}

#[test]
fn the_list_cursor_taken_before_any_event_resumes() {
    let mut b = broker_with(0, 16, 4);
    assert_eq!(b.head(), EventId::new(EPOCH, 9));
    assert!(resumes(&mut b, "5e-9"));
    let mut b = broker_with(3, 16, 4);
    let (s, ready) = b.subscribe(Filter::all(), Some("5e-9"));
    assert!(ready.resumed);
    assert_eq!(drain(&mut b, s), vec![Ok(10), Ok(11), Ok(12)]);
}

#[test]
fn ids_that_cannot_resume_start_from_now() {
    let mut b = broker_with(20, 8, 4); // seqs 10..=29, history holds 22..=29
    for raw in [
        "",
        "garbage",
        "5e",
        "5E-20",
        "5e-x",
        "5e--1",
        " 5e-25",
        "5f-25", // another epoch
        "5e-30", // the future
        "5e-99999999999999999999",
        "5e-18446744073709551615",
        "5e-20", // fell out of history (21 is gone)
        "5e-8",  // before this epoch
    ] {
        assert!(!resumes(&mut b, raw), "{raw:?} must not resume");
    }
    // 21 is the newest id all of whose successors are still held.
    assert!(resumes(&mut b, "5e-21"));
    assert!(resumes(&mut b, "5e-29"));
}

#[test]
fn a_subscriber_that_does_not_resume_gets_only_new_events() {
    let mut b = broker_with(5, 16, 4);
    let (s, ready) = b.subscribe(Filter::all(), Some("77-3"));
    assert!(!ready.resumed);
    assert!(!b.has_pending(s));
    let live = publish(&mut b);
    assert_eq!(drain(&mut b, s), vec![Ok(live)]);
}

#[test]
fn a_resumed_subscriber_gets_every_missed_event_even_beyond_its_queue() {
    let mut b = broker_with(12, 32, 3); // seqs 10..=21
    let (s, ready) = b.subscribe(Filter::all(), Some("5e-9"));
    assert!(ready.resumed);
    assert_eq!(drain(&mut b, s), (10..=21).map(Ok).collect::<Vec<_>>());
}

#[test]
fn the_lag_limit_applies_to_events_published_after_a_resume() {
    let mut b = broker_with(6, 32, 2); // seqs 10..=15
    let (s, _) = b.subscribe(Filter::all(), Some("5e-11"));
    for _ in 0..5 {
        publish(&mut b); // 16..=20: three over the limit of two
    }
    assert_eq!(
        drain(&mut b, s),
        vec![Ok(12), Ok(13), Ok(14), Ok(15), Err(3), Ok(19), Ok(20)]
    );
}

#[test]
fn replayed_events_that_leave_history_before_being_read_are_reported_lost() {
    let mut b = broker_with(8, 8, 2); // seqs 10..=17, all held
    let (s, ready) = b.subscribe(Filter::all(), Some("5e-9"));
    assert!(ready.resumed);
    // Reads 10 and 11 of the replay.
    assert_eq!(
        (0..2).filter_map(|_| b.poll_delivery(s)).count(),
        2,
        "reads 10 and 11"
    );
    for _ in 0..4 {
        publish(&mut b); // 18..=21; the ring now holds 14..=21
    }
    // 12 and 13 fell out unread; the rest of the replay follows; of the four
    // live events the newest two are kept.
    assert_eq!(
        drain(&mut b, s),
        vec![
            Err(2),
            Ok(14),
            Ok(15),
            Ok(16),
            Ok(17),
            Err(2),
            Ok(20),
            Ok(21)
        ]
    );
}

#[test]
fn a_replay_overtaken_entirely_by_history_is_one_loss_report() {
    let mut b = broker_with(4, 4, 2); // seqs 10..=13
    let (s, ready) = b.subscribe(Filter::all(), Some("5e-9"));
    assert!(ready.resumed);
    for _ in 0..10 {
        publish(&mut b); // 14..=23; the ring holds 20..=23
    }
    // The whole replay (4) and eight of the ten live events are lost.
    assert_eq!(drain(&mut b, s), vec![Err(12), Ok(22), Ok(23)]);
}

#[test]
fn a_filtered_resume_replays_only_matching_events() {
    let mut b = Broker::new(
        EPOCH,
        1,
        BrokerConfig {
            history: 16,
            queue: 4,
            ..BrokerConfig::default()
        },
    );
    for kind in ["x", "y", "x", "y", "x"] {
        b.publish(EventType::new(kind).expect("valid"), None, &Map::new());
    }
    let filter = Filter::parse(Some("x"), None).expect("valid");
    let (s, ready) = b.subscribe(filter, Some("5e-1"));
    assert!(ready.resumed);
    assert_eq!(drain(&mut b, s), vec![Ok(3), Ok(5)]);
}
