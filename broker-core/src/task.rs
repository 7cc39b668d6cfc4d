//! Tasks and their status reconciliation.
//!
//! A [`Task`] is the record the REST API lists and `task.created` /
//! `task.updated` carry. Its [`TaskStatus`] is decided here and nowhere else:
//! the host gathers an [`Observation`] of the process and hands it to
//! [`Reconciler::observe`], which changes the record and says, exactly once
//! per real transition, what to announce as `task.status`.

mod reconcile;

use serde_json::{Map, Value};

use crate::id::TaskId;
use crate::time::Timestamp;

pub use reconcile::Reconciler;

/// A task's status. `completed`, `killed` and `error` are final.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum TaskStatus {
    /// The process is working.
    Running,
    /// The process waits for someone to type into its terminal.
    WaitingForInput,
    /// The process exited on its own.
    Completed,
    /// The process was killed through the API.
    Killed,
    /// The process could not start, or was lost.
    Error,
}

impl TaskStatus {
    /// Whether no transition leaves this status.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            TaskStatus::Completed | TaskStatus::Killed | TaskStatus::Error
        )
    }

    /// The wire name (`waiting-for-input`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Running => "running",
            TaskStatus::WaitingForInput => "waiting-for-input",
            TaskStatus::Completed => "completed",
            TaskStatus::Killed => "killed",
            TaskStatus::Error => "error",
        }
    }
}

impl core::fmt::Display for TaskStatus {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a task was started.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TaskKind {
    /// `POST /api/tasks`: a command.
    Command,
    /// `POST /api/tasks/terminal`: an interactive login shell.
    Terminal,
}

/// A task as listed by `GET /api/tasks` and carried by `task.created` /
/// `task.updated`. Times are Unix milliseconds.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Task {
    /// The task's id.
    pub id: TaskId,
    /// A display name (defaults to the command).
    pub name: String,
    /// Command or terminal.
    pub kind: TaskKind,
    /// The command as typed (an argv array is shown joined by spaces).
    pub command: String,
    /// The working directory.
    pub workdir: String,
    /// The current status.
    pub status: TaskStatus,
    /// The `SEQ` of the last event that changed this task.
    pub version: u64,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it reached a final status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<Timestamp>,
    /// The exit code, once completed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// Why it is in `error` (it could not start, or was lost, for example on
    /// a restart of the server).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The process id while it runs; cleared when the task reaches a final
    /// status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    /// When output or input was last seen (or, before any, when it started):
    /// the idle fallback measures quiet time from here, so typing into a
    /// waiting task does not make it look idle at once. It only moves
    /// forward, and it moves without an event of its own (announcing every
    /// line of output would be a storm); `task.status` carries its value at
    /// each transition.
    pub last_activity_at: Timestamp,
}

/// What the host observed about a live task's process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Observation {
    /// The process runs. `last_output_at` is when it last wrote to its
    /// terminal (or started); `blocked_on_read` is true when the terminal's
    /// foreground process is blocked reading the terminal right now.
    Alive {
        /// When the process last produced output (or started).
        last_output_at: Timestamp,
        /// The foreground process is blocked in a read of the terminal.
        /// Report `false` while typed input is still unread (the terminal's
        /// input queue is not empty): a process that has not yet woken up
        /// to read it is not waiting, and taking it for waiting would
        /// announce a `running` → `waiting-for-input` blip after each input.
        blocked_on_read: bool,
    },
    /// Someone typed into the terminal through the API.
    InputSent,
    /// The process exited with this code (a signal death maps to 128 + n).
    Exited {
        /// The exit code.
        code: i32,
    },
    /// The process could not be started.
    FailedToStart {
        /// Why.
        reason: String,
    },
    /// The process was killed through the API. The host reports this when
    /// it sends the kill, before it reaps the exit, so that the exit that
    /// follows (a signal death) is not taken for a completion.
    Killed,
    /// The process is gone for a reason other than its own exit (for example
    /// it did not survive a server restart).
    Lost {
        /// Why.
        reason: String,
    },
}

/// Why a task ended in `error`, in a form a program can branch on (the
/// task's `error` holds the text for people).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorCause {
    /// The process could not be started.
    FailedToStart,
    /// The process disappeared without the host seeing it exit (it did not
    /// survive a restart of the server, for example).
    Lost,
}

impl ErrorCause {
    /// The wire name (`failed-to-start`, `lost`).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCause::FailedToStart => "failed-to-start",
            ErrorCause::Lost => "lost",
        }
    }
}

/// A real status transition, to be published as `task.status`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusChange {
    /// The task.
    pub task_id: TaskId,
    /// The new status.
    pub status: TaskStatus,
    /// The status it left.
    pub previous: TaskStatus,
    /// When.
    pub at: Timestamp,
    /// Why, when the task ended in `error`; sent as `reason`.
    pub reason: Option<ErrorCause>,
}

impl StatusChange {
    /// The `task.status` payload, taken from the task after the change.
    ///
    /// `version` is read from `task.version`, and the payload must name the
    /// event that carries it, so the order is:
    ///
    /// 1. `let change = reconciler.observe(&mut task, observation, now)?;`
    /// 2. with the broker held by one owner from here to the publish, set
    ///    `task.version = broker.next_id().seq` (or do steps 2–3 inside a
    ///    `publish_with(|id| ..)` style closure that is handed the id);
    /// 3. `let data = change.to_data(&task);`
    /// 4. persist the task, then `broker.publish("task.status", Some(task.id), &data)`.
    ///
    /// Fields: `task_id`, `status`, `previous`, `version`, `at` (when the
    /// transition was observed) and `last_activity_at`, always; `finished_at`
    /// on every final status; `exit_code` on `completed`; `error` (the text)
    /// and `reason` (`failed-to-start` or `lost`) on `error`. Each optional
    /// field is present exactly when the task holds a value for it, so a
    /// client that applies the payload holds the task as of this event.
    pub fn to_data(&self, task: &Task) -> Map<String, Value> {
        let mut data = Map::new();
        data.insert("task_id".into(), Value::from(self.task_id.as_str()));
        data.insert("status".into(), Value::from(self.status.as_str()));
        data.insert("previous".into(), Value::from(self.previous.as_str()));
        data.insert("version".into(), Value::from(task.version));
        data.insert("at".into(), Value::from(self.at.as_millis()));
        data.insert(
            "last_activity_at".into(),
            Value::from(task.last_activity_at.as_millis()),
        );
        if let Some(finished_at) = task.finished_at {
            data.insert("finished_at".into(), Value::from(finished_at.as_millis()));
        }
        if let Some(code) = task.exit_code {
            data.insert("exit_code".into(), Value::from(code));
        }
        if let Some(error) = &task.error {
            data.insert("error".into(), Value::from(error.as_str()));
        }
        if let Some(reason) = self.reason {
            data.insert("reason".into(), Value::from(reason.as_str()));
        }
        data
    }
}
