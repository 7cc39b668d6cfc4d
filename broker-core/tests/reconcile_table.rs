//! Observation sequences and the transitions they must (and must not) cause.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use broker_core::task::ErrorCause;
use broker_core::{Observation, Reconciler, Task, TaskId, TaskKind, TaskStatus, Timestamp};
use core::time::Duration;

use TaskStatus::{Completed, Error, Killed, Running, WaitingForInput as Waiting};

fn ms(v: u64) -> Timestamp {
    Timestamp::from_millis(v)
}

fn fresh_task() -> Task {
    Task {
        id: TaskId::new("task-1").expect("valid id"),
        name: "shell".into(),
        kind: TaskKind::Terminal,
        command: "bash -l".into(),
        workdir: "/home/me".into(),
        status: Running,
        version: 1,
        created_at: ms(0),
        finished_at: None,
        exit_code: None,
        error: None,
        pid: Some(4242),
        last_activity_at: ms(0),
    }
}

fn alive(last_output_at: u64, blocked_on_read: bool) -> Observation {
    Observation::Alive {
        last_output_at: ms(last_output_at),
        blocked_on_read,
    }
}

/// One step: at `now`, this observation, and the transition expected
/// (`previous → status`), or none.
type Step = (u64, Observation, Option<(TaskStatus, TaskStatus)>);

struct Case {
    name: &'static str,
    idle_ms: u64,
    steps: Vec<Step>,
}

fn cases() -> Vec<Case> {
    let lost = || Observation::Lost {
        reason: "gone with the old server".into(),
    };
    vec![
        Case {
            name: "blocked_on_read flickering without output moves to waiting once",
            idle_ms: 90_000,
            steps: vec![
                (10, alive(0, true), Some((Running, Waiting))),
                (12, alive(0, false), None),
                (14, alive(0, true), None),
                (16, alive(0, false), None),
                (18, alive(0, true), None),
            ],
        },
        Case {
            name: "new output while waiting and no longer blocked is running again",
            idle_ms: 90_000,
            steps: vec![
                (10, alive(0, true), Some((Running, Waiting))),
                (20, alive(15, false), Some((Waiting, Running))),
                (22, alive(15, false), None),
            ],
        },
        Case {
            name: "a prompt printed while still blocked keeps waiting",
            idle_ms: 90_000,
            steps: vec![
                (10, alive(5, true), Some((Running, Waiting))),
                (20, alive(15, true), None),
                (22, alive(15, false), None),
            ],
        },
        Case {
            name: "input while waiting runs; printing and reading again waits; each once",
            idle_ms: 90_000,
            steps: vec![
                (10, alive(0, true), Some((Running, Waiting))),
                (20, Observation::InputSent, Some((Waiting, Running))),
                (21, Observation::InputSent, None),
                (30, alive(25, true), Some((Running, Waiting))),
                (32, alive(25, false), None),
                (40, Observation::InputSent, Some((Waiting, Running))),
                (45, alive(41, false), None),
            ],
        },
        Case {
            name: "input while running changes nothing",
            idle_ms: 90_000,
            steps: vec![
                (5, Observation::InputSent, None),
                (6, alive(5, false), None),
            ],
        },
        Case {
            name: "quiet for the idle threshold waits; old output does not wake it",
            idle_ms: 1_000,
            steps: vec![
                (999, alive(0, false), None),
                (1_000, alive(0, false), Some((Running, Waiting))),
                (5_000, alive(0, false), None),
                // Output after the wait began, but already quiet for the
                // threshold: still waiting, not a running/waiting blip.
                (5_000, alive(4_000, false), None),
                (5_000, alive(4_500, false), Some((Waiting, Running))),
                (5_499, alive(4_500, false), None),
                (5_500, alive(4_500, false), Some((Running, Waiting))),
            ],
        },
        Case {
            name: "input restarts the idle clock",
            idle_ms: 1_000,
            steps: vec![
                (1_000, alive(0, false), Some((Running, Waiting))),
                (3_000, Observation::InputSent, Some((Waiting, Running))),
                (3_999, alive(0, false), None),
                (4_000, alive(0, false), Some((Running, Waiting))),
            ],
        },
        Case {
            name: "output timestamps older than what was seen are not evidence",
            idle_ms: 90_000,
            steps: vec![
                (10, alive(8, false), None),
                (20, alive(8, true), Some((Running, Waiting))),
                (30, alive(3, false), None),
                (30, alive(8, false), None),
            ],
        },
        Case {
            name: "a clock that steps back is not idleness",
            idle_ms: 1_000,
            steps: vec![
                (50_000, alive(50_000, false), None),
                (10, alive(50_000, false), None),
            ],
        },
        Case {
            name: "killed stays killed when the exit it causes is seen",
            idle_ms: 90_000,
            steps: vec![
                (5, Observation::Killed, Some((Running, Killed))),
                (6, Observation::Exited { code: 137 }, None),
                (7, Observation::Killed, None),
                (8, alive(7, false), None),
            ],
        },
        Case {
            name: "exit while waiting completes",
            idle_ms: 90_000,
            steps: vec![
                (1, alive(0, true), Some((Running, Waiting))),
                (
                    2,
                    Observation::Exited { code: 0 },
                    Some((Waiting, Completed)),
                ),
                (3, Observation::Exited { code: 0 }, None),
                (4, Observation::InputSent, None),
            ],
        },
        Case {
            name: "failing to start is an error, announced once",
            idle_ms: 90_000,
            steps: vec![
                (
                    1,
                    Observation::FailedToStart {
                        reason: "no such file".into(),
                    },
                    Some((Running, Error)),
                ),
                (2, Observation::Exited { code: 1 }, None),
                (3, lost(), None),
            ],
        },
        Case {
            name: "a lost process is an error, not a kill",
            idle_ms: 90_000,
            steps: vec![
                (1, alive(0, true), Some((Running, Waiting))),
                (2, lost(), Some((Waiting, Error))),
                (3, Observation::Killed, None),
            ],
        },
    ]
}

#[test]
fn observation_sequences_give_the_expected_transitions() {
    for case in cases() {
        let reconciler = Reconciler {
            idle_threshold: Duration::from_millis(case.idle_ms),
        };
        let mut task = fresh_task();
        for (i, (now, observation, expected)) in case.steps.into_iter().enumerate() {
            let before = task.status;
            let change = reconciler.observe(&mut task, observation.clone(), ms(now));
            let got = change.as_ref().map(|c| (c.previous, c.status));
            assert_eq!(
                got, expected,
                "{}: step {i} ({observation:?} at {now})",
                case.name
            );
            if let Some(change) = change {
                assert_eq!(change.previous, before, "{}: step {i}", case.name);
                assert_eq!(change.at, ms(now), "{}: step {i}", case.name);
                assert_eq!(change.task_id, task.id, "{}: step {i}", case.name);
            }
            assert_eq!(
                task.status,
                expected.map_or(before, |(_, to)| to),
                "{}: step {i}",
                case.name
            );
        }
    }
}

#[test]
fn final_transitions_fill_the_record_the_way_the_payload_reports_it() {
    let reconciler = Reconciler::default();
    let finals: [(Observation, TaskStatus, Option<ErrorCause>); 4] = [
        (Observation::Exited { code: 2 }, Completed, None),
        (Observation::Killed, Killed, None),
        (
            Observation::FailedToStart {
                reason: "permission denied".into(),
            },
            Error,
            Some(ErrorCause::FailedToStart),
        ),
        (
            Observation::Lost {
                reason: "not running after restart".into(),
            },
            Error,
            Some(ErrorCause::Lost),
        ),
    ];
    for (observation, status, cause) in finals {
        let mut task = fresh_task();
        let change = reconciler
            .observe(&mut task, observation.clone(), ms(700))
            .expect("a live task reaches a final status");
        assert_eq!((change.status, change.reason), (status, cause));
        assert_eq!(task.finished_at, Some(ms(700)), "{observation:?}");
        assert_eq!(task.pid, None, "{observation:?}");
        task.version = 9;
        let data = change.to_data(&task);
        assert_eq!(data["task_id"], "task-1");
        assert_eq!(data["status"], status.as_str());
        assert_eq!(data["previous"], "running");
        assert_eq!(data["version"], 9);
        assert_eq!(data["at"], 700);
        assert_eq!(data["finished_at"], 700);
        assert_eq!(data.contains_key("exit_code"), status == Completed);
        assert_eq!(data.contains_key("error"), status == Error);
        assert_eq!(data.contains_key("reason"), status == Error);
        if status == Completed {
            assert_eq!(data["exit_code"], 2);
        }
    }
}

#[test]
fn a_waiting_payload_has_no_final_fields() {
    let reconciler = Reconciler::default();
    let mut task = fresh_task();
    let change = reconciler
        .observe(&mut task, alive(30, true), ms(40))
        .expect("blocked on read waits at once");
    task.version = 3;
    let data = change.to_data(&task);
    let mut keys: Vec<&str> = data.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "at",
            "last_activity_at",
            "previous",
            "status",
            "task_id",
            "version"
        ]
    );
    assert_eq!(data["status"], "waiting-for-input");
    assert_eq!(data["last_activity_at"], 30);
}
