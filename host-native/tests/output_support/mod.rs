//! Scaffolding for the live output stream tests: tasks started through the
//! REST API of a real server, their output streams read over real sockets
//! with the core's SSE parser, and the task's raw log read from the data
//! directory as the ground truth the stream must reproduce.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use hyper::StatusCode;
use serde_json::Value;

use crate::common::{Server, Sse, PATIENCE};

/// The log file's header line: `tidings-log 1 start=` and 20 digits.
const HEADER_LEN: usize = "tidings-log 1 start=".len() + 21;

/// What a client saw on one output stream.
#[derive(Debug, Default)]
pub struct Seen {
    /// `ready`'s data.
    pub ready: Value,
    /// Each output chunk: its id (an offset), its text, and when it came.
    pub chunks: Vec<(u64, String, Instant)>,
    /// Each `truncated`'s `from`, with the number of chunks before it.
    pub truncated: Vec<(usize, u64)>,
    /// Heartbeat events seen.
    pub heartbeats: usize,
    /// `end`'s reason.
    pub end: Option<String>,
}

impl Seen {
    /// The texts of every chunk, joined.
    pub fn text(&self) -> String {
        self.chunks.iter().map(|(_, t, _)| t.as_str()).collect()
    }

    /// The id of the last chunk.
    pub fn last_id(&self) -> Option<u64> {
        self.chunks.last().map(|c| c.0)
    }
}

impl Server {
    /// Starts `command` (a shell string) as a task; returns its id.
    pub async fn create_task(&self, command: &str) -> String {
        let body = serde_json::json!({ "command": command }).to_string();
        let (status, task) = self.json(self.post("/api/tasks"), &body).await;
        assert_eq!(status, StatusCode::CREATED, "{task}");
        task["id"].as_str().expect("an id").to_owned()
    }

    /// Opens `GET /api/tasks/{id}/output/stream{query}` with extra headers.
    pub async fn output_stream(&self, id: &str, query: &str, headers: &[(&str, &str)]) -> Sse {
        let mut req = self.get(&format!("/api/tasks/{id}/output/stream{query}"));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = tokio::time::timeout(
            PATIENCE,
            self.client.request(
                req.body(http_body_util::Full::default())
                    .expect("a request"),
            ),
        )
        .await
        .expect("an answer in time")
        .expect("the request succeeds");
        Sse::new(resp)
    }

    /// The task's log as the server keeps it: the offset of its first byte
    /// and the bytes (read from the data directory).
    pub fn log(&self, id: &str) -> (u64, Vec<u8>) {
        let path = self._data.path().join("tasks").join(format!("{id}.log"));
        let raw = std::fs::read(path).expect("the task has a log");
        let start = std::str::from_utf8(&raw[HEADER_LEN - 21..HEADER_LEN - 1])
            .expect("digits")
            .parse()
            .expect("the start offset");
        (start, raw[HEADER_LEN..].to_vec())
    }

    /// Waits until the task is in a final status.
    pub async fn wait_final(&self, id: &str) -> Value {
        let began = Instant::now();
        loop {
            let (status, task) = self.json(self.get(&format!("/api/tasks/{id}")), "").await;
            assert_eq!(status, StatusCode::OK, "{task}");
            if matches!(
                task["status"].as_str(),
                Some("completed" | "killed" | "error")
            ) {
                return task;
            }
            assert!(
                began.elapsed() < PATIENCE,
                "the task did not finish: {task}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Reads an output stream (after checking it opened with `retry` and
/// `ready`) until `stop` says so or the stream ends; every chunk's id must
/// be a byte offset.
pub async fn read_until(sse: &mut Sse, mut stop: impl FnMut(&Seen) -> bool) -> Seen {
    let mut seen = Seen {
        ready: sse.ready().await,
        ..Seen::default()
    };
    follow(sse, &mut seen, &mut stop).await;
    seen
}

/// Goes on reading into `seen`.
pub async fn follow(sse: &mut Sse, seen: &mut Seen, mut stop: impl FnMut(&Seen) -> bool) {
    while !stop(seen) {
        let Some(m) = sse.next().await else {
            return;
        };
        let data: Value = serde_json::from_str(&m.data).expect("JSON data");
        match m.event.as_str() {
            "output" => {
                let id = m.last_event_id.parse().expect("an output id is an offset");
                let text = data["text"].as_str().expect("text").to_owned();
                seen.chunks.push((id, text, Instant::now()));
            }
            "truncated" => {
                let from = data["from"].as_u64().expect("from");
                seen.truncated.push((seen.chunks.len(), from));
            }
            "heartbeat" => seen.heartbeats += 1,
            "end" => {
                seen.end = Some(data["reason"].as_str().expect("reason").to_owned());
                assert!(sse.next().await.is_none(), "nothing after end");
                return;
            }
            other => panic!("unexpected event {other}: {}", m.data),
        }
    }
}

/// Reads the whole stream, to its `end`.
pub async fn read_to_end(sse: &mut Sse) -> Seen {
    let seen = read_until(sse, |_| false).await;
    assert!(seen.end.is_some(), "the stream ended with `end`: {seen:?}");
    seen
}
