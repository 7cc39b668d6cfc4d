//! Running counts of published events per filter pattern.
//!
//! They let the broker know how many events a subscriber has pending — and so
//! exactly how many it lost — without the publisher visiting any subscriber
//! and without keeping events that fell out of history: the number of events
//! matching a filter between two moments is the difference of the filter's
//! counter sums at those moments.
//!
//! Only patterns some subscriber uses are counted (reference-counted), so a
//! publish costs a few map look-ups whatever the number of subscribers, and
//! memory follows the distinct filters in use, not the events or tasks ever
//! seen. Counts are compared by wrapping difference only, so a counter created
//! late (at zero) is as good as one that always existed.
//!
//! Each counter also counts the events that left the history (those
//! published since the counter exists), so a subscriber whose cursor fell
//! behind the history knows, without a scan, whether anything it would have
//! received is gone: the events it passes below the history's oldest are
//! `evicted total − total at its cursor`.

use std::collections::BTreeMap;

use super::filter::{Filter, TypePattern};
use crate::id::TaskId;

/// Handles to the counters one subscriber's filter adds up.
pub(crate) type CounterIds = Vec<usize>;

/// Every counter in use, found by task and pattern.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    slots: Vec<CounterSlot>,
    free: Vec<usize>,
    untasked: PatternIndex,
    by_task: BTreeMap<String, PatternIndex>,
}

#[derive(Debug, Default)]
struct CounterSlot {
    /// Matching events published since the counter was created.
    count: u64,
    /// Of those, the ones that left the history.
    evicted: u64,
    /// The sequence number of the first event it counts.
    since: u64,
    refs: u32,
}

/// The counters of one task (or of no task restriction), by pattern.
#[derive(Debug, Default)]
struct PatternIndex {
    all: Option<usize>,
    exact: BTreeMap<String, usize>,
    prefix: BTreeMap<String, usize>,
}

impl PatternIndex {
    fn is_empty(&self) -> bool {
        self.all.is_none() && self.exact.is_empty() && self.prefix.is_empty()
    }

    /// Calls `f` with every counter whose pattern matches type `kind`: the
    /// exact name and each `prefix.` it starts with.
    fn each_match(&self, kind: &str, mut f: impl FnMut(usize)) {
        if let Some(i) = self.all {
            f(i);
        }
        if let Some(&i) = self.exact.get(kind) {
            f(i);
        }
        if !self.prefix.is_empty() {
            for (dot, _) in kind.match_indices('.') {
                if let Some(&i) = self.prefix.get(&kind[..=dot]) {
                    f(i);
                }
            }
        }
    }
}

impl Counters {
    /// Takes a reference on the counters `filter` needs (creating missing
    /// ones at zero, counting from `next_seq`) and returns their handles.
    pub(crate) fn register(&mut self, filter: &Filter, next_seq: u64) -> CounterIds {
        let Counters {
            slots,
            free,
            untasked,
            by_task,
        } = self;
        let index = match filter.task() {
            None => untasked,
            Some(task) => by_task.entry(task.as_str().to_owned()).or_default(),
        };
        let mut acquire = |existing: Option<usize>| -> usize {
            let i = existing.unwrap_or_else(|| {
                let fresh = CounterSlot {
                    since: next_seq,
                    ..CounterSlot::default()
                };
                match free.pop() {
                    Some(i) => {
                        slots[i] = fresh;
                        i
                    }
                    None => {
                        slots.push(fresh);
                        slots.len() - 1
                    }
                }
            });
            slots[i].refs += 1;
            i
        };
        if filter.types().is_empty() {
            let i = acquire(index.all);
            index.all = Some(i);
            return vec![i];
        }
        filter
            .types()
            .iter()
            .map(|pattern| {
                let (map, key) = match pattern {
                    TypePattern::Exact(name) => (&mut index.exact, name),
                    TypePattern::Prefix(prefix) => (&mut index.prefix, prefix),
                };
                let i = acquire(map.get(key).copied());
                map.insert(key.clone(), i);
                i
            })
            .collect()
    }

    /// Drops the references [`Counters::register`] took for `filter`.
    pub(crate) fn unregister(&mut self, filter: &Filter, ids: &[usize]) {
        let Counters {
            slots,
            free,
            untasked,
            by_task,
        } = self;
        let index = match filter.task() {
            None => Some(untasked),
            Some(task) => by_task.get_mut(task.as_str()),
        };
        let Some(index) = index else {
            debug_assert!(
                false,
                "unregistering a task filter that was never registered"
            );
            return;
        };
        let mut release = |i: usize| -> bool {
            slots[i].refs -= 1;
            if slots[i].refs == 0 {
                slots[i] = CounterSlot::default();
                free.push(i);
                true
            } else {
                false
            }
        };
        if filter.types().is_empty() {
            if let Some(&i) = ids.first() {
                if release(i) {
                    index.all = None;
                }
            }
        } else {
            for (pattern, &i) in filter.types().iter().zip(ids) {
                if release(i) {
                    match pattern {
                        TypePattern::Exact(name) => index.exact.remove(name),
                        TypePattern::Prefix(prefix) => index.prefix.remove(prefix),
                    };
                }
            }
        }
        if let Some(task) = filter.task() {
            if by_task
                .get(task.as_str())
                .is_some_and(PatternIndex::is_empty)
            {
                by_task.remove(task.as_str());
            }
        }
    }

    /// Counts one published event.
    pub(crate) fn record(&mut self, kind: &str, task: Option<&TaskId>) {
        let Counters {
            slots,
            untasked,
            by_task,
            ..
        } = self;
        let mut bump = |i: usize| slots[i].count = slots[i].count.wrapping_add(1);
        untasked.each_match(kind, &mut bump);
        if let Some(index) = task.and_then(|t| by_task.get(t.as_str())) {
            index.each_match(kind, &mut bump);
        }
    }

    /// Counts one event (`seq`) that left the history, in the counters that
    /// counted it when it was published.
    pub(crate) fn record_evicted(&mut self, kind: &str, task: Option<&TaskId>, seq: u64) {
        let Counters {
            slots,
            untasked,
            by_task,
            ..
        } = self;
        let mut bump = |i: usize| {
            if seq >= slots[i].since {
                slots[i].evicted = slots[i].evicted.wrapping_add(1);
            }
        };
        untasked.each_match(kind, &mut bump);
        if let Some(index) = task.and_then(|t| by_task.get(t.as_str())) {
            index.each_match(kind, &mut bump);
        }
    }

    /// The running total for a filter (meaningful only as a difference).
    pub(crate) fn total(&self, ids: &[usize]) -> u64 {
        ids.iter()
            .fold(0u64, |sum, &i| sum.wrapping_add(self.slots[i].count))
    }

    /// The running total of evicted events for a filter: minus the total at
    /// a cursor below the history's oldest event, how many events passing
    /// the filter lie between the two.
    pub(crate) fn evicted_total(&self, ids: &[usize]) -> u64 {
        ids.iter()
            .fold(0u64, |sum, &i| sum.wrapping_add(self.slots[i].evicted))
    }

    /// How many counters exist (for tests of the reference counting).
    #[cfg(test)]
    pub(crate) fn live_counters(&self) -> usize {
        self.slots.len() - self.free.len()
    }

    /// Whether no pattern is indexed any more.
    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.untasked.is_empty() && self.by_task.is_empty()
    }
}
