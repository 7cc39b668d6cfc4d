//! The poll fallback: after `poll_after` down, list every `poll_interval`
//! while reconnect attempts go on; stop once live.
mod common;

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use core::time::Duration;

use broker_core::{ClientConfig, Failure, Input, Output, ResyncReason, Status, Timestamp};
use common::{config, end, lists, statuses, Harness};

/// Runs the clock to `until`, failing every connection attempt and
/// answering every list; returns each output with its time.
fn stay_down(h: &mut Harness, until: Timestamp) -> Vec<(Timestamp, Output)> {
    let mut seen = Vec::new();
    while let Some(at) = h.machine.poll_timeout() {
        if at > until {
            break;
        }
        let out = h.fire_next().expect("a deadline");
        for o in out {
            seen.push((h.now, o));
            match o {
                Output::Open { .. } => {
                    for o in h.fail(Failure::Network) {
                        seen.push((h.now, o));
                    }
                }
                Output::List(_) => {
                    h.listed("e-1");
                }
                _ => {}
            }
        }
    }
    h.now = until;
    seen
}

fn secs(s: u64) -> Timestamp {
    Timestamp::from_millis(s * 1000)
}

#[test]
fn poll_fallback_starts_after_poll_after_and_stops_once_live() {
    let mut h = Harness::new(config(), 9);
    h.input(Input::Start);
    h.fail(Failure::Network);
    let seen = stay_down(&mut h, secs(70));

    let poll_times: Vec<Timestamp> = seen
        .iter()
        .filter(|(_, o)| *o == Output::List(ResyncReason::Poll))
        .map(|(t, _)| *t)
        .collect();
    assert_eq!(poll_times, vec![secs(20), secs(35), secs(50), secs(65)]);
    let polling_at = seen
        .iter()
        .find(|(_, o)| matches!(o, Output::Status(r) if r.status == Status::Polling))
        .map(|(t, _)| *t);
    assert_eq!(polling_at, Some(secs(20)));
    let attempts_while_polling = seen
        .iter()
        .filter(|(t, o)| *t > secs(20) && matches!(o, Output::Open { .. }))
        .count();
    assert!(
        attempts_while_polling >= 1,
        "reconnects go on while polling"
    );

    // Back: the next attempt succeeds.
    h.until_open();
    assert_eq!(
        h.machine.status(),
        Status::Polling,
        "still polling while connecting"
    );
    let out = h.connect(true);
    assert_eq!(statuses(&out), vec![Status::Live]);
    assert!(lists(&out).is_empty(), "a resumed ready lists nothing");
    let mut later = Vec::new();
    for _ in 0..20 {
        later.extend(h.advance(Duration::from_secs(5)));
        later.extend(h.input(Input::BytesReceived));
    }
    assert!(lists(&later).is_empty(), "no polling once live: {later:?}");
    assert_eq!(h.machine.status(), Status::Live);
}

#[test]
fn no_poll_when_the_stream_comes_back_before_poll_after() {
    let mut h = Harness::new(config(), 10);
    h.go_live(true);
    h.advance(Duration::from_secs(11));
    h.input(end("max-lifetime"));
    h.advance(Duration::from_secs(19));
    let out = h.connect(true);
    assert_eq!(statuses(&out), vec![Status::Live]);
    let out = h.advance(Duration::from_secs(25));
    assert!(lists(&out).is_empty());
}

#[test]
fn a_poll_tick_while_a_list_is_in_flight_does_not_ask_again() {
    // A list deadline longer than the test: the list stays in flight.
    let mut h = Harness::new(
        ClientConfig {
            list_timeout: Duration::from_secs(1000),
            ..config()
        },
        11,
    );
    h.input(Input::Start);
    h.fail(Failure::Network);
    let mut polls = 0;
    for _ in 0..1000 {
        let Some(out) = h.fire_next() else { break };
        if h.now > secs(80) {
            break;
        }
        polls += lists(&out).len();
        if out.iter().any(|o| matches!(o, Output::Open { .. })) {
            h.fail(Failure::Network);
        }
    }
    assert_eq!(polls, 1, "one list, never answered, is never duplicated");
    // Once it fails, the next tick asks again.
    h.input(Input::ListFailed(Failure::Network));
    let mut asked = false;
    for _ in 0..1000 {
        let out = h.fire_next().expect("deadlines");
        if out.iter().any(|o| matches!(o, Output::Open { .. })) {
            h.fail(Failure::Network);
        }
        if lists(&out) == vec![ResyncReason::Poll] {
            asked = true;
            break;
        }
    }
    assert!(asked);
}
