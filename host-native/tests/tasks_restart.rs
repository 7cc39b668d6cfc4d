//! Tasks survive a restart with the same data dir; a task whose process did
//! not survive is finalised with a reason, and that is announced. A process
//! that outlived the old server (it ignored the hang-up) is killed.

mod tasks_support;

use std::time::Duration;

use broker_core::TaskStatus;
use tasks_support::{eventually, pid_alive, start, Events};
use tidings::tasks::{CommandSpec, CreateTask};

fn shell(text: &str) -> CreateTask {
    CreateTask {
        command: CommandSpec::Shell(text.into()),
        workdir: None,
        name: None,
        input: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_keeps_tasks_and_reconciles_the_interrupted_ones() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (first, hub1) = start(dir.path(), 1).await;
    let done = first.create(shell("echo finished")).await.expect("create");
    let sleeper = first.create(shell("sleep 100")).await.expect("create");
    let stubborn = first
        .create(shell("trap '' HUP; echo armed; sleep 100"))
        .await
        .expect("create");
    let renamed = first.rename(&sleeper.id, "nap").await.expect("rename");
    assert_eq!(renamed.name, "nap");
    eventually(
        Duration::from_secs(5),
        "the first task completes",
        async || {
            let s = first.get(&done.id).await.expect("get").task.status;
            s == TaskStatus::Completed
        },
    )
    .await;
    eventually(Duration::from_secs(5), "the trap is armed", async || {
        let out = first.output(&stubborn.id, 5).await.expect("output").output;
        out.contains("armed")
    })
    .await;
    let before = first.list().await.expect("list");
    let stubborn_pid = stubborn.pid.expect("pid");
    let sleeper_pid = sleeper.pid.expect("pid");
    first.shutdown().await;
    drop(hub1);

    // The hang-up ends the plain sleeper; the stubborn one outlives us.
    eventually(Duration::from_secs(5), "the sleeper hangs up", async || {
        let alive = pid_alive(sleeper_pid);
        !alive
    })
    .await;
    assert!(
        pid_alive(stubborn_pid),
        "the HUP-ignoring task survived the shutdown"
    );

    let loaded = tasks_support::load(dir.path());
    assert_eq!(loaded.len(), 3);
    let max_before = before.tasks.iter().map(|t| t.version).max().expect("tasks");
    assert_eq!(loaded.max_version(), max_before);
    drop(loaded); // releases the data directory's lock

    let (second, hub2) = start(dir.path(), 2).await;
    let mut events = Events::new(&hub2);
    // The finalisations were published by start: resume from the newest
    // version before the restart (the list cursor a client would hold, seen
    // in the new epoch's terms) and read them from the history.
    let (replay, ready) =
        hub2.subscribe(broker_core::Filter::all(), Some(&format!("2-{max_before}")));
    assert!(ready.resumed);
    let mut buf = bytes::BytesMut::new();
    replay.drain(&mut buf, 1 << 20);
    let text = String::from_utf8_lossy(&buf).into_owned();
    drop(replay);

    let list = second.list().await.expect("list");
    assert_eq!(list.tasks.len(), 3, "every task is still listed");
    let find = |id| {
        list.tasks
            .iter()
            .find(|t| &t.id == id)
            .expect("listed")
            .clone()
    };

    let done_after = find(&done.id);
    assert_eq!(done_after.status, TaskStatus::Completed);
    assert_eq!(done_after.exit_code, Some(0));
    assert_eq!(
        second
            .output(&done.id, 5)
            .await
            .expect("output")
            .output
            .trim(),
        "finished"
    );

    let sleeper_after = find(&sleeper.id);
    assert_eq!(sleeper_after.name, "nap");
    assert_eq!(sleeper_after.status, TaskStatus::Error);
    assert!(sleeper_after
        .error
        .as_deref()
        .is_some_and(|e| e.contains("did not survive")));
    assert!(
        sleeper_after.version > max_before,
        "versions keep counting up"
    );

    let stubborn_after = find(&stubborn.id);
    assert_eq!(stubborn_after.status, TaskStatus::Error);
    assert!(stubborn_after
        .error
        .as_deref()
        .is_some_and(|e| e.contains("killed")));
    eventually(
        Duration::from_secs(5),
        "the survivor is killed",
        async || {
            let alive = pid_alive(stubborn_pid);
            !alive
        },
    )
    .await;

    // Both finalisations were announced as task.status, each once.
    for id in [&sleeper.id, &stubborn.id] {
        let n = text.matches(&format!(r#""task_id":"{id}""#)).count();
        assert_eq!(n, 1, "one task.status for {id} in {text}");
    }
    assert!(text.contains(r#""reason":"lost""#));
    assert_eq!(list.cursor, hub2.cursor());
    // Nothing more happens to them.
    tokio::time::sleep(tasks_support::TICK * 3).await;
    assert!(events.statuses(&sleeper.id).is_empty());
    second.shutdown().await;
}
