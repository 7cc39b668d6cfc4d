//! The task runner's public handle: cheap to clone, every call a message to
//! the runner thread (see `runner`) answered on a oneshot channel, so no
//! call blocks a tokio worker. Reading a log's tail (up to a MiB of
//! terminal bytes turned into text) runs in `spawn_blocking`.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{mpsc, Arc};
use std::time::Duration;

use broker_core::{Task, TaskId, TaskList, TaskStatus};
use tokio::sync::{oneshot, watch};

use super::announce::LocalLedger;
use super::log::{self, LogSpan, LogState, LogTail};
use super::persist::{self, DiskRecords, LoadedTasks};
use super::runner::{Command, Launch, LogRef, Reply, Runner, Stats};
use super::{command, CreateTask, TaskConfig, TaskDetail, TaskError, TaskMetrics};
use crate::Hub;

/// How many lines `recent_output` holds.
pub const RECENT_OUTPUT_LINES: usize = 20;

/// The task runner: a cheap, cloneable handle.
#[derive(Clone)]
pub struct TaskManager {
    commands: mpsc::Sender<Command>,
    sorted: watch::Receiver<Arc<Vec<Task>>>,
    stats: Arc<Stats>,
}

impl std::fmt::Debug for TaskManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskManager").finish_non_exhaustive()
    }
}

/// A task's output log, for readers that follow it (the live output stream
/// is built on this): read by absolute offset, and wait for more without
/// polling while the task runs.
#[derive(Debug)]
pub struct TaskLog {
    path: PathBuf,
    live: Option<watch::Receiver<LogState>>,
    end: TaskEnd,
}

/// Whether a task has reached a final status, read from the table the
/// runner publishes after every change (no message to the runner).
#[derive(Clone, Debug)]
pub struct TaskEnd {
    id: TaskId,
    table: watch::Receiver<Arc<Vec<Task>>>,
}

impl TaskEnd {
    /// Whether the task is final now. A task no longer in the table was
    /// finished and removed (`--keep-finished`).
    pub fn is_final(&mut self) -> bool {
        let table = self.table.borrow_and_update();
        table
            .iter()
            .find(|t| t.id == self.id)
            .is_none_or(|t| t.status.is_final())
    }

    /// Waits until the table changes; `false` once the runner is gone (it
    /// will never change again).
    pub async fn changed(&mut self) -> bool {
        self.table.changed().await.is_ok()
    }
}

impl TaskLog {
    /// The span now: from the log while the task runs, else from its file.
    pub async fn span(&self) -> Result<LogSpan, TaskError> {
        if let Some(live) = &self.live {
            return Ok(live.borrow().span);
        }
        let path = self.path.clone();
        blocking(move || log::span(&path)).await
    }

    /// Up to `max` bytes from offset `from`: the offset they really start at
    /// (the log's start when `from` is older than what is kept), the bytes,
    /// and the span when they were read.
    pub async fn read(&self, from: u64, max: usize) -> Result<(u64, Vec<u8>, LogSpan), TaskError> {
        let path = self.path.clone();
        blocking(move || log::read_from(&path, from, max)).await
    }

    /// Changes of the span while the task's output thread runs (`None` once
    /// the task has let go of its terminal: nothing more will be written).
    pub fn watch(&self) -> Option<watch::Receiver<LogState>> {
        self.live.clone()
    }

    /// Up to `max` bytes from offset `from`, as [`TaskLog::read`], on the
    /// blocking pool: the handle owns nothing of `self`, so a stream body
    /// can hold it across polls.
    pub fn read_owned(
        &self,
        from: u64,
        max: usize,
    ) -> tokio::task::JoinHandle<std::io::Result<(u64, Vec<u8>, LogSpan)>> {
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || log::read_from(&path, from, max))
    }

    /// Whether the task is final, and a wait for that to change.
    pub fn end(&self) -> TaskEnd {
        self.end.clone()
    }
}

fn gone() -> TaskError {
    TaskError::Unavailable("the task runner has stopped".into())
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> Result<T, TaskError> {
    match tokio::task::spawn_blocking(f).await {
        Ok(result) => Ok(result?),
        Err(_) => Err(gone()),
    }
}

impl TaskManager {
    /// Starts the runner thread on the loaded tasks (whose data directory it
    /// holds until [`TaskManager::shutdown`]) and returns once tasks
    /// recorded as live by a previous run are finalised and announced.
    /// The hub's sequence must already start above
    /// [`LoadedTasks::max_version`].
    pub async fn start(
        loaded: LoadedTasks,
        hub: Hub,
        config: TaskConfig,
    ) -> Result<TaskManager, TaskError> {
        let LoadedTasks { records, data } = loaded;
        let (commands, inbox) = mpsc::channel();
        let (sorted_tx, sorted) = watch::channel(Arc::new(Vec::new()));
        let stats = Arc::new(Stats::default());
        let ledger = LocalLedger::new(DiskRecords::new(persist::tasks_dir(data.path())), hub);
        let mut runner = Runner::new(
            data,
            Box::new(ledger),
            config,
            commands.clone(),
            sorted_tx,
            Arc::clone(&stats),
        );
        let (ready_tx, ready) = oneshot::channel();
        std::thread::Builder::new()
            .name("tidings-tasks".into())
            .spawn(move || {
                runner.recover(records);
                let _ = ready_tx.send(());
                runner.run(inbox);
            })?;
        ready.await.map_err(|_| gone())?;
        Ok(TaskManager {
            commands,
            sorted,
            stats,
        })
    }

    async fn call<T>(&self, make: impl FnOnce(Reply<T>) -> Command) -> Result<T, TaskError> {
        let (tx, rx) = oneshot::channel();
        self.commands.send(make(tx)).map_err(|_| gone())?;
        rx.await.map_err(|_| gone())?
    }

    /// Hangs up every live task's terminal (`SIGHUP`, `SIGCONT` to each of
    /// its process groups) and releases the data directory. Records stay as
    /// they are, so the next start finalises those tasks with a reason.
    /// After this, reads still work; nothing changes any more.
    pub async fn shutdown(&self) {
        let (tx, rx) = oneshot::channel();
        if self.commands.send(Command::Shutdown { reply: tx }).is_ok() {
            let _ = rx.await;
        }
    }

    /// Starts a command task and publishes `task.created` (the whole task)
    /// before returning it.
    ///
    /// A program that does not exist or cannot start still makes a task: it
    /// is created `running`, then moved to `error` with the reason (both
    /// events go out), and returned in `error`. The initial `input` is typed
    /// once the program is ready for it: when it blocks reading the terminal,
    /// after its first output and 300 ms of quiet, or 3 s after the start.
    /// At the live-task cap it is [`TaskError::TooManyLive`]; when the
    /// record cannot be saved, [`TaskError::Unavailable`] and nothing runs.
    pub async fn create(&self, req: CreateTask) -> Result<Task, TaskError> {
        self.call(|reply| Command::Create {
            launch: Launch::Command(req),
            reply,
        })
        .await
    }

    /// Starts an interactive login shell (`$SHELL -l`, falling back to
    /// `/bin/sh -l`; the configured shell wins) in a terminal task.
    pub async fn create_terminal(&self, workdir: Option<PathBuf>) -> Result<Task, TaskError> {
        self.call(|reply| Command::Create {
            launch: Launch::Terminal(workdir),
            reply,
        })
        .await
    }

    /// Every task (oldest first) and the cursor to watch from. Exits are
    /// checked first (cheaply: no `/proc`); the cursor is read after every
    /// committed change is in the table, so it names exactly the newest
    /// event reflected in the tasks.
    pub async fn list(&self) -> Result<TaskList, TaskError> {
        self.call(|reply| Command::List { reply }).await
    }

    /// One task, reconciled first, with the last lines of its output.
    pub async fn get(&self, id: &TaskId) -> Result<TaskDetail, TaskError> {
        let id = id.clone();
        let (task, log) = self.call(|reply| Command::Get { id, reply }).await?;
        let path = log.path;
        let tail = blocking(move || log::tail(&path, RECENT_OUTPUT_LINES)).await?;
        Ok(TaskDetail {
            task,
            recent_output: tail.output,
        })
    }

    /// The last `tail` lines of a task's output as plain text (clamped to
    /// [`MAX_TAIL_LINES`](super::MAX_TAIL_LINES) lines and the last MiB of
    /// the log), with the offsets of the text and of the kept log.
    pub async fn output(&self, id: &TaskId, tail: usize) -> Result<LogTail, TaskError> {
        let LogRef { path, .. } = self.log_ref(id).await?;
        blocking(move || log::tail(&path, tail)).await
    }

    /// A task's log, to read by offset and follow.
    pub async fn log(&self, id: &TaskId) -> Result<TaskLog, TaskError> {
        let LogRef { path, live } = self.log_ref(id).await?;
        Ok(TaskLog {
            path,
            live,
            end: TaskEnd {
                id: id.clone(),
                table: self.sorted.clone(),
            },
        })
    }

    async fn log_ref(&self, id: &TaskId) -> Result<LogRef, TaskError> {
        let id = id.clone();
        self.call(|reply| Command::Log { id, reply }).await
    }

    /// Types `text` into a live task's terminal; a task waiting for input goes
    /// back to `running` (announced, before anything is typed).
    ///
    /// The text is queued and written by the task's input thread, so this
    /// never blocks on a program that does not read; past
    /// [`MAX_QUEUED_INPUT`](super::MAX_QUEUED_INPUT) bytes not yet taken by
    /// the terminal, more input is refused as [`TaskError::Invalid`].
    pub async fn send_input(&self, id: &TaskId, text: &str) -> Result<Task, TaskError> {
        if text.is_empty() {
            return Err(TaskError::Invalid("text must not be empty".into()));
        }
        if text.len() > command::MAX_COMMAND_LEN {
            return Err(TaskError::Invalid("text is too long".into()));
        }
        let (id, text) = (id.clone(), text.to_owned());
        self.call(|reply| Command::Input { id, text, reply }).await
    }

    /// Renames a task (any status) and publishes `task.updated`.
    pub async fn rename(&self, id: &TaskId, name: &str) -> Result<Task, TaskError> {
        command::check_name(name)?;
        let (id, name) = (id.clone(), name.to_owned());
        self.call(|reply| Command::Rename { id, name, reply }).await
    }

    /// Marks a live task `killed` (announced first) and kills its whole
    /// session (`SIGKILL` to each of its process groups); its exit is never
    /// reported as `completed`. A task that already finished is
    /// [`TaskError::NotLive`].
    pub async fn kill(&self, id: &TaskId) -> Result<Task, TaskError> {
        let id = id.clone();
        self.call(|reply| Command::Kill { id, reply }).await
    }

    /// Task counts by status and the reconcile loop's timing (no message to
    /// the runner: read from the last published table).
    pub fn metrics(&self) -> TaskMetrics {
        let statuses = [
            TaskStatus::Running,
            TaskStatus::WaitingForInput,
            TaskStatus::Completed,
            TaskStatus::Killed,
            TaskStatus::Error,
        ];
        let tasks = Arc::clone(&self.sorted.borrow());
        let by_status = statuses
            .into_iter()
            .map(|s| (s, tasks.iter().filter(|t| t.status == s).count()))
            .collect();
        TaskMetrics {
            by_status,
            last_reconcile_duration: Duration::from_micros(
                self.stats.last_pass_us.load(Ordering::Relaxed),
            ),
            reconcile_passes: self.stats.passes.load(Ordering::Relaxed),
        }
    }
}
