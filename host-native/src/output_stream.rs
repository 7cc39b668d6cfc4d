//! `GET /api/tasks/{id}/output/stream`: one task's output, live, as SSE.
//!
//! broker-core's [`OutputStream`] decides everything — where the stream is
//! in the log, when to read, what each chunk says (whole characters only),
//! `truncated`, heartbeats and `end`. This body carries it out: it reads the
//! log when told to (on the blocking pool, one read of at most a frame at a
//! time), follows the log's span and the task's status without polling, and
//! arms the one timer the core asks for.
//!
//! Like the event stream, the body is not a task: hyper polls it when the
//! connection can take more bytes. A client that stops reading stops the
//! polls, so the stream stops reading the log — the server holds at most one
//! frame for it, however fast the task prints, and the log's cap decides
//! what a reader that comes back later has missed (`truncated`). Output
//! never goes through the broker: a task printing as fast as it can costs
//! each of its output streams one read and one frame per flush interval,
//! and the event streams nothing.
//!
//! The handler needs only the task id (the log and the task's status come
//! from the task runner), so a node that does not own a task can hand the
//! request to the one that does.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use broker_core::output::{parse_offset, OutputAction, OutputConfig, OutputStream, Span};
use broker_core::sse::HeartbeatForm;
use broker_core::TaskId;
use bytes::Bytes;
use hyper::header::{HeaderMap, HeaderValue, CACHE_CONTROL, CONTENT_TYPE};
use hyper::{Response, StatusCode};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::{Instant, Sleep};
use tokio_util::sync::WaitForCancellationFutureOwned;

use crate::body::Body;
use crate::error::ApiError;
use crate::hub::Hub;
use crate::stream::{Permit, StreamSettings};
use crate::tasks::{LogSpan, LogState, TaskEnd, TaskLog, TaskManager};

/// Where an output stream starts and how it beats: the `Last-Event-ID`
/// header or `?from=`, and `?heartbeat=`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OutputQuery {
    /// The byte offset to start at (`None`: the first byte the task wrote).
    pub from: Option<u64>,
    /// `heartbeat=event`: heartbeats as `event: heartbeat`.
    pub heartbeat: HeartbeatForm,
}

impl OutputQuery {
    /// Reads the resume point and the heartbeat form. The `Last-Event-ID`
    /// header (`last_event_id`, its raw bytes) wins over `?from=`; an empty
    /// header counts as absent (an `EventSource` that received no id sends
    /// none). Both must be decimal byte offsets (`400` otherwise); other
    /// query parameters are ignored, a repeated one is refused.
    pub fn parse(last_event_id: Option<&[u8]>, query: Option<&str>) -> Result<Self, ApiError> {
        let mut from: Option<String> = None;
        let mut heartbeat: Option<String> = None;
        for (key, value) in crate::router::query_pairs(query.unwrap_or("")) {
            let slot = match key.as_ref() {
                "from" => &mut from,
                "heartbeat" => &mut heartbeat,
                _ => continue,
            };
            if slot.is_some() {
                return Err(ApiError::BadRequest(format!(
                    "query parameter `{key}` given twice"
                )));
            }
            *slot = Some(value.into_owned());
        }
        let heartbeat = match heartbeat.as_deref() {
            None | Some("comment") => HeartbeatForm::Comment,
            Some("event") => HeartbeatForm::Event,
            Some(other) => {
                return Err(ApiError::BadRequest(format!(
                    "heartbeat must be `event` or `comment`, not {other:?}"
                )))
            }
        };
        let header = match last_event_id {
            Some(raw) if !raw.is_empty() => Some(std::str::from_utf8(raw).map_err(|_| {
                ApiError::BadRequest("Last-Event-ID must be a byte offset (decimal digits)".into())
            })?),
            _ => None,
        };
        let from =
            match (header, from.as_deref()) {
                (Some(id), _) => Some(parse_offset(id).map_err(|e| {
                    ApiError::BadRequest(format!(
                        "Last-Event-ID must be a byte offset (the id of an output chunk): {e}"
                    ))
                })?),
                (None, Some(from)) => Some(parse_offset(from).map_err(|e| {
                    ApiError::BadRequest(format!("from must be a byte offset: {e}"))
                })?),
                (None, None) => None,
            };
        Ok(OutputQuery { from, heartbeat })
    }

    /// The query of a request: its `Last-Event-ID` header and query string.
    fn of(headers: &HeaderMap, query: Option<&str>) -> Result<Self, ApiError> {
        OutputQuery::parse(headers.get("last-event-id").map(|v| v.as_bytes()), query)
    }
}

fn span(s: LogSpan) -> Span {
    Span {
        start: s.start,
        end: s.end,
    }
}

fn at_cap(settings: &StreamSettings) -> ApiError {
    ApiError::Unavailable {
        retry_after: settings.retry.max(Duration::from_secs(1)),
    }
}

fn past_end(from: u64, end: u64) -> ApiError {
    ApiError::BadRequest(format!(
        "from {from} is past the end of the task's output ({end})"
    ))
}

/// Opens a task's output stream: `400` for a malformed offset or one past
/// the log's end, `404` for an unknown task, `503` with `Retry-After` at
/// the stream cap (shared with `GET /api/events`).
pub async fn open(
    tasks: &TaskManager,
    hub: &Hub,
    settings: &Arc<StreamSettings>,
    id: &TaskId,
    headers: &HeaderMap,
    query: Option<&str>,
) -> Result<Response<Body>, ApiError> {
    let query = OutputQuery::of(headers, query)?;
    let log = tasks.log(id).await?;
    let live = log.watch();
    let opened_span = log.span().await?;
    let permit = Permit::acquire(settings).ok_or_else(|| at_cap(settings))?;
    let config = OutputConfig::new(
        settings.heartbeat,
        query.heartbeat,
        settings.lifetime,
        u64::try_from(settings.retry.as_millis()).unwrap_or(u64::MAX),
    );
    let core = OutputStream::open(
        config,
        id,
        query.from,
        span(opened_span),
        settings.jitter.next_u64(),
        settings.now(),
    )
    .map_err(|e| match e {
        broker_core::output::OpenError::PastEnd { from, end } => past_end(from, end),
    })?;
    let first_deadline = core
        .poll_timeout()
        .map_or_else(Instant::now, |at| settings.instant(at));
    settings.output_open.fetch_add(1, Ordering::Relaxed);
    let body = OutputBody {
        core,
        end: Some(log.end()),
        // No watch: the task has let go of its terminal, so the log holds
        // all it will ever hold.
        log_closed: live.is_none().then_some(opened_span),
        log_rx: live,
        log_wait: None,
        end_wait: None,
        told_complete: false,
        read: None,
        shutdown: Box::pin(hub.closed()),
        timer: Box::pin(tokio::time::sleep_until(first_deadline)),
        log,
        permit,
        finished: false,
    };
    Ok(sse_response(Body::Output(Box::new(body))))
}

/// `HEAD /api/tasks/{id}/output/stream`: what a `GET` with this query and
/// `Last-Event-ID` would answer (`400`, `404`, `503` with `Retry-After`,
/// else `200` with the stream's content type), without opening a stream.
pub async fn probe(
    tasks: &TaskManager,
    settings: &StreamSettings,
    id: &TaskId,
    headers: &HeaderMap,
    query: Option<&str>,
) -> Result<Response<Body>, ApiError> {
    let query = OutputQuery::of(headers, query)?;
    let log = tasks.log(id).await?;
    let end = log.span().await?.end;
    if let Some(from) = query.from.filter(|&from| from > end) {
        return Err(past_end(from, end));
    }
    if settings.open.load(Ordering::Relaxed) >= settings.max_streams {
        return Err(at_cap(settings));
    }
    Ok(sse_response(Body::empty()))
}

fn sse_response(body: Body) -> Response<Body> {
    let mut response = Response::new(body);
    *response.status_mut() = StatusCode::OK;
    let h = response.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    h.insert(
        CACHE_CONTROL,
        HeaderValue::from_static("no-cache, no-store, must-revalidate"),
    );
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

type Wait<T> = Pin<Box<dyn Future<Output = (bool, T)> + Send>>;

/// A read of the log on the blocking pool: where the bytes start, the
/// bytes, and the span when they were read.
type Read = JoinHandle<std::io::Result<(u64, Vec<u8>, LogSpan)>>;

/// One open output stream (the response body).
pub struct OutputBody {
    core: OutputStream,
    log: TaskLog,
    /// The log's span while the task's output thread runs; taken into
    /// `log_wait` while waiting for it to change.
    log_rx: Option<watch::Receiver<LogState>>,
    /// Waits for the next change of the span (`false`: the writer is gone).
    log_wait: Option<Wait<watch::Receiver<LogState>>>,
    /// The span the log holds for good, once its terminal closed.
    log_closed: Option<LogSpan>,
    /// Whether the task is final; taken into `end_wait` while waiting.
    end: Option<TaskEnd>,
    end_wait: Option<Wait<TaskEnd>>,
    /// The core was told that the log is complete.
    told_complete: bool,
    /// The read in flight.
    read: Option<Read>,
    /// Fires at server shutdown (publishes do not wake it).
    shutdown: Pin<Box<WaitForCancellationFutureOwned>>,
    /// Armed for the core's next deadline.
    timer: Pin<Box<Sleep>>,
    permit: Permit,
    /// The `end` frame was handed over (or the stream broke): no more.
    finished: bool,
}

impl fmt::Debug for OutputBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutputBody")
            .field("offset", &self.core.offset())
            .field("ended", &self.core.is_ended())
            .finish_non_exhaustive()
    }
}

impl Drop for OutputBody {
    fn drop(&mut self) {
        self.permit
            .settings()
            .output_open
            .fetch_sub(1, Ordering::Relaxed);
    }
}

impl OutputBody {
    /// The next bytes to write, `None` at the end of the stream.
    pub fn poll_next_frame(&mut self, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        loop {
            if let Some(action) = self.core.poll_action() {
                match action {
                    OutputAction::Write(bytes) => return Poll::Ready(Some(self.count(bytes))),
                    OutputAction::End { frame, .. } => {
                        self.finished = true;
                        self.read = None;
                        return Poll::Ready(Some(self.count(frame)));
                    }
                    OutputAction::Read { from, max } => {
                        self.read = Some(self.log.read_owned(from, max));
                        continue;
                    }
                }
            }
            if self.finished || self.core.is_ended() {
                return Poll::Ready(None);
            }
            let now = self.permit.settings().now();
            if self.shutdown.as_mut().poll(cx).is_ready() {
                self.core.handle_shutdown(now);
                continue;
            }
            if let Some(read) = self.read.as_mut() {
                if let Poll::Ready(result) = Pin::new(read).poll(cx) {
                    self.read = None;
                    match result {
                        Ok(Ok((from, bytes, read_span))) => {
                            self.core.handle_read(from, &bytes, span(read_span), now);
                        }
                        Ok(Err(e)) => {
                            // The client reconnects and resumes from its last id.
                            tracing::warn!(error = %e, "a task's log could not be read: closing its output stream");
                            self.finished = true;
                        }
                        Err(_) => self.finished = true,
                    }
                    continue;
                }
            }
            if self.poll_log(cx, now) || self.poll_end(cx, now) {
                continue;
            }
            let Some(at) = self.core.poll_timeout() else {
                continue;
            };
            let deadline = self.permit.settings().instant(at);
            if self.timer.deadline() != deadline {
                self.timer.as_mut().reset(deadline);
            }
            if self.timer.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            // The timer fired: at least its deadline has passed.
            let now = self.permit.settings().now().max(at);
            self.core.handle_timeout(now);
        }
    }

    /// Counts a write for `/metrics`.
    fn count(&self, bytes: Bytes) -> Bytes {
        let settings = self.permit.settings();
        settings.output_writes.fetch_add(1, Ordering::Relaxed);
        settings
            .output_bytes
            .fetch_add(bytes.len() as u64, Ordering::Relaxed);
        bytes
    }

    /// Follows the log's span while the core wants to hear of it (it
    /// learns it from its own reads otherwise). True when something
    /// changed.
    fn poll_log(&mut self, cx: &mut Context<'_>, now: broker_core::Timestamp) -> bool {
        if self.log_closed.is_some() || !self.core.wants_span() {
            return false;
        }
        if let Some(mut rx) = self.log_rx.take() {
            let state = *rx.borrow_and_update();
            self.core.handle_span(span(state.span), now);
            if state.closed {
                self.log_closed = Some(state.span);
            } else {
                self.log_wait = Some(Box::pin(async move {
                    let open = rx.changed().await.is_ok();
                    (open, rx)
                }));
            }
            return true;
        }
        let Some(wait) = self.log_wait.as_mut() else {
            return false;
        };
        let Poll::Ready((open, rx)) = wait.as_mut().poll(cx) else {
            return false;
        };
        self.log_wait = None;
        if open {
            self.log_rx = Some(rx);
        } else {
            // The output thread ended; its last word was the final span.
            let state = *rx.borrow();
            self.core.handle_span(span(state.span), now);
            self.log_closed = Some(state.span);
        }
        true
    }

    /// Once the log is closed: waits for the task to be final, then tells
    /// the core the log is complete. True when something changed.
    fn poll_end(&mut self, cx: &mut Context<'_>, now: broker_core::Timestamp) -> bool {
        let Some(final_span) = self.log_closed else {
            return false;
        };
        if self.told_complete {
            return false;
        }
        if let Some(mut end) = self.end.take() {
            if end.is_final() {
                self.told_complete = true;
                self.core.handle_complete(span(final_span), now);
            } else {
                self.end_wait = Some(Box::pin(async move {
                    let open = end.changed().await;
                    (open, end)
                }));
            }
            return true;
        }
        let Some(wait) = self.end_wait.as_mut() else {
            return false;
        };
        let Poll::Ready((open, end)) = wait.as_mut().poll(cx) else {
            return false;
        };
        self.end_wait = None;
        // A runner that is gone changes nothing any more: the stream ends
        // with the server's shutdown or its lifetime.
        if open {
            self.end = Some(end);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(header: Option<&str>, query: &str) -> Result<OutputQuery, String> {
        OutputQuery::parse(header.map(str::as_bytes), Some(query)).map_err(|e| e.to_string())
    }

    #[test]
    fn the_header_wins_over_from_and_an_empty_header_is_absent() {
        assert_eq!(parse(Some("12"), "from=3").map(|q| q.from), Ok(Some(12)));
        assert_eq!(parse(Some(""), "from=3").map(|q| q.from), Ok(Some(3)));
        assert_eq!(parse(None, "").map(|q| q.from), Ok(None));
        assert_eq!(parse(None, "_=1&from=0").map(|q| q.from), Ok(Some(0)));
    }

    #[test]
    fn bad_offsets_and_repeats_are_refused_naming_what_is_wrong() {
        let e = parse(None, "from=-1").expect_err("refused");
        assert!(e.starts_with("from must be a byte offset"), "{e}");
        let e = parse(Some("1f-3"), "").expect_err("refused");
        assert!(e.starts_with("Last-Event-ID must be a byte offset"), "{e}");
        // The header is checked even when `from` is fine: it wins.
        assert!(parse(Some("x"), "from=1").is_err());
        assert!(parse(None, "from=1&from=2")
            .expect_err("refused")
            .contains("twice"));
        assert!(parse(None, "from=").is_err());
        assert!(OutputQuery::parse(Some(&[0xff]), None).is_err());
    }

    #[test]
    fn the_heartbeat_form() {
        assert_eq!(
            parse(None, "heartbeat=event").map(|q| q.heartbeat),
            Ok(HeartbeatForm::Event)
        );
        assert_eq!(
            parse(None, "heartbeat=comment").map(|q| q.heartbeat),
            Ok(HeartbeatForm::Comment)
        );
        assert!(parse(None, "heartbeat=loud").is_err());
    }
}
