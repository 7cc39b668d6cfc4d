//! Open connections: the cap, what is idle, and when a connection is closed.
//!
//! Every accepted connection takes a slot under `--max-connections` and knows
//! how many of its requests are in flight (a request is in flight from the
//! moment hyper hands it over until its response body is finished or
//! dropped, so an open SSE stream keeps its connection busy). A connection
//! with nothing in flight is idle: one that never sent a request is closed
//! after the header-read timeout, one that did after `--idle-timeout` (an
//! HTTP/1.1 keep-alive connection between requests, an HTTP/2 connection
//! without an open stream).
//!
//! At the cap a new connection takes the place of the connection that has
//! been idle longest (it is closed, as an idle timeout would close it); when
//! every connection is busy, the new one is closed at once. So a flood of
//! idle sockets can neither exhaust descriptors nor keep real clients out.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

/// How many slots an eviction looks at, starting where the last one stopped:
/// enough to find an idle connection among a few busy ones, few enough that
/// a flood at the cap costs little per connection.
const EVICTION_SAMPLE: usize = 256;

/// Evicted connections may still be closing when their replacements are
/// admitted; at most this many above the cap. Past that, a new connection
/// waits (up to [`EVICTION_WAIT`]) for evicted ones to be gone.
const EVICTION_SLACK: usize = 64;

/// How long a new connection may wait for evicted ones to close before it is
/// refused after all.
const EVICTION_WAIT: Duration = Duration::from_millis(200);

/// What [`Connections::try_admit`] decided.
enum Admission {
    /// A slot.
    Admitted(Slot),
    /// Every connection is busy: close the new one.
    Full,
    /// Evicted connections are still closing: try again once one is gone.
    Wait,
}

/// Why a connection is to be closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CloseReason {
    /// No complete first request within the header-read timeout.
    NoFirstRequest,
    /// Nothing in flight for the idle timeout.
    Idle,
    /// Its slot was given to a new connection at the cap.
    Evicted,
}

/// The state of one connection, shared by its task, its requests and the
/// registry.
#[derive(Debug)]
pub struct Connection {
    /// Requests whose responses are not finished.
    in_flight: AtomicUsize,
    /// Whether any request arrived.
    served: AtomicBool,
    /// When it last became idle (or was accepted), in ms after `base`.
    idle_since_ms: AtomicU64,
    /// Set when the registry gives its slot away.
    evicted: AtomicBool,
    /// Woken on every change of the above.
    changed: Notify,
    base: Instant,
}

impl Connection {
    fn new(base: Instant) -> Self {
        Connection {
            in_flight: AtomicUsize::new(0),
            served: AtomicBool::new(false),
            idle_since_ms: AtomicU64::new(millis_since(base)),
            evicted: AtomicBool::new(false),
            changed: Notify::new(),
            base,
        }
    }

    /// Marks a request in flight until the returned guard is dropped.
    pub fn busy(self: &Arc<Self>) -> Busy {
        self.served.store(true, Ordering::SeqCst);
        if self.in_flight.fetch_add(1, Ordering::SeqCst) == 0 {
            self.changed.notify_one();
        }
        Busy(Arc::clone(self))
    }

    /// Idle since when (ms after `base`), or `None` while busy or evicted.
    fn idle_since(&self) -> Option<u64> {
        if self.in_flight.load(Ordering::SeqCst) > 0 || self.evicted.load(Ordering::SeqCst) {
            return None;
        }
        Some(self.idle_since_ms.load(Ordering::SeqCst))
    }

    /// Resolves when this connection should be closed, and why.
    pub async fn close_reason(
        &self,
        header_read_timeout: Duration,
        idle_timeout: Duration,
    ) -> CloseReason {
        loop {
            if self.evicted.load(Ordering::SeqCst) {
                return CloseReason::Evicted;
            }
            let deadline = self.idle_since().map(|since| {
                let since = self.base + Duration::from_millis(since);
                if self.served.load(Ordering::SeqCst) {
                    (since + idle_timeout, CloseReason::Idle)
                } else {
                    (since + header_read_timeout, CloseReason::NoFirstRequest)
                }
            });
            match deadline {
                // `notify_one` keeps a permit, so a change between the check
                // and this wait is never missed.
                None => self.changed.notified().await,
                Some((at, reason)) => {
                    if Instant::now() >= at {
                        return reason;
                    }
                    tokio::select! {
                        () = tokio::time::sleep_until(at) => {}
                        () = self.changed.notified() => {}
                    }
                }
            }
        }
    }
}

/// A request in flight on its connection.
#[derive(Debug)]
pub struct Busy(Arc<Connection>);

impl Drop for Busy {
    fn drop(&mut self) {
        let conn = &self.0;
        // The idle time is written before the count drops to zero, so whoever
        // sees zero sees the new time.
        conn.idle_since_ms
            .store(millis_since(conn.base), Ordering::SeqCst);
        if conn.in_flight.fetch_sub(1, Ordering::SeqCst) == 1 {
            conn.changed.notify_one();
        }
    }
}

fn millis_since(base: Instant) -> u64 {
    u64::try_from(base.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// What `/metrics` shows about connections.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConnectionStats {
    /// Open now.
    pub open: usize,
    /// The cap.
    pub max: usize,
    /// Closed at once at the cap (or when descriptors ran out), since start.
    pub refused: u64,
    /// Idle connections closed to make room at the cap, since start.
    pub evicted: u64,
    /// Closed by the idle or first-request timeout, since start.
    pub timed_out: u64,
}

/// Every open connection, under the cap.
#[derive(Debug)]
pub struct Connections {
    max: usize,
    slots: Mutex<Slots>,
    open: AtomicUsize,
    refused: AtomicU64,
    evicted: AtomicU64,
    timed_out: AtomicU64,
    all_closed: Notify,
    /// Woken whenever a slot is given back.
    freed: Notify,
    base: Instant,
}

#[derive(Debug, Default)]
struct Slots {
    entries: Vec<Option<Arc<Connection>>>,
    free: Vec<usize>,
    /// Where the next eviction starts looking.
    cursor: usize,
}

impl Connections {
    /// A registry capped at `max` connections (at least 1).
    pub fn new(max: usize) -> Arc<Self> {
        Arc::new(Connections {
            max: max.max(1),
            slots: Mutex::new(Slots::default()),
            open: AtomicUsize::new(0),
            refused: AtomicU64::new(0),
            evicted: AtomicU64::new(0),
            timed_out: AtomicU64::new(0),
            all_closed: Notify::new(),
            freed: Notify::new(),
            base: Instant::now(),
        })
    }

    fn slots(&self) -> MutexGuard<'_, Slots> {
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A slot for a new connection: free, or taken from the connection idle
    /// longest; `None` (close it at once) when every connection is busy. When
    /// many evicted connections are still closing, it waits briefly for them.
    pub async fn admit(self: &Arc<Self>) -> Option<Slot> {
        let deadline = Instant::now() + EVICTION_WAIT;
        loop {
            let freed = self.freed.notified();
            match self.try_admit() {
                Admission::Admitted(slot) => return Some(slot),
                Admission::Full => break,
                Admission::Wait => {
                    if tokio::time::timeout_at(deadline, freed).await.is_err() {
                        break;
                    }
                }
            }
        }
        self.refused.fetch_add(1, Ordering::Relaxed);
        None
    }

    fn try_admit(self: &Arc<Self>) -> Admission {
        let mut slots = self.slots();
        let open = self.open.load(Ordering::SeqCst);
        if open >= self.max + EVICTION_SLACK {
            return Admission::Wait;
        }
        if open >= self.max && !self.evict_one(&mut slots) {
            return Admission::Full;
        }
        let conn = Arc::new(Connection::new(self.base));
        let index = match slots.free.pop() {
            Some(i) => {
                slots.entries[i] = Some(Arc::clone(&conn));
                i
            }
            None => {
                slots.entries.push(Some(Arc::clone(&conn)));
                slots.entries.len() - 1
            }
        };
        self.open.fetch_add(1, Ordering::SeqCst);
        Admission::Admitted(Slot {
            registry: Arc::clone(self),
            index,
            conn,
        })
    }

    /// Marks the longest-idle connection among a sample for closing.
    fn evict_one(&self, slots: &mut Slots) -> bool {
        let len = slots.entries.len();
        if len == 0 {
            return false;
        }
        let mut best: Option<(u64, usize)> = None;
        for step in 0..len.min(EVICTION_SAMPLE) {
            let i = (slots.cursor + step) % len;
            if let Some(since) = slots.entries[i].as_ref().and_then(|c| c.idle_since()) {
                if best.is_none_or(|(b, _)| since < b) {
                    best = Some((since, i));
                }
            }
        }
        if best.is_none() && len > EVICTION_SAMPLE {
            // Busy around the cursor: look at everything before giving up.
            best = (0..len)
                .filter_map(|i| Some((slots.entries[i].as_ref()?.idle_since()?, i)))
                .min();
        }
        slots.cursor = (slots.cursor + EVICTION_SAMPLE) % len;
        let Some((_, i)) = best else {
            return false;
        };
        let Some(conn) = slots.entries[i].as_ref() else {
            return false;
        };
        conn.evicted.store(true, Ordering::SeqCst);
        conn.changed.notify_one();
        self.evicted.fetch_add(1, Ordering::Relaxed);
        true
    }

    /// Counts a connection closed before it got a slot (descriptors ran out).
    pub fn count_refused(&self) {
        self.refused.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a connection closed by a timeout.
    pub fn count_timed_out(&self) {
        self.timed_out.fetch_add(1, Ordering::Relaxed);
    }

    /// Open connections now.
    pub fn open(&self) -> usize {
        self.open.load(Ordering::SeqCst)
    }

    /// The figures for `/metrics`.
    pub fn stats(&self) -> ConnectionStats {
        ConnectionStats {
            open: self.open(),
            max: self.max,
            refused: self.refused.load(Ordering::Relaxed),
            evicted: self.evicted.load(Ordering::Relaxed),
            timed_out: self.timed_out.load(Ordering::Relaxed),
        }
    }

    /// Resolves once no connection is open.
    pub async fn all_closed(&self) {
        loop {
            let notified = self.all_closed.notified();
            if self.open() == 0 {
                return;
            }
            notified.await;
        }
    }
}

/// One connection's place under the cap, given back on drop.
#[derive(Debug)]
pub struct Slot {
    registry: Arc<Connections>,
    index: usize,
    conn: Arc<Connection>,
}

impl Slot {
    /// The connection's shared state.
    pub fn connection(&self) -> &Arc<Connection> {
        &self.conn
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        {
            let mut slots = self.registry.slots();
            if let Some(entry) = slots.entries.get_mut(self.index) {
                *entry = None;
                slots.free.push(self.index);
            }
        }
        if self.registry.open.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.registry.all_closed.notify_waiters();
        }
        self.registry.freed.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn at_the_cap_the_longest_idle_connection_gives_way_and_busy_ones_never() {
        let registry = Connections::new(2);
        let first = registry.admit().await.expect("a slot");
        tokio::time::advance(Duration::from_millis(10)).await;
        let second = registry.admit().await.expect("a slot");
        let _busy_second = second.connection().busy();
        let third = registry.admit().await.expect("the idle first gives way");
        assert_eq!(
            first
                .connection()
                .close_reason(Duration::from_secs(9), Duration::from_secs(9))
                .await,
            CloseReason::Evicted
        );
        drop(first);
        let _busy_third = third.connection().busy();
        assert!(registry.admit().await.is_none(), "every connection is busy");
        assert_eq!(registry.stats().refused, 1);
        assert_eq!(registry.stats().evicted, 1);
        assert_eq!(registry.open(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn idle_and_first_request_deadlines() {
        let registry = Connections::new(10);
        let silent = registry.admit().await.expect("a slot");
        let started = Instant::now();
        let reason = silent
            .connection()
            .close_reason(Duration::from_millis(300), Duration::from_secs(5))
            .await;
        assert_eq!(reason, CloseReason::NoFirstRequest);
        assert_eq!(started.elapsed(), Duration::from_millis(300));

        let served = registry.admit().await.expect("a slot");
        let conn = Arc::clone(served.connection());
        let busy = conn.busy();
        let watcher = tokio::spawn(async move {
            let started = Instant::now();
            let reason = conn
                .close_reason(Duration::from_millis(300), Duration::from_secs(5))
                .await;
            (reason, started.elapsed())
        });
        tokio::time::sleep(Duration::from_secs(60)).await;
        drop(busy);
        let (reason, elapsed) = watcher.await.expect("the watcher ends");
        assert_eq!(reason, CloseReason::Idle);
        assert_eq!(
            elapsed,
            Duration::from_secs(65),
            "busy time never counts as idle"
        );
    }

    #[tokio::test]
    async fn all_closed_waits_for_the_last_slot() {
        let registry = Connections::new(10);
        let slot = registry.admit().await.expect("a slot");
        let waiting = tokio::spawn({
            let registry = Arc::clone(&registry);
            async move { registry.all_closed().await }
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        drop(slot);
        tokio::time::timeout(Duration::from_secs(1), waiting)
            .await
            .expect("in time")
            .expect("ends");
    }
}
