//! No `TIDINGS_*` credential of the server's environment reaches a task:
//! `env` in a task shows neither the token nor the token file (nor any other
//! `TIDINGS_*` setting), only the task's own `TIDINGS_TASK_ID`.

mod serve_support;

use serve_support::Serve;

/// Runs `env` in a task of a server started with `env`, and returns the
/// task's id and every `TIDINGS_*` line it printed.
fn task_env(env: &[(&str, &str)]) -> (String, String, Vec<String>) {
    let data = tempfile::tempdir().expect("temp dir");
    let serve = Serve::start(data.path(), &[], env);
    let task = serve.create("env; echo env-done");
    let id = task["id"].as_str().expect("an id").to_owned();
    serve.wait_task(&id, "the task to complete", |t| t["status"] == "completed");
    let (status, out) = serve.json("GET", &format!("/api/tasks/{id}/output?tail=1000"), None);
    assert_eq!(status, 200, "{out}");
    let text = out["output"].as_str().expect("output text").to_owned();
    assert!(text.contains("env-done"), "{text}");
    let lines = text
        .lines()
        .filter(|l| l.starts_with("TIDINGS_"))
        .map(str::to_owned)
        .collect();
    serve.stop();
    (id, text, lines)
}

#[test]
fn the_token_from_the_environment_is_not_in_a_tasks_environment() {
    let token = "env-secret-token-0123456789";
    let (id, text, lines) = task_env(&[
        ("TIDINGS_TOKEN", token),
        ("TIDINGS_RETRY", "3s"),
        ("TIDINGS_LOG", "warn"),
    ]);
    assert_eq!(lines, [format!("TIDINGS_TASK_ID={id}")], "{text}");
    assert!(
        !text.contains(token),
        "the token leaked into the task: {text}"
    );
}

#[test]
fn the_token_file_from_the_environment_is_not_in_a_tasks_environment() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("token");
    std::fs::write(&file, "file-secret-token-0123456789\n").expect("write the token");
    let path = file.to_str().expect("a UTF-8 path");
    let (id, text, lines) = task_env(&[("TIDINGS_TOKEN_FILE", path)]);
    assert_eq!(lines, [format!("TIDINGS_TASK_ID={id}")], "{text}");
    assert!(!text.contains(path), "the token file leaked: {text}");
    assert!(!text.contains("file-secret-token"), "{text}");
}
