//! Broker costs: publishing with 0 to 100,000 subscribers, and draining
//! one subscriber.
//!
//! Goals (issue 2, and issue 12 goal 5): the median publish is at most 1 µs
//! whatever the number of subscribers, and 10,000 subscribers cost at most 2×
//! none; it stays flat up to 100,000. Publish never visits a subscriber, so
//! the subscriber count should not show: the groups below check that with
//! subscribers that are never polled (they lag forever), with subscribers
//! drained every 64 publishes (kept current, as a healthy server's are; up to
//! 10,000, since draining 100,000 per batch would dominate the run), and with
//! subscribers each filtering on its own task (the largest per-pattern
//! counter index). Each publish builds a realistic `task.status` event (type,
//! task id, a four-field object) and encodes its frame, with the history ring
//! full so every publish also evicts one event. Keyed conflation is on (the
//! default): each publish also updates the per-task newest-SEQ index; the
//! `conflation_off` group is the same publish without it.
//!
//! `cargo bench -p broker-core --bench broker`

use std::hint::black_box;
use std::time::{Duration, Instant};

use broker_core::{Broker, BrokerConfig, Epoch, EventType, Filter, SubscriberId, TaskId};
use bytes::BytesMut;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use serde_json::{json, Map, Value};

const SUBSCRIBER_COUNTS: [usize; 4] = [0, 100, 10_000, 100_000];
/// Draining every subscriber each 64 publishes: at most this many.
const DRAINED_COUNTS: [usize; 3] = [0, 100, 10_000];

fn status_data() -> Map<String, Value> {
    match json!({"id": "task-0042", "status": "running", "previous": "queued", "version": 4242}) {
        Value::Object(map) => map,
        _ => unreachable!("a JSON object literal"),
    }
}

struct Fixture {
    broker: Broker,
    subscribers: Vec<SubscriberId>,
    kind: EventType,
    task: TaskId,
    data: Map<String, Value>,
}

impl Fixture {
    fn new(subscribers: usize, filter: impl Fn(usize) -> Filter) -> Self {
        Fixture::with_config(subscribers, filter, BrokerConfig::default())
    }

    fn with_config(
        subscribers: usize,
        filter: impl Fn(usize) -> Filter,
        config: BrokerConfig,
    ) -> Self {
        let mut broker = Broker::new(Epoch::new(0x7d3a), 1, config);
        let subscribers = (0..subscribers)
            .map(|i| broker.subscribe(filter(i), None).0)
            .collect();
        let mut fixture = Fixture {
            broker,
            subscribers,
            kind: EventType::new("task.status").expect("valid type"),
            task: TaskId::new("task-0042").expect("valid task id"),
            data: status_data(),
        };
        // Fill the history so every measured publish also evicts.
        for _ in 0..BrokerConfig::default().history {
            fixture.publish();
        }
        fixture
    }

    fn publish(&mut self) {
        black_box(self.broker.publish(
            self.kind.clone(),
            Some(self.task.clone()),
            black_box(&self.data),
        ));
    }

    fn drain_all(&mut self, out: &mut BytesMut) {
        for &s in &self.subscribers {
            out.clear();
            black_box(self.broker.drain_frames(s, out, usize::MAX));
        }
    }
}

fn publish_idle(c: &mut Criterion) {
    let mut group = c.benchmark_group("publish/idle_subscribers");
    for n in SUBSCRIBER_COUNTS {
        let mut f = Fixture::new(n, |_| Filter::all());
        group.bench_function(BenchmarkId::from_parameter(n), |b| b.iter(|| f.publish()));
    }
    group.finish();
}

fn publish_task_filtered(c: &mut Criterion) {
    let mut group = c.benchmark_group("publish/task_filtered_subscribers");
    for n in SUBSCRIBER_COUNTS {
        let mut f = Fixture::new(n, |i| {
            let task = format!("task-{i:04}");
            Filter::parse(Some("task.*"), Some(&task)).expect("valid filter")
        });
        group.bench_function(BenchmarkId::from_parameter(n), |b| b.iter(|| f.publish()));
    }
    group.finish();
}

/// The same publish with conflation off: what the per-task index costs.
fn publish_conflation_off(c: &mut Criterion) {
    let mut group = c.benchmark_group("publish/conflation_off");
    for n in [0, 100_000] {
        let config = BrokerConfig {
            conflation: false,
            ..BrokerConfig::default()
        };
        let mut f = Fixture::with_config(n, |_| Filter::all(), config);
        group.bench_function(BenchmarkId::from_parameter(n), |b| b.iter(|| f.publish()));
    }
    group.finish();
}

/// Subscribers are drained every 64 publishes; only the publishes are timed.
// A benchmark times itself: the clock ban is for the core, not its benches.
#[allow(clippy::disallowed_methods)]
fn publish_drained(c: &mut Criterion) {
    const DRAIN_EVERY: u64 = 64;
    let mut group = c.benchmark_group("publish/drained_subscribers");
    for n in DRAINED_COUNTS {
        let mut f = Fixture::new(n, |_| Filter::all());
        let mut out = BytesMut::with_capacity(64 * 1024);
        f.drain_all(&mut out);
        group.bench_function(BenchmarkId::from_parameter(n), |b| {
            b.iter_custom(|iters| {
                let mut timed = Duration::ZERO;
                let mut done = 0;
                while done < iters {
                    let batch = DRAIN_EVERY.min(iters - done);
                    let start = Instant::now();
                    for _ in 0..batch {
                        f.publish();
                    }
                    timed += start.elapsed();
                    done += batch;
                    f.drain_all(&mut out);
                }
                timed
            })
        });
    }
    group.finish();
}

/// One subscriber draining what is pending: one event, or 64 at once (the
/// coalesced write of a subscriber that fell a little behind).
#[allow(clippy::disallowed_methods)]
fn drain(c: &mut Criterion) {
    let mut group = c.benchmark_group("drain/per_subscriber");
    for pending in [1u64, 64] {
        let mut f = Fixture::new(1, |_| Filter::all());
        let mut out = BytesMut::with_capacity(64 * 1024);
        f.drain_all(&mut out);
        let s = f.subscribers[0];
        group.bench_function(BenchmarkId::new("pending", pending), |b| {
            b.iter_custom(|iters| {
                let mut timed = Duration::ZERO;
                for _ in 0..iters {
                    for _ in 0..pending {
                        f.publish();
                    }
                    out.clear();
                    let start = Instant::now();
                    black_box(f.broker.drain_frames(s, &mut out, usize::MAX));
                    timed += start.elapsed();
                }
                timed
            })
        });
    }
    group.finish();
}

criterion_group!(
    benches,
    publish_idle,
    publish_task_filtered,
    publish_conflation_off,
    publish_drained,
    drain
);
criterion_main!(benches);
