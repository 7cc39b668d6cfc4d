//! Properties of the stream session under random timings, on a simulated
//! clock: a driver that fires every deadline on time never leaves a stream
//! silent for longer than the heartbeat, never writes data sooner than the
//! flush delay and interval allow nor later than they ask, ends exactly once
//! (and within its jittered lifetime unless told to end sooner), writes
//! nothing after `end`, and is never asked to wake up in the past.
#![cfg(not(target_arch = "wasm32"))]
// proptest's `prop_oneof!` builds its union on `Arc`; the ban is for the core.
#![allow(clippy::disallowed_types)]

use core::time::Duration;

use broker_core::session::{Action, SessionConfig, StreamSession};
use broker_core::sse::HeartbeatForm;
use broker_core::{EndReason, Timestamp};
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Step {
    /// Let this many milliseconds pass, firing every deadline on the way.
    Wait(u64),
    /// The driver got data to write.
    Data,
    /// Shutdown.
    Shutdown,
    /// The source finished.
    Finished,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => (0u64..400).prop_map(Step::Wait),
        5 => Just(Step::Data),
        1 => Just(Step::Shutdown),
        1 => Just(Step::Finished),
    ]
}

fn config() -> impl Strategy<Value = SessionConfig> {
    (
        1u64..300,
        500u64..5_000,
        prop_oneof![Just(0u64), 1u64..30],
        prop_oneof![Just(0u64), 1u64..80],
        any::<bool>(),
    )
        .prop_map(
            |(heartbeat, lifetime, delay, interval, event_form)| SessionConfig {
                heartbeat: Duration::from_millis(heartbeat),
                heartbeat_form: if event_form {
                    HeartbeatForm::Event
                } else {
                    HeartbeatForm::Comment
                },
                max_lifetime: Duration::from_millis(lifetime),
                flush_delay: Duration::from_millis(delay),
                flush_interval: Duration::from_millis(interval),
                ..SessionConfig::default()
            },
        )
}

/// What the driver saw, checked as it goes.
struct Driver {
    session: StreamSession,
    config: SessionConfig,
    now: u64,
    last_write: u64,
    last_flush: Option<u64>,
    pending_since: Option<u64>,
    ended: Option<(u64, EndReason)>,
}

impl Driver {
    fn new(config: SessionConfig, seed: u64, opened: u64) -> Self {
        Driver {
            session: StreamSession::new(config, seed, Timestamp::from_millis(opened)),
            config,
            now: opened,
            last_write: opened,
            last_flush: None,
            pending_since: None,
            ended: None,
        }
    }

    fn ms(d: Duration) -> u64 {
        d.as_millis() as u64
    }

    /// Carries out every action, checking each against the rules.
    fn collect(&mut self) {
        while let Some(action) = self.session.poll_action() {
            assert!(self.ended.is_none(), "{action:?} after the end");
            let gap = self.now - self.last_write;
            assert!(
                gap <= Self::ms(self.config.heartbeat).max(1),
                "silent for {gap} ms"
            );
            match action {
                Action::Flush => {
                    let since = self.pending_since.take().expect("a flush with data held");
                    assert!(self.now >= since + Self::ms(self.config.flush_delay));
                    if let Some(last) = self.last_flush {
                        assert!(self.now >= last + Self::ms(self.config.flush_interval));
                    }
                    self.last_flush = Some(self.now);
                }
                Action::Heartbeat(_) => {
                    assert_eq!(
                        gap,
                        Self::ms(self.config.heartbeat).max(1),
                        "a heartbeat only after a silent interval"
                    );
                }
                Action::End { reason, .. } => {
                    self.ended = Some((self.now, reason));
                    self.pending_since = None;
                }
            }
            self.last_write = self.now;
        }
        if self.ended.is_none() {
            let at = self
                .session
                .poll_timeout()
                .expect("an open stream has a deadline");
            assert!(at.as_millis() > self.now, "a deadline at or before now");
        } else {
            assert_eq!(self.session.poll_timeout(), None);
        }
        // Data held is written as soon as delay and interval allow.
        if let Some(since) = self.pending_since {
            let mut due = since + Self::ms(self.config.flush_delay);
            if let Some(last) = self.last_flush {
                due = due.max(last + Self::ms(self.config.flush_interval));
            }
            assert!(due > self.now, "data held past its flush time");
        }
    }

    fn wait(&mut self, dt: u64) {
        let until = self.now + dt;
        while let Some(at) = self.session.poll_timeout() {
            let at = at.as_millis();
            if at > until {
                break;
            }
            self.now = at;
            self.session.handle_timeout(Timestamp::from_millis(at));
            self.collect();
        }
        self.now = until;
    }

    fn step(&mut self, step: &Step) {
        let now = Timestamp::from_millis(self.now);
        let was_open = self.ended.is_none();
        match step {
            Step::Wait(dt) => return self.wait(*dt),
            Step::Data => {
                if self.ended.is_none() {
                    self.pending_since.get_or_insert(self.now);
                }
                self.session.handle_data_ready(now);
            }
            Step::Shutdown => self.session.handle_shutdown(now),
            Step::Finished => self.session.handle_finished(now),
        }
        self.collect();
        if let (Step::Shutdown | Step::Finished, true) = (step, was_open) {
            let (at, reason) = self.ended.expect("told to end, it ends");
            assert_eq!(at, self.now, "told to end, it ends at once");
            let asked = match step {
                Step::Shutdown => EndReason::Shutdown,
                _ => EndReason::Finished,
            };
            assert_eq!(reason, asked);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 512,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn an_on_time_driver_sees_every_timing_rule_hold(
        config in config(),
        seed in any::<u64>(),
        opened in 0u64..1_000_000,
        steps in proptest::collection::vec(step(), 0..120),
    ) {
        let mut d = Driver::new(config, seed, opened);
        let max = Driver::ms(config.max_lifetime);
        let ends_at = d.session.ends_at().expect("open").as_millis() - opened;
        prop_assert!(ends_at <= max && ends_at >= max - max / 10);
        for step in &steps {
            d.step(step);
        }
        // Left alone, every stream ends with its lifetime at the latest.
        d.wait(max + 1);
        let (at, reason) = d.ended.expect("ended");
        prop_assert!(at <= opened + ends_at);
        if reason == EndReason::MaxLifetime {
            prop_assert_eq!(at, opened + ends_at);
        }
        prop_assert!(d.session.is_ended());
        prop_assert_eq!(d.session.end_reason(), Some(reason));
    }
}
