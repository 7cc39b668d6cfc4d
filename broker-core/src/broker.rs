//! The broker: one history ring shared by every subscriber, each subscriber a
//! cursor into it with a bounded lag.
//!
//! Publishing appends the event (its SSE frame encoded once) to the ring and
//! bumps a few per-pattern counters; it never visits a subscriber, so it costs
//! the same with no subscribers or ten thousand, and a stalled subscriber
//! cannot slow it down. The ring holds the newest `history` events and at
//! most `history_bytes` of their frames. Each subscriber is a pair of cursors
//! into the ring. When it is polled, the lag limit is applied as if it had
//! been applied at every publish: it keeps the newest `queue` events that
//! pass its filter and is told exactly how many it lost (counted with the
//! counters, so even events that already left the history are accounted
//! for).
//!
//! **Keyed conflation.** Task events (`task.created`, `task.updated`,
//! `task.status`, `task.removed` with a task id) are keyed by task and never
//! dropped for lag: a lagging subscriber keeps them beyond `queue`, and skips
//! each one a later event it will receive supersedes (see
//! `broker/conflation.rs`), so it gets the newest state of every task, ids
//! still strictly increasing. `lagged {dropped}` then counts only the unkeyed
//! events lost (and anything that left the history before it was read); a
//! subscriber whose missed events were all superseded gets no `lagged`.
//!
//! ```
//! use broker_core::{Broker, BrokerConfig, Delivery, Epoch, EventType, Filter};
//! use serde_json::Map;
//!
//! let mut broker = Broker::new(Epoch::new(0x1f), 1, BrokerConfig::default());
//! let (sub, ready) = broker.subscribe(Filter::parse(Some("task.*"), None)?, None);
//! assert!(!ready.resumed);
//! let kind = EventType::new("task.created").expect("a valid type");
//! let id = broker.publish(kind, None, &Map::new());
//! match broker.poll_delivery(sub) {
//!     Some(Delivery::Event(event)) => assert_eq!(event.id(), id),
//!     other => panic!("expected the event, got {other:?}"),
//! }
//! assert!(broker.poll_delivery(sub).is_none());
//! # Ok::<(), broker_core::FilterError>(())
//! ```

mod conflation;
mod counters;
mod filter;
mod history;
mod subscriber;

use bytes::BytesMut;
use serde_json::{Map, Value};

pub use filter::{Filter, FilterError, TypePattern, MAX_TYPE_PATTERNS};

use crate::event::{Event, EventType};
use crate::id::{Epoch, EventId, SubscriberId, TaskId};
use conflation::KeyClass;
use counters::Counters;
use history::History;
use subscriber::{Item, Subscriber};

/// Sizes of the broker's buffers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BrokerConfig {
    /// How many of the newest events are kept for `Last-Event-ID` resume.
    /// Subscribers read their pending events from the same ring, so it holds
    /// at least `queue` events whatever this says.
    pub history: usize,
    /// How far (in events) a subscriber may fall behind before its oldest
    /// undelivered (unkeyed) events are dropped.
    pub queue: usize,
    /// At most this many bytes of encoded frames are kept in the history
    /// (beyond the newest event, which is always kept): the oldest events go
    /// first. Below `queue` times the largest event, it also cuts into what
    /// lagging subscribers keep (counted as lost like any event that left
    /// the history).
    pub history_bytes: usize,
    /// Keyed conflation for lagging subscribers (the contract has it on; off
    /// treats task events like any other, for comparisons).
    pub conflation: bool,
}

/// The default of [`BrokerConfig::history_bytes`]: 64 MiB.
pub const DEFAULT_HISTORY_BYTES: usize = 64 * 1024 * 1024;

impl Default for BrokerConfig {
    fn default() -> Self {
        BrokerConfig {
            history: 4096,
            queue: 256,
            history_bytes: DEFAULT_HISTORY_BYTES,
            conflation: true,
        }
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
    /// Task events lagging subscribers skipped because a later event they
    /// received superseded them (summed over subscribers): deliveries saved
    /// by conflation, none of them lost.
    pub conflated: u64,
    /// Events held in the history now.
    pub history_len: usize,
    /// Bytes of encoded frames held in the history now.
    pub history_bytes: usize,
}

/// The broker. Owned by one driver (`&mut self` everywhere).
#[derive(Debug)]
pub struct Broker {
    epoch: Epoch,
    /// The sequence number of this epoch's first event.
    first_seq: u64,
    queue: u64,
    conflation: bool,
    history: History,
    counters: Counters,
    slots: Vec<Slot>,
    free_slots: Vec<u32>,
    stats: BrokerStats,
    /// Reused to encode each published frame (see [`Event::encode_with`]).
    scratch: Vec<u8>,
}

/// A place in the subscriber table; the generation tells a stale
/// [`SubscriberId`] from the subscriber now using the slot.
#[derive(Debug)]
struct Slot {
    generation: u32,
    subscriber: Option<Subscriber>,
}

impl Broker {
    /// A broker for one epoch whose first event gets `SEQ` = `first_seq`
    /// (drivers pass one above every version already persisted).
    ///
    /// `first_seq` 0 is taken as 1, so that "before any event" always has an
    /// id (`EPOCH-0`) distinct from every event's. The ring keeps at least
    /// `queue` events (and `queue` is at least 1), since a subscriber's kept
    /// events are read from it.
    pub fn new(epoch: Epoch, first_seq: u64, config: BrokerConfig) -> Self {
        let first_seq = first_seq.max(1);
        let queue = config.queue.max(1);
        Broker {
            epoch,
            first_seq,
            queue: queue as u64,
            conflation: config.conflation,
            history: History::new(config.history.max(queue), config.history_bytes, first_seq),
            counters: Counters::default(),
            slots: Vec::new(),
            free_slots: Vec::new(),
            stats: BrokerStats::default(),
            scratch: Vec::new(),
        }
    }

    /// This broker's epoch.
    pub fn epoch(&self) -> Epoch {
        self.epoch
    }

    /// The id the next published event will get; with the driver's lock held
    /// across this and [`Broker::publish`], a task's version can name the
    /// event that announces it.
    pub fn next_id(&self) -> EventId {
        EventId::new(self.epoch, self.history.next_seq())
    }

    /// The id of the newest event, or the list cursor before any event.
    pub fn head(&self) -> EventId {
        EventId::new(self.epoch, self.history.next_seq() - 1)
    }

    /// Publishes an event. Never fails, never blocks; O(1) whatever the
    /// number of subscribers.
    pub fn publish(
        &mut self,
        kind: EventType,
        task: Option<TaskId>,
        data: &Map<String, Value>,
    ) -> EventId {
        let id = self.next_id();
        self.counters.record(kind.as_str(), task.as_ref());
        let class = if self.conflation {
            KeyClass::of(kind.as_str(), task.as_ref())
        } else {
            None
        };
        let event = Event::encode_with(id, kind, task, data, &mut self.scratch);
        self.history.push(event, class);
        while let Some(old) = self.history.pop_excess() {
            let e = &old.event;
            self.counters
                .record_evicted(e.kind().as_str(), e.task(), e.id().seq);
        }
        self.stats.published += 1;
        id
    }

    /// Adds a subscriber. `resume` is the raw `Last-Event-ID` text, if any:
    /// malformed, foreign or too old ids simply do not resume.
    ///
    /// A resumed subscriber first receives every missed event that passes its
    /// filter, however many (they are all still in history, or it would not
    /// have resumed); the lag limit applies to what is published after it
    /// subscribed. Should the history move past part of the replay before it
    /// is read, that part is reported as `lagged` with its exact count.
    pub fn subscribe(&mut self, filter: Filter, resume: Option<&str>) -> (SubscriberId, Ready) {
        let resume_from = resume.and_then(|raw| self.resume_point(raw));
        let subscriber = Subscriber::new(filter, &mut self.counters, &self.history, resume_from);
        let id = match self.free_slots.pop() {
            Some(slot) => {
                let entry = &mut self.slots[slot as usize];
                entry.subscriber = Some(subscriber);
                SubscriberId {
                    slot,
                    generation: entry.generation,
                }
            }
            None => {
                // Four billion concurrent subscribers would not fit in memory
                // first, so the slot number always fits.
                let slot = self.slots.len() as u32;
                self.slots.push(Slot {
                    generation: 0,
                    subscriber: Some(subscriber),
                });
                SubscriberId {
                    slot,
                    generation: 0,
                }
            }
        };
        self.stats.subscribers += 1;
        let ready = Ready {
            epoch: self.epoch,
            resumed: resume_from.is_some(),
            head: self.head(),
        };
        (id, ready)
    }

    /// The sequence number of the first event a client holding `raw` missed,
    /// when resuming from `raw` loses nothing.
    fn resume_point(&self, raw: &str) -> Option<u64> {
        let id: EventId = raw.parse().ok()?;
        if id.epoch != self.epoch || id.seq >= self.history.next_seq() {
            return None;
        }
        // Below `next_seq`, so adding one cannot overflow.
        let first_missed = id.seq + 1;
        let still_held = first_missed >= self.history.oldest() && first_missed >= self.first_seq;
        still_held.then_some(first_missed)
    }

    /// Removes a subscriber. Idempotent: returns whether it was there.
    pub fn unsubscribe(&mut self, id: SubscriberId) -> bool {
        let Some(slot) = self.slots.get_mut(id.slot as usize) else {
            return false;
        };
        if slot.generation != id.generation {
            return false;
        }
        let Some(subscriber) = slot.subscriber.take() else {
            return false;
        };
        slot.generation = slot.generation.wrapping_add(1);
        subscriber.release(&mut self.counters);
        self.free_slots.push(id.slot);
        self.stats.subscribers -= 1;
        true
    }

    /// Whether `id` names a current subscriber.
    pub fn is_subscribed(&self, id: SubscriberId) -> bool {
        self.subscriber(id).is_some()
    }

    fn subscriber(&self, id: SubscriberId) -> Option<&Subscriber> {
        self.slots
            .get(id.slot as usize)
            .filter(|s| s.generation == id.generation)
            .and_then(|s| s.subscriber.as_ref())
    }

    /// Whether the subscriber has anything to receive now.
    pub fn has_pending(&self, id: SubscriberId) -> bool {
        self.subscriber(id)
            .is_some_and(|s| s.has_pending(&self.counters))
    }

    /// The subscriber's next item, or `None` when it is up to date (or unknown).
    pub fn poll_delivery(&mut self, id: SubscriberId) -> Option<Delivery> {
        let Broker {
            slots,
            history,
            counters,
            stats,
            queue,
            ..
        } = self;
        let subscriber = slot_subscriber(slots, id)?;
        match subscriber.next_item(history, counters, *queue, stats)? {
            Item::Event(held) => Some(Delivery::Event(held.event.clone())),
            Item::Lagged(dropped) => Some(Delivery::Lagged { dropped }),
        }
    }

    /// Appends every item ready for the subscriber to `out` as SSE frames
    /// (coalesced into one write by the driver), up to about `max_bytes`.
    /// Returns how many items were written.
    ///
    /// Writing stops before an item once `out` holds `max_bytes` or more; the
    /// rest stays pending. At least one item is written when one is pending,
    /// so a driver always makes progress.
    pub fn drain_frames(
        &mut self,
        id: SubscriberId,
        out: &mut BytesMut,
        max_bytes: usize,
    ) -> usize {
        let Broker {
            slots,
            history,
            counters,
            stats,
            queue,
            ..
        } = self;
        let Some(subscriber) = slot_subscriber(slots, id) else {
            return 0;
        };
        let mut written = 0;
        while written == 0 || out.len() < max_bytes {
            match subscriber.next_item(history, counters, *queue, stats) {
                Some(Item::Event(held)) => out.extend_from_slice(held.event.frame()),
                Some(Item::Lagged(dropped)) => {
                    out.extend_from_slice(&crate::sse::lagged_frame(dropped))
                }
                None => break,
            }
            written += 1;
        }
        written
    }

    /// Counters for metrics.
    ///
    /// `dropped` and `lagged` grow when a lagging subscriber is next polled
    /// (the lag rule is applied lazily), not at the publish that overflowed it.
    pub fn stats(&self) -> BrokerStats {
        BrokerStats {
            history_len: self.history.len(),
            history_bytes: self.history.bytes(),
            ..self.stats
        }
    }
}

#[cfg(test)]
impl Broker {
    fn counters_are_empty(&self) -> bool {
        self.counters.is_empty()
    }
}

fn slot_subscriber(slots: &mut [Slot], id: SubscriberId) -> Option<&mut Subscriber> {
    slots
        .get_mut(id.slot as usize)
        .filter(|s| s.generation == id.generation)
        .and_then(|s| s.subscriber.as_mut())
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    const EPOCH: Epoch = Epoch::new(0xe);

    fn broker(history: usize, queue: usize) -> Broker {
        Broker::new(
            EPOCH,
            1,
            BrokerConfig {
                history,
                queue,
                ..BrokerConfig::default()
            },
        )
    }

    fn publish(b: &mut Broker, kind: &str, task: Option<&str>) -> EventId {
        b.publish(
            EventType::new(kind).expect("valid type"),
            task.map(|t| TaskId::new(t).expect("valid task")),
            &Map::new(),
        )
    }

    /// Everything the subscriber has now, events as their seq.
    fn drain(b: &mut Broker, id: SubscriberId) -> Vec<Result<u64, u64>> {
        let mut got = Vec::new();
        while let Some(d) = b.poll_delivery(id) {
            got.push(match d {
                Delivery::Event(e) => Ok(e.id().seq),
                Delivery::Lagged { dropped } => Err(dropped),
            });
        }
        got
    }

    #[test]
    fn ids_count_up_from_first_seq_and_head_names_the_newest() {
        let mut b = Broker::new(EPOCH, 10, BrokerConfig::default());
        assert_eq!(b.head(), EventId::new(EPOCH, 9));
        assert_eq!(b.next_id(), EventId::new(EPOCH, 10));
        assert_eq!(publish(&mut b, "a", None), EventId::new(EPOCH, 10));
        assert_eq!(b.head(), EventId::new(EPOCH, 10));
        assert_eq!(b.next_id(), EventId::new(EPOCH, 11));
        assert_eq!(b.epoch(), EPOCH);
    }

    #[test]
    fn counters_are_shared_and_freed_with_their_last_subscriber() {
        let mut b = broker(8, 4);
        let f = || Filter::parse(Some("a.*,b"), Some("t")).expect("parses");
        let (s1, _) = b.subscribe(f(), None);
        let (s2, _) = b.subscribe(f(), None);
        assert_eq!(b.counters.live_counters(), 2);
        let (s3, _) = b.subscribe(Filter::all(), None);
        assert_eq!(b.counters.live_counters(), 3);
        for s in [s1, s2, s3] {
            assert!(b.unsubscribe(s));
        }
        assert_eq!(b.counters.live_counters(), 0);
        assert!(b.counters_are_empty());
    }

    #[test]
    fn a_subscriber_with_a_narrow_filter_counts_events_lost_to_history() {
        // Two of its events fall out of a 4-event history while it sleeps,
        // although it never exceeded its queue of 3.
        let mut b = broker(4, 3);
        let (s, _) = b.subscribe(Filter::parse(Some("x"), None).expect("parses"), None);
        publish(&mut b, "x", None);
        publish(&mut b, "x", None);
        for _ in 0..4 {
            publish(&mut b, "y", None);
        }
        let x = publish(&mut b, "x", None);
        assert_eq!(drain(&mut b, s), vec![Err(2), Ok(x.seq)]);
        assert_eq!(b.stats().dropped, 2);
        assert_eq!(b.stats().lagged, 1);
    }

    #[test]
    fn an_idle_subscriber_costs_a_few_hundred_bytes() {
        // Part of the server's budget of 8 KiB per idle stream.
        assert!(core::mem::size_of::<Slot>() <= 256);
    }

    #[test]
    fn stale_ids_reach_nobody_after_the_slot_is_reused() {
        let mut b = broker(8, 4);
        let (old, _) = b.subscribe(Filter::all(), None);
        assert!(b.unsubscribe(old));
        let (new, _) = b.subscribe(Filter::all(), None);
        assert_eq!(new.slot, old.slot);
        publish(&mut b, "a", None);
        assert!(!b.has_pending(old));
        assert!(b.poll_delivery(old).is_none());
        assert!(!b.unsubscribe(old));
        assert!(b.is_subscribed(new));
        assert_eq!(drain(&mut b, new), vec![Ok(1)]);
    }
}
