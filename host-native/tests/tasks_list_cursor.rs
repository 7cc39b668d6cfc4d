//! The list's cursor names exactly the newest event reflected in its tasks,
//! even while tasks are being created and changed concurrently: every task
//! version is at most the cursor, and every task announced at or below the
//! cursor is in the list.

mod tasks_support;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tasks_support::{start, Events};
use tidings::tasks::{CommandSpec, CreateTask};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_cursor_matches_the_listed_tasks_under_concurrent_changes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (manager, hub) = start(dir.path(), 1).await;
    let mut events = Events::new(&hub);

    let done = Arc::new(AtomicBool::new(false));
    let writer = {
        let manager = manager.clone();
        let done = Arc::clone(&done);
        tokio::spawn(async move {
            for i in 0..40 {
                let task = manager
                    .create(CreateTask {
                        command: CommandSpec::Shell("exit 0".into()),
                        workdir: None,
                        name: Some(format!("n{i}")),
                        input: None,
                    })
                    .await
                    .expect("create");
                manager
                    .rename(&task.id, &format!("r{i}"))
                    .await
                    .expect("rename");
            }
            done.store(true, Ordering::Release);
        })
    };
    let mut lists = Vec::new();
    while !done.load(Ordering::Acquire) {
        lists.push(manager.list().await.expect("list"));
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    writer.await.expect("writer");
    lists.push(manager.list().await.expect("list"));
    assert!(lists.len() > 5, "lists were taken during the changes");

    events.pump();
    for list in &lists {
        let cursor = list.cursor.seq;
        let listed: HashSet<&str> = list.tasks.iter().map(|t| t.id.as_str()).collect();
        for task in &list.tasks {
            assert!(
                task.version <= cursor,
                "{} v{} > cursor {cursor}",
                task.id,
                task.version
            );
        }
        for e in events.seen.iter().filter(|e| e.seq() <= cursor) {
            let id = e.data.get("task_id").or_else(|| e.data.get("id"));
            let id = id.and_then(|v| v.as_str()).expect("a task event");
            assert!(
                listed.contains(id),
                "event {} at or below cursor {cursor} but {id} not listed",
                e.id
            );
            // The listed task reflects at least this event.
            let task = list
                .tasks
                .iter()
                .find(|t| t.id.as_str() == id)
                .expect("listed");
            assert!(task.version >= e.seq());
        }
    }
    manager.shutdown().await;
}
