//! How one piece of news about a task merges into what the store holds.
//!
//! Two kinds of news carry a task's state: a *snapshot* (`task.created`,
//! `task.updated`, a list entry: the whole task at its version) and a
//! *status update* (`task.status`: only the status fields at its version).
//! The store keeps, per task, the fields of the newest snapshot and the
//! status fields of the newest snapshot-or-update. Both are maxima by
//! version, so the result does not depend on the order news arrives in or on
//! how often it repeats: a late `task.updated` still lands its rename under
//! a newer status, and a stale event of either kind changes nothing. The
//! versions are decided here; which fields are "status fields" is the
//! record's business ([`TaskRecord`]).

use super::TaskRecord;

/// One task as the store holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Entry<R> {
    /// What callers see.
    pub(super) record: R,
    /// The newest version merged in.
    pub(super) version: u64,
    /// The version of the newest snapshot merged in (at most `version`).
    pub(super) snapshot_version: u64,
}

impl<R: TaskRecord> Entry<R> {
    pub(super) fn from_snapshot(record: R, version: u64) -> Self {
        Entry {
            record,
            version,
            snapshot_version: version,
        }
    }

    /// Merges a snapshot; true when the visible task changed.
    pub(super) fn merge_snapshot(&mut self, snapshot: R, version: u64) -> bool {
        if version > self.version {
            let changed = !self.record.same(&snapshot);
            *self = Entry::from_snapshot(snapshot, version);
            changed
        } else if version > self.snapshot_version {
            // Newer than the fields it owns, older than the status we hold.
            self.snapshot_version = version;
            self.record.take_fields(&snapshot)
        } else {
            false
        }
    }

    /// Merges a status update; true when the visible task changed.
    pub(super) fn merge_status(&mut self, status: &R::Status, version: u64) -> bool {
        if version <= self.version {
            return false;
        }
        self.record.apply_status(status);
        self.version = version;
        true
    }
}

#[cfg(all(test, feature = "serde"))]
mod tests {
    use super::super::json::StatusUpdate;
    use super::*;
    use crate::id::TaskId;
    use crate::task::{Task, TaskKind, TaskStatus};
    use crate::time::Timestamp;
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

    #[derive(Clone, Debug)]
    enum News {
        Snapshot(Task),
        Status(StatusUpdate),
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
            News::Snapshot(snapshot(1, "a", Running)),
            News::Status(status(2, WaitingForInput)),
            News::Snapshot(snapshot(3, "b", WaitingForInput)),
            News::Status(status(4, Running)),
            News::Snapshot(snapshot(5, "c", Running)),
            News::Status(status(6, Completed)),
        ];
        let mut expected = snapshot(5, "c", Running);
        expected.apply_status(&status(6, Completed));
        assert_eq!(expected.pid, None);

        let all = orders(&history);
        assert_eq!(all.len(), 720);
        for order in all {
            // The first snapshot in this order founds the entry; status
            // updates before it wait (as the store's orphans do).
            let mut entry: Option<Entry<Task>> = None;
            let mut waiting: Vec<StatusUpdate> = Vec::new();
            for news in &order {
                match (&mut entry, news) {
                    (Some(e), News::Snapshot(t)) => {
                        e.merge_snapshot(t.clone(), t.version);
                    }
                    (Some(e), News::Status(u)) => {
                        e.merge_status(u, u.version);
                    }
                    (None, News::Snapshot(t)) => {
                        let mut e = Entry::from_snapshot(t.clone(), t.version);
                        for u in waiting.drain(..) {
                            e.merge_status(&u, u.version);
                        }
                        entry = Some(e);
                    }
                    (None, News::Status(u)) => waiting.push(u.clone()),
                }
            }
            let task = entry.map(|e| e.record);
            assert_eq!(task.as_ref(), Some(&expected), "order {order:?}");
        }
    }

    #[test]
    fn merging_reports_only_visible_change() {
        let mut entry = Entry::from_snapshot(snapshot(3, "a", TaskStatus::Running), 3);
        assert!(!entry.merge_snapshot(snapshot(3, "a", TaskStatus::Running), 3));
        assert!(!entry.merge_snapshot(snapshot(2, "old", TaskStatus::Running), 2));
        assert!(!entry.merge_status(&status(3, TaskStatus::Killed), 3));
        assert!(entry.merge_status(&status(5, TaskStatus::WaitingForInput), 5));
        // Newer than the snapshot it owns but identical in its fields.
        assert!(!entry.merge_snapshot(snapshot(4, "a", TaskStatus::Running), 4));
        assert_eq!(entry.snapshot_version, 4);
        // A snapshot as new as the status we hold owns only its own fields.
        assert!(entry.merge_snapshot(snapshot(5, "z", TaskStatus::Running), 5));
        assert_eq!(entry.record.name, "z");
        assert_eq!(entry.record.status, TaskStatus::WaitingForInput);
        assert_eq!(entry.record.version, 5);
    }
}
