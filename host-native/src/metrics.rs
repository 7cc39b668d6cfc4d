//! `GET /metrics` in the Prometheus text format (version 0.0.4).

use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Response, StatusCode};

use crate::api::State;
use crate::body::Body;

/// Renders every figure; cheap enough to scrape every second.
pub fn render(state: &State) -> String {
    let broker = state.hub.stats();
    let tasks = state.tasks.metrics();
    let mut out = String::with_capacity(2048);
    let mut metric = |name: &str, kind: &str, help: &str, samples: &[(String, f64)]| {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        for (labels, value) in samples {
            let _ = writeln!(out, "{name}{labels} {value}");
        }
    };
    let one = |v: f64| vec![(String::new(), v)];
    metric(
        "tidings_open_streams",
        "gauge",
        "SSE streams open now (event streams and task output streams).",
        &one(state.streams.open.load(Ordering::Relaxed) as f64),
    );
    metric(
        "tidings_output_streams",
        "gauge",
        "Task output streams open now (also counted in tidings_open_streams).",
        &one(state.streams.output_open.load(Ordering::Relaxed) as f64),
    );
    metric(
        "tidings_output_writes_total",
        "counter",
        "Writes task output streams handed to their connections (a coalesced chunk, a heartbeat, `end`).",
        &one(state.streams.output_writes.load(Ordering::Relaxed) as f64),
    );
    metric(
        "tidings_output_bytes_total",
        "counter",
        "Bytes task output streams handed to their connections.",
        &one(state.streams.output_bytes.load(Ordering::Relaxed) as f64),
    );
    metric(
        "tidings_streams_refused_total",
        "counter",
        "Streams refused with 503 because the stream cap was reached.",
        &one(state.streams.refused.load(Ordering::Relaxed) as f64),
    );
    metric(
        "tidings_subscribers",
        "gauge",
        "Broker subscribers now (one per open stream).",
        &one(broker.subscribers as f64),
    );
    metric(
        "tidings_events_published_total",
        "counter",
        "Events published since start.",
        &one(broker.published as f64),
    );
    metric(
        "tidings_events_dropped_total",
        "counter",
        "Events dropped from lagging subscribers, summed over subscribers.",
        &one(broker.dropped as f64),
    );
    metric(
        "tidings_lagged_total",
        "counter",
        "lagged notices sent to slow subscribers.",
        &one(broker.lagged as f64),
    );
    metric(
        "tidings_events_conflated_total",
        "counter",
        "Task events lagging subscribers skipped because a later event superseded them (deliveries saved, nothing lost).",
        &one(broker.conflated as f64),
    );
    metric(
        "tidings_history_events",
        "gauge",
        "Events held in the history for resume.",
        &one(broker.history_len as f64),
    );
    metric(
        "tidings_history_bytes",
        "gauge",
        "Bytes of encoded frames held in the history (bounded by --history-bytes).",
        &one(broker.history_bytes as f64),
    );
    let connections = state.connections.stats();
    metric(
        "tidings_connections",
        "gauge",
        "Open connections now.",
        &one(connections.open as f64),
    );
    metric(
        "tidings_connections_max",
        "gauge",
        "The connection cap (--max-connections).",
        &one(connections.max as f64),
    );
    metric(
        "tidings_connections_refused_total",
        "counter",
        "Connections closed at once at the cap (every connection busy) or when descriptors ran out.",
        &one(connections.refused as f64),
    );
    metric(
        "tidings_connections_evicted_total",
        "counter",
        "Idle connections closed to make room for a new one at the cap.",
        &one(connections.evicted as f64),
    );
    metric(
        "tidings_connections_timed_out_total",
        "counter",
        "Connections closed by --idle-timeout or for sending no request within --header-read-timeout.",
        &one(connections.timed_out as f64),
    );
    let by_status: Vec<(String, f64)> = tasks
        .by_status
        .iter()
        .map(|(status, n)| (format!("{{status=\"{}\"}}", status.as_str()), *n as f64))
        .collect();
    metric("tidings_tasks", "gauge", "Tasks by status.", &by_status);
    metric(
        "tidings_reconcile_duration_seconds",
        "gauge",
        "Duration of the reconcile loop's last pass over the live tasks.",
        &one(tasks.last_reconcile_duration.as_secs_f64()),
    );
    metric(
        "tidings_reconcile_passes_total",
        "counter",
        "Passes of the reconcile loop since start.",
        &one(tasks.reconcile_passes as f64),
    );
    out
}

/// The `/metrics` response.
pub fn response(state: &State) -> Response<Body> {
    let mut response = Response::new(Body::full(render(state)));
    *response.status_mut() = StatusCode::OK;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}
