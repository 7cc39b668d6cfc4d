//! Issue 11's figure: a burst of 1,000 renames of one task with 1,000
//! subscribers at queue 256, with keyed conflation and without.
//!
//! First it prints what the burst causes — `lagged` notices (each one a
//! relist by a dashboard), deliveries and bytes written — when the
//! subscribers read nothing during the burst (a stalled or busy dashboard)
//! and when they read every 512 or every 128 publishes. Those counts are
//! exact and the same on every machine. Then criterion times the stalled
//! case end to end (the burst published, then every subscriber drained in
//! 64 KiB writes), conflation on against off.
//!
//! `cargo bench -p broker-core --bench conflation`

use std::hint::black_box;

use broker_core::{Broker, BrokerConfig, Epoch, EventType, Filter, SubscriberId, TaskId};
use bytes::BytesMut;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use serde_json::{json, Map, Value};

const SUBSCRIBERS: usize = 1_000;
const RENAMES: usize = 1_000;
const QUEUE: usize = 256;
const MAX_WRITE: usize = 64 * 1024;

/// What the burst cost, summed over subscribers.
#[derive(Debug, Default, PartialEq, Eq)]
struct Outcome {
    lagged_notices: u64,
    deliveries: u64,
    bytes: u64,
}

/// A whole task, as `task.created` and `task.updated` carry it.
fn task(version: u64, name: &str) -> Map<String, Value> {
    match json!({
        "id": "t-0042", "name": name, "kind": "command", "command": "make test",
        "workdir": "/src", "status": "running", "version": version,
        "created_at": 1_700_000_000_000u64, "finished_at": null, "exit_code": null,
        "error": null, "pid": 4242, "last_activity_at": 1_700_000_000_000u64
    }) {
        Value::Object(map) => map,
        _ => unreachable!("a JSON object literal"),
    }
}

fn setup(conflation: bool) -> (Broker, Vec<SubscriberId>) {
    let mut broker = Broker::new(
        Epoch::new(0xb0b),
        1,
        BrokerConfig {
            queue: QUEUE,
            conflation,
            ..BrokerConfig::default()
        },
    );
    let dashboard = || Filter::parse(Some("task.*,trigger.fired"), None).expect("a valid filter");
    let subs = (0..SUBSCRIBERS)
        .map(|_| broker.subscribe(dashboard(), None).0)
        .collect();
    (broker, subs)
}

fn drain_all(broker: &mut Broker, subs: &[SubscriberId], out: &mut BytesMut, o: &mut Outcome) {
    for &s in subs {
        loop {
            out.clear();
            let n = broker.drain_frames(s, out, MAX_WRITE);
            if n == 0 {
                break;
            }
            o.deliveries += n as u64;
            o.bytes += out.len() as u64;
        }
    }
}

/// Publishes the burst (a `task.created` then the renames), the
/// subscribers reading every `read_every` publishes (never when `None`),
/// then everything left.
fn burst(conflation: bool, read_every: Option<usize>) -> Outcome {
    let (mut broker, subs) = setup(conflation);
    run_burst(&mut broker, &subs, read_every)
}

fn run_burst(broker: &mut Broker, subs: &[SubscriberId], read_every: Option<usize>) -> Outcome {
    let id = TaskId::new("t-0042").expect("a valid id");
    let created = EventType::new("task.created").expect("a valid type");
    let updated = EventType::new("task.updated").expect("a valid type");
    let mut out = BytesMut::with_capacity(MAX_WRITE * 2);
    let mut o = Outcome::default();
    let before = broker.stats();
    let v = broker.next_id().seq;
    broker.publish(created, Some(id.clone()), &task(v, "build"));
    for n in 1..=RENAMES {
        let v = broker.next_id().seq;
        broker.publish(
            updated.clone(),
            Some(id.clone()),
            &task(v, &format!("build #{n}")),
        );
        if read_every.is_some_and(|k| n % k == 0) {
            drain_all(broker, subs, &mut out, &mut o);
        }
    }
    drain_all(broker, subs, &mut out, &mut o);
    let after = broker.stats();
    o.lagged_notices = after.lagged - before.lagged;
    // A `lagged` frame is written like an event; count events only.
    o.deliveries -= o.lagged_notices;
    o
}

fn print_figure() {
    println!(
        "\nburst of {RENAMES} renames of one task, {SUBSCRIBERS} subscribers (types=task.*,trigger.fired), queue {QUEUE}:"
    );
    println!("| subscribers read | conflation | lagged notices (relists) | events delivered | bytes written |");
    println!("|---|---|---:|---:|---:|");
    for (label, read_every) in [
        ("not during the burst", None),
        ("every 512 publishes", Some(512)),
        ("every 128 publishes", Some(128)),
    ] {
        let on = burst(true, read_every);
        let off = burst(false, read_every);
        for (name, o) in [("on", &on), ("off", &off)] {
            println!(
                "| {label} | {name} | {} | {} | {} |",
                o.lagged_notices, o.deliveries, o.bytes
            );
        }
        println!(
            "| {label} | saved by conflation | {} | {} ({:.1}%) | {} |",
            off.lagged_notices as i64 - on.lagged_notices as i64,
            off.deliveries as i64 - on.deliveries as i64,
            100.0 * (off.deliveries as f64 - on.deliveries as f64) / off.deliveries.max(1) as f64,
            off.bytes as i64 - on.bytes as i64,
        );
    }
    println!();
}

fn stalled_burst(c: &mut Criterion) {
    print_figure();
    let mut group = c.benchmark_group("burst_1000_renames_1000_subscribers_queue_256");
    group.sample_size(10);
    for (name, conflation) in [("conflation_on", true), ("conflation_off", false)] {
        group.bench_function(name, |b| {
            b.iter_batched(
                || setup(conflation),
                |(mut broker, subs)| black_box(run_burst(&mut broker, &subs, None)),
                BatchSize::LargeInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, stalled_burst);
criterion_main!(benches);
