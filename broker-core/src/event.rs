//! Events: a validated type name, a JSON object, and the SSE frame encoded once.

use bytes::Bytes;
use core::fmt;
use serde_json::{Map, Value};

use crate::id::{EventId, TaskId};

/// The longest event type name accepted.
pub const MAX_EVENT_TYPE_LEN: usize = 64;

/// Names the stream itself uses for connection frames; an application event
/// may not take them, or a client could not tell the two apart.
pub const RESERVED_EVENT_TYPES: [&str; 4] = ["ready", "lagged", "end", "heartbeat"];

/// An event type such as `task.status` or `trigger.fired`.
///
/// Non-empty, at most [`MAX_EVENT_TYPE_LEN`] bytes, no control characters or
/// spaces (so it can never break out of its `event:` line), no `*` or `,`
/// (so a `types=` filter can always name it), and not one of the
/// [`RESERVED_EVENT_TYPES`].
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct EventType(String);

/// Why a string is not an event type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EventTypeError {
    /// The name is empty.
    #[error("event type must not be empty")]
    Empty,
    /// The name is longer than [`MAX_EVENT_TYPE_LEN`].
    #[error("event type must be at most 64 bytes")]
    TooLong,
    /// The name holds a control character, a space, a `*` or a `,` (the
    /// separator of `types=` filters, which could never select it).
    #[error("event type must not contain spaces, control characters, ',' or '*'")]
    BadCharacter,
    /// The name is one the stream reserves for its own frames.
    #[error("event type is reserved for the stream itself (ready, lagged, end, heartbeat)")]
    Reserved,
}

impl EventType {
    /// Validates `name` as an event type.
    pub fn new(name: impl Into<String>) -> Result<Self, EventTypeError> {
        let name = name.into();
        if name.is_empty() {
            return Err(EventTypeError::Empty);
        }
        if name.len() > MAX_EVENT_TYPE_LEN {
            return Err(EventTypeError::TooLong);
        }
        if name
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || c == '*' || c == ',')
        {
            return Err(EventTypeError::BadCharacter);
        }
        if RESERVED_EVENT_TYPES.contains(&name.as_str()) {
            return Err(EventTypeError::Reserved);
        }
        Ok(EventType(name))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for EventType {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        EventType::new(s).map_err(serde::de::Error::custom)
    }
}

/// Turns optional, possibly non-object event data into the object the contract
/// promises: missing or `null` data becomes `{}`; anything else that is not an
/// object is refused.
pub fn event_data(data: Option<Value>) -> Result<Map<String, Value>, NotAnObject> {
    match data {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(map)) => Ok(map),
        Some(_) => Err(NotAnObject),
    }
}

/// Event data must be a JSON object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("event data must be a JSON object")]
pub struct NotAnObject;

/// A published event.
///
/// Its SSE frame is encoded once, at publish time, and shared by reference
/// count with every subscriber that receives it.
#[derive(Clone, Debug)]
pub struct Event {
    id: EventId,
    kind: EventType,
    task: Option<TaskId>,
    /// Where the JSON data sits inside `frame` (a range rather than a second
    /// `Bytes`, which would make the frame's buffer reference-counted and cost
    /// an allocation per event).
    data: core::ops::Range<usize>,
    frame: Bytes,
}

impl Event {
    /// Encodes an event. JSON text never holds a raw line break (serde_json
    /// escapes control characters), so the data is always one `data:` line.
    pub fn new(
        id: EventId,
        kind: EventType,
        task: Option<TaskId>,
        data: &Map<String, Value>,
    ) -> Self {
        Event::encode_with(id, kind, task, data, &mut Vec::new())
    }

    /// Like [`Event::new`], but encodes through `scratch`, a buffer the caller
    /// keeps between events: the frame then costs exactly one allocation of
    /// its exact size, which is what keeps a publish cheap.
    pub fn encode_with(
        id: EventId,
        kind: EventType,
        task: Option<TaskId>,
        data: &Map<String, Value>,
        scratch: &mut Vec<u8>,
    ) -> Self {
        scratch.clear();
        scratch.extend_from_slice(b"id: ");
        push_digits(scratch, id.epoch.value(), 16);
        scratch.push(b'-');
        push_digits(scratch, id.seq, 10);
        scratch.extend_from_slice(b"\nevent: ");
        scratch.extend_from_slice(kind.as_str().as_bytes());
        scratch.extend_from_slice(b"\ndata: ");
        let start = scratch.len();
        // Serialising a Map of Values into memory cannot fail.
        let _ = serde_json::to_writer(&mut *scratch, data);
        let end = scratch.len();
        scratch.extend_from_slice(b"\n\n");
        Event {
            id,
            kind,
            task,
            data: start..end,
            frame: Bytes::copy_from_slice(scratch),
        }
    }

    /// The event's id.
    pub fn id(&self) -> EventId {
        self.id
    }

    /// The event's type.
    pub fn kind(&self) -> &EventType {
        &self.kind
    }

    /// The task this event concerns, for `task=` filters.
    pub fn task(&self) -> Option<&TaskId> {
        self.task.as_ref()
    }

    /// The data as one line of JSON text.
    pub fn data_json(&self) -> &[u8] {
        self.frame.get(self.data.clone()).unwrap_or_default()
    }

    /// The complete SSE frame: `id:`, `event:`, `data:` and the blank line.
    pub fn frame(&self) -> &Bytes {
        &self.frame
    }
}

/// Appends `value` in lowercase `radix` (10 or 16) digits: the `EventId`
/// text, without going through `core::fmt` on the publish path.
fn push_digits(out: &mut Vec<u8>, mut value: u64, radix: u64) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = DIGITS[(value % radix) as usize];
        value /= radix;
        if value == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::Epoch;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn event_types_are_validated() {
        assert!(EventType::new("task.status").is_ok());
        assert_eq!(EventType::new(""), Err(EventTypeError::Empty));
        assert_eq!(EventType::new("a\nb"), Err(EventTypeError::BadCharacter));
        assert_eq!(EventType::new("a\rb"), Err(EventTypeError::BadCharacter));
        assert_eq!(EventType::new("a\0b"), Err(EventTypeError::BadCharacter));
        assert_eq!(EventType::new("a b"), Err(EventTypeError::BadCharacter));
        assert_eq!(EventType::new("task.*"), Err(EventTypeError::BadCharacter));
        // Found by fuzzing: `types=a,b` could never select a type `a,b`.
        assert_eq!(EventType::new("a,b"), Err(EventTypeError::BadCharacter));
        assert_eq!(EventType::new("x".repeat(65)), Err(EventTypeError::TooLong));
        assert_eq!(EventType::new("ready"), Err(EventTypeError::Reserved));
    }

    #[test]
    fn the_frame_id_is_the_event_id_text() {
        for (epoch, seq) in [(0, 0), (0xab, 7), (u64::MAX, u64::MAX), (0x10, 1_000_000)] {
            let id = EventId::new(Epoch::new(epoch), seq);
            let kind = EventType::new("a").expect("valid");
            let ev = Event::new(id, kind, None, &Map::new());
            let expected = format!("id: {id}\nevent: a\ndata: {{}}\n\n");
            assert_eq!(&ev.frame()[..], expected.as_bytes());
        }
    }

    #[test]
    fn missing_data_becomes_an_empty_object() {
        assert_eq!(event_data(None), Ok(Map::new()));
        assert_eq!(event_data(Some(Value::Null)), Ok(Map::new()));
        assert_eq!(event_data(Some(Value::from(3))), Err(NotAnObject));
    }

    #[test]
    fn the_frame_is_one_event_with_one_data_line() {
        let mut data = Map::new();
        data.insert("text".into(), Value::from("two\nlines\r\n"));
        let kind = EventType::new("trigger.fired").expect("valid");
        let ev = Event::new(EventId::new(Epoch::new(0xab), 7), kind, None, &data);
        assert_eq!(
            &ev.frame()[..],
            b"id: ab-7\nevent: trigger.fired\ndata: {\"text\":\"two\\nlines\\r\\n\"}\n\n"
        );
        assert_eq!(ev.data_json(), br#"{"text":"two\nlines\r\n"}"#);
    }
}
