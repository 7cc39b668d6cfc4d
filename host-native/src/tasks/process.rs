//! A task's process: spawned by portable-pty in its own session with the
//! PTY's slave as controlling terminal, its output copied to the capped log
//! by a blocking thread, reaped with `waitpid(WNOHANG)`, signalled per
//! process group.
//!
//! A task inherits the server's environment minus every `TIDINGS_*`
//! variable (the token, the token file and the rest of the server's own
//! settings are the server's business, not the task's); it gets its own
//! `TIDINGS_TASK_ID` and `TERM`.

use std::ffi::OsStr;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use broker_core::output::{OutputPace, DEFAULT_OUTPUT_BURST};
use broker_core::Timestamp;
use nix::errno::Errno;
use nix::sys::signal::{kill, killpg, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use portable_pty::{native_pty_system, CommandBuilder, MasterPty, PtySize};
use tokio::sync::watch;

use super::inspect;
use super::log::{LogState, LogWriter};

/// Whether a variable of the server's environment is kept from tasks: all of
/// `TIDINGS_*` (credentials such as `TIDINGS_TOKEN` and `TIDINGS_TOKEN_FILE`
/// among them).
pub(crate) fn hidden_from_tasks(key: &OsStr) -> bool {
    key.as_encoded_bytes().starts_with(b"TIDINGS_")
}

/// The terminal size tasks start with.
const SIZE: PtySize = PtySize {
    rows: 40,
    cols: 120,
    pixel_width: 0,
    pixel_height: 0,
};

/// What the output thread tells the reconciler.
#[derive(Debug)]
pub(crate) struct OutputState {
    /// Unix ms of the last output (or of the start).
    last_output_ms: AtomicU64,
    /// Whether anything at all was written.
    any_output: AtomicBool,
    /// The terminal reached end of file: every writer is gone and the log
    /// holds all the output there will be.
    drained: AtomicBool,
}

impl OutputState {
    /// When output was last seen (the start time before any output).
    pub fn last_output_at(&self) -> Timestamp {
        Timestamp::from_millis(self.last_output_ms.load(Ordering::Acquire))
    }

    /// Whether the program wrote anything yet.
    pub fn any_output(&self) -> bool {
        self.any_output.load(Ordering::Acquire)
    }

    /// Whether the log holds all the output.
    pub fn drained(&self) -> bool {
        self.drained.load(Ordering::Acquire)
    }
}

/// How a reaped process ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Exit {
    /// It exited (a signal death is 128 + the signal number, as shells say).
    Code(i32),
    /// It is not our child any more (reaped elsewhere): the code is unknown.
    Unknown,
}

/// A running (or finished but not yet forgotten) process of a task.
pub(crate) struct Process {
    pid: Pid,
    master: Box<dyn MasterPty + Send>,
    input: Input,
    output: Arc<OutputState>,
    log: watch::Receiver<LogState>,
    tty: Option<PathBuf>,
    start_ticks: Option<u64>,
    exit: Option<Exit>,
}

impl std::fmt::Debug for Process {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Process")
            .field("pid", &self.pid)
            .field("tty", &self.tty)
            .field("exit", &self.exit)
            .finish_non_exhaustive()
    }
}

/// What a new process is given besides its command.
pub(crate) struct Spawn<'a> {
    /// Where it runs.
    pub workdir: &'a Path,
    /// Variables set on top of the inherited environment.
    pub env: &'a [(&'a str, &'a str)],
    /// Its output log (created here).
    pub log_path: &'a Path,
    /// The log's cap in bytes.
    pub log_max: u64,
    /// Bytes per second the terminal is read at most (0: no limit).
    pub output_rate: u64,
    /// The start time.
    pub now: Timestamp,
    /// Called once by the output thread when the terminal reaches end of
    /// file (the task runner then reconciles the task at once).
    pub on_eof: Box<dyn FnOnce() + Send>,
}

/// Starts `argv` on a new PTY, its output going to a new capped log. The
/// error is the reason the task could not start.
pub(crate) fn spawn(argv: &[String], how: Spawn<'_>) -> Result<Process, String> {
    let log = LogWriter::create(how.log_path, how.log_max)
        .map_err(|e| format!("cannot open log: {e}"))?;
    let log_state = log.subscribe();
    let pair = native_pty_system()
        .openpty(SIZE)
        .map_err(|e| format!("cannot open a pseudo-terminal: {e}"))?;
    let mut cmd = CommandBuilder::from_argv(argv.iter().map(Into::into).collect());
    cmd.cwd(how.workdir);
    for (key, _) in std::env::vars_os() {
        if hidden_from_tasks(&key) {
            cmd.env_remove(key);
        }
    }
    for (key, value) in how.env {
        cmd.env(key, value);
    }
    let child = pair
        .slave
        .spawn_command(cmd)
        .map_err(|e| format!("cannot start: {e:#}"))?;
    // Only the child may hold the slave: its end of file must reach us.
    drop(pair.slave);
    let raw_pid = child.process_id().ok_or("the process has no pid")?;
    // The portable-pty handle only wraps std's Child, which neither kills nor
    // reaps on drop: we reap by pid to see signal deaths exactly.
    drop(child);
    let pid_i32 = i32::try_from(raw_pid).map_err(|_| "pid out of range".to_owned())?;
    let pid = Pid::from_raw(pid_i32);
    let master = pair.master;
    let output = Arc::new(OutputState {
        last_output_ms: AtomicU64::new(how.now.as_millis()),
        any_output: AtomicBool::new(false),
        drained: AtomicBool::new(false),
    });
    let spawned = (|| {
        let reader = master.try_clone_reader().map_err(|e| e.to_string())?;
        let writer = master.take_writer().map_err(|e| e.to_string())?;
        let state = Arc::clone(&output);
        let on_eof = how.on_eof;
        let pace = OutputPace::new(how.output_rate, DEFAULT_OUTPUT_BURST, Timestamp::ZERO);
        std::thread::Builder::new()
            .name(format!("task-output-{raw_pid}"))
            .spawn(move || {
                copy_output(reader, log, &state, pace);
                on_eof();
            })
            .map_err(|e| e.to_string())?;
        Input::start(writer, raw_pid).map_err(|e| e.to_string())
    })();
    let input = match spawned {
        Ok(input) => input,
        Err(reason) => {
            signal_session(pid_i32, Signal::SIGKILL);
            let _ = waitpid(pid, None);
            return Err(format!("cannot attach to the terminal: {reason}"));
        }
    };
    Ok(Process {
        pid,
        tty: inspect::tty_path(master.tty_name()),
        master,
        input,
        output,
        log: log_state,
        start_ticks: inspect::stat(pid_i32).map(|st| st.start_ticks),
        exit: None,
    })
}

/// The output thread: terminal → log, until end of file (`EIO` on Linux once
/// the last slave descriptor closes), at most at the pace's rate (the
/// program waits in `write` meanwhile; this thread is its own, so sleeping
/// blocks nothing else). The log warns once per task about failed writes.
fn copy_output(
    mut reader: Box<dyn Read + Send>,
    mut log: LogWriter,
    state: &OutputState,
    mut pace: OutputPace,
) {
    let mut buf = vec![0u8; 16 * 1024];
    // The pace runs on a monotonic clock: a wall clock set back would stall
    // the reads until it caught up.
    let origin = Instant::now();
    let monotonic =
        || Timestamp::from_millis(u64::try_from(origin.elapsed().as_millis()).unwrap_or(u64::MAX));
    loop {
        if let Some(wait) = pace.poll_wait(monotonic()) {
            std::thread::sleep(wait);
        }
        match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                log.append(&buf[..n]);
                pace.handle_read(monotonic(), n);
                state
                    .last_output_ms
                    .store(super::now().as_millis(), Ordering::Release);
                state.any_output.store(true, Ordering::Release);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        }
    }
    state.drained.store(true, Ordering::Release);
    log.close();
}

impl Process {
    /// The process id (also its session and process group id).
    pub fn pid(&self) -> u32 {
        u32::try_from(self.pid.as_raw()).unwrap_or(0)
    }

    /// The start time that identifies this process across pid reuse.
    pub fn start_ticks(&self) -> Option<u64> {
        self.start_ticks
    }

    /// What the output thread has seen.
    pub fn output(&self) -> &OutputState {
        &self.output
    }

    /// The log's span, updated by the output thread after every write.
    pub fn log(&self) -> watch::Receiver<LogState> {
        self.log.clone()
    }

    /// How many more input bytes the queue takes now.
    pub fn input_room(&self) -> usize {
        MAX_QUEUED_INPUT.saturating_sub(self.input.queued.load(Ordering::Acquire))
    }

    /// Kills the whole session and waits briefly for the exit; returns
    /// whether the process was reaped (if not, the caller keeps polling
    /// [`Process::poll_exit`] so no zombie is left behind).
    pub fn kill_and_reap(&mut self) -> bool {
        if self.poll_exit().is_some() {
            return true; // reaped already: the pid may name a stranger now
        }
        signal_session(self.pid.as_raw(), Signal::SIGKILL);
        let began = Instant::now();
        while self.poll_exit().is_none() {
            if began.elapsed() > Duration::from_millis(200) {
                return false;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        true
    }

    /// Reaps the process if it ended; remembers the answer.
    pub fn poll_exit(&mut self) -> Option<Exit> {
        if self.exit.is_none() {
            self.exit = match waitpid(self.pid, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(_, code)) => Some(Exit::Code(code)),
                Ok(WaitStatus::Signaled(_, signal, _)) => Some(Exit::Code(128 + signal as i32)),
                Ok(_) => None,
                Err(Errno::EINTR) => None,
                Err(_) => Some(Exit::Unknown),
            };
        }
        self.exit
    }

    /// Whether the terminal's foreground process is blocked reading it.
    pub fn blocked_on_read(&self) -> bool {
        match self.master.process_group_leader() {
            Some(foreground) => inspect::foreground_blocked_on_read(
                self.pid.as_raw(),
                foreground,
                self.tty.as_deref(),
            ),
            None => false,
        }
    }

    /// Types `text` into the terminal (queued: see [`Input`]).
    pub fn write_input(&mut self, text: &str) -> Result<(), InputError> {
        self.input.send(text)
    }

    /// Sends `signal` to every process group of the task's session.
    pub fn signal(&self, signal: Signal) {
        if self.exit.is_none() {
            signal_session(self.pid.as_raw(), signal);
        }
    }
}

/// The most input bytes queued for a terminal that is not reading them.
pub const MAX_QUEUED_INPUT: usize = 64 * 1024;

/// Why input was not accepted.
#[derive(Debug, thiserror::Error)]
pub(crate) enum InputError {
    /// The program is not reading and the queue is full.
    #[error("the terminal is not reading its input: {MAX_QUEUED_INPUT} bytes are already queued")]
    QueueFull,
    /// The terminal is gone (the writer thread ended on a write error).
    #[error("the terminal no longer accepts input")]
    Closed,
}

/// The terminal's input side: a thread that makes the blocking writes.
///
/// A write to a PTY master blocks once the line discipline's buffer (about
/// 4 KiB) is full and the program does not read; that must never happen
/// on the task runner's thread. So input is queued (bounded by
/// [`MAX_QUEUED_INPUT`]) and written by this thread, which ends when the
/// queue's sender is dropped or the terminal goes away.
struct Input {
    queue: mpsc::Sender<Vec<u8>>,
    queued: Arc<AtomicUsize>,
}

impl Input {
    fn start(mut writer: Box<dyn Write + Send>, pid: u32) -> io::Result<Input> {
        let (queue, pending) = mpsc::channel::<Vec<u8>>();
        let queued = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&queued);
        std::thread::Builder::new()
            .name(format!("task-input-{pid}"))
            .spawn(move || {
                for bytes in pending {
                    let written = writer.write_all(&bytes).and_then(|()| writer.flush());
                    counter.fetch_sub(bytes.len(), Ordering::AcqRel);
                    if written.is_err() {
                        break;
                    }
                }
            })?;
        Ok(Input { queue, queued })
    }

    fn send(&self, text: &str) -> Result<(), InputError> {
        if text.is_empty() {
            return Ok(());
        }
        let len = text.len();
        let before = self.queued.fetch_add(len, Ordering::AcqRel);
        if before + len > MAX_QUEUED_INPUT {
            self.queued.fetch_sub(len, Ordering::AcqRel);
            return Err(InputError::QueueFull);
        }
        self.queue.send(text.as_bytes().to_vec()).map_err(|_| {
            self.queued.fetch_sub(len, Ordering::AcqRel);
            InputError::Closed
        })
    }
}

/// Signals session `sid`: its leader's group first (so it stops forking),
/// then every other group and process found in the session.
pub(crate) fn signal_session(sid: i32, signal: Signal) {
    let _ = killpg(Pid::from_raw(sid), signal);
    for (pid, st) in inspect::session_members(sid) {
        if st.pgrp != sid {
            let _ = killpg(Pid::from_raw(st.pgrp), signal);
        }
        let _ = kill(Pid::from_raw(pid), signal);
    }
}
