//! A terminal task: an interactive login shell that waits at its prompt,
//! runs what is typed, and completes when told to exit.

mod tasks_support;

use std::time::Duration;

use broker_core::{TaskKind, TaskStatus};
use tasks_support::{eventually, start, Events};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_terminal_waits_at_its_prompt_and_runs_what_is_typed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (manager, hub) = start(dir.path(), 1).await;
    let mut events = Events::new(&hub);
    let task = manager
        .create_terminal(Some(dir.path().to_path_buf()))
        .await
        .expect("terminal");
    assert_eq!(task.kind, TaskKind::Terminal);
    assert!(task.command.ends_with(" -l"), "{}", task.command);
    let workdir = dir.path().canonicalize().expect("canonical");
    assert_eq!(task.workdir, workdir.to_string_lossy());

    events
        .wait_status(
            &task.id,
            TaskStatus::WaitingForInput,
            Duration::from_secs(10),
        )
        .await;
    manager
        .send_input(&task.id, "echo marker-$((6*7)); pwd\n")
        .await
        .expect("input");
    eventually(Duration::from_secs(5), "the command's output", async || {
        let out = manager.output(&task.id, 20).await.expect("output").output;
        out.contains("marker-42")
    })
    .await;
    let out = manager.output(&task.id, 20).await.expect("output").output;
    assert!(out.contains(&*workdir.to_string_lossy()), "{out}");
    manager
        .send_input(&task.id, "exit 0\n")
        .await
        .expect("input");
    events
        .wait_status(&task.id, TaskStatus::Completed, Duration::from_secs(5))
        .await;
    assert_eq!(
        manager.get(&task.id).await.expect("get").task.exit_code,
        Some(0)
    );
    manager.shutdown().await;
}
