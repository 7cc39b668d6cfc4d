//! Events that arrive while a list is in flight are held, and the ones newer
//! than the list are applied after it.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

mod store_support;

use broker_core::{Change, TaskStatus, TaskStore};
use store_support::{contents, id, json, list, task};

fn status(task_id: &str, status: &str, version: u64) -> String {
    format!(
        r#"{{"task_id":"{task_id}","status":"{status}","previous":"running","version":{version}}}"#
    )
}

#[test]
fn events_during_a_list_are_applied_after_it_when_newer() {
    let mut store = TaskStore::<broker_core::Task>::new();
    store.handle_list(list(&[task("a", 1)], 1));

    store.handle_list_started();
    assert!(store.is_listing());
    // From the old stream: one the list will already reflect, one newer.
    assert_eq!(
        store.handle_event("task.status", &status("a", "waiting-for-input", 4)),
        Ok(vec![]),
        "held, not applied"
    );
    assert_eq!(
        store.handle_event("task.status", &status("a", "running", 6)),
        Ok(vec![])
    );
    assert_eq!(contents(&store), vec![task("a", 1)], "nothing applied yet");

    let mut listed = task("a", 5);
    listed.status = TaskStatus::WaitingForInput;
    let changes = store.handle_list(list(&[listed], 5));
    assert!(!store.is_listing());
    assert_eq!(changes, vec![Change::Upserted(id("a"))], "reported once");
    let t = store.task(&id("a")).expect("present");
    assert_eq!((t.status, t.version), (TaskStatus::Running, 6));
}

#[test]
fn held_events_older_than_the_list_change_nothing() {
    let mut store = TaskStore::<broker_core::Task>::new();
    store.handle_list_started();
    store
        .handle_event("task.created", &json(&task("a", 2)))
        .expect("valid");
    store
        .handle_event("task.status", &status("a", "killed", 3))
        .expect("valid");
    let mut listed = task("a", 4);
    listed.name = "renamed after the kill".into();
    listed.status = TaskStatus::Killed;
    listed.pid = None;
    let changes = store.handle_list(list(&[listed.clone()], 4));
    assert_eq!(changes, vec![Change::Upserted(id("a"))]);
    assert_eq!(contents(&store), vec![listed]);
}

#[test]
fn a_task_the_list_lacks_is_created_only_by_news_newer_than_its_cursor() {
    let mut store = TaskStore::<broker_core::Task>::new();
    store.handle_list_started();
    // "old" was created before the cursor and is not in the list: the server
    // no longer has it. "new" was created after the cursor.
    store
        .handle_event("task.created", &json(&task("old", 3)))
        .expect("valid");
    store
        .handle_event("task.status", &status("old", "completed", 4))
        .expect("valid");
    store
        .handle_event("task.created", &json(&task("new", 8)))
        .expect("valid");
    store
        .handle_event("task.status", &status("new", "waiting-for-input", 9))
        .expect("valid");
    let changes = store.handle_list(list(&[task("kept", 2)], 7));
    assert_eq!(
        changes,
        vec![Change::Upserted(id("kept")), Change::Upserted(id("new"))]
    );
    assert!(store.task(&id("old")).is_none());
    let new = store.task(&id("new")).expect("created after the cursor");
    assert_eq!((new.status, new.version), (TaskStatus::WaitingForInput, 9));

    // The same holds for live events after the list.
    assert_eq!(
        store.handle_event("task.created", &json(&task("old", 5))),
        Ok(vec![])
    );
    assert_eq!(
        store.handle_event("task.created", &json(&task("newer", 10))),
        Ok(vec![Change::Upserted(id("newer"))])
    );
}

#[test]
fn a_failed_list_applies_what_was_held() {
    let mut store = TaskStore::<broker_core::Task>::new();
    store.handle_list(list(&[task("a", 1), task("b", 2)], 2));
    store.handle_list_started();
    store
        .handle_event("task.status", &status("b", "waiting-for-input", 3))
        .expect("valid");
    store
        .handle_event("task.status", &status("b", "running", 4))
        .expect("valid");
    store
        .handle_event("task.status", &status("a", "running", 1))
        .expect("valid (and stale)");
    store
        .handle_event("task.created", &json(&task("c", 5)))
        .expect("valid");
    let changes = store.handle_list_failed();
    assert!(!store.is_listing());
    assert_eq!(
        changes,
        vec![Change::Upserted(id("b")), Change::Upserted(id("c"))]
    );
    assert_eq!(store.task(&id("b")).map(|t| t.version), Some(4));
    // Nothing is held any more: the next event applies at once.
    assert_eq!(
        store.handle_event("task.status", &status("a", "completed", 6)),
        Ok(vec![Change::Upserted(id("a"))])
    );
}

#[test]
fn starting_a_list_twice_keeps_what_is_held() {
    let mut store = TaskStore::<broker_core::Task>::new();
    store.handle_list_started();
    store
        .handle_event("task.created", &json(&task("a", 4)))
        .expect("valid");
    store.handle_list_started();
    let changes = store.handle_list(list(&[], 3));
    assert_eq!(changes, vec![Change::Upserted(id("a"))]);
}

#[test]
fn a_list_without_a_start_applies_directly() {
    let mut store = TaskStore::<broker_core::Task>::new();
    assert!(!store.is_listing());
    assert_eq!(store.handle_list_failed(), vec![]);
    assert_eq!(
        store.handle_list(list(&[task("a", 1)], 1)),
        vec![Change::Upserted(id("a"))]
    );
}
