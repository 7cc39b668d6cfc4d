//! `tidings watch`: the built binary follows a real server, prints each event
//! once as a JSON line, and resumes after the server ends its stream.

mod common;

use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

use common::start;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_prints_events_and_resumes_across_an_end_without_duplicates() {
    let server = start(|c| c.stream_lifetime = Duration::from_millis(600)).await;
    let mut child = Command::new(env!("CARGO_BIN_EXE_tidings"))
        .args(["watch", &server.running.url(), "--types", "trigger.*"])
        .env_remove("TIDINGS_TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("the binary runs");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    server.wait_metric("tidings_subscribers", 1.0).await;

    let first = server.post_event("trigger.fired", 1).await;
    server.post_event("memory.changed", 0).await; // filtered out
                                                  // The stream ends (max-lifetime) and the client comes back with its id;
                                                  // this one is published while it is away or after: either way once.
    let second = {
        server.wait_metric("tidings_subscribers", 0.0).await;
        server.post_event("trigger.fired", 2).await
    };
    let mut got = Vec::new();
    while got.len() < 2 {
        let line = tokio::time::timeout(Duration::from_secs(8), lines.next_line())
            .await
            .expect("a line in time")
            .expect("reads")
            .expect("a line");
        let v: Value = serde_json::from_str(&line).expect("a JSON line");
        got.push(v);
    }
    assert_eq!(got[0]["type"], "trigger.fired");
    assert_eq!(got[0]["id"], first.as_str());
    assert_eq!(got[0]["data"], serde_json::json!({"n": 1}));
    assert_eq!(got[1]["id"], second.as_str());
    // Nothing more (no duplicate) within a short while.
    let more = tokio::time::timeout(Duration::from_millis(300), lines.next_line()).await;
    assert!(more.is_err(), "unexpected extra line: {more:?}");
    child.kill().await.expect("stops");
    server.running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_exits_with_an_error_when_the_token_is_refused() {
    let server = start(|_| {}).await;
    let out = Command::new(env!("CARGO_BIN_EXE_tidings"))
        .args(["watch", &server.base, "--token", "wrong-token-0123456789"])
        .env_remove("TIDINGS_TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(5), out)
        .await
        .expect("exits in time")
        .expect("runs");
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unauthorized"), "{err}");
    server.running.shutdown().await;
}
