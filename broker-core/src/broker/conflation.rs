//! Keyed conflation: which task events a lagging subscriber may skip.
//!
//! Task events are keyed by task id. A `task.created` or `task.updated`
//! carries the whole task, so a later one of the same task makes every
//! earlier `task.created`, `task.updated` and `task.status` of it redundant;
//! a later `task.status` makes an earlier `task.status` redundant (design.md,
//! "Keyed conflation"). `task.removed` is keyed — never dropped for lag, the
//! client must learn the task is gone — but supersedes nothing and nothing
//! supersedes it.
//!
//! The history keeps, per task it holds events of, the sequence number of the
//! newest event of each keyed type ([`KeyIndex`]). Whether an event is
//! redundant *for one subscriber* then takes one look-up as that subscriber
//! reads: a later superseding event exists, and its type passes the
//! subscriber's filter ([`Supersedes`]) — its task does, being the same.
//! Publishing stays O(1) in subscribers; a subscriber adds three flags.

use std::collections::BTreeMap;

use super::filter::Filter;
use crate::id::TaskId;

/// The keyed event types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum KeyClass {
    /// `task.created`: the whole task.
    Created,
    /// `task.updated`: the whole task.
    Updated,
    /// `task.status`: the status fields.
    Status,
    /// `task.removed`: the task left the table.
    Removed,
}

impl KeyClass {
    /// The class of an event of type `kind` about `task`; `None` for events
    /// that are not keyed (every other type, or a task type without a task).
    pub(crate) fn of(kind: &str, task: Option<&TaskId>) -> Option<Self> {
        task?;
        match kind {
            "task.created" => Some(KeyClass::Created),
            "task.updated" => Some(KeyClass::Updated),
            "task.status" => Some(KeyClass::Status),
            "task.removed" => Some(KeyClass::Removed),
            _ => None,
        }
    }
}

/// Which superseding types pass one subscriber's filter.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Supersedes {
    created: bool,
    updated: bool,
    status: bool,
}

impl Supersedes {
    /// The superseding types `filter` lets through.
    pub(crate) fn for_filter(filter: &Filter) -> Self {
        Supersedes {
            created: filter.passes_type("task.created"),
            updated: filter.passes_type("task.updated"),
            status: filter.passes_type("task.status"),
        }
    }
}

/// The sequence numbers of one task's newest held events, by type (0: none;
/// every event's sequence number is at least 1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Newest {
    created: u64,
    updated: u64,
    status: u64,
    /// The newest of any keyed type: when it leaves the history, every
    /// event of the task has, and the entry goes.
    last: u64,
}

/// Per task held in the history, its newest event of each keyed type.
#[derive(Debug, Default)]
pub(crate) struct KeyIndex {
    tasks: BTreeMap<TaskId, Newest>,
}

impl KeyIndex {
    /// A keyed event entered the history.
    pub(crate) fn record(&mut self, task: &TaskId, class: KeyClass, seq: u64) {
        let newest = match self.tasks.get_mut(task) {
            Some(newest) => newest,
            None => self.tasks.entry(task.clone()).or_default(),
        };
        match class {
            KeyClass::Created => newest.created = seq,
            KeyClass::Updated => newest.updated = seq,
            KeyClass::Status => newest.status = seq,
            KeyClass::Removed => {}
        }
        newest.last = seq;
    }

    /// A keyed event left the history (oldest first): forget the task once
    /// its newest event goes.
    pub(crate) fn forget(&mut self, task: &TaskId, seq: u64) {
        if self.tasks.get(task).is_some_and(|n| n.last <= seq) {
            self.tasks.remove(task);
        }
    }

    /// Whether the event `seq` (of `class`, about `task`) is made redundant,
    /// for a subscriber whose filter passes `passes`, by a later held event.
    pub(crate) fn is_superseded(
        &self,
        task: &TaskId,
        class: KeyClass,
        seq: u64,
        passes: Supersedes,
    ) -> bool {
        let Some(n) = self.tasks.get(task) else {
            return false;
        };
        let by_whole = (passes.created && n.created > seq) || (passes.updated && n.updated > seq);
        match class {
            KeyClass::Created | KeyClass::Updated => by_whole,
            KeyClass::Status => by_whole || (passes.status && n.status > seq),
            KeyClass::Removed => false,
        }
    }

    /// Tasks indexed now.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.tasks.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn t(id: &str) -> TaskId {
        TaskId::new(id).expect("a valid id")
    }

    const ALL: Supersedes = Supersedes {
        created: true,
        updated: true,
        status: true,
    };

    #[test]
    fn only_task_types_with_a_task_are_keyed() {
        let task = t("a");
        assert_eq!(
            KeyClass::of("task.created", Some(&task)),
            Some(KeyClass::Created)
        );
        assert_eq!(
            KeyClass::of("task.removed", Some(&task)),
            Some(KeyClass::Removed)
        );
        assert_eq!(KeyClass::of("task.status", None), None);
        assert_eq!(KeyClass::of("trigger.fired", Some(&task)), None);
        assert_eq!(KeyClass::of("task.output", Some(&task)), None);
    }

    #[test]
    fn a_whole_task_supersedes_everything_earlier_and_a_status_only_statuses() {
        let mut index = KeyIndex::default();
        let a = t("a");
        index.record(&a, KeyClass::Created, 1);
        index.record(&a, KeyClass::Status, 2);
        assert!(!index.is_superseded(&a, KeyClass::Created, 1, ALL));
        assert!(!index.is_superseded(&a, KeyClass::Status, 2, ALL));
        index.record(&a, KeyClass::Status, 3);
        assert!(index.is_superseded(&a, KeyClass::Status, 2, ALL));
        assert!(!index.is_superseded(&a, KeyClass::Created, 1, ALL));
        index.record(&a, KeyClass::Updated, 4);
        for (class, seq) in [
            (KeyClass::Created, 1),
            (KeyClass::Status, 3),
            (KeyClass::Updated, 2),
        ] {
            assert!(index.is_superseded(&a, class, seq, ALL), "{class:?}");
        }
        assert!(!index.is_superseded(&a, KeyClass::Updated, 4, ALL));
        // Another task's events are not touched.
        assert!(!index.is_superseded(&t("b"), KeyClass::Status, 1, ALL));
    }

    #[test]
    fn removal_supersedes_nothing_and_is_never_superseded() {
        let mut index = KeyIndex::default();
        let a = t("a");
        index.record(&a, KeyClass::Status, 1);
        index.record(&a, KeyClass::Removed, 2);
        assert!(!index.is_superseded(&a, KeyClass::Status, 1, ALL));
        assert!(!index.is_superseded(&a, KeyClass::Removed, 2, ALL));
    }

    #[test]
    fn only_types_the_subscriber_receives_supersede() {
        let mut index = KeyIndex::default();
        let a = t("a");
        index.record(&a, KeyClass::Status, 1);
        index.record(&a, KeyClass::Updated, 2);
        let statuses_only =
            Supersedes::for_filter(&Filter::parse(Some("task.status"), None).expect("valid"));
        assert!(!index.is_superseded(&a, KeyClass::Status, 1, statuses_only));
        let everything = Supersedes::for_filter(&Filter::all());
        assert_eq!(everything, ALL);
        assert!(index.is_superseded(&a, KeyClass::Status, 1, everything));
        let prefix = Supersedes::for_filter(&Filter::parse(Some("task.*"), None).expect("valid"));
        assert_eq!(prefix, ALL);
        let none = Supersedes::for_filter(&Filter::parse(Some("trigger.*"), None).expect("valid"));
        assert_eq!(none, Supersedes::default());
    }

    #[test]
    fn a_task_is_forgotten_when_its_newest_event_leaves() {
        let mut index = KeyIndex::default();
        let a = t("a");
        index.record(&a, KeyClass::Created, 1);
        index.record(&a, KeyClass::Status, 5);
        index.forget(&a, 1);
        assert_eq!(index.len(), 1, "a newer event of it is still held");
        index.forget(&a, 5);
        assert_eq!(index.len(), 0);
        index.forget(&a, 6);
        assert_eq!(index.len(), 0);
    }
}
