//! Tasks: real processes in pseudo-terminals, persisted, reconciled.
//!
//! A task is a local process started in its own session on a fresh
//! pseudo-terminal (so it behaves as it would in a terminal window, and so
//! killing it can take its whole process group with it). Its output is
//! appended to `<data_dir>/tasks/<id>.log`; its record is kept as JSON in
//! `<data_dir>/tasks/<id>.json`, written atomically.
//!
//! Unix only (portable-pty, signals); the waiting-for-input detection reads
//! Linux's `/proc` and otherwise falls back to the idle threshold.
//!
//! Status decisions are never made here: the manager gathers an
//! [`Observation`](broker_core::Observation) (exit status from `waitpid`, the
//! terminal's foreground process group and what it is blocked on from `/proc`,
//! the time of the last output) and hands it to broker-core's
//! [`Reconciler`](broker_core::Reconciler). Every observe-and-publish happens
//! under the manager's table lock, so a transition seen at the same moment by
//! the background loop and by any number of requests is announced once.
//!
//! Module map: [`manager`] (the public handle and its table), `process`
//! (spawning in a PTY, the output and input threads, signalling, reaping),
//! `inspect` (`/proc` reading),
//! `log` (per-task output logs and their tails), `persist` (records on disk),
//! `command` (what to run and whether it exists).

mod command;
mod inspect;
mod log;
pub mod manager;
mod persist;
mod process;

use std::path::PathBuf;
use std::time::Duration;

use broker_core::{Task, TaskStatus};

pub use log::{MAX_TAIL_BYTES, MAX_TAIL_LINES};
pub use manager::TaskManager;
pub use manager::RECENT_OUTPUT_LINES;
pub use persist::{load, LoadedTasks};
pub use process::MAX_QUEUED_INPUT;

/// How the task runner is set up; the server fills it from its own config.
#[derive(Clone, Debug)]
pub struct TaskConfig {
    /// Where task records and logs live (`<data_dir>/tasks/`).
    pub data_dir: PathBuf,
    /// How often the background loop reconciles every live task.
    pub reconcile_interval: Duration,
    /// No output for this long counts as waiting for input, for programs
    /// whose reads cannot be seen in `/proc` (event loops).
    pub idle_threshold: Duration,
    /// The shell a terminal task starts (`-l` is added); `None` means `$SHELL`,
    /// then `/bin/sh`.
    pub shell: Option<String>,
}

impl TaskConfig {
    /// The defaults the contract names: reconcile every 2 s, idle after 90 s.
    pub fn new(data_dir: PathBuf) -> Self {
        TaskConfig {
            data_dir,
            reconcile_interval: Duration::from_secs(2),
            idle_threshold: Duration::from_secs(90),
            shell: None,
        }
    }
}

/// What to run for `POST /api/tasks`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CommandSpec {
    /// A string run by `/bin/sh -c`.
    Shell(String),
    /// A program and its arguments, run without a shell (the program is
    /// looked up on `PATH`).
    Argv(Vec<String>),
}

/// A request to start a command task.
#[derive(Clone, Debug)]
pub struct CreateTask {
    /// What to run.
    pub command: CommandSpec,
    /// Where to run it; the server's working directory when absent. Must be an
    /// existing directory.
    pub workdir: Option<PathBuf>,
    /// A display name; the command when absent.
    pub name: Option<String>,
    /// Text typed into the terminal once the program is ready for it (see
    /// [`TaskManager::create`]); sent as is, so include `\n` to press Enter.
    pub input: Option<String>,
}

/// `GET /api/tasks/{id}`: the task and the tail of its output.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct TaskDetail {
    /// The task itself, flattened into the same JSON object.
    #[serde(flatten)]
    pub task: Task,
    /// The last lines of output, ANSI escape sequences removed.
    pub recent_output: String,
}

/// Figures for `/metrics`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskMetrics {
    /// How many tasks are in each status; always all five statuses, in the
    /// order running, waiting-for-input, completed, killed, error.
    pub by_status: Vec<(TaskStatus, usize)>,
    /// How long the background loop's last pass over all live tasks took.
    pub last_reconcile_duration: Duration,
    /// How many passes the background loop has made.
    pub reconcile_passes: u64,
}

/// Why a task operation failed; each maps to one HTTP status.
#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    /// No task has this id (404).
    #[error("no such task")]
    NotFound,
    /// The task has finished: there is nothing to type into or kill (409).
    #[error("the task is not running")]
    NotLive,
    /// The request is malformed (400); the text says what is wrong.
    #[error("{0}")]
    Invalid(String),
    /// The data directory or the terminal failed (500).
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
}
