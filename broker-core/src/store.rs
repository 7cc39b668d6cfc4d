//! The browser's task store: lists and events applied by version.
//!
//! SKELETON — signatures are the contract; bodies are being filled in.

use std::collections::BTreeMap;

use crate::id::{EventId, TaskId};
use crate::task::Task;

/// `GET /api/tasks`: the tasks and the id of the newest event reflected in them.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TaskList {
    /// The tasks.
    pub tasks: Vec<Task>,
    /// The newest event already reflected in `tasks`.
    pub cursor: EventId,
}

/// What a list or event changed in the store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// The task is new or different.
    Upserted(TaskId),
    /// The task is gone (absent from a fresh list).
    Removed(TaskId),
}

/// Why an event could not be applied.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The event's data is not the JSON its type promises.
    #[error("malformed {kind} event: {reason}")]
    Malformed {
        /// The event type.
        kind: String,
        /// What was wrong.
        reason: String,
    },
}

/// The task store.
#[derive(Debug, Default)]
pub struct TaskStore {
    tasks: BTreeMap<TaskId, Task>,
}

impl TaskStore {
    /// An empty store.
    pub fn new() -> Self {
        TaskStore::default()
    }

    /// A list request went out: events that arrive until it answers are held.
    pub fn handle_list_started(&mut self) {
        todo!()
    }

    /// The list answered: replace the tasks, then apply held events newer
    /// than what the list reflects.
    pub fn handle_list(&mut self, list: TaskList) -> Vec<Change> {
        let _ = list;
        todo!()
    }

    /// The list failed: apply what was held as best we can.
    pub fn handle_list_failed(&mut self) -> Vec<Change> {
        todo!()
    }

    /// Applies one `task.*` event (others are ignored). An event whose version
    /// is not newer than the task it touches changes nothing.
    pub fn handle_event(&mut self, kind: &str, data: &str) -> Result<Vec<Change>, StoreError> {
        let _ = (kind, data);
        todo!()
    }

    /// One task.
    pub fn task(&self, id: &TaskId) -> Option<&Task> {
        self.tasks.get(id)
    }

    /// Every task, by id.
    pub fn tasks(&self) -> impl Iterator<Item = &Task> {
        self.tasks.values()
    }
}
