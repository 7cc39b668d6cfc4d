//! The browser's task store: lists and events applied by version.
//!
//! A client lists, then watches (design.md, "The model"). The store makes the
//! two meet without a race:
//!
//! - every piece of news carries a version (the `SEQ` of the event that
//!   produced it, comparable across server restarts), and news no newer than
//!   what the store holds for a task changes nothing — so a replayed or
//!   duplicated event is a no-op and an older event never overwrites a newer
//!   list;
//! - while a list is in flight ([`TaskStore::handle_list_started`]) events are
//!   held; when it lands the list replaces the store (it is the server's
//!   whole truth at its cursor: tasks it lacks are removed) and the held
//!   events newer than it are applied on top;
//! - a `task.status` carries only the status fields, so the store keeps the
//!   other fields from the newest whole task it saw (see `merge`): the
//!   outcome does not depend on the order events arrive in;
//! - a `task.removed` (the server dropped a finished task from its table)
//!   removes the task when it is newer than what the store holds.
//!
//! Every call reports what it changed as [`Change`]s, and nothing for a
//! no-op, so a UI redraws exactly the rows that moved.

mod merge;

use std::collections::BTreeMap;

use crate::id::{EventId, TaskId};
use crate::task::Task;
use merge::{Entry, StatusUpdate, TaskEvent};

/// `GET /api/tasks`: the tasks and the id of the newest event reflected in them.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TaskList {
    /// The tasks.
    pub tasks: Vec<Task>,
    /// The newest event already reflected in `tasks`.
    pub cursor: EventId,
}

/// What a list or event changed in the store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// The task is new or different.
    Upserted(TaskId),
    /// The task is gone (absent from a fresh list).
    Removed(TaskId),
}

/// Why an event could not be applied.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The event's data is not the JSON its type promises.
    #[error("malformed {kind} event: {reason}")]
    Malformed {
        /// The event type.
        kind: String,
        /// What was wrong.
        reason: String,
    },
}

/// The task store.
#[derive(Debug, Default)]
pub struct TaskStore {
    tasks: BTreeMap<TaskId, Entry>,
    /// Status updates for tasks the store does not know yet (their
    /// `task.created` has not arrived), newest per task; merged when it does.
    orphans: BTreeMap<TaskId, StatusUpdate>,
    /// The `SEQ` of the last list's cursor: a task missing from that list and
    /// news about it no newer than this describe a task the server no longer
    /// has.
    floor: u64,
    /// `Some` while a list is in flight: the events that arrived meanwhile,
    /// in order, already validated.
    held: Option<Vec<TaskEvent>>,
}

impl TaskStore {
    /// An empty store.
    pub fn new() -> Self {
        TaskStore::default()
    }

    /// A list request went out: events that arrive until it answers are held.
    /// Calling it again while one is in flight keeps what is held.
    ///
    /// The driver must end every list with [`TaskStore::handle_list`] or
    /// [`TaskStore::handle_list_failed`]: held events stay in memory until then.
    pub fn handle_list_started(&mut self) {
        self.held.get_or_insert_with(Vec::new);
    }

    /// Whether a list is in flight (events are being held).
    pub fn is_listing(&self) -> bool {
        self.held.is_some()
    }

    /// The list answered: replace the tasks, then apply held events newer
    /// than what the list reflects. Reports each task that differs from
    /// before (in id order), once.
    pub fn handle_list(&mut self, list: TaskList) -> Vec<Change> {
        let held = self.held.take().unwrap_or_default();
        self.floor = list.cursor.seq;
        let mut fresh: BTreeMap<TaskId, Entry> = BTreeMap::new();
        for task in list.tasks {
            match fresh.get_mut(&task.id) {
                Some(entry) => {
                    entry.merge_snapshot(task);
                }
                None => {
                    fresh.insert(task.id.clone(), Entry::from_snapshot(task));
                }
            }
        }
        let floor = self.floor;
        let orphans = core::mem::take(&mut self.orphans);
        for (id, update) in orphans {
            match fresh.get_mut(&id) {
                Some(entry) => {
                    entry.merge_status(&update);
                }
                None if update.version > floor => {
                    self.orphans.insert(id, update);
                }
                None => {}
            }
        }
        let old = core::mem::replace(&mut self.tasks, fresh);
        for event in held {
            self.apply(event);
        }
        diff(&old, &self.tasks)
    }

    /// The list failed: apply what was held as best we can (by version, as
    /// if the events had arrived live), and report what that changed.
    pub fn handle_list_failed(&mut self) -> Vec<Change> {
        let held = self.held.take().unwrap_or_default();
        // One change per task: the last one says how it ended up.
        let mut changed: BTreeMap<TaskId, Change> = BTreeMap::new();
        for change in held.into_iter().filter_map(|e| self.apply(e)) {
            changed.insert(change_id(&change).clone(), change);
        }
        changed.into_values().collect()
    }

    /// Applies one `task.*` event (others are ignored). An event whose version
    /// is not newer than the task it touches changes nothing.
    ///
    /// `task.created` and `task.updated` carry the whole task; `task.status`
    /// carries the payload of [`StatusChange::to_data`](crate::StatusChange::to_data);
    /// `task.removed` carries `{"task_id", "version"}` and removes the task
    /// (reported as [`Change::Removed`]) when newer than what the store holds.
    /// Malformed data is an error and leaves the store as it was. While a
    /// list is in flight a valid event is held and `Ok(vec![])` returned;
    /// its change is reported when the list lands.
    pub fn handle_event(&mut self, kind: &str, data: &str) -> Result<Vec<Change>, StoreError> {
        let event = match kind {
            "task.created" | "task.updated" => TaskEvent::Snapshot(parse(kind, data)?),
            "task.status" => TaskEvent::Status(parse(kind, data)?),
            "task.removed" => TaskEvent::Removed(parse(kind, data)?),
            _ => return Ok(Vec::new()),
        };
        if let Some(held) = &mut self.held {
            held.push(event);
            return Ok(Vec::new());
        }
        Ok(self.apply(event).into_iter().collect())
    }

    /// One task.
    pub fn task(&self, id: &TaskId) -> Option<&Task> {
        self.tasks.get(id).map(|entry| &entry.task)
    }

    /// Every task, by id.
    pub fn tasks(&self) -> impl Iterator<Item = &Task> {
        self.tasks.values().map(|entry| &entry.task)
    }

    /// How many tasks the store holds.
    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    /// Whether the store holds no task.
    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    /// Merges one event; what it visibly changed, if anything.
    fn apply(&mut self, event: TaskEvent) -> Option<Change> {
        let id = event.task_id().clone();
        if let TaskEvent::Removed(removal) = &event {
            if self
                .orphans
                .get(&id)
                .is_some_and(|held| held.version < removal.version)
            {
                self.orphans.remove(&id);
            }
            let newer = self
                .tasks
                .get(&id)
                .is_some_and(|entry| entry.task.version < removal.version);
            return newer.then(|| {
                self.tasks.remove(&id);
                Change::Removed(id)
            });
        }
        let changed = match (self.tasks.get_mut(&id), event) {
            (Some(entry), TaskEvent::Snapshot(task)) => entry.merge_snapshot(task),
            (Some(entry), TaskEvent::Status(update)) => entry.merge_status(&update),
            // A task the store lacks: news no newer than the last list is
            // about a task that list no longer had.
            (None, TaskEvent::Snapshot(task)) if task.version > self.floor => {
                let mut entry = Entry::from_snapshot(task);
                if let Some(update) = self.orphans.remove(&id) {
                    entry.merge_status(&update);
                }
                self.tasks.insert(id.clone(), entry);
                true
            }
            (None, TaskEvent::Status(update)) if update.version > self.floor => {
                let newer = self
                    .orphans
                    .get(&id)
                    .is_none_or(|held| update.version > held.version);
                if newer {
                    self.orphans.insert(id.clone(), update);
                }
                false
            }
            (None, _) | (_, TaskEvent::Removed(_)) => false,
        };
        changed.then_some(Change::Upserted(id))
    }
}

fn parse<T: serde::de::DeserializeOwned>(kind: &str, data: &str) -> Result<T, StoreError> {
    serde_json::from_str(data).map_err(|e| StoreError::Malformed {
        kind: kind.to_owned(),
        reason: e.to_string(),
    })
}

/// The changes that turn `old` into `new`, in id order.
fn diff(old: &BTreeMap<TaskId, Entry>, new: &BTreeMap<TaskId, Entry>) -> Vec<Change> {
    let mut changes = Vec::new();
    for (id, entry) in new {
        if old.get(id).is_none_or(|before| before.task != entry.task) {
            changes.push(Change::Upserted(id.clone()));
        }
    }
    for id in old.keys() {
        if !new.contains_key(id) {
            changes.push(Change::Removed(id.clone()));
        }
    }
    changes.sort_by(|a, b| change_id(a).cmp(change_id(b)));
    changes
}

fn change_id(change: &Change) -> &TaskId {
    match change {
        Change::Upserted(id) | Change::Removed(id) => id,
    }
}
