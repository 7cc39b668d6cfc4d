//! Tasks and their status reconciliation.
//!
//! SKELETON — the record and signatures are the contract; bodies are being
//! filled in.

use core::time::Duration;
use serde_json::{Map, Value};

use crate::id::TaskId;
use crate::time::Timestamp;

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
    /// Why it is in `error` (or why it was finalised on restart).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The process id while it runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    /// When output was last seen (or, before any output, when it started).
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
    /// The process was killed through the API.
    Killed,
    /// The process is gone for a reason other than its own exit (for example
    /// it did not survive a server restart).
    Lost {
        /// Why.
        reason: String,
    },
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
}

impl StatusChange {
    /// The `task.status` payload: `task_id`, `status`, `previous`, `version`,
    /// plus `finished_at` and `exit_code` on completion and `error` on error,
    /// taken from the task after the change.
    pub fn to_data(&self, task: &Task) -> Map<String, Value> {
        let _ = task;
        todo!()
    }
}

/// Decides status transitions from observations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reconciler {
    /// No output for this long means `waiting-for-input` (the fallback when
    /// the terminal cannot be inspected).
    pub idle_threshold: Duration,
}

impl Default for Reconciler {
    fn default() -> Self {
        Reconciler {
            idle_threshold: Duration::from_secs(90),
        }
    }
}

impl Reconciler {
    /// Applies one observation to `task` at `now`. Returns the transition when
    /// the status really changed (the caller publishes it and then sets
    /// `task.version`), `None` otherwise. Final statuses never change.
    pub fn observe(
        &self,
        task: &mut Task,
        observation: Observation,
        now: Timestamp,
    ) -> Option<StatusChange> {
        let _ = (task, observation, now);
        todo!()
    }
}
