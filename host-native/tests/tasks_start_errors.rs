//! A program that does not exist gives a task in `error` with the reason,
//! announced like any other; malformed requests are refused outright.

mod tasks_support;

use std::time::Duration;

use broker_core::TaskStatus;
use tasks_support::{start, Events};
use tidings::tasks::{CommandSpec, CreateTask, TaskError};

fn request(command: CommandSpec) -> CreateTask {
    CreateTask {
        command,
        workdir: None,
        name: None,
        input: None,
    }
}

#[tokio::test]
async fn a_missing_program_is_an_error_task_with_the_reason() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (manager, hub) = start(dir.path(), 1).await;
    let mut events = Events::new(&hub);

    for command in [
        CommandSpec::Shell("tidings-no-such-program --help".into()),
        CommandSpec::Argv(vec!["tidings-no-such-program".into(), "x".into()]),
        CommandSpec::Argv(vec!["/nonexistent/bin/tool".into()]),
    ] {
        let task = manager
            .create(request(command.clone()))
            .await
            .expect("create");
        assert_eq!(task.status, TaskStatus::Error, "{command:?}");
        let reason = task.error.clone().expect("a reason");
        assert!(reason.contains("not found"), "{reason}");
        assert_eq!(task.pid, None);
        assert!(task.finished_at.is_some());

        let about = events.about(&task.id);
        let kinds: Vec<&str> = about.iter().map(|e| e.kind.as_str()).collect();
        assert_eq!(kinds, ["task.created", "task.status"], "{command:?}");
        assert_eq!(about[1].data["status"], "error");
        assert_eq!(about[1].data["previous"], "running");
        assert_eq!(about[1].data["error"], reason.as_str());
        assert_eq!(about[1].data["reason"], "failed-to-start");
        assert_eq!(task.version, about[1].seq());
        // It stays listed, in error.
        let listed = manager.list().await.expect("list");
        assert!(listed
            .tasks
            .iter()
            .any(|t| t.id == task.id && t.status == TaskStatus::Error));
    }

    // A later missing command inside a shell string is the shell's own exit.
    let task = manager
        .create(request(CommandSpec::Shell(
            "true; tidings-no-such-program".into(),
        )))
        .await
        .expect("create");
    tasks_support::eventually(Duration::from_secs(5), "the shell exits", async || {
        let status = manager.get(&task.id).await.expect("get").task.status;
        status.is_final()
    })
    .await;
    let detail = manager.get(&task.id).await.expect("get");
    assert_eq!(detail.task.status, TaskStatus::Completed);
    assert_eq!(detail.task.exit_code, Some(127));
    assert!(
        detail.recent_output.contains("not found"),
        "{:?}",
        detail.recent_output
    );
    manager.shutdown().await;
}

#[tokio::test]
async fn malformed_requests_are_refused_without_a_task() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (manager, hub) = start(dir.path(), 2).await;
    let before = hub.cursor();
    let bad = [
        request(CommandSpec::Shell("  ".into())),
        request(CommandSpec::Argv(vec![])),
        CreateTask {
            workdir: Some(dir.path().join("missing")),
            ..request(CommandSpec::Shell("true".into()))
        },
        CreateTask {
            name: Some("\n".into()),
            ..request(CommandSpec::Shell("true".into()))
        },
    ];
    for req in bad {
        let err = manager.create(req).await.expect_err("refused");
        assert!(matches!(err, TaskError::Invalid(_)), "{err:?}");
    }
    let missing_dir = manager
        .create_terminal(Some(dir.path().join("missing")))
        .await
        .expect_err("refused");
    assert!(matches!(missing_dir, TaskError::Invalid(_)));
    assert!(manager.list().await.expect("list").tasks.is_empty());
    assert_eq!(hub.cursor(), before, "nothing was published");
    manager.shutdown().await;
}
