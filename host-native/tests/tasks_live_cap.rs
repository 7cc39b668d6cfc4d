//! At most `--max-live-tasks` tasks run at once: one more gets `429` with a
//! JSON error and starts nothing; when one ends, there is room again.

mod serve_support;

use serve_support::Serve;

#[test]
fn the_live_task_cap_answers_429_until_a_task_ends() {
    let data = tempfile::tempdir().expect("temp dir");
    let serve = Serve::start(data.path(), &["--max-live-tasks", "2"], &[]);
    let a = serve.create("sleep 300");
    let _b = serve.create("sleep 300");
    let (status, err) = serve.json("POST", "/api/tasks", Some(r#"{"command":"sleep 300"}"#));
    assert_eq!(status, 429, "{err}");
    assert!(
        err["error"]
            .as_str()
            .is_some_and(|e| e.contains("at most 2")),
        "{err}"
    );
    let (status, err) = serve.json("POST", "/api/tasks/terminal", Some("{}"));
    assert_eq!(status, 429, "{err}");
    let (_, list) = serve.json("GET", "/api/tasks", None);
    assert_eq!(
        list["tasks"].as_array().expect("tasks").len(),
        2,
        "nothing started"
    );

    let id = a["id"].as_str().expect("an id");
    let (status, _) = serve.json("DELETE", &format!("/api/tasks/{id}"), None);
    assert_eq!(status, 200);
    let c = serve.create("sleep 300");
    assert_eq!(c["status"], "running");
    serve.stop();
}
