//! The timing of one SSE stream, without IO: when to write what the driver
//! holds, when to send a heartbeat, and when (and why) to end.
//!
//! A stream's driver moves bytes and arms one timer; every decision about
//! time is made here, so it is tested on a simulated clock:
//!
//! - **Writes.** Data the driver holds goes out at once by default. With a
//!   `flush_delay` the session waits that long after data first became ready
//!   (to gather more into one write); with a `flush_interval` it writes at
//!   most once per interval (a task printing as fast as it can then costs one
//!   chunk per interval, not one per read). One write carries at most
//!   `max_write` bytes; the driver keeps the rest and reports it again.
//! - **Heartbeat.** After `heartbeat` without any write, the heartbeat frame
//!   in the asked-for form (a `: keep-alive` comment, or `event: heartbeat`
//!   for a browser, which cannot see comments).
//! - **End.** At the end of the stream's lifetime — the maximum minus up to
//!   10%, drawn from a generator the driver seeds, so clients that connected
//!   together do not reconnect together — on shutdown, or when the source is
//!   finished (a task's output stream): `end` with its reason, after whatever
//!   the driver still holds.
//!
//! The same session drives `GET /api/events` (data = the broker's frames)
//! and a task's live output stream (data = coalesced output chunks, with a
//! `flush_interval` of [`OUTPUT_FLUSH_INTERVAL`]).
//!
//! # Drive loop
//!
//! Tell the session about data ([`StreamSession::handle_data_ready`]),
//! shutdown and the end of the source; drain [`StreamSession::poll_action`]
//! until `None`, carrying out each [`Action`]; arm one timer for
//! [`StreamSession::poll_timeout`] and call [`StreamSession::handle_timeout`]
//! when it fires. Every `handle_*` call also fires whatever is due at `now`.
//!
//! ```
//! use broker_core::session::{Action, SessionConfig, StreamSession};
//! use broker_core::{EndReason, Timestamp};
//! use core::time::Duration;
//!
//! let config = SessionConfig {
//!     heartbeat: Duration::from_secs(15),
//!     max_lifetime: Duration::from_secs(1800),
//!     ..SessionConfig::default()
//! };
//! // The driver seeds the lifetime jitter (from the OS, say).
//! let mut session = StreamSession::new(config, 0x5eed, Timestamp::ZERO);
//! let mut wire: Vec<u8> = Vec::new();
//! let mut held = b"id: 1f-1\nevent: a\ndata: {}\n\n".to_vec(); // from the broker
//!
//! session.handle_data_ready(Timestamp::from_millis(5));
//! assert_eq!(session.poll_action(), Some(Action::Flush));
//! wire.append(&mut held);
//! assert_eq!(session.poll_action(), None);
//!
//! // Nothing more to write: the one timer is the heartbeat, 15 s after the write.
//! let at = session.poll_timeout().expect("a deadline");
//! assert_eq!(at, Timestamp::from_millis(15_005));
//! session.handle_timeout(at);
//! match session.poll_action() {
//!     Some(Action::Heartbeat(frame)) => wire.extend_from_slice(&frame),
//!     other => panic!("expected a heartbeat, got {other:?}"),
//! }
//!
//! // Shutdown: write what is held, then `end`, then close.
//! session.handle_shutdown(Timestamp::from_millis(20_000));
//! match session.poll_action() {
//!     Some(Action::End { reason, frame }) => {
//!         assert_eq!(reason, EndReason::Shutdown);
//!         wire.extend_from_slice(&frame);
//!     }
//!     other => panic!("expected the end, got {other:?}"),
//! }
//! assert!(session.is_ended());
//! assert_eq!(session.poll_timeout(), None);
//! assert!(wire.ends_with(b"event: end\ndata: {\"reason\":\"shutdown\"}\n\n"));
//! ```

use core::time::Duration;
use std::collections::VecDeque;

use bytes::Bytes;

use crate::jitter::Jitter;
use crate::sse::{end_frame, heartbeat_frame, EndReason, HeartbeatForm};
use crate::time::Timestamp;

/// The most bytes one write carries: large enough to coalesce any ordinary
/// burst into one write, small enough to bound what a slow stream holds.
pub const DEFAULT_MAX_WRITE: usize = 64 * 1024;

/// The spacing of a live output stream's chunks (design.md, "Live output").
pub const OUTPUT_FLUSH_INTERVAL: Duration = Duration::from_millis(50);

/// The timing of one stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionConfig {
    /// A heartbeat after this long without any write (at least 1 ms: a zero
    /// interval would ask for heartbeats without end).
    pub heartbeat: Duration,
    /// The heartbeat's form (`heartbeat=event` asks for the event form).
    pub heartbeat_form: HeartbeatForm,
    /// The stream ends after this, minus up to 10% at random.
    pub max_lifetime: Duration,
    /// Wait this long after data first became ready before writing it, so
    /// that more can join the same write. Zero writes at once.
    pub flush_delay: Duration,
    /// At most one data write per this interval. Zero does not limit.
    pub flush_interval: Duration,
    /// The most bytes one data write should carry.
    pub max_write: usize,
}

impl Default for SessionConfig {
    /// The server's defaults for `GET /api/events`: heartbeat 15 s (comment
    /// form), lifetime 1800 s, data written at once, 64 KiB per write.
    fn default() -> Self {
        SessionConfig {
            heartbeat: Duration::from_secs(15),
            heartbeat_form: HeartbeatForm::Comment,
            max_lifetime: Duration::from_secs(1800),
            flush_delay: Duration::ZERO,
            flush_interval: Duration::ZERO,
            max_write: DEFAULT_MAX_WRITE,
        }
    }
}

impl SessionConfig {
    /// The heartbeat interval in milliseconds, as `ready` announces it.
    pub fn heartbeat_ms(&self) -> u64 {
        millis(self.heartbeat).max(1)
    }
}

/// What the driver does next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Write the data held now (at most `max_write` bytes; report any rest
    /// with [`StreamSession::handle_data_ready`] again).
    Flush,
    /// Nothing was written for the heartbeat interval: write this frame.
    Heartbeat(Bytes),
    /// Write the data held, then this `end` frame, then close the stream.
    End {
        /// Why the stream ends.
        reason: EndReason,
        /// The `end` frame.
        frame: Bytes,
    },
}

/// Where the stream is in its life; each variant carries what its timers need.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Writing.
    Open {
        /// When the lifetime is up.
        ends_at: Timestamp,
        /// The last write of anything (the heartbeat counts from here).
        last_write: Timestamp,
        /// The last data write (the flush interval counts from here).
        last_flush: Option<Timestamp>,
        /// The last write before that data write (the heartbeat counts from
        /// here again when the data write turns out to have written nothing).
        write_before_flush: Timestamp,
        /// Since when the driver holds unwritten data, if it does.
        pending_since: Option<Timestamp>,
    },
    /// `end` was asked for; nothing follows.
    Ended {
        /// Why.
        reason: EndReason,
    },
}

/// The session's timers, fired in this order within one call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Timer {
    Lifetime,
    Flush,
    Heartbeat,
}

const TIMERS: [Timer; 3] = [Timer::Lifetime, Timer::Flush, Timer::Heartbeat];

/// The timing of one SSE stream (see the module docs).
#[derive(Debug)]
pub struct StreamSession {
    config: SessionConfig,
    phase: Phase,
    now: Timestamp,
    actions: VecDeque<Action>,
}

impl StreamSession {
    /// A stream opened at `now` (its `ready` frame, written by the driver,
    /// is its first write). `seed` draws this stream's lifetime: the maximum
    /// minus up to 10%.
    pub fn new(config: SessionConfig, seed: u64, now: Timestamp) -> Self {
        let max_ms = millis(config.max_lifetime);
        let cut = Jitter::new(seed).up_to(max_ms / 10);
        StreamSession {
            config,
            phase: Phase::Open {
                ends_at: now + Duration::from_millis(max_ms - cut),
                last_write: now,
                last_flush: None,
                write_before_flush: now,
                pending_since: None,
            },
            now,
            actions: VecDeque::new(),
        }
    }

    /// The configuration it runs with.
    pub fn config(&self) -> &SessionConfig {
        &self.config
    }

    /// When the stream's lifetime is up (`None` once it ended).
    pub fn ends_at(&self) -> Option<Timestamp> {
        match self.phase {
            Phase::Open { ends_at, .. } => Some(ends_at),
            Phase::Ended { .. } => None,
        }
    }

    /// Whether `end` was asked for (after it, nothing more is written).
    pub fn is_ended(&self) -> bool {
        matches!(self.phase, Phase::Ended { .. })
    }

    /// Why the stream ended, once it did.
    pub fn end_reason(&self) -> Option<EndReason> {
        match self.phase {
            Phase::Ended { reason } => Some(reason),
            Phase::Open { .. } => None,
        }
    }

    /// The driver holds data to write (new frames from the broker, output
    /// read from a log). Calling it again while data is pending changes
    /// nothing: the flush delay counts from the first call.
    pub fn handle_data_ready(&mut self, now: Timestamp) {
        let now = self.clock(now);
        if let Phase::Open { pending_since, .. } = &mut self.phase {
            pending_since.get_or_insert(now);
        }
        self.advance(now);
    }

    /// The server is shutting down: `end` with reason `shutdown` now.
    pub fn handle_shutdown(&mut self, now: Timestamp) {
        let now = self.clock(now);
        self.end(EndReason::Shutdown);
        self.advance(now);
    }

    /// The source has nothing more, ever (a finished task's output, all of
    /// it handed to the driver): `end` with reason `finished` now.
    pub fn handle_finished(&mut self, now: Timestamp) {
        let now = self.clock(now);
        self.end(EndReason::Finished);
        self.advance(now);
    }

    /// The last [`Action::Flush`] wrote nothing after all: what the driver
    /// held turned out not to be writable yet (an output stream's bytes that
    /// end inside a character). The heartbeat counts from the write before
    /// it, so a stream never stays silent for longer than its interval; the
    /// flush interval still counts from the flush.
    pub fn handle_flush_empty(&mut self, now: Timestamp) {
        let now = self.clock(now);
        if let Phase::Open {
            last_write,
            last_flush,
            write_before_flush,
            ..
        } = &mut self.phase
        {
            if *last_flush == Some(*last_write) {
                *last_write = *write_before_flush;
            }
        }
        self.advance(now);
    }

    /// The data write the last [`Action::Flush`] asked for went out only now
    /// (the driver had to fetch the data first: an output stream reads its
    /// log): the flush interval and the heartbeat count from here, so two
    /// writes are never closer than the interval however long a fetch took.
    pub fn handle_flush_written(&mut self, now: Timestamp) {
        let now = self.clock(now);
        if let Phase::Open {
            last_write,
            last_flush,
            ..
        } = &mut self.phase
        {
            *last_write = now;
            *last_flush = Some(now);
        }
        self.advance(now);
    }

    /// The deadline from [`StreamSession::poll_timeout`] passed. Each timer
    /// fires at most once per call, so no configuration can loop here.
    pub fn handle_timeout(&mut self, now: Timestamp) {
        let now = self.clock(now);
        self.advance(now);
    }

    /// When the driver should call [`StreamSession::handle_timeout`] next;
    /// `None` once the stream ended.
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        TIMERS.iter().filter_map(|t| self.deadline(*t)).min()
    }

    /// The next thing to do, until `None`.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    fn clock(&mut self, now: Timestamp) -> Timestamp {
        self.now = self.now.max(now);
        self.now
    }

    fn deadline(&self, timer: Timer) -> Option<Timestamp> {
        let Phase::Open {
            ends_at,
            last_write,
            last_flush,
            pending_since,
            ..
        } = self.phase
        else {
            return None;
        };
        match timer {
            Timer::Lifetime => Some(ends_at),
            Timer::Flush => pending_since.map(|since| {
                let gathered = since + self.config.flush_delay;
                match last_flush {
                    Some(last) => gathered.max(last + self.config.flush_interval),
                    None => gathered,
                }
            }),
            Timer::Heartbeat => {
                Some(last_write + Duration::from_millis(self.config.heartbeat_ms()))
            }
        }
    }

    /// Fires every timer due at `now`, in [`TIMERS`] order.
    fn advance(&mut self, now: Timestamp) {
        for timer in TIMERS {
            if self.deadline(timer).is_some_and(|at| at <= now) {
                self.fire(timer, now);
            }
        }
    }

    fn fire(&mut self, timer: Timer, now: Timestamp) {
        match timer {
            Timer::Lifetime => self.end(EndReason::MaxLifetime),
            Timer::Flush => {
                if let Phase::Open {
                    last_write,
                    last_flush,
                    write_before_flush,
                    pending_since,
                    ..
                } = &mut self.phase
                {
                    *write_before_flush = *last_write;
                    *last_write = now;
                    *last_flush = Some(now);
                    *pending_since = None;
                    self.actions.push_back(Action::Flush);
                }
            }
            Timer::Heartbeat => {
                if let Phase::Open { last_write, .. } = &mut self.phase {
                    *last_write = now;
                    self.actions.push_back(Action::Heartbeat(heartbeat_frame(
                        self.config.heartbeat_form,
                    )));
                }
            }
        }
    }

    /// Ends the stream (once): whatever was queued is superseded by the end,
    /// whose write carries the data the driver holds.
    fn end(&mut self, reason: EndReason) {
        if self.is_ended() {
            return;
        }
        self.phase = Phase::Ended { reason };
        self.actions.clear();
        self.actions.push_back(Action::End {
            reason,
            frame: end_frame(reason),
        });
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn ms(n: u64) -> Timestamp {
        Timestamp::from_millis(n)
    }

    fn config() -> SessionConfig {
        SessionConfig {
            heartbeat: Duration::from_millis(1000),
            max_lifetime: Duration::from_millis(100_000),
            ..SessionConfig::default()
        }
    }

    /// Runs the session's own deadlines up to `until`; returns each action
    /// with the time it came out.
    fn run_until(s: &mut StreamSession, until: u64) -> Vec<(u64, Action)> {
        let mut out = Vec::new();
        while let Some(at) = s.poll_timeout() {
            if at > ms(until) {
                break;
            }
            s.handle_timeout(at);
            while let Some(a) = s.poll_action() {
                out.push((at.as_millis(), a));
            }
        }
        out
    }

    fn actions(s: &mut StreamSession) -> Vec<Action> {
        std::iter::from_fn(|| s.poll_action()).collect()
    }

    fn beat() -> Action {
        Action::Heartbeat(heartbeat_frame(HeartbeatForm::Comment))
    }

    #[test]
    fn an_idle_stream_beats_once_per_interval() {
        let mut s = StreamSession::new(config(), 1, ms(0));
        let got = run_until(&mut s, 3500);
        assert_eq!(
            got,
            vec![(1000, beat()), (2000, beat()), (3000, beat())],
            "a heartbeat every interval, counted from the opening"
        );
    }

    #[test]
    fn a_write_postpones_the_heartbeat() {
        let mut s = StreamSession::new(config(), 1, ms(0));
        s.handle_data_ready(ms(700));
        assert_eq!(actions(&mut s), vec![Action::Flush]);
        assert_eq!(s.poll_timeout(), Some(ms(1700)));
        assert_eq!(run_until(&mut s, 2000), vec![(1700, beat())]);
    }

    #[test]
    fn the_event_form_is_a_visible_heartbeat() {
        let c = SessionConfig {
            heartbeat_form: HeartbeatForm::Event,
            ..config()
        };
        let mut s = StreamSession::new(c, 1, ms(0));
        assert_eq!(
            run_until(&mut s, 1000),
            vec![(
                1000,
                Action::Heartbeat(Bytes::from_static(b"event: heartbeat\ndata: {}\n\n"))
            )]
        );
    }

    #[test]
    fn the_lifetime_is_the_maximum_minus_up_to_ten_percent_and_follows_the_seed() {
        let ends: Vec<u64> = (0..400)
            .map(|seed| {
                let s = StreamSession::new(config(), seed, ms(500));
                s.ends_at().expect("open").as_millis() - 500
            })
            .collect();
        assert!(ends.iter().all(|&e| (90_000..=100_000).contains(&e)));
        // Spread over the whole window, not bunched.
        assert!(ends.iter().any(|&e| e < 91_000) && ends.iter().any(|&e| e > 99_000));
        let again = StreamSession::new(config(), 7, ms(500)).ends_at();
        assert_eq!(again, StreamSession::new(config(), 7, ms(500)).ends_at());
    }

    #[test]
    fn the_end_of_life_ends_with_max_lifetime_and_nothing_after() {
        let mut s = StreamSession::new(config(), 3, ms(0));
        let end = s.ends_at().expect("open").as_millis();
        let got = run_until(&mut s, u64::MAX);
        let (at, last) = got.last().cloned().expect("actions");
        assert_eq!(at, end);
        assert_eq!(
            last,
            Action::End {
                reason: EndReason::MaxLifetime,
                frame: end_frame(EndReason::MaxLifetime)
            }
        );
        assert_eq!(got.len() as u64, end / 1000 + 1, "heartbeats, then the end");
        assert!(s.is_ended());
        assert_eq!(s.end_reason(), Some(EndReason::MaxLifetime));
        assert_eq!(s.poll_timeout(), None);
        s.handle_data_ready(ms(end + 1));
        s.handle_shutdown(ms(end + 2));
        assert_eq!(actions(&mut s), vec![], "nothing after the end");
    }

    #[test]
    fn data_due_at_the_end_of_life_goes_out_with_the_end() {
        let mut s = StreamSession::new(config(), 3, ms(0));
        let end = s.ends_at().expect("open");
        s.handle_data_ready(end);
        assert_eq!(
            actions(&mut s),
            vec![Action::End {
                reason: EndReason::MaxLifetime,
                frame: end_frame(EndReason::MaxLifetime)
            }],
            "one end, whose write carries the data held"
        );
    }

    #[test]
    fn shutdown_and_finish_end_at_once_and_only_once() {
        let mut s = StreamSession::new(config(), 1, ms(0));
        s.handle_data_ready(ms(10));
        s.handle_shutdown(ms(10));
        // The flush not yet carried out is part of the end's write.
        assert_eq!(
            actions(&mut s),
            vec![Action::End {
                reason: EndReason::Shutdown,
                frame: end_frame(EndReason::Shutdown)
            }]
        );
        s.handle_finished(ms(11));
        assert_eq!(actions(&mut s), vec![]);
        let mut f = StreamSession::new(config(), 1, ms(0));
        f.handle_finished(ms(5));
        assert_eq!(
            actions(&mut f),
            vec![Action::End {
                reason: EndReason::Finished,
                frame: end_frame(EndReason::Finished)
            }]
        );
    }

    #[test]
    fn a_flush_interval_spaces_data_writes_and_writes_a_quiet_streams_first_data_at_once() {
        let c = SessionConfig {
            flush_interval: OUTPUT_FLUSH_INTERVAL,
            ..config()
        };
        let mut s = StreamSession::new(c, 1, ms(0));
        s.handle_data_ready(ms(100));
        assert_eq!(actions(&mut s), vec![Action::Flush], "first data at once");
        // Data keeps coming: one write per 50 ms, whatever the arrivals.
        let mut flushes = Vec::new();
        for t in (101..400).step_by(3) {
            s.handle_timeout(ms(t));
            s.handle_data_ready(ms(t));
            for a in actions(&mut s) {
                assert_eq!(a, Action::Flush);
                flushes.push(t);
            }
        }
        assert!(flushes.windows(2).all(|w| w[1] - w[0] >= 50), "{flushes:?}");
        assert!(flushes.len() >= 5, "{flushes:?}");
        // A quiet spell, then data again: at once.
        let _ = run_until(&mut s, 900);
        s.handle_data_ready(ms(900));
        assert_eq!(actions(&mut s), vec![Action::Flush]);
    }

    #[test]
    fn a_flush_that_wrote_nothing_does_not_postpone_the_heartbeat() {
        let c = SessionConfig {
            flush_interval: OUTPUT_FLUSH_INTERVAL,
            ..config()
        };
        let mut s = StreamSession::new(c, 1, ms(0));
        s.handle_data_ready(ms(800));
        assert_eq!(actions(&mut s), vec![Action::Flush]);
        s.handle_flush_empty(ms(801));
        assert_eq!(s.poll_timeout(), Some(ms(1000)), "counted from the opening");
        assert_eq!(run_until(&mut s, 1000), vec![(1000, beat())]);
        // A write after the flush (here a heartbeat) stands.
        s.handle_data_ready(ms(1500));
        assert_eq!(actions(&mut s), vec![Action::Flush]);
        s.handle_timeout(ms(2500));
        assert_eq!(actions(&mut s), vec![beat()]);
        s.handle_flush_empty(ms(2600));
        assert_eq!(s.poll_timeout(), Some(ms(3500)));
    }

    #[test]
    fn a_late_write_moves_the_flush_interval_and_the_heartbeat() {
        let c = SessionConfig {
            flush_interval: OUTPUT_FLUSH_INTERVAL,
            ..config()
        };
        let mut s = StreamSession::new(c, 1, ms(0));
        s.handle_data_ready(ms(100));
        assert_eq!(actions(&mut s), vec![Action::Flush]);
        // The data took 80 ms to fetch; more is ready at once.
        s.handle_flush_written(ms(180));
        s.handle_data_ready(ms(180));
        assert_eq!(actions(&mut s), vec![]);
        assert_eq!(s.poll_timeout(), Some(ms(230)), "50 ms after the write");
        assert_eq!(run_until(&mut s, 230), vec![(230, Action::Flush)]);
        s.handle_flush_written(ms(230));
        assert_eq!(
            s.poll_timeout(),
            Some(ms(1230)),
            "the heartbeat, from the write"
        );
    }

    #[test]
    fn a_flush_delay_gathers_data_from_the_first_ready() {
        let c = SessionConfig {
            flush_delay: Duration::from_millis(2),
            ..config()
        };
        let mut s = StreamSession::new(c, 1, ms(0));
        s.handle_data_ready(ms(10));
        s.handle_data_ready(ms(11));
        assert_eq!(actions(&mut s), vec![]);
        assert_eq!(s.poll_timeout(), Some(ms(12)));
        assert_eq!(run_until(&mut s, 12), vec![(12, Action::Flush)]);
    }

    #[test]
    fn a_zero_heartbeat_cannot_spin() {
        let c = SessionConfig {
            heartbeat: Duration::ZERO,
            ..config()
        };
        let mut s = StreamSession::new(c, 1, ms(0));
        assert_eq!(c.heartbeat_ms(), 1);
        s.handle_timeout(ms(5));
        assert_eq!(actions(&mut s), vec![beat()], "one per call at most");
        assert_eq!(s.poll_timeout(), Some(ms(6)));
    }

    #[test]
    fn time_never_runs_backwards() {
        let mut s = StreamSession::new(config(), 1, ms(1000));
        s.handle_timeout(ms(2000));
        assert_eq!(actions(&mut s), vec![beat()]);
        // A driver's clock that jumps back does not undo the write.
        s.handle_timeout(ms(1500));
        assert_eq!(actions(&mut s), vec![]);
        assert_eq!(s.poll_timeout(), Some(ms(3000)));
    }

    #[test]
    fn a_lifetime_shorter_than_the_heartbeat_ends_first() {
        let c = SessionConfig {
            max_lifetime: Duration::from_millis(300),
            ..config()
        };
        let mut s = StreamSession::new(c, 9, ms(0));
        let got = run_until(&mut s, 5000);
        assert_eq!(got.len(), 1);
        assert!(matches!(
            got[0],
            (
                270..=300,
                Action::End {
                    reason: EndReason::MaxLifetime,
                    ..
                }
            )
        ));
    }
}
