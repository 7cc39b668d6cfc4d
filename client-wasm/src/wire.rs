//! A stream message as the machine's typed input: `ready`, `lagged`, `end`
//! and `heartbeat` read with `JSON.parse`, anything else an event with its
//! id. The data of an event is parsed here once and kept by the driver.

#[allow(unused_imports)]
use crate::prelude::*;

use broker_core::{Epoch, EventId, Input, StreamEnd};
use wasm_bindgen::JsValue;

use crate::tasks::get;

/// The data parsed; a string that is not JSON stays a string.
pub fn parse_data(data: &str) -> JsValue {
    js_sys::JSON::parse(data).unwrap_or_else(|_| JsValue::from_str(data))
}

/// The input for a control message (`None` for an application event).
pub fn control_input(kind: &str, data: &str) -> Option<Input> {
    let parsed = || js_sys::JSON::parse(data).ok();
    Some(match kind {
        "ready" => parsed().and_then(|d| ready(&d)).unwrap_or(Input::Malformed),
        "lagged" => parsed()
            .and_then(|d| get(&d, "dropped").as_f64())
            .filter(|n| *n >= 0.0)
            .map_or(Input::Malformed, |n| Input::Lagged { dropped: n as u64 }),
        "end" => parsed()
            .and_then(|d| get(&d, "reason").as_string())
            .map_or(Input::Malformed, |r| Input::End(StreamEnd::from_reason(&r))),
        "heartbeat" => Input::Heartbeat,
        _ => return None,
    })
}

fn ready(data: &JsValue) -> Option<Input> {
    let epoch: Epoch = get(data, "epoch").as_string()?.parse().ok()?;
    let head: EventId = get(data, "head").as_string()?.parse().ok()?;
    let resumed = get(data, "resumed").as_bool()?;
    let heartbeat_ms = get(data, "heartbeat_ms")
        .as_f64()
        .filter(|ms| *ms >= 0.0)
        .map(|ms| ms as u64);
    Some(Input::Ready {
        epoch,
        resumed,
        head,
        heartbeat_ms,
    })
}

/// An id as text, without the formatting machinery.
pub fn id_text(id: EventId) -> String {
    let mut out = String::with_capacity(24);
    id.write_to(&mut out);
    out
}
