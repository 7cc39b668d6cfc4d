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
//! Whether an event is redundant *for one subscriber* then takes no look-up
//! as that subscriber reads: each held task event carries three flags, set
//! when a later `task.created`, `task.updated` or `task.status` of its task
//! is published ([`Later`]), and the subscriber knows which of those types
//! its filter lets through ([`Supersedes`]) — the task passes, being the
//! same. To set the flags, the history keeps, per task it holds events of,
//! the newest one ([`KeyIndex`]), and each held task event links to the
//! previous one of its task: a publish walks back along the links only to
//! the previous event of its own type (earlier ones already carry the flag),
//! so publishing stays O(1) in subscribers, amortised, and a subscriber adds
//! three flags to its state.

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

/// Which types of later events of the same task exist (set as they are
/// published; an event is older than everything that supersedes it, so it
/// leaves the history first and the flags never go stale).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Later {
    created: bool,
    updated: bool,
    status: bool,
}

impl Later {
    /// Whether `class`'s flag is set; `task.removed` has none.
    pub(crate) fn has(self, class: KeyClass) -> bool {
        match class {
            KeyClass::Created => self.created,
            KeyClass::Updated => self.updated,
            KeyClass::Status => self.status,
            KeyClass::Removed => true,
        }
    }

    /// Sets `class`'s flag.
    pub(crate) fn set(&mut self, class: KeyClass) {
        match class {
            KeyClass::Created => self.created = true,
            KeyClass::Updated => self.updated = true,
            KeyClass::Status => self.status = true,
            KeyClass::Removed => {}
        }
    }

    /// Whether an event of `class` with these flags is redundant for a
    /// subscriber whose filter passes `passes`.
    pub(crate) fn supersedes(self, class: KeyClass, passes: Supersedes) -> bool {
        let by_whole = (passes.created && self.created) || (passes.updated && self.updated);
        match class {
            KeyClass::Created | KeyClass::Updated => by_whole,
            KeyClass::Status => by_whole || (passes.status && self.status),
            KeyClass::Removed => false,
        }
    }
}

/// Per task held in the history, the sequence number of its newest event.
#[derive(Debug, Default)]
pub(crate) struct KeyIndex {
    newest: BTreeMap<TaskId, u64>,
}

impl KeyIndex {
    /// A keyed event `seq` of `task` entered the history; returns the
    /// sequence number of the task's previous held event (0: none).
    pub(crate) fn record(&mut self, task: &TaskId, seq: u64) -> u64 {
        match self.newest.get_mut(task) {
            Some(newest) => core::mem::replace(newest, seq),
            None => {
                self.newest.insert(task.clone(), seq);
                0
            }
        }
    }

    /// A keyed event left the history (oldest first): forget the task once
    /// its newest event goes.
    pub(crate) fn forget(&mut self, task: &TaskId, seq: u64) {
        if self.newest.get(task).is_some_and(|&n| n <= seq) {
            self.newest.remove(task);
        }
    }

    /// Tasks indexed now.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.newest.len()
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

    fn later(classes: &[KeyClass]) -> Later {
        let mut l = Later::default();
        for &c in classes {
            l.set(c);
        }
        l
    }

    #[test]
    fn a_whole_task_supersedes_everything_earlier_and_a_status_only_statuses() {
        use KeyClass::*;
        assert!(!Later::default().supersedes(Status, ALL));
        assert!(later(&[Status]).supersedes(Status, ALL));
        assert!(!later(&[Status]).supersedes(Created, ALL));
        assert!(!later(&[Status]).supersedes(Updated, ALL));
        for class in [Created, Updated, Status] {
            assert!(later(&[Updated]).supersedes(class, ALL), "{class:?}");
            assert!(later(&[Created]).supersedes(class, ALL), "{class:?}");
        }
    }

    #[test]
    fn removal_supersedes_nothing_and_is_never_superseded() {
        use KeyClass::*;
        let all = later(&[Created, Updated, Status, Removed]);
        assert!(!all.supersedes(Removed, ALL));
        assert_eq!(later(&[Removed]), Later::default());
    }

    #[test]
    fn only_types_the_subscriber_receives_supersede() {
        use KeyClass::*;
        let statuses_only =
            Supersedes::for_filter(&Filter::parse(Some("task.status"), None).expect("valid"));
        assert!(!later(&[Updated]).supersedes(Status, statuses_only));
        assert!(later(&[Status]).supersedes(Status, statuses_only));
        let created_only =
            Supersedes::for_filter(&Filter::parse(Some("task.created"), None).expect("valid"));
        assert!(!later(&[Updated]).supersedes(Created, created_only));
        assert!(later(&[Created]).supersedes(Created, created_only));
        let everything = Supersedes::for_filter(&Filter::all());
        assert_eq!(everything, ALL);
        let prefix = Supersedes::for_filter(&Filter::parse(Some("task.*"), None).expect("valid"));
        assert_eq!(prefix, ALL);
        let none = Supersedes::for_filter(&Filter::parse(Some("trigger.*"), None).expect("valid"));
        assert_eq!(none, Supersedes::default());
    }

    #[test]
    fn a_task_is_forgotten_when_its_newest_event_leaves() {
        let mut index = KeyIndex::default();
        let a = t("a");
        assert_eq!(index.record(&a, 1), 0);
        assert_eq!(index.record(&a, 5), 1, "the previous event of the task");
        index.forget(&a, 1);
        assert_eq!(index.len(), 1, "a newer event of it is still held");
        index.forget(&a, 5);
        assert_eq!(index.len(), 0);
        index.forget(&a, 6);
        assert_eq!(index.len(), 0);
    }
}
