//! The browser client's state machine: connect, resume, back off, poll while
//! down. IO-free: drivers (client-wasm around `EventSource`, the native
//! `tidings watch`) feed typed inputs with `now` and carry out the outputs.
//! The payload of an event never enters the machine: it decides on ids.
//!
//! # Drive loop
//! Feed every [`Input`] with [`ClientMachine::handle_input`], drain
//! [`ClientMachine::poll_output`] until `None`, and arm one timer for
//! [`ClientMachine::poll_timeout`]; when it fires call
//! [`ClientMachine::handle_timeout`] and drain again. Answer every
//! [`Output::List`] with exactly one [`Input::ListFetched`] (after the store
//! has applied the list) or [`Input::ListFailed`], unless the machine gave it
//! up first ([`Output::AbandonList`]). After feeding an [`Input::Event`], an
//! [`Output::Deliver`] says the event is new: hand its payload on.
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
//!         // Open an EventSource on /api/events?heartbeat=event&last_event_id=...
//!         Output::Open { last_event_id } => assert_eq!(last_event_id, None),
//!         Output::Close => {}                // close the EventSource
//!         Output::List(_reason) => {}        // GET /api/tasks, then ListFetched
//!         Output::AbandonList => {}          // abort that request
//!         Output::Deliver { .. } => {}       // the event just fed is new
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
//! `Start` → **connecting** (`Output::Open`) → `Opened` + `ready` → **live**.
//! A failure, a watchdog timeout, a protocol error or `end` leaves the
//! connection (`Output::Close`) for **reconnecting**: wait out a backoff,
//! then connect again with the cursor. Down for `poll_after`, the status
//! becomes **polling** and the machine lists every `poll_interval` until a
//! connection is live again (reconnect attempts go on meanwhile).
//!
//! # Rules
//! - **Backoff**: decorrelated jitter from a generator seeded by the driver:
//!   each delay is uniform between `backoff_initial` and three times the
//!   previous one, capped at `backoff_max`. The first failure of a connection
//!   that was live, with no failure since the last stable one, reconnects at
//!   once (a dropped or dead connection is most often a one-off). The
//!   server's `retry:` and a `Retry-After` are floors (they may exceed the
//!   cap: the server asked for them), and nothing (visibility, `online`,
//!   `Recheck`) bypasses them. Failures are forgotten once a connection
//!   stayed live for `stable_after` — judged by elapsed time when the next
//!   failure comes, so a throttled timer cannot keep old failures counted.
//! - **`end`**: after a connection that was live for at least `stable_after`,
//!   reconnect at once with the cursor, not counted as a failure. An `end`
//!   sooner than that (or before `ready`) counts as a failure, so a server
//!   that ends every stream at once cannot drive a reconnect loop.
//! - **Watchdog** (on by default): while connecting or live, no byte for
//!   twice the heartbeat plus a margin (see `rules::watchdog_window`) closes
//!   the connection and counts as a failure. The heartbeat is the server's
//!   `heartbeat_ms` from `ready` unless the config fixes one. `Recheck` on a
//!   live connection shortens the wait to one heartbeat plus the margin.
//! - **HTTP**: 401/403 (from the stream or a list) → `unauthorized`, nothing
//!   more until `Start`; 404, 410 and other 4xx except 408 and 429 → `closed`
//!   (the request itself is wrong and will not heal), restartable with
//!   `Start`; network errors, 5xx, 408, 429, other statuses and a wrong
//!   content type → backoff.
//! - **Lists**: `ready` with `resumed: false`, `lagged`, and poll ticks ask
//!   for a list; a resumed `ready` does not. At most one list is in flight: a
//!   need that arises meanwhile asks again once it answers (the list in flight
//!   may predate it). A list has `list_timeout` to answer, or it counts as
//!   failed (`Output::AbandonList`). A list owed for `ready`/`lagged` that
//!   fails is retried on its own backoff until one succeeds, across
//!   reconnects; a failed poll list just waits for the next tick. An answer
//!   with no list in flight is ignored.
//! - **Cursor** (design.md, "Which id a client resumes from"): the id of the
//!   last real event delivered; a `ready` that did not resume sets it to the
//!   `head` the new stream continues after. A list's cursor replaces it only
//!   when the client holds no id of the list's epoch (its first list, or a
//!   list of a new epoch; a list of another epoch than the live connection's
//!   is stale and ignored): a list taken while the stream was down never moves
//!   the resume point forward, so the events of that epoch still in history
//!   (`trigger.fired`, any non-task event) still arrive. An event whose id is
//!   no newer than the cursor in its epoch is a duplicate and is dropped.
//! - **Second `ready`** on a live stream (a browser reconnected the same
//!   `EventSource` by itself): a new connection, handled like the first.
//! - **Online / visibility / recheck**: while offline the backoff timer is
//!   paused; back online, visible again or rechecked while reconnecting, the
//!   machine connects at once, not earlier than the floors. Hiding the page
//!   changes nothing.
//! - **Close**: `Output::Close`, status `closed`, and nothing ever after,
//!   whatever the input.

mod backoff;
mod interface;
mod rules;
#[cfg(feature = "serde")]
mod wire;

use alloc::collections::VecDeque;
use core::time::Duration;

use crate::id::{Epoch, EventId};
use crate::time::Timestamp;

use backoff::{millis, Backoff, Jitter};
use rules::{adopt_list_cursor, is_new, recheck_window, verdict, watchdog_window, Verdict};

pub use interface::{
    ClientConfig, Failure, Input, Output, Reason, ResyncReason, Status, StatusReport, StreamEnd,
    DEFAULT_HEARTBEAT,
};
#[cfg(feature = "serde")]
pub use wire::stream_input;

/// The connection's life cycle; each variant carries what its timers need.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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
        /// The epoch `ready` named.
        epoch: Epoch,
        /// After a `Recheck`: a byte must come by then.
        recheck_by: Option<Timestamp>,
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
        /// It counts as failed if it has not answered by then.
        deadline: Timestamp,
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
    ListDeadline,
    ListRetry,
}

const TIMERS: [Timer; 6] = [
    Timer::Watchdog,
    Timer::Stable,
    Timer::Reconnect,
    Timer::Poll,
    Timer::ListDeadline,
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
    /// The server's `retry:`: the floor of every reconnect delay.
    retry_floor: Option<Duration>,
    /// A `Retry-After`: the next attempt not before this.
    not_before: Option<Timestamp>,
    /// The heartbeat the last `ready` announced.
    server_heartbeat: Option<Duration>,
    cursor: Option<EventId>,
    online: bool,
    reason: Reason,
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
            not_before: None,
            server_heartbeat: None,
            cursor: None,
            online: true,
            reason: Reason::Start,
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
            Input::Opened => self.on_opened(now),
            Input::BytesReceived | Input::Heartbeat => self.saw_bytes(now),
            Input::Ready {
                epoch,
                resumed,
                head,
                heartbeat_ms,
            } => self.on_ready(epoch, resumed, head, heartbeat_ms, now),
            Input::Event { id } => self.on_event(id, now),
            Input::Lagged { .. } => match self.conn {
                Conn::Live { .. } => {
                    self.saw_bytes(now);
                    self.ask_list(ResyncReason::Lagged, now);
                }
                Conn::Connecting { .. } => self.fail(Verdict::Retry, Reason::Protocol, now),
                _ => {}
            },
            Input::End(end) => self.on_end(end, now),
            Input::Malformed => {
                if self.is_connected() {
                    self.fail(Verdict::Retry, Reason::Protocol, now);
                }
            }
            Input::Retry(ms) => {
                self.retry_floor = Some(Duration::from_millis(ms));
                self.saw_bytes(now);
            }
            Input::RetryAfter(ms) => {
                self.not_before = Some(now + Duration::from_millis(ms));
            }
            Input::Failed(failure) => {
                if self.is_connected() {
                    self.fail(verdict(failure), Reason::Failed(failure), now);
                }
            }
            Input::Visibility { visible } => {
                if visible {
                    self.expedite(Reason::Visible, now);
                }
            }
            Input::Online { online } => {
                self.online = online;
                if online {
                    self.expedite(Reason::Online, now);
                    // The network changed under a live connection: it must
                    // show a byte within one heartbeat.
                    self.on_recheck(now);
                } else if let Conn::Reconnecting { until, .. } = &mut self.conn {
                    *until = None;
                    self.reason = Reason::Offline;
                }
            }
            Input::Recheck => self.on_recheck(now),
            Input::ListFetched { cursor } => self.on_list_fetched(cursor, now),
            Input::ListFailed(failure) => self.on_list_failed(failure, now),
            Input::Close => {
                self.outputs.clear();
                self.conn = Conn::Closed;
                self.outputs.push_back(Output::Close);
                self.reason = Reason::Closed;
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
        if self.conn == Conn::Closed {
            return None;
        }
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
    pub fn cursor(&self) -> Option<EventId> {
        self.cursor
    }

    /// The epoch of the live connection, if one is live.
    pub fn live_epoch(&self) -> Option<Epoch> {
        match self.conn {
            Conn::Live { epoch, .. } => Some(epoch),
            _ => None,
        }
    }

    /// The heartbeat the watchdog expects now.
    pub fn heartbeat(&self) -> Duration {
        self.config
            .heartbeat
            .or(self.server_heartbeat)
            .unwrap_or(DEFAULT_HEARTBEAT)
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

    /// Whether a list is in flight (an answer is expected).
    pub fn is_listing(&self) -> bool {
        matches!(self.list, ListState::InFlight { .. })
    }

    /// The last status reported.
    pub fn report_now(&self) -> Option<StatusReport> {
        self.reported
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
        match timer {
            Timer::Watchdog => {
                if !self.config.watchdog {
                    return None;
                }
                let window = watchdog_window(self.heartbeat());
                match self.conn {
                    Conn::Connecting { last_bytes } => Some(last_bytes + window),
                    Conn::Live {
                        last_bytes,
                        recheck_by,
                        ..
                    } => {
                        let at = last_bytes + window;
                        Some(recheck_by.map_or(at, |r| r.min(at)))
                    }
                    _ => None,
                }
            }
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
            Timer::ListDeadline => match self.list {
                ListState::InFlight { deadline, .. } => Some(deadline),
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
            Timer::Watchdog => self.fail(Verdict::Retry, Reason::Watchdog, now),
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
                    self.ask_list(ResyncReason::Poll, now);
                }
            }
            Timer::ListDeadline => {
                self.outputs.push_back(Output::AbandonList);
                self.on_list_failed(Failure::Timeout, now);
            }
            Timer::ListRetry => self.send_owed_list(now),
        }
    }

    /// A list owed after a failure goes out now instead of at its retry time.
    fn send_owed_list(&mut self, now: Timestamp) {
        if let ListState::RetryAt {
            reason, failures, ..
        } = self.list
        {
            self.list = ListState::InFlight {
                reason,
                again: None,
                failures,
                deadline: now + self.config.list_timeout,
            };
            self.outputs.push_back(Output::List(reason));
        }
    }

    fn on_start(&mut self, now: Timestamp) {
        match self.conn {
            Conn::Idle | Conn::Unauthorized | Conn::Stopped => {
                self.backoff.reset();
                self.down = Some(self.down_from(now));
                self.reason = Reason::Start;
                self.connect(now);
                self.send_owed_list(now);
            }
            Conn::Reconnecting { .. } => self.expedite(Reason::Start, now),
            Conn::Connecting { .. } | Conn::Live { .. } | Conn::Closed => {}
        }
    }

    fn on_opened(&mut self, now: Timestamp) {
        match self.conn {
            // The browser reconnected the same stream by itself: a new
            // connection whose `ready` follows.
            Conn::Live { .. } => self.conn = Conn::Connecting { last_bytes: now },
            _ => self.saw_bytes(now),
        }
    }

    fn on_recheck(&mut self, now: Timestamp) {
        match &mut self.conn {
            Conn::Reconnecting { .. } => self.expedite(Reason::Recheck, now),
            Conn::Live { recheck_by, .. } => {
                *recheck_by = Some(
                    now + recheck_window(
                        self.config
                            .heartbeat
                            .or(self.server_heartbeat)
                            .unwrap_or(DEFAULT_HEARTBEAT),
                    ),
                );
            }
            _ => {}
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
            self.reason = Reason::Offline;
            return;
        }
        self.not_before = None;
        self.outputs.push_back(Output::Open {
            last_event_id: self.cursor,
        });
        self.conn = Conn::Connecting { last_bytes: now };
    }

    /// The earliest a new attempt may start after a failure at `failed_at`.
    fn floor(&self, failed_at: Timestamp) -> Timestamp {
        let retry = failed_at + self.retry_floor.unwrap_or(Duration::ZERO);
        self.not_before.map_or(retry, |nb| nb.max(retry))
    }

    /// While reconnecting: connect as soon as the server's floors allow.
    fn expedite(&mut self, why: Reason, now: Timestamp) {
        if !self.online {
            return;
        }
        if let Conn::Reconnecting { failed_at, .. } = self.conn {
            let earliest = self.floor(failed_at);
            self.reason = why;
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
            Conn::Connecting { last_bytes } => *last_bytes = now,
            Conn::Live {
                last_bytes,
                recheck_by,
                ..
            } => {
                *last_bytes = now;
                *recheck_by = None;
            }
            _ => {}
        }
    }

    /// Leaves the current connection after a failure.
    fn fail(&mut self, verdict: Verdict, reason: Reason, now: Timestamp) {
        if self.is_connected() {
            self.outputs.push_back(Output::Close);
        }
        let was_live = match self.conn {
            Conn::Live { since, .. } => {
                // Stable by elapsed time, whether or not the timer fired.
                if since + self.config.stable_after <= now {
                    self.backoff.reset();
                }
                true
            }
            _ => false,
        };
        if was_live || self.down.is_none() {
            self.down = Some(self.down_from(now));
        }
        self.reason = reason;
        match verdict {
            Verdict::Retry => {
                let delay = if was_live && self.backoff.failures == 0 {
                    self.backoff.count_immediate();
                    Duration::ZERO
                } else {
                    self.backoff.next_delay(
                        &mut self.jitter,
                        self.config.backoff_initial,
                        self.config.backoff_max,
                    )
                };
                // `not_before` stays until the next attempt: a recheck must
                // not bypass it either.
                let until = (now + delay).max(self.floor(now));
                self.conn = Conn::Reconnecting {
                    until: self.online.then_some(until),
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

    fn on_ready(
        &mut self,
        epoch: Epoch,
        resumed: bool,
        head: EventId,
        heartbeat_ms: Option<u64>,
        now: Timestamp,
    ) {
        if !self.is_connected() {
            return;
        }
        if head.epoch != epoch {
            return self.fail(Verdict::Retry, Reason::Protocol, now);
        }
        if let Some(ms) = heartbeat_ms {
            self.server_heartbeat = Some(Duration::from_millis(ms.max(1)));
        }
        self.conn = Conn::Live {
            since: now,
            last_bytes: now,
            stable: false,
            epoch,
            recheck_by: None,
        };
        self.down = None;
        if resumed {
            self.reason = Reason::Resumed;
        } else {
            // Nothing before `head` is owed to this stream, everything after
            // it will come: `head` is where a reconnect resumes until the
            // first event arrives.
            self.cursor = Some(head);
            self.reason = Reason::NotResumed;
            self.ask_list(ResyncReason::NotResumed, now);
        }
    }

    fn on_event(&mut self, id: Option<EventId>, now: Timestamp) {
        match self.conn {
            Conn::Live { .. } => {
                self.saw_bytes(now);
                match id {
                    Some(id) if !is_new(self.cursor, id) => {}
                    Some(id) => {
                        self.cursor = Some(id);
                        self.outputs.push_back(Output::Deliver { id: Some(id) });
                    }
                    None => self.outputs.push_back(Output::Deliver { id: None }),
                }
            }
            Conn::Connecting { .. } => self.fail(Verdict::Retry, Reason::Protocol, now),
            _ => {}
        }
    }

    fn on_end(&mut self, end: StreamEnd, now: Timestamp) {
        match self.conn {
            Conn::Live { since, .. } if since + self.config.stable_after <= now => {
                self.outputs.push_back(Output::Close);
                self.down = Some(self.down_from(now));
                self.reason = Reason::End(end);
                self.connect(now);
            }
            Conn::Live { .. } | Conn::Connecting { .. } => {
                self.fail(Verdict::Retry, Reason::EndTooSoon(end), now)
            }
            _ => {}
        }
    }

    /// A need to list: ask now, or after the list in flight answers.
    fn ask_list(&mut self, reason: ResyncReason, now: Timestamp) {
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
                    deadline: now + self.config.list_timeout,
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

    fn on_list_fetched(&mut self, cursor: EventId, now: Timestamp) {
        let ListState::InFlight { again, .. } = self.list else {
            return; // Nothing was asked for: a stray answer.
        };
        if adopt_list_cursor(self.cursor, cursor, self.live_epoch()) {
            self.cursor = Some(cursor);
        }
        self.list = ListState::Idle;
        if let Some(reason) = again {
            self.ask_list(reason, now);
        }
    }

    fn on_list_failed(&mut self, failure: Failure, now: Timestamp) {
        let ListState::InFlight {
            reason,
            again,
            failures,
            ..
        } = self.list
        else {
            return;
        };
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
        if verdict(failure) == Verdict::Unauthorized && self.is_running() {
            self.fail(Verdict::Unauthorized, Reason::Failed(failure), now);
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
            reason: self.reason,
            next_attempt: self.next_attempt(),
        };
        if self.reported != Some(report) {
            self.reported = Some(report);
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
