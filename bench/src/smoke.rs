//! The CI smoke run: a tiny fan-out against a fresh tidings, asserting
//! that every event arrived exactly once and in order.

use std::path::Path;
use std::time::Duration;

use crate::loadgen::{self, GenConfig, LadderPlan};
use crate::servers::{Kind, Programs, Server};

/// Connections in the smoke run.
const STREAMS: usize = 20;
/// Events published in the smoke run.
const EVENTS: u64 = 50;

/// Starts `tidings`, runs 20 streams × 50 events, prints one line; fails
/// on any gap, duplicate or missing delivery.
pub fn run(tidings: &Path, tidings_args: &[String], gen: &GenConfig) -> Result<(), String> {
    let scratch = std::env::temp_dir().join(format!("tidings-bench-smoke-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).map_err(|e| e.to_string())?;
    let programs = Programs {
        tidings: tidings.to_path_buf(),
        tidings_args: tidings_args.to_vec(),
        axum: "axum-peer".into(),
        python: "python3".into(),
        starlette_script: "starlette_peer.py".into(),
        nginx: "nginx".into(),
        nchan_template: "nchan.conf.template".into(),
        scratch: scratch.clone(),
    };
    let server = Server::start(Kind::Tidings, &programs).map_err(|e| e.to_string())?;
    let gen = GenConfig {
        server_pids: server.pids(),
        src_ips: 4,
        ..gen.clone()
    };
    let plan = LadderPlan {
        subscribers: STREAMS,
        stalled: 0,
        steps: vec![(200.0, Duration::from_secs(10), EVENTS)],
        pad: 16,
        drain: Duration::from_secs(5),
        stop_on_failure: false,
    };
    let result = loadgen::ladder(&server.target(1), &plan, &gen);
    server.stop();
    let _ = std::fs::remove_dir_all(&scratch);
    let result = result.map_err(|e| e.to_string())?;
    let step = result.steps.first().ok_or("no step ran")?;
    let line = format!(
        "smoke: tidings {}/{} streams x {}/{} events: {}/{} delivered, {} gaps, {} duplicates, p99 {:.2} ms, server {:.1} us CPU/delivery",
        result.connect.connected,
        STREAMS,
        step.publish.accepted,
        EVENTS,
        step.deliveries,
        STREAMS as u64 * EVENTS,
        step.gaps,
        step.dups,
        step.latency.p99_us as f64 / 1e3,
        step.server_cpu_us_per_delivery
    );
    println!("{line}");
    let all = STREAMS as u64 * EVENTS;
    if result.connect.connected == STREAMS as u64
        && step.publish.accepted == EVENTS
        && step.deliveries == all
        && step.gaps == 0
        && step.dups == 0
        && step.missing == 0
        && result.ended_early == 0
    {
        Ok(())
    } else {
        Err(format!(
            "smoke failed (statuses {:?}, errors {:?}, publish error {:?})",
            result.connect.statuses, result.connect.sample_errors, step.publish.error
        ))
    }
}
