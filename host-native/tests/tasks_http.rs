//! The task runner through the real server: a real hyper client against
//! `tidings::start` on 127.0.0.1:0, events read from `GET /api/events` with
//! the core's parser.

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use common::{seq, Server, Sse};
use hyper::StatusCode;
use serde_json::{json, Value};

/// The `task.*` events the stream delivers, keyed by task id.
struct TaskEvents {
    sse: Sse,
    by_task: HashMap<String, Vec<(String, Value, u64)>>,
}

impl TaskEvents {
    async fn open(server: &Server) -> Self {
        let mut sse = server.stream("?types=task.*", &[]).await;
        sse.ready().await;
        TaskEvents {
            sse,
            by_task: HashMap::new(),
        }
    }

    /// Reads events until `task` has a `task.status` to `status`.
    async fn until_status(&mut self, task: &str, status: &str) {
        while !self.statuses(task).iter().any(|s| s == status) {
            let m = self.sse.expect().await;
            let data: Value = serde_json::from_str(&m.data).expect("JSON data");
            let id = data
                .get("task_id")
                .or_else(|| data.get("id"))
                .and_then(Value::as_str)
                .expect("a task event names its task")
                .to_owned();
            self.by_task
                .entry(id)
                .or_default()
                .push((m.event, data, seq(&m.last_event_id)));
        }
    }

    fn statuses(&self, task: &str) -> Vec<String> {
        self.by_task
            .get(task)
            .map(|events| {
                events
                    .iter()
                    .filter(|(kind, _, _)| kind == "task.status")
                    .map(|(_, d, _)| d["status"].as_str().expect("status").to_owned())
                    .collect()
            })
            .unwrap_or_default()
    }
}

async fn create(server: &Server, body: Value) -> Value {
    let (status, task) = server
        .json(server.post("/api/tasks"), &body.to_string())
        .await;
    assert_eq!(status, StatusCode::CREATED, "{task}");
    task
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prompt_kill_and_missing_program_over_http() {
    let server = common::start(|c| c.reconcile_interval = Duration::from_millis(100)).await;
    let mut events = TaskEvents::open(&server).await;

    let task = create(
        &server,
        json!({"command": r#"read -p "name? " x; echo hi $x"#, "name": "greeter"}),
    )
    .await;
    let id = task["id"].as_str().expect("id").to_owned();
    assert_eq!(task["status"], "running");
    assert_eq!(task["name"], "greeter");
    events.until_status(&id, "waiting-for-input").await;
    let created = &events.by_task[&id][0];
    assert_eq!(created.0, "task.created");
    assert_eq!(created.1["version"], created.2);

    let (status, after) = server
        .json(
            server.post(&format!("/api/tasks/{id}/input")),
            r#"{"text":"bob\n"}"#,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{after}");
    assert_eq!(after["status"], "running");
    events.until_status(&id, "completed").await;
    assert_eq!(
        events.statuses(&id),
        ["waiting-for-input", "running", "completed"]
    );

    let (status, detail) = server
        .json(server.get(&format!("/api/tasks/{id}")), "")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(detail["status"], "completed");
    assert_eq!(detail["exit_code"], 0);
    assert!(detail["recent_output"]
        .as_str()
        .expect("text")
        .contains("hi bob"));
    let (status, out) = server
        .json(server.get(&format!("/api/tasks/{id}/output?tail=1")), "")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(out["output"].as_str().expect("text").trim_end(), "hi bob");

    // sleep 100, then DELETE: killed, never completed.
    let sleeper = create(&server, json!({"command": ["sleep", "100"]})).await;
    let sid = sleeper["id"].as_str().expect("id").to_owned();
    let (status, killed) = server
        .json(
            server.get(&format!("/api/tasks/{sid}")).method("DELETE"),
            "",
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{killed}");
    assert_eq!(killed["status"], "killed");
    events.until_status(&sid, "killed").await;
    let (status, again) = server
        .json(
            server.get(&format!("/api/tasks/{sid}")).method("DELETE"),
            "",
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{again}");

    // A program that does not exist: a task in error, announced.
    let missing = create(&server, json!({"command": "tidings-no-such-program"})).await;
    let mid = missing["id"].as_str().expect("id").to_owned();
    assert_eq!(missing["status"], "error");
    assert!(missing["error"]
        .as_str()
        .expect("reason")
        .contains("not found"));
    events.until_status(&mid, "error").await;

    // Wait for the killed process to be reaped before the server goes.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(events.statuses(&sid), ["killed"]);
    server.running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_server_lists_the_tasks_and_announces_the_lost_one() {
    let data = tempfile::tempdir().expect("temp dir");
    let first = tidings::start(common::config(&data)).await.expect("start");
    let server = Server {
        base: format!("http://{}", first.addr),
        running: first,
        client: hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build_http(),
        _data: tempfile::tempdir().expect("temp dir"),
    };
    let live = create(&server, json!({"command": "sleep 100", "name": "long"})).await;
    let live_id = live["id"].as_str().expect("id").to_owned();
    let (_, before) = server.json(server.get("/api/tasks"), "").await;
    let old_cursor = before["cursor"].as_str().expect("cursor").to_owned();
    server.running.shutdown().await;

    let second = tidings::start(common::config(&data))
        .await
        .expect("restart");
    let server = Server {
        base: format!("http://{}", second.addr),
        running: second,
        client: hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build_http(),
        _data: tempfile::tempdir().expect("temp dir"),
    };
    let (status, list) = server.json(server.get("/api/tasks"), "").await;
    assert_eq!(status, StatusCode::OK);
    let tasks = list["tasks"].as_array().expect("tasks");
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0]["id"], live_id.as_str());
    assert_eq!(tasks[0]["name"], "long");
    assert_eq!(tasks[0]["status"], "error");
    assert!(tasks[0]["error"]
        .as_str()
        .expect("reason")
        .contains("restart"));
    let version = tasks[0]["version"].as_u64().expect("version");
    assert!(
        version > seq(&old_cursor),
        "versions continue across the restart"
    );

    // The finalisation was announced: it is in the new epoch's history, and
    // the cursor of the list reflects it.
    assert_eq!(seq(list["cursor"].as_str().expect("cursor")), version);
    let epoch = list["cursor"]
        .as_str()
        .expect("cursor")
        .split('-')
        .next()
        .expect("epoch")
        .to_owned();
    let mut sse = server
        .stream(&format!("?last_event_id={epoch}-{}", version - 1), &[])
        .await;
    assert_eq!(sse.ready().await["resumed"], true);
    let m = sse.expect().await;
    assert_eq!(m.event, "task.status");
    let data: Value = serde_json::from_str(&m.data).expect("JSON");
    assert_eq!(data["task_id"], live_id.as_str());
    assert_eq!(data["status"], "error");
    assert_eq!(data["previous"], "running");
    assert_eq!(data["reason"], "lost");
    drop(sse);
    server.running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_requests_during_an_exit_publish_one_status() {
    let server =
        Arc::new(common::start(|c| c.reconcile_interval = Duration::from_millis(50)).await);
    let mut events = TaskEvents::open(&server).await;
    let task = create(&server, json!({"command": "sleep 0.4; exit 3"})).await;
    let id = task["id"].as_str().expect("id").to_owned();

    // 1,000 requests, half list and half get, spread over ~0.8 s around the
    // exit at ~0.4 s; each notes the status it saw.
    let mut requests = Vec::new();
    for i in 0..1000u64 {
        let server = Arc::clone(&server);
        let id = id.clone();
        requests.push(tokio::spawn(async move {
            tokio::time::sleep(Duration::from_micros(i * 800)).await;
            if i % 2 == 0 {
                let (status, list) = server.json(server.get("/api/tasks"), "").await;
                assert_eq!(status, StatusCode::OK);
                list["tasks"]
                    .as_array()
                    .expect("tasks")
                    .iter()
                    .find(|t| t["id"] == id.as_str())
                    .expect("listed")["status"]
                    .as_str()
                    .expect("status")
                    .to_owned()
            } else {
                let (status, t) = server
                    .json(server.get(&format!("/api/tasks/{id}")), "")
                    .await;
                assert_eq!(status, StatusCode::OK);
                t["status"].as_str().expect("status").to_owned()
            }
        }));
    }
    let mut seen = HashMap::<String, usize>::new();
    for r in requests {
        *seen.entry(r.await.expect("request")).or_default() += 1;
    }
    assert!(
        seen.contains_key("running") && seen.contains_key("completed"),
        "the requests straddled the exit: {seen:?}"
    );
    events.until_status(&id, "completed").await;
    // Give a straggling duplicate every chance to show up.
    server.running.hub.publish(
        broker_core::EventType::new("task.test-marker").expect("type"),
        None,
        serde_json::Map::from_iter([("id".to_owned(), Value::from("marker"))]),
    );
    events.until_marker().await;
    assert_eq!(events.statuses(&id), ["completed"], "{seen:?}");
    let (_, detail) = server
        .json(server.get(&format!("/api/tasks/{id}")), "")
        .await;
    assert_eq!(detail["exit_code"], 3);
}

impl TaskEvents {
    /// Reads until the marker event published after everything else.
    async fn until_marker(&mut self) {
        loop {
            let m = self.sse.expect().await;
            let data: Value = serde_json::from_str(&m.data).expect("JSON data");
            if m.event == "task.test-marker" {
                return;
            }
            let id = data
                .get("task_id")
                .or_else(|| data.get("id"))
                .and_then(Value::as_str)
                .expect("a task event names its task")
                .to_owned();
            self.by_task
                .entry(id)
                .or_default()
                .push((m.event, data, seq(&m.last_event_id)));
        }
    }
}
