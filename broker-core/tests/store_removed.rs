//! `task.removed` (a finished task left the server's table) removes the task
//! from the store when it is newer than what the store holds, also when it
//! arrives while a list is in flight; an older one changes nothing.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

mod store_support;

use broker_core::{Change, TaskStore};
use store_support::{contents, id, list, task};

fn removed(task_id: &str, version: u64) -> String {
    format!(r#"{{"task_id":"{task_id}","version":{version}}}"#)
}

#[test]
fn a_newer_removal_removes_the_task_and_an_older_one_does_not() {
    let mut store = TaskStore::new();
    store.handle_list(list(&[task("a", 3), task("b", 4)], 4));
    assert_eq!(
        store.handle_event("task.removed", &removed("a", 2)),
        Ok(vec![])
    );
    assert_eq!(contents(&store).len(), 2, "older than the task: ignored");
    assert_eq!(
        store.handle_event("task.removed", &removed("a", 5)),
        Ok(vec![Change::Removed(id("a"))])
    );
    assert_eq!(contents(&store), vec![task("b", 4)]);
    assert_eq!(
        store.handle_event("task.removed", &removed("a", 6)),
        Ok(vec![]),
        "already gone"
    );
    assert!(store
        .handle_event("task.removed", r#"{"task_id":"b"}"#)
        .is_err());
    assert_eq!(
        contents(&store),
        vec![task("b", 4)],
        "malformed: nothing changes"
    );
}

#[test]
fn a_removal_held_during_a_list_applies_after_it() {
    let mut store = TaskStore::new();
    store.handle_list(list(&[task("a", 3)], 3));
    store.handle_list_started();
    assert_eq!(
        store.handle_event("task.removed", &removed("a", 7)),
        Ok(vec![])
    );
    // The list was taken before the removal: it still has the task.
    let changes = store.handle_list(list(&[task("a", 3), task("c", 6)], 6));
    assert_eq!(contents(&store), vec![task("c", 6)]);
    assert_eq!(
        changes,
        vec![Change::Removed(id("a")), Change::Upserted(id("c"))],
        "a was there before and is gone now"
    );

    store.handle_list_started();
    assert_eq!(
        store.handle_event("task.removed", &removed("c", 8)),
        Ok(vec![])
    );
    assert_eq!(store.handle_list_failed(), vec![Change::Removed(id("c"))]);
    assert!(store.is_empty());
}
