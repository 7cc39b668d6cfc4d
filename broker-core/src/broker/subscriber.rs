//! One subscriber: cursors into the shared history, its filter, and the lag
//! rule applied lazily whenever it is looked at.
//!
//! A subscriber's pending events are at most two runs of the history:
//!
//! - the *replay* (only after a resume): the missed events from its resume id
//!   up to where the history stood when it subscribed. They are exempt from
//!   the lag limit — a resumed client gets everything still held — but can
//!   still fall out of the history while being replayed;
//! - the *live* run: everything published since, of which it keeps at most the
//!   newest `queue` matching events.
//!
//! Both are ranges of sequence numbers plus the filter's counter total at the
//! range start, so publishing never touches a subscriber: the number of
//! pending matching events is `counter total now − total at the cursor`, and
//! whatever of that is not found in the history any more, or is beyond the
//! lag limit, is exactly the number lost.

use super::counters::{CounterIds, Counters};
use super::filter::Filter;
use super::history::History;
use super::BrokerStats;
use crate::event::Event;

/// The replay still owed to a resumed subscriber.
#[derive(Debug)]
struct Replay {
    /// Next sequence number to look at.
    cursor: u64,
    /// The filter's counter total at `cursor`.
    base: u64,
    /// Where the replay ends (the history's next sequence number when the
    /// subscriber joined); the live run starts here.
    end: u64,
    /// The filter's counter total at `end`.
    end_base: u64,
}

/// What the subscriber receives next, borrowed from the history.
pub(crate) enum Item<'h> {
    /// An event.
    Event(&'h Event),
    /// This many matching events were lost.
    Lagged(u64),
}

/// One subscriber's state. Small and fixed-size apart from its filter, so an
/// idle subscriber costs a few hundred bytes.
#[derive(Debug)]
pub(crate) struct Subscriber {
    filter: Filter,
    counters: CounterIds,
    replay: Option<Replay>,
    /// Next sequence number of the live run to look at.
    live_cursor: u64,
    /// The filter's counter total at `live_cursor`.
    live_base: u64,
    /// Lost from the live run while the replay is still going: reported once
    /// the replay is done, where the gap is.
    gap_dropped: u64,
    /// Lost and not yet reported; reported before anything else.
    lagged: u64,
}

impl Subscriber {
    /// A subscriber joining now. `resume_from` is the sequence number of its
    /// first missed event when it resumes.
    pub(crate) fn new(
        filter: Filter,
        counters: &mut Counters,
        history: &History,
        resume_from: Option<u64>,
    ) -> Self {
        let ids = counters.register(&filter);
        let now = counters.total(&ids);
        let next = history.next_seq();
        let replay = resume_from.and_then(|from| {
            let missed = history.count_matching(&filter, from, next);
            (missed > 0).then(|| Replay {
                cursor: from,
                base: now.wrapping_sub(missed),
                end: next,
                end_base: now,
            })
        });
        Subscriber {
            filter,
            counters: ids,
            replay,
            live_cursor: next,
            live_base: now,
            gap_dropped: 0,
            lagged: 0,
        }
    }

    /// Gives back the counter references; the subscriber is gone after this.
    pub(crate) fn release(self, counters: &mut Counters) {
        counters.unregister(&self.filter, &self.counters);
    }

    /// Whether [`Subscriber::next_item`] would return something.
    pub(crate) fn has_pending(&self, counters: &Counters) -> bool {
        self.lagged > 0 || self.replay.is_some() || counters.total(&self.counters) != self.live_base
    }

    /// The next item, after applying the lag limit and counting what fell out
    /// of the history.
    pub(crate) fn next_item<'h>(
        &mut self,
        history: &'h History,
        counters: &Counters,
        queue: u64,
        stats: &mut BrokerStats,
    ) -> Option<Item<'h>> {
        self.apply_limits(history, counters, queue, stats);
        if self.lagged > 0 {
            stats.lagged += 1;
            return Some(Item::Lagged(core::mem::take(&mut self.lagged)));
        }
        if let Some(replay) = &mut self.replay {
            let found = history.next_matching(&self.filter, replay.cursor, replay.end);
            if let Some(event) = found {
                replay.cursor = event.id().seq + 1;
                replay.base = replay.base.wrapping_add(1);
                if replay.base == replay.end_base {
                    self.finish_replay();
                }
                return Some(Item::Event(event));
            }
            // Unreachable while the counters agree with the filter; recover
            // by ending the replay rather than reporting pending forever.
            debug_assert!(false, "replay counted an event the history lacks");
            self.finish_replay();
            if self.lagged > 0 {
                stats.lagged += 1;
                return Some(Item::Lagged(core::mem::take(&mut self.lagged)));
            }
        }
        let now = counters.total(&self.counters);
        if now == self.live_base {
            return None;
        }
        match history.next_matching(&self.filter, self.live_cursor, history.next_seq()) {
            Some(event) => {
                self.live_base = self.live_base.wrapping_add(1);
                self.live_cursor = if self.live_base == now {
                    history.next_seq()
                } else {
                    event.id().seq + 1
                };
                Some(Item::Event(event))
            }
            None => {
                debug_assert!(false, "live run counted an event the history lacks");
                self.live_cursor = history.next_seq();
                self.live_base = now;
                None
            }
        }
    }

    /// Ends the replay; the live run's losses that happened meanwhile are
    /// reported now, between the last replayed event and the live ones.
    fn finish_replay(&mut self) {
        self.replay = None;
        self.lagged += core::mem::take(&mut self.gap_dropped);
    }

    /// Applies the lag limit to the live run and accounts for events that
    /// left the history before this subscriber got them.
    fn apply_limits(
        &mut self,
        history: &History,
        counters: &Counters,
        queue: u64,
        stats: &mut BrokerStats,
    ) {
        let now = counters.total(&self.counters);
        let oldest = history.oldest();

        let pending = now.wrapping_sub(self.live_base);
        if pending == 0 {
            // Nothing matching since the cursor: skip the non-matching rest.
            self.live_cursor = history.next_seq();
        } else if self.live_cursor < oldest || pending > queue {
            let floor = self.live_cursor.max(oldest);
            let (kept, first_kept) = history.newest_matching(&self.filter, floor, queue);
            let dropped = pending.saturating_sub(kept);
            self.live_cursor = first_kept;
            self.live_base = now.wrapping_sub(kept);
            if dropped > 0 {
                stats.dropped += dropped;
                if self.replay.is_some() {
                    self.gap_dropped += dropped;
                } else {
                    self.lagged += dropped;
                }
            }
        }

        if let Some(replay) = &mut self.replay {
            if replay.cursor < oldest {
                let owed = replay.end_base.wrapping_sub(replay.base);
                let held = history.count_matching(&self.filter, oldest, replay.end);
                let lost = owed.saturating_sub(held);
                replay.cursor = oldest.min(replay.end);
                replay.base = replay.end_base.wrapping_sub(held);
                stats.dropped += lost;
                self.lagged += lost;
            }
            if replay.base == replay.end_base {
                self.finish_replay();
            }
        }
    }
}
