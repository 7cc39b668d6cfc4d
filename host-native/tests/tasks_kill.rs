//! Killing a task takes its whole process group (and its session's other
//! groups) and reports `killed`, never `completed`.

mod tasks_support;

use std::time::Duration;

use broker_core::TaskStatus;
use tasks_support::{eventually, pid_alive, session_pids, start, Events, TICK};
use tidings::tasks::{CommandSpec, CreateTask, TaskError};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_takes_the_process_group_and_reports_killed_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (manager, hub) = start(dir.path(), 1).await;
    let mut events = Events::new(&hub);

    let task = manager
        .create(CreateTask {
            command: CommandSpec::Shell("sleep 100 & sleep 100; wait".into()),
            workdir: None,
            name: None,
            input: None,
        })
        .await
        .expect("create");
    let pid = task.pid.expect("a running task has a pid");
    // Both sleeps and the shell share the task's session.
    let mut members = Vec::new();
    eventually(Duration::from_secs(5), "both sleeps started", async || {
        members = session_pids(pid);
        let n = members.len();
        n >= 3
    })
    .await;

    let killed = manager.kill(&task.id).await.expect("kill");
    assert_eq!(killed.status, TaskStatus::Killed);
    assert!(killed.finished_at.is_some());
    assert_eq!(killed.exit_code, None);

    eventually(
        Duration::from_secs(5),
        "every process of the task gone",
        async || {
            let alive = members.iter().any(|&p| pid_alive(p));
            !alive
        },
    )
    .await;
    // Several ticks later the exit has been reaped and is still not news.
    tokio::time::sleep(TICK * 4).await;
    let detail = manager.get(&task.id).await.expect("get");
    assert_eq!(detail.task.status, TaskStatus::Killed);
    assert_eq!(detail.task.exit_code, None);
    assert_eq!(events.statuses(&task.id), ["killed"]);
    assert!(
        !tasks_support::pid_exists(pid),
        "the killed leader was reaped, not left a zombie"
    );

    assert!(matches!(
        manager.kill(&task.id).await,
        Err(TaskError::NotLive)
    ));
    assert!(matches!(
        manager.send_input(&task.id, "x").await,
        Err(TaskError::NotLive)
    ));
    let unknown = broker_core::TaskId::new("nope").expect("valid id");
    assert!(matches!(
        manager.kill(&unknown).await,
        Err(TaskError::NotFound)
    ));
    assert!(matches!(
        manager.get(&unknown).await,
        Err(TaskError::NotFound)
    ));
    assert!(matches!(
        manager.output(&unknown, 5).await,
        Err(TaskError::NotFound)
    ));
    manager.shutdown().await;
}
