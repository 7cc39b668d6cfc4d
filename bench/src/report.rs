//! What a run measured, in the shape written to bench/results/.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::publisher::PublishOutcome;

/// Percentiles of one latency histogram, plus points of its CDF for plots.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Latency {
    /// Samples recorded.
    pub count: u64,
    /// Median, µs.
    pub p50_us: u64,
    /// 90th percentile, µs.
    pub p90_us: u64,
    /// 99th percentile, µs.
    pub p99_us: u64,
    /// 99.9th percentile, µs.
    pub p999_us: u64,
    /// The largest sample, µs.
    pub max_us: u64,
    /// (quantile, µs) points of the CDF, for plots.
    pub cdf: Vec<(f64, u64)>,
}

impl Latency {
    /// Summarises `h` (µs).
    pub fn of(h: &Histogram<u64>) -> Self {
        if h.is_empty() {
            return Latency::default();
        }
        let mut quantiles: Vec<f64> = (1..100).map(|i| f64::from(i) / 100.0).collect();
        quantiles.extend([0.995, 0.999, 0.9995, 0.9999]);
        Latency {
            count: h.len(),
            p50_us: h.value_at_quantile(0.50),
            p90_us: h.value_at_quantile(0.90),
            p99_us: h.value_at_quantile(0.99),
            p999_us: h.value_at_quantile(0.999),
            max_us: h.max(),
            cdf: quantiles
                .into_iter()
                .map(|q| (q, h.value_at_quantile(q)))
                .chain(std::iter::once((1.0, h.max())))
                .collect(),
        }
    }
}

/// How opening the connections went.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ConnectSummary {
    /// Connections asked for.
    pub requested: u64,
    /// Connections that got a 200 and their first bytes.
    pub connected: u64,
    /// Seconds to open them all.
    pub elapsed_s: f64,
    /// Response statuses seen, with counts (0 = no response).
    pub statuses: BTreeMap<u16, u64>,
    /// A few of the errors, for diagnosis.
    pub sample_errors: Vec<String>,
}

/// One point of the server's memory and CPU over time.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ProcPoint {
    /// Seconds since the step began.
    pub t_s: f64,
    /// Server RSS, KiB.
    pub server_rss_kib: u64,
    /// Server CPU so far in the step, s.
    pub server_cpu_s: f64,
}

/// One publish rate held for a while over the open connections.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct StepResult {
    /// Events per second asked of the publisher.
    pub rate: f64,
    /// `rate` × reading subscribers.
    pub target_deliveries_per_s: f64,
    /// Subscribers reading.
    pub healthy: u64,
    /// Subscribers that stopped reading.
    pub stalled: u64,
    /// The publisher's side.
    pub publish: PublishOutcome,
    /// Bench events received by reading subscribers.
    pub deliveries: u64,
    /// Accepted publishes × reading subscribers.
    pub expected: u64,
    /// Deliveries over the time they took: first publish to last delivery.
    pub deliveries_per_s: f64,
    /// Events a reading subscriber skipped over.
    pub gaps: u64,
    /// Events received twice or out of order.
    pub dups: u64,
    /// Expected deliveries that never arrived within the drain time.
    pub missing: u64,
    /// No drop, no duplicate, and the publish rate held (the server took in ≥ 90% of it).
    pub ok: bool,
    /// Publish → receive latency of reading subscribers.
    pub latency: Latency,
    /// Server CPU over the step and its drain, s.
    pub server_cpu_s: f64,
    /// Server CPU in cores (CPU s / wall s).
    pub server_cores: f64,
    /// Server CPU per delivery, µs.
    pub server_cpu_us_per_delivery: f64,
    /// The generator's own CPU, s.
    pub gen_cpu_s: f64,
    /// The generator's CPU in cores.
    pub gen_cores: f64,
    /// Server RSS at the step's start and end, KiB.
    pub server_rss_kib: (u64, u64),
    /// Server RSS and CPU over the step.
    pub series: Vec<ProcPoint>,
}

/// A fan-out run: connections opened once, then rising publish rates.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct LadderResult {
    /// Opening the connections.
    pub connect: ConnectSummary,
    /// One entry per rate, in order; stops after the first failing one.
    pub steps: Vec<StepResult>,
    /// Connections that ended before the run did, with the first error.
    pub ended_early: u64,
}

/// Idle streams: what they cost the server.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct IdleResult {
    /// Opening the connections.
    pub connect: ConnectSummary,
    /// Server RSS before any connection, KiB.
    pub rss_before_kib: u64,
    /// Server RSS with every stream open, KiB.
    pub rss_after_kib: u64,
    /// `(after - before) / connected`, KiB.
    pub rss_per_stream_kib: f64,
    /// Seconds the streams sat idle while CPU was measured.
    pub idle_window_s: f64,
    /// Server CPU while idle, in cores.
    pub idle_server_cores: f64,
    /// Server CPU while idle, s.
    pub idle_server_cpu_s: f64,
}

/// A reconnect storm: every client comes back within a second with an id
/// 1–50 events behind.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct StormResult {
    /// Clients in the storm.
    pub clients: u64,
    /// Events published before the storm.
    pub history_events: u64,
    /// Seconds over which the clients reconnected.
    pub window_s: f64,
    /// Clients answered 200.
    pub accepted: u64,
    /// `accepted / clients`, %.
    pub accepted_pct: f64,
    /// Clients that got exactly the events they missed, in order, once.
    pub exact: u64,
    /// `exact / clients`, %.
    pub exact_pct: f64,
    /// Clients that received the newest event before the grace time ran out.
    pub finished: u64,
    /// Clients that saw a gap.
    pub with_gaps: u64,
    /// Clients that saw a duplicate.
    pub with_dups: u64,
    /// Time from starting to connect to the first replayed event.
    pub first_event: Latency,
    /// Time from starting to connect to the first body bytes.
    pub connect: Latency,
    /// Response statuses seen, with counts.
    pub statuses: BTreeMap<u16, u64>,
    /// Server CPU over the storm, s.
    pub server_cpu_s: f64,
    /// A few of the errors, for diagnosis.
    pub sample_errors: Vec<String>,
}
