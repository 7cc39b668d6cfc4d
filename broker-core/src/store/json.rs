//! The store over serde [`Task`]s: events read from their JSON data, lists
//! from `GET /api/tasks`. What native drivers and the tests use; the browser
//! keeps `JSON.parse` objects instead (client-wasm).

use crate::id::{EventId, TaskId};
use crate::task::{Task, TaskStatus};
use crate::time::Timestamp;

use super::{Change, TaskEvent, TaskRecord, TaskStore};

/// `GET /api/tasks`: the tasks and the id of the newest event reflected in them.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TaskList {
    /// The tasks.
    pub tasks: Vec<Task>,
    /// The newest event already reflected in `tasks`.
    pub cursor: EventId,
}

/// The part of a `task.status` payload the store applies.
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize)]
pub struct StatusUpdate {
    /// The task.
    pub task_id: TaskId,
    /// The new status.
    pub status: TaskStatus,
    /// The event's version.
    pub version: u64,
    /// When it finished, with a final status.
    #[serde(default)]
    pub finished_at: Option<Timestamp>,
    /// The exit code, once completed.
    #[serde(default)]
    pub exit_code: Option<i32>,
    /// Why it is in `error`.
    #[serde(default)]
    pub error: Option<String>,
    /// When output or input was last seen.
    #[serde(default)]
    pub last_activity_at: Option<Timestamp>,
}

/// `task.removed` data.
#[derive(serde::Deserialize)]
struct Removed {
    task_id: TaskId,
    version: u64,
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

impl TaskRecord for Task {
    type Status = StatusUpdate;

    /// The payload holds each optional field exactly when the server's task
    /// has a value for it, so an absent one is cleared (except
    /// `last_activity_at`, which older payloads may lack).
    fn apply_status(&mut self, update: &StatusUpdate) {
        self.status = update.status;
        self.version = update.version;
        self.finished_at = update.finished_at;
        self.exit_code = update.exit_code;
        self.error.clone_from(&update.error);
        if let Some(at) = update.last_activity_at {
            self.last_activity_at = at;
        }
        if update.status.is_final() {
            self.pid = None;
        }
    }

    fn take_fields(&mut self, snapshot: &Task) -> bool {
        let before = self.clone();
        self.name.clone_from(&snapshot.name);
        self.kind = snapshot.kind;
        self.command.clone_from(&snapshot.command);
        self.workdir.clone_from(&snapshot.workdir);
        self.created_at = snapshot.created_at;
        self.pid = if self.status.is_final() {
            None
        } else {
            snapshot.pid
        };
        *self != before
    }

    fn same(&self, other: &Task) -> bool {
        self == other
    }
}

impl TaskEvent<Task> {
    /// Reads a `task.*` event's data; `Ok(None)` for other types.
    pub fn from_json(kind: &str, data: &str) -> Result<Option<TaskEvent<Task>>, StoreError> {
        Ok(Some(match kind {
            "task.created" | "task.updated" => {
                let task: Task = parse(kind, data)?;
                TaskEvent::Snapshot {
                    id: task.id.clone(),
                    version: task.version,
                    record: task,
                }
            }
            "task.status" => {
                let status: StatusUpdate = parse(kind, data)?;
                TaskEvent::Status {
                    id: status.task_id.clone(),
                    version: status.version,
                    status,
                }
            }
            "task.removed" => {
                let removed: Removed = parse(kind, data)?;
                TaskEvent::Removed {
                    id: removed.task_id,
                    version: removed.version,
                }
            }
            _ => return Ok(None),
        }))
    }
}

impl TaskStore<Task> {
    /// Applies one event from its type and JSON data (types other than
    /// `task.*` are ignored). Malformed data is an error and leaves the
    /// store as it was. While a list is in flight a valid event is held and
    /// `Ok(vec![])` returned; its change is reported when the list lands.
    pub fn handle_event(&mut self, kind: &str, data: &str) -> Result<Vec<Change>, StoreError> {
        Ok(match TaskEvent::from_json(kind, data)? {
            Some(event) => self.handle_task_event(event),
            None => Vec::new(),
        })
    }

    /// The list answered (see [`TaskStore::handle_listed`]).
    pub fn handle_list(&mut self, list: TaskList) -> Vec<Change> {
        let cursor = list.cursor;
        self.handle_listed(
            cursor,
            list.tasks
                .into_iter()
                .map(|task| (task.id.clone(), task.version, task)),
        )
    }
}

fn parse<T: serde::de::DeserializeOwned>(kind: &str, data: &str) -> Result<T, StoreError> {
    serde_json::from_str(data).map_err(|e| StoreError::Malformed {
        kind: kind.to_owned(),
        reason: e.to_string(),
    })
}
