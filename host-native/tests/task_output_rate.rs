//! `--task-output-rate`: a task's terminal is read at a bounded rate, so a
//! program printing as fast as it can waits in `write` (as on a slow
//! terminal) instead of spinning the server; nothing it printed is lost,
//! and 0 lifts the limit.

mod common;
mod output_support;

use std::time::{Duration, Instant};

use common::start;

/// What the task prints, in one go.
const TOTAL: usize = 1_500_000;
const RATE: u64 = 512 * 1024;

/// Runs the printing task on a server with `rate`; returns how long the
/// task took and checks that its log holds every byte.
async fn print_all(rate: u64) -> Duration {
    let server = start(|c| c.task_output_rate = rate).await;
    let began = Instant::now();
    let id = server
        .create_task(&format!("head -c {TOTAL} /dev/zero | tr '\\0' x"))
        .await;
    let task = server.wait_final(&id).await;
    let took = began.elapsed();
    assert_eq!(task["status"], "completed", "{task}");
    let (start, log) = server.log(&id);
    assert_eq!(start, 0);
    assert_eq!(log.len(), TOTAL, "every byte printed is in the log");
    assert!(log.iter().all(|&b| b == b'x'));
    server.running.shutdown().await;
    took
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fast_printer_is_read_at_the_rate_and_loses_nothing() {
    let paced = print_all(RATE).await;
    // Past the 256 KiB burst and what the terminal's buffer holds (well
    // under 64 KiB), the rest can only be read at the rate.
    let floor = (TOTAL as u64 - 256 * 1024 - 64 * 1024) as f64 / RATE as f64;
    assert!(
        paced.as_secs_f64() >= floor,
        "read faster than the rate allows: {paced:?} for {TOTAL} bytes at {RATE} B/s (floor {floor:.2} s)"
    );
    let unlimited = print_all(0).await;
    assert!(
        unlimited < paced,
        "0 lifts the limit: {unlimited:?} unlimited against {paced:?} paced"
    );
}
