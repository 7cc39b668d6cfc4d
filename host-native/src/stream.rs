//! `GET /api/events`: one SSE stream, written straight from the broker.
//!
//! A stream is not a task: it is the response body itself, a small state
//! machine that hyper polls whenever the connection can take more bytes.
//! Each poll drains everything the subscriber has ready into one buffer and
//! hands it over as one frame (coalescing), so a burst of events costs one
//! write. When the client stops reading, hyper stops polling and the
//! subscriber lags inside the broker (then gets `lagged`); when the client
//! goes away, hyper drops the body, and with it the subscription and the
//! stream's slot under the cap.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use broker_core::session::{Action, SessionConfig, StreamSession};
use broker_core::sse::{ready_frame, HeartbeatForm};
use broker_core::{Filter, Timestamp};
use bytes::{Bytes, BytesMut};
use hyper::header::{HeaderMap, HeaderValue, CACHE_CONTROL, CONTENT_TYPE};
use hyper::{Response, StatusCode};
use tokio::sync::futures::OwnedNotified;
use tokio::time::{Instant, Sleep};

use crate::body::Body;
use crate::error::ApiError;
use crate::hub::{Hub, Subscription};
use crate::random::Jitter;

/// The query of `GET /api/events`.
#[derive(Debug, Default)]
pub struct StreamQuery {
    /// `types=`.
    pub types: Option<String>,
    /// `task=`.
    pub task: Option<String>,
    /// `last_event_id=`.
    pub last_event_id: Option<String>,
    /// `heartbeat=event`: heartbeats as `event: heartbeat` instead of a
    /// comment (a browser's `EventSource` hides comments).
    pub heartbeat: HeartbeatForm,
}

impl StreamQuery {
    /// Reads the known parameters; others are ignored (a cache-busting `_=`
    /// must not break a stream). A repeated parameter is refused, and so is a
    /// `heartbeat=` other than `event` or `comment`.
    pub fn parse(query: Option<&str>) -> Result<Self, ApiError> {
        let mut q = StreamQuery::default();
        let mut heartbeat: Option<String> = None;
        for (key, value) in crate::router::query_pairs(query.unwrap_or("")) {
            let slot = match key.as_ref() {
                "heartbeat" => &mut heartbeat,
                "types" => &mut q.types,
                "task" => &mut q.task,
                "last_event_id" => &mut q.last_event_id,
                _ => continue,
            };
            if slot.is_some() {
                return Err(ApiError::BadRequest(format!(
                    "query parameter `{key}` given twice"
                )));
            }
            *slot = Some(value.into_owned());
        }
        q.heartbeat = match heartbeat.as_deref() {
            None | Some("comment") => HeartbeatForm::Comment,
            Some("event") => HeartbeatForm::Event,
            Some(other) => {
                return Err(ApiError::BadRequest(format!(
                    "heartbeat must be `event` or `comment`, not {other:?}"
                )))
            }
        };
        Ok(q)
    }
}

/// Settings every stream shares.
#[derive(Debug)]
pub struct StreamSettings {
    /// `retry:`.
    pub retry: Duration,
    /// Keep-alive interval.
    pub heartbeat: Duration,
    /// Maximum lifetime before jitter.
    pub lifetime: Duration,
    /// The cap on open streams.
    pub max_streams: usize,
    /// Open streams now.
    pub open: AtomicUsize,
    /// Streams refused by the cap since start.
    pub refused: AtomicUsize,
    /// Task output streams open now (also counted in `open`).
    pub output_open: AtomicUsize,
    /// Writes (body frames) task output streams handed to the connection.
    pub output_writes: AtomicU64,
    /// Bytes task output streams handed to the connection.
    pub output_bytes: AtomicU64,
    /// Seeds each stream's session (its lifetime jitter).
    pub jitter: Jitter,
    /// The origin of the sessions' [`Timestamp`]s.
    pub origin: Instant,
}

impl StreamSettings {
    /// The timing of one stream in the asked-for heartbeat form.
    fn session_config(&self, heartbeat_form: HeartbeatForm) -> SessionConfig {
        SessionConfig {
            heartbeat: self.heartbeat,
            heartbeat_form,
            max_lifetime: self.lifetime,
            ..SessionConfig::default()
        }
    }

    /// Now, as the sessions count time: milliseconds since `origin`.
    pub(crate) fn now(&self) -> Timestamp {
        let ms = Instant::now()
            .saturating_duration_since(self.origin)
            .as_millis();
        Timestamp::from_millis(u64::try_from(ms).unwrap_or(u64::MAX))
    }

    /// The instant a session's deadline names.
    pub(crate) fn instant(&self, at: Timestamp) -> Instant {
        self.origin + Duration::from_millis(at.as_millis())
    }
}

/// A place under the stream cap, given back on drop. Event streams and task
/// output streams share the cap.
#[derive(Debug)]
pub(crate) struct Permit {
    settings: Arc<StreamSettings>,
}

impl Permit {
    pub(crate) fn acquire(settings: &Arc<StreamSettings>) -> Option<Permit> {
        let before = settings.open.fetch_add(1, Ordering::SeqCst);
        if before >= settings.max_streams {
            settings.open.fetch_sub(1, Ordering::SeqCst);
            settings.refused.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        Some(Permit {
            settings: Arc::clone(settings),
        })
    }
}

impl Permit {
    /// The settings the permit was taken under.
    pub(crate) fn settings(&self) -> &Arc<StreamSettings> {
        &self.settings
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.settings.open.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Opens a stream: checks the cap and the filter, subscribes (live and
/// history at once, under the hub's lock) and answers with the headers; the
/// `ready` frame and any replay go out as the first write.
pub fn open(
    hub: &Hub,
    settings: &Arc<StreamSettings>,
    headers: &HeaderMap,
    query: Option<&str>,
) -> Result<Response<Body>, ApiError> {
    let query = StreamQuery::parse(query)?;
    let filter = Filter::parse(query.types.as_deref(), query.task.as_deref())
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    // The header wins over the query; a header that is not text is taken as
    // absent (and so does not resume).
    let resume = match headers.get("last-event-id") {
        Some(value) => value.to_str().ok().map(str::to_owned),
        None => query.last_event_id,
    };
    let permit = Permit::acquire(settings).ok_or(ApiError::Unavailable {
        retry_after: settings.retry.max(Duration::from_secs(1)),
    })?;
    let (subscription, ready) = hub.subscribe(filter, resume.as_deref());
    let wake = Box::pin(hub.wake_up());
    let session = StreamSession::new(
        settings.session_config(query.heartbeat),
        settings.jitter.next_u64(),
        settings.now(),
    );
    let retry_ms = u64::try_from(settings.retry.as_millis()).unwrap_or(u64::MAX);
    let heartbeat_ms = session.config().heartbeat_ms();
    let first_deadline = session
        .poll_timeout()
        .map_or_else(Instant::now, |at| settings.instant(at));
    let stream = EventStream {
        // `ready` (and any replay, drained at the first poll) is the first write.
        buf: BytesMut::from(&ready_frame(retry_ms, heartbeat_ms, &ready)[..]),
        subscription,
        wake,
        timer: Box::pin(tokio::time::sleep_until(first_deadline)),
        session,
        permit,
    };
    let mut response = Response::new(Body::Stream(Box::new(stream)));
    *response.status_mut() = StatusCode::OK;
    let h = response.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    h.insert(
        CACHE_CONTROL,
        HeaderValue::from_static("no-cache, no-store, must-revalidate"),
    );
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    Ok(response)
}

/// One open SSE stream (the response body): the broker subscription, the
/// bytes not yet handed to hyper, and the core's [`StreamSession`] deciding
/// when to write, beat and end. This driver only moves bytes and arms the
/// one timer the session asks for.
pub struct EventStream {
    subscription: Subscription,
    /// Frames waiting to be written: the `ready` frame at first, then each
    /// drain. Split off (not copied) into the frame handed to hyper.
    buf: BytesMut,
    /// Fires on the next publish or close after it was created.
    wake: Pin<Box<OwnedNotified>>,
    /// Armed for the session's next deadline.
    timer: Pin<Box<Sleep>>,
    session: StreamSession,
    permit: Permit,
}

impl std::fmt::Debug for EventStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventStream")
            .field("subscription", &self.subscription)
            .field("ended", &self.session.is_ended())
            .finish()
    }
}

impl EventStream {
    /// The next bytes to write, `None` at the end of the stream.
    pub fn poll_next_frame(&mut self, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        loop {
            if let Some(action) = self.session.poll_action() {
                return Poll::Ready(Some(self.carry_out(action)));
            }
            if self.session.is_ended() {
                return Poll::Ready(None);
            }
            let now = self.permit.settings.now();
            let max_write = self.session.config().max_write;
            if self.buf.len() < max_write {
                self.subscription.drain(&mut self.buf, max_write);
            }
            if self.subscription.hub().is_closing() {
                self.session.handle_shutdown(now);
            } else if !self.buf.is_empty() {
                self.session.handle_data_ready(now);
            } else {
                self.session.handle_timeout(now);
            }
            if let Some(action) = self.session.poll_action() {
                return Poll::Ready(Some(self.carry_out(action)));
            }
            // Nothing to write yet: wait for a publish. The next wake-up is
            // created before the next drain, so a publish in between is not
            // missed.
            if self.wake.as_mut().poll(cx).is_ready() {
                let next = self.subscription.hub().wake_up();
                self.wake.set(next);
                continue;
            }
            let Some(at) = self.session.poll_timeout() else {
                continue;
            };
            let deadline = self.permit.settings.instant(at);
            if self.timer.deadline() != deadline {
                self.timer.as_mut().reset(deadline);
            }
            if self.timer.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            // The timer fired: at least its deadline has passed, whatever
            // the millisecond rounding of `now`.
            let now = self.permit.settings.now().max(at);
            self.session.handle_timeout(now);
        }
    }

    /// The bytes one session action writes.
    fn carry_out(&mut self, action: Action) -> Bytes {
        match action {
            Action::Flush => self.buf.split().freeze(),
            Action::Heartbeat(frame) => frame,
            // Whatever is held goes out first, in the same write.
            Action::End { frame, .. } => {
                self.buf.extend_from_slice(&frame);
                self.buf.split().freeze()
            }
        }
    }
}

/// The SSE endpoint on its own, to mount in your own hyper router (your
/// router does authentication; this answers `GET` of the stream exactly as
/// `GET /api/events` does: same query, frames, heartbeat, lifetime, cap).
///
/// Cheap to clone; every clone shares the stream cap.
#[derive(Clone, Debug)]
pub struct EventsEndpoint {
    hub: Hub,
    settings: Arc<StreamSettings>,
}

/// Timings and the cap of an [`EventsEndpoint`]; `Default` gives the
/// server's defaults (retry 2 s, heartbeat 15 s, lifetime 1800 s, 10,000 streams).
#[derive(Clone, Copy, Debug)]
pub struct StreamOptions {
    /// `retry:`.
    pub retry: Duration,
    /// Keep-alive comment interval.
    pub heartbeat: Duration,
    /// Maximum stream life (minus up to 10% at random).
    pub lifetime: Duration,
    /// Open streams at most (more get `503`).
    pub max_streams: usize,
}

impl Default for StreamOptions {
    fn default() -> Self {
        StreamOptions {
            retry: crate::config::DEFAULT_RETRY,
            heartbeat: crate::config::DEFAULT_HEARTBEAT,
            lifetime: crate::config::DEFAULT_STREAM_LIFETIME,
            max_streams: crate::config::DEFAULT_MAX_STREAMS,
        }
    }
}

impl StreamSettings {
    /// Settings from options, with a jitter seed from the OS.
    pub fn new(options: StreamOptions) -> Result<Self, crate::random::RandomError> {
        Ok(StreamSettings {
            retry: options.retry,
            heartbeat: options.heartbeat,
            lifetime: options.lifetime,
            max_streams: options.max_streams,
            open: AtomicUsize::new(0),
            refused: AtomicUsize::new(0),
            output_open: AtomicUsize::new(0),
            output_writes: AtomicU64::new(0),
            output_bytes: AtomicU64::new(0),
            jitter: Jitter::new(crate::random::os_u64()?),
            origin: Instant::now(),
        })
    }
}

impl EventsEndpoint {
    /// An endpoint streaming from `hub`.
    pub fn new(hub: Hub, options: StreamOptions) -> Result<Self, crate::random::RandomError> {
        Ok(EventsEndpoint {
            hub,
            settings: Arc::new(StreamSettings::new(options)?),
        })
    }

    /// Answers one request: the stream (`200`), or a JSON error (`400` bad
    /// filter, `405` not `GET`, `503` at the cap).
    pub fn respond<B>(&self, req: &hyper::Request<B>) -> Response<Body> {
        if req.method() != hyper::Method::GET {
            return ApiError::MethodNotAllowed { allow: "GET" }.into_response();
        }
        open(&self.hub, &self.settings, req.headers(), req.uri().query())
            .unwrap_or_else(ApiError::into_response)
    }

    /// Streams open now.
    pub fn open_streams(&self) -> usize {
        self.settings.open.load(Ordering::Relaxed)
    }
}
