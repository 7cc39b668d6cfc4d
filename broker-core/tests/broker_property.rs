//! Property: for any interleaving of publishes, polls, drains, subscribes
//! (with and without resume) and unsubscribes, under any filter and buffer
//! sizes, every subscriber sees a gap-free run of the events its filter passes,
//! in order, never a duplicate, except where a `lagged` count accounts exactly
//! for what is missing — and what it sees is exactly what an eager reference
//! model (a real bounded queue per subscriber) would deliver.
//!
//! It runs twice: with unkeyed types (conflation, on by default, has nothing
//! to do), and with the `a.` types renamed to task types about tasks but
//! conflation switched off, which must then be exactly the plain model.
#![cfg(not(target_arch = "wasm32"))]
// proptest's `prop_oneof!` builds its union on `Arc`; the ban is for the core.
#![allow(clippy::disallowed_types)]

use std::collections::VecDeque;

use broker_core::{
    sse, Broker, BrokerConfig, Delivery, Epoch, EventType, Filter, SubscriberId, TaskId,
};
use bytes::BytesMut;
use proptest::prelude::*;
use serde_json::Map;

const EPOCH: Epoch = Epoch::new(0xe9);
const KINDS: [&str; 5] = ["a.x", "a.y", "b", "b.z", "c"];
const TASKS: [Option<&str>; 3] = [None, Some("t1"), Some("t2")];
const FILTERS: [(Option<&str>, Option<&str>); 9] = [
    (None, None),
    (Some("a.*"), None),
    (Some("a.x,b"), None),
    (Some("b.*,a.y,a.*"), None),
    (Some("c"), None),
    (None, Some("t1")),
    (Some("a.*"), Some("t1")),
    (Some("b"), Some("t2")),
    (Some("zzz"), None),
];

#[derive(Clone, Debug)]
enum Resume {
    /// No `Last-Event-ID`.
    Fresh,
    /// The head minus this many (may be too old, or before the epoch).
    Back(u64),
    /// One past the head.
    Future,
    /// Another epoch's id.
    Foreign,
    /// Not an id at all.
    Garbage,
}

#[derive(Clone, Debug)]
enum Op {
    Publish { kind: usize, task: usize },
    Subscribe { filter: usize, resume: Resume },
    Poll { sub: usize, items: usize },
    Drain { sub: usize, max_bytes: usize },
    Unsubscribe { sub: usize },
}

fn op() -> impl Strategy<Value = Op> {
    let resume = prop_oneof![
        2 => Just(Resume::Fresh),
        4 => (0u64..14).prop_map(Resume::Back),
        1 => Just(Resume::Future),
        1 => Just(Resume::Foreign),
        1 => Just(Resume::Garbage),
    ];
    prop_oneof![
        8 => (0..KINDS.len(), 0..TASKS.len()).prop_map(|(kind, task)| Op::Publish { kind, task }),
        2 => (0..FILTERS.len(), resume).prop_map(|(filter, resume)| Op::Subscribe { filter, resume }),
        3 => (0usize..8, 1usize..6).prop_map(|(sub, items)| Op::Poll { sub, items }),
        2 => (0usize..8, 0usize..200).prop_map(|(sub, max_bytes)| Op::Drain { sub, max_bytes }),
        1 => (0usize..8).prop_map(|sub| Op::Unsubscribe { sub }),
    ]
}

/// One published event as the test remembers it.
struct Published {
    kind: &'static str,
    task: Option<&'static str>,
}

/// The type (or filter) text the broker sees: in the keyed run, `a.x` is
/// `task.created`, `a.y` is `task.status` and `a.*` is `task.*` (a renaming
/// that keeps which patterns match which types).
fn wire(text: &str, keyed: bool) -> String {
    if !keyed {
        return text.to_owned();
    }
    text.split(',')
        .map(|p| match p {
            "a.x" => "task.created",
            "a.y" => "task.status",
            "a.*" => "task.*",
            other => other,
        })
        .collect::<Vec<_>>()
        .join(",")
}

fn passes(filter: usize, e: &Published) -> bool {
    let (types, task) = FILTERS[filter];
    if task.is_some() && e.task != task {
        return false;
    }
    match types {
        None => true,
        Some(list) => list.split(',').any(|p| match p.strip_suffix('*') {
            Some(prefix) => e.kind.starts_with(prefix),
            None => e.kind == p,
        }),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Item {
    Replay(u64),
    Live(u64),
    Lagged(u64),
}

/// The reference: a real queue per subscriber, updated at every publish.
struct ModelSub {
    id: SubscriberId,
    filter: usize,
    queue: VecDeque<Item>,
    live: usize,
    /// Independent accounting: the seq after the last event received...
    expected_next: u64,
    /// ...and the losses reported since.
    lost_since: u64,
}

impl ModelSub {
    /// Replaces the event `seq` by a one-event loss.
    fn lose(&mut self, pos: usize) {
        if matches!(self.queue[pos], Item::Live(_)) {
            self.live -= 1;
        }
        self.queue[pos] = Item::Lagged(1);
        // Merge adjacent losses.
        let mut merged: VecDeque<Item> = VecDeque::with_capacity(self.queue.len());
        for item in self.queue.drain(..) {
            match (merged.back_mut(), item) {
                (Some(Item::Lagged(a)), Item::Lagged(b)) => *a += b,
                (_, item) => merged.push_back(item),
            }
        }
        self.queue = merged;
    }
}

struct Harness {
    broker: Broker,
    log: Vec<Published>, // index = seq - 1
    cap: usize,
    queue: usize,
    /// Task types (with conflation off) instead of plain ones.
    keyed: bool,
    subs: Vec<ModelSub>,
}

impl Harness {
    fn new(history: usize, queue: usize, keyed: bool) -> Self {
        Harness {
            broker: Broker::new(
                EPOCH,
                1,
                BrokerConfig {
                    history,
                    queue,
                    conflation: !keyed,
                    ..BrokerConfig::default()
                },
            ),
            log: Vec::new(),
            cap: history.max(queue),
            queue,
            keyed,
            subs: Vec::new(),
        }
    }

    fn head(&self) -> u64 {
        self.log.len() as u64
    }

    fn oldest(&self) -> u64 {
        (self.head() + 1).saturating_sub(self.cap as u64).max(1)
    }

    fn event(&self, seq: u64) -> &Published {
        &self.log[(seq - 1) as usize]
    }

    fn frame(&self, item: Item) -> Vec<u8> {
        match item {
            Item::Replay(seq) | Item::Live(seq) => format!(
                "id: {EPOCH}-{seq}\nevent: {}\ndata: {{}}\n\n",
                wire(self.event(seq).kind, self.keyed)
            )
            .into_bytes(),
            Item::Lagged(n) => sse::lagged_frame(n).to_vec(),
        }
    }

    fn publish(&mut self, kind: usize, task: usize) {
        let (kind, task) = (KINDS[kind], TASKS[task]);
        let id = self.broker.publish(
            EventType::new(wire(kind, self.keyed)).expect("valid"),
            task.map(|t| TaskId::new(t).expect("valid")),
            &Map::new(),
        );
        self.log.push(Published { kind, task });
        let seq = self.head();
        assert_eq!(id.seq, seq);
        // The event that leaves the history is lost to whoever still waits.
        if seq > self.cap as u64 {
            let evicted = seq - self.cap as u64;
            for sub in &mut self.subs {
                if let Some(pos) = sub
                    .queue
                    .iter()
                    .position(|i| matches!(i, Item::Replay(s) | Item::Live(s) if *s == evicted))
                {
                    sub.lose(pos);
                }
            }
        }
        let Harness {
            subs, log, queue, ..
        } = self;
        for sub in subs.iter_mut() {
            if passes(sub.filter, &log[(seq - 1) as usize]) {
                sub.queue.push_back(Item::Live(seq));
                sub.live += 1;
                if sub.live > *queue {
                    let pos = sub
                        .queue
                        .iter()
                        .position(|i| matches!(i, Item::Live(_)))
                        .expect("a live event");
                    sub.lose(pos);
                }
            }
        }
    }

    fn subscribe(&mut self, filter: usize, resume: &Resume) {
        let head = self.head();
        // `Back` never goes below 0, the list cursor before the first event.
        let back = |k: u64| head.saturating_sub(k);
        let raw = match resume {
            Resume::Fresh => None,
            Resume::Back(k) => Some(format!("{EPOCH}-{}", back(*k))),
            Resume::Future => Some(format!("{EPOCH}-{}", head + 1)),
            Resume::Foreign => Some(format!("ea-{head}")),
            Resume::Garbage => Some("e9-".to_owned()),
        };
        let (types, task) = FILTERS[filter];
        let types = types.map(|t| wire(t, self.keyed));
        let (id, ready) = self.broker.subscribe(
            Filter::parse(types.as_deref(), task).expect("valid filter"),
            raw.as_deref(),
        );
        let should_resume = match resume {
            Resume::Back(k) => back(*k) + 1 >= self.oldest(),
            _ => false,
        };
        assert_eq!(
            ready.resumed, should_resume,
            "resume {resume:?} at head {head}"
        );
        assert_eq!(ready.head.seq, head);
        assert_eq!(ready.epoch, EPOCH);
        let mut queue = VecDeque::new();
        let mut start = head + 1;
        if let (true, Resume::Back(k)) = (should_resume, resume) {
            start = back(*k) + 1;
            for seq in start..=head {
                if passes(filter, self.event(seq)) {
                    queue.push_back(Item::Replay(seq));
                }
            }
        }
        self.subs.push(ModelSub {
            id,
            filter,
            queue,
            live: 0,
            expected_next: start,
            lost_since: 0,
        });
    }

    /// Checks one received item against the model and the accounting rule.
    fn received(&mut self, sub: usize, got: Item) {
        let expected = self.subs[sub].queue.pop_front();
        assert_eq!(Some(got), expected, "subscriber {sub}");
        let filter = self.subs[sub].filter;
        match got {
            Item::Lagged(n) => {
                assert!(n > 0, "a zero loss is never reported");
                self.subs[sub].lost_since += n;
            }
            Item::Replay(seq) | Item::Live(seq) => {
                let from = self.subs[sub].expected_next;
                assert!(seq >= from, "duplicate or out of order: {seq} < {from}");
                assert!(passes(filter, self.event(seq)));
                let skipped = (from..seq)
                    .filter(|&s| passes(filter, self.event(s)))
                    .count();
                assert_eq!(
                    skipped as u64, self.subs[sub].lost_since,
                    "a gap not accounted for exactly"
                );
                if let Item::Live(_) = got {
                    self.subs[sub].live -= 1;
                }
                self.subs[sub].expected_next = seq + 1;
                self.subs[sub].lost_since = 0;
            }
        }
    }

    fn poll(&mut self, sub: usize, items: usize) {
        for _ in 0..items {
            let id = self.subs[sub].id;
            assert_eq!(
                self.broker.has_pending(id),
                !self.subs[sub].queue.is_empty()
            );
            let got = match self.broker.poll_delivery(id) {
                None => {
                    assert!(self.subs[sub].queue.is_empty(), "missing delivery");
                    return;
                }
                Some(Delivery::Lagged { dropped }) => Item::Lagged(dropped),
                Some(Delivery::Event(e)) => match self.subs[sub].queue.front() {
                    Some(Item::Replay(_)) => Item::Replay(e.id().seq),
                    _ => Item::Live(e.id().seq),
                },
            };
            self.received(sub, got);
        }
    }

    fn drain(&mut self, sub: usize, max_bytes: usize) {
        let id = self.subs[sub].id;
        let mut out = BytesMut::new();
        let written = self.broker.drain_frames(id, &mut out, max_bytes);
        let mut expected = Vec::new();
        let mut count = 0;
        while count == 0 || expected.len() < max_bytes {
            let Some(&item) = self.subs[sub].queue.front() else {
                break;
            };
            expected.extend_from_slice(&self.frame(item));
            self.received(sub, item);
            count += 1;
        }
        assert_eq!(written, count);
        assert_eq!(&out[..], &expected[..]);
    }

    fn run(&mut self, op: &Op) {
        match op {
            Op::Publish { kind, task } => self.publish(*kind, *task),
            Op::Subscribe { filter, resume } => self.subscribe(*filter, resume),
            Op::Poll { sub, items } if !self.subs.is_empty() => {
                self.poll(sub % self.subs.len(), *items)
            }
            Op::Drain { sub, max_bytes } if !self.subs.is_empty() => {
                self.drain(sub % self.subs.len(), *max_bytes)
            }
            Op::Unsubscribe { sub } if !self.subs.is_empty() => {
                let sub = self.subs.remove(sub % self.subs.len());
                assert!(self.broker.unsubscribe(sub.id));
                assert!(!self.broker.unsubscribe(sub.id));
            }
            _ => {}
        }
        assert_eq!(self.broker.stats().subscribers, self.subs.len());
        assert_eq!(self.broker.stats().published, self.head());
    }

    /// After everything, a full drain leaves nothing unaccounted for: what
    /// matched after the last event received is exactly the loss reported
    /// since (the newest events can be lost too, when non-matching events
    /// push them out of a small history).
    fn finish(&mut self) {
        for sub in 0..self.subs.len() {
            self.poll(sub, usize::MAX);
            let s = &self.subs[sub];
            let after = (s.expected_next..=self.head())
                .filter(|&seq| passes(s.filter, self.event(seq)))
                .count() as u64;
            assert_eq!(after, s.lost_since, "trailing loss not accounted for");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 512,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn every_subscriber_sees_a_gap_free_run_or_an_exact_loss_count(
        history in 1usize..10,
        queue in 1usize..6,
        ops in proptest::collection::vec(op(), 0..80),
    ) {
        let mut h = Harness::new(history, queue, false);
        for op in &ops {
            h.run(op);
        }
        h.finish();
    }

    #[test]
    fn with_conflation_off_task_events_follow_the_plain_model(
        history in 1usize..10,
        queue in 1usize..6,
        ops in proptest::collection::vec(op(), 0..80),
    ) {
        let mut h = Harness::new(history, queue, true);
        for op in &ops {
            h.run(op);
        }
        h.finish();
    }
}
