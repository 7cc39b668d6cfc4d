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

/// A parsed `task.*` event.
#[derive(Clone, Debug)]
pub(super) enum TaskEvent {
    /// `task.created` / `task.updated`: the whole task.
    Snapshot(Task),
    /// `task.status`.
    Status(StatusUpdate),
}

impl TaskEvent {
    pub(super) fn task_id(&self) -> &TaskId {
        match self {
            TaskEvent::Snapshot(task) => &task.id,
            TaskEvent::Status(update) => &update.task_id,
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
