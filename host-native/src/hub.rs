//! The hub: the one owner of the broker inside the server, and the cloneable
//! publisher handle an embedding backend uses.
//!
//! The broker sits behind one short-held lock: publishing, subscribing and
//! draining each take it for a few microseconds and never while touching a
//! socket. Stream bodies wait on one shared [`Notify`]: every publish wakes
//! them, and each drains whatever its filter lets through. A `Notified`
//! future counts every `notify_waiters` call made after it was created, so a
//! stream that creates its next wake-up before draining can never miss an
//! event published in between.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use broker_core::{
    Broker, BrokerConfig, BrokerStats, Epoch, EventId, EventType, Filter, Ready, SubscriberId,
    TaskId,
};
use bytes::BytesMut;
use serde_json::{Map, Value};
use tokio::sync::futures::OwnedNotified;
use tokio::sync::Notify;
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

use crate::seq::SeqBlocks;

/// Cloneable handle to the broker. Publishing never fails and never blocks on
/// subscribers: it appends to the broker's history under a lock held for the
/// length of one append, then wakes the streams.
#[derive(Clone)]
pub struct Hub {
    inner: Arc<Inner>,
}

struct Inner {
    broker: Mutex<Broker>,
    /// Woken on every publish and on close.
    wake: Arc<Notify>,
    /// Set once by [`Hub::close`]: every stream ends with `end{shutdown}`.
    closing: AtomicBool,
    /// Cancelled by [`Hub::close`]: what streams that do not follow the
    /// broker (a task's output) wait on, so no publish wakes them.
    closed: CancellationToken,
    /// The durable `SEQ` reservation, told of every `SEQ` handed out (after
    /// the broker's lock is released; atomics only).
    seq: Option<Arc<SeqBlocks>>,
}

impl std::fmt::Debug for Hub {
    /// Never waits for the lock: a `Debug` inside `publish_with`'s closure
    /// (which runs with the broker locked) must not deadlock.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("Hub");
        if let Ok(broker) = self.inner.broker.try_lock() {
            d.field("epoch", &broker.epoch())
                .field("head", &broker.head());
        }
        d.field("closing", &self.is_closing()).finish()
    }
}

impl Hub {
    /// A hub for one broker life. `first_seq` continues the sequence above
    /// every version already persisted (the broker takes 0 as 1).
    pub fn new(epoch: Epoch, first_seq: u64, config: BrokerConfig) -> Self {
        Hub::build(epoch, first_seq, config, None)
    }

    /// A hub whose `SEQ`s come from a durable reservation (what the server
    /// uses): it starts at the reservation's first `SEQ` and reports every
    /// `SEQ` it hands out, so the next block is reserved ahead of need.
    pub fn reserved(epoch: Epoch, seq: Arc<SeqBlocks>, config: BrokerConfig) -> Self {
        Hub::build(epoch, seq.first_seq(), config, Some(seq))
    }

    fn build(
        epoch: Epoch,
        first_seq: u64,
        config: BrokerConfig,
        seq: Option<Arc<SeqBlocks>>,
    ) -> Self {
        Hub {
            inner: Arc::new(Inner {
                broker: Mutex::new(Broker::new(epoch, first_seq, config)),
                wake: Arc::new(Notify::new()),
                closing: AtomicBool::new(false),
                closed: CancellationToken::new(),
                seq,
            }),
        }
    }

    /// After the lock is released: the reservation hears of the `SEQ`.
    fn handed_out(&self, id: EventId) {
        if let Some(seq) = &self.inner.seq {
            seq.handed_out(id.seq);
        }
    }

    /// The broker, locked. A panic while it was held (none is expected: the
    /// broker never panics on input) leaves it consistent enough to go on, so
    /// poisoning is ignored rather than taking the whole server down.
    fn broker(&self) -> MutexGuard<'_, Broker> {
        self.inner
            .broker
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Publishes an event.
    pub fn publish(
        &self,
        kind: EventType,
        task: Option<TaskId>,
        data: Map<String, Value>,
    ) -> EventId {
        let id = self.broker().publish(kind, task, &data);
        self.handed_out(id);
        self.inner.wake.notify_waiters();
        id
    }

    /// Publishes an event whose data is built knowing its own id (a task's
    /// `version` is the `SEQ` of the event that announces it). `build` runs with
    /// the broker locked: keep it short.
    pub fn publish_with(
        &self,
        kind: EventType,
        task: Option<TaskId>,
        build: impl FnOnce(EventId) -> Map<String, Value>,
    ) -> EventId {
        let id = {
            let mut broker = self.broker();
            let data = build(broker.next_id());
            broker.publish(kind, task, &data)
        };
        self.handed_out(id);
        self.inner.wake.notify_waiters();
        id
    }

    /// The id of the newest event: the `cursor` of a list taken now.
    pub fn cursor(&self) -> EventId {
        self.broker().head()
    }

    /// This broker life's epoch.
    pub fn epoch(&self) -> Epoch {
        self.broker().epoch()
    }

    /// Subscribes (and reads the resume point) atomically under the lock, so
    /// nothing published meanwhile falls between the replay and live events.
    /// The subscription ends when the returned guard is dropped.
    pub fn subscribe(&self, filter: Filter, resume: Option<&str>) -> (Subscription, Ready) {
        let (id, ready) = self.broker().subscribe(filter, resume);
        (
            Subscription {
                hub: self.clone(),
                id,
            },
            ready,
        )
    }

    /// A wake-up that fires on the next publish (or close) after this call;
    /// create it *before* draining so that nothing published in between is
    /// missed.
    pub fn wake_up(&self) -> OwnedNotified {
        Arc::clone(&self.inner.wake).notified_owned()
    }

    /// Ends every stream with `end{"reason":"shutdown"}`: sets the flag the
    /// streams check on every wake-up and wakes them all.
    pub fn close(&self) {
        self.inner.closing.store(true, Ordering::SeqCst);
        self.inner.closed.cancel();
        self.inner.wake.notify_waiters();
    }

    /// Completes once [`Hub::close`] was called (at once if it already
    /// was). Publishing never wakes it.
    pub fn closed(&self) -> WaitForCancellationFutureOwned {
        self.inner.closed.clone().cancelled_owned()
    }

    /// Whether [`Hub::close`] was called.
    pub fn is_closing(&self) -> bool {
        self.inner.closing.load(Ordering::SeqCst)
    }

    /// Broker counters for `/metrics` and health.
    pub fn stats(&self) -> BrokerStats {
        self.broker().stats()
    }
}

/// One stream's place in the broker; unsubscribes when dropped, so a client
/// that goes away (and takes its response body with it) frees its slot at
/// once.
pub struct Subscription {
    hub: Hub,
    id: SubscriberId,
}

impl Subscription {
    /// Appends every frame ready for this subscriber to `out` (up to about
    /// `max_bytes`) and returns how many items were written.
    pub fn drain(&self, out: &mut BytesMut, max_bytes: usize) -> usize {
        self.hub.broker().drain_frames(self.id, out, max_bytes)
    }

    /// The hub this subscription belongs to.
    pub fn hub(&self) -> &Hub {
        &self.hub
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.hub.broker().unsubscribe(self.id);
    }
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Subscription({})", self.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    fn kind(name: &str) -> EventType {
        EventType::new(name).expect("a valid type")
    }

    #[test]
    fn publish_with_sees_its_own_id_and_cursor_follows() {
        let hub = Hub::new(Epoch::new(0xa), 10, BrokerConfig::default());
        assert_eq!(hub.cursor(), EventId::new(Epoch::new(0xa), 9));
        let id = hub.publish_with(kind("task.created"), None, |id| {
            let mut m = Map::new();
            m.insert("version".into(), Value::from(id.seq));
            m
        });
        assert_eq!(id, EventId::new(Epoch::new(0xa), 10));
        assert_eq!(hub.cursor(), id);
    }

    #[test]
    fn a_wake_up_created_before_a_publish_fires() {
        let hub = Hub::new(Epoch::new(1), 1, BrokerConfig::default());
        let mut wake = pin!(hub.wake_up());
        let mut cx = Context::from_waker(Waker::noop());
        assert!(wake.as_mut().poll(&mut cx).is_pending());
        hub.publish(kind("a"), None, Map::new());
        assert_eq!(wake.as_mut().poll(&mut cx), Poll::Ready(()));
        // Created but never polled before the publish: still fires.
        let wake2 = hub.wake_up();
        hub.publish(kind("a"), None, Map::new());
        assert_eq!(pin!(wake2).poll(&mut cx), Poll::Ready(()));
    }

    #[test]
    fn dropping_a_subscription_unsubscribes() {
        let hub = Hub::new(Epoch::new(1), 1, BrokerConfig::default());
        let (sub, ready) = hub.subscribe(Filter::all(), None);
        assert!(!ready.resumed);
        assert_eq!(hub.stats().subscribers, 1);
        hub.publish(kind("a"), None, Map::new());
        let mut out = BytesMut::new();
        assert_eq!(sub.drain(&mut out, 1 << 16), 1);
        assert!(out.starts_with(b"id: 1-1\nevent: a\n"));
        drop(sub);
        assert_eq!(hub.stats().subscribers, 0);
    }
}
