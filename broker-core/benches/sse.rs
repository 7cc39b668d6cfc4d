//! SSE codec throughput.
//!
//! The parser reads a realistic stream (a few MB of `task.created` and
//! `task.status` frames with ids, keep-alive comments between them) cut into
//! 4–16 KiB chunks the way network reads deliver it; the `eventsource-stream`
//! crate parses the same chunks in the same run, for comparison. The encoder
//! writes the same events.
//!
//! `cargo bench -p broker-core --bench sse`

use std::convert::Infallible;
use std::hint::black_box;
use std::task::{Context, Poll, Waker};

use broker_core::sse::{encode_event, keep_alive_frame, Parser, ParserConfig, SseItem};
use bytes::BytesMut;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use futures_util::StreamExt;

/// A small deterministic generator, so every run benches the same bytes.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

struct Frame {
    id: String,
    event: &'static str,
    data: String,
}

/// Events shaped like the dashboard's: a created task now and then, mostly
/// status transitions.
fn frames(count: usize) -> Vec<Frame> {
    let mut rng = Lcg(7);
    let statuses = [
        "running",
        "waiting-for-input",
        "completed",
        "killed",
        "error",
    ];
    (0..count)
        .map(|seq| {
            let task = rng.below(500);
            let id = format!("18c3f5a9e1b2d407-{}", 100_000 + seq);
            if rng.below(5) == 0 {
                Frame {
                    id,
                    event: "task.created",
                    data: format!(
                        r#"{{"id":"task-{task}","name":"build #{task}","kind":"command","command":"cargo test --workspace --all-features","workdir":"/home/dev/projects/tidings","status":"running","created_at":1764201234{:03},"version":{}}}"#,
                        rng.below(1000),
                        100_000 + seq
                    ),
                }
            } else {
                let status = statuses[rng.below(statuses.len() as u64) as usize];
                let previous = statuses[rng.below(2) as usize];
                Frame {
                    id,
                    event: "task.status",
                    data: format!(
                        r#"{{"task_id":"task-{task}","status":"{status}","previous":"{previous}","version":{},"finished_at":1764201299{:03},"exit_code":0}}"#,
                        100_000 + seq,
                        rng.below(1000)
                    ),
                }
            }
        })
        .collect()
}

fn encode_all(frames: &[Frame], keep_alive_every: usize) -> BytesMut {
    let mut wire = BytesMut::new();
    for (n, frame) in frames.iter().enumerate() {
        encode_event(&mut wire, Some(&frame.id), Some(frame.event), &frame.data)
            .expect("bench frames are encodable");
        if keep_alive_every > 0 && n % keep_alive_every == keep_alive_every - 1 {
            wire.extend_from_slice(&keep_alive_frame());
        }
    }
    wire
}

/// Cuts `wire` into chunks of 4 to 16 KiB.
fn chunk(wire: &[u8]) -> Vec<Vec<u8>> {
    let mut rng = Lcg(11);
    let mut chunks = Vec::new();
    let mut rest = wire;
    while !rest.is_empty() {
        let size = (4096 + rng.below(12 * 1024 + 1) as usize).min(rest.len());
        chunks.push(rest[..size].to_vec());
        rest = &rest[size..];
    }
    chunks
}

fn parse_tidings(chunks: &[Vec<u8>]) -> usize {
    let mut parser = Parser::new(ParserConfig::default());
    let mut messages = 0;
    for chunk in chunks {
        parser.handle_bytes(chunk);
        while let Some(item) = parser.poll_output() {
            if let Ok(SseItem::Message(message)) = item {
                black_box(&message);
                messages += 1;
            }
        }
    }
    parser.handle_eof();
    messages
}

/// Drives `eventsource-stream` over in-memory chunks; the source is always
/// ready, so polling with a no-op waker never stalls.
fn parse_eventsource_stream(chunks: &[Vec<u8>]) -> usize {
    let source = futures_util::stream::iter(chunks.iter().map(Ok::<&Vec<u8>, Infallible>));
    let mut events = eventsource_stream::EventStream::new(source);
    let mut cx = Context::from_waker(Waker::noop());
    let mut messages = 0;
    loop {
        match events.poll_next_unpin(&mut cx) {
            Poll::Ready(Some(Ok(event))) => {
                black_box(&event);
                messages += 1;
            }
            Poll::Ready(Some(Err(error))) => panic!("eventsource-stream failed: {error}"),
            Poll::Ready(None) => return messages,
            Poll::Pending => unreachable!("an in-memory stream is always ready"),
        }
    }
}

fn parser(c: &mut Criterion) {
    let frames = frames(20_000);
    let wire = encode_all(&frames, 50);
    let chunks = chunk(&wire);
    assert_eq!(parse_tidings(&chunks), frames.len());
    assert_eq!(parse_eventsource_stream(&chunks), frames.len());

    let mut group = c.benchmark_group("sse_parse");
    group.throughput(Throughput::Bytes(wire.len() as u64));
    group.sample_size(20);
    group.bench_function("tidings", |b| b.iter(|| parse_tidings(black_box(&chunks))));
    group.bench_function("eventsource-stream", |b| {
        b.iter(|| parse_eventsource_stream(black_box(&chunks)))
    });
    group.finish();
}

fn encoder(c: &mut Criterion) {
    let frames = frames(20_000);
    let size = encode_all(&frames, 0).len();
    let mut group = c.benchmark_group("sse_encode");
    group.throughput(Throughput::Bytes(size as u64));
    group.sample_size(20);
    group.bench_function("events", |b| {
        let mut wire = BytesMut::with_capacity(size);
        b.iter(|| {
            wire.clear();
            for frame in &frames {
                encode_event(&mut wire, Some(&frame.id), Some(frame.event), &frame.data)
                    .expect("bench frames are encodable");
            }
            black_box(wire.len())
        })
    });
    group.finish();
}

criterion_group!(benches, parser, encoder);
criterion_main!(benches);
