//! `tidings watch` resumes from the last event it printed, not from a list's
//! cursor: a list taken after `lagged` (and before the stream dropped) must
//! not move the resume point past events still in the server's history.
//!
//! The server here is a scripted one on a real socket, so the order of
//! `lagged`, the list and the drop is exact: stream 1 sends `ready`, `e-2`
//! and `lagged`, then drops once the list (cursor `e-10`) was served;
//! stream 2 must ask for `Last-Event-ID: e-2` and gets `e-3`..`e-10`.

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::Command;
use tokio::sync::{mpsc, Notify};

/// Reads one request head: the path and the `Last-Event-ID` header.
async fn read_head(socket: &mut TcpStream) -> Option<(String, Option<String>)> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if socket.read(&mut byte).await.ok()? == 0 {
            return None;
        }
        head.push(byte[0]);
    }
    let text = String::from_utf8_lossy(&head).into_owned();
    let path = text.split_whitespace().nth(1)?.to_owned();
    let last = text.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case("last-event-id")
            .then(|| v.trim().to_owned())
    });
    Some((path, last))
}

const SSE_HEAD: &str =
    "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\nconnection: close\r\n\r\n";

fn trigger(seq: u64) -> String {
    format!("id: e-{seq}\nevent: trigger.fired\ndata: {{\"n\":{seq}}}\n\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_list_after_lagged_does_not_move_the_resume_point() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
    let addr = listener.local_addr().expect("an address");
    let listed = Arc::new(Notify::new());
    let (resumes, mut resumed_from) = mpsc::unbounded_channel::<Option<String>>();
    let server = tokio::spawn({
        let listed = Arc::clone(&listed);
        async move {
            let mut streams = 0;
            loop {
                let Ok((mut socket, _)) = listener.accept().await else {
                    return;
                };
                let Some((path, last)) = read_head(&mut socket).await else {
                    continue;
                };
                if path.starts_with("/api/tasks") {
                    let body = r#"{"tasks":[],"cursor":"e-10"}"#;
                    let answer = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = socket.write_all(answer.as_bytes()).await;
                    listed.notify_one();
                    continue;
                }
                streams += 1;
                let listed = Arc::clone(&listed);
                let resumes = resumes.clone();
                let first = streams == 1;
                tokio::spawn(async move {
                    let mut out = String::from(SSE_HEAD);
                    if first {
                        out.push_str("retry: 100\n\nevent: ready\ndata: {\"epoch\":\"e\",\"resumed\":false,\"head\":\"e-1\",\"heartbeat_ms\":15000}\n\n");
                        out.push_str(&trigger(2));
                        out.push_str("event: lagged\ndata: {\"dropped\":3}\n\n");
                        let _ = socket.write_all(out.as_bytes()).await;
                        // Drop the stream once the list was answered.
                        listed.notified().await;
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        return;
                    }
                    let _ = resumes.send(last);
                    out.push_str("event: ready\ndata: {\"epoch\":\"e\",\"resumed\":true,\"head\":\"e-10\",\"heartbeat_ms\":15000}\n\n");
                    for seq in 3..=10 {
                        out.push_str(&trigger(seq));
                    }
                    let _ = socket.write_all(out.as_bytes()).await;
                    tokio::time::sleep(Duration::from_secs(30)).await;
                });
            }
        }
    });

    let mut child = Command::new(env!("CARGO_BIN_EXE_tidings"))
        .args(["watch", &format!("http://{addr}"), "--token", "t"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("the binary runs");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut seen = Vec::new();
    while seen.len() < 9 {
        let line = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
            .await
            .expect("a line in time")
            .expect("reads")
            .expect("a line");
        let v: Value = serde_json::from_str(&line).expect("a JSON line");
        seen.push(v["id"].as_str().unwrap_or_default().to_owned());
    }
    let from = tokio::time::timeout(Duration::from_secs(5), resumed_from.recv())
        .await
        .expect("a second stream")
        .expect("its Last-Event-ID");
    assert_eq!(
        from.as_deref(),
        Some("e-2"),
        "resumes from the last event, not the list's cursor"
    );
    let want: Vec<String> = (2..=10).map(|s| format!("e-{s}")).collect();
    assert_eq!(seen, want, "every event still in history arrives, once");
    child.kill().await.expect("stops");
    server.abort();
}
