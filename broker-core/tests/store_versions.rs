//! The store applies news by version: stale and repeated news change nothing,
//! and every real change is reported once.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

mod store_support;

use broker_core::{Change, StoreError, TaskStatus, TaskStore};
use store_support::{contents, id, json, list, ms, task};

fn status_json(task_id: &str, status: &str, version: u64, extra: &str) -> String {
    format!(
        r#"{{"task_id":"{task_id}","status":"{status}","previous":"running","version":{version},"at":5000{extra}}}"#
    )
}

#[test]
fn an_older_event_never_overwrites_a_newer_list() {
    let mut store = TaskStore::<broker_core::Task>::new();
    let mut listed = task("a", 5);
    listed.name = "listed".into();
    assert_eq!(
        store.handle_list(list(&[listed.clone()], 5)),
        vec![Change::Upserted(id("a"))]
    );

    let mut older = task("a", 4);
    older.name = "older".into();
    let stale = [
        ("task.updated", json(&older)),
        ("task.created", json(&task("a", 1))),
        ("task.status", status_json("a", "completed", 3, "")),
        ("task.status", status_json("a", "killed", 5, "")),
    ];
    for (kind, data) in stale {
        assert_eq!(store.handle_event(kind, &data), Ok(vec![]), "{kind} {data}");
    }
    assert_eq!(contents(&store), vec![listed]);
}

#[test]
fn duplicate_events_are_no_ops() {
    let mut store = TaskStore::<broker_core::Task>::new();
    let created = json(&task("a", 1));
    let waiting = status_json("a", "waiting-for-input", 2, r#","last_activity_at":1500"#);
    assert_eq!(
        store.handle_event("task.created", &created),
        Ok(vec![Change::Upserted(id("a"))])
    );
    assert_eq!(
        store.handle_event("task.status", &waiting),
        Ok(vec![Change::Upserted(id("a"))])
    );
    let after = contents(&store);
    assert_eq!(store.handle_event("task.status", &waiting), Ok(vec![]));
    assert_eq!(store.handle_event("task.created", &created), Ok(vec![]));
    assert_eq!(contents(&store), after);
    assert_eq!(after[0].status, TaskStatus::WaitingForInput);
    assert_eq!(after[0].version, 2);
    assert_eq!(after[0].last_activity_at, ms(1_500));
}

#[test]
fn a_status_event_carries_the_final_fields_and_clears_the_pid() {
    let mut store = TaskStore::<broker_core::Task>::new();
    store
        .handle_event("task.created", &json(&task("a", 1)))
        .expect("valid");
    let done = status_json(
        "a",
        "completed",
        7,
        r#","finished_at":6000,"exit_code":3,"last_activity_at":4000"#,
    );
    assert_eq!(
        store.handle_event("task.status", &done),
        Ok(vec![Change::Upserted(id("a"))])
    );
    let t = store.task(&id("a")).expect("still there");
    assert_eq!(t.status, TaskStatus::Completed);
    assert_eq!(t.version, 7);
    assert_eq!(t.finished_at, Some(ms(6_000)));
    assert_eq!(t.exit_code, Some(3));
    assert_eq!(t.error, None);
    assert_eq!(t.pid, None);
    assert_eq!(t.last_activity_at, ms(4_000));
    assert_eq!(t.name, "a", "other fields stay");
}

#[test]
fn a_late_rename_lands_under_a_newer_status() {
    // The rename (v2) reaches the store after the status change (v3) that
    // followed it on the server: the name is newer than what the store
    // holds for it, the status is not.
    let mut store = TaskStore::<broker_core::Task>::new();
    store
        .handle_event("task.created", &json(&task("a", 1)))
        .expect("valid");
    store
        .handle_event(
            "task.status",
            &status_json("a", "error", 3, r#","finished_at":9000,"error":"lost""#),
        )
        .expect("valid");
    let mut renamed = task("a", 2);
    renamed.name = "renamed".into();
    assert_eq!(
        store.handle_event("task.updated", &json(&renamed)),
        Ok(vec![Change::Upserted(id("a"))])
    );
    let t = store.task(&id("a")).expect("present");
    assert_eq!(t.name, "renamed");
    assert_eq!(t.status, TaskStatus::Error);
    assert_eq!(t.error.as_deref(), Some("lost"));
    assert_eq!(t.version, 3);
    assert_eq!(t.pid, None, "a final task has no process");
    // The same rename again is old news.
    assert_eq!(
        store.handle_event("task.updated", &json(&renamed)),
        Ok(vec![])
    );
}

#[test]
fn a_status_that_arrives_before_its_task_is_kept_until_the_task_comes() {
    let mut store = TaskStore::<broker_core::Task>::new();
    assert_eq!(
        store.handle_event(
            "task.status",
            &status_json("b", "killed", 4, r#","finished_at":8000"#)
        ),
        Ok(vec![]),
        "nothing to show yet"
    );
    assert!(store.is_empty());
    assert_eq!(
        store.handle_event("task.created", &json(&task("b", 2))),
        Ok(vec![Change::Upserted(id("b"))])
    );
    let t = store.task(&id("b")).expect("created");
    assert_eq!((t.status, t.version, t.pid), (TaskStatus::Killed, 4, None));
}

#[test]
fn malformed_data_is_an_error_and_changes_nothing() {
    let mut store = TaskStore::<broker_core::Task>::new();
    store.handle_list(list(&[task("a", 3)], 3));
    let before = contents(&store);
    let bad = [
        ("task.created", "not json"),
        ("task.updated", r#"{"id":"a"}"#),
        ("task.updated", "[]"),
        (
            "task.status",
            r#"{"task_id":"a","status":"sleeping","version":9}"#,
        ),
        ("task.status", r#"{"task_id":"a","status":"running"}"#),
        (
            "task.status",
            r#"{"task_id":"../x","status":"running","version":9}"#,
        ),
        (
            "task.status",
            r#"{"task_id":"a","status":"running","version":-1}"#,
        ),
    ];
    for (kind, data) in bad {
        match store.handle_event(kind, data) {
            Err(StoreError::Malformed { kind: k, .. }) => assert_eq!(k, kind),
            other => panic!("{kind} {data}: expected an error, got {other:?}"),
        }
        assert_eq!(contents(&store), before, "{kind} {data}");
    }
    // Refused while a list is in flight too, and not held for later.
    store.handle_list_started();
    assert!(store.handle_event("task.status", "{").is_err());
    assert_eq!(store.handle_list_failed(), vec![]);
    assert_eq!(contents(&store), before);
}

#[test]
fn other_event_types_are_ignored() {
    let mut store = TaskStore::<broker_core::Task>::new();
    for (kind, data) in [
        ("trigger.fired", r#"{"name":"nightly"}"#),
        ("memory.changed", "not even json"),
        ("task", "{}"),
    ] {
        assert_eq!(store.handle_event(kind, data), Ok(vec![]));
    }
    assert!(store.is_empty());
}

#[test]
fn a_task_carrying_extra_fields_is_accepted() {
    // `GET /api/tasks/{id}` adds `recent_output`; events carry the same shape.
    let mut store = TaskStore::<broker_core::Task>::new();
    let mut value = serde_json::to_value(task("a", 1)).expect("serialises");
    value["recent_output"] = serde_json::Value::from("$ make\n");
    let data = value.to_string();
    assert_eq!(
        store.handle_event("task.created", &data),
        Ok(vec![Change::Upserted(id("a"))])
    );
    assert_eq!(contents(&store), vec![task("a", 1)]);
}

#[test]
fn a_list_reports_new_changed_and_removed_tasks_and_nothing_else() {
    let mut store = TaskStore::<broker_core::Task>::new();
    store.handle_list(list(&[task("a", 1), task("b", 2), task("c", 3)], 3));
    let mut b = task("b", 4);
    b.name = "bee".into();
    let changes = store.handle_list(list(&[task("a", 1), b.clone(), task("d", 5)], 5));
    assert_eq!(
        changes,
        vec![
            Change::Upserted(id("b")),
            Change::Removed(id("c")),
            Change::Upserted(id("d")),
        ]
    );
    assert_eq!(contents(&store), vec![task("a", 1), b, task("d", 5)]);
    // The same list again changes nothing.
    let again = list(&contents(&store), 5);
    assert_eq!(store.handle_list(again), vec![]);
}

#[test]
fn a_list_is_the_whole_truth_even_when_older_than_the_store() {
    // A server that lost its data comes back with less: the list wins.
    let mut store = TaskStore::<broker_core::Task>::new();
    store
        .handle_event("task.created", &json(&task("a", 9)))
        .expect("valid");
    let changes = store.handle_list(list(&[task("a", 2)], 2));
    assert_eq!(changes, vec![Change::Upserted(id("a"))]);
    assert_eq!(contents(&store), vec![task("a", 2)]);
}
