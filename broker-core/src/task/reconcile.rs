//! The reconciler: observations in, at most one status transition out.
//!
//! The rules, in the order they are checked:
//!
//! - A final status (`completed`, `killed`, `error`) never changes and the
//!   task record is left alone: the transition into it was announced once
//!   and nothing after it is news. So a kill followed by the exit it causes
//!   stays `killed`.
//! - `Exited` → `completed` with the code; `FailedToStart` → `error`;
//!   `Killed` → `killed`; `Lost` → `error`. A lost process is not `killed`:
//!   `killed` means someone asked for it through the API, while a process
//!   that vanished (say, with the server that ran it) failed, and `error`
//!   is where the contract puts the reason.
//! - `InputSent` is evidence of activity: a waiting task goes back to
//!   `running`, and the idle clock restarts.
//! - `Alive`: the task should be waiting when its terminal is blocked on a
//!   read or nothing happened for the idle threshold. Otherwise a running
//!   task stays running, and a waiting task returns to running only on
//!   output newer than any output or input seen so far. A flickering
//!   `blocked_on_read` with no new output therefore moves a task into
//!   waiting once and keeps it there: going back needs real evidence.

use core::time::Duration;

use super::{ErrorCause, Observation, StatusChange, Task, TaskStatus};
use crate::time::Timestamp;

/// Decides status transitions from observations.
///
/// It holds no per-task state: everything it needs (the status, and in
/// `last_activity_at` the newest output or input already seen) is in the
/// task record, which the host persists, so a restarted host carries on
/// where it left off.
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
    /// the status really changed, `None` otherwise. Final statuses never
    /// change.
    ///
    /// The task is updated in place: `status`; on a final status
    /// `finished_at = now`, `pid = None`, and `exit_code` (completed) or
    /// `error` (error); `last_activity_at` moves forward on new output or
    /// input. `version` is NOT touched: the caller sets it to the seq of the
    /// event that announces the change before calling
    /// [`StatusChange::to_data`] (see there for the order).
    pub fn observe(
        &self,
        task: &mut Task,
        observation: Observation,
        now: Timestamp,
    ) -> Option<StatusChange> {
        if task.status.is_final() {
            return None;
        }
        match observation {
            Observation::Exited { code } => {
                task.exit_code = Some(code);
                finish(task, TaskStatus::Completed, None, now)
            }
            Observation::FailedToStart { reason } => {
                task.error = Some(reason);
                finish(
                    task,
                    TaskStatus::Error,
                    Some(ErrorCause::FailedToStart),
                    now,
                )
            }
            Observation::Lost { reason } => {
                task.error = Some(reason);
                finish(task, TaskStatus::Error, Some(ErrorCause::Lost), now)
            }
            Observation::Killed => finish(task, TaskStatus::Killed, None, now),
            Observation::InputSent => {
                task.last_activity_at = task.last_activity_at.max(now);
                transition(task, TaskStatus::Running, None, now)
            }
            Observation::Alive {
                last_output_at,
                blocked_on_read,
            } => {
                let new_output = last_output_at > task.last_activity_at;
                if new_output {
                    task.last_activity_at = last_output_at;
                }
                let idle = now.saturating_since(task.last_activity_at) >= self.idle_threshold;
                let target = if blocked_on_read || idle {
                    TaskStatus::WaitingForInput
                } else if new_output {
                    TaskStatus::Running
                } else {
                    task.status
                };
                transition(task, target, None, now)
            }
        }
    }
}

/// Moves a live task to a final status: the process is gone, so its pid is
/// no longer its own.
fn finish(
    task: &mut Task,
    status: TaskStatus,
    reason: Option<ErrorCause>,
    now: Timestamp,
) -> Option<StatusChange> {
    task.finished_at = Some(now);
    task.pid = None;
    transition(task, status, reason, now)
}

/// Sets the status and reports it, unless it is the one the task has.
fn transition(
    task: &mut Task,
    status: TaskStatus,
    reason: Option<ErrorCause>,
    now: Timestamp,
) -> Option<StatusChange> {
    if task.status == status {
        return None;
    }
    let previous = core::mem::replace(&mut task.status, status);
    Some(StatusChange {
        task_id: task.id.clone(),
        status,
        previous,
        at: now,
        reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::TaskId;
    use crate::task::TaskKind;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn ms(v: u64) -> Timestamp {
        Timestamp::from_millis(v)
    }

    fn task() -> Task {
        Task {
            id: TaskId::new("t1").expect("valid id"),
            name: "build".into(),
            kind: TaskKind::Command,
            command: "make".into(),
            workdir: "/tmp".into(),
            status: TaskStatus::Running,
            version: 1,
            created_at: ms(1_000),
            finished_at: None,
            exit_code: None,
            error: None,
            pid: Some(42),
            last_activity_at: ms(1_000),
        }
    }

    fn alive(out: u64, blocked: bool) -> Observation {
        Observation::Alive {
            last_output_at: ms(out),
            blocked_on_read: blocked,
        }
    }

    #[test]
    fn exit_completes_with_code_and_clears_the_pid() {
        let r = Reconciler::default();
        let mut t = task();
        let change = r
            .observe(&mut t, Observation::Exited { code: 3 }, ms(5_000))
            .expect("a transition");
        assert_eq!(change.status, TaskStatus::Completed);
        assert_eq!(change.previous, TaskStatus::Running);
        assert_eq!(change.at, ms(5_000));
        assert_eq!(change.reason, None);
        assert_eq!(t.status, TaskStatus::Completed);
        assert_eq!(t.exit_code, Some(3));
        assert_eq!(t.finished_at, Some(ms(5_000)));
        assert_eq!(t.pid, None);
        assert_eq!(t.version, 1, "the caller owns the version");
    }

    #[test]
    fn a_final_task_is_left_untouched() {
        let r = Reconciler::default();
        let mut t = task();
        assert!(r.observe(&mut t, Observation::Killed, ms(2_000)).is_some());
        let before = t.clone();
        for obs in [
            Observation::Exited { code: 137 },
            Observation::Lost {
                reason: "gone".into(),
            },
            Observation::InputSent,
            alive(9_000, false),
            Observation::Killed,
        ] {
            assert_eq!(r.observe(&mut t, obs, ms(10_000)), None);
            assert_eq!(t, before);
        }
    }

    #[test]
    fn lost_is_an_error_with_its_reason() {
        let r = Reconciler::default();
        let mut t = task();
        t.status = TaskStatus::WaitingForInput;
        let change = r
            .observe(
                &mut t,
                Observation::Lost {
                    reason: "process did not survive a restart".into(),
                },
                ms(3_000),
            )
            .expect("a transition");
        assert_eq!(change.status, TaskStatus::Error);
        assert_eq!(change.previous, TaskStatus::WaitingForInput);
        assert_eq!(change.reason, Some(ErrorCause::Lost));
        assert_eq!(
            t.error.as_deref(),
            Some("process did not survive a restart")
        );
        assert_eq!(t.exit_code, None);
    }

    #[test]
    fn the_idle_threshold_is_inclusive_and_measured_from_the_newest_activity() {
        let r = Reconciler {
            idle_threshold: Duration::from_secs(10),
        };
        let mut t = task();
        assert_eq!(r.observe(&mut t, alive(4_000, false), ms(13_999)), None);
        assert_eq!(t.last_activity_at, ms(4_000));
        let change = r.observe(&mut t, alive(4_000, false), ms(14_000));
        assert_eq!(change.map(|c| c.status), Some(TaskStatus::WaitingForInput));
        // Input restarts the idle clock: the same stale output does not
        // send it straight back to waiting.
        let change = r.observe(&mut t, Observation::InputSent, ms(20_000));
        assert_eq!(change.map(|c| c.status), Some(TaskStatus::Running));
        assert_eq!(r.observe(&mut t, alive(4_000, false), ms(29_999)), None);
        assert_eq!(
            r.observe(&mut t, alive(4_000, false), ms(30_000))
                .map(|c| c.status),
            Some(TaskStatus::WaitingForInput)
        );
    }

    #[test]
    fn to_data_names_the_version_the_caller_set() {
        let r = Reconciler::default();
        let mut t = task();
        let change = r
            .observe(&mut t, Observation::Exited { code: 0 }, ms(7_000))
            .expect("a transition");
        t.version = 12;
        let data = change.to_data(&t);
        let expected: serde_json::Value = serde_json::from_str(
            r#"{"task_id":"t1","status":"completed","previous":"running","version":12,
                "at":7000,"finished_at":7000,"exit_code":0,"last_activity_at":1000}"#,
        )
        .expect("valid JSON");
        assert_eq!(serde_json::Value::Object(data), expected);
    }

    #[test]
    fn to_data_on_error_carries_text_and_cause() {
        let r = Reconciler::default();
        let mut t = task();
        let change = r
            .observe(
                &mut t,
                Observation::FailedToStart {
                    reason: "no such command: mkae".into(),
                },
                ms(1_500),
            )
            .expect("a transition");
        t.version = 2;
        let data = change.to_data(&t);
        assert_eq!(data["status"], "error");
        assert_eq!(data["error"], "no such command: mkae");
        assert_eq!(data["reason"], "failed-to-start");
        assert_eq!(data["finished_at"], 1_500);
        assert!(!data.contains_key("exit_code"));
    }
}
