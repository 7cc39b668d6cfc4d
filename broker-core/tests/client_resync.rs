//! Lists exactly when needed, one at a time, and the cursor they leave.
mod common;

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use core::time::Duration;

use broker_core::{Failure, Input, Output, ResyncReason, Status};
use common::{config, end, event, lagged, lists, opens, ready, Harness};

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
    h.input(Input::ListFetched {
        cursor: "e-3".into(),
    });
    let out = h.input(Input::Start);
    assert_eq!(opens(&out), vec![Some("e-3".to_owned())]);
    let out = h.connect(true);
    assert!(lists(&out).is_empty());
    let out = h.input(Input::Message(event("e-4")));
    assert_eq!(out, vec![Output::Deliver(event("e-4"))]);
    assert_eq!(h.machine.cursor(), Some("e-4"));
}

#[test]
fn lagged_lists_and_the_list_cursor_moves_forward_only() {
    let mut h = Harness::new(config(), 3);
    h.go_live(true);
    h.input(Input::Message(event("e-10")));
    let out = h.input(Input::Message(lagged(5)));
    assert_eq!(lists(&out), vec![ResyncReason::Lagged]);
    h.input(Input::Message(event("e-20")));
    h.input(Input::ListFetched {
        cursor: "e-25".into(),
    });
    assert_eq!(h.machine.cursor(), Some("e-25"));
    // Events the list already reflects still arrive: delivered, no rewind.
    let out = h.input(Input::Message(event("e-21")));
    assert_eq!(out, vec![Output::Deliver(event("e-21"))]);
    assert_eq!(h.machine.cursor(), Some("e-25"));
    let out = h.input(Input::Message(lagged(1)));
    assert_eq!(lists(&out).len(), 1);
    h.input(Input::Message(event("e-30")));
    h.input(Input::ListFetched {
        cursor: "e-28".into(),
    });
    assert_eq!(
        h.machine.cursor(),
        Some("e-30"),
        "an older list never rewinds"
    );
}

#[test]
fn a_need_while_a_list_is_in_flight_asks_once_more_after_it() {
    let mut h = Harness::new(config(), 4);
    h.go_live(false);
    let mut asked = 0;
    for _ in 0..3 {
        asked += lists(&h.input(Input::Message(lagged(1)))).len();
    }
    assert_eq!(asked, 0, "one list in flight at a time");
    let out = h.input(Input::ListFetched {
        cursor: "e-5".into(),
    });
    assert_eq!(lists(&out), vec![ResyncReason::Lagged]);
    let out = h.input(Input::ListFetched {
        cursor: "e-6".into(),
    });
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
    h.input(Input::Message(event("e-40")));
    // The server restarted with epoch f.
    h.fail(Failure::Network);
    let (_, out) = h.until_open();
    assert_eq!(opens(&out), vec![Some("e-40".to_owned())]);
    h.input(Input::Opened);
    let out = h.input(Input::Message(ready("f", false, "f-41")));
    assert_eq!(lists(&out), vec![ResyncReason::NotResumed]);
    h.input(Input::ListFetched {
        cursor: "f-41".into(),
    });
    assert_eq!(h.machine.cursor(), Some("f-41"));
    // A stale list of the old epoch does not take over a live new epoch.
    h.input(Input::Message(lagged(1)));
    h.input(Input::ListFetched {
        cursor: "e-99".into(),
    });
    assert_eq!(h.machine.cursor(), Some("f-41"));
    h.advance(Duration::from_secs(11));
    let out = h.input(Input::Message(end("max-lifetime")));
    assert_eq!(opens(&out), vec![Some("f-41".to_owned())]);
    assert_eq!(h.machine.status(), Status::Connecting);
}

#[test]
fn protocol_errors_reconnect() {
    for bad in [
        broker_core::Message {
            event: "ready".into(),
            data: "{".into(),
            last_event_id: String::new(),
        },
        event("e-1"),
        lagged(3),
    ] {
        let mut h = Harness::new(config(), 7);
        h.input(Input::Start);
        h.input(Input::Opened);
        let out = h.input(Input::Message(bad.clone()));
        assert_eq!(out[0], Output::Close, "{bad:?} before or as ready");
        assert_eq!(h.machine.status(), Status::Reconnecting);
    }
    let mut h = Harness::new(config(), 8);
    h.go_live(true);
    let out = h.input(Input::Message(broker_core::Message {
        event: "lagged".into(),
        data: "{\"dropped\":\"x\"}".into(),
        last_event_id: String::new(),
    }));
    assert_eq!(out[0], Output::Close);
    let out = {
        h.until_open();
        h.connect(true);
        h.input(Input::Message(ready("e", true, "e-0")))
    };
    assert_eq!(out[0], Output::Close, "a second ready is a protocol error");
}
