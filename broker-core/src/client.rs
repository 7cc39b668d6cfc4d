//! The browser client's state machine: connect, resume, back off, poll while
//! down. IO-free: drivers (client-wasm around `EventSource`, the native
//! `tidings watch`) feed inputs with `now` and carry out the outputs.
//!
//! # Drive loop
//! Feed every [`Input`] with [`ClientMachine::handle_input`], drain
//! [`ClientMachine::poll_output`] until `None`, and arm one timer for
//! [`ClientMachine::poll_timeout`]; when it fires call
//! [`ClientMachine::handle_timeout`] and drain again. Answer every
//! [`Output::List`] with exactly one [`Input::ListFetched`] (after the store
//! has applied the list) or [`Input::ListFailed`].
//!
//! ```
//! use broker_core::{
//!     ClientConfig, ClientMachine, Input, Output, ResyncReason, Status, Timestamp,
//! };
//!
//! // The driver seeds the jitter (from `crypto.getRandomValues`, say).
//! let mut machine = ClientMachine::new(ClientConfig::default(), 0x5eed);
//! let now = Timestamp::from_millis(0);
//! machine.handle_input(Input::Start, now);
//! while let Some(output) = machine.poll_output() {
//!     match output {
//!         // Open an EventSource on /api/events?last_event_id=...
//!         Output::Open { last_event_id } => assert_eq!(last_event_id, None),
//!         Output::Close => {}                // close the EventSource
//!         Output::List(_reason) => {}        // GET /api/tasks, then ListFetched
//!         Output::Deliver(_message) => {}    // into the stores
//!         Output::Status(report) => assert_eq!(report.status, Status::Connecting),
//!     }
//! }
//! // One timer, the earliest deadline: here the poll fallback, since the
//! // stream has not come up for `poll_after` (10 s).
//! let deadline = machine.poll_timeout().expect("a deadline");
//! assert_eq!(deadline, Timestamp::from_millis(10_000));
//! machine.handle_timeout(deadline);
//! assert_eq!(machine.poll_output(), Some(Output::List(ResyncReason::Poll)));
//! assert_eq!(machine.status(), Status::Polling);
//! ```
//!
//! # States
//! `Start` → **connecting** (`Output::Open`) → `Opened` + the `ready` message →
//! **live**. A failure, a watchdog timeout, a protocol error or `end` leaves
//! the connection (`Output::Close`) for **reconnecting**: wait out a backoff,
//! then connect again with the cursor. Down for `poll_after`, the status
//! becomes **polling** and the machine lists every `poll_interval` until a
//! connection is live again (reconnect attempts go on meanwhile).
//!
//! # Rules
//! - **Backoff**: decorrelated jitter from a generator seeded by the driver:
//!   each delay is uniform between `backoff_initial` and three times the
//!   previous one, capped at `backoff_max`. The server's `retry:` is a floor
//!   (it may exceed the cap: the server asked for it). Failures are forgotten
//!   only once a connection stayed live for `stable_after`.
//! - **`end`**: after a connection that was live for at least `stable_after`,
//!   reconnect at once with the cursor, not counted as a failure. An `end`
//!   sooner than that (or before `ready`) counts as a failure, so a server
//!   that ends every stream at once cannot drive a reconnect loop.
//! - **Watchdog**: while connecting or live, no bytes for twice the
//!   heartbeat closes the connection and counts as a failure.
//! - **HTTP**: 401/403 (from the stream or a list) → `unauthorized`, nothing
//!   more until `Start`; 404, 410 and other 4xx except 408 and 429 → `closed`
//!   (the request itself is wrong and will not heal), restartable with
//!   `Start`; network errors, 5xx, 408, 429, other statuses and a wrong
//!   content type → backoff.
//! - **Lists**: `ready` with `resumed: false`, `lagged`, and poll ticks ask
//!   for a list; a resumed `ready` does not. At most one list is in flight: a
//!   need that arises meanwhile asks again once it answers (the list in flight
//!   may predate it). A list owed for `ready`/`lagged` that fails is retried
//!   on its own backoff until one succeeds, across reconnects; a failed poll
//!   list just waits for the next tick.
//! - **Cursor**: every delivered event's id becomes the cursor (unless it is
//!   no newer than the cursor in the same epoch, which happens after a list
//!   moved the cursor past events still arriving on the stream). A fetched
//!   list's cursor replaces it when it is newer in the same epoch, and when
//!   the epochs differ unless the machine is live on a connection of the
//!   cursor's own epoch. Why this never skips an event: the store has applied
//!   the list before `ListFetched` is fed, so every event up to the list's
//!   cursor is reflected, and a resume from it gets every later one; a foreign
//!   epoch never resumes, it only costs one more list. Why it never sticks on
//!   a foreign epoch: after a `ready` of a new epoch the list (of that epoch)
//!   is always adopted, and so is any list while down.
//! - **Online / visibility**: while offline the backoff timer is paused; back
//!   online (or visible again) while reconnecting, the machine connects at
//!   once, not earlier than the server's `retry:` after the last failure.
//!   Hiding the page changes nothing.
//! - **Close**: `Output::Close`, status `closed`, and nothing ever after,
//!   whatever the input.

mod backoff;
mod interface;
mod rules;
mod wire;

use core::time::Duration;
use std::collections::VecDeque;

use crate::id::Epoch;
use crate::sse::Message;
use crate::time::Timestamp;

use backoff::{millis, Backoff, Jitter};
use rules::{adopt_list_cursor, describe, moves_cursor, verdict, Verdict};

pub use interface::{ClientConfig, Failure, Input, Output, ResyncReason, Status, StatusReport};

/// The connection's life cycle; each variant carries what its timers need.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Conn {
    /// Before the first `Start`.
    Idle,
    /// A stream was asked for; waiting for `ready`.
    Connecting {
        /// The last time bytes (or the attempt itself) were seen: watchdog.
        last_bytes: Timestamp,
    },
    /// `ready` arrived.
    Live {
        /// When it went live: the `end` guard and the stable deadline.
        since: Timestamp,
        /// The last time bytes were seen: watchdog.
        last_bytes: Timestamp,
        /// Live for `stable_after` already (the backoff was reset).
        stable: bool,
    },
    /// Waiting out a backoff.
    Reconnecting {
        /// When to connect again; `None` while offline.
        until: Option<Timestamp>,
        /// When the connection failed: the `retry:` floor counts from here.
        failed_at: Timestamp,
    },
    /// 401/403: nothing until `Start`.
    Unauthorized,
    /// The server said the stream is gone (404/410, ...): nothing until `Start`.
    Stopped,
    /// Closed by the application: terminal.
    Closed,
}

/// The list request, at most one in flight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ListState {
    /// No list in flight and none owed.
    Idle,
    /// A list was asked for and not answered yet.
    InFlight {
        /// Why it was asked for.
        reason: ResyncReason,
        /// A need that arose while it was in flight: ask again after it.
        again: Option<ResyncReason>,
        /// Failed attempts of this owed list so far.
        failures: u32,
    },
    /// An owed list failed; ask again at `at`.
    RetryAt {
        /// When.
        at: Timestamp,
        /// Why it is owed.
        reason: ResyncReason,
        /// Failed attempts so far.
        failures: u32,
    },
}

/// Down since `since`: the poll fallback's schedule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Down {
    /// The next poll tick (the first one at `since + poll_after`).
    next_poll: Timestamp,
    /// The poll fallback is on.
    polling: bool,
}

/// The machine's timers, fired in this order within one `handle_timeout`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Timer {
    Watchdog,
    Stable,
    Reconnect,
    Poll,
    ListRetry,
}

const TIMERS: [Timer; 5] = [
    Timer::Watchdog,
    Timer::Stable,
    Timer::Reconnect,
    Timer::Poll,
    Timer::ListRetry,
];

/// The client state machine.
#[derive(Debug)]
pub struct ClientMachine {
    config: ClientConfig,
    jitter: Jitter,
    conn: Conn,
    down: Option<Down>,
    list: ListState,
    backoff: Backoff,
    retry_floor: Option<Duration>,
    cursor: Option<String>,
    live_epoch: Option<Epoch>,
    online: bool,
    reason: String,
    now: Timestamp,
    outputs: VecDeque<Output>,
    reported: Option<StatusReport>,
}

impl ClientMachine {
    /// A machine with its jitter generator seeded by the driver.
    pub fn new(config: ClientConfig, seed: u64) -> Self {
        ClientMachine {
            config,
            jitter: Jitter::new(seed),
            conn: Conn::Idle,
            down: None,
            list: ListState::Idle,
            backoff: Backoff::default(),
            retry_floor: None,
            cursor: None,
            live_epoch: None,
            online: true,
            reason: String::new(),
            now: Timestamp::ZERO,
            outputs: VecDeque::new(),
            reported: None,
        }
    }

    /// Feeds one input.
    pub fn handle_input(&mut self, input: Input, now: Timestamp) {
        if self.conn == Conn::Closed {
            return;
        }
        let now = self.clock(now);
        match input {
            Input::Start => self.on_start(now),
            Input::Opened | Input::BytesReceived => self.saw_bytes(now),
            Input::Message(message) => self.on_message(message, now),
            Input::Retry(ms) => {
                self.retry_floor = Some(Duration::from_millis(ms));
                self.saw_bytes(now);
            }
            Input::Failed(failure) => {
                if self.is_connected() {
                    self.fail(verdict(failure), describe(failure), now);
                }
            }
            Input::Visibility { visible } => {
                if visible {
                    self.expedite("visible", now);
                }
            }
            Input::Online { online } => {
                self.online = online;
                if online {
                    self.expedite("online", now);
                } else if let Conn::Reconnecting { until, .. } = &mut self.conn {
                    *until = None;
                    self.reason = "offline".to_owned();
                }
            }
            Input::ListFetched { cursor } => self.on_list_fetched(cursor),
            Input::ListFailed(failure) => self.on_list_failed(failure, now),
            Input::Close => {
                self.outputs.clear();
                self.conn = Conn::Closed;
                self.outputs.push_back(Output::Close);
                self.reason = "closed by the application".to_owned();
            }
        }
        self.report();
    }

    /// The deadline from [`ClientMachine::poll_timeout`] passed.
    ///
    /// Each timer fires at most once per call, so even zero durations cannot
    /// loop here; a deadline it sets at `now` is reported by the next
    /// `poll_timeout`.
    pub fn handle_timeout(&mut self, now: Timestamp) {
        if self.conn == Conn::Closed {
            return;
        }
        let now = self.clock(now);
        for timer in TIMERS {
            if self.deadline(timer).is_some_and(|at| at <= now) {
                self.fire(timer, now);
            }
        }
        self.report();
    }

    /// When the driver should call [`ClientMachine::handle_timeout`] next.
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        TIMERS.iter().filter_map(|t| self.deadline(*t)).min()
    }

    /// The next thing to do, until `None`.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// The current status (`closed` before the first `Start`).
    pub fn status(&self) -> Status {
        let polling = self.down.is_some_and(|d| d.polling);
        match self.conn {
            Conn::Idle | Conn::Stopped | Conn::Closed => Status::Closed,
            Conn::Unauthorized => Status::Unauthorized,
            Conn::Live { .. } => Status::Live,
            Conn::Connecting { .. } if polling => Status::Polling,
            Conn::Connecting { .. } => Status::Connecting,
            Conn::Reconnecting { .. } if polling => Status::Polling,
            Conn::Reconnecting { .. } => Status::Reconnecting,
        }
    }

    /// The id the next connection would resume from.
    pub fn cursor(&self) -> Option<&str> {
        self.cursor.as_deref()
    }

    /// When the next connection attempt is due, while waiting for one.
    pub fn next_attempt(&self) -> Option<Timestamp> {
        match self.conn {
            Conn::Reconnecting { until, .. } => until,
            _ => None,
        }
    }

    /// Failures since the last stable connection (what the backoff grows on).
    pub fn consecutive_failures(&self) -> u32 {
        self.backoff.failures
    }

    /// Whether a stream is being opened or is open (the driver holds one).
    pub fn is_connected(&self) -> bool {
        matches!(self.conn, Conn::Connecting { .. } | Conn::Live { .. })
    }

    fn clock(&mut self, now: Timestamp) -> Timestamp {
        self.now = self.now.max(now);
        self.now
    }

    fn is_running(&self) -> bool {
        matches!(
            self.conn,
            Conn::Connecting { .. } | Conn::Live { .. } | Conn::Reconnecting { .. }
        )
    }

    fn deadline(&self, timer: Timer) -> Option<Timestamp> {
        let watchdog = self.config.heartbeat.saturating_mul(2);
        match timer {
            Timer::Watchdog => match self.conn {
                Conn::Connecting { last_bytes } | Conn::Live { last_bytes, .. } => {
                    Some(last_bytes + watchdog)
                }
                _ => None,
            },
            Timer::Stable => match self.conn {
                Conn::Live {
                    since,
                    stable: false,
                    ..
                } => Some(since + self.config.stable_after),
                _ => None,
            },
            Timer::Reconnect => match self.conn {
                Conn::Reconnecting { until, .. } => until,
                _ => None,
            },
            Timer::Poll => match (&self.conn, self.down) {
                (Conn::Connecting { .. } | Conn::Reconnecting { .. }, Some(down)) => {
                    Some(down.next_poll)
                }
                _ => None,
            },
            Timer::ListRetry => match self.list {
                ListState::RetryAt { at, .. } if self.is_running() => Some(at),
                _ => None,
            },
        }
    }

    fn fire(&mut self, timer: Timer, now: Timestamp) {
        match timer {
            Timer::Watchdog => {
                let secs = self.config.heartbeat.saturating_mul(2).as_secs();
                self.fail(
                    Verdict::Retry,
                    format!("watchdog: no bytes for {secs}s"),
                    now,
                );
            }
            Timer::Stable => {
                if let Conn::Live { stable, .. } = &mut self.conn {
                    *stable = true;
                    self.backoff.reset();
                }
            }
            Timer::Reconnect => self.connect(now),
            Timer::Poll => {
                if let Some(down) = &mut self.down {
                    down.polling = true;
                    down.next_poll = now + self.config.poll_interval;
                }
                if self.list == ListState::Idle {
                    self.ask_list(ResyncReason::Poll);
                }
            }
            Timer::ListRetry => self.send_owed_list(),
        }
    }

    /// A list owed after a failure goes out now instead of at its retry time.
    fn send_owed_list(&mut self) {
        if let ListState::RetryAt {
            reason, failures, ..
        } = self.list
        {
            self.list = ListState::InFlight {
                reason,
                again: None,
                failures,
            };
            self.outputs.push_back(Output::List(reason));
        }
    }

    fn on_start(&mut self, now: Timestamp) {
        match self.conn {
            Conn::Idle | Conn::Unauthorized | Conn::Stopped => {
                self.backoff.reset();
                self.down = Some(self.down_from(now));
                self.reason = "start".to_owned();
                self.connect(now);
                self.send_owed_list();
            }
            Conn::Reconnecting { .. } => self.expedite("start", now),
            Conn::Connecting { .. } | Conn::Live { .. } | Conn::Closed => {}
        }
    }

    fn down_from(&self, now: Timestamp) -> Down {
        Down {
            next_poll: now + self.config.poll_after,
            polling: false,
        }
    }

    /// Asks for a stream now (or, offline, waits for `online`).
    fn connect(&mut self, now: Timestamp) {
        if !self.online {
            self.conn = Conn::Reconnecting {
                until: None,
                failed_at: now,
            };
            self.reason = "offline".to_owned();
            return;
        }
        self.outputs.push_back(Output::Open {
            last_event_id: self.cursor.clone(),
        });
        self.conn = Conn::Connecting { last_bytes: now };
    }

    /// While reconnecting: connect as soon as the server's `retry:` allows.
    fn expedite(&mut self, why: &str, now: Timestamp) {
        if !self.online {
            return;
        }
        if let Conn::Reconnecting { failed_at, .. } = self.conn {
            let earliest = failed_at + self.retry_floor.unwrap_or(Duration::ZERO);
            self.reason = why.to_owned();
            if earliest <= now {
                self.connect(now);
            } else {
                self.conn = Conn::Reconnecting {
                    until: Some(earliest),
                    failed_at,
                };
            }
        }
    }

    fn saw_bytes(&mut self, now: Timestamp) {
        match &mut self.conn {
            Conn::Connecting { last_bytes } | Conn::Live { last_bytes, .. } => *last_bytes = now,
            _ => {}
        }
    }

    /// Leaves the current connection after a failure.
    fn fail(&mut self, verdict: Verdict, reason: String, now: Timestamp) {
        if self.is_connected() {
            self.outputs.push_back(Output::Close);
        }
        if matches!(self.conn, Conn::Live { .. }) || self.down.is_none() {
            self.down = Some(self.down_from(now));
        }
        self.live_epoch = None;
        self.reason = reason;
        match verdict {
            Verdict::Retry => {
                let delay = self.backoff.next_delay(
                    &mut self.jitter,
                    self.config.backoff_initial,
                    self.config.backoff_max,
                );
                let delay = delay.max(self.retry_floor.unwrap_or(Duration::ZERO));
                self.conn = Conn::Reconnecting {
                    until: self.online.then_some(now + delay),
                    failed_at: now,
                };
            }
            Verdict::Unauthorized => {
                self.conn = Conn::Unauthorized;
                self.down = None;
            }
            Verdict::Stop => {
                self.conn = Conn::Stopped;
                self.down = None;
            }
        }
    }

    fn on_message(&mut self, message: Message, now: Timestamp) {
        if !self.is_connected() {
            return;
        }
        self.saw_bytes(now);
        let live_since = match self.conn {
            Conn::Live { since, .. } => Some(since),
            _ => None,
        };
        match (message.event.as_str(), live_since) {
            ("ready", None) => match wire::parse_ready(&message.data) {
                Ok(ready) => {
                    self.conn = Conn::Live {
                        since: now,
                        last_bytes: now,
                        stable: false,
                    };
                    self.live_epoch = Some(ready.epoch);
                    self.down = None;
                    if ready.resumed {
                        self.reason = "resumed".to_owned();
                    } else {
                        self.reason = "not resumed".to_owned();
                        self.ask_list(ResyncReason::NotResumed);
                    }
                }
                Err(e) => self.fail(Verdict::Retry, format!("protocol: {e}"), now),
            },
            ("ready", Some(_)) => {
                self.fail(Verdict::Retry, "protocol: second ready".to_owned(), now)
            }
            ("lagged", Some(_)) => match wire::parse_lagged(&message.data) {
                Ok(_) => self.ask_list(ResyncReason::Lagged),
                Err(e) => self.fail(Verdict::Retry, format!("protocol: {e}"), now),
            },
            ("end", since) => match wire::parse_end(&message.data) {
                Ok(reason) => {
                    let reason = format!("end: {reason}");
                    let lasted = since.is_some_and(|s| s + self.config.stable_after <= now);
                    if lasted {
                        self.outputs.push_back(Output::Close);
                        self.live_epoch = None;
                        self.down = Some(self.down_from(now));
                        self.reason = reason;
                        self.connect(now);
                    } else {
                        self.fail(Verdict::Retry, format!("{reason} (too soon)"), now);
                    }
                }
                Err(e) => self.fail(Verdict::Retry, format!("protocol: {e}"), now),
            },
            (_, None) => self.fail(
                Verdict::Retry,
                format!("protocol: {:?} before ready", message.event),
                now,
            ),
            (_, Some(_)) => {
                if moves_cursor(self.cursor.as_deref(), &message.last_event_id) {
                    self.cursor = Some(message.last_event_id.clone());
                }
                self.outputs.push_back(Output::Deliver(message));
            }
        }
    }

    /// A need to list: ask now, or after the list in flight answers.
    fn ask_list(&mut self, reason: ResyncReason) {
        match &mut self.list {
            ListState::Idle | ListState::RetryAt { .. } => {
                let failures = match self.list {
                    ListState::RetryAt { failures, .. } => failures,
                    _ => 0,
                };
                self.list = ListState::InFlight {
                    reason,
                    again: None,
                    failures,
                };
                self.outputs.push_back(Output::List(reason));
            }
            ListState::InFlight { again, .. } => {
                if reason != ResyncReason::Poll || again.is_none() {
                    *again = Some(reason);
                }
            }
        }
    }

    fn on_list_fetched(&mut self, cursor: String) {
        let live_epoch = match self.conn {
            Conn::Live { .. } => self.live_epoch,
            _ => None,
        };
        if adopt_list_cursor(self.cursor.as_deref(), &cursor, live_epoch) {
            self.cursor = Some(cursor);
        }
        if let ListState::InFlight { again, .. } = self.list {
            self.list = ListState::Idle;
            if let Some(reason) = again {
                self.ask_list(reason);
            }
        }
    }

    fn on_list_failed(&mut self, failure: Failure, now: Timestamp) {
        if let ListState::InFlight {
            reason,
            again,
            failures,
        } = self.list
        {
            let owed = again.or((reason != ResyncReason::Poll).then_some(reason));
            self.list = match owed {
                Some(reason) => {
                    let failures = failures.saturating_add(1);
                    let delay = self.list_delay(failures);
                    ListState::RetryAt {
                        at: now + delay,
                        reason,
                        failures,
                    }
                }
                None => ListState::Idle,
            };
        }
        if verdict(failure) == Verdict::Unauthorized && self.is_running() {
            self.fail(Verdict::Unauthorized, describe(failure), now);
        }
    }

    /// The delay before retrying an owed list: doubling from
    /// `backoff_initial`, capped, jittered over its upper half.
    fn list_delay(&mut self, failures: u32) -> Duration {
        let initial = millis(self.config.backoff_initial);
        let doubled = initial.saturating_mul(1u64 << failures.saturating_sub(1).min(32));
        let ceiling = doubled.min(millis(self.config.backoff_max)).max(1);
        Duration::from_millis(self.jitter.between(ceiling / 2, ceiling).max(1))
    }

    /// Emits a status report when status, reason or next attempt changed.
    fn report(&mut self) {
        if self.conn == Conn::Idle {
            return;
        }
        let report = StatusReport {
            status: self.status(),
            reason: self.reason.clone(),
            next_attempt: self.next_attempt(),
        };
        if self.reported.as_ref() != Some(&report) {
            self.reported = Some(report.clone());
            self.outputs.push_back(Output::Status(report));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn list_retry_delay_doubles_and_is_capped() {
        let mut m = ClientMachine::new(ClientConfig::default(), 3);
        for failures in 1..40 {
            let d = m.list_delay(failures);
            let ceiling = Duration::from_secs(1)
                .saturating_mul(1 << (failures - 1).min(31))
                .min(Duration::from_secs(30));
            assert!(d >= ceiling / 2 && d <= ceiling, "{failures}: {d:?}");
        }
    }
}
