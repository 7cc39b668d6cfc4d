//! What the driver and the machine exchange: configuration, inputs,
//! outputs and the status shown to people. Every input is typed: the
//! driver reads the wire (JSON, `EventSource` fields) and hands over only
//! what the machine decides on; an event's payload never enters it.

use core::time::Duration;

use crate::id::{Epoch, EventId};
use crate::time::Timestamp;

/// Tunables of the client machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientConfig {
    /// The smallest backoff delay; the first delay after a failure lies
    /// between this and three times this.
    pub backoff_initial: Duration,
    /// The largest backoff delay (unless the server's `retry:` asks for more).
    pub backoff_max: Duration,
    /// A connection live this long resets the backoff.
    pub stable_after: Duration,
    /// Down this long, the machine starts the poll fallback.
    pub poll_after: Duration,
    /// The poll fallback lists this often.
    pub poll_interval: Duration,
    /// The heartbeat to expect. `None` (the default) takes the server's
    /// `heartbeat_ms` from `ready` and [`DEFAULT_HEARTBEAT`] until one said.
    pub heartbeat: Option<Duration>,
    /// The watchdog: no byte for twice the heartbeat plus a margin means the
    /// connection is dead. On by default.
    pub watchdog: bool,
    /// A list that has not answered after this long counts as failed.
    pub list_timeout: Duration,
}

/// The heartbeat assumed before a server said its own (the server's default).
pub const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(15);

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            backoff_initial: Duration::from_secs(1),
            backoff_max: Duration::from_secs(30),
            stable_after: Duration::from_secs(10),
            poll_after: Duration::from_secs(10),
            poll_interval: Duration::from_secs(15),
            heartbeat: None,
            watchdog: true,
            list_timeout: Duration::from_secs(10),
        }
    }
}

/// How a connection or a list request failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The network failed or the connection dropped.
    Network,
    /// The server answered with this HTTP status.
    Http(u16),
    /// The server answered 200 with something other than `text/event-stream`
    /// (or, for a list, something that is not a list).
    WrongContentType,
    /// The request did not answer in time (a list past its deadline).
    Timeout,
}

/// Why the server ended a stream (`end` data `reason`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamEnd {
    /// `max-lifetime`: the stream reached its lifetime.
    MaxLifetime,
    /// `shutdown`: the server is stopping.
    Shutdown,
    /// A reason this client does not know; handled like any `end`.
    Other,
}

impl StreamEnd {
    /// Reads the `reason` of an `end` frame.
    pub fn from_reason(reason: &str) -> StreamEnd {
        match reason {
            "max-lifetime" => StreamEnd::MaxLifetime,
            "shutdown" => StreamEnd::Shutdown,
            _ => StreamEnd::Other,
        }
    }

    /// The wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            StreamEnd::MaxLifetime => "max-lifetime",
            StreamEnd::Shutdown => "shutdown",
            StreamEnd::Other => "other",
        }
    }
}

/// What the driver tells the machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Input {
    /// Start (or, after `unauthorized` or a server-side `closed` (404/410),
    /// start again; after [`Input::Close`] nothing starts the machine again).
    Start,
    /// The stream's response arrived: 200 with `text/event-stream`. Fed again
    /// on a live stream (a browser that reconnected the same `EventSource`
    /// by itself), it starts a new connection on the same stream.
    Opened,
    /// Bytes arrived (a comment counts): feeds the watchdog.
    BytesReceived,
    /// `event: ready`.
    Ready {
        /// The server's epoch.
        epoch: Epoch,
        /// The stream continues exactly from the id the client sent.
        resumed: bool,
        /// The newest event when the stream started: what it continues after.
        head: EventId,
        /// How often an idle stream sends a heartbeat (absent from older servers).
        heartbeat_ms: Option<u64>,
    },
    /// An application event (anything but `ready`, `lagged`, `heartbeat`
    /// and `end`) with its `id:`; `None` when it carried none (or one that
    /// is not an event id).
    Event {
        /// The event's id.
        id: Option<EventId>,
    },
    /// `event: lagged`: the subscriber lost `dropped` events.
    Lagged {
        /// How many.
        dropped: u64,
    },
    /// `event: heartbeat`: the stream is alive.
    Heartbeat,
    /// `event: end`.
    End(StreamEnd),
    /// A `ready`, `lagged` or `end` whose data could not be read: the
    /// server speaks another protocol; leave the connection.
    Malformed,
    /// A valid `retry:` field was read: the floor of every reconnect delay.
    Retry(u64),
    /// A `503`/`429` asked for this many milliseconds before the next attempt
    /// (`Retry-After`): feed it before the failure it came with.
    RetryAfter(u64),
    /// The connection failed or broke.
    Failed(Failure),
    /// The page became visible or hidden.
    Visibility {
        /// Visible now.
        visible: bool,
    },
    /// The browser went online or offline.
    Online {
        /// Online now.
        online: bool,
    },
    /// The page came back from the back/forward cache or from being frozen:
    /// check the stream at once (reconnect now if waiting, not before the
    /// server's floors; a live stream must show a byte within one heartbeat).
    Recheck,
    /// A list request answered with this cursor (after the stores applied it).
    ListFetched {
        /// The list's `cursor`.
        cursor: EventId,
    },
    /// A list request failed.
    ListFailed(Failure),
    /// The application closes the client for good.
    Close,
}

/// The connection state shown to people.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Status {
    /// Opening the stream.
    Connecting,
    /// The stream is open and ready.
    Live,
    /// Waiting to reconnect.
    Reconnecting,
    /// Down for a while: listing periodically until the stream is back.
    Polling,
    /// The server refused the credentials; no retry until told.
    Unauthorized,
    /// Closed by the application or the server (404 / 410), or not started.
    Closed,
}

impl Status {
    /// The wire/JS name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Status::Connecting => "connecting",
            Status::Live => "live",
            Status::Reconnecting => "reconnecting",
            Status::Polling => "polling",
            Status::Unauthorized => "unauthorized",
            Status::Closed => "closed",
        }
    }
}

/// Why the status is what it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// `Start` was fed.
    Start,
    /// The browser is offline: attempts wait for `online`.
    Offline,
    /// Back online.
    Online,
    /// The page became visible again.
    Visible,
    /// The page came back (back/forward cache, unfrozen).
    Recheck,
    /// `ready` with `resumed: true`.
    Resumed,
    /// `ready` with `resumed: false`.
    NotResumed,
    /// The connection (or a list) failed like this.
    Failed(Failure),
    /// No byte for the watchdog's window.
    Watchdog,
    /// The server sent something this client cannot read.
    Protocol,
    /// The server ended the stream; reconnecting at once.
    End(StreamEnd),
    /// The server ended the stream before it was stable: counted as a failure.
    EndTooSoon(StreamEnd),
    /// Closed by the application.
    Closed,
}

impl Reason {
    /// A short, stable name (`network`, `http`, `watchdog`, `end`, ...); the
    /// HTTP status and the end reason are in [`Reason::code`] and
    /// [`Reason::end`].
    pub const fn as_str(self) -> &'static str {
        match self {
            Reason::Start => "start",
            Reason::Offline => "offline",
            Reason::Online => "online",
            Reason::Visible => "visible",
            Reason::Recheck => "recheck",
            Reason::Resumed => "resumed",
            Reason::NotResumed => "not resumed",
            Reason::Failed(Failure::Network) => "network",
            Reason::Failed(Failure::Http(_)) => "http",
            Reason::Failed(Failure::WrongContentType) => "wrong content type",
            Reason::Failed(Failure::Timeout) => "timeout",
            Reason::Watchdog => "watchdog",
            Reason::Protocol => "protocol",
            Reason::End(_) => "end",
            Reason::EndTooSoon(_) => "end too soon",
            Reason::Closed => "closed by the application",
        }
    }

    /// The HTTP status of an HTTP failure.
    pub const fn code(self) -> Option<u16> {
        match self {
            Reason::Failed(Failure::Http(code)) => Some(code),
            _ => None,
        }
    }

    /// The end reason of an `end`.
    pub const fn end(self) -> Option<StreamEnd> {
        match self {
            Reason::End(end) | Reason::EndTooSoon(end) => Some(end),
            _ => None,
        }
    }
}

impl core::fmt::Display for Reason {
    /// `network`, `http 503`, `end: max-lifetime`, `watchdog`, ...
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match (self.code(), self.end()) {
            (Some(code), _) => write!(f, "http {code}"),
            (_, Some(end)) => write!(f, "{}: {}", self.as_str(), end.as_str()),
            _ => f.write_str(self.as_str()),
        }
    }
}

/// A status change with its context.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StatusReport {
    /// The new status.
    pub status: Status,
    /// Why.
    pub reason: Reason,
    /// When the next connection attempt is due, if one is planned.
    pub next_attempt: Option<Timestamp>,
}

/// Why the application must list again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResyncReason {
    /// The server could not resume from the cursor.
    NotResumed,
    /// The subscriber lagged and lost events.
    Lagged,
    /// A poll tick while the stream is down.
    Poll,
}

impl ResyncReason {
    /// The JS name (`not-resumed`, `lagged`, `poll`).
    pub const fn as_str(self) -> &'static str {
        match self {
            ResyncReason::NotResumed => "not-resumed",
            ResyncReason::Lagged => "lagged",
            ResyncReason::Poll => "poll",
        }
    }
}

/// What the machine asks the driver to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    /// Open a new stream (closing any old one first), sending this id as
    /// `Last-Event-ID` / `last_event_id`, and asking for `heartbeat=event`.
    Open {
        /// The cursor to resume from.
        last_event_id: Option<EventId>,
    },
    /// Close the current stream.
    Close,
    /// List again (`GET /api/tasks`), then report `ListFetched` or `ListFailed`.
    List(ResyncReason),
    /// Give up the list in flight (its deadline passed): abort it and tell
    /// the stores it failed. Its answer, should one still come, is not fed.
    AbandonList,
    /// The event just fed as [`Input::Event`] is new: hand it to the stores
    /// and listeners. An event the client already holds (a duplicate by id)
    /// yields nothing.
    Deliver {
        /// Its id.
        id: Option<EventId>,
    },
    /// The status changed.
    Status(StatusReport),
}
