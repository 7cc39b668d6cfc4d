//! Offline pauses reconnect attempts; online or visible again reconnects at
//! once (not before the server's `retry:`).
mod common;

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use core::time::Duration;

use broker_core::{Failure, Input, Status};
use common::{config, opens, Harness};

#[test]
fn offline_pauses_attempts_and_online_reconnects_at_once() {
    let mut h = Harness::new(config(), 1);
    h.go_live(true);
    h.input(Input::Online { online: false });
    h.fail(Failure::Network);
    assert_eq!(h.machine.next_attempt(), None);
    assert_eq!(h.machine.status(), Status::Reconnecting);
    let out = h.advance(Duration::from_secs(15));
    assert!(opens(&out).is_empty(), "no attempt while offline");
    let out = h.input(Input::Online { online: true });
    assert_eq!(opens(&out).len(), 1);
    assert_eq!(h.machine.status(), Status::Connecting);
}

#[test]
fn visible_again_reconnects_at_once_but_not_before_the_servers_retry() {
    let mut h = Harness::new(config(), 2);
    h.go_live(true);
    h.input(Input::Retry(4_000));
    h.input(Input::Visibility { visible: false });
    h.fail(Failure::Network);
    let failed_at = h.now;
    h.advance(Duration::from_secs(1));
    let out = h.input(Input::Visibility { visible: true });
    assert!(opens(&out).is_empty());
    assert_eq!(
        h.machine.next_attempt(),
        Some(failed_at + Duration::from_secs(4))
    );
    let (at, _) = h.until_open();
    assert_eq!(at, failed_at + Duration::from_secs(4));
}

#[test]
fn hiding_the_page_keeps_a_live_connection() {
    let mut h = Harness::new(config(), 3);
    h.go_live(true);
    let out = h.input(Input::Visibility { visible: false });
    assert!(out.is_empty());
    assert_eq!(h.machine.status(), Status::Live);
}
