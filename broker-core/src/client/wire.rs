//! The stream's messages as typed machine inputs, for drivers that read the
//! SSE bytes themselves with [`crate::sse::Parser`] (the native `tidings
//! watch`, the simulation). The browser driver does the same with
//! `JSON.parse`; either way the payload of an application event stays with
//! the driver.

use crate::id::{Epoch, EventId};
use crate::sse::Message;

use super::{Input, StreamEnd};

#[derive(serde::Deserialize)]
struct RawReady {
    epoch: String,
    resumed: bool,
    head: String,
    #[serde(default)]
    heartbeat_ms: Option<u64>,
}

#[derive(serde::Deserialize)]
struct RawLagged {
    dropped: u64,
}

#[derive(serde::Deserialize)]
struct RawEnd {
    reason: String,
}

/// The input a dispatched message stands for: `ready`, `lagged`, `end` and
/// `heartbeat` by their type (their data read here: [`Input::Malformed`]
/// when it is not what the contract says), anything else an
/// [`Input::Event`] with its id.
pub fn stream_input(message: &Message) -> Input {
    let data = message.data.as_str();
    match message.event.as_str() {
        "ready" => ready(data).unwrap_or(Input::Malformed),
        "lagged" => serde_json::from_str::<RawLagged>(data)
            .map(|l| Input::Lagged { dropped: l.dropped })
            .unwrap_or(Input::Malformed),
        "end" => serde_json::from_str::<RawEnd>(data)
            .map(|e| Input::End(StreamEnd::from_reason(&e.reason)))
            .unwrap_or(Input::Malformed),
        "heartbeat" => Input::Heartbeat,
        _ => Input::Event {
            id: message.last_event_id.parse().ok(),
        },
    }
}

fn ready(data: &str) -> Option<Input> {
    let raw: RawReady = serde_json::from_str(data).ok()?;
    Some(Input::Ready {
        epoch: raw.epoch.parse::<Epoch>().ok()?,
        resumed: raw.resumed,
        head: raw.head.parse::<EventId>().ok()?,
        heartbeat_ms: raw.heartbeat_ms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn message(event: &str, data: &str, id: &str) -> Message {
        Message {
            event: event.into(),
            data: data.into(),
            last_event_id: id.into(),
        }
    }

    #[test]
    fn control_messages_become_typed_inputs() {
        let ready = message(
            "ready",
            r#"{"epoch":"ab","resumed":true,"head":"ab-7","heartbeat_ms":1000}"#,
            "",
        );
        assert_eq!(
            stream_input(&ready),
            Input::Ready {
                epoch: Epoch::new(0xab),
                resumed: true,
                head: EventId::new(Epoch::new(0xab), 7),
                heartbeat_ms: Some(1000),
            }
        );
        assert_eq!(
            stream_input(&message("lagged", r#"{"dropped":12}"#, "ab-3")),
            Input::Lagged { dropped: 12 }
        );
        assert_eq!(
            stream_input(&message("end", r#"{"reason":"shutdown"}"#, "")),
            Input::End(StreamEnd::Shutdown)
        );
        assert_eq!(
            stream_input(&message("end", r#"{"reason":"later"}"#, "")),
            Input::End(StreamEnd::Other)
        );
        assert_eq!(
            stream_input(&message("heartbeat", "{}", "ab-3")),
            Input::Heartbeat
        );
        assert_eq!(
            stream_input(&message("trigger.fired", "{}", "ab-9")),
            Input::Event {
                id: Some(EventId::new(Epoch::new(0xab), 9))
            }
        );
        assert_eq!(
            stream_input(&message("message", "x", "")),
            Input::Event { id: None }
        );
    }

    #[test]
    fn malformed_control_data_is_an_input_not_a_panic() {
        for bad in [
            "",
            "{",
            "[]",
            r#"{"epoch":"ab","resumed":"yes","head":"ab-1"}"#,
            r#"{"epoch":"XY","resumed":true,"head":"ab-1"}"#,
            r#"{"epoch":"ab","resumed":true}"#,
        ] {
            assert_eq!(stream_input(&message("ready", bad, "")), Input::Malformed);
        }
        assert_eq!(
            stream_input(&message("lagged", r#"{"dropped":-1}"#, "")),
            Input::Malformed
        );
        assert_eq!(
            stream_input(&message("end", r#"{"reason":3}"#, "")),
            Input::Malformed
        );
    }
}
