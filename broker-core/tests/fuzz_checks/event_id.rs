//! `EventId` text (the `Last-Event-ID` header, `last_event_id=`, list
//! cursors): parsing never panics, accepts exactly `EPOCH-SEQ` with 1 to 16
//! lowercase hex digits and a decimal `SEQ` that fits in 64 bits, and every
//! accepted id prints as text that parses back to the same id (the text the
//! broker writes on `id:` lines included).
//!
//! Input: the whole input as text (lossy UTF-8); and, when it has 16 bytes
//! or more, its first 16 bytes as an epoch and a sequence number
//! (little-endian) for the print → parse direction.

use broker_core::{Epoch, Event, EventId, EventIdError, EventType};
use serde_json::{Map, Value};

/// The accepted id of `text` as a literal reading of the format: `None`
/// when it is not one.
fn model(text: &str) -> Option<(u64, u64)> {
    let dash = text.find('-')?;
    let (epoch, seq) = (&text[..dash], &text[dash + 1..]);
    let hex = |c: char| c.to_digit(16).filter(|_| !c.is_ascii_uppercase());
    if epoch.is_empty() || epoch.chars().count() > 16 {
        return None;
    }
    let mut e: u128 = 0;
    for c in epoch.chars() {
        e = e * 16 + u128::from(hex(c)?);
    }
    if seq.is_empty() || seq.chars().count() > 20 {
        return None;
    }
    let mut s: u128 = 0;
    for c in seq.chars() {
        s = s * 10 + u128::from(c.to_digit(10)?);
    }
    Some((u64::try_from(e).ok()?, u64::try_from(s).ok()?))
}

/// The check: see the module docs.
pub fn check(input: &[u8]) {
    if let Some(head) = input.get(..16) {
        let mut epoch = [0u8; 8];
        let mut seq = [0u8; 8];
        epoch.copy_from_slice(&head[..8]);
        seq.copy_from_slice(&head[8..]);
        let id = EventId::new(
            Epoch::new(u64::from_le_bytes(epoch)),
            u64::from_le_bytes(seq),
        );
        round_trips(id);
    }

    let text = String::from_utf8_lossy(input);
    let parsed = text.parse::<EventId>();
    assert_eq!(
        parsed.ok().map(|id| (id.epoch.value(), id.seq)),
        model(&text),
        "{text:?} against the format"
    );
    let as_json = serde_json::from_value::<EventId>(Value::String(text.to_string()));
    assert_eq!(as_json.ok(), parsed.ok(), "serde and FromStr disagree");
    match parsed {
        Ok(id) => {
            round_trips(id);
            // The printed form is the one canonical spelling: the input is
            // it exactly when it has no leading zeros.
            let canonical = id.to_string() == *text;
            let (epoch, seq) = text.split_once('-').unwrap_or_default();
            let padded = |part: &str| part.len() > 1 && part.starts_with('0');
            assert_eq!(canonical, !padded(epoch) && !padded(seq), "{text:?}");
        }
        Err(EventIdError::MissingSeparator) => assert!(!text.contains('-')),
        Err(EventIdError::BadEpoch) => {
            let epoch = text.split_once('-').map(|(e, _)| e).unwrap_or_default();
            assert!(epoch.parse::<Epoch>().is_err(), "{text:?}");
        }
        Err(EventIdError::BadSeq) => {
            let (epoch, _) = text.split_once('-').unwrap_or_default();
            assert!(
                epoch.parse::<Epoch>().is_ok(),
                "{text:?}: the epoch was fine"
            );
        }
    }
}

/// `id` prints as text that parses back to it, as its epoch alone does, and
/// the broker's own `id:` line (written without `core::fmt`) is that text.
fn round_trips(id: EventId) {
    let text = id.to_string();
    assert_eq!(text.parse::<EventId>(), Ok(id), "{text}");
    assert_eq!(id.epoch.to_string().parse::<Epoch>(), Ok(id.epoch));
    let json = serde_json::to_value(id).unwrap_or_default();
    assert_eq!(json, Value::String(text.clone()));
    assert_eq!(serde_json::from_value::<EventId>(json).ok(), Some(id));
    let kind = EventType::new("a").unwrap_or_else(|e| panic!("a valid type: {e}"));
    let event = Event::new(id, kind, None, &Map::new());
    let line = format!("id: {text}\n");
    assert!(
        event.frame().starts_with(line.as_bytes()),
        "the frame's id line is not {line:?}"
    );
}
