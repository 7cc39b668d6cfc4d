//! Event type names (`type` of `POST /api/events`, entries of `types=`):
//! `EventType::new` never panics, refuses exactly what the contract refuses
//! (empty, over 64 bytes, a control character, whitespace, `*` or `,`, a
//! name the stream reserves), and an accepted name can never break out of its
//! `event:` line: the broker's frame for it parses back, through the real
//! SSE parser, as one message of exactly that type. An accepted name is also
//! an exact `types=` pattern that selects it, and a prefix pattern when it
//! ends in `.`.
//!
//! Input: the whole input as text (lossy UTF-8).

use broker_core::event::{MAX_EVENT_TYPE_LEN, RESERVED_EVENT_TYPES};
use broker_core::sse::{Message, SseItem};
use broker_core::{Epoch, Event, EventId, EventType, EventTypeError, Filter, TypePattern};
use serde_json::{Map, Value};

use crate::sse_support::{run_whole, unlimited};

/// Why the contract refuses `name`, read literally; `None` when it is a
/// valid event type.
fn model(name: &str) -> Option<EventTypeError> {
    if name.is_empty() {
        Some(EventTypeError::Empty)
    } else if name.len() > MAX_EVENT_TYPE_LEN {
        Some(EventTypeError::TooLong)
    } else if name
        .chars()
        .any(|c| c.is_control() || c.is_whitespace() || matches!(c, '*' | ','))
    {
        Some(EventTypeError::BadCharacter)
    } else if RESERVED_EVENT_TYPES.contains(&name) {
        Some(EventTypeError::Reserved)
    } else {
        None
    }
}

/// The check: see the module docs.
pub fn check(input: &[u8]) {
    let name = String::from_utf8_lossy(input).into_owned();
    let result = EventType::new(name.as_str());
    assert_eq!(result.as_ref().err().copied(), model(&name), "{name:?}");
    let from_json = serde_json::from_value::<EventType>(Value::String(name.clone()));
    assert_eq!(
        from_json.ok(),
        result.clone().ok(),
        "serde and new disagree"
    );
    let Ok(kind) = result else {
        return;
    };
    assert_eq!(kind.as_str(), name);
    assert_eq!(kind.to_string(), name);
    assert!(!name.contains(['\r', '\n', '\0']));

    let id = EventId::new(Epoch::new(0x5eed), 42);
    let mut data = Map::new();
    data.insert("type".into(), Value::String(name.clone()));
    let event = Event::new(id, kind.clone(), None, &data);
    let run = run_whole(unlimited(), event.frame());
    let expected = Message {
        event: name.clone(),
        data: String::from_utf8_lossy(event.data_json()).into_owned(),
        last_event_id: id.to_string(),
    };
    assert_eq!(run.outputs, [Ok(SseItem::Message(expected))]);
    let echoed: Value = serde_json::from_slice(event.data_json()).unwrap_or_default();
    assert_eq!(echoed.get("type"), Some(&Value::String(name.clone())));

    assert_eq!(
        TypePattern::parse(&name),
        Ok(TypePattern::Exact(name.clone()))
    );
    let exact = Filter::parse(Some(&name), None).unwrap_or_else(|e| panic!("{name:?}: {e}"));
    assert!(exact.matches(&event));
    if name.ends_with('.') && name.len() >= 2 {
        let pattern = format!("{name}*");
        assert_eq!(
            TypePattern::parse(&pattern),
            Ok(TypePattern::Prefix(name.clone())),
            "{pattern:?}"
        );
    }
}
