//! `end`: an immediate resume with the last id, not a failure — unless the
//! connection ended too soon, which would otherwise allow a reconnect loop.
mod common;

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use core::time::Duration;

use broker_core::{Failure, Input, Output, Status};
use common::{config, end, event, opens, reports, Harness};

#[test]
fn end_resumes_at_once_with_the_last_id_and_is_not_counted() {
    let mut h = Harness::new(config(), 1);
    h.go_live(true);
    h.input(event("e-5"));
    h.advance(Duration::from_secs(11));
    let out = h.input(end("max-lifetime"));
    assert_eq!(out[0], Output::Close);
    assert_eq!(opens(&out), vec![Some("e-5".to_owned())]);
    let report = reports(&out).pop().expect("a report");
    assert_eq!(report.status, Status::Connecting);
    assert_eq!(report.reason.to_string(), "end: max-lifetime");
    assert_eq!(h.machine.consecutive_failures(), 0);
}

#[test]
fn end_does_not_reset_failures_the_connection_had_not_earned() {
    // Failures before a connection that went live and ended after a stable
    // period were reset by that period; an end itself adds none.
    let mut h = Harness::new(config(), 2);
    h.input(Input::Start);
    h.fail(Failure::Network);
    h.until_open();
    h.connect(true);
    h.advance(Duration::from_secs(12));
    h.input(end("shutdown"));
    assert_eq!(h.machine.consecutive_failures(), 0);
}

#[test]
fn an_end_too_soon_counts_as_a_failure_so_ends_cannot_loop() {
    let mut h = Harness::new(config(), 3);
    h.go_live(true);
    let mut last_wait = Duration::ZERO;
    let mut grew = false;
    for round in 1..=6u32 {
        let out = h.input(end("shutdown"));
        assert_eq!(out[0], Output::Close);
        assert!(opens(&out).is_empty(), "no immediate reconnect");
        assert_eq!(h.machine.status(), Status::Reconnecting);
        assert_eq!(h.machine.consecutive_failures(), round);
        let wait = h
            .machine
            .next_attempt()
            .expect("a planned attempt")
            .saturating_since(h.now);
        grew |= wait > last_wait;
        last_wait = wait;
        h.until_open();
        h.connect(true);
    }
    assert!(grew);
}

#[test]
fn end_before_ready_is_a_failure() {
    let mut h = Harness::new(config(), 4);
    h.input(Input::Start);
    h.input(Input::Opened);
    let out = h.input(end("max-lifetime"));
    assert_eq!(out[0], Output::Close);
    assert!(opens(&out).is_empty());
    assert_eq!(h.machine.consecutive_failures(), 1);
}
