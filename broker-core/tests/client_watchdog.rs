//! The watchdog: no bytes for twice the heartbeat closes and reconnects.
mod common;

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use core::time::Duration;

use broker_core::{Input, Output, Status};
use common::{config, opens, Harness};

#[test]
fn silence_for_twice_the_heartbeat_closes_and_reconnects() {
    let mut h = Harness::new(config(), 1);
    h.go_live(true);
    let out = h.advance(Duration::from_millis(29_999));
    assert!(out.is_empty() || h.machine.status() == Status::Live);
    assert_eq!(h.machine.status(), Status::Live);
    let out = h.advance(Duration::from_millis(1));
    assert_eq!(out[0], Output::Close);
    assert_eq!(h.machine.status(), Status::Reconnecting);
    assert!(common::reports(&out)[0].reason.starts_with("watchdog"));
    assert_eq!(h.machine.consecutive_failures(), 1);
    let (_, out) = h.until_open();
    assert_eq!(opens(&out).len(), 1);
}

#[test]
fn bytes_keep_a_quiet_connection_alive() {
    let mut h = Harness::new(config(), 2);
    h.go_live(true);
    for _ in 0..60 {
        let out = h.advance(Duration::from_secs(20));
        assert!(!out.contains(&Output::Close));
        h.input(Input::BytesReceived);
    }
    assert_eq!(h.machine.status(), Status::Live);
}

#[test]
fn a_connection_attempt_that_never_answers_is_abandoned() {
    let mut h = Harness::new(config(), 3);
    h.input(Input::Start);
    let out = h.advance(Duration::from_millis(29_999));
    assert!(!out.contains(&Output::Close));
    let out = h.advance(Duration::from_millis(1));
    assert_eq!(out[0], Output::Close);
    // Down since the start for more than poll_after: polling meanwhile.
    assert_eq!(h.machine.status(), Status::Polling);
    assert!(h.machine.next_attempt().is_some());
}
