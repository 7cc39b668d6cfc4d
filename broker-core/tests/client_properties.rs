//! Properties of the client machine under random input sequences: no panic,
//! nothing after `Close`, never two streams at once, no deadline in the past.
#![cfg(not(target_arch = "wasm32"))]
// proptest's `prop_oneof!` builds its union on `Arc`; the ban is for the core.
#![allow(clippy::disallowed_types)]

use core::time::Duration;

use broker_core::{
    ClientConfig, ClientMachine, Epoch, EventId, Failure, Input, Output, StreamEnd, Timestamp,
};
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Step {
    Input(Input),
    /// Jump to the machine's deadline and fire it.
    Deadline,
    /// Fire `handle_timeout` at an arbitrary time (early, late or at once).
    TimeoutAfter(u64),
    /// Let time pass without telling the machine.
    Wait(u64),
}

fn failure() -> impl Strategy<Value = Failure> {
    prop_oneof![
        Just(Failure::Network),
        Just(Failure::WrongContentType),
        Just(Failure::Timeout),
        prop::sample::select(vec![200u16, 400, 401, 403, 404, 408, 410, 429, 500, 503])
            .prop_map(Failure::Http),
    ]
}

fn id() -> impl Strategy<Value = EventId> {
    (prop::sample::select(vec![0xeu64, 0xf]), 0u64..50)
        .prop_map(|(e, s)| EventId::new(Epoch::new(e), s))
}

fn stream_end() -> impl Strategy<Value = StreamEnd> {
    prop::sample::select(vec![
        StreamEnd::MaxLifetime,
        StreamEnd::Shutdown,
        StreamEnd::Other,
    ])
}

/// What a stream can say, typed as the drivers hand it over.
fn message() -> impl Strategy<Value = Input> {
    prop_oneof![
        (id(), any::<bool>(), id(), prop::option::of(0u64..40_000)).prop_map(
            |(e, resumed, head, heartbeat_ms)| Input::Ready {
                epoch: e.epoch,
                resumed,
                head,
                heartbeat_ms,
            }
        ),
        (0u64..9).prop_map(|dropped| Input::Lagged { dropped }),
        stream_end().prop_map(Input::End),
        Just(Input::Heartbeat),
        Just(Input::Malformed),
        prop::option::of(id()).prop_map(|id| Input::Event { id }),
    ]
}

fn input() -> impl Strategy<Value = Input> {
    prop_oneof![
        2 => Just(Input::Start),
        3 => Just(Input::Opened),
        2 => Just(Input::BytesReceived),
        8 => message(),
        1 => (0u64..100_000).prop_map(Input::RetryAfter),
        1 => Just(Input::Recheck),
        1 => (0u64..100_000).prop_map(Input::Retry),
        3 => failure().prop_map(Input::Failed),
        1 => any::<bool>().prop_map(|visible| Input::Visibility { visible }),
        1 => any::<bool>().prop_map(|online| Input::Online { online }),
        2 => id().prop_map(|cursor| Input::ListFetched { cursor }),
        2 => failure().prop_map(Input::ListFailed),
        1 => Just(Input::Close),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => input().prop_map(Step::Input),
        4 => Just(Step::Deadline),
        1 => (0u64..120_000).prop_map(Step::TimeoutAfter),
        1 => (0u64..120_000).prop_map(Step::Wait),
    ]
}

fn config() -> impl Strategy<Value = ClientConfig> {
    let ms = |hi: u64| (0..hi).prop_map(Duration::from_millis);
    (
        ms(3_000),
        ms(60_000),
        ms(20_000),
        ms(30_000),
        ms(30_000),
        prop::option::of(ms(30_000)),
        any::<bool>(),
        ms(30_000),
    )
        .prop_map(|(a, b, c, d, e, f, g, h)| ClientConfig {
            backoff_initial: a,
            backoff_max: b,
            stable_after: c,
            poll_after: d,
            poll_interval: e,
            heartbeat: f,
            watchdog: g,
            list_timeout: h,
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_inputs_keep_the_machines_promises(
        config in config(),
        seed in any::<u64>(),
        steps in prop::collection::vec(step(), 1..120),
    ) {
        let mut m = ClientMachine::new(config, seed);
        let mut now = Timestamp::ZERO;
        let mut stream_open = false;
        let mut closed = false;
        for step in steps {
            let was_closed = closed;
            match step {
                Step::Input(input) => {
                    closed |= input == Input::Close;
                    m.handle_input(input, now);
                }
                Step::Deadline => {
                    if let Some(at) = m.poll_timeout() {
                        now = now.max(at);
                    }
                    m.handle_timeout(now);
                    if let Some(at) = m.poll_timeout() {
                        prop_assert!(at >= now, "deadline {at} before {now}");
                    }
                }
                Step::TimeoutAfter(ms) => {
                    now = now + Duration::from_millis(ms);
                    m.handle_timeout(now);
                    if let Some(at) = m.poll_timeout() {
                        prop_assert!(at >= now, "deadline {at} before {now}");
                    }
                }
                Step::Wait(ms) => now = now + Duration::from_millis(ms),
            }
            let out: Vec<Output> = std::iter::from_fn(|| m.poll_output()).collect();
            if was_closed {
                prop_assert!(out.is_empty(), "output after Close: {out:?}");
            } else if closed {
                prop_assert_eq!(out.len(), 2);
                prop_assert_eq!(&out[0], &Output::Close);
                prop_assert!(matches!(&out[1], Output::Status(r) if r.status == broker_core::Status::Closed));
            }
            for o in &out {
                match o {
                    Output::Open { .. } => {
                        prop_assert!(!stream_open, "two streams at once: {out:?}");
                        stream_open = true;
                    }
                    Output::Close => stream_open = false,
                    _ => {}
                }
            }
            prop_assert_eq!(m.is_connected(), stream_open && !closed);
        }
    }
}
