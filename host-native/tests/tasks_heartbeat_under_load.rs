//! Task work stays off the runtime: while 20 slow task requests run at once
//! (creates, lists, and tails of a megabyte of terminal output) against the
//! real binary on a 2-worker runtime, an open stream's heartbeat keeps its
//! period.

mod serve_support;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serve_support::{request, Serve, Stream};

const PERIOD: Duration = Duration::from_millis(200);
/// A gap this much longer than the period means the runtime stalled.
const TOLERANCE: Duration = Duration::from_millis(250);
const LOAD: Duration = Duration::from_secs(4);

#[test]
fn the_heartbeat_keeps_its_period_while_twenty_slow_task_requests_run() {
    let data = tempfile::tempdir().expect("temp dir");
    let serve = Serve::start(
        data.path(),
        &["--heartbeat", "200ms"],
        &[("TOKIO_WORKER_THREADS", "2")],
    );
    // A megabyte of progress bar on one terminal line (carriage returns and
    // erase-in-line): a tail must read and render all of it to show the
    // line's final state, which is short.
    let big = serve.create(
        "i=0; while [ $i -lt 30000 ]; do printf '\\r\\033[Kprogress %d of a long job' $i; i=$((i+1)); done; echo",
    );
    let big_id = big["id"].as_str().expect("an id").to_owned();
    serve.wait_task(&big_id, "the output", |t| t["status"] == "completed");
    let log = data.path().join("tasks").join(format!("{big_id}.log"));
    let size = std::fs::metadata(&log).expect("the log").len();
    assert!(size > 800_000, "{size} bytes of output");

    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicUsize::new(0));
    let beats = {
        let (addr, token) = (serve.addr, serve.token.clone());
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            // A filter no event passes: only heartbeats come.
            let mut stream = Stream::open(addr, &token, "?types=quiet.*");
            let mut at = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                if stream.next().comment {
                    at.push(Instant::now());
                }
            }
            at
        })
    };
    // Let the stream settle into its rhythm.
    std::thread::sleep(PERIOD * 2);
    let began = Instant::now();
    let workers: Vec<_> = (0..20)
        .map(|i| {
            let (addr, token, id) = (serve.addr, serve.token.clone(), big_id.clone());
            let done = Arc::clone(&done);
            std::thread::spawn(move || {
                while began.elapsed() < LOAD {
                    // 6 creates (fork, exec, fsync), 4 lists, 10 tails of
                    // a megabyte of terminal output.
                    let (status, body) = match i % 10 {
                        0..=2 => request(
                            addr,
                            "POST",
                            "/api/tasks",
                            Some(&token),
                            Some(r#"{"command":"true"}"#),
                        ),
                        3 | 4 => request(addr, "GET", "/api/tasks", Some(&token), None),
                        _ => request(
                            addr,
                            "GET",
                            &format!("/api/tasks/{id}/output?tail=5"),
                            Some(&token),
                            None,
                        ),
                    };
                    assert!(status == 200 || status == 201, "{status} {body}");
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for w in workers {
        w.join().expect("a worker");
    }
    std::thread::sleep(PERIOD * 2);
    stop.store(true, Ordering::Relaxed);
    let at = beats.join().expect("the stream reader");
    let load_end = began + LOAD;
    let gaps: Vec<Duration> = at
        .windows(2)
        .filter(|w| w[1] > began && w[0] < load_end)
        .map(|w| w[1] - w[0])
        .collect();
    let requests = done.load(Ordering::Relaxed);
    let worst = gaps.iter().max().expect("heartbeats during the load");
    eprintln!(
        "heartbeat under load: worst gap {worst:?} (period {PERIOD:?}), {requests} task requests"
    );
    assert!(
        *worst <= PERIOD + TOLERANCE,
        "a heartbeat gap of {worst:?} (period {PERIOD:?}) during {requests} task requests: {gaps:?}"
    );
    assert!(requests >= 20, "the load ran: {requests} requests");
    assert!(
        gaps.len() >= 10,
        "heartbeats all through the load: {gaps:?}"
    );
    serve.stop();
}
