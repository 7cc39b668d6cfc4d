//! Property: keyed conflation against a model of the server's task state.
//!
//! For any interleaving of publishes (task events of a few tasks, unkeyed
//! events, frames of random size), subscribes (fresh and resumed, under
//! filters that let some, all or none of the task types through), polls,
//! drains and unsubscribes, every subscriber:
//!
//! - receives events passing its filter, ids strictly increasing;
//! - (history never cut) ends with each task exactly as the server has it,
//!   as seen through its filter, and is told `lagged` for exactly the unkeyed
//!   events it lost — every task event it did not receive was superseded by
//!   a later one it did; a subscriber that lost no unkeyed event is never
//!   told `lagged`; a loss is reported before any later event;
//! - (history cut by count and bytes) never loses an event silently unless a
//!   later published event supersedes it, never over-reports, and when it was
//!   never told `lagged` still ends with the server's tasks; `ready.resumed`
//!   is exact against a model of the ring's count and byte bounds.
#![cfg(not(target_arch = "wasm32"))]
// proptest's `prop_oneof!` builds its union on `Arc`; the ban is for the core.
#![allow(clippy::disallowed_types)]

use std::collections::{BTreeMap, VecDeque};

use broker_core::{Broker, BrokerConfig, Delivery, Epoch, EventType, Filter, SubscriberId, TaskId};
use bytes::BytesMut;
use proptest::prelude::*;
use serde_json::{Map, Value};

const EPOCH: Epoch = Epoch::new(0xc0);
const KINDS: [&str; 6] = [
    "task.created",
    "task.updated",
    "task.status",
    "task.removed",
    "trigger.fired",
    "memory.changed",
];
const TASKS: [Option<&str>; 4] = [None, Some("t1"), Some("t2"), Some("t3")];
const FILTERS: [(Option<&str>, Option<&str>); 9] = [
    (None, None),
    (Some("task.*"), None),
    (Some("task.status"), None),
    (Some("task.created,task.status"), None),
    (Some("task.*,trigger.fired"), None),
    (None, Some("t1")),
    (Some("task.updated,task.removed"), Some("t2")),
    (Some("trigger.fired"), None),
    (Some("task.status,memory.changed"), None),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Class {
    Whole,
    Status,
    Removed,
}

#[derive(Clone, Debug)]
enum Op {
    Publish {
        kind: usize,
        task: usize,
        pad: usize,
    },
    Subscribe {
        filter: usize,
        back: Option<u64>,
    },
    Poll {
        sub: usize,
        items: usize,
    },
    Drain {
        sub: usize,
        max_bytes: usize,
    },
    Unsubscribe {
        sub: usize,
    },
}

fn op(max_pad: usize) -> impl Strategy<Value = Op> {
    prop_oneof![
        10 => (0..KINDS.len(), 0..TASKS.len(), 0..=max_pad)
            .prop_map(|(kind, task, pad)| Op::Publish { kind, task, pad }),
        2 => (0..FILTERS.len(), proptest::option::of(0u64..12))
            .prop_map(|(filter, back)| Op::Subscribe { filter, back }),
        3 => (0usize..6, 1usize..5).prop_map(|(sub, items)| Op::Poll { sub, items }),
        2 => (0usize..6, 0usize..400).prop_map(|(sub, max_bytes)| Op::Drain { sub, max_bytes }),
        1 => (0usize..6).prop_map(|sub| Op::Unsubscribe { sub }),
    ]
}

struct Published {
    kind: &'static str,
    task: Option<&'static str>,
    frame_len: usize,
}

impl Published {
    fn class(&self) -> Option<Class> {
        self.task?;
        match self.kind {
            "task.created" | "task.updated" => Some(Class::Whole),
            "task.status" => Some(Class::Status),
            "task.removed" => Some(Class::Removed),
            _ => None,
        }
    }
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

/// Whether `later` makes `earlier` redundant (both about the same task).
fn supersedes(later: &Published, earlier: &Published) -> bool {
    if later.task != earlier.task {
        return false;
    }
    matches!(
        (later.class(), earlier.class()),
        (Some(Class::Whole), Some(Class::Whole | Class::Status))
            | (Some(Class::Status), Some(Class::Status))
    )
}

/// A task as a client holding these events sees it: the newest event of each
/// kind of news (whole task, status fields, removal).
#[derive(Debug, Default, PartialEq, Eq)]
struct View {
    whole: u64,
    status: u64,
    removed: u64,
}

struct Sub {
    id: SubscriberId,
    filter: usize,
    /// The first seq it may receive.
    start: u64,
    /// The replay's end (exclusive) when resumed.
    replay_end: Option<u64>,
    delivered: Vec<u64>,
    /// Lagged counts, each with how many events had been delivered before it.
    lagged: Vec<(usize, u64)>,
    /// The conflation window: live events below this were pending at a read
    /// that found more than `queue` pending.
    window: u64,
}

struct Harness {
    broker: Broker,
    log: Vec<Published>,
    cap: usize,
    max_bytes: usize,
    /// The model of the ring: held seqs and their frame sizes.
    ring: VecDeque<(u64, usize)>,
    held_bytes: usize,
    cut: bool,
    queue: usize,
    subs: Vec<Sub>,
}

impl Harness {
    fn new(history: usize, queue: usize, history_bytes: usize) -> Self {
        Harness {
            broker: Broker::new(
                EPOCH,
                1,
                BrokerConfig {
                    history,
                    queue,
                    history_bytes,
                    conflation: true,
                },
            ),
            log: Vec::new(),
            cap: history.max(queue),
            max_bytes: history_bytes.max(1),
            ring: VecDeque::new(),
            held_bytes: 0,
            cut: false,
            queue,
            subs: Vec::new(),
        }
    }

    fn head(&self) -> u64 {
        self.log.len() as u64
    }

    fn event(&self, seq: u64) -> &Published {
        &self.log[(seq - 1) as usize]
    }

    fn oldest(&self) -> u64 {
        self.ring.front().map_or(self.head() + 1, |(s, _)| *s)
    }

    fn publish(&mut self, kind: usize, task: usize, pad: usize) {
        let (kind, task) = (KINDS[kind], TASKS[task]);
        let mut data = Map::new();
        if pad > 0 {
            data.insert("pad".into(), Value::from("p".repeat(pad)));
        }
        let id = self.broker.publish(
            EventType::new(kind).expect("valid"),
            task.map(|t| TaskId::new(t).expect("valid")),
            &data,
        );
        let json = serde_json::to_string(&data).expect("JSON");
        let frame_len = format!("id: {id}\nevent: {kind}\ndata: {json}\n\n").len();
        self.log.push(Published {
            kind,
            task,
            frame_len,
        });
        assert_eq!(id.seq, self.head());
        self.ring.push_back((id.seq, frame_len));
        self.held_bytes += frame_len;
        while (self.ring.len() > self.cap || self.held_bytes > self.max_bytes)
            && self.ring.len() > 1
        {
            let (_, len) = self.ring.pop_front().expect("held");
            self.held_bytes -= len;
            self.cut = true;
        }
        let stats = self.broker.stats();
        assert_eq!(stats.history_len, self.ring.len());
        assert_eq!(stats.history_bytes, self.held_bytes);
    }

    fn subscribe(&mut self, filter: usize, back: Option<u64>) {
        let head = self.head();
        let raw = back.map(|k| format!("{EPOCH}-{}", head.saturating_sub(k)));
        let (types, task) = FILTERS[filter];
        let (id, ready) = self.broker.subscribe(
            Filter::parse(types, task).expect("valid filter"),
            raw.as_deref(),
        );
        let resumed = back.is_some_and(|k| head.saturating_sub(k) + 1 >= self.oldest());
        assert_eq!(ready.resumed, resumed, "resume {back:?} at head {head}");
        let start = match (resumed, back) {
            (true, Some(k)) => head.saturating_sub(k) + 1,
            _ => head + 1,
        };
        self.subs.push(Sub {
            id,
            filter,
            start,
            replay_end: resumed.then_some(head + 1),
            delivered: Vec::new(),
            lagged: Vec::new(),
            window: 0,
        });
    }

    /// Before each read: a subscriber with more than `queue` live events
    /// pending lags, and everything published so far enters its window.
    fn before_read(&mut self, sub: usize) {
        let s = &self.subs[sub];
        let live_start = s.replay_end.unwrap_or(s.start);
        let from = s
            .delivered
            .last()
            .map_or(live_start, |&d| (d + 1).max(live_start));
        let pending = (from..=self.head())
            .filter(|&seq| passes(s.filter, self.event(seq)))
            .count();
        if pending > self.queue {
            self.subs[sub].window = self.head() + 1;
        }
    }

    fn got(&mut self, sub: usize, d: Delivery) {
        if let Delivery::Event(e) = &d {
            // Lagging, it never receives an event of its window that a later
            // one it will receive already supersedes (history never cut: the
            // cursor then follows the deliveries, as this model does).
            let s = &self.subs[sub];
            let seq = e.id().seq;
            let live = seq >= s.replay_end.unwrap_or(s.start);
            if !self.cut && live && seq < s.window {
                let earlier = self.event(seq);
                let superseded = (seq + 1..=self.head()).any(|later| {
                    passes(s.filter, self.event(later)) && supersedes(self.event(later), earlier)
                });
                assert!(!superseded, "lagging, it still received superseded {seq}");
            }
        }
        let s = &mut self.subs[sub];
        match d {
            Delivery::Lagged { dropped } => {
                assert!(dropped > 0, "a zero loss is never reported");
                s.lagged.push((s.delivered.len(), dropped));
            }
            Delivery::Event(e) => {
                let seq = e.id().seq;
                assert_eq!(e.id().epoch, EPOCH);
                assert!(seq >= s.start, "{seq} before the subscription");
                if let Some(&last) = s.delivered.last() {
                    assert!(seq > last, "ids go {last} then {seq}");
                }
                let filter = s.filter;
                s.delivered.push(seq);
                let published = self.event(seq);
                assert!(passes(filter, published));
                assert_eq!(e.kind().as_str(), published.kind);
                assert_eq!(e.frame().len(), published.frame_len);
            }
        }
    }

    fn poll(&mut self, sub: usize, items: usize) {
        for _ in 0..items {
            self.before_read(sub);
            let id = self.subs[sub].id;
            let pending = self.broker.has_pending(id);
            match self.broker.poll_delivery(id) {
                Some(d) => {
                    assert!(pending, "delivered while nothing was pending");
                    self.got(sub, d);
                }
                None => {
                    assert!(!pending, "pending, yet nothing delivered");
                    return;
                }
            }
        }
    }

    fn drain(&mut self, sub: usize, max_bytes: usize) {
        let id = self.subs[sub].id;
        let mut out = BytesMut::new();
        let written = self.broker.drain_frames(id, &mut out, max_bytes);
        // Parse the frames back with the core's own parser.
        let mut parser = broker_core::Parser::default();
        parser.handle_bytes(&out);
        let mut items = 0;
        while let Some(item) = parser.poll_output() {
            self.before_read(sub);
            let broker_core::SseItem::Message(m) = item.expect("well-formed frames") else {
                panic!("only messages are drained");
            };
            items += 1;
            let d = if m.event == "lagged" {
                let v: Value = serde_json::from_str(&m.data).expect("lagged JSON");
                Delivery::Lagged {
                    dropped: v["dropped"].as_u64().expect("a count"),
                }
            } else {
                let seq: u64 = m
                    .last_event_id
                    .rsplit('-')
                    .next()
                    .and_then(|s| s.parse().ok())
                    .expect("an id");
                let p = self.event(seq);
                let e = broker_core::Event::new(
                    broker_core::EventId::new(EPOCH, seq),
                    EventType::new(p.kind).expect("valid"),
                    p.task.map(|t| TaskId::new(t).expect("valid")),
                    &serde_json::from_str(&m.data).expect("data JSON"),
                );
                Delivery::Event(e)
            };
            self.got(sub, d);
        }
        assert_eq!(written, items);
    }

    fn run(&mut self, op: &Op) {
        match op {
            Op::Publish { kind, task, pad } => self.publish(*kind, *task, *pad),
            Op::Subscribe { filter, back } => self.subscribe(*filter, *back),
            Op::Poll { sub, items } if !self.subs.is_empty() => {
                self.poll(sub % self.subs.len(), *items)
            }
            Op::Drain { sub, max_bytes } if !self.subs.is_empty() => {
                self.drain(sub % self.subs.len(), *max_bytes)
            }
            Op::Unsubscribe { sub } if !self.subs.is_empty() => {
                let sub = self.subs.remove(sub % self.subs.len());
                assert!(self.broker.unsubscribe(sub.id));
            }
            _ => {}
        }
    }

    fn view(&self, seqs: impl Iterator<Item = u64>) -> BTreeMap<&'static str, View> {
        let mut views: BTreeMap<&'static str, View> = BTreeMap::new();
        for seq in seqs {
            let e = self.event(seq);
            let (Some(class), Some(task)) = (e.class(), e.task) else {
                continue;
            };
            let v = views.entry(task).or_default();
            match class {
                Class::Whole => {
                    v.whole = v.whole.max(seq);
                    v.status = v.status.max(seq);
                }
                Class::Status => v.status = v.status.max(seq),
                Class::Removed => v.removed = v.removed.max(seq),
            }
        }
        views
    }

    /// Drains everyone, then checks what each received against the log.
    fn finish(&mut self) {
        for sub in 0..self.subs.len() {
            self.poll(sub, usize::MAX);
        }
        for s in &self.subs {
            let matching: Vec<u64> = (s.start..=self.head())
                .filter(|&seq| passes(s.filter, self.event(seq)))
                .collect();
            let delivered: std::collections::BTreeSet<u64> = s.delivered.iter().copied().collect();
            let undelivered: Vec<u64> = matching
                .iter()
                .copied()
                .filter(|seq| !delivered.contains(seq))
                .collect();
            let dropped: u64 = s.lagged.iter().map(|(_, n)| n).sum();
            let same_view =
                self.view(s.delivered.iter().copied()) == self.view(matching.iter().copied());
            if !self.cut {
                // Nothing ever left the history: exact.
                let mut lost_unkeyed = Vec::new();
                for &seq in &undelivered {
                    let e = self.event(seq);
                    if e.class().is_some() {
                        assert!(
                            s.delivered
                                .iter()
                                .any(|&d| d > seq && supersedes(self.event(d), e)),
                            "task event {seq} lost without a later one superseding it"
                        );
                        assert!(
                            s.replay_end.is_none_or(|end| seq >= end),
                            "a replayed event {seq} was skipped"
                        );
                    } else {
                        lost_unkeyed.push(seq);
                    }
                }
                assert_eq!(
                    dropped,
                    lost_unkeyed.len() as u64,
                    "lagged counts the unkeyed losses"
                );
                assert!(same_view, "the subscriber's tasks differ from the server's");
                // Each loss is reported before any event after it.
                for (i, &seq) in s.delivered.iter().enumerate() {
                    let reported: u64 = s
                        .lagged
                        .iter()
                        .filter(|(before, _)| *before <= i)
                        .map(|(_, n)| n)
                        .sum();
                    let lost_before = lost_unkeyed.iter().filter(|&&u| u < seq).count() as u64;
                    assert!(reported >= lost_before, "a loss before {seq} reported late");
                }
            } else {
                // The history was cut: never silent, never over-reported.
                let must_count = undelivered
                    .iter()
                    .filter(|&&seq| {
                        let e = self.event(seq);
                        !matching
                            .iter()
                            .any(|&later| later > seq && supersedes(self.event(later), e))
                    })
                    .count() as u64;
                assert!(
                    dropped >= must_count,
                    "{must_count} events lost, only {dropped} reported"
                );
                assert!(dropped <= undelivered.len() as u64, "over-reported");
                if s.lagged.is_empty() {
                    assert!(same_view, "no lagged, yet the tasks differ");
                }
            }
        }
    }
}

fn check(history: usize, queue: usize, history_bytes: usize, ops: &[Op]) {
    let mut h = Harness::new(history, queue, history_bytes);
    for op in ops {
        h.run(op);
    }
    h.finish();
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 768,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// The history holds everything: conflation and the lag limit alone.
    #[test]
    fn a_lagging_subscriber_ends_with_the_servers_tasks_and_counts_only_unkeyed_losses(
        queue in 1usize..6,
        ops in proptest::collection::vec(op(40), 0..120),
    ) {
        check(10_000, queue, usize::MAX, &ops);
    }

    /// The history is cut by its count and by the bytes of its frames.
    #[test]
    fn with_the_history_cut_nothing_is_lost_silently_and_resume_is_exact(
        history in 1usize..14,
        queue in 1usize..6,
        history_bytes in 60usize..2_000,
        ops in proptest::collection::vec(op(200), 0..120),
    ) {
        check(history, queue, history_bytes, &ops);
    }
}
