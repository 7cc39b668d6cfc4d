//! One subscriber: cursors into the shared history, its filter, and the lag
//! rule applied lazily whenever it is looked at.
//!
//! A subscriber's pending events are at most two runs of the history:
//!
//! - the *replay* (only after a resume): the missed events from its resume id
//!   up to where the history stood when it subscribed. They are exempt from
//!   the lag limit — a resumed client gets everything still held — but can
//!   still fall out of the history while being replayed;
//! - the *live* run: everything published since, subject to the lag limit.
//!
//! Both are ranges of sequence numbers plus the filter's counter total at the
//! range start, so publishing never touches a subscriber: the number of
//! pending matching events is `counter total now − total at the cursor`.
//!
//! # The lag limit, with keyed conflation
//!
//! The live run keeps a *frontier*: pending events behind it are beyond the
//! limit. Whenever more than `queue` pending events lie ahead of it, it moves
//! forward until exactly `queue` do; of the events it passes, the unkeyed
//! ones are dropped and counted (reported as `lagged` before anything else),
//! the keyed ones (task events) are kept. While a subscriber lags — more than
//! `queue` pending when it reads — every pending event published so far is
//! in its *conflation window*: one that a later pending event of the same
//! task supersedes (through this subscriber's filter) is skipped as it is
//! reached, silently, since the later one carries its state. Events behind
//! the frontier that are dropped were counted when the frontier passed them,
//! so they are skipped silently too; a run of nothing else is jumped over,
//! and when the frontier moves from the cursor itself, the leading events
//! whose fate its scan settles (dropped, or superseded already) are passed
//! in that same scan.
//!
//! A pending event that left the history before it was read is lost. When
//! nothing but such events and the frontier's already-counted drops are
//! gone, the loss is exactly the counters' difference; when the history cut
//! into the run behind the frontier, the plain rule applies instead: the
//! newest `queue` held events are kept and every other pending event is
//! counted as lost (a subscriber that fell out of the history lists again in
//! any case).

use super::conflation::Supersedes;
use super::counters::{CounterIds, Counters};
use super::filter::Filter;
use super::history::{Held, History};
use super::BrokerStats;

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

/// The live run's cursors (see the module docs).
#[derive(Debug)]
struct Live {
    /// Next sequence number to look at.
    cursor: u64,
    /// The filter's counter total at `cursor`.
    base: u64,
    /// Pending events before this are beyond the lag limit (`cursor` when
    /// there are none).
    frontier: u64,
    /// The filter's counter total at `frontier`.
    frontier_base: u64,
    /// Unkeyed matching events in `cursor..frontier`: already counted as
    /// dropped, skipped when reached.
    owed_unkeyed: u64,
    /// Keyed matching events in `cursor..frontier`: delivered (or skipped as
    /// superseded) when reached.
    owed_keyed: u64,
    /// Pending events below this are in the conflation window.
    conflate_until: u64,
}

impl Live {
    /// Every pending event behind the frontier was passed: none is beyond
    /// the limit any more.
    fn sync_frontier(&mut self) {
        if self.cursor >= self.frontier {
            self.frontier = self.cursor;
            self.frontier_base = self.base;
            self.owed_unkeyed = 0;
            self.owed_keyed = 0;
        }
    }
}

/// What the subscriber receives next, borrowed from the history.
pub(crate) enum Item<'h> {
    /// An event.
    Event(&'h Held),
    /// This many matching events were lost.
    Lagged(u64),
}

/// One subscriber's state. Small and fixed-size apart from its filter, so an
/// idle subscriber costs a few hundred bytes.
#[derive(Debug)]
pub(crate) struct Subscriber {
    filter: Filter,
    counters: CounterIds,
    supersedes: Supersedes,
    replay: Option<Replay>,
    live: Live,
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
        let next = history.next_seq();
        let ids = counters.register(&filter, next);
        let now = counters.total(&ids);
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
            supersedes: Supersedes::for_filter(&filter),
            filter,
            counters: ids,
            replay,
            live: Live {
                cursor: next,
                base: now,
                frontier: next,
                frontier_base: now,
                owed_unkeyed: 0,
                owed_keyed: 0,
                conflate_until: next,
            },
            gap_dropped: 0,
            lagged: 0,
        }
    }

    /// Gives back the counter references; the subscriber is gone after this.
    pub(crate) fn release(self, counters: &mut Counters) {
        counters.unregister(&self.filter, &self.counters);
    }

    /// Whether [`Subscriber::next_item`] would return something. Exact: the
    /// newest pending event is never behind the frontier nor superseded, so
    /// a pending count above zero always ends in a delivery (or a `lagged`).
    pub(crate) fn has_pending(&self, counters: &Counters) -> bool {
        self.lagged > 0 || self.replay.is_some() || counters.total(&self.counters) != self.live.base
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
            if let Some(held) = found {
                replay.cursor = held.seq() + 1;
                replay.base = replay.base.wrapping_add(1);
                if replay.base == replay.end_base {
                    self.finish_replay();
                }
                return Some(Item::Event(held));
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
        self.next_live(history, counters, stats)
    }

    /// The next live event: skips what the frontier already counted and, in
    /// the conflation window, what a later event supersedes.
    fn next_live<'h>(
        &mut self,
        history: &'h History,
        counters: &Counters,
        stats: &mut BrokerStats,
    ) -> Option<Item<'h>> {
        let now = counters.total(&self.counters);
        let live = &mut self.live;
        loop {
            if now == live.base {
                live.cursor = history.next_seq();
                live.sync_frontier();
                return None;
            }
            if live.frontier > live.cursor && live.owed_keyed == 0 {
                // Behind the frontier only counted drops remain: jump.
                live.cursor = live.frontier;
                live.base = live.frontier_base;
                live.sync_frontier();
                continue;
            }
            let Some(held) = history.next_matching(&self.filter, live.cursor, history.next_seq())
            else {
                debug_assert!(false, "live run counted an event the history lacks");
                live.cursor = history.next_seq();
                live.base = now;
                live.sync_frontier();
                return None;
            };
            let seq = held.seq();
            live.cursor = seq + 1;
            live.base = live.base.wrapping_add(1);
            let behind_frontier = seq < live.frontier;
            if behind_frontier && held.class.is_none() {
                live.owed_unkeyed = live.owed_unkeyed.saturating_sub(1);
                live.sync_frontier();
                continue;
            }
            if behind_frontier {
                live.owed_keyed = live.owed_keyed.saturating_sub(1);
            }
            if seq < live.conflate_until && history.is_superseded(held, self.supersedes) {
                stats.conflated += 1;
                live.sync_frontier();
                continue;
            }
            if live.base == now {
                live.cursor = history.next_seq();
            }
            live.sync_frontier();
            return Some(Item::Event(held));
        }
    }

    /// Ends the replay; the live run's losses that happened meanwhile are
    /// reported now, between the last replayed event and the live ones.
    fn finish_replay(&mut self) {
        self.replay = None;
        self.lagged += core::mem::take(&mut self.gap_dropped);
    }

    /// Counts `n` events lost from the live run.
    fn lose(&mut self, n: u64, stats: &mut BrokerStats) {
        if n == 0 {
            return;
        }
        stats.dropped += n;
        if self.replay.is_some() {
            self.gap_dropped += n;
        } else {
            self.lagged += n;
        }
    }

    /// Accounts for events that left the history before this subscriber got
    /// them, and applies the lag limit to the live run.
    fn apply_limits(
        &mut self,
        history: &History,
        counters: &Counters,
        queue: u64,
        stats: &mut BrokerStats,
    ) {
        let now = counters.total(&self.counters);
        let oldest = history.oldest();
        if self.live.cursor < oldest {
            self.evicted_from_live(history, counters, queue, stats);
        }

        let live = &mut self.live;
        if now.wrapping_sub(live.base) > queue {
            live.conflate_until = history.next_seq();
        }
        let ahead = now.wrapping_sub(live.frontier_base);
        if ahead > queue {
            // With nothing behind the frontier yet, the cursor can pass the
            // leading events whose fate the scan settles at once: unkeyed
            // ones are dropped, superseded ones skipped (the whole region is
            // in the conflation window just opened).
            let at_cursor = live.frontier == live.cursor;
            let passes = at_cursor.then_some(self.supersedes);
            let region = history.scan_matching(&self.filter, live.frontier, ahead - queue, passes);
            let unkeyed = region.matched - region.keyed;
            let settled_unkeyed = region.settled - region.settled_superseded;
            live.frontier = region.end;
            live.frontier_base = live.frontier_base.wrapping_add(region.matched);
            live.owed_keyed += region.keyed - region.settled_superseded;
            live.owed_unkeyed += unkeyed - settled_unkeyed;
            if at_cursor {
                live.cursor = region.settled_end;
                live.base = live.base.wrapping_add(region.settled);
                stats.conflated += region.settled_superseded;
                live.sync_frontier();
            }
            self.lose(unkeyed, stats);
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

    /// The live cursor is below the history's oldest event.
    fn evicted_from_live(
        &mut self,
        history: &History,
        counters: &Counters,
        queue: u64,
        stats: &mut BrokerStats,
    ) {
        let oldest = history.oldest();
        let now = counters.total(&self.counters);
        let live = &mut self.live;
        // Events passing the filter between the cursor and the oldest held.
        let gone = counters
            .evicted_total(&self.counters)
            .wrapping_sub(live.base);
        if gone == 0 || live.frontier <= oldest {
            // Nothing behind the frontier is still held: what is gone is
            // exactly `gone`, of which the frontier counted `owed_unkeyed`.
            let lost = gone.saturating_sub(live.owed_unkeyed);
            live.cursor = oldest;
            live.base = live.base.wrapping_add(gone);
            if live.frontier <= oldest {
                live.frontier = oldest;
                live.frontier_base = live.base;
                live.owed_unkeyed = 0;
                live.owed_keyed = 0;
            }
            live.sync_frontier();
            self.lose(lost, stats);
            return;
        }
        // The history cut into the run behind the frontier: keep the newest
        // `queue` held events; everything else pending is lost (the drops the
        // frontier counted among it were reported already).
        let pending = now.wrapping_sub(live.base);
        let (kept, first_kept) = history.newest_matching(&self.filter, oldest, queue);
        let lost = pending
            .saturating_sub(kept)
            .saturating_sub(live.owed_unkeyed);
        live.cursor = first_kept;
        live.base = now.wrapping_sub(kept);
        live.frontier = first_kept;
        live.frontier_base = live.base;
        live.owed_unkeyed = 0;
        live.owed_keyed = 0;
        self.lose(lost, stats);
    }
}
