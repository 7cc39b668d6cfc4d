//! Input to a program that does not read is queued, bounded, and never
//! blocks the task runner; killing such a task still works at once.

mod tasks_support;

use std::time::{Duration, Instant};

use broker_core::TaskStatus;
use tasks_support::start;
use tidings::tasks::{CommandSpec, CreateTask, TaskError, MAX_QUEUED_INPUT};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn input_nobody_reads_is_bounded_and_never_blocks() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (manager, _hub) = start(dir.path(), 1).await;
    let task = manager
        .create(CreateTask {
            command: CommandSpec::Argv(vec!["sleep".into(), "100".into()]),
            workdir: None,
            name: None,
            input: None,
        })
        .await
        .expect("create");

    // Far more than the terminal buffers: each call returns at once.
    let chunk = "x".repeat(8 * 1024);
    let began = Instant::now();
    let mut accepted = 0;
    let refused = loop {
        match manager.send_input(&task.id, &chunk).await {
            Ok(_) => accepted += chunk.len(),
            Err(e) => break e,
        }
        assert!(accepted <= 2 * MAX_QUEUED_INPUT, "input is bounded");
    };
    assert!(matches!(refused, TaskError::Invalid(_)), "{refused:?}");
    assert!(accepted >= MAX_QUEUED_INPUT / 2);
    assert!(began.elapsed() < Duration::from_secs(2));
    // The runner is still responsive.
    assert_eq!(manager.list().await.expect("list").tasks.len(), 1);
    assert!(matches!(
        manager.send_input(&task.id, "").await,
        Err(TaskError::Invalid(_))
    ));

    let killed = manager.kill(&task.id).await.expect("kill");
    assert_eq!(killed.status, TaskStatus::Killed);
    manager.shutdown().await;
}
