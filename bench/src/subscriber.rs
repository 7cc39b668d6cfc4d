//! One SSE connection of the load generator.
//!
//! Each connection binds its own 127.0.0.x source address before connecting
//! (so 10k connections do not run one address out of ports), reads the
//! stream with the lean scanner, checks the publisher's counter for gaps and
//! duplicates, and records each event's latency into a shared histogram.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpSocket;
use tokio_util::sync::CancellationToken;

use crate::http::{parse_head, Dechunker, Framing, HttpError};
use crate::sse_scan::{BenchEvent, Scanner};
use crate::target::Target;

/// How long a connection may take to get its response head.
const HEAD_TIMEOUT: Duration = Duration::from_secs(20);
/// Read buffer per connection.
const READ_BUF: usize = 8 * 1024;
/// Latency histograms are sharded so connections on different threads rarely contend.
pub const SHARDS: usize = 16;

/// The highest latency recorded, µs (60 s).
pub const MAX_LATENCY_US: u64 = 60_000_000;

/// A new latency histogram (µs, 3 significant figures).
pub fn new_histogram() -> Histogram<u64> {
    // The bounds are constants that hdrhistogram accepts.
    match Histogram::new_with_bounds(1, MAX_LATENCY_US, 3) {
        Ok(h) => h,
        Err(e) => unreachable!("constant histogram bounds rejected: {e:?}"),
    }
}

/// State shared by every connection of one run.
pub struct Shared {
    /// The instant `sent_us` and every timestamp count from.
    pub base: Instant,
    /// Ends every connection.
    pub cancel: CancellationToken,
    /// Connections that got their head and first body bytes.
    pub connected: AtomicU64,
    /// Connections that ended (failed or cancelled).
    pub finished: AtomicU64,
    /// Bench events received by reading connections.
    pub delivered: AtomicU64,
    /// Events skipped over (the counter jumped).
    pub gaps: AtomicU64,
    /// Events received twice or out of order.
    pub dups: AtomicU64,
    /// Connections that finished their expected range (reconnect storm).
    pub completed: AtomicU64,
    /// Publish → receive latency, µs.
    pub latency: Vec<Mutex<Histogram<u64>>>,
}

impl Shared {
    /// Fresh counters for one run.
    pub fn new() -> Self {
        Shared {
            base: Instant::now(),
            cancel: CancellationToken::new(),
            connected: AtomicU64::new(0),
            finished: AtomicU64::new(0),
            delivered: AtomicU64::new(0),
            gaps: AtomicU64::new(0),
            dups: AtomicU64::new(0),
            completed: AtomicU64::new(0),
            latency: (0..SHARDS).map(|_| Mutex::new(new_histogram())).collect(),
        }
    }

    /// µs since the base instant.
    pub fn now_us(&self) -> u64 {
        self.base.elapsed().as_micros() as u64
    }

    /// Empties the latency histograms (between steps of a ladder).
    pub fn reset_latency(&self) {
        for h in &self.latency {
            if let Ok(mut h) = h.lock() {
                h.reset();
            }
        }
    }

    /// All shards merged.
    pub fn merged_latency(&self) -> Histogram<u64> {
        let mut all = new_histogram();
        for h in &self.latency {
            if let Ok(h) = h.lock() {
                let _ = all.add(&*h);
            }
        }
        all
    }
}

impl Default for Shared {
    fn default() -> Self {
        Self::new()
    }
}

/// What one connection is asked to do.
#[derive(Clone, Debug)]
pub struct SubPlan {
    /// Its index (picks the histogram shard).
    pub index: usize,
    /// Source address to bind before connecting.
    pub src: Ipv4Addr,
    /// Stop reading once connected (a stalled client).
    pub stall: bool,
    /// Resume after this id.
    pub last_event_id: Option<String>,
    /// The first counter value expected.
    pub expect_first: u64,
    /// Close after receiving this counter value (reconnect storm).
    pub finish_at: Option<u64>,
    /// Keep the id of every event (the reconnect storm's learner).
    pub learn_ids: bool,
    /// Record publish → receive latency.
    pub record_latency: bool,
    /// Do not connect before this instant.
    pub start_at: Option<Instant>,
}

/// What one connection saw.
#[derive(Clone, Debug, Default)]
pub struct SubOutcome {
    /// Status of the response; 0 when none arrived.
    pub status: u16,
    /// Why it ended early, if it did.
    pub error: Option<String>,
    /// From starting to connect to the first body bytes, µs.
    pub connect_us: Option<u64>,
    /// From starting to connect to the first bench event, µs.
    pub first_event_us: Option<u64>,
    /// Bench events received.
    pub delivered: u64,
    /// Events skipped over.
    pub gaps: u64,
    /// Events received again or out of order.
    pub dups: u64,
    /// The counter value expected next.
    pub next_expected: u64,
    /// The first counter value received.
    pub first_seq: Option<u64>,
    /// Whether it reached `finish_at`.
    pub finished: bool,
    /// (counter, id) of every event, for the learner.
    pub ids: Vec<(u64, String)>,
}

/// Per-connection event bookkeeping, fed by the scanner.
struct Tracker {
    out: SubOutcome,
    finish_at: Option<u64>,
    learn_ids: bool,
    started_us: u64,
    now_us: u64,
    lat: Vec<u64>,
    record_latency: bool,
}

impl Tracker {
    fn on_event(&mut self, e: BenchEvent<'_>) {
        if self.out.finished {
            return;
        }
        let out = &mut self.out;
        out.delivered += 1;
        if out.first_seq.is_none() {
            out.first_seq = Some(e.seq);
            out.first_event_us = Some(self.now_us.saturating_sub(self.started_us));
        }
        if e.seq == out.next_expected {
            out.next_expected += 1;
        } else if e.seq > out.next_expected {
            out.gaps += e.seq - out.next_expected;
            out.next_expected = e.seq + 1;
        } else {
            out.dups += 1;
        }
        if self.record_latency {
            self.lat.push(self.now_us.saturating_sub(e.sent_us));
        }
        if self.learn_ids {
            out.ids
                .push((e.seq, String::from_utf8_lossy(e.id).into_owned()));
        }
        if self.finish_at == Some(e.seq) {
            out.finished = true;
        }
    }
}

/// Runs one connection to its end: cancellation, the server closing, an
/// error, or (with `finish_at`) the last expected event.
pub async fn run(target: Arc<Target>, plan: SubPlan, shared: Arc<Shared>) -> SubOutcome {
    let mut tracker = Tracker {
        out: SubOutcome {
            next_expected: plan.expect_first,
            ..SubOutcome::default()
        },
        finish_at: plan.finish_at,
        learn_ids: plan.learn_ids,
        started_us: 0,
        now_us: 0,
        lat: Vec::new(),
        record_latency: plan.record_latency,
    };
    if let Some(at) = plan.start_at {
        tokio::select! {
            _ = shared.cancel.cancelled() => {}
            _ = tokio::time::sleep_until(at.into()) => {}
        }
    }
    if let Err(e) = drive(&target, &plan, &shared, &mut tracker).await {
        tracker.out.error = Some(e.to_string());
    }
    shared.finished.fetch_add(1, Ordering::Relaxed);
    tracker.out
}

/// Why a connection ended early.
#[derive(Debug, thiserror::Error)]
enum SubError {
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    #[error("http: {0}")]
    Http(#[from] HttpError),
    #[error("no response head within {0:?}")]
    HeadTimeout(Duration),
    #[error("closed before the response head")]
    ClosedEarly,
}

async fn drive(
    target: &Target,
    plan: &SubPlan,
    shared: &Shared,
    tracker: &mut Tracker,
) -> Result<(), SubError> {
    tracker.started_us = shared.now_us();
    let socket = TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    if plan.stall {
        // A small receive window makes a stalled client push back on the
        // server within seconds instead of after megabytes of kernel buffer.
        socket.set_recv_buffer_size(4096)?;
    }
    socket.bind(SocketAddr::new(plan.src.into(), 0))?;
    let request = target.subscribe_request(plan.last_event_id.as_deref());
    let mut stream = tokio::select! {
        _ = shared.cancel.cancelled() => return Ok(()),
        r = tokio::time::timeout(HEAD_TIMEOUT, socket.connect(target.addr)) => {
            r.map_err(|_| SubError::HeadTimeout(HEAD_TIMEOUT))??
        }
    };
    stream.set_nodelay(true)?;
    stream.write_all(&request).await?;

    let mut buf = vec![0u8; READ_BUF];
    let mut filled = 0;
    let deadline = tokio::time::Instant::now() + HEAD_TIMEOUT;
    let head = loop {
        let n = tokio::select! {
            _ = shared.cancel.cancelled() => return Ok(()),
            r = tokio::time::timeout_at(deadline, stream.read(&mut buf[filled..])) => {
                r.map_err(|_| SubError::HeadTimeout(HEAD_TIMEOUT))??
            }
        };
        if n == 0 {
            return Err(SubError::ClosedEarly);
        }
        filled += n;
        if let Some(head) = parse_head(&buf[..filled])? {
            break head;
        }
        if filled == buf.len() {
            return Err(HttpError::HeadTooLarge.into());
        }
    };
    tracker.out.status = head.status;
    if head.status != 200 {
        return Ok(());
    }
    let mut body = Body {
        dechunk: (head.framing == Framing::Chunked).then(Dechunker::default),
        scanner: Scanner::default(),
    };
    let mut pending = head.len..filled;
    let mut counted_connected = false;
    loop {
        if !pending.is_empty() {
            let now = shared.now_us();
            tracker.now_us = now;
            if !counted_connected {
                counted_connected = true;
                tracker.out.connect_us = Some(now.saturating_sub(tracker.started_us));
                shared.connected.fetch_add(1, Ordering::Relaxed);
            }
            let before = (tracker.out.delivered, tracker.out.gaps, tracker.out.dups);
            body.consume(&buf[pending.clone()], tracker)?;
            flush(shared, plan.index, tracker, before);
            if tracker.out.finished {
                shared.completed.fetch_add(1, Ordering::Relaxed);
                return Ok(());
            }
        }
        if plan.stall && counted_connected {
            shared.cancel.cancelled().await;
            return Ok(());
        }
        let n = tokio::select! {
            biased;
            _ = shared.cancel.cancelled() => return Ok(()),
            r = stream.read(&mut buf) => r?,
        };
        if n == 0 {
            return Ok(());
        }
        pending = 0..n;
    }
}

/// Publishes what one read produced to the shared counters and histogram.
fn flush(shared: &Shared, index: usize, tracker: &mut Tracker, before: (u64, u64, u64)) {
    let out = &tracker.out;
    if out.delivered > before.0 {
        shared
            .delivered
            .fetch_add(out.delivered - before.0, Ordering::Relaxed);
    }
    if out.gaps > before.1 {
        shared
            .gaps
            .fetch_add(out.gaps - before.1, Ordering::Relaxed);
    }
    if out.dups > before.2 {
        shared
            .dups
            .fetch_add(out.dups - before.2, Ordering::Relaxed);
    }
    if !tracker.lat.is_empty() {
        if let Ok(mut h) = shared.latency[index % SHARDS].lock() {
            for &l in &tracker.lat {
                let _ = h.record(l.clamp(1, MAX_LATENCY_US));
            }
        }
        tracker.lat.clear();
    }
}

struct Body {
    dechunk: Option<Dechunker>,
    scanner: Scanner,
}

impl Body {
    fn consume(&mut self, raw: &[u8], tracker: &mut Tracker) -> Result<(), HttpError> {
        let scanner = &mut self.scanner;
        let mut on_event = |e: BenchEvent<'_>| tracker.on_event(e);
        match &mut self.dechunk {
            Some(d) => {
                d.feed(raw, &mut |p| scanner.feed(p, &mut on_event))?;
            }
            None => scanner.feed(raw, &mut on_event),
        }
        Ok(())
    }
}
