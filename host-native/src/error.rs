//! Every error the HTTP layer answers with, and its status, in one place.
//!
//! Handlers return `Result<Response, ApiError>`; this file alone decides which
//! status each failure gets and that the body is always `{"error": "..."}`.

use std::time::Duration;

use hyper::header::{HeaderValue, ALLOW, CONNECTION, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use hyper::{Response, StatusCode};

use crate::body::Body;
use crate::tasks::TaskError;

/// A request that cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Malformed input; the text names the field.
    #[error("{0}")]
    BadRequest(String),
    /// No or wrong credentials.
    #[error("missing or invalid credentials: send Authorization: Bearer <token>, or open the printed URL to get the cookie")]
    Unauthorized,
    /// Credentials are fine but the request is refused (cross-origin).
    #[error("{0}")]
    Forbidden(String),
    /// No such route, file or task.
    #[error("{0}")]
    NotFound(String),
    /// The route exists but not with this method.
    #[error("method not allowed")]
    MethodNotAllowed {
        /// The methods the route takes, for the `Allow` header.
        allow: &'static str,
    },
    /// The task is finished: nothing to type into or kill.
    #[error("{0}")]
    Conflict(String),
    /// The body is larger than the cap.
    #[error("request body larger than {limit} bytes")]
    PayloadTooLarge {
        /// The cap.
        limit: usize,
    },
    /// A cap on the caller's requests is reached (live tasks).
    #[error("{0}")]
    TooManyRequests(String),
    /// A change could not be made durable (nothing was announced); the
    /// client may retry.
    #[error("{0}")]
    NotSaved(String),
    /// An event whose encoded SSE frame would exceed `--max-event-bytes`.
    #[error("the event's encoded frame would be {size} bytes, more than the {limit}-byte cap (--max-event-bytes)")]
    EventTooLarge {
        /// The frame's size as the broker would encode it.
        size: usize,
        /// The cap.
        limit: usize,
    },
    /// A JSON route's body is not declared `application/json`.
    #[error("the body must be JSON sent with Content-Type: application/json")]
    UnsupportedMediaType,
    /// The request body did not arrive within the deadline.
    #[error("the request body did not arrive within {}ms", after.as_millis())]
    BodyTimeout {
        /// The deadline.
        after: Duration,
    },
    /// The `Host` is not one this server answers to (DNS rebinding guard).
    #[error(
        "this server does not answer to that Host (allow a name with --allowed-host HOST[:PORT])"
    )]
    MisdirectedHost,
    /// The open-stream cap is reached.
    #[error("too many open streams, retry later")]
    Unavailable {
        /// Sent as `Retry-After` (seconds).
        retry_after: Duration,
    },
    /// Something failed on the server.
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    /// The status for this error: the one mapping of the HTTP layer.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::NotSaved(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::PayloadTooLarge { .. } | ApiError::EventTooLarge { .. } => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::BodyTimeout { .. } => StatusCode::REQUEST_TIMEOUT,
            ApiError::MisdirectedHost => StatusCode::MISDIRECTED_REQUEST,
            ApiError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The JSON error response, with the headers its status calls for.
    pub fn into_response(self) -> Response<Body> {
        let status = self.status();
        let mut response = json_response(status, &serde_json::json!({ "error": self.to_string() }));
        let headers = response.headers_mut();
        match self {
            ApiError::Unauthorized => {
                headers.insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            ApiError::MethodNotAllowed { allow } => {
                headers.insert(ALLOW, HeaderValue::from_static(allow));
            }
            ApiError::Unavailable { retry_after } => {
                headers.insert(RETRY_AFTER, HeaderValue::from(retry_after.as_secs().max(1)));
            }
            ApiError::NotSaved(_) => {
                headers.insert(RETRY_AFTER, HeaderValue::from(1u64));
            }
            // The rest of the body may still be on its way: the connection
            // cannot carry another request (HTTP/2 drops this header and
            // resets only the stream).
            ApiError::BodyTimeout { .. } => {
                headers.insert(CONNECTION, HeaderValue::from_static("close"));
            }
            _ => {}
        }
        response
    }
}

impl From<TaskError> for ApiError {
    fn from(e: TaskError) -> Self {
        match e {
            TaskError::NotFound => ApiError::NotFound("no such task".into()),
            TaskError::NotLive => ApiError::Conflict(e.to_string()),
            TaskError::Invalid(text) => ApiError::BadRequest(text),
            TaskError::TooManyLive { .. } => ApiError::TooManyRequests(e.to_string()),
            TaskError::Unavailable(text) => ApiError::NotSaved(text),
            TaskError::Io(io) => {
                tracing::error!(error = %io, "task i/o failed");
                ApiError::Internal(format!("i/o error: {io}"))
            }
        }
    }
}

/// A JSON response; every JSON answer of the server goes through here.
pub fn json_response(status: StatusCode, value: &impl serde::Serialize) -> Response<Body> {
    let bytes = match serde_json::to_vec(value) {
        Ok(bytes) => bytes,
        Err(e) => format!("{{\"error\":\"cannot serialize the response: {e}\"}}").into_bytes(),
    };
    let mut response = Response::new(Body::full(bytes));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}
