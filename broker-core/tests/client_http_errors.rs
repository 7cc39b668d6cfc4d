//! How the machine answers failures: 401/403 stop until `Start`, 404/410
//! close, network / 5xx / 429 / wrong content type back off.
mod common;

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use core::time::Duration;

use broker_core::{Failure, Input, Output, Status};
use common::{config, opens, reports, Harness};

#[test]
fn unauthorized_stops_retrying_until_start() {
    for code in [401, 403] {
        let mut h = Harness::new(config(), 1);
        h.input(Input::Start);
        let out = h.fail(Failure::Http(code));
        assert_eq!(out[0], Output::Close);
        let report = reports(&out).pop().expect("a report");
        assert_eq!(report.status, Status::Unauthorized);
        assert_eq!(report.reason.to_string(), format!("http {code}"));
        assert_eq!(report.next_attempt, None);
        assert_eq!(h.machine.poll_timeout(), None);
        assert!(h.advance(Duration::from_secs(3600)).is_empty());
        assert!(h.input(Input::Online { online: true }).is_empty());
        assert!(h.input(Input::Visibility { visible: true }).is_empty());
        let out = h.input(Input::Start);
        assert_eq!(opens(&out).len(), 1);
        assert_eq!(h.machine.status(), Status::Connecting);
    }
}

#[test]
fn a_list_refused_for_credentials_is_unauthorized_too() {
    let mut h = Harness::new(config(), 2);
    h.go_live(false);
    let out = h.input(Input::ListFailed(Failure::Http(401)));
    assert_eq!(out[0], Output::Close);
    assert_eq!(h.machine.status(), Status::Unauthorized);
    assert_eq!(h.machine.poll_timeout(), None);
    // The owed list is asked for again with the new start.
    let out = h.input(Input::Start);
    assert_eq!(opens(&out).len(), 1);
    assert_eq!(common::lists(&out).len(), 1);
}

#[test]
fn not_found_and_gone_close_the_client() {
    for code in [404, 410] {
        let mut h = Harness::new(config(), 3);
        h.go_live(true);
        h.fail(Failure::Network);
        h.until_open();
        let out = h.fail(Failure::Http(code));
        assert_eq!(out[0], Output::Close);
        assert_eq!(h.machine.status(), Status::Closed);
        assert_eq!(h.machine.poll_timeout(), None);
        assert!(h.advance(Duration::from_secs(3600)).is_empty());
    }
}

#[test]
fn transient_failures_back_off() {
    for failure in [
        Failure::Network,
        Failure::Http(500),
        Failure::Http(502),
        Failure::Http(503),
        Failure::Http(429),
        Failure::WrongContentType,
    ] {
        let mut h = Harness::new(config(), 4);
        h.input(Input::Start);
        let out = h.fail(failure);
        assert_eq!(out[0], Output::Close, "{failure:?}");
        assert_eq!(h.machine.status(), Status::Reconnecting, "{failure:?}");
        let at = h.machine.next_attempt().expect("an attempt is planned");
        assert!(at > h.now);
        let (opened_at, _) = h.until_open();
        assert_eq!(opened_at, at);
    }
}

#[test]
fn a_failure_after_the_connection_is_gone_is_ignored() {
    let mut h = Harness::new(config(), 5);
    h.input(Input::Start);
    h.fail(Failure::Network);
    let at = h.machine.next_attempt();
    assert!(h.fail(Failure::Network).is_empty());
    assert!(h.fail(Failure::Http(401)).is_empty());
    assert_eq!(h.machine.next_attempt(), at);
    assert_eq!(h.machine.consecutive_failures(), 1);
}
