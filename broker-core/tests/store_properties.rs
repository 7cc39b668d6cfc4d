//! The store ends where the server is, whatever the order, repetition and
//! list timing of the news it gets.
#![cfg(not(target_arch = "wasm32"))]
// proptest's `prop_oneof!` shares its strategies through `Arc`; the core's
// no-`Arc` rule is about the library, not its test harness.
#![allow(clippy::disallowed_types)]

mod store_support;

use broker_core::{Observation, TaskStore, Timestamp};
use proptest::prelude::*;
use store_support::{contents, Mirror, Op, Server};

fn observation() -> impl Strategy<Value = Observation> {
    prop_oneof![
        8 => (0u64..4_000, any::<bool>()).prop_map(|(at, blocked)| Observation::Alive {
            last_output_at: Timestamp::from_millis(10_000 + at),
            blocked_on_read: blocked,
        }),
        3 => Just(Observation::InputSent),
        1 => (0i32..3).prop_map(|code| Observation::Exited { code }),
        1 => Just(Observation::Killed),
        1 => Just(Observation::Lost { reason: "lost".into() }),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        1 => Just(Op::Create),
        2 => (0usize..4, "[a-c]{1,2}").prop_map(|(task, name)| Op::Rename { task, name }),
        6 => (0usize..4, observation(), 0u64..800)
            .prop_map(|(task, observation, after_ms)| Op::Observe { task, observation, after_ms }),
    ]
}

/// A list request: it goes out before the `start`-th arrival and answers
/// (or fails) before the `land`-th; `pick` chooses where between the
/// earliest state it may reflect and the head its cursor lies.
#[derive(Clone, Debug)]
struct ListPlan {
    start: usize,
    land: usize,
    pick: f64,
    fails: bool,
}

#[derive(Clone, Debug)]
struct Scenario {
    ops: Vec<Op>,
    /// Indices into the server's events: every event at least once, some
    /// more than once, in any order.
    arrivals: Vec<usize>,
    lists: Vec<ListPlan>,
}

fn scenario() -> impl Strategy<Value = Scenario> {
    prop::collection::vec(op(), 0..30)
        .prop_flat_map(|mut ops| {
            ops.insert(0, Op::Create);
            let n = Server::run(&ops).events.len();
            let arrivals = prop::collection::vec(0..n, 0..=n).prop_flat_map(move |dups| {
                let mut all: Vec<usize> = (0..n).collect();
                all.extend(dups);
                Just(all).prop_shuffle()
            });
            (Just(ops), arrivals)
        })
        .prop_flat_map(|(ops, arrivals)| {
            let len = arrivals.len();
            let plan = (0..=len, 0..=len, 0.0..=1.0f64, prop::bool::weighted(0.2)).prop_map(
                |(a, b, pick, fails)| ListPlan {
                    start: a.min(b),
                    land: a.max(b),
                    pick,
                    fails,
                },
            );
            (Just(ops), Just(arrivals), prop::collection::vec(plan, 0..3))
        })
        .prop_map(|(ops, arrivals, mut lists)| {
            // One list at a time, the next requested after the last answered.
            lists.sort_by_key(|l| l.start);
            let mut last_land = 0;
            lists.retain(|l| {
                let keep = l.start >= last_land;
                if keep {
                    last_land = l.land;
                }
                keep
            });
            Scenario {
                ops,
                arrivals,
                lists,
            }
        })
}

fn deliver(
    store: &mut TaskStore<broker_core::Task>,
    server: &Server,
    index: usize,
) -> Vec<broker_core::Change> {
    let event = &server.events[index];
    store
        .handle_event(event.kind, &event.data)
        .expect("the server's events are well formed")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn in_order_history_rebuilds_the_server(ops in prop::collection::vec(op(), 0..40)) {
        let server = Server::run(&ops);
        let mut store = TaskStore::new();
        let mut mirror = Mirror::default();
        for i in 0..server.events.len() {
            let changes = deliver(&mut store, &server, i);
            prop_assert_eq!(changes.len(), 1, "every event changes its task");
            mirror.follow(&store, &changes).map_err(TestCaseError::fail)?;
        }
        let expected: Vec<_> = server.published.values().cloned().collect();
        prop_assert_eq!(contents(&store), expected);
    }

    #[test]
    fn any_order_repetition_and_list_timing_ends_where_the_server_is(s in scenario()) {
        let server = Server::run(&s.ops);
        let mut store = TaskStore::new();
        let mut mirror = Mirror::default();
        // The newest event seq the client has received or listed: a list
        // requested later reflects at least that much (the server published
        // it before answering).
        let mut seen_seq = 0u64;
        let mut lists = s.lists.iter().peekable();
        // The plan in flight and the least its cursor may be.
        let mut in_flight: Option<(&ListPlan, u64)> = None;
        let land = |store: &mut TaskStore<broker_core::Task>, plan: &ListPlan, least: u64, seen_seq: &mut u64| {
            if plan.fails {
                return store.handle_list_failed();
            }
            let span = (server.head() - least) as f64;
            let k = least + (plan.pick * span).round() as u64;
            *seen_seq = (*seen_seq).max(k);
            store.handle_list(server.list_at(k))
        };
        for pos in 0..=s.arrivals.len() {
            if let Some((plan, least)) = in_flight.filter(|(p, _)| p.land == pos) {
                in_flight = None;
                let changes = land(&mut store, plan, least, &mut seen_seq);
                mirror.follow(&store, &changes).map_err(TestCaseError::fail)?;
            }
            if let Some(plan) = lists.next_if(|p| p.start == pos) {
                store.handle_list_started();
                if plan.land == pos {
                    // Answers before anything else arrives.
                    let changes = land(&mut store, plan, seen_seq, &mut seen_seq);
                    mirror.follow(&store, &changes).map_err(TestCaseError::fail)?;
                } else {
                    in_flight = Some((plan, seen_seq));
                }
            }
            let Some(&index) = s.arrivals.get(pos) else { break };
            let changes = deliver(&mut store, &server, index);
            seen_seq = seen_seq.max(server.events[index].seq);
            if in_flight.is_some() {
                prop_assert!(changes.is_empty(), "applied while a list was in flight");
            }
            mirror.follow(&store, &changes).map_err(TestCaseError::fail)?;
        }
        let expected: Vec<_> = server.published.values().cloned().collect();
        prop_assert_eq!(contents(&store), expected);
    }
}
