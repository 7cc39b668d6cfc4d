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
//! - a `task.removed` (a finished task left the server's table) removes the
//!   task and leaves a tombstone at its version, so an older event of it
//!   cannot bring it back; a list that lacks it agrees, and a list older
//!   than the removal cannot resurrect it either.
//!
//! The store is generic over its record ([`TaskRecord`]): natively a serde
//! [`Task`](crate::Task) (with the `serde` feature, which also reads events
//! from JSON), in the browser the JS object `JSON.parse` made, so nothing is
//! parsed twice. The store decides by id and version; the record only knows
//! how to merge its own fields.
//!
//! Every call reports what it changed as [`Change`]s, and nothing for a
//! no-op, so a UI redraws exactly the rows that moved.

#[cfg(feature = "serde")]
mod json;
mod merge;
mod sorted;

use alloc::vec::Vec;

use crate::id::{EventId, TaskId};
use merge::Entry;
use sorted::SortedMap;

#[cfg(feature = "serde")]
pub use json::{StatusUpdate, StoreError, TaskList};

/// What the store needs of a task record: how the fields of one piece of
/// news merge into another. Versions and ids are the store's business.
pub trait TaskRecord {
    /// The payload of a `task.status`: only the status fields.
    type Status: Clone + core::fmt::Debug + PartialEq;

    /// Writes a newer status update over this record (status, version and
    /// the fields that come with a status).
    fn apply_status(&mut self, status: &Self::Status);

    /// Takes the non-status fields (name, command, ...) of `snapshot`, a
    /// whole task newer than the one these fields came from but older than
    /// the status this record holds. Returns whether the record changed.
    fn take_fields(&mut self, snapshot: &Self) -> bool;

    /// Whether two records show the same thing (a list that changed nothing
    /// reports nothing).
    fn same(&self, other: &Self) -> bool;
}

/// One piece of news about a task, already read from the wire.
#[derive(Clone, Debug, PartialEq)]
pub enum TaskEvent<R: TaskRecord> {
    /// `task.created` / `task.updated`: the whole task at `version`.
    Snapshot {
        /// The task.
        id: TaskId,
        /// Its version.
        version: u64,
        /// The record.
        record: R,
    },
    /// `task.status`: the status fields at `version`.
    Status {
        /// The task.
        id: TaskId,
        /// The update's version.
        version: u64,
        /// The status fields.
        status: R::Status,
    },
    /// `task.removed`: the task left the server's table at `version`.
    Removed {
        /// The task.
        id: TaskId,
        /// The removal's version.
        version: u64,
    },
}

impl<R: TaskRecord> TaskEvent<R> {
    fn id(&self) -> &TaskId {
        match self {
            TaskEvent::Snapshot { id, .. }
            | TaskEvent::Status { id, .. }
            | TaskEvent::Removed { id, .. } => id,
        }
    }
}

/// What a list or event changed in the store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// The task is new or different.
    Upserted(TaskId),
    /// The task is gone (removed, or absent from a fresh list).
    Removed(TaskId),
}

impl Change {
    /// The task it is about.
    pub fn id(&self) -> &TaskId {
        match self {
            Change::Upserted(id) | Change::Removed(id) => id,
        }
    }
}

/// The task store.
#[derive(Debug)]
pub struct TaskStore<R: TaskRecord> {
    tasks: SortedMap<TaskId, Entry<R>>,
    /// Status updates for tasks the store does not know yet (their
    /// `task.created` has not arrived), newest per task; merged when it does.
    orphans: SortedMap<TaskId, (u64, R::Status)>,
    /// Tasks removed at a version newer than the last list: news no newer
    /// than that version is about a task that is gone.
    removed: SortedMap<TaskId, u64>,
    /// The `SEQ` of the last list's cursor: a task missing from that list and
    /// news about it no newer than this describe a task the server no longer
    /// has.
    floor: u64,
    /// `Some` while a list is in flight: the events that arrived meanwhile,
    /// in order.
    held: Option<Vec<TaskEvent<R>>>,
}

impl<R: TaskRecord> Default for TaskStore<R> {
    fn default() -> Self {
        TaskStore {
            tasks: SortedMap::default(),
            orphans: SortedMap::default(),
            removed: SortedMap::default(),
            floor: 0,
            held: None,
        }
    }
}

impl<R: TaskRecord> TaskStore<R> {
    /// An empty store.
    pub fn new() -> Self {
        TaskStore::default()
    }

    /// A list request went out: events that arrive until it answers are held.
    /// Calling it again while one is in flight keeps what is held.
    ///
    /// The driver must end every list with [`TaskStore::handle_listed`] or
    /// [`TaskStore::handle_list_failed`]: held events stay in memory until then.
    pub fn handle_list_started(&mut self) {
        self.held.get_or_insert_with(Vec::new);
    }

    /// Whether a list is in flight (events are being held).
    pub fn is_listing(&self) -> bool {
        self.held.is_some()
    }

    /// The list answered with these tasks (id, version, record) at `cursor`:
    /// replace the tasks, then apply held events newer than what the list
    /// reflects. Reports each task that differs from before (in id order),
    /// once.
    pub fn handle_listed(
        &mut self,
        cursor: EventId,
        tasks: impl IntoIterator<Item = (TaskId, u64, R)>,
    ) -> Vec<Change> {
        let held = self.held.take().unwrap_or_default();
        self.floor = cursor.seq;
        let floor = self.floor;
        self.removed.retain(|_, version| *version > floor);
        let mut fresh: SortedMap<TaskId, Entry<R>> = SortedMap::default();
        for (id, version, record) in tasks {
            if self.removed.get(&id).is_some_and(|gone| *gone >= version) {
                continue;
            }
            match fresh.get_mut(&id) {
                Some(entry) => {
                    entry.merge_snapshot(record, version);
                }
                None => {
                    fresh.insert(id, Entry::from_snapshot(record, version));
                }
            }
        }
        let orphans = core::mem::take(&mut self.orphans);
        for (id, (version, status)) in orphans.into_entries() {
            match fresh.get_mut(&id) {
                Some(entry) => {
                    entry.merge_status(&status, version);
                }
                None if version > floor => {
                    self.orphans.insert(id, (version, status));
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
        let mut changed: SortedMap<TaskId, Change> = SortedMap::default();
        for event in held {
            if let Some(change) = self.apply(event) {
                changed.insert(change.id().clone(), change);
            }
        }
        changed.into_entries().into_iter().map(|(_, c)| c).collect()
    }

    /// Applies one piece of news. News whose version is not newer than the
    /// task it touches changes nothing. While a list is in flight the event
    /// is held and nothing is reported: its change comes when the list lands.
    pub fn handle_task_event(&mut self, event: TaskEvent<R>) -> Vec<Change> {
        if let Some(held) = &mut self.held {
            held.push(event);
            return Vec::new();
        }
        self.apply(event).into_iter().collect()
    }

    /// One task.
    pub fn task(&self, id: &TaskId) -> Option<&R> {
        self.tasks.get(id).map(|entry| &entry.record)
    }

    /// The version the store holds for a task.
    pub fn version(&self, id: &TaskId) -> Option<u64> {
        self.tasks.get(id).map(|entry| entry.version)
    }

    /// Every task, by id.
    pub fn tasks(&self) -> impl Iterator<Item = &R> {
        self.tasks.values().map(|entry| &entry.record)
    }

    /// Every task id with its version, by id.
    pub fn versions(&self) -> impl Iterator<Item = (&TaskId, u64)> {
        self.tasks.iter().map(|(id, entry)| (id, entry.version))
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
    fn apply(&mut self, event: TaskEvent<R>) -> Option<Change> {
        let id = event.id().clone();
        let gone = self.removed.get(&id).copied();
        match event {
            TaskEvent::Snapshot {
                version, record, ..
            } => {
                if gone.is_some_and(|g| g >= version) {
                    return None;
                }
                let changed = match self.tasks.get_mut(&id) {
                    Some(entry) => entry.merge_snapshot(record, version),
                    // A task the store lacks: news no newer than the last list
                    // is about a task that list no longer had.
                    None if version > self.floor => {
                        let mut entry = Entry::from_snapshot(record, version);
                        if let Some((v, status)) = self.orphans.remove(&id) {
                            entry.merge_status(&status, v);
                        }
                        self.tasks.insert(id.clone(), entry);
                        true
                    }
                    None => false,
                };
                changed.then_some(Change::Upserted(id))
            }
            TaskEvent::Status {
                version, status, ..
            } => {
                if gone.is_some_and(|g| g >= version) {
                    return None;
                }
                match self.tasks.get_mut(&id) {
                    Some(entry) => entry
                        .merge_status(&status, version)
                        .then_some(Change::Upserted(id)),
                    None if version > self.floor => {
                        let newer = self
                            .orphans
                            .get(&id)
                            .is_none_or(|(held, _)| version > *held);
                        if newer {
                            self.orphans.insert(id, (version, status));
                        }
                        None
                    }
                    None => None,
                }
            }
            TaskEvent::Removed { version, .. } => {
                if gone.is_some_and(|g| g >= version) || version <= self.floor {
                    return None;
                }
                self.orphans.remove(&id);
                match self.tasks.get(&id) {
                    Some(entry) if entry.version >= version => None,
                    Some(_) => {
                        self.tasks.remove(&id);
                        self.removed.insert(id.clone(), version);
                        Some(Change::Removed(id))
                    }
                    None => {
                        self.removed.insert(id, version);
                        None
                    }
                }
            }
        }
    }
}

/// The changes that turn `old` into `new`, in id order: one walk over both
/// (they are sorted by id), no sort.
fn diff<R: TaskRecord>(
    old: &SortedMap<TaskId, Entry<R>>,
    new: &SortedMap<TaskId, Entry<R>>,
) -> Vec<Change> {
    let mut changes = Vec::new();
    let mut old = old.iter().peekable();
    for (id, entry) in new.iter() {
        while let Some((gone, _)) = old.next_if(|(o, _)| *o < id) {
            changes.push(Change::Removed(gone.clone()));
        }
        match old.next_if(|(o, _)| *o == id) {
            Some((_, before)) if before.record.same(&entry.record) => {}
            _ => changes.push(Change::Upserted(id.clone())),
        }
    }
    changes.extend(old.map(|(gone, _)| Change::Removed(gone.clone())));
    changes
}
