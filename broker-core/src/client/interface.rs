//! What the driver and the machine exchange: configuration, inputs,
//! outputs and the status shown to people.

use core::time::Duration;

use crate::sse::Message;
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
    /// The server's heartbeat; no bytes for twice this long means the
    /// connection is dead (watchdog).
    pub heartbeat: Duration,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            backoff_initial: Duration::from_secs(1),
            backoff_max: Duration::from_secs(30),
            stable_after: Duration::from_secs(10),
            poll_after: Duration::from_secs(10),
            poll_interval: Duration::from_secs(15),
            heartbeat: Duration::from_secs(15),
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
    /// The server answered 200 with something other than `text/event-stream`.
    WrongContentType,
}

/// What the driver tells the machine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    /// Start (or, after `unauthorized` or a server-side `closed` (404/410),
    /// start again; after [`Input::Close`] nothing starts the machine again).
    Start,
    /// The stream's response arrived: 200 with `text/event-stream`.
    Opened,
    /// Bytes arrived (a comment counts): feeds the watchdog.
    BytesReceived,
    /// A message was dispatched, including `ready`, `lagged` and `end`.
    Message(Message),
    /// A valid `retry:` field was read.
    Retry(u64),
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
    /// A list request answered with this cursor.
    ListFetched {
        /// The list's `cursor`.
        cursor: String,
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
    pub fn as_str(self) -> &'static str {
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

/// A status change with its context.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusReport {
    /// The new status.
    pub status: Status,
    /// Why (`"network"`, `"http 503"`, `"end: max-lifetime"`, ...).
    pub reason: String,
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

/// What the machine asks the driver to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    /// Open a new stream (closing any old one first), sending this id as
    /// `Last-Event-ID` / `last_event_id`.
    Open {
        /// The cursor to resume from.
        last_event_id: Option<String>,
    },
    /// Close the current stream.
    Close,
    /// List again (`GET /api/tasks`), then report `ListFetched` or `ListFailed`.
    List(ResyncReason),
    /// An application event for the stores.
    Deliver(Message),
    /// The status changed.
    Status(StatusReport),
}
