//! Exactly once: 1,000 concurrent list/get requests racing the reconcile loop
//! over the same transitions publish one `task.status` per transition.

mod tasks_support;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use broker_core::TaskStatus;
use tasks_support::{start, Events};
use tidings::tasks::{CommandSpec, CreateTask};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_concurrent_readers_see_one_event_per_transition() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (manager, hub) = start(dir.path(), 1).await;
    let mut events = Events::new(&hub);

    // Two transitions to race on: running → waiting-for-input (the read),
    // then, after input, running → completed (the exit).
    let task = manager
        .create(CreateTask {
            command: CommandSpec::Shell("sleep 0.3; read x; sleep 0.3; exit 3".into()),
            workdir: None,
            name: None,
            input: None,
        })
        .await
        .expect("create");

    let stop = Arc::new(AtomicBool::new(false));
    let requests = Arc::new(AtomicUsize::new(0));
    let mut readers = Vec::new();
    for i in 0..1000 {
        let manager = manager.clone();
        let id = task.id.clone();
        let stop = Arc::clone(&stop);
        let requests = Arc::clone(&requests);
        readers.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                if i % 2 == 0 {
                    let _ = manager.list().await.expect("list");
                } else {
                    manager.get(&id).await.expect("get");
                }
                requests.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }));
    }

    events
        .wait_status(
            &task.id,
            TaskStatus::WaitingForInput,
            Duration::from_secs(10),
        )
        .await;
    manager.send_input(&task.id, "go\n").await.expect("input");
    events
        .wait_status(&task.id, TaskStatus::Completed, Duration::from_secs(10))
        .await;
    // Keep the readers going a little past the exit.
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        r.await.expect("reader");
    }
    assert!(requests.load(Ordering::Relaxed) >= 1000);

    assert_eq!(
        events.statuses(&task.id),
        ["waiting-for-input", "running", "completed"]
    );
    let seqs: Vec<u64> = events.about(&task.id).iter().map(|e| e.seq()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]));
    let detail = manager.get(&task.id).await.expect("get");
    assert_eq!(detail.task.exit_code, Some(3));
    assert_eq!(detail.task.version, *seqs.last().expect("events"));
    manager.shutdown().await;
}
