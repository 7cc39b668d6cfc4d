//! The idle fallback: a program that is not reading its terminal but has
//! written nothing for the idle threshold counts as waiting for input; new
//! output brings it back to running.

mod tasks_support;

use std::time::Duration;

use broker_core::TaskStatus;
use tasks_support::{start_with, Events};
use tidings::tasks::{CommandSpec, CreateTask};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silence_means_waiting_and_output_means_running_again() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (manager, hub) = start_with(dir.path(), 1, |c| {
        c.idle_threshold = Duration::from_millis(300);
    })
    .await;
    let mut events = Events::new(&hub);
    let task = manager
        .create(CreateTask {
            command: CommandSpec::Shell("sleep 0.8; echo tick; sleep 0.8".into()),
            workdir: None,
            name: None,
            input: None,
        })
        .await
        .expect("create");
    events
        .wait_status(&task.id, TaskStatus::Completed, Duration::from_secs(8))
        .await;
    assert_eq!(
        events.statuses(&task.id),
        [
            "waiting-for-input",
            "running",
            "waiting-for-input",
            "completed"
        ]
    );
    let waits: Vec<_> = events
        .about(&task.id)
        .into_iter()
        .filter(|e| e.kind == "task.status")
        .collect();
    // The first wait came after the threshold, not at once.
    let first_wait_at = waits[0].data["at"].as_u64().expect("at");
    assert!(first_wait_at >= task.created_at.as_millis() + 300);

    let metrics = manager.metrics();
    assert!(metrics.reconcile_passes > 0);
    assert!(metrics.by_status.contains(&(TaskStatus::Completed, 1)));
    assert_eq!(metrics.by_status.len(), 5);
    manager.shutdown().await;
}
