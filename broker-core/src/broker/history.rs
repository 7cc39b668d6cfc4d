//! The history ring: the newest events, shared by every subscriber, bounded
//! by count and by the bytes of their encoded frames.

use std::collections::VecDeque;

use super::conflation::{KeyClass, KeyIndex, Later, Supersedes};
use super::filter::Filter;
use crate::event::Event;

/// One held event and its conflation key class (`None`: not keyed, or
/// conflation is off).
#[derive(Debug)]
pub(crate) struct Held {
    pub(crate) event: Event,
    pub(crate) class: Option<KeyClass>,
    /// Which later events of its task exist (task events only).
    later: Later,
    /// The previous held event of its task (0: none), task events only.
    prev: u64,
}

impl Held {
    pub(crate) fn seq(&self) -> u64 {
        self.event.id().seq
    }
}

/// What a forward scan over a run of held events found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Region {
    /// The sequence number just past the last matching event counted.
    pub(crate) end: u64,
    /// Matching events counted.
    pub(crate) matched: u64,
    /// Of those, the keyed ones.
    pub(crate) keyed: u64,
    /// The leading run whose fate is already settled (unkeyed, or keyed and
    /// superseded for the subscriber): where it ends...
    pub(crate) settled_end: u64,
    /// ...its matching events...
    pub(crate) settled: u64,
    /// ...and the superseded ones among them.
    pub(crate) settled_superseded: u64,
}

/// The newest events — at most `capacity` of them and, beyond the newest
/// one, at most `max_bytes` of encoded frames — addressed by sequence number.
///
/// Every subscriber reads from this one ring through its own cursor, so an
/// event is stored once however many subscribers will receive it. The newest
/// event is always held, however large, so a subscriber that keeps up never
/// loses one.
#[derive(Debug)]
pub(crate) struct History {
    ring: VecDeque<Held>,
    capacity: usize,
    max_bytes: usize,
    /// The frame bytes held now.
    bytes: usize,
    /// The sequence number the next event gets.
    next_seq: u64,
    keys: KeyIndex,
}

impl History {
    /// An empty ring; `capacity` and `max_bytes` are taken as at least 1.
    pub(crate) fn new(capacity: usize, max_bytes: usize, first_seq: u64) -> Self {
        History {
            ring: VecDeque::new(),
            capacity: capacity.max(1),
            max_bytes: max_bytes.max(1),
            bytes: 0,
            next_seq: first_seq,
            keys: KeyIndex::default(),
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

    /// Frame bytes held now.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    /// Events held now.
    pub(crate) fn len(&self) -> usize {
        self.ring.len()
    }

    /// Appends an event. Call [`History::pop_excess`] until `None` after it.
    pub(crate) fn push(&mut self, event: Event, class: Option<KeyClass>) {
        let mut prev = 0;
        if let (Some(class), Some(task)) = (class, event.task()) {
            prev = self.keys.record(task, event.id().seq);
            self.flag_earlier(prev, class);
        }
        self.bytes += event.frame().len();
        self.ring.push_back(Held {
            event,
            class,
            later: Later::default(),
            prev,
        });
        self.next_seq += 1;
    }

    /// A `class` event of a task arrived: every earlier held event of the
    /// task now has a later one of that class. Walks back from the task's
    /// previous event and stops at the first that already knew (so did all
    /// before it): amortised O(1) per publish.
    fn flag_earlier(&mut self, mut seq: u64, class: KeyClass) {
        if class == KeyClass::Removed {
            return;
        }
        let oldest = self.oldest();
        while seq >= oldest && seq != 0 {
            let Some(held) = self.ring.get_mut((seq - oldest) as usize) else {
                return;
            };
            if held.later.has(class) {
                return;
            }
            held.later.set(class);
            seq = held.prev;
        }
    }

    /// Forgets the oldest event while more are held than the count or the
    /// byte budget allows (never the newest one), and hands it back.
    pub(crate) fn pop_excess(&mut self) -> Option<Held> {
        let over = self.ring.len() > self.capacity || self.bytes > self.max_bytes;
        if !over || self.ring.len() <= 1 {
            return None;
        }
        let held = self.ring.pop_front()?;
        self.bytes -= held.event.frame().len();
        if let (Some(_), Some(task)) = (held.class, held.event.task()) {
            self.keys.forget(task, held.seq());
        }
        Some(held)
    }

    /// Whether `held` is made redundant by a later held event whose type
    /// `passes` (see [`Later::supersedes`]).
    pub(crate) fn is_superseded(&self, held: &Held, passes: Supersedes) -> bool {
        held.class
            .is_some_and(|class| held.later.supersedes(class, passes))
    }

    /// The ring positions of the held events with `from <= seq < to`.
    fn positions(&self, from: u64, to: u64) -> core::ops::Range<usize> {
        let oldest = self.oldest();
        let start = from.clamp(oldest, self.next_seq) - oldest;
        let end = to.clamp(oldest, self.next_seq) - oldest;
        start as usize..(end as usize).max(start as usize)
    }

    /// The first held event with `from <= seq < to` that passes `filter`.
    pub(crate) fn next_matching(&self, filter: &Filter, from: u64, to: u64) -> Option<&Held> {
        self.ring
            .range(self.positions(from, to))
            .find(|h| filter.matches(&h.event))
    }

    /// How many held events with `from <= seq < to` pass `filter`.
    pub(crate) fn count_matching(&self, filter: &Filter, from: u64, to: u64) -> u64 {
        self.ring
            .range(self.positions(from, to))
            .filter(|h| filter.matches(&h.event))
            .count() as u64
    }

    /// Scans forward from `from` over at most `limit` held events that pass
    /// `filter`, counting them and the keyed ones among them; with `passes`,
    /// also the leading run of settled events (see [`Region`]).
    pub(crate) fn scan_matching(
        &self,
        filter: &Filter,
        from: u64,
        limit: u64,
        passes: Option<Supersedes>,
    ) -> Region {
        let start = from.max(self.oldest());
        let mut region = Region {
            end: start,
            settled_end: start,
            ..Region::default()
        };
        if limit == 0 {
            return region;
        }
        let mut settling = passes.is_some();
        for held in self.ring.range(self.positions(from, self.next_seq)) {
            if !filter.matches(&held.event) {
                continue;
            }
            region.matched += 1;
            region.keyed += u64::from(held.class.is_some());
            region.end = held.seq() + 1;
            if settling {
                let superseded = passes.is_some_and(|p| self.is_superseded(held, p));
                if held.class.is_none() || superseded {
                    region.settled += 1;
                    region.settled_superseded += u64::from(superseded);
                    region.settled_end = region.end;
                } else {
                    settling = false;
                }
            }
            if region.matched == limit {
                break;
            }
        }
        region
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
        for held in self.ring.range(self.positions(floor, self.next_seq)).rev() {
            if filter.matches(&held.event) {
                found += 1;
                first = held.seq();
                if found == limit {
                    break;
                }
            }
        }
        (found, first)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::EventType;
    use crate::id::{Epoch, EventId, TaskId};
    use serde_json::Map;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn event(seq: u64, kind: &str, task: Option<&str>, pad: usize) -> Event {
        let mut data = Map::new();
        data.insert("pad".into(), "x".repeat(pad).into());
        Event::new(
            EventId::new(Epoch::new(1), seq),
            EventType::new(kind).expect("valid"),
            task.map(|t| TaskId::new(t).expect("valid")),
            &data,
        )
    }

    fn push(h: &mut History, kind: &str, task: Option<&str>, pad: usize) -> Vec<u64> {
        let e = event(h.next_seq(), kind, task, pad);
        let class = KeyClass::of(kind, e.task());
        h.push(e, class);
        std::iter::from_fn(|| h.pop_excess().map(|held| held.seq())).collect()
    }

    #[test]
    fn the_oldest_events_go_while_the_frames_exceed_the_byte_budget() {
        let mut h = History::new(100, 1000, 1);
        let size = event(1, "a", None, 200).frame().len();
        let mut evicted = Vec::new();
        for _ in 0..10 {
            evicted.extend(push(&mut h, "a", None, 200));
        }
        let fits = 1000 / size;
        assert_eq!(h.len(), fits);
        assert!(h.bytes() <= 1000);
        assert_eq!(evicted, (1..=(10 - fits) as u64).collect::<Vec<_>>());
        assert_eq!(h.oldest(), 11 - fits as u64);
        // One large event pushes several small ones out at once.
        let gone = push(&mut h, "a", None, 600);
        assert!(gone.len() >= 2, "{gone:?}");
        assert!(h.bytes() <= 1000);
    }

    #[test]
    fn the_newest_event_stays_however_large() {
        let mut h = History::new(100, 10, 1);
        assert_eq!(push(&mut h, "a", None, 500), Vec::<u64>::new());
        assert_eq!(h.len(), 1);
        assert_eq!(push(&mut h, "a", None, 500), vec![1]);
        assert_eq!((h.len(), h.oldest()), (1, 2));
    }

    #[test]
    fn the_count_still_bounds_small_events() {
        let mut h = History::new(3, 1 << 20, 1);
        for _ in 0..5 {
            push(&mut h, "a", None, 0);
        }
        assert_eq!((h.len(), h.oldest()), (3, 3));
    }

    #[test]
    fn the_key_index_follows_what_is_held() {
        let mut h = History::new(2, 1 << 20, 1);
        push(&mut h, "task.status", Some("t"), 0);
        push(&mut h, "task.status", Some("t"), 0);
        let all = Supersedes::for_filter(&Filter::all());
        let first = h.next_matching(&Filter::all(), 1, 3).expect("held");
        assert!(h.is_superseded(first, all));
        push(&mut h, "trigger.fired", None, 0);
        push(&mut h, "trigger.fired", None, 0);
        // Both statuses left: the task is forgotten.
        assert_eq!(h.keys.len(), 0);
    }

    #[test]
    fn a_forward_scan_counts_matching_and_keyed_events() {
        let mut h = History::new(10, 1 << 20, 1);
        push(&mut h, "task.status", Some("t"), 0); // 1
        push(&mut h, "other", None, 0); // 2
        push(&mut h, "trigger.fired", None, 0); // 3
        push(&mut h, "task.created", Some("u"), 0); // 4
        let f = Filter::parse(Some("task.*,trigger.fired"), None).expect("valid");
        let region = h.scan_matching(&f, 1, 2, None);
        assert_eq!((region.end, region.matched, region.keyed), (4, 2, 1));
        assert_eq!(region.settled, 0, "nothing settled without a filter's view");
        let region = h.scan_matching(&f, 2, 9, None);
        assert_eq!((region.end, region.matched, region.keyed), (5, 2, 1));
        assert_eq!(h.scan_matching(&f, 3, 0, None).matched, 0);
    }

    #[test]
    fn a_forward_scan_settles_the_leading_unkeyed_and_superseded_events() {
        let mut h = History::new(10, 1 << 20, 1);
        push(&mut h, "task.status", Some("t"), 0); // 1: superseded by 3
        push(&mut h, "trigger.fired", None, 0); // 2: unkeyed
        push(&mut h, "task.status", Some("t"), 0); // 3: superseded by 5
        push(&mut h, "task.created", Some("u"), 0); // 4: live, ends the run
        push(&mut h, "task.status", Some("t"), 0); // 5
        let all = Supersedes::for_filter(&Filter::all());
        let region = h.scan_matching(&Filter::all(), 1, 5, Some(all));
        assert_eq!((region.matched, region.keyed), (5, 4));
        assert_eq!(
            (
                region.settled_end,
                region.settled,
                region.settled_superseded
            ),
            (4, 3, 2)
        );
        // Through a filter that does not receive statuses, nothing settles
        // but the unkeyed event (and the status is not matched at all).
        let f = Filter::parse(Some("task.created,trigger.fired"), None).expect("valid");
        let passes = Supersedes::for_filter(&f);
        let region = h.scan_matching(&f, 1, 5, Some(passes));
        assert_eq!(
            (region.matched, region.settled, region.settled_end),
            (2, 1, 3)
        );
    }
}
