//! Identities: event ids (`EPOCH-SEQ`), task ids and subscriber ids.

use alloc::string::String;
use core::fmt;
use core::str::FromStr;

/// The identity of one broker's life.
///
/// A new one is drawn by the driver each time the server starts, so an event id
/// from before a restart is recognisably foreign. Written as lowercase hex.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Epoch(u64);

impl Epoch {
    /// Wraps a value the driver drew at random (or derived from the start time).
    pub const fn new(value: u64) -> Self {
        Epoch(value)
    }

    /// The raw value.
    pub const fn value(self) -> u64 {
        self.0
    }
}

impl fmt::Display for Epoch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:x}", self.0)
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for Epoch {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl FromStr for Epoch {
    type Err = EventIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty()
            || s.len() > 16
            || !s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        {
            return Err(EventIdError::BadEpoch);
        }
        u64::from_str_radix(s, 16)
            .map(Epoch)
            .map_err(|_| EventIdError::BadEpoch)
    }
}

/// An event's place in the stream: `EPOCH-SEQ`.
///
/// `SEQ` counts up by one per event and never goes backwards, not even across a
/// restart, so a task's `version` (the `SEQ` of the event that last changed it)
/// stays comparable across epochs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct EventId {
    /// The broker life this id belongs to.
    pub epoch: Epoch,
    /// The position within the whole (cross-restart) sequence.
    pub seq: u64,
}

impl EventId {
    /// Builds an id from its parts.
    pub const fn new(epoch: Epoch, seq: u64) -> Self {
        EventId { epoch, seq }
    }
}

impl EventId {
    /// Appends the id as text (`EPOCH-SEQ`) without the formatting
    /// machinery, which the browser build leaves out to stay small.
    pub fn write_to(&self, out: &mut String) {
        let mut digits = [0u8; 20];
        let mut n = 0;
        let mut epoch = self.epoch.0;
        loop {
            digits[n] = b"0123456789abcdef"[(epoch & 0xf) as usize];
            n += 1;
            epoch >>= 4;
            if epoch == 0 {
                break;
            }
        }
        out.extend(digits[..n].iter().rev().map(|&d| char::from(d)));
        out.push('-');
        let mut n = 0;
        let mut seq = self.seq;
        loop {
            digits[n] = b'0' + (seq % 10) as u8;
            n += 1;
            seq /= 10;
            if seq == 0 {
                break;
            }
        }
        out.extend(digits[..n].iter().rev().map(|&d| char::from(d)));
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.epoch, self.seq)
    }
}

/// Why a string is not an event id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EventIdError {
    /// No `-` between epoch and sequence.
    #[error("event id must look like EPOCH-SEQ")]
    MissingSeparator,
    /// The epoch is not 1 to 16 lowercase hex digits.
    #[error("event id epoch must be 1 to 16 lowercase hex digits")]
    BadEpoch,
    /// The sequence is not a decimal number that fits in 64 bits.
    #[error("event id sequence must be a decimal number")]
    BadSeq,
}

impl FromStr for EventId {
    type Err = EventIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (epoch, seq) = s.split_once('-').ok_or(EventIdError::MissingSeparator)?;
        let epoch = epoch.parse()?;
        if seq.is_empty() || seq.len() > 20 || !seq.bytes().all(|b| b.is_ascii_digit()) {
            return Err(EventIdError::BadSeq);
        }
        let seq = seq.parse().map_err(|_| EventIdError::BadSeq)?;
        Ok(EventId { epoch, seq })
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for EventId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for EventId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <alloc::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A task's identity: 1 to 64 characters of `[A-Za-z0-9_-]`.
///
/// The restricted alphabet keeps ids safe in URLs, file names and SSE frames.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize), serde(transparent))]
pub struct TaskId(String);

/// Why a string is not a task id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("task id must be 1 to 64 characters of A-Z, a-z, 0-9, '-' or '_'")]
pub struct TaskIdError;

impl TaskId {
    /// Validates `s` as a task id.
    pub fn new(s: impl Into<String>) -> Result<Self, TaskIdError> {
        let s = s.into();
        let ok = !s.is_empty()
            && s.len() <= 64
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if ok {
            Ok(TaskId(s))
        } else {
            Err(TaskIdError)
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for TaskId {
    type Err = TaskIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TaskId::new(s)
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for TaskId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        TaskId::new(s).map_err(serde::de::Error::custom)
    }
}

/// One subscription to a [`Broker`](crate::Broker).
///
/// Carries a generation so that a stale id (already unsubscribed, slot reused)
/// never reaches another subscriber: unsubscribing twice is harmless.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SubscriberId {
    pub(crate) slot: u32,
    pub(crate) generation: u32,
}

impl fmt::Display for SubscriberId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sub-{}.{}", self.slot, self.generation)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn event_id_round_trips_through_text() {
        let id = EventId::new(Epoch::new(0xbeef), 42);
        assert_eq!(id.to_string(), "beef-42");
        for id in [
            id,
            EventId::new(Epoch::new(0), 0),
            EventId::new(Epoch::new(u64::MAX), u64::MAX),
            EventId::new(Epoch::new(0x10), 1000),
        ] {
            let mut text = String::new();
            id.write_to(&mut text);
            assert_eq!(text, id.to_string());
        }
        assert_eq!("beef-42".parse::<EventId>(), Ok(id));
    }

    #[test]
    fn malformed_event_ids_are_typed_errors() {
        assert_eq!("".parse::<EventId>(), Err(EventIdError::MissingSeparator));
        assert_eq!(
            "beef42".parse::<EventId>(),
            Err(EventIdError::MissingSeparator)
        );
        assert_eq!("-4".parse::<EventId>(), Err(EventIdError::BadEpoch));
        assert_eq!("BEEF-4".parse::<EventId>(), Err(EventIdError::BadEpoch));
        assert_eq!("beef-".parse::<EventId>(), Err(EventIdError::BadSeq));
        assert_eq!("beef--4".parse::<EventId>(), Err(EventIdError::BadSeq));
        assert_eq!("beef-+4".parse::<EventId>(), Err(EventIdError::BadSeq));
        assert_eq!(
            "beef-99999999999999999999".parse::<EventId>(),
            Err(EventIdError::BadSeq)
        );
        assert_eq!(
            "11111111111111111-1".parse::<EventId>(),
            Err(EventIdError::BadEpoch)
        );
    }

    #[test]
    fn task_ids_reject_what_is_unsafe_in_paths_and_frames() {
        assert!(TaskId::new("a1-B_2").is_ok());
        for bad in ["", "../x", "a b", "a\nb", "é", &"x".repeat(65)] {
            assert_eq!(TaskId::new(bad), Err(TaskIdError), "{bad:?}");
        }
    }
}
