//! The one response body type of the server, and reading request bodies.
//!
//! A response is a complete buffer, a live event stream or a task's live
//! output stream; an enum
//! instead of a boxed trait object keeps a stream's body at one allocation.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::body::{Frame, Incoming, SizeHint};
use hyper::header::{CONTENT_LENGTH, CONTENT_TYPE};
use hyper::Request;
use serde_json::{Map, Value};

use crate::error::ApiError;
use crate::output_stream::OutputBody;
use crate::stream::EventStream;

/// A response body.
#[derive(Debug)]
pub enum Body {
    /// A complete body, sent in one frame (`None` once sent).
    Full(Option<Bytes>),
    /// An SSE stream.
    Stream(Box<EventStream>),
    /// A task's live output stream.
    Output(Box<OutputBody>),
}

impl Body {
    /// A complete body.
    pub fn full(bytes: impl Into<Bytes>) -> Self {
        let bytes = bytes.into();
        Body::Full((!bytes.is_empty()).then_some(bytes))
    }

    /// No body.
    pub fn empty() -> Self {
        Body::Full(None)
    }
}

impl hyper::body::Body for Body {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match self.get_mut() {
            Body::Full(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            Body::Stream(stream) => stream
                .poll_next_frame(cx)
                .map(|f| f.map(|b| Ok(Frame::data(b)))),
            Body::Output(stream) => stream
                .poll_next_frame(cx)
                .map(|f| f.map(|b| Ok(Frame::data(b)))),
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self, Body::Full(None))
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Body::Full(Some(b)) => SizeHint::with_exact(b.len() as u64),
            Body::Full(None) => SizeHint::with_exact(0),
            Body::Stream(_) | Body::Output(_) => SizeHint::default(),
        }
    }
}

/// How much of a request body the server reads, and for how long.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BodyLimits {
    /// Larger bodies get `413`.
    pub max_bytes: usize,
    /// The whole body must arrive within this (`408` otherwise), so a client
    /// that announces a body and never sends it cannot hold its connection.
    pub deadline: Duration,
}

/// Whether a route's body may be left out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Empty {
    /// The route needs a JSON body.
    Refused,
    /// An empty body (with no `Content-Type`) means "no options".
    Allowed,
}

/// Whether a `Content-Type` value is `application/json` (any case, with or
/// without parameters such as `charset`).
pub fn is_json_content_type(value: &[u8]) -> bool {
    let essence = value.split(|&b| b == b';').next().unwrap_or_default();
    essence
        .trim_ascii()
        .eq_ignore_ascii_case(b"application/json")
}

/// Reads a JSON route's whole body: `415` unless it is declared
/// `application/json` (a form or `text/plain` body is what a cross-site
/// page can send without asking), `413` over the cap (at once when
/// `Content-Length` says so), `408` when it does not arrive in time.
pub async fn read_json_body(
    req: Request<Incoming>,
    limits: BodyLimits,
    empty: Empty,
) -> Result<Bytes, ApiError> {
    let declared_json = match req.headers().get(CONTENT_TYPE) {
        Some(value) if is_json_content_type(value.as_bytes()) => true,
        Some(_) => return Err(ApiError::UnsupportedMediaType),
        None if empty == Empty::Refused => return Err(ApiError::UnsupportedMediaType),
        None => false,
    };
    let bytes = read_limited(req, limits).await?;
    if !declared_json && !bytes.is_empty() {
        return Err(ApiError::UnsupportedMediaType);
    }
    Ok(bytes)
}

/// Reads the whole request body within the limits.
pub async fn read_limited(req: Request<Incoming>, limits: BodyLimits) -> Result<Bytes, ApiError> {
    let limit = limits.max_bytes;
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    let collect = Limited::new(req.into_body(), limit).collect();
    match tokio::time::timeout(limits.deadline, collect).await {
        Err(_) => Err(ApiError::BodyTimeout {
            after: limits.deadline,
        }),
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => {
            Err(ApiError::PayloadTooLarge { limit })
        }
        Ok(Err(e)) => Err(ApiError::BadRequest(format!(
            "could not read the body: {e}"
        ))),
    }
}

/// A JSON object body with typed field access; every error names its field.
#[derive(Debug)]
pub struct JsonObject {
    fields: Map<String, Value>,
}

impl JsonObject {
    /// Parses `bytes` as a JSON object whose keys are all in `allowed`
    /// (an unknown key is most likely a typo, and silently ignoring it would
    /// hide it).
    pub fn parse(bytes: &[u8], allowed: &[&str]) -> Result<Self, ApiError> {
        let value: Value = serde_json::from_slice(bytes)
            .map_err(|e| ApiError::BadRequest(format!("malformed JSON body: {e}")))?;
        let Value::Object(fields) = value else {
            return Err(ApiError::BadRequest(
                "the body must be a JSON object".into(),
            ));
        };
        if let Some(unknown) = fields.keys().find(|k| !allowed.contains(&k.as_str())) {
            return Err(ApiError::BadRequest(format!(
                "unknown field `{unknown}` (expected one of: {})",
                allowed.join(", ")
            )));
        }
        Ok(JsonObject { fields })
    }

    /// The field's value; `null` counts as absent.
    pub fn value(&mut self, name: &str) -> Option<Value> {
        self.fields.remove(name).filter(|v| !v.is_null())
    }

    /// An optional string field.
    pub fn opt_string(&mut self, name: &str) -> Result<Option<String>, ApiError> {
        match self.value(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(mistyped(name, "a string", &other)),
        }
    }

    /// A required string field.
    pub fn string(&mut self, name: &str) -> Result<String, ApiError> {
        self.opt_string(name)?.ok_or_else(|| missing(name))
    }
}

/// `field `x` is missing`.
pub fn missing(name: &str) -> ApiError {
    ApiError::BadRequest(format!("field `{name}` is missing"))
}

/// `field `x` must be ..., not ...`.
pub fn mistyped(name: &str, expected: &str, got: &Value) -> ApiError {
    let kind = match got {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    };
    ApiError::BadRequest(format!("field `{name}` must be {expected}, not {kind}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(e: ApiError) -> String {
        e.to_string()
    }

    #[test]
    fn errors_name_the_field() {
        let mut o = JsonObject::parse(br#"{"text": 3}"#, &["text"]).expect("an object");
        assert!(
            message(o.string("text").expect_err("mistyped")).contains("`text` must be a string")
        );
        let mut o = JsonObject::parse(br#"{}"#, &["text"]).expect("an object");
        assert!(message(o.string("text").expect_err("missing")).contains("`text` is missing"));
        let e = JsonObject::parse(br#"{"txet": "a"}"#, &["text"]).expect_err("unknown");
        assert!(message(e).contains("`txet`"));
        assert!(JsonObject::parse(b"[1]", &[]).is_err());
        assert!(JsonObject::parse(b"{", &[]).is_err());
    }

    #[test]
    fn json_content_types() {
        for ok in [
            &b"application/json"[..],
            b"Application/JSON; charset=utf-8",
            b" application/json ;x=y",
        ] {
            assert!(is_json_content_type(ok), "{ok:?}");
        }
        for refused in [
            &b"text/plain"[..],
            b"application/x-www-form-urlencoded",
            b"multipart/form-data; boundary=x",
            b"application/jsonp",
            b"",
        ] {
            assert!(!is_json_content_type(refused), "{refused:?}");
        }
    }

    #[test]
    fn null_is_absent() {
        let mut o = JsonObject::parse(br#"{"name": null}"#, &["name"]).expect("an object");
        assert_eq!(o.opt_string("name").expect("null is fine"), None);
    }
}
