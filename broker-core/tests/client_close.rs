//! `Close` is final: one `Close`, status `closed`, and nothing ever after.
mod common;

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use core::time::Duration;

use broker_core::{Failure, Input, Output, Status};
use common::{config, event, listed, ready, Harness};

#[test]
fn no_output_after_close_whatever_the_input() {
    let mut h = Harness::new(config(), 1);
    h.go_live(false);
    h.input(event("e-1"));
    let out = h.input(Input::Close);
    assert_eq!(out.len(), 2);
    assert_eq!(out[0], Output::Close);
    assert!(matches!(&out[1], Output::Status(r) if r.status == Status::Closed));
    assert_eq!(h.machine.status(), Status::Closed);
    assert_eq!(h.machine.poll_timeout(), None);
    for input in [
        Input::Start,
        Input::Opened,
        Input::BytesReceived,
        ready("e", false, "e-1"),
        event("e-2"),
        Input::Retry(5),
        Input::Failed(Failure::Network),
        Input::Visibility { visible: true },
        Input::Online { online: true },
        listed("e-9"),
        Input::ListFailed(Failure::Http(500)),
        Input::Close,
    ] {
        assert!(h.input(input).is_empty());
        assert!(h.advance(Duration::from_secs(60)).is_empty());
    }
    assert_eq!(h.machine.status(), Status::Closed);
}

#[test]
fn close_while_reconnecting_drops_the_planned_attempt() {
    let mut h = Harness::new(config(), 2);
    h.input(Input::Start);
    h.fail(Failure::Network);
    h.input(Input::Close);
    assert_eq!(h.machine.poll_timeout(), None);
    assert!(h.advance(Duration::from_secs(600)).is_empty());
}
