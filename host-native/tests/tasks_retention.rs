//! Finished tasks beyond `--keep-finished` are removed, oldest finished
//! first, with their records and logs, and each removal is announced as
//! `task.removed {task_id, version}` whose version is the event's SEQ.

mod serve_support;

use std::time::{Duration, Instant};

use serve_support::{seq, Serve, Stream, PATIENCE};

#[test]
fn the_oldest_finished_tasks_leave_with_their_logs_and_are_announced() {
    let data = tempfile::tempdir().expect("temp dir");
    let serve = Serve::start(data.path(), &["--keep-finished", "2"], &[]);
    let mut stream = Stream::open(serve.addr, &serve.token, "?types=task.*");
    let live = serve.create("sleep 300");
    let mut ids = Vec::new();
    for i in 0..4 {
        let task = serve.create(&format!("echo done-{i}"));
        let id = task["id"].as_str().expect("an id").to_owned();
        serve.wait_task(&id, "completion", |t| t["status"] == "completed");
        ids.push(id);
    }
    let tasks = data.path().join("tasks");
    let began = Instant::now();
    let listed = loop {
        let (_, list) = serve.json("GET", "/api/tasks", None);
        let listed: Vec<String> = list["tasks"]
            .as_array()
            .expect("tasks")
            .iter()
            .map(|t| t["id"].as_str().expect("id").to_owned())
            .collect();
        if listed.len() == 3 {
            break listed;
        }
        assert!(began.elapsed() < PATIENCE, "not removed: {list}");
        std::thread::sleep(Duration::from_millis(20));
    };
    let live_id = live["id"].as_str().expect("an id");
    assert_eq!(
        listed,
        [live_id, &ids[2], &ids[3]],
        "the live task and the two newest finished"
    );
    for gone in &ids[..2] {
        assert!(
            !tasks.join(format!("{gone}.json")).exists(),
            "{gone} record"
        );
        assert!(!tasks.join(format!("{gone}.log")).exists(), "{gone} log");
    }
    for kept in &ids[2..] {
        assert!(tasks.join(format!("{kept}.json")).exists());
        assert!(tasks.join(format!("{kept}.log")).exists());
    }

    let mut removed = Vec::new();
    while removed.len() < 2 {
        let frame = stream.next();
        if frame.event == "task.removed" {
            removed.push(frame);
        }
    }
    for (frame, id) in removed.iter().zip(&ids[..2]) {
        let data: serde_json::Value = serde_json::from_str(&frame.data).expect("JSON");
        assert_eq!(data["task_id"], id.as_str(), "oldest first: {data}");
        let event_seq = seq(frame.id.as_deref().expect("an id"));
        assert_eq!(
            data["version"], event_seq,
            "version is the event's SEQ: {data}"
        );
        assert_eq!(data.as_object().expect("object").len(), 2, "{data}");
    }

    // After a restart the removed tasks stay gone; the sleeper, lost with
    // the old server, is now the newest finished task, so the oldest kept
    // one makes room for it.
    serve.stop();
    let again = Serve::start(data.path(), &["--keep-finished", "2"], &[]);
    let (_, list) = again.json("GET", "/api/tasks", None);
    let now: Vec<&str> = list["tasks"]
        .as_array()
        .expect("tasks")
        .iter()
        .map(|t| t["id"].as_str().expect("id"))
        .collect();
    assert_eq!(now, [live_id, ids[3].as_str()], "{list}");
    again.stop();
}
