//! Runaway output cannot fill the disk: `yes` against a small
//! `--task-log-max` keeps the log at most that many bytes (the newest), and
//! the output API says from which offset the kept log starts.

mod serve_support;

use std::time::{Duration, Instant};

use serve_support::{Serve, PATIENCE};

const CAP: u64 = 64 * 1024;

#[test]
fn yes_keeps_only_the_newest_bytes_and_the_offsets_say_so() {
    let data = tempfile::tempdir().expect("temp dir");
    let serve = Serve::start(data.path(), &["--task-log-max", &CAP.to_string()], &[]);
    let task = serve.create("yes");
    let id = task["id"].as_str().expect("an id").to_owned();
    let log = data.path().join("tasks").join(format!("{id}.log"));
    let output = format!("/api/tasks/{id}/output?tail=3");

    let began = Instant::now();
    let out = loop {
        let (status, out) = serve.json("GET", &output, None);
        assert_eq!(status, 200, "{out}");
        let size = std::fs::metadata(&log).expect("the log exists").len();
        assert!(
            size <= CAP + 64,
            "the log file is {size} bytes, over the cap"
        );
        if out["end"].as_u64().expect("end") >= 16 * CAP {
            break out;
        }
        assert!(began.elapsed() < PATIENCE, "yes wrote too little: {out}");
        std::thread::sleep(Duration::from_millis(20));
    };
    let (from, start, end) = (
        out["from"].as_u64().expect("from"),
        out["start"].as_u64().expect("start"),
        out["end"].as_u64().expect("end"),
    );
    assert!(start > 0, "older output was dropped: {out}");
    assert!(end - start <= CAP, "at most the cap is kept: {out}");
    assert!(end - start >= CAP / 2, "the newest half at least: {out}");
    assert!(start <= from && from <= end, "{out}");
    let text = out["output"].as_str().expect("text");
    assert!(
        text.lines().all(|l| l.is_empty() || l == "y"),
        "the newest output: {text:?}"
    );

    let (status, killed) = serve.json("DELETE", &format!("/api/tasks/{id}"), None);
    assert_eq!(status, 200, "{killed}");
    std::thread::sleep(Duration::from_millis(200));
    let (_, after) = serve.json("GET", &output, None);
    assert!(after["end"].as_u64().expect("end") - after["start"].as_u64().expect("start") <= CAP);
    assert!(std::fs::metadata(&log).expect("log").len() <= CAP + 64);
    serve.stop();
}
