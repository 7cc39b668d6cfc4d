//! How one piece of news about a task merges into what the store holds.
//!
//! Two kinds of news carry a task's state: a *snapshot* (`task.created`,
//! `task.updated`, a list entry: the whole task at its version) and a
//! *status update* (`task.status`: only the status fields at its version).
//! The store keeps, per task, the fields of the newest snapshot and the
//! status fields of the newest snapshot-or-update. Both are maxima by
//! version, so the result does not depend on the order news arrives in or on
//! how often it repeats: a late `task.updated` still lands its rename under
//! a newer status, and a stale event of either kind changes nothing.

use crate::id::TaskId;
use crate::task::{Task, TaskStatus};
use crate::time::Timestamp;

/// The part of a `task.status` payload the store applies.
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize)]
pub(super) struct StatusUpdate {
    pub(super) task_id: TaskId,
    pub(super) status: TaskStatus,
    pub(super) version: u64,
    #[serde(default)]
    pub(super) finished_at: Option<Timestamp>,
    #[serde(default)]
    pub(super) exit_code: Option<i32>,
    #[serde(default)]
    pub(super) error: Option<String>,
    #[serde(default)]
    pub(super) last_activity_at: Option<Timestamp>,
}

/// A `task.removed` payload: the task left the server's table at `version`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize)]
pub(super) struct Removal {
    pub(super) task_id: TaskId,
    pub(super) version: u64,
}

/// A parsed `task.*` event.
#[derive(Clone, Debug)]
pub(super) enum TaskEvent {
    /// `task.created` / `task.updated`: the whole task.
    Snapshot(Task),
    /// `task.status`.
    Status(StatusUpdate),
    /// `task.removed`.
    Removed(Removal),
}

impl TaskEvent {
    pub(super) fn task_id(&self) -> &TaskId {
        match self {
            TaskEvent::Snapshot(task) => &task.id,
            TaskEvent::Status(update) => &update.task_id,
            TaskEvent::Removed(removal) => &removal.task_id,
        }
    }
}

/// One task as the store holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Entry {
    /// What callers see; `task.version` is the newest version merged in.
    pub(super) task: Task,
    /// The version of the newest snapshot merged in (at most `task.version`).
    pub(super) snapshot_version: u64,
}

impl Entry {
    pub(super) fn from_snapshot(task: Task) -> Self {
        Entry {
            snapshot_version: task.version,
            task,
        }
    }

    /// Merges a snapshot; true when the visible task changed.
    pub(super) fn merge_snapshot(&mut self, snapshot: Task) -> bool {
        if snapshot.version > self.task.version {
            let changed = self.task != snapshot;
            *self = Entry::from_snapshot(snapshot);
            changed
        } else if snapshot.version > self.snapshot_version {
            // Newer than the fields it owns, older than the status we hold.
            self.snapshot_version = snapshot.version;
            let task = &mut self.task;
            let before = task.clone();
            task.name = snapshot.name;
            task.kind = snapshot.kind;
            task.command = snapshot.command;
            task.workdir = snapshot.workdir;
            task.created_at = snapshot.created_at;
            task.pid = if task.status.is_final() {
                None
            } else {
                snapshot.pid
            };
            *task != before
        } else {
            false
        }
    }

    /// Merges a status update; true when the visible task changed.
    pub(super) fn merge_status(&mut self, update: &StatusUpdate) -> bool {
        if update.version <= self.task.version {
            return false;
        }
        apply_status(&mut self.task, update);
        true
    }
}

/// Writes a status update's fields over a task. The payload holds each
/// optional field exactly when the server's task has a value for it, so an
/// absent one is cleared (except `last_activity_at`, which older payloads may
/// lack).
fn apply_status(task: &mut Task, update: &StatusUpdate) {
    task.status = update.status;
    task.version = update.version;
    task.finished_at = update.finished_at;
    task.exit_code = update.exit_code;
    task.error.clone_from(&update.error);
    if let Some(at) = update.last_activity_at {
        task.last_activity_at = at;
    }
    if update.status.is_final() {
        task.pid = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::TaskKind;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn snapshot(version: u64, name: &str, status: TaskStatus) -> Task {
        Task {
            id: TaskId::new("t").expect("valid id"),
            name: name.into(),
            kind: TaskKind::Command,
            command: "make".into(),
            workdir: "/".into(),
            status,
            version,
            created_at: Timestamp::from_millis(1),
            finished_at: None,
            exit_code: None,
            error: None,
            pid: Some(7),
            last_activity_at: Timestamp::from_millis(1),
        }
    }

    fn status(version: u64, status: TaskStatus) -> StatusUpdate {
        StatusUpdate {
            task_id: TaskId::new("t").expect("valid id"),
            status,
            version,
            finished_at: status.is_final().then(|| Timestamp::from_millis(version)),
            exit_code: (status == TaskStatus::Completed).then_some(0),
            error: None,
            last_activity_at: Some(Timestamp::from_millis(version)),
        }
    }

    /// Every ordering of `items` (Heap's algorithm).
    fn orders<T: Clone>(items: &[T]) -> Vec<Vec<T>> {
        fn go<T: Clone>(k: usize, items: &mut Vec<T>, out: &mut Vec<Vec<T>>) {
            if k <= 1 {
                out.push(items.clone());
                return;
            }
            for i in 0..k {
                go(k - 1, items, out);
                let j = if k % 2 == 0 { i } else { 0 };
                items.swap(j, k - 1);
            }
        }
        let mut out = Vec::new();
        go(items.len(), &mut items.to_vec(), &mut out);
        out
    }

    #[test]
    fn every_order_of_a_history_merges_to_the_same_task() {
        use TaskStatus::{Completed, Running, WaitingForInput};
        // created v1, waiting v2, renamed v3, running v4, renamed v5, completed v6
        let history = vec![
            TaskEvent::Snapshot(snapshot(1, "a", Running)),
            TaskEvent::Status(status(2, WaitingForInput)),
            TaskEvent::Snapshot(snapshot(3, "b", WaitingForInput)),
            TaskEvent::Status(status(4, Running)),
            TaskEvent::Snapshot(snapshot(5, "c", Running)),
            TaskEvent::Status(status(6, Completed)),
        ];
        let mut expected = snapshot(5, "c", Running);
        apply_status(&mut expected, &status(6, Completed));
        assert_eq!(expected.pid, None);

        let all = orders(&history);
        assert_eq!(all.len(), 720);
        for order in all {
            // The first snapshot in this order founds the entry; status
            // updates before it wait (as the store's orphans do).
            let mut entry: Option<Entry> = None;
            let mut waiting: Vec<StatusUpdate> = Vec::new();
            for event in &order {
                match (&mut entry, event) {
                    (Some(e), TaskEvent::Snapshot(t)) => {
                        e.merge_snapshot(t.clone());
                    }
                    (Some(e), TaskEvent::Status(u)) => {
                        e.merge_status(u);
                    }
                    (None, TaskEvent::Snapshot(t)) => {
                        let mut e = Entry::from_snapshot(t.clone());
                        for u in waiting.drain(..) {
                            e.merge_status(&u);
                        }
                        entry = Some(e);
                    }
                    (None, TaskEvent::Status(u)) => waiting.push(u.clone()),
                    (_, TaskEvent::Removed(_)) => unreachable!("no removal in this history"),
                }
            }
            let task = entry.map(|e| e.task);
            assert_eq!(task.as_ref(), Some(&expected), "order {order:?}");
        }
    }

    #[test]
    fn merging_reports_only_visible_change() {
        let mut entry = Entry::from_snapshot(snapshot(3, "a", TaskStatus::Running));
        assert!(!entry.merge_snapshot(snapshot(3, "a", TaskStatus::Running)));
        assert!(!entry.merge_snapshot(snapshot(2, "old", TaskStatus::Running)));
        assert!(!entry.merge_status(&status(3, TaskStatus::Killed)));
        assert!(entry.merge_status(&status(5, TaskStatus::WaitingForInput)));
        // Newer than the snapshot it owns but identical in its fields.
        assert!(!entry.merge_snapshot(snapshot(4, "a", TaskStatus::Running)));
        assert_eq!(entry.snapshot_version, 4);
        // A snapshot as new as the status we hold owns only its own fields.
        assert!(entry.merge_snapshot(snapshot(5, "z", TaskStatus::Running)));
        assert_eq!(entry.task.name, "z");
        assert_eq!(entry.task.status, TaskStatus::WaitingForInput);
        assert_eq!(entry.task.version, 5);
    }
}
