//! Records on disk carry the version of the last event about their task,
//! even while other publishers take sequence numbers concurrently.

mod tasks_support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use broker_core::EventType;
use serde_json::Map;
use tasks_support::start;
use tidings::tasks::{CommandSpec, CreateTask};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_match_the_announced_versions_despite_other_publishers() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (manager, hub) = start(dir.path(), 1).await;
    let stop = Arc::new(AtomicBool::new(false));
    let noise = {
        let hub = hub.clone();
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let kind = EventType::new("trigger.fired").expect("type");
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                hub.publish(kind.clone(), None, Map::new());
                n += 1;
            }
            n
        })
    };
    let mut ids = Vec::new();
    for i in 0..20 {
        let task = manager
            .create(CreateTask {
                command: CommandSpec::Shell("sleep 30".into()),
                workdir: None,
                name: None,
                input: None,
            })
            .await
            .expect("create");
        manager
            .rename(&task.id, &format!("t{i}"))
            .await
            .expect("rename");
        manager.kill(&task.id).await.expect("kill");
        ids.push(task.id);
    }
    stop.store(true, Ordering::Relaxed);
    let published = noise.join().expect("noise");
    assert!(published > 0);

    let listed = manager.list().await.expect("list");
    // Shut down first: the data directory is locked while a runner holds it.
    manager.shutdown().await;
    let loaded = tasks_support::load(dir.path());
    assert_eq!(loaded.len(), ids.len());
    let on_disk = loaded.max_version();
    let in_memory = listed.tasks.iter().map(|t| t.version).max().expect("tasks");
    assert_eq!(on_disk, in_memory);
    drop(loaded);

    // A restart sees every record exactly as the last event left it.
    let (second, _hub2) = start(dir.path(), 2).await;
    let again = second.list().await.expect("list");
    for task in &listed.tasks {
        let reloaded = again
            .tasks
            .iter()
            .find(|t| t.id == task.id)
            .expect("still listed");
        assert_eq!(reloaded, task);
    }
    second.shutdown().await;
}
