//! `task.removed`: a finished task that left the server's table leaves the
//! store, an older event of it cannot bring it back, and lists agree.
#[path = "store_support/mod.rs"]
mod support;

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use broker_core::{Change, Task, TaskStore};
use support::{id, json, list, task};

fn removed(name: &str, version: u64) -> String {
    format!(r#"{{"task_id":"{name}","version":{version}}}"#)
}

fn store_with(tasks: &[Task], cursor: u64) -> TaskStore<Task> {
    let mut store = TaskStore::new();
    store.handle_list_started();
    store.handle_list(list(tasks, cursor));
    store
}

#[test]
fn a_removed_task_leaves_and_older_news_does_not_bring_it_back() {
    let mut store = store_with(&[task("a", 3), task("b", 4)], 4);
    let changes = store
        .handle_event("task.removed", &removed("a", 5))
        .expect("valid");
    assert_eq!(changes, vec![Change::Removed(id("a"))]);
    assert!(store.task(&id("a")).is_none());
    // A late rename and a late status of it, both older than the removal.
    let late = task("a", 4);
    assert!(store
        .handle_event("task.updated", &json(&late))
        .expect("valid")
        .is_empty());
    let status = r#"{"task_id":"a","status":"completed","previous":"running","version":4,"finished_at":9,"exit_code":0}"#;
    assert!(store
        .handle_event("task.status", status)
        .expect("valid")
        .is_empty());
    assert!(store.task(&id("a")).is_none());
    // Replayed: no change.
    assert!(store
        .handle_event("task.removed", &removed("a", 5))
        .expect("valid")
        .is_empty());
    assert_eq!(store.len(), 1);
}

#[test]
fn a_list_older_than_the_removal_does_not_resurrect_it_and_a_newer_one_agrees() {
    let mut store = store_with(&[task("a", 3)], 3);
    store
        .handle_event("task.removed", &removed("a", 6))
        .expect("valid");
    // A list taken before the removal (cursor 5) still has the task.
    store.handle_list_started();
    let changes = store.handle_list(list(&[task("a", 3), task("b", 5)], 5));
    assert!(store.task(&id("a")).is_none(), "{changes:?}");
    assert_eq!(changes, vec![Change::Upserted(id("b"))]);
    // A list after it lacks the task: nothing to report about it.
    store.handle_list_started();
    let changes = store.handle_list(list(&[task("b", 5)], 9));
    assert!(changes.is_empty(), "{changes:?}");
    assert!(store.task(&id("a")).is_none());
}

#[test]
fn a_removal_held_during_a_list_applies_after_it() {
    let mut store = store_with(&[task("a", 2)], 2);
    store.handle_list_started();
    assert!(store
        .handle_event("task.removed", &removed("a", 7))
        .expect("valid")
        .is_empty());
    let changes = store.handle_list(list(&[task("a", 2)], 6));
    assert_eq!(changes, vec![Change::Removed(id("a"))]);
    assert!(store.is_empty());
}

#[test]
fn a_removal_of_an_unknown_task_keeps_its_creation_from_landing_late() {
    let mut store = store_with(&[], 1);
    store
        .handle_event("task.removed", &removed("z", 9))
        .expect("valid");
    assert!(store
        .handle_event("task.created", &json(&task("z", 2)))
        .expect("valid")
        .is_empty());
    assert!(store.is_empty());
    assert!(
        store.handle_event("task.removed", "{").is_err(),
        "malformed data is an error"
    );
}
