//! The history ring: the newest events, shared by every subscriber.

use std::collections::VecDeque;

use super::filter::Filter;
use crate::event::Event;

/// The newest `capacity` events, addressed by sequence number.
///
/// Every subscriber reads from this one ring through its own cursor, so an
/// event is stored once however many subscribers will receive it.
#[derive(Debug)]
pub(crate) struct History {
    ring: VecDeque<Event>,
    capacity: usize,
    /// The sequence number the next event gets.
    next_seq: u64,
}

impl History {
    /// An empty ring; `capacity` is at least 1.
    pub(crate) fn new(capacity: usize, first_seq: u64) -> Self {
        History {
            ring: VecDeque::new(),
            capacity: capacity.max(1),
            next_seq: first_seq,
        }
    }

    /// The sequence number the next event gets.
    pub(crate) fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// The sequence number of the oldest event held (`next_seq` when empty).
    pub(crate) fn oldest(&self) -> u64 {
        self.next_seq - self.ring.len() as u64
    }

    /// Appends an event, forgetting the oldest one when full.
    pub(crate) fn push(&mut self, event: Event) {
        if self.ring.len() == self.capacity {
            self.ring.pop_front();
        }
        self.ring.push_back(event);
        self.next_seq += 1;
    }

    /// The ring positions of the held events with `from <= seq < to`.
    fn positions(&self, from: u64, to: u64) -> core::ops::Range<usize> {
        let oldest = self.oldest();
        let start = from.clamp(oldest, self.next_seq) - oldest;
        let end = to.clamp(oldest, self.next_seq) - oldest;
        start as usize..(end as usize).max(start as usize)
    }

    /// The first held event with `from <= seq < to` that passes `filter`.
    pub(crate) fn next_matching(&self, filter: &Filter, from: u64, to: u64) -> Option<&Event> {
        self.ring
            .range(self.positions(from, to))
            .find(|e| filter.matches(e))
    }

    /// How many held events with `from <= seq < to` pass `filter`.
    pub(crate) fn count_matching(&self, filter: &Filter, from: u64, to: u64) -> u64 {
        self.ring
            .range(self.positions(from, to))
            .filter(|e| filter.matches(e))
            .count() as u64
    }

    /// Looks back from the newest event for at most `limit` events with
    /// `seq >= floor` that pass `filter`; returns how many it found and the
    /// sequence number of the oldest of them (`next_seq` when none).
    pub(crate) fn newest_matching(&self, filter: &Filter, floor: u64, limit: u64) -> (u64, u64) {
        let mut found = 0;
        let mut first = self.next_seq;
        if limit == 0 {
            return (found, first);
        }
        for event in self.ring.range(self.positions(floor, self.next_seq)).rev() {
            if filter.matches(event) {
                found += 1;
                first = event.id().seq;
                if found == limit {
                    break;
                }
            }
        }
        (found, first)
    }
}
