//! The watchdog: no byte for twice the heartbeat plus a margin (33.75 s for
//! the 15 s heartbeat `ready` announces) closes and reconnects.
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
    let out = h.advance(Duration::from_millis(33_749));
    assert!(!out.contains(&Output::Close));
    assert_eq!(h.machine.status(), Status::Live);
    let out = h.advance(Duration::from_millis(1));
    assert_eq!(out[0], Output::Close);
    assert_eq!(
        common::reports(&out)[0].reason,
        broker_core::Reason::Watchdog
    );
    assert_eq!(h.machine.consecutive_failures(), 1);
    // The first failure of a live connection reconnects at once.
    assert_eq!(opens(&out).len(), 1, "{out:?}");
    assert_eq!(h.machine.status(), Status::Connecting);
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
    let out = h.advance(Duration::from_millis(33_749));
    assert!(!out.contains(&Output::Close));
    let out = h.advance(Duration::from_millis(1));
    assert_eq!(out[0], Output::Close);
    // Down since the start for more than poll_after: polling meanwhile.
    assert_eq!(h.machine.status(), Status::Polling);
    assert!(h.machine.next_attempt().is_some());
}

#[test]
fn the_window_follows_the_heartbeat_ready_announces() {
    let mut h = Harness::new(config(), 4);
    h.input(Input::Start);
    h.input(Input::Opened);
    h.input(common::ready_with_heartbeat("e", true, "e-0", 1_000));
    // 2 × 1 s + 250 ms.
    let out = h.advance(Duration::from_millis(2_249));
    assert!(!out.contains(&Output::Close));
    h.input(Input::Heartbeat);
    let out = h.advance(Duration::from_millis(2_249));
    assert!(!out.contains(&Output::Close), "a heartbeat event feeds it");
    let out = h.advance(Duration::from_millis(1));
    assert_eq!(out[0], Output::Close);
    assert_eq!(opens(&out).len(), 1, "reconnects at once: {out:?}");
}

#[test]
fn the_watchdog_can_be_turned_off() {
    let mut h = Harness::new(
        broker_core::ClientConfig {
            watchdog: false,
            ..config()
        },
        5,
    );
    h.go_live(true);
    let out = h.advance(Duration::from_secs(3600));
    assert!(!out.contains(&Output::Close));
    assert_eq!(h.machine.status(), Status::Live);
}
