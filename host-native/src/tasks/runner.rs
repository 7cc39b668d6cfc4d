//! The task runner's own thread: it owns the table, and every operation on
//! tasks is a message to it.
//!
//! # Off the runtime
//! Spawning (fork, `openpty`), saving records (fsync), reading `/proc` and
//! signalling all happen here, on one dedicated thread, never on a tokio
//! worker; handlers send a [`Command`] and await the reply on a oneshot
//! channel. There is no table lock at all, and the broker's lock is only
//! taken for the publish itself (see `announce`). A slow disk makes task
//! requests wait for each other, never the streams.
//!
//! # Exactly one event per transition
//! Commands are handled one at a time, so two observers of the same exit
//! run one after the other and the second finds the status already changed:
//! one `task.status`, never two.
//!
//! # Passes
//! Every `reconcile_interval` the thread observes every live task fully
//! (exit, then the terminal through `/proc`, then the idle clock). A list
//! checks only exits (`waitpid`, no `/proc`) so it stays cheap with many
//! live tasks. When a task's terminal reaches end of file, its output thread
//! tells this thread at once, so an exit is announced without waiting for
//! the next pass.
//!
//! # Lifecycle of the processes
//! Tasks run in their own sessions, so they would outlive the server. On
//! shutdown every live task's terminal is hung up (`SIGHUP` then `SIGCONT`
//! to each of its process groups, as closing a terminal window does);
//! records are left as they are. On the next start each task recorded as
//! live is finalised as `error` with a reason (through `Observation::Lost`,
//! announced as `task.status`): its terminal cannot be reattached, so a
//! process that survived and is recognisably ours (see `recover`) is killed
//! first.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use broker_core::{
    Observation, Reconciler, Task, TaskId, TaskKind, TaskList, TaskStatus, Timestamp,
};
use nix::sys::signal::Signal;
use tokio::sync::{oneshot, watch};

use super::announce::{Announcement, TaskLedger};
use super::command::{self, Resolved};
use super::entry::{Depth, Drain, Entry, Reconcile};
use super::log::LogState;
use super::persist::{self, Record};
use super::process::{self, InputError, Process, Spawn};
use super::recover::{self, Host};
use super::{now, CreateTask, TaskConfig, TaskError};
use crate::data_dir::DataDir;

/// A reply to one command.
pub(crate) type Reply<T> = oneshot::Sender<Result<T, TaskError>>;

/// What a new task runs.
#[derive(Debug)]
pub(crate) enum Launch {
    /// `POST /api/tasks`.
    Command(CreateTask),
    /// `POST /api/tasks/terminal`, in this folder.
    Terminal(Option<PathBuf>),
}

/// Where a task's output is, for readers.
#[derive(Debug)]
pub(crate) struct LogRef {
    pub path: PathBuf,
    /// The live span, while the output thread runs.
    pub live: Option<watch::Receiver<LogState>>,
}

/// The messages the runner thread handles.
#[derive(Debug)]
pub(crate) enum Command {
    Create {
        launch: Launch,
        reply: Reply<Task>,
    },
    List {
        reply: Reply<TaskList>,
    },
    Get {
        id: TaskId,
        reply: Reply<(Task, LogRef)>,
    },
    Log {
        id: TaskId,
        reply: Reply<LogRef>,
    },
    Input {
        id: TaskId,
        text: String,
        reply: Reply<Task>,
    },
    Rename {
        id: TaskId,
        name: String,
        reply: Reply<Task>,
    },
    Kill {
        id: TaskId,
        reply: Reply<Task>,
    },
    /// From a task's output thread: its terminal reached end of file.
    Eof {
        id: TaskId,
    },
    Shutdown {
        reply: oneshot::Sender<()>,
    },
}

/// Figures the handle reads without asking the thread.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    pub last_pass_us: AtomicU64,
    pub passes: AtomicU64,
}

/// The thread's state.
pub(crate) struct Runner {
    entries: HashMap<TaskId, Entry>,
    ledger: Box<dyn TaskLedger>,
    reconciler: Reconciler,
    config: TaskConfig,
    dir: PathBuf,
    /// Held until shutdown: the data directory's lock.
    data: Option<Arc<DataDir>>,
    host: Host,
    /// For output threads to report end of file; dropped at shutdown, so the
    /// thread ends once every handle and output thread is gone.
    commands: Option<mpsc::Sender<Command>>,
    next_id: u64,
    /// Processes of tasks that left the table (or never entered it), reaped
    /// on every pass so no zombie is left behind.
    leftovers: Vec<Process>,
    closed: bool,
    dirty: bool,
    finished: bool,
    soon: Option<Instant>,
    /// Every task, oldest first: the list (and the metrics' source).
    sorted: watch::Sender<Arc<Vec<Task>>>,
    stats: Arc<Stats>,
    retention_warned: bool,
}

impl Runner {
    pub(crate) fn new(
        data: Arc<DataDir>,
        ledger: Box<dyn TaskLedger>,
        config: TaskConfig,
        commands: mpsc::Sender<Command>,
        sorted: watch::Sender<Arc<Vec<Task>>>,
        stats: Arc<Stats>,
    ) -> Runner {
        Runner {
            entries: HashMap::new(),
            ledger,
            reconciler: Reconciler {
                idle_threshold: config.idle_threshold,
            },
            dir: persist::tasks_dir(data.path()),
            data: Some(data),
            config,
            host: Host::current(),
            commands: Some(commands),
            next_id: 0,
            leftovers: Vec::new(),
            closed: false,
            dirty: true,
            finished: false,
            soon: None,
            sorted,
            stats,
            retention_warned: false,
        }
    }

    /// Takes over the loaded records: tasks recorded as live are finalised
    /// (their survivors killed when recognisably ours), then retention
    /// applies.
    pub(crate) fn recover(&mut self, records: Vec<Record>) {
        let at = now();
        for record in records {
            let lost = !record.task.status.is_final();
            let reason = lost.then(|| recover::recover_lost(&record, &self.host));
            let mut entry = Entry::from_record(record);
            if let Some(reason) = reason {
                entry.owed = Some(Observation::Lost { reason });
                self.reconcile(&mut entry, at, Drain::Wait, Depth::Exits);
            }
            self.entries.insert(entry.task.id.clone(), entry);
        }
        self.finished = true;
        self.settle();
    }

    /// The loop: one command at a time, a full pass every interval.
    pub(crate) fn run(mut self, commands: mpsc::Receiver<Command>) {
        let interval = self.config.reconcile_interval.max(Duration::from_millis(1));
        let mut next_pass = Instant::now() + interval;
        loop {
            let wake = self.soon.map_or(next_pass, |s| s.min(next_pass));
            let wait = wake.saturating_duration_since(Instant::now());
            match commands.recv_timeout(wait) {
                Ok(command) => self.handle(command),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            let now_i = Instant::now();
            if self.soon.is_some_and(|s| s <= now_i) {
                self.soon = None;
                self.quick_pass();
            }
            if now_i >= next_pass {
                self.full_pass();
                next_pass = Instant::now() + interval;
            }
            self.settle();
        }
    }

    /// After each step: reap leftovers, apply retention, publish the list.
    fn settle(&mut self) {
        self.leftovers.retain_mut(|p| p.poll_exit().is_none());
        if self.finished && !self.closed {
            self.finished = false;
            self.retain();
        }
        if self.dirty {
            self.dirty = false;
            let mut tasks: Vec<Task> = self.entries.values().map(|e| e.task.clone()).collect();
            tasks.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
            self.sorted.send_replace(Arc::new(tasks));
        }
    }

    /// Handles one command. The table is settled (retention, the published
    /// list) before the reply goes out, so whoever got the answer sees its
    /// effect in the metrics and the next list.
    fn handle(&mut self, command: Command) {
        match command {
            Command::Create { launch, reply } => {
                let result = self.create(launch);
                self.settle();
                let _ = reply.send(result);
            }
            Command::List { reply } => {
                self.pass(Depth::Exits);
                self.settle();
                let tasks = self.sorted.borrow().as_ref().clone();
                let cursor = self.ledger.cursor();
                let _ = reply.send(Ok(TaskList { tasks, cursor }));
            }
            Command::Get { id, reply } => {
                let result = self.with_entry(&id, |r, entry| {
                    r.observe(entry, now(), Drain::Wait, Depth::Full);
                    Ok(entry.task.clone())
                });
                let result = result.map(|task| (task, self.log_ref(&id)));
                self.settle();
                let _ = reply.send(result);
            }
            Command::Log { id, reply } => {
                let result = self.with_entry(&id, |_, _| Ok(()));
                let _ = reply.send(result.map(|()| self.log_ref(&id)));
            }
            Command::Input { id, text, reply } => {
                let result = self.send_input(&id, &text);
                self.settle();
                let _ = reply.send(result);
            }
            Command::Rename { id, name, reply } => {
                let result = self.rename(&id, name);
                self.settle();
                let _ = reply.send(result);
            }
            Command::Kill { id, reply } => {
                let result = self.kill(&id);
                self.settle();
                let _ = reply.send(result);
            }
            Command::Eof { id } => {
                if let Some(mut entry) = self.entries.remove(&id) {
                    entry.eof_at = Some(Instant::now());
                    self.reconcile(&mut entry, now(), Drain::Wait, Depth::Exits);
                    if entry.process.is_some() && !entry.task.status.is_final() {
                        // The exit usually follows end of file within
                        // milliseconds: look again soon.
                        self.soon_in(Duration::from_millis(10));
                    }
                    self.entries.insert(id, entry);
                }
            }
            Command::Shutdown { reply } => {
                self.shutdown();
                let _ = reply.send(());
            }
        }
    }

    fn soon_in(&mut self, after: Duration) {
        let at = Instant::now() + after;
        self.soon = Some(self.soon.map_or(at, |s| s.min(at)));
    }

    /// Where a task's log is, and its live span while it runs.
    fn log_ref(&self, id: &TaskId) -> LogRef {
        LogRef {
            path: persist::log_path(&self.dir, id),
            live: self
                .entries
                .get(id)
                .and_then(|e| e.process.as_ref())
                .map(Process::log),
        }
    }

    /// Runs `f` on one entry with the reconcile context.
    fn with_entry<R>(
        &mut self,
        id: &TaskId,
        f: impl FnOnce(&mut Reconcile<'_>, &mut Entry) -> Result<R, TaskError>,
    ) -> Result<R, TaskError> {
        let entry = self.entries.get_mut(id).ok_or(TaskError::NotFound)?;
        let mut r = Reconcile {
            reconciler: &self.reconciler,
            ledger: self.ledger.as_mut(),
            closed: self.closed,
            dirty: &mut self.dirty,
            finished: &mut self.finished,
            soon: &mut self.soon,
        };
        f(&mut r, entry)
    }

    fn reconcile(&mut self, entry: &mut Entry, at: Timestamp, drain: Drain, depth: Depth) {
        let mut r = Reconcile {
            reconciler: &self.reconciler,
            ledger: self.ledger.as_mut(),
            closed: self.closed,
            dirty: &mut self.dirty,
            finished: &mut self.finished,
            soon: &mut self.soon,
        };
        r.observe(entry, at, drain, depth);
    }

    /// Observes every live task (and every task owing a change).
    fn pass(&mut self, depth: Depth) {
        if self.closed {
            return;
        }
        let at = now();
        let mut r = Reconcile {
            reconciler: &self.reconciler,
            ledger: self.ledger.as_mut(),
            closed: false,
            dirty: &mut self.dirty,
            finished: &mut self.finished,
            soon: &mut self.soon,
        };
        for entry in self.entries.values_mut() {
            if entry.process.is_some() || entry.owed.is_some() {
                r.observe(entry, at, Drain::Wait, depth);
            }
        }
    }

    fn full_pass(&mut self) {
        let began = Instant::now();
        self.pass(Depth::Full);
        let took = u64::try_from(began.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.stats.last_pass_us.store(took, Ordering::Relaxed);
        self.stats.passes.fetch_add(1, Ordering::Relaxed);
    }

    /// Exits only, and again soon while a task whose terminal closed has
    /// not been reaped yet.
    fn quick_pass(&mut self) {
        self.pass(Depth::Exits);
        let recent = self.entries.values().any(|e| {
            e.process.is_some()
                && !e.task.status.is_final()
                && e.eof_at
                    .is_some_and(|t| t.elapsed() < Duration::from_secs(1))
        });
        if recent {
            self.soon_in(Duration::from_millis(25));
        }
    }

    fn check_open(&self) -> Result<(), TaskError> {
        if self.closed {
            return Err(TaskError::Unavailable(
                "the task runner is shut down".into(),
            ));
        }
        Ok(())
    }

    fn live_count(&self) -> usize {
        self.entries
            .values()
            .filter(|e| !e.task.status.is_final())
            .count()
    }

    fn create(&mut self, launch: Launch) -> Result<Task, TaskError> {
        self.check_open()?;
        let limit = self.config.max_live_tasks;
        if self.live_count() >= limit {
            return Err(TaskError::TooManyLive { limit });
        }
        let (kind, name, resolved, workdir, input) = match launch {
            Launch::Command(req) => {
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
                (TaskKind::Command, name, resolved, workdir, req.input)
            }
            Launch::Terminal(dir) => {
                let workdir = workdir(dir.as_deref())?;
                let env_shell = std::env::var("SHELL").ok();
                let shell =
                    command::terminal_shell(self.config.shell.as_deref(), env_shell.as_deref());
                let resolved = Resolved {
                    display: format!("{shell} -l"),
                    argv: vec![shell, "-l".to_owned()],
                    missing: None,
                };
                let name = resolved.display.clone();
                (TaskKind::Terminal, name, resolved, workdir, None)
            }
        };
        self.launch(kind, name, resolved, workdir, input)
    }

    fn launch(
        &mut self,
        kind: TaskKind,
        name: String,
        resolved: Resolved,
        workdir: PathBuf,
        input: Option<String>,
    ) -> Result<Task, TaskError> {
        let id = self.new_id();
        let started = now();
        let log_path = persist::log_path(&self.dir, &id);
        let mut failure = resolved.missing;
        let mut spawned = None;
        if failure.is_none() {
            let env = [("TERM", "xterm-256color"), ("TIDINGS_TASK_ID", id.as_str())];
            let commands = self.commands.clone();
            let eof_id = id.clone();
            let how = Spawn {
                workdir: &workdir,
                env: &env,
                log_path: &log_path,
                log_max: self.config.task_log_max,
                output_rate: self.config.task_output_rate,
                now: started,
                on_eof: Box::new(move || {
                    if let Some(commands) = commands {
                        let _ = commands.send(Command::Eof { id: eof_id });
                    }
                }),
            };
            match process::spawn(&resolved.argv, how) {
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
            boot_id: spawned.as_ref().and(self.host.boot_id.clone()),
            process: spawned,
            pending_input: input.filter(|s| !s.is_empty()),
            exit_seen_at: None,
            input_at: None,
            eof_at: None,
            owed: failure.map(|reason| Observation::FailedToStart { reason }),
            warned: false,
        };
        // The record is on disk before anyone hears of the task.
        let mut record = entry.record_of(entry.task.clone());
        if let Err(e) = self.ledger.commit(&mut record, Announcement::Created) {
            if let Some(mut p) = entry.process.take() {
                if !p.kill_and_reap() {
                    self.leftovers.push(p);
                }
            }
            let _ = std::fs::remove_file(&log_path);
            return Err(e.into());
        }
        entry.task = record.task;
        self.dirty = true;
        if entry.owed.is_some() {
            self.reconcile(&mut entry, now(), Drain::Wait, Depth::Exits);
        }
        let task = entry.task.clone();
        self.entries.insert(id, entry);
        Ok(task)
    }

    fn new_id(&mut self) -> TaskId {
        loop {
            let n = self.next_id;
            self.next_id = self.next_id.wrapping_add(1);
            let candidate = format!("t{:x}-{n:x}", now().as_millis());
            let Ok(id) = TaskId::new(candidate) else {
                continue;
            };
            if !self.entries.contains_key(&id) && !persist::record_path(&self.dir, &id).exists() {
                return id;
            }
        }
    }

    fn send_input(&mut self, id: &TaskId, text: &str) -> Result<Task, TaskError> {
        self.check_open()?;
        self.with_entry(id, |r, entry| {
            let at = now();
            if !r.settle_live(entry, at) {
                return Err(TaskError::NotLive);
            }
            let pending = entry.pending_input.as_deref().map_or(0, str::len);
            let room = entry.process.as_ref().map_or(0, Process::input_room);
            if pending + text.len() > room {
                return Err(input_error(InputError::QueueFull));
            }
            // Announced first: when it cannot be saved, nothing is typed.
            r.apply(entry, Observation::InputSent, at)?;
            let process = entry.process.as_mut().ok_or(TaskError::NotLive)?;
            if let Some(pending) = entry.pending_input.take() {
                process.write_input(&pending).map_err(input_error)?;
            }
            process.write_input(text).map_err(input_error)?;
            entry.input_at = Some(Instant::now());
            Ok(entry.task.clone())
        })
    }

    fn rename(&mut self, id: &TaskId, name: String) -> Result<Task, TaskError> {
        self.check_open()?;
        self.with_entry(id, |r, entry| {
            let mut next = entry.task.clone();
            next.name = name;
            r.commit(entry, next, Announcement::Updated)?;
            Ok(entry.task.clone())
        })
    }

    fn kill(&mut self, id: &TaskId) -> Result<Task, TaskError> {
        self.check_open()?;
        self.with_entry(id, |r, entry| {
            let at = now();
            if !r.settle_live(entry, at) {
                return Err(TaskError::NotLive);
            }
            // Announced first: when it cannot be saved, nothing is killed.
            r.apply(entry, Observation::Killed, at)?;
            if let Some(process) = entry.process.as_ref() {
                process.signal(Signal::SIGKILL);
            }
            Ok(entry.task.clone())
        })
    }

    /// Removes the oldest finished tasks beyond `keep_finished`, each with
    /// its log, announced as `task.removed`.
    fn retain(&mut self) {
        let keep = self.config.keep_finished;
        let mut finished: Vec<(Timestamp, Timestamp, TaskId)> = self
            .entries
            .values()
            .filter(|e| e.task.status.is_final())
            .map(|e| {
                let t = &e.task;
                (
                    t.finished_at.unwrap_or(t.created_at),
                    t.created_at,
                    t.id.clone(),
                )
            })
            .collect();
        if finished.len() <= keep {
            return;
        }
        finished.sort();
        let excess = finished.len() - keep;
        for (_, _, id) in finished.into_iter().take(excess) {
            let Some(entry) = self.entries.get(&id) else {
                continue;
            };
            let mut record = entry.record_of(entry.task.clone());
            match self.ledger.commit(&mut record, Announcement::Removed) {
                Ok(_) => {
                    self.retention_warned = false;
                    if let Some(entry) = self.entries.remove(&id) {
                        if let Some(process) = entry.process {
                            self.leftovers.push(process);
                        }
                    }
                    remove_log(&persist::log_path(&self.dir, &id));
                    self.dirty = true;
                }
                Err(e) => {
                    if !self.retention_warned {
                        self.retention_warned = true;
                        tracing::error!(task = %id, error = %e,
                            "a finished task could not be removed; retried later");
                    }
                    self.finished = true;
                    break;
                }
            }
        }
    }

    /// Hangs up every live terminal and stops changing anything; releases
    /// the data directory.
    fn shutdown(&mut self) {
        self.closed = true;
        for entry in self.entries.values() {
            if let (false, Some(process)) = (entry.task.status.is_final(), &entry.process) {
                process.signal(Signal::SIGHUP);
                process.signal(Signal::SIGCONT);
            }
        }
        self.data = None;
        self.commands = None;
    }
}

fn remove_log(path: &Path) {
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => tracing::warn!(log = %path.display(), error = %e, "cannot remove a task log"),
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tasks::announce::CommitError;
    use crate::tasks::CommandSpec;
    use broker_core::{Epoch, EventId};
    use std::sync::Mutex;

    /// A ledger whose disk is full: remembers the pid of each record.
    struct Full(Arc<Mutex<Vec<Option<u32>>>>);

    impl TaskLedger for Full {
        fn commit(
            &mut self,
            record: &mut Record,
            _what: Announcement<'_>,
        ) -> Result<EventId, CommitError> {
            self.0.lock().expect("pids").push(record.task.pid);
            Err(CommitError::Unsaved(std::io::Error::other("disk full")))
        }

        fn cursor(&self) -> EventId {
            EventId::new(Epoch::new(1), 0)
        }
    }

    #[test]
    fn a_process_whose_creation_cannot_be_saved_is_killed_and_reaped() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let data = Arc::new(DataDir::open(tmp.path()).expect("data dir"));
        data.subdir("tasks").expect("tasks folder");
        let pids = Arc::new(Mutex::new(Vec::new()));
        let (commands, _inbox) = mpsc::channel();
        let (sorted, _) = watch::channel(Arc::new(Vec::new()));
        let mut runner = Runner::new(
            data,
            Box::new(Full(Arc::clone(&pids))),
            TaskConfig::default(),
            commands,
            sorted,
            Arc::default(),
        );
        let err = runner
            .create(Launch::Command(CreateTask {
                command: CommandSpec::Shell("sleep 30".into()),
                workdir: None,
                name: None,
                input: None,
            }))
            .expect_err("refused");
        assert!(matches!(err, TaskError::Unavailable(_)), "{err:?}");
        let pid = pids.lock().expect("pids")[0].expect("it was spawned");
        let began = Instant::now();
        // Gone entirely: neither running nor a zombie waiting to be reaped.
        while Path::new(&format!("/proc/{pid}")).exists() {
            assert!(
                began.elapsed() < Duration::from_secs(5),
                "{pid} left behind"
            );
            runner.settle();
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(runner.entries.is_empty(), "no task was created");
        let logs: Vec<_> = std::fs::read_dir(&runner.dir).expect("dir").collect();
        assert!(logs.is_empty(), "its log is gone too: {logs:?}");
    }
}
