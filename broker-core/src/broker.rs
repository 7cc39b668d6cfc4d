//! The broker: one history ring shared by every subscriber, each subscriber a
//! cursor into it with a bounded lag.
//!
//! SKELETON — the signatures here are the contract host-native and the
//! simulation rely on; bodies are being filled in.

use bytes::BytesMut;
use serde_json::{Map, Value};

use crate::event::{Event, EventType};
use crate::id::{Epoch, EventId, SubscriberId, TaskId};

/// Sizes of the broker's buffers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BrokerConfig {
    /// How many of the newest events are kept for `Last-Event-ID` resume.
    pub history: usize,
    /// How far (in events) a subscriber may fall behind before its oldest
    /// undelivered events are dropped.
    pub queue: usize,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        BrokerConfig {
            history: 4096,
            queue: 256,
        }
    }
}

/// Which events a subscriber wants.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    types: Vec<TypePattern>,
    task: Option<TaskId>,
}

/// One entry of a `types=` filter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TypePattern {
    /// Exactly this type.
    Exact(String),
    /// Every type starting with this prefix (written `prefix.*`; the stored
    /// prefix keeps its trailing dot).
    Prefix(String),
}

/// Why a filter could not be built.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    /// An entry of `types=` is not a valid type or `prefix.*` pattern.
    #[error("invalid type pattern {0:?}: use a type name or 'prefix.*'")]
    BadType(String),
    /// Too many entries in `types=`.
    #[error("too many type patterns (at most 32)")]
    TooManyTypes,
    /// `task=` is not a valid task id.
    #[error("invalid task id in filter")]
    BadTask,
}

impl Filter {
    /// Everything.
    pub fn all() -> Self {
        Filter::default()
    }

    /// Parses the `types` (comma separated) and `task` query values.
    pub fn parse(types: Option<&str>, task: Option<&str>) -> Result<Self, FilterError> {
        let _ = (types, task);
        todo!("filled in by the broker work")
    }

    /// Whether `event` passes this filter.
    pub fn matches(&self, event: &Event) -> bool {
        let _ = event;
        todo!()
    }
}

/// What a new subscriber is told first (the `ready` frame).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Ready {
    /// This broker's epoch.
    pub epoch: Epoch,
    /// Whether the subscription continues from the id the client sent with
    /// nothing lost; when false the client must list again.
    pub resumed: bool,
    /// The id of the newest event (or, before any event of this epoch, the
    /// cursor a list taken now would carry).
    pub head: EventId,
}

/// One item a subscriber receives.
#[derive(Clone, Debug)]
pub enum Delivery {
    /// The next event.
    Event(Event),
    /// This many events that passed the filter were dropped because the
    /// subscriber fell too far behind; the newest ones follow.
    Lagged {
        /// How many were lost.
        dropped: u64,
    },
}

/// Counters for metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BrokerStats {
    /// Subscribers now.
    pub subscribers: usize,
    /// Events published since start.
    pub published: u64,
    /// Events dropped from lagging subscribers (summed over subscribers).
    pub dropped: u64,
    /// `lagged` notices given.
    pub lagged: u64,
}

/// The broker. Owned by one driver (`&mut self` everywhere).
#[derive(Debug)]
pub struct Broker {
    _todo: (),
}

impl Broker {
    /// A broker for one epoch whose first event gets `SEQ` = `first_seq`
    /// (drivers pass one above every version already persisted).
    pub fn new(epoch: Epoch, first_seq: u64, config: BrokerConfig) -> Self {
        let _ = (epoch, first_seq, config);
        todo!()
    }

    /// This broker's epoch.
    pub fn epoch(&self) -> Epoch {
        todo!()
    }

    /// The id the next published event will get; with the driver's lock held
    /// across this and [`Broker::publish`], a task's version can name the
    /// event that announces it.
    pub fn next_id(&self) -> EventId {
        todo!()
    }

    /// The id of the newest event, or the list cursor before any event.
    pub fn head(&self) -> EventId {
        todo!()
    }

    /// Publishes an event. Never fails, never blocks; O(1) whatever the
    /// number of subscribers.
    pub fn publish(
        &mut self,
        kind: EventType,
        task: Option<TaskId>,
        data: &Map<String, Value>,
    ) -> EventId {
        let _ = (kind, task, data);
        todo!()
    }

    /// Adds a subscriber. `resume` is the raw `Last-Event-ID` text, if any:
    /// malformed, foreign or too old ids simply do not resume.
    pub fn subscribe(&mut self, filter: Filter, resume: Option<&str>) -> (SubscriberId, Ready) {
        let _ = (filter, resume);
        todo!()
    }

    /// Removes a subscriber. Idempotent: returns whether it was there.
    pub fn unsubscribe(&mut self, id: SubscriberId) -> bool {
        let _ = id;
        todo!()
    }

    /// Whether the subscriber has anything to receive now.
    pub fn has_pending(&self, id: SubscriberId) -> bool {
        let _ = id;
        todo!()
    }

    /// The subscriber's next item, or `None` when it is up to date (or unknown).
    pub fn poll_delivery(&mut self, id: SubscriberId) -> Option<Delivery> {
        let _ = id;
        todo!()
    }

    /// Appends every item ready for the subscriber to `out` as SSE frames
    /// (coalesced into one write by the driver), up to about `max_bytes`.
    /// Returns how many items were written.
    pub fn drain_frames(
        &mut self,
        id: SubscriberId,
        out: &mut BytesMut,
        max_bytes: usize,
    ) -> usize {
        let _ = (id, out, max_bytes);
        todo!()
    }

    /// Counters for metrics.
    pub fn stats(&self) -> BrokerStats {
        todo!()
    }
}
