//! Lists exactly when needed, one at a time, and the cursor they leave.
mod common;

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use core::time::Duration;

use broker_core::{Failure, Input, Output, ResyncReason, Status};
use common::{config, delivered, end, event, lagged, lists, opens, ready, Harness};

#[test]
fn a_first_start_lists_because_nothing_resumes() {
    let mut h = Harness::new(config(), 1);
    let out = h.input(Input::Start);
    assert_eq!(opens(&out), vec![None]);
    let out = h.connect(false);
    assert_eq!(lists(&out), vec![ResyncReason::NotResumed]);
}

#[test]
fn a_resumed_ready_lists_nothing_and_events_move_the_cursor() {
    let mut h = Harness::new(config(), 2);
    h.go_live(false);
    assert_eq!(
        h.cursor().as_deref(),
        Some("e-0"),
        "not resumed: from the head"
    );
    h.listed("e-3");
    h.input(event("e-4"));
    h.fail(Failure::Network);
    let (_, out) = h.until_open();
    assert_eq!(opens(&out), vec![Some("e-4".to_owned())]);
    let out = h.connect(true);
    assert!(lists(&out).is_empty());
    let out = h.input(event("e-5"));
    assert_eq!(out, vec![delivered("e-5")]);
    assert_eq!(h.cursor().as_deref(), Some("e-5"));
}

#[test]
fn lagged_lists_and_the_list_never_moves_the_cursor_within_an_epoch() {
    let mut h = Harness::new(config(), 3);
    h.go_live(true);
    h.input(event("e-10"));
    let out = h.input(lagged(5));
    assert_eq!(lists(&out), vec![ResyncReason::Lagged]);
    h.input(event("e-20"));
    h.listed("e-25");
    assert_eq!(
        h.cursor().as_deref(),
        Some("e-20"),
        "the last real event, not the list's cursor"
    );
    // Events after it keep coming and move it.
    let out = h.input(event("e-21"));
    assert_eq!(out, vec![delivered("e-21")]);
    assert_eq!(h.cursor().as_deref(), Some("e-21"));
    // A repeated id is a duplicate: dropped.
    assert!(h.input(event("e-21")).is_empty());
    assert!(h.input(event("e-15")).is_empty());
    assert_eq!(h.cursor().as_deref(), Some("e-21"));
}

#[test]
fn a_need_while_a_list_is_in_flight_asks_once_more_after_it() {
    let mut h = Harness::new(config(), 4);
    h.go_live(false);
    let mut asked = 0;
    for _ in 0..3 {
        asked += lists(&h.input(lagged(1))).len();
    }
    assert_eq!(asked, 0, "one list in flight at a time");
    let out = h.listed("e-5");
    assert_eq!(lists(&out), vec![ResyncReason::Lagged]);
    let out = h.listed("e-6");
    assert!(lists(&out).is_empty());
}

#[test]
fn an_owed_list_that_fails_is_retried_across_reconnects() {
    let mut h = Harness::new(config(), 5);
    h.go_live(false);
    h.input(Input::ListFailed(Failure::Http(503)));
    h.fail(Failure::Network);
    let mut relisted = false;
    for _ in 0..100 {
        let out = h.fire_next().expect("deadlines");
        if lists(&out) == vec![ResyncReason::NotResumed] {
            relisted = true;
            break;
        }
        if !opens(&out).is_empty() {
            h.connect(true);
        }
    }
    assert!(
        relisted,
        "the owed list comes back although the stream resumed"
    );
}

#[test]
fn a_new_epochs_list_replaces_a_foreign_cursor() {
    let mut h = Harness::new(config(), 6);
    h.go_live(true);
    h.input(event("e-40"));
    // The server restarted with epoch f.
    h.fail(Failure::Network);
    let (_, out) = h.until_open();
    assert_eq!(opens(&out), vec![Some("e-40".to_owned())]);
    h.input(Input::Opened);
    let out = h.input(ready("f", false, "f-41"));
    assert_eq!(lists(&out), vec![ResyncReason::NotResumed]);
    h.listed("f-41");
    assert_eq!(h.cursor().as_deref(), Some("f-41"));
    // A stale list of the old epoch does not take over a live new epoch.
    h.input(lagged(1));
    h.listed("e-99");
    assert_eq!(h.cursor().as_deref(), Some("f-41"));
    h.advance(Duration::from_secs(11));
    let out = h.input(end("max-lifetime"));
    assert_eq!(opens(&out), vec![Some("f-41".to_owned())]);
    assert_eq!(h.machine.status(), Status::Connecting);
}

#[test]
fn protocol_errors_reconnect() {
    for bad in [Input::Malformed, event("e-1"), lagged(3)] {
        let mut h = Harness::new(config(), 7);
        h.input(Input::Start);
        h.input(Input::Opened);
        let out = h.input(bad);
        assert_eq!(out[0], Output::Close, "{bad:?} before or as ready");
        assert_eq!(h.machine.status(), Status::Reconnecting);
    }
    let mut h = Harness::new(config(), 8);
    h.go_live(true);
    let out = h.input(Input::Malformed);
    assert_eq!(out[0], Output::Close);
    // A ready whose head is of another epoch is not this protocol either.
    h.until_open();
    h.input(Input::Opened);
    let out = h.input(ready("e", true, "f-1"));
    assert_eq!(out[0], Output::Close);
}

#[test]
fn a_second_ready_on_one_stream_is_a_new_connection_not_an_error() {
    let mut h = Harness::new(config(), 9);
    h.go_live(true);
    h.input(event("e-3"));
    // The browser reconnected the EventSource by itself (after bfcache): a
    // new `open`, then a ready that resumed from the browser's own last id.
    h.input(Input::Opened);
    assert_eq!(h.machine.status(), Status::Connecting);
    let out = h.input(ready("e", true, "e-3"));
    assert!(!out.contains(&Output::Close), "{out:?}");
    assert_eq!(h.machine.status(), Status::Live);
    assert!(lists(&out).is_empty());
    // Or with no `open` in between, and not resumed: a list, no error.
    let out = h.input(ready("e", false, "e-9"));
    assert!(!out.contains(&Output::Close), "{out:?}");
    assert_eq!(lists(&out), vec![ResyncReason::NotResumed]);
    assert_eq!(h.cursor().as_deref(), Some("e-9"));
}
