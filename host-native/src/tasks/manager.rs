//! The task manager: the table of tasks behind one lock, the public handle the
//! HTTP routes call, and the background reconcile loop.
//!
//! # Exactly one event per transition
//! Every path that can change a task (the loop, a lazy reconcile on list/get,
//! input, kill, rename, create) takes the table lock, asks the core's
//! [`Reconciler`] and publishes the resulting event before letting go. Two
//! observers of the same exit therefore run one after the other, and the
//! second finds the status already changed: one `task.status`, never two.
//! The lock is held only for non-blocking work: `waitpid(WNOHANG)`, a few
//! `/proc` reads, a publish, and (on a change) one small fsynced write.
//! Spawning happens before it is taken; input is handed to a per-task writer
//! thread, so a program that does not read can never stall the table.
//!
//! # Threads per task
//! Each live task has an output thread (terminal → log) and an input thread
//! (queue → terminal). Both end with the terminal; a background process that
//! keeps the terminal open after its parent exited keeps them (and the PTY)
//! until it exits too.
//!
//! # Lifecycle of the processes
//! Tasks run in their own sessions, so they would outlive the server. On
//! [`TaskManager::shutdown`] every live task's terminal is hung up (`SIGHUP`
//! then `SIGCONT` to each of its process groups, as closing a terminal window
//! does); records are left as they are. On the next [`TaskManager::start`]
//! each task recorded as live is finalised as `error` with a reason (through
//! `Observation::Lost`, announced as `task.status`): its terminal cannot be
//! reattached, so a process that survived (it ignored the hang-up, or the old
//! server was killed) and is recognisably ours (same pid and start time) is
//! killed with its process groups first. A server killed outright (no
//! shutdown) closes its PTY masters as it dies, which hangs the terminals up
//! the same way.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use broker_core::{
    EventType, Observation, Reconciler, Task, TaskId, TaskKind, TaskList, TaskStatus, Timestamp,
};
use nix::sys::signal::Signal;
use serde_json::{Map, Value};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::command::{self, Resolved};
use super::persist::{self, LoadedTasks, Record};
use super::process::{self, Exit, InputError, Process};
use super::{inspect, log, CreateTask, TaskConfig, TaskDetail, TaskError, TaskMetrics};
use crate::Hub;

/// How many lines `recent_output` holds.
pub const RECENT_OUTPUT_LINES: usize = 20;

/// After an exit, how long to wait for the output thread to reach end of
/// file before announcing completion anyway (a background child may keep the
/// terminal open for ever).
const DRAIN_GRACE: Duration = Duration::from_millis(500);

/// The initial `input` is typed once the program is ready: when it blocks
/// reading the terminal, when it has written something and then been quiet
/// this long, or at the latest [`INPUT_LATEST`] after the start. Typing at
/// once would lose it to programs that flush pending input when they switch
/// the terminal to raw mode.
const INPUT_QUIET: Duration = Duration::from_millis(300);
/// See [`INPUT_QUIET`].
const INPUT_LATEST: Duration = Duration::from_secs(3);

/// Now, as a Unix-millisecond [`Timestamp`] (task records show times to
/// people).
pub(crate) fn now() -> Timestamp {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0);
    Timestamp::from_millis(ms)
}

/// Whether a reconcile may hold back an exit until the output thread has
/// put the last output in the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Drain {
    /// Announce the exit once the log is complete (or after [`DRAIN_GRACE`]).
    Wait,
    /// Announce it now: the caller must know whether the task is live.
    Skip,
}

/// One task in the table.
#[derive(Debug)]
struct Entry {
    task: Task,
    /// The process while we hold it (dropped once final and reaped).
    process: Option<Process>,
    /// The process start time, kept in the record.
    start_ticks: Option<u64>,
    /// The initial input, until it is typed.
    pending_input: Option<String>,
    /// When an exit was first seen while output was still draining.
    exit_seen_at: Option<Timestamp>,
}

impl Entry {
    fn record(&self) -> Record {
        Record {
            task: self.task.clone(),
            process_start_ticks: self.start_ticks,
        }
    }
}

/// Everything behind the lock.
#[derive(Debug, Default)]
struct Table {
    entries: HashMap<TaskId, Entry>,
}

struct Shared {
    table: Mutex<Table>,
    hub: Hub,
    reconciler: Reconciler,
    dir: PathBuf,
    config: TaskConfig,
    next_id: AtomicU64,
    last_pass_us: AtomicU64,
    passes: AtomicU64,
    stop: CancellationToken,
    /// Set by shutdown (under the table lock): nothing changes any more.
    closed: AtomicBool,
    loop_handle: Mutex<Option<JoinHandle<()>>>,
}

/// The task runner: a cheap, cloneable handle.
///
/// All methods but `start` and `shutdown` are synchronous and short (see the
/// module docs); they may be called from async handlers directly.
#[derive(Clone)]
pub struct TaskManager {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for TaskManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskManager")
            .field("dir", &self.shared.dir)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves plain data behind; carry on.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn event_type(name: &'static str) -> EventType {
    EventType::new(name).expect("the task event names are valid event types")
}

fn task_data(task: &Task) -> Map<String, Value> {
    match serde_json::to_value(task) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    }
}

impl TaskManager {
    /// Takes over the loaded tasks and starts the reconcile loop; must be
    /// called inside a tokio runtime.
    ///
    /// Tasks recorded as live belong to a previous run: they are finalised
    /// now (see the module docs), and each transition is published. The hub's
    /// sequence must already start above [`LoadedTasks::max_version`].
    pub fn start(loaded: LoadedTasks, hub: Hub, config: TaskConfig) -> TaskManager {
        let dir = persist::tasks_dir(&config.data_dir);
        if let Err(e) = std::fs::create_dir_all(&dir) {
            tracing::error!(dir = %dir.display(), error = %e, "cannot create the tasks folder");
        }
        if loaded.data_dir != config.data_dir && !loaded.records.is_empty() {
            tracing::warn!("tasks were loaded from another data dir than the one configured");
        }
        let shared = Arc::new(Shared {
            table: Mutex::new(Table::default()),
            hub,
            reconciler: Reconciler {
                idle_threshold: config.idle_threshold,
            },
            dir,
            config,
            next_id: AtomicU64::new(0),
            last_pass_us: AtomicU64::new(0),
            passes: AtomicU64::new(0),
            stop: CancellationToken::new(),
            closed: AtomicBool::new(false),
            loop_handle: Mutex::new(None),
        });
        {
            let mut table = lock(&shared.table);
            let at = now();
            for record in loaded.records {
                let mut entry = Entry {
                    start_ticks: record.process_start_ticks,
                    task: record.task,
                    process: None,
                    pending_input: None,
                    exit_seen_at: None,
                };
                if !entry.task.status.is_final() {
                    let reason = recover_lost(&entry);
                    shared.apply(&mut entry, Observation::Lost { reason }, at);
                }
                table.entries.insert(entry.task.id.clone(), entry);
            }
        }
        let manager = TaskManager { shared };
        let handle = tokio::spawn(manager.clone().run_loop());
        *lock(&manager.shared.loop_handle) = Some(handle);
        manager
    }

    /// Stops the reconcile loop and hangs up every live task's terminal
    /// (`SIGHUP`, `SIGCONT` to each of its process groups). Records stay as
    /// they are, so the next start finalises those tasks with a reason. After
    /// this, reads still work; nothing changes any more.
    pub async fn shutdown(&self) {
        self.shared.stop.cancel();
        let handle = lock(&self.shared.loop_handle).take();
        if let Some(handle) = handle {
            let _ = handle.await;
        }
        let table = lock(&self.shared.table);
        self.shared.closed.store(true, Ordering::Release);
        for entry in table.entries.values() {
            if let (false, Some(process)) = (entry.task.status.is_final(), &entry.process) {
                process.signal(Signal::SIGHUP);
                process.signal(Signal::SIGCONT);
            }
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
    pub fn create(&self, req: CreateTask) -> Result<Task, TaskError> {
        let workdir = workdir(req.workdir.as_deref())?;
        let path_var = std::env::var_os("PATH");
        let resolved = command::resolve(&req.command, path_var.as_deref(), &workdir)?;
        if let Some(name) = &req.name {
            command::check_name(name)?;
        }
        if let Some(input) = &req.input {
            if input.len() > command::MAX_COMMAND_LEN {
                return Err(TaskError::Invalid("input is too long".into()));
            }
        }
        let name = req.name.unwrap_or_else(|| resolved.display.clone());
        self.launch(TaskKind::Command, name, resolved, workdir, req.input)
    }

    /// Starts an interactive login shell (`$SHELL -l`, falling back to
    /// `/bin/sh -l`; the configured shell wins) in a terminal task.
    pub fn create_terminal(&self, workdir: Option<PathBuf>) -> Result<Task, TaskError> {
        let workdir = self::workdir(workdir.as_deref())?;
        let env_shell = std::env::var("SHELL").ok();
        let shell =
            command::terminal_shell(self.shared.config.shell.as_deref(), env_shell.as_deref());
        let resolved = Resolved {
            display: format!("{shell} -l"),
            argv: vec![shell, "-l".to_owned()],
            missing: None,
        };
        let name = resolved.display.clone();
        self.launch(TaskKind::Terminal, name, resolved, workdir, None)
    }

    fn launch(
        &self,
        kind: TaskKind,
        name: String,
        resolved: Resolved,
        workdir: PathBuf,
        input: Option<String>,
    ) -> Result<Task, TaskError> {
        let shared = &self.shared;
        let id = self.new_id();
        let started = now();
        let mut failure = resolved.missing;
        let mut spawned = None;
        if failure.is_none() {
            let log_path = persist::log_path(&shared.dir, &id);
            let env = [("TERM", "xterm-256color"), ("TIDINGS_TASK_ID", id.as_str())];
            match process::spawn(&resolved.argv, &workdir, &env, &log_path, started) {
                Ok(p) => spawned = Some(p),
                Err(reason) => failure = Some(reason),
            }
        }
        let mut entry = Entry {
            task: Task {
                id: id.clone(),
                name,
                kind,
                command: resolved.display,
                workdir: workdir.to_string_lossy().into_owned(),
                status: TaskStatus::Running,
                version: 0,
                created_at: started,
                finished_at: None,
                exit_code: None,
                error: None,
                pid: spawned.as_ref().map(Process::pid),
                last_activity_at: started,
            },
            start_ticks: spawned.as_ref().and_then(Process::start_ticks),
            process: spawned,
            pending_input: input.filter(|s| !s.is_empty()),
            exit_seen_at: None,
        };
        let mut table = lock(&shared.table);
        if let Err(e) = shared.check_open() {
            drop(table);
            if let Some(p) = &entry.process {
                p.signal(Signal::SIGKILL);
            }
            return Err(e);
        }
        // The record is on disk before anyone hears of the task.
        if let Err(e) = shared.announce(&mut entry, "task.created", true, task_data) {
            if let Some(p) = &mut entry.process {
                p.signal(Signal::SIGKILL);
                let _ = p.poll_exit();
            }
            return Err(TaskError::Io(e));
        }
        if let Some(reason) = failure {
            shared.apply(&mut entry, Observation::FailedToStart { reason }, now());
        }
        let task = entry.task.clone();
        table.entries.insert(id, entry);
        Ok(task)
    }

    fn new_id(&self) -> TaskId {
        loop {
            let n = self.shared.next_id.fetch_add(1, Ordering::Relaxed);
            let candidate = format!("t{:x}-{n:x}", now().as_millis());
            let Ok(id) = TaskId::new(candidate) else {
                continue;
            };
            let taken = lock(&self.shared.table).entries.contains_key(&id)
                || persist::record_path(&self.shared.dir, &id).exists();
            if !taken {
                return id;
            }
        }
    }

    /// Every task (oldest first) and the cursor to watch from. Live tasks are
    /// reconciled first; the cursor is read under the same lock, so it names
    /// exactly the newest event reflected in the tasks.
    pub fn list(&self) -> TaskList {
        let shared = &self.shared;
        let mut table = lock(&shared.table);
        let at = now();
        shared.reconcile_all(&mut table, at);
        let mut tasks: Vec<Task> = table.entries.values().map(|e| e.task.clone()).collect();
        tasks.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        let cursor = shared.hub.cursor();
        drop(table);
        TaskList { tasks, cursor }
    }

    /// One task, reconciled first, with the last lines of its output.
    pub fn get(&self, id: &TaskId) -> Result<TaskDetail, TaskError> {
        let task = self.with_entry(id, |shared, entry| {
            shared.reconcile(entry, now(), Drain::Wait);
            Ok(entry.task.clone())
        })?;
        let recent_output = log::tail(
            &persist::log_path(&self.shared.dir, id),
            RECENT_OUTPUT_LINES,
        )?;
        Ok(TaskDetail {
            task,
            recent_output,
        })
    }

    /// The last `tail` lines of a task's output as plain text (clamped to
    /// [`MAX_TAIL_LINES`](super::MAX_TAIL_LINES) lines and the last MiB of the log).
    pub fn output(&self, id: &TaskId, tail: usize) -> Result<String, TaskError> {
        self.with_entry(id, |_, _| Ok(()))?;
        Ok(log::tail(&persist::log_path(&self.shared.dir, id), tail)?)
    }

    /// Types `text` into a live task's terminal; a task waiting for input goes
    /// back to `running` (announced).
    ///
    /// The text is queued and written by the task's input thread, so this
    /// never blocks on a program that does not read; past
    /// [`MAX_QUEUED_INPUT`](super::MAX_QUEUED_INPUT) bytes not yet taken by
    /// the terminal, more input is refused as [`TaskError::Invalid`].
    pub fn send_input(&self, id: &TaskId, text: &str) -> Result<Task, TaskError> {
        if text.is_empty() {
            return Err(TaskError::Invalid("text must not be empty".into()));
        }
        if text.len() > command::MAX_COMMAND_LEN {
            return Err(TaskError::Invalid("text is too long".into()));
        }
        self.with_entry(id, |shared, entry| {
            shared.check_open()?;
            let at = now();
            shared.settle_live(entry, at)?;
            let process = entry.process.as_mut().ok_or(TaskError::NotLive)?;
            if let Some(pending) = entry.pending_input.take() {
                process.write_input(&pending).map_err(input_error)?;
            }
            process.write_input(text).map_err(input_error)?;
            shared.apply(entry, Observation::InputSent, at);
            Ok(entry.task.clone())
        })
    }

    /// Renames a task (any status) and publishes `task.updated`.
    pub fn rename(&self, id: &TaskId, name: &str) -> Result<Task, TaskError> {
        command::check_name(name)?;
        self.with_entry(id, |shared, entry| {
            shared.check_open()?;
            entry.task.name = name.to_owned();
            let _ = shared.announce(entry, "task.updated", false, task_data);
            Ok(entry.task.clone())
        })
    }

    /// Kills a live task's whole session (`SIGKILL` to each of its process
    /// groups) and marks it `killed`; its exit is never reported as
    /// `completed`. A task that already finished is [`TaskError::NotLive`].
    pub fn kill(&self, id: &TaskId) -> Result<Task, TaskError> {
        self.with_entry(id, |shared, entry| {
            shared.check_open()?;
            let at = now();
            shared.settle_live(entry, at)?;
            let process = entry.process.as_mut().ok_or(TaskError::NotLive)?;
            process.signal(Signal::SIGKILL);
            shared.apply(entry, Observation::Killed, at);
            Ok(entry.task.clone())
        })
    }

    /// Task counts by status and the reconcile loop's timing.
    pub fn metrics(&self) -> TaskMetrics {
        let statuses = [
            TaskStatus::Running,
            TaskStatus::WaitingForInput,
            TaskStatus::Completed,
            TaskStatus::Killed,
            TaskStatus::Error,
        ];
        let table = lock(&self.shared.table);
        let by_status = statuses
            .into_iter()
            .map(|s| {
                (
                    s,
                    table
                        .entries
                        .values()
                        .filter(|e| e.task.status == s)
                        .count(),
                )
            })
            .collect();
        TaskMetrics {
            by_status,
            last_reconcile_duration: Duration::from_micros(
                self.shared.last_pass_us.load(Ordering::Relaxed),
            ),
            reconcile_passes: self.shared.passes.load(Ordering::Relaxed),
        }
    }

    fn with_entry<R>(
        &self,
        id: &TaskId,
        f: impl FnOnce(&Shared, &mut Entry) -> Result<R, TaskError>,
    ) -> Result<R, TaskError> {
        let shared = &*self.shared;
        let mut table = lock(&shared.table);
        let entry = table.entries.get_mut(id).ok_or(TaskError::NotFound)?;
        f(shared, entry)
    }

    async fn run_loop(self) {
        let mut ticker = tokio::time::interval(self.shared.config.reconcile_interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = self.shared.stop.cancelled() => break,
                _ = ticker.tick() => {}
            }
            let shared = Arc::clone(&self.shared);
            let pass = tokio::task::spawn_blocking(move || {
                let began = Instant::now();
                let mut table = lock(&shared.table);
                shared.reconcile_all(&mut table, now());
                drop(table);
                let took = u64::try_from(began.elapsed().as_micros()).unwrap_or(u64::MAX);
                shared.last_pass_us.store(took, Ordering::Relaxed);
                shared.passes.fetch_add(1, Ordering::Relaxed);
            });
            if let Err(e) = pass.await {
                tracing::error!(error = %e, "task reconcile pass failed");
            }
        }
    }
}

impl Shared {
    fn reconcile_all(&self, table: &mut Table, at: Timestamp) {
        for entry in table.entries.values_mut() {
            self.reconcile(entry, at, Drain::Wait);
        }
    }

    /// Settles an exit already reaped, then fails with
    /// [`TaskError::NotLive`] unless the task still has a live process: a
    /// finished process is not ours to type into or kill any more.
    fn settle_live(&self, entry: &mut Entry, at: Timestamp) -> Result<(), TaskError> {
        self.reconcile(entry, at, Drain::Skip);
        if entry.process.is_some() && !entry.task.status.is_final() {
            Ok(())
        } else {
            Err(TaskError::NotLive)
        }
    }

    /// Observes one task's process and applies what was seen.
    fn reconcile(&self, entry: &mut Entry, at: Timestamp, drain: Drain) {
        if self.closed.load(Ordering::Acquire) {
            return; // after shutdown the records stay as they are
        }
        let Some(process) = entry.process.as_mut() else {
            return;
        };
        if entry.task.status.is_final() {
            // Killed (or errored) but not reaped yet: reap, then let go of the
            // terminal once its output is in the log.
            if process.poll_exit().is_some() && process.output().drained() {
                entry.process = None;
            }
            return;
        }
        if let Some(exit) = process.poll_exit() {
            let seen = *entry.exit_seen_at.get_or_insert(at);
            let draining = !process.output().drained() && at.saturating_since(seen) < DRAIN_GRACE;
            if draining && drain == Drain::Wait {
                return; // the last output is still on its way to the log
            }
            let observation = match exit {
                Exit::Code(code) => Observation::Exited { code },
                Exit::Unknown => Observation::Lost {
                    reason: "the process was reaped elsewhere; its exit status is unknown".into(),
                },
            };
            self.apply(entry, observation, at);
            if entry.task.status.is_final() && process_drained(entry) {
                entry.process = None;
            }
            return;
        }
        let blocked_on_read = process.blocked_on_read();
        if let Some(input) = entry.pending_input.as_deref() {
            let output = process.output();
            let quiet =
                output.any_output() && at.saturating_since(output.last_output_at()) >= INPUT_QUIET;
            let late = at.saturating_since(entry.task.created_at) >= INPUT_LATEST;
            if blocked_on_read || quiet || late {
                if let Err(e) = process.write_input(input) {
                    tracing::warn!(task = %entry.task.id, error = %e, "initial input not typed");
                }
                entry.pending_input = None;
                self.apply(entry, Observation::InputSent, at);
                return;
            }
        }
        let last_output_at = process.output().last_output_at();
        self.apply(
            entry,
            Observation::Alive {
                last_output_at,
                blocked_on_read,
            },
            at,
        );
    }

    /// Hands an observation to the core and announces a real transition as
    /// `task.status`.
    fn apply(&self, entry: &mut Entry, observation: Observation, at: Timestamp) {
        let Some(change) = self.reconciler.observe(&mut entry.task, observation, at) else {
            return;
        };
        let _ = self.announce(entry, "task.status", false, |task| change.to_data(task));
    }

    /// Publishes an event about a changed task, its record on disk first.
    ///
    /// The core's order is: the task's `version` becomes the event's seq,
    /// the record is saved, the event goes out. Saving is an atomic write
    /// (temporary file, fsync, rename, fsync of the directory); the slow half
    /// runs before publishing, with the version the event will most likely
    /// get (the head + 1: task events are published only under the table
    /// lock, which is held). Inside `publish_with` (broker held) only the
    /// rename runs; should another publisher have taken that seq meanwhile,
    /// the record is rewritten there with the real one (write and rename,
    /// flushed right after the publish, so the broker is never held for a
    /// flush). So a server that dies at any point never restarts from a
    /// record older than an event a client saw, and its sequence continues
    /// above every version a client holds.
    ///
    /// With `strict`, a record that cannot be prepared is an error and
    /// nothing is published (a new task must be on disk before anyone hears
    /// of it); otherwise the event goes out and the failure is logged.
    fn announce(
        &self,
        entry: &mut Entry,
        kind: &'static str,
        strict: bool,
        data: impl FnOnce(&Task) -> Map<String, Value>,
    ) -> std::io::Result<()> {
        let mut record = entry.record();
        record.task.version = self.hub.cursor().seq + 1;
        let prepared = match persist::prepare(&self.dir, &record) {
            Ok(prepared) => Some(prepared),
            Err(e) if strict => return Err(e),
            Err(e) => {
                tracing::error!(task = %entry.task.id, error = %e, "task record not saved");
                None
            }
        };
        let task = &mut entry.task;
        let mut written = Ok(());
        let mut missed = false;
        self.hub
            .publish_with(event_type(kind), Some(task.id.clone()), |event| {
                task.version = event.seq;
                written = match prepared {
                    Some(p) if p.version == event.seq => persist::commit_rename(p),
                    Some(_) => {
                        missed = true;
                        record.task = task.clone();
                        persist::replace_unsynced(&self.dir, &record)
                    }
                    None => Ok(()),
                };
                data(task)
            });
        let flushed = written.and_then(|()| {
            if missed {
                persist::sync_record(&self.dir, &entry.task.id)?;
            }
            persist::sync_dir(&self.dir)
        });
        if let Err(e) = flushed {
            tracing::error!(task = %entry.task.id, error = %e, "task record not saved");
        }
        Ok(())
    }

    fn check_open(&self) -> Result<(), TaskError> {
        if self.closed.load(Ordering::Acquire) {
            return Err(TaskError::Io(std::io::Error::other(
                "the task runner is shut down",
            )));
        }
        Ok(())
    }
}

fn process_drained(entry: &Entry) -> bool {
    entry.process.as_ref().is_some_and(|p| p.output().drained())
}

/// Input the terminal did not take: a full queue is the client's to fix
/// (400); a terminal that went away is the task's end, seen by the next
/// reconcile (409).
fn input_error(e: InputError) -> TaskError {
    match e {
        InputError::QueueFull => TaskError::Invalid(e.to_string()),
        InputError::Closed => TaskError::NotLive,
    }
}

/// Finalising a task recorded as live by a previous run: kills what is left
/// of it if it is still ours, and says why it ended.
fn recover_lost(entry: &Entry) -> String {
    let still_ours = entry
        .task
        .pid
        .and_then(|pid| i32::try_from(pid).ok())
        .filter(|&pid| inspect::is_same_process(pid, entry.start_ticks));
    match still_ours {
        Some(pid) => {
            process::signal_session(pid, Signal::SIGKILL);
            "the server restarted while the task ran; its terminal could not be reattached, \
             so the surviving process was killed"
                .to_owned()
        }
        None => "the process did not survive a restart of the server".to_owned(),
    }
}

/// The working directory: the given one (which must be an existing
/// directory) or the server's own.
fn workdir(requested: Option<&Path>) -> Result<PathBuf, TaskError> {
    match requested {
        Some(dir) => {
            let dir = dir
                .canonicalize()
                .map_err(|e| TaskError::Invalid(format!("workdir {}: {e}", dir.display())))?;
            if !dir.is_dir() {
                return Err(TaskError::Invalid(format!(
                    "workdir {} is not a directory",
                    dir.display()
                )));
            }
            Ok(dir)
        }
        None => Ok(std::env::current_dir()?),
    }
}
