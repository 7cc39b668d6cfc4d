//! The few browser facts the driver reads: the window, the clock, a seed,
//! visibility and connectivity.

#[allow(unused_imports)]
use crate::prelude::*;

use broker_core::{Reason, Timestamp};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{Response, Window};

/// The global `window` (the driver runs in a page, not a worker).
pub fn window() -> Result<Window, JsValue> {
    web_sys::window().ok_or_else(|| js_error("client-wasm needs a window (not a worker)"))
}

/// A JS `Error` with `message`.
pub fn js_error(message: &str) -> JsValue {
    js_sys::Error::new(message).into()
}

/// `performance.now()` in whole milliseconds: monotonic, unlike `Date.now()`,
/// so a clock change never fires or starves a backoff timer.
pub fn now() -> Timestamp {
    let ms = web_sys::window()
        .and_then(|w| w.performance())
        .map(|p| p.now())
        .unwrap_or_else(js_sys::Date::now);
    Timestamp::from_millis(ms.max(0.0) as u64)
}

/// Wall-clock milliseconds (Unix epoch) of a machine [`Timestamp`], for
/// showing "next attempt at" to people.
pub fn wall_clock(at: Timestamp) -> f64 {
    let ahead = at.as_millis() as f64 - now().as_millis() as f64;
    js_sys::Date::now() + ahead
}

/// A jitter seed from `crypto.getRandomValues`, so clients started together
/// do not reconnect in step. Falls back to the clock where crypto is missing.
pub fn seed() -> u64 {
    let mut bytes = [0u8; 8];
    let filled = window()
        .ok()
        .and_then(|w| w.crypto().ok())
        .and_then(|c| c.get_random_values_with_u8_array(&mut bytes).ok())
        .is_some();
    if filled {
        u64::from_le_bytes(bytes)
    } else {
        (js_sys::Date::now() * 1000.0) as u64 ^ 0x9e37_79b9_7f4a_7c15
    }
}

/// Whether the page is visible now.
pub fn visible() -> bool {
    window()
        .ok()
        .and_then(|w| w.document())
        .map(|d| d.visibility_state() != web_sys::VisibilityState::Hidden)
        .unwrap_or(true)
}

/// Whether the browser believes it is online.
pub fn online() -> bool {
    window().map(|w| w.navigator().on_line()).unwrap_or(true)
}

/// The outcome of a fetch, reduced to what the driver decides on.
pub struct Fetched {
    /// The HTTP status.
    pub status: u16,
    /// The `Content-Type` header, or empty.
    pub content_type: String,
    /// `Retry-After` in milliseconds, when given in seconds.
    pub retry_after_ms: Option<u64>,
    /// The response, to read the body from when wanted.
    pub response: Response,
}

/// `fetch(url)` with a method, an abort signal and the given credentials
/// mode (the HttpOnly cookie rides along). `Err` means the network failed
/// or the fetch was aborted.
pub async fn fetch(
    url: &str,
    method: &str,
    credentials: web_sys::RequestCredentials,
    signal: &web_sys::AbortSignal,
) -> Result<Fetched, JsValue> {
    let init = web_sys::RequestInit::new();
    init.set_method(method);
    init.set_credentials(credentials);
    init.set_signal(Some(signal));
    let promise = window()?.fetch_with_str_and_init(url, &init);
    let response: Response = wasm_bindgen_futures::JsFuture::from(promise)
        .await?
        .dyn_into()?;
    let headers = response.headers();
    let content_type = headers
        .get("content-type")
        .ok()
        .flatten()
        .unwrap_or_default();
    let retry_after_ms = headers
        .get("retry-after")
        .ok()
        .flatten()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(|secs| secs.saturating_mul(1000));
    Ok(Fetched {
        status: response.status(),
        content_type,
        retry_after_ms,
        response,
    })
}

/// Reads a response's body as text.
pub async fn text(response: &Response) -> Result<String, JsValue> {
    let value = wasm_bindgen_futures::JsFuture::from(response.text()?).await?;
    value
        .as_string()
        .ok_or_else(|| js_error("response body is not text"))
}

/// A status reason as people read it (`http 503`, `end: max-lifetime`),
/// built without the formatting machinery.
pub fn reason_text(reason: Reason) -> String {
    let mut out = String::from(reason.as_str());
    if let Some(code) = reason.code() {
        out.push(' ');
        let digits = [code / 100 % 10, code / 10 % 10, code % 10];
        let skip = if code >= 100 {
            0
        } else if code >= 10 {
            1
        } else {
            2
        };
        out.extend(digits[skip..].iter().map(|d| char::from(b'0' + *d as u8)));
    }
    if let Some(end) = reason.end() {
        out.push_str(": ");
        out.push_str(end.as_str());
    }
    out
}
