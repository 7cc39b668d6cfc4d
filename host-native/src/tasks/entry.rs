//! One task in the runner's table, and how an observation of its process
//! becomes a committed change.
//!
//! A change is computed on a copy of the task, committed through the
//! [`TaskLedger`] (durable, then announced), and only then applied to the
//! table; so a change that cannot be saved leaves the task as it was, and
//! the same observation is simply made again on the next pass.

use std::time::{Duration, Instant};

use broker_core::{EventId, Observation, Reconciler, Task, Timestamp};

use super::announce::{Announcement, CommitError, TaskLedger};
use super::persist::Record;
use super::process::{Exit, Process, MAX_QUEUED_INPUT};

/// After an exit, how long to wait for the output thread to reach end of
/// file before announcing completion anyway (a background child may keep the
/// terminal open for ever).
pub(crate) const DRAIN_GRACE: Duration = Duration::from_millis(500);

/// The initial `input` is typed once the program is ready: when it blocks
/// reading the terminal, when it has written something and then been quiet
/// this long, or at the latest [`INPUT_LATEST`] after the start. Typing at
/// once would lose it to programs that flush pending input when they switch
/// the terminal to raw mode.
pub(crate) const INPUT_QUIET: Duration = Duration::from_millis(300);
/// See [`INPUT_QUIET`].
pub(crate) const INPUT_LATEST: Duration = Duration::from_secs(3);

/// After input is typed, the program needs a moment to wake up and read it;
/// until then (and while input is still queued) a terminal read is not
/// taken for waiting, or every input would announce a `running` →
/// `waiting-for-input` blip.
pub(crate) const INPUT_SETTLE: Duration = Duration::from_millis(250);

/// Whether a reconcile may hold back an exit until the output thread has
/// put the last output in the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Drain {
    /// Announce the exit once the log is complete (or after [`DRAIN_GRACE`]).
    Wait,
    /// Announce it now: the caller must know whether the task is live.
    Skip,
}

/// How much a reconcile looks at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Depth {
    /// Only whether the process exited (`waitpid`, no `/proc`): what a list
    /// checks for every live task.
    Exits,
    /// Also the terminal (`/proc`) and the idle clock: the loop's pass, and
    /// a request about one task.
    Full,
}

/// One task in the table.
#[derive(Debug)]
pub(crate) struct Entry {
    pub task: Task,
    /// The process while we hold it (dropped once final, reaped and drained).
    pub process: Option<Process>,
    /// The process start time and the boot it happened in, kept in the
    /// record to recognise the process after a restart.
    pub start_ticks: Option<u64>,
    pub boot_id: Option<String>,
    /// The initial input, until it is typed.
    pub pending_input: Option<String>,
    /// When an exit was first seen while output was still draining.
    pub exit_seen_at: Option<Timestamp>,
    /// When input was last typed (see [`INPUT_SETTLE`]).
    pub input_at: Option<Instant>,
    /// When the terminal reached end of file.
    pub eof_at: Option<Instant>,
    /// A final observation still to be committed (the task could not start,
    /// or was lost): retried on every pass until it is saved.
    pub owed: Option<Observation>,
    /// A background commit of this task failed and was logged; the next
    /// failure is not logged again until one succeeds.
    pub warned: bool,
}

impl Entry {
    /// A table entry for a task with no process attached.
    pub(crate) fn from_record(record: Record) -> Entry {
        Entry {
            task: record.task,
            process: None,
            start_ticks: record.process_start_ticks,
            boot_id: record.boot_id,
            pending_input: None,
            exit_seen_at: None,
            input_at: None,
            eof_at: None,
            owed: None,
            warned: false,
        }
    }

    /// The record of this entry with `task` in place of its task.
    pub(crate) fn record_of(&self, task: Task) -> Record {
        Record {
            task,
            process_start_ticks: self.start_ticks,
            boot_id: self.boot_id.clone(),
        }
    }

    /// Whether the output thread has put everything in the log.
    fn drained(&self) -> bool {
        self.process.as_ref().is_some_and(|p| p.output().drained())
    }
}

/// What the reconcile steps share: the rules and the ledger.
pub(crate) struct Reconcile<'a> {
    pub reconciler: &'a Reconciler,
    pub ledger: &'a mut dyn TaskLedger,
    /// After shutdown the records stay as they are: observing changes
    /// nothing.
    pub closed: bool,
    /// Set when anything visible in a list changed.
    pub dirty: &'a mut bool,
    /// Set when a task reached a final status (retention may apply).
    pub finished: &'a mut bool,
    /// The earliest moment a quick re-check is wanted (an exit waiting for
    /// the last output).
    pub soon: &'a mut Option<Instant>,
}

impl Reconcile<'_> {
    /// Commits `next` (the entry's task after a change) announcing `what`,
    /// and applies it to the entry only when that succeeded.
    pub(crate) fn commit(
        &mut self,
        entry: &mut Entry,
        next: Task,
        what: Announcement<'_>,
    ) -> Result<EventId, CommitError> {
        let mut record = entry.record_of(next);
        let id = self.ledger.commit(&mut record, what)?;
        if record.task.status.is_final() && !entry.task.status.is_final() {
            *self.finished = true;
        }
        entry.task = record.task;
        *self.dirty = true;
        Ok(id)
    }

    /// Hands an observation to the core; a real transition is committed as
    /// `task.status`. Silent changes (`last_activity_at`) apply at once.
    pub(crate) fn apply(
        &mut self,
        entry: &mut Entry,
        observation: Observation,
        at: Timestamp,
    ) -> Result<(), CommitError> {
        let mut next = entry.task.clone();
        match self.reconciler.observe(&mut next, observation, at) {
            None => {
                if next != entry.task {
                    entry.task = next;
                    *self.dirty = true;
                }
                Ok(())
            }
            Some(change) => self
                .commit(entry, next, Announcement::Status(&change))
                .map(|_| ()),
        }
    }

    /// [`Reconcile::apply`] for changes nobody waits for: a failure is
    /// logged once per task and the change is made again next time.
    pub(crate) fn apply_in_background(
        &mut self,
        entry: &mut Entry,
        observation: Observation,
        at: Timestamp,
    ) -> bool {
        match self.apply(entry, observation, at) {
            Ok(()) => {
                entry.warned = false;
                true
            }
            Err(e) => {
                if !entry.warned {
                    entry.warned = true;
                    tracing::error!(task = %entry.task.id, error = %e,
                        "a task change could not be saved; it is retried on every pass");
                }
                false
            }
        }
    }

    /// Settles an exit already reaped, then fails unless the task still has
    /// a live process: a finished process is not ours to type into or kill.
    pub(crate) fn settle_live(&mut self, entry: &mut Entry, at: Timestamp) -> bool {
        self.observe(entry, at, Drain::Skip, Depth::Exits);
        entry.process.is_some() && !entry.task.status.is_final()
    }

    /// Observes one task's process and applies what was seen.
    pub(crate) fn observe(&mut self, entry: &mut Entry, at: Timestamp, drain: Drain, depth: Depth) {
        if self.closed {
            return;
        }
        if let Some(owed) = entry.owed.clone() {
            if self.apply_in_background(entry, owed, at) {
                entry.owed = None;
            }
        }
        let Some(process) = entry.process.as_mut() else {
            return;
        };
        if entry.task.status.is_final() {
            // Killed (or errored) but not reaped yet: reap, then let go of
            // the terminal once its output is in the log.
            if process.poll_exit().is_some() && process.output().drained() {
                entry.process = None;
            }
            return;
        }
        if let Some(exit) = process.poll_exit() {
            let seen = *entry.exit_seen_at.get_or_insert(at);
            let waited = at.saturating_since(seen);
            let draining = !process.output().drained() && waited < DRAIN_GRACE;
            if draining && drain == Drain::Wait {
                // The last output is still on its way to the log.
                let again = Instant::now() + DRAIN_GRACE.saturating_sub(waited);
                *self.soon = Some(self.soon.map_or(again, |s| s.min(again)));
                return;
            }
            let observation = match exit {
                Exit::Code(code) => Observation::Exited { code },
                Exit::Unknown => Observation::Lost {
                    reason: "the process was reaped elsewhere; its exit status is unknown".into(),
                },
            };
            self.apply_in_background(entry, observation, at);
            if entry.task.status.is_final() && entry.drained() {
                entry.process = None;
            }
            return;
        }
        if depth == Depth::Exits {
            return;
        }
        let settling = entry.input_at.is_some_and(|t| t.elapsed() < INPUT_SETTLE)
            || process.input_room() < MAX_QUEUED_INPUT;
        let blocked_on_read = !settling && process.blocked_on_read();
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
                entry.input_at = Some(Instant::now());
                self.apply_in_background(entry, Observation::InputSent, at);
                return;
            }
        }
        let last_output_at = process.output().last_output_at();
        self.apply_in_background(
            entry,
            Observation::Alive {
                last_output_at,
                blocked_on_read,
            },
            at,
        );
    }
}
