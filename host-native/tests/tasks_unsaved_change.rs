//! A task change that cannot be saved fails its request with `503` and a
//! JSON error, publishes nothing and changes nothing; once the disk is
//! writable again the same requests succeed and are announced.

mod serve_support;

use serve_support::{pid_alive, Serve, Stream};

#[test]
fn a_change_that_cannot_be_saved_is_refused_and_not_announced() {
    let data = tempfile::tempdir().expect("temp dir");
    let serve = Serve::start(data.path(), &[], &[]);
    let mut stream = Stream::open(serve.addr, &serve.token, "");
    let task = serve.create("sleep 300");
    let id = task["id"].as_str().expect("an id").to_owned();
    let pid = u32::try_from(task["pid"].as_u64().expect("a pid")).expect("fits");
    let created = stream.until("task.created");
    assert!(created.last().expect("frame").data.contains(&id));

    // The record cannot be replaced while a directory stands in its place
    // (this holds for root too).
    let record = data.path().join("tasks").join(format!("{id}.json"));
    std::fs::remove_file(&record).expect("remove the record");
    std::fs::create_dir(&record).expect("a directory in its place");
    std::fs::write(record.join("keep"), b"x").expect("not empty");

    let rename = format!("/api/tasks/{id}/rename");
    let (status, err) = serve.json("POST", &rename, Some(r#"{"name":"new name"}"#));
    assert_eq!(status, 503, "{err}");
    assert!(
        err["error"]
            .as_str()
            .is_some_and(|e| e.contains("could not be saved")),
        "{err}"
    );
    let (status, err) = serve.json("DELETE", &format!("/api/tasks/{id}"), None);
    assert_eq!(status, 503, "{err}");
    assert!(
        pid_alive(pid),
        "a kill that cannot be recorded kills nothing"
    );

    let (status, now) = serve.json("GET", &format!("/api/tasks/{id}"), None);
    assert_eq!(status, 200);
    assert_eq!(now["name"], task["name"], "{now}");
    assert_eq!(now["status"], "running", "{now}");
    assert_eq!(now["version"], task["version"], "{now}");

    // Nothing was announced: the next frame after the refusals is this one.
    serve.publish(1);
    let frames = stream.until("trigger.fired");
    let task_frames: Vec<_> = frames
        .iter()
        .filter(|f| f.event.starts_with("task."))
        .collect();
    assert!(task_frames.is_empty(), "announced anyway: {task_frames:?}");

    std::fs::remove_dir_all(&record).expect("clear the way");
    let (status, renamed) = serve.json("POST", &rename, Some(r#"{"name":"new name"}"#));
    assert_eq!(status, 200, "{renamed}");
    let (status, killed) = serve.json("DELETE", &format!("/api/tasks/{id}"), None);
    assert_eq!(status, 200, "{killed}");
    assert_eq!(killed["status"], "killed");
    let updated = stream.until("task.updated");
    assert!(updated.last().expect("frame").data.contains("new name"));
    let status_frames = stream.until("task.status");
    assert!(status_frames
        .last()
        .expect("frame")
        .data
        .contains(r#""status":"killed""#));
    serve.stop();
}
