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
//! Status decisions are never made here: the runner gathers an
//! [`Observation`](broker_core::Observation) (exit status from `waitpid`, the
//! terminal's foreground process group and what it is blocked on from `/proc`,
//! the time of the last output) and hands it to broker-core's
//! [`Reconciler`](broker_core::Reconciler). Every change is committed through
//! the announce/persist protocol (`announce`): durable first, then announced,
//! and applied only when that worked.
//!
//! Module map: [`manager`] (the public handle), `runner` (the thread that
//! owns the table: commands, passes, retention), `entry` (one task and how an
//! observation becomes a committed change), `announce` (the announce/persist
//! protocol and its seam), `persist` (records on disk and their validation),
//! `recover` (whether a recorded process is still ours), `process` (spawning
//! in a PTY, the output and input threads, signalling, reaping), `inspect`
//! (`/proc` reading), `log` (the capped output log with absolute offsets),
//! `render` (terminal bytes as text), `command` (what to run and whether it
//! exists).

mod announce;
mod command;
mod entry;
mod inspect;
mod log;
pub mod manager;
mod persist;
mod process;
mod recover;
mod render;
mod runner;

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use broker_core::{Task, TaskStatus, Timestamp};

pub use announce::CommitError;
pub use log::{LogSpan, LogState, LogTail, MAX_TAIL_BYTES, MAX_TAIL_LINES, MIN_LOG_MAX};
pub use manager::{TaskEnd, TaskLog, TaskManager, RECENT_OUTPUT_LINES};
pub use persist::{load, LoadedTasks};
pub use process::MAX_QUEUED_INPUT;

/// The default `--task-log-max`: 8 MiB of output per task.
pub const DEFAULT_TASK_LOG_MAX: u64 = 8 << 20;
/// The default `--max-live-tasks`.
pub const DEFAULT_MAX_LIVE_TASKS: usize = 256;
/// The default `--keep-finished`.
pub const DEFAULT_KEEP_FINISHED: usize = 1000;

/// Now, as a Unix-millisecond [`Timestamp`] (task records show times to
/// people).
pub(crate) fn now() -> Timestamp {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0);
    Timestamp::from_millis(ms)
}

/// How the task runner is set up; the server fills it from its own config.
/// (The data directory comes with the [`LoadedTasks`].)
#[derive(Clone, Debug)]
pub struct TaskConfig {
    /// How often the background loop reconciles every live task.
    pub reconcile_interval: Duration,
    /// No output for this long counts as waiting for input, for programs
    /// whose reads cannot be seen in `/proc` (event loops).
    pub idle_threshold: Duration,
    /// The shell a terminal task starts (`-l` is added); `None` means `$SHELL`,
    /// then `/bin/sh`.
    pub shell: Option<String>,
    /// The most bytes of output a task's log keeps (the newest).
    pub task_log_max: u64,
    /// Bytes per second a task's terminal is read at most (0: no limit).
    pub task_output_rate: u64,
    /// The most tasks alive at once; more are refused (429).
    pub max_live_tasks: usize,
    /// How many finished tasks are kept; older ones are removed with their
    /// logs and announced as `task.removed`.
    pub keep_finished: usize,
}

impl Default for TaskConfig {
    /// The defaults the contract names: reconcile every 2 s, idle after
    /// 90 s, 8 MiB logs read at up to 1 MiB/s, 256 live tasks, 1000 finished ones kept.
    fn default() -> Self {
        TaskConfig {
            reconcile_interval: Duration::from_secs(2),
            idle_threshold: Duration::from_secs(90),
            shell: None,
            task_log_max: DEFAULT_TASK_LOG_MAX,
            task_output_rate: broker_core::output::DEFAULT_OUTPUT_RATE,
            max_live_tasks: DEFAULT_MAX_LIVE_TASKS,
            keep_finished: DEFAULT_KEEP_FINISHED,
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
    /// At the live-task cap (429).
    #[error("at most {limit} tasks may run at once; wait for one to finish or kill one")]
    TooManyLive {
        /// The cap (`--max-live-tasks`).
        limit: usize,
    },
    /// The change could not be made durable, or the runner is shut down
    /// (503); nothing was announced.
    #[error("{0}")]
    Unavailable(String),
    /// The data directory or the terminal failed (500).
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
}

impl From<CommitError> for TaskError {
    fn from(e: CommitError) -> Self {
        tracing::error!(error = %e, "a task change was refused: it could not be saved");
        TaskError::Unavailable(e.to_string())
    }
}
