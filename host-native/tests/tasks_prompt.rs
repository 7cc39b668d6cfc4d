//! A command that prompts: running → waiting-for-input within one tick →
//! input → running → completed with exit code 0 and the answer in its output.

mod tasks_support;

use std::time::Duration;

use broker_core::TaskStatus;
use tasks_support::{start, Events, TICK};
use tidings::tasks::{CommandSpec, CreateTask, TaskError};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prompt_waits_for_input_then_completes_with_the_answer() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (manager, hub) = start(dir.path(), 1).await;
    let mut events = Events::new(&hub);

    let task = manager
        .create(CreateTask {
            command: CommandSpec::Shell(r#"read -p "name? " x; echo hi $x"#.into()),
            workdir: None,
            name: None,
            input: None,
        })
        .await
        .expect("create");
    assert_eq!(task.status, TaskStatus::Running);
    assert!(task.pid.is_some());

    // task.created went out before create returned, carrying the task (the
    // loop may already have seen the prompt since).
    let created = events.about(&task.id);
    assert!(!created.is_empty());
    assert_eq!(created[0].kind, "task.created");
    assert_eq!(created[0].data["status"], "running");
    assert_eq!(created[0].data["version"], created[0].seq());
    assert_eq!(created[0].seq(), task.version);

    // The prompt appears; from then on the loop (not a request) must see the
    // read within one tick (plus scheduling slack on a busy machine).
    let prompt_seen = {
        let began = std::time::Instant::now();
        while !manager
            .output(&task.id, 5)
            .await
            .expect("output")
            .output
            .contains("name? ")
        {
            assert!(began.elapsed() < Duration::from_secs(5), "no prompt");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        std::time::Instant::now()
    };
    events
        .wait_status(
            &task.id,
            TaskStatus::WaitingForInput,
            Duration::from_secs(5),
        )
        .await;
    let waited = prompt_seen.elapsed();
    assert!(
        waited <= TICK * 3,
        "waiting-for-input took {waited:?}, tick {TICK:?}"
    );

    let after_input = manager.send_input(&task.id, "bob\n").await.expect("input");
    assert_eq!(after_input.status, TaskStatus::Running);

    events
        .wait_status(&task.id, TaskStatus::Completed, Duration::from_secs(5))
        .await;
    assert_eq!(
        events.statuses(&task.id),
        ["waiting-for-input", "running", "completed"]
    );
    let detail = manager.get(&task.id).await.expect("get");
    assert_eq!(detail.task.status, TaskStatus::Completed);
    assert_eq!(detail.task.exit_code, Some(0));
    assert!(detail.task.finished_at.is_some());
    assert_eq!(detail.task.pid, None);
    assert!(
        detail.recent_output.contains("hi bob"),
        "{:?}",
        detail.recent_output
    );
    assert!(manager
        .output(&task.id, 1)
        .await
        .expect("output")
        .output
        .contains("hi bob"));

    // Every event carries the version it gave the task; the last is the
    // task's version now.
    let about = events.about(&task.id);
    for e in &about {
        assert_eq!(e.data["version"], e.seq(), "{e:?}");
    }
    let last = about.last().expect("events");
    assert_eq!(last.data["exit_code"], 0);
    assert_eq!(detail.task.version, last.seq());

    // A finished task takes no input and cannot be killed.
    assert!(matches!(
        manager.send_input(&task.id, "x\n").await,
        Err(TaskError::NotLive)
    ));
    assert!(matches!(
        manager.kill(&task.id).await,
        Err(TaskError::NotLive)
    ));
    manager.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn initial_input_is_typed_once_the_program_reads() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (manager, hub) = start(dir.path(), 2).await;
    let mut events = Events::new(&hub);
    let task = manager
        .create(CreateTask {
            command: CommandSpec::Argv(vec![
                "sh".into(),
                "-c".into(),
                "sleep 0.2; read x; echo got $x".into(),
            ]),
            workdir: Some(dir.path().to_path_buf()),
            name: Some("asks".into()),
            input: Some("abc\n".into()),
        })
        .await
        .expect("create");
    assert_eq!(task.name, "asks");
    assert_eq!(task.command, "sh -c sleep 0.2; read x; echo got $x");
    events
        .wait_status(&task.id, TaskStatus::Completed, Duration::from_secs(6))
        .await;
    let detail = manager.get(&task.id).await.expect("get");
    assert_eq!(detail.task.exit_code, Some(0));
    assert!(
        detail.recent_output.contains("got abc"),
        "{:?}",
        detail.recent_output
    );
    manager.shutdown().await;
}
