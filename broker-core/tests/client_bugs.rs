//! One deterministic test per browser-side bug of issue 8: the resume point,
//! the list deadline, stray answers, the floors, the stable reset, rechecks.
mod common;

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use core::time::Duration;

use broker_core::{ClientConfig, Failure, Input, Output, Reason, ResyncReason, Status};
use common::{config, event, lagged, listed, lists, opens, ready, Harness};

#[test]
fn a_poll_list_while_down_does_not_move_the_resume_point() {
    let mut h = Harness::new(config(), 1);
    h.go_live(true);
    h.input(event("e-5"));
    h.fail(Failure::Network);
    // The server stays away: reconnects fail until the poll fallback lists.
    let mut polled = false;
    for _ in 0..100 {
        let out = h.fire_next().expect("deadlines");
        if lists(&out) == vec![ResyncReason::Poll] {
            polled = true;
            break;
        }
        if !opens(&out).is_empty() {
            h.fail(Failure::Http(503));
        }
    }
    assert!(polled);
    // The list reflects events e-6..e-9 (say, trigger.fired among them).
    h.listed("e-9");
    assert_eq!(
        h.cursor().as_deref(),
        Some("e-5"),
        "still the last event received"
    );
    let (_, out) = h.until_open();
    assert_eq!(
        opens(&out),
        vec![Some("e-5".to_owned())],
        "so e-6.. are replayed"
    );
}

#[test]
fn a_list_after_lagged_does_not_move_the_resume_point_when_the_stream_drops() {
    let mut h = Harness::new(config(), 2);
    h.go_live(true);
    h.input(event("e-3"));
    assert_eq!(lists(&h.input(lagged(2))), vec![ResyncReason::Lagged]);
    h.listed("e-20");
    h.fail(Failure::Network);
    let (_, out) = h.until_open();
    assert_eq!(opens(&out), vec![Some("e-3".to_owned())]);
}

#[test]
fn a_first_list_or_a_new_epochs_list_is_where_a_client_without_an_id_starts() {
    let mut h = Harness::new(config(), 3);
    h.input(Input::Start);
    h.fail(Failure::Network);
    // Down from the start: the poll fallback's list is all it holds.
    for _ in 0..100 {
        let out = h.fire_next().expect("deadlines");
        if lists(&out) == vec![ResyncReason::Poll] {
            break;
        }
        if !opens(&out).is_empty() {
            h.fail(Failure::Network);
        }
    }
    h.listed("e-7");
    assert_eq!(h.cursor().as_deref(), Some("e-7"));
    // While down, a list of a new epoch (the server restarted) is adopted.
    for _ in 0..100 {
        let out = h.fire_next().expect("deadlines");
        if lists(&out) == vec![ResyncReason::Poll] {
            break;
        }
        if !opens(&out).is_empty() {
            h.fail(Failure::Network);
        }
    }
    h.listed("f-9");
    assert_eq!(h.cursor().as_deref(), Some("f-9"));
}

#[test]
fn an_answer_with_no_list_asked_for_is_ignored() {
    let mut h = Harness::new(config(), 4);
    h.go_live(true);
    h.input(event("e-2"));
    assert!(h.listed("f-99").is_empty() || h.cursor().as_deref() == Some("e-2"));
    assert_eq!(h.cursor().as_deref(), Some("e-2"));
    assert!(!h.machine.is_listing());
    h.input(Input::ListFailed(Failure::Http(401)));
    assert_eq!(
        h.machine.status(),
        Status::Live,
        "a stray failure changes nothing"
    );
}

#[test]
fn a_list_that_never_answers_is_abandoned_and_retried_with_backoff() {
    let mut h = Harness::new(config(), 5);
    h.input(Input::Start);
    h.input(Input::Opened);
    let out = h.input(ready("e", false, "e-0"));
    assert_eq!(lists(&out), vec![ResyncReason::NotResumed]);
    let listed_at = h.now;
    let out = h.advance(Duration::from_secs(10));
    assert_eq!(out.first(), Some(&Output::AbandonList), "{out:?}");
    assert_eq!(h.now, listed_at + Duration::from_secs(10));
    assert!(!h.machine.is_listing());
    // The owed list comes back after its backoff (0.5–1 s for the first).
    let out = h.advance(Duration::from_secs(1));
    assert_eq!(lists(&out), vec![ResyncReason::NotResumed]);
    assert!(h.machine.is_listing());
}

#[test]
fn retry_after_is_a_floor_that_online_and_recheck_do_not_bypass() {
    let mut h = Harness::new(config(), 6);
    h.input(Input::Start);
    h.input(Input::RetryAfter(7_000));
    h.fail(Failure::Http(503));
    let failed_at = h.now;
    assert!(h.machine.next_attempt() >= Some(failed_at + Duration::from_secs(7)));
    h.advance(Duration::from_secs(1));
    for input in [
        Input::Online { online: true },
        Input::Recheck,
        Input::Visibility { visible: true },
    ] {
        assert!(
            opens(&h.input(input)).is_empty(),
            "{input:?} waits for the floor"
        );
    }
    let (at, _) = h.until_open();
    assert!(at >= failed_at + Duration::from_secs(7), "{at}");
    assert!(
        at <= failed_at + Duration::from_secs(7),
        "but no later: {at}"
    );
}

#[test]
fn a_stable_connection_resets_the_backoff_by_elapsed_time_even_without_its_timer() {
    let mut h = Harness::new(config(), 7);
    h.input(Input::Start);
    for _ in 0..5 {
        h.fail(Failure::Network);
        h.until_open();
    }
    assert_eq!(h.machine.consecutive_failures(), 5);
    h.connect(true);
    // A throttled tab: the stable timer never got to run, a minute passes.
    h.now = h.now + Duration::from_secs(60);
    let out = h.fail(Failure::Network);
    // Stable by elapsed time: a first failure again, reconnecting at once.
    assert_eq!(opens(&out).len(), 0);
    assert_eq!(h.machine.consecutive_failures(), 1);
    assert_eq!(h.machine.next_attempt(), Some(h.now));
}

#[test]
fn the_first_failure_of_a_live_connection_reconnects_at_once_the_next_backs_off() {
    let mut h = Harness::new(config(), 8);
    h.go_live(true);
    h.fail(Failure::Network);
    assert_eq!(h.machine.next_attempt(), Some(h.now));
    h.until_open();
    let failed = h.now;
    h.fail(Failure::Network);
    assert!(h.machine.next_attempt() >= Some(failed + Duration::from_secs(1)));
}

#[test]
fn a_recheck_on_a_live_stream_wants_a_byte_within_one_heartbeat() {
    let mut h = Harness::new(config(), 9);
    h.go_live(true);
    h.advance(Duration::from_secs(5));
    h.input(Input::Recheck);
    // 15 s heartbeat + 3.75 s margin, not the full 33.75 s window.
    let out = h.advance(Duration::from_millis(18_749));
    assert!(!out.contains(&Output::Close));
    let out = h.advance(Duration::from_millis(1));
    assert_eq!(out.first(), Some(&Output::Close));
    assert_eq!(common::reports(&out)[0].reason, Reason::Watchdog);
    // A byte in time clears it.
    let mut h = Harness::new(config(), 10);
    h.go_live(true);
    h.input(Input::Recheck);
    h.advance(Duration::from_secs(10));
    h.input(Input::Heartbeat);
    let out = h.advance(Duration::from_secs(20));
    assert!(!out.contains(&Output::Close));
}

#[test]
fn without_a_watchdog_nothing_else_changes() {
    let mut h = Harness::new(
        ClientConfig {
            watchdog: false,
            ..config()
        },
        11,
    );
    h.go_live(true);
    h.input(Input::Recheck);
    assert!(!h.advance(Duration::from_secs(100)).contains(&Output::Close));
    let _ = listed;
}
