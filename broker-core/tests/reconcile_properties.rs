//! Random observation streams against the reconciler's promises.
#![cfg(not(target_arch = "wasm32"))]
// proptest's `prop_oneof!` shares its strategies through `Arc`; the core's
// no-`Arc` rule is about the library, not its test harness.
#![allow(clippy::disallowed_types)]

use broker_core::{Observation, Reconciler, Task, TaskId, TaskKind, TaskStatus, Timestamp};
use core::time::Duration;
use proptest::prelude::*;

fn observation() -> impl Strategy<Value = Observation> {
    // Mostly live observations, so that runs stay alive long enough to
    // flicker; the final ones still turn up in most runs.
    prop_oneof![
        12 => (0u64..2_000, any::<bool>()).prop_map(|(at, blocked)| Observation::Alive {
            last_output_at: Timestamp::from_millis(at),
            blocked_on_read: blocked,
        }),
        3 => Just(Observation::InputSent),
        1 => (-1i32..256).prop_map(|code| Observation::Exited { code }),
        1 => Just(Observation::Killed),
        1 => Just(Observation::FailedToStart { reason: "no such command".into() }),
        1 => Just(Observation::Lost { reason: "lost on restart".into() }),
    ]
}

fn task() -> Task {
    Task {
        id: TaskId::new("p").expect("valid id"),
        name: "p".into(),
        kind: TaskKind::Command,
        command: "sleep 1".into(),
        workdir: "/".into(),
        status: TaskStatus::Running,
        version: 1,
        created_at: Timestamp::ZERO,
        finished_at: None,
        exit_code: None,
        error: None,
        pid: Some(1),
        last_activity_at: Timestamp::ZERO,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn transitions_are_real_announced_once_and_final_is_final(
        idle_ms in 0u64..1_500,
        // Times may step back: a host's clock is not ours to trust.
        steps in prop::collection::vec((observation(), 0u64..2_500), 1..60),
    ) {
        let reconciler = Reconciler { idle_threshold: Duration::from_millis(idle_ms) };
        let mut task = task();
        let mut last_announced: Option<TaskStatus> = None;
        // The newest output or input seen so far, kept independently of the
        // task record: only news past it may wake a waiting task.
        let mut newest_activity = Timestamp::ZERO;
        for (observation, now) in steps {
            let now = Timestamp::from_millis(now);
            let before = task.clone();
            let evidence = match &observation {
                Observation::InputSent => true,
                Observation::Alive { last_output_at, .. } => *last_output_at > newest_activity,
                _ => false,
            };
            let change = reconciler.observe(&mut task, observation.clone(), now);
            if !before.status.is_final() {
                match &observation {
                    Observation::InputSent => newest_activity = newest_activity.max(now),
                    Observation::Alive { last_output_at, .. } => {
                        newest_activity = newest_activity.max(*last_output_at);
                    }
                    _ => {}
                }
            }
            if before.status.is_final() {
                prop_assert_eq!(&change, &None, "a final status changed");
                prop_assert_eq!(&task, &before, "a final task was modified");
                continue;
            }
            match change {
                Some(change) => {
                    prop_assert_eq!(change.previous, before.status);
                    prop_assert_eq!(change.status, task.status);
                    prop_assert_ne!(change.status, change.previous);
                    prop_assert_ne!(Some(change.status), last_announced, "same status announced twice in a row");
                    prop_assert_eq!(change.at, now);
                    if change.previous == TaskStatus::WaitingForInput
                        && change.status == TaskStatus::Running
                    {
                        prop_assert!(evidence, "woke up without new output or input: {:?}", observation);
                    }
                    if change.status.is_final() {
                        prop_assert_eq!(task.finished_at, Some(now));
                        prop_assert_eq!(task.pid, None);
                    }
                    last_announced = Some(change.status);
                }
                None => prop_assert_eq!(task.status, before.status, "status changed silently"),
            }
            prop_assert_eq!(task.version, before.version, "the reconciler set the version");
            prop_assert_eq!(task.last_activity_at, newest_activity);
        }
    }
}
