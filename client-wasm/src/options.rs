//! The `LiveEvents` constructor's options, read from a plain JS object, and
//! the TypeScript declarations of the JS API's object shapes.

#[allow(unused_imports)]
use crate::prelude::*;

use core::time::Duration;

use broker_core::ClientConfig;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::platform::js_error;

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &'static str = r#"
/** Options of `new LiveEvents(...)`. Durations are milliseconds. */
export interface LiveEventsOptions {
  /** The SSE stream, e.g. `/api/events`. */
  url: string;
  /** The list to fetch when the client must resync, e.g. `/api/tasks`.
   *  It must answer `{"tasks": [...], "cursor": "<event id>"}`. Without it the
   *  application lists itself in `onResync` and reports through
   *  `listed(cursor)` / `listFailed()`. */
  listUrl?: string;
  /** Event types (or `prefix.*` patterns) the server should send. */
  types?: string[];
  /** Only events about this task id. */
  task?: string;
  /** The poll fallback's interval while the stream is down (default 15000). */
  pollMs?: number;
  /** Down this long, start the poll fallback (default 10000). */
  pollAfterMs?: number;
  /** First reconnect delay (default 1000). */
  backoffMs?: number;
  /** Largest reconnect delay (default 30000). */
  backoffMaxMs?: number;
  /** A connection live this long resets the backoff (default 10000). */
  stableMs?: number;
  /** The heartbeat to expect. Unset (the default), the server's
   *  `heartbeat_ms` from `ready` is used: no byte for twice it plus a margin
   *  means the stream is dead (the client asks for `heartbeat=event`, since
   *  an EventSource hides comments). */
  heartbeatMs?: number;
  /** The watchdog (default true). */
  watchdog?: boolean;
  /** A list that has not answered after this long counts as failed (default 10000). */
  listTimeoutMs?: number;
  /** Share one stream between the tabs of this browser that open the same
   *  URL (Web Locks + BroadcastChannel; default true). Where those APIs are
   *  missing (a plain-http LAN address is not a secure context), each tab
   *  keeps its own stream. */
  share?: boolean;
}

/** The connection state, as `onStatus` reports it. */
export type LiveStatus =
  'connecting' | 'live' | 'reconnecting' | 'polling' | 'unauthorized' | 'closed';

/** One status change. */
export interface LiveStatusReport {
  status: LiveStatus;
  /** Why: `network`, `http 503`, `watchdog`, `end: max-lifetime`, ... */
  reason: string;
  /** When the next connection attempt is due (Unix ms), if one is planned. */
  nextAttempt: number | null;
}

/** Why the application must list again. */
export type ResyncReason = 'not-resumed' | 'lagged' | 'poll';

/** An application event delivered to `on(type, fn)`. */
export interface LiveEvent {
  type: string;
  /** `EPOCH-SEQ`. */
  id: string;
  /** The event's JSON data, parsed (the raw string when it is not JSON). */
  data: any;
}

/** A list, as an application that lists itself hands it to `listed()`. */
export interface TaskList {
  tasks: Task[];
  cursor: string;
}

/** A task, as `GET /api/tasks/{id}` returns it (times are Unix ms). */
export interface Task {
  id: string;
  name: string;
  kind: 'command' | 'terminal';
  command: string;
  workdir: string;
  status: 'running' | 'waiting-for-input' | 'completed' | 'killed' | 'error';
  version: number;
  created_at: number;
  finished_at?: number;
  exit_code?: number;
  error?: string;
  pid?: number;
  last_activity_at: number;
}

/** What one list or event changed in a `TaskStore`. */
export interface TaskChange {
  kind: 'upserted' | 'removed';
  id: string;
}
"#;

#[wasm_bindgen]
extern "C" {
    /// The constructor's options object.
    #[wasm_bindgen(typescript_type = "LiveEventsOptions")]
    pub type LiveEventsOptions;
}

/// The options, checked.
#[derive(Debug)]
pub struct Options {
    /// The stream URL with the `types` / `task` filters already in its query.
    pub stream_url: String,
    /// The list URL, if the driver lists itself.
    pub list_url: Option<String>,
    /// Exact event types to listen for on each `EventSource`.
    pub listen: Vec<String>,
    /// The machine's tunables.
    pub config: ClientConfig,
    /// Share the stream with other tabs.
    pub share: bool,
}

fn field(obj: &JsValue, name: &str) -> Result<JsValue, JsValue> {
    js_sys::Reflect::get(obj, &JsValue::from_str(name))
}

fn string_field(obj: &JsValue, name: &str) -> Result<Option<String>, JsValue> {
    let v = field(obj, name)?;
    if v.is_undefined() || v.is_null() {
        return Ok(None);
    }
    v.as_string()
        .map(Some)
        .ok_or_else(|| js_error(&["LiveEvents: option ", name, " must be a string"].concat()))
}

fn ms_field(obj: &JsValue, name: &str, default: Duration) -> Result<Duration, JsValue> {
    let v = field(obj, name)?;
    if v.is_undefined() || v.is_null() {
        return Ok(default);
    }
    match v.as_f64() {
        Some(ms) if ms.is_finite() && ms >= 0.0 => Ok(Duration::from_millis(ms as u64)),
        _ => Err(js_error(
            &["LiveEvents: option ", name, " must be a number of ms"].concat(),
        )),
    }
}

fn bool_field(obj: &JsValue, name: &str, default: bool) -> Result<bool, JsValue> {
    let v = field(obj, name)?;
    if v.is_undefined() || v.is_null() {
        return Ok(default);
    }
    v.as_bool()
        .ok_or_else(|| js_error(&["LiveEvents: option ", name, " must be a boolean"].concat()))
}

fn encode(s: &str) -> String {
    String::from(js_sys::encode_uri_component(s))
}

/// Appends `key=value` (value percent-encoded) to `url`'s query.
pub fn with_query(url: &str, key: &str, value: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    let mut out = String::with_capacity(url.len() + key.len() + value.len() + 2);
    out.push_str(url);
    out.push(sep);
    out.push_str(key);
    out.push('=');
    out.push_str(&encode(value));
    out
}

/// The event types every stream listens for: the connection's own messages,
/// unnamed messages and the task store's events.
pub const BASE_TYPES: [&str; 9] = [
    "ready",
    "lagged",
    "end",
    "heartbeat",
    "message",
    "task.created",
    "task.status",
    "task.updated",
    "task.removed",
];

impl Options {
    /// Reads and checks the options object.
    pub fn parse(obj: &JsValue) -> Result<Options, JsValue> {
        if !obj.is_object() {
            return Err(js_error("LiveEvents: options must be an object"));
        }
        let url = string_field(obj, "url")?
            .ok_or_else(|| js_error("LiveEvents: options.url is required"))?;
        let list_url = string_field(obj, "listUrl")?;
        // Heartbeats as events: an EventSource hides comments.
        let mut stream_url = with_query(&url, "heartbeat", "event");
        let mut listen: Vec<String> = BASE_TYPES.iter().map(|t| (*t).to_owned()).collect();
        let types = field(obj, "types")?;
        if !types.is_undefined() && !types.is_null() {
            let array: js_sys::Array = types
                .dyn_into()
                .map_err(|_| js_error("LiveEvents: option types must be an array of strings"))?;
            let mut joined = String::new();
            for t in array.iter() {
                let t = t.as_string().ok_or_else(|| {
                    js_error("LiveEvents: option types must be an array of strings")
                })?;
                if !joined.is_empty() {
                    joined.push(',');
                }
                joined.push_str(&encode(&t));
                if !t.contains('*') && !listen.contains(&t) {
                    listen.push(t);
                }
            }
            if !joined.is_empty() {
                let sep = if stream_url.contains('?') { '&' } else { '?' };
                stream_url.push(sep);
                stream_url.push_str("types=");
                stream_url.push_str(&joined);
            }
        }
        if let Some(task) = string_field(obj, "task")? {
            stream_url = with_query(&stream_url, "task", &task);
        }
        let d = ClientConfig::default();
        let config = ClientConfig {
            backoff_initial: ms_field(obj, "backoffMs", d.backoff_initial)?,
            backoff_max: ms_field(obj, "backoffMaxMs", d.backoff_max)?,
            stable_after: ms_field(obj, "stableMs", d.stable_after)?,
            poll_after: ms_field(obj, "pollAfterMs", d.poll_after)?,
            poll_interval: ms_field(obj, "pollMs", d.poll_interval)?,
            heartbeat: match field(obj, "heartbeatMs")? {
                v if v.is_undefined() || v.is_null() => None,
                _ => Some(ms_field(obj, "heartbeatMs", Duration::ZERO)?),
            },
            watchdog: bool_field(obj, "watchdog", true)?,
            list_timeout: ms_field(obj, "listTimeoutMs", d.list_timeout)?,
        };
        Ok(Options {
            stream_url,
            list_url,
            listen,
            config,
            share: bool_field(obj, "share", true)?,
        })
    }
}
