//! The announce/persist protocol: a task change is made durable, then
//! announced, and the task's `version` is the `SEQ` of the event that
//! announces it.
//!
//! [`TaskLedger`] is the seam: "commit this change durably and announce it,
//! returning the event's id, or fail with a [`CommitError`] having announced
//! nothing". The task runner calls it for every change and applies the change
//! to its table only when it succeeds, so a request whose change cannot be
//! saved fails (`503`) and no client ever hears of it. [`LocalLedger`] is
//! the single-server backend (records in the data directory, events in the
//! in-process hub); a backend that appends the record and the event in one
//! atomic step (a Redis script: counter, `XADD`, table update) implements the
//! same contract directly.
//!
//! # The local order
//! 1. Predict the event's `SEQ` (the hub's head + 1, checked) and write the
//!    record with that version: temporary file, fsync, rename, fsync of the
//!    folder ([`RecordStore::save`]). No lock is held meanwhile.
//! 2. Publish. The broker's lock is held for the append alone: no file is
//!    touched under it.
//! 3. If another publisher took the predicted `SEQ` in between, the record
//!    (whose content is already durable) is saved again with the real
//!    version before the call returns.
//!
//! So an event is never out before its change is on disk. The one window
//! left is step 3: a crash between the publish and the second save leaves a
//! record whose content is the announced one but whose version is a few
//! `SEQ`s lower. That is harmless: the restarted server has a new epoch (so
//! clients list again) and counts above every `SEQ` ever reserved (`seq.rs`),
//! so every later version is higher than anything a client holds.
//!
//! A removal deletes the record (durably) first and then announces
//! `task.removed {task_id, version}`.

use broker_core::{EventId, EventType, StatusChange, Task};
use serde_json::{Map, Value};

use super::persist::{Record, RecordStore};
use crate::seq::MAX_SEQ;
use crate::Hub;

/// What a change announces.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Announcement<'a> {
    /// `task.created` with the whole task.
    Created,
    /// `task.updated` with the whole task (a rename).
    Updated,
    /// `task.status` with the transition.
    Status(&'a StatusChange),
    /// `task.removed {task_id, version}`: the task left the table.
    Removed,
}

impl Announcement<'_> {
    /// The event type.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Announcement::Created => "task.created",
            Announcement::Updated => "task.updated",
            Announcement::Status(_) => "task.status",
            Announcement::Removed => "task.removed",
        }
    }

    /// The event's data, from the task as it is after the change (its
    /// `version` already the event's `SEQ`).
    pub(crate) fn data(&self, task: &Task) -> Map<String, Value> {
        match self {
            Announcement::Created | Announcement::Updated => match serde_json::to_value(task) {
                Ok(Value::Object(map)) => map,
                _ => Map::new(),
            },
            Announcement::Status(change) => change.to_data(task),
            Announcement::Removed => {
                let mut map = Map::new();
                map.insert("task_id".into(), Value::from(task.id.as_str()));
                map.insert("version".into(), Value::from(task.version));
                map
            }
        }
    }
}

/// Why a change was not committed. Nothing was announced.
#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    /// The record could not be made durable.
    #[error("the task change could not be saved: {0}")]
    Unsaved(#[source] std::io::Error),
    /// No `SEQ` is left below [`MAX_SEQ`].
    #[error("the event sequence is exhausted")]
    SeqExhausted,
}

/// Commits task changes durably and announces them (see the module docs).
pub(crate) trait TaskLedger: Send {
    /// Makes `record` (as it is after the change) durable and announces
    /// `what`. On success the record's version is the event's `SEQ` and the
    /// event's id is returned; on failure nothing was announced and
    /// `record` is as it was.
    fn commit(
        &mut self,
        record: &mut Record,
        what: Announcement<'_>,
    ) -> Result<EventId, CommitError>;

    /// The id of the newest event: with every committed change applied to
    /// the table, the cursor of a list taken now.
    fn cursor(&self) -> EventId;
}

/// The single-server backend: records through a [`RecordStore`], events
/// through the hub.
pub(crate) struct LocalLedger<S> {
    store: S,
    hub: Hub,
}

impl<S: RecordStore> LocalLedger<S> {
    pub(crate) fn new(store: S, hub: Hub) -> Self {
        LocalLedger { store, hub }
    }
}

impl<S: RecordStore> TaskLedger for LocalLedger<S> {
    fn commit(
        &mut self,
        record: &mut Record,
        what: Announcement<'_>,
    ) -> Result<EventId, CommitError> {
        let predicted = self
            .hub
            .cursor()
            .seq
            .checked_add(1)
            .filter(|&s| s <= MAX_SEQ)
            .ok_or(CommitError::SeqExhausted)?;
        let mut next = record.clone();
        next.task.version = predicted;
        let removal = matches!(what, Announcement::Removed);
        if removal {
            self.store.remove(&next.task.id)
        } else {
            self.store.save(&next)
        }
        .map_err(CommitError::Unsaved)?;
        let kind = EventType::new(what.kind()).map_err(|_| CommitError::SeqExhausted)?;
        let id = self
            .hub
            .publish_with(kind, Some(next.task.id.clone()), |event| {
                next.task.version = event.seq;
                what.data(&next.task)
            });
        if id.seq != predicted && !removal {
            if let Err(e) = self.store.save(&next) {
                tracing::error!(task = %next.task.id, error = %e,
                    "task record saved with version {predicted}, announced as {}", id.seq);
            }
        }
        *record = next;
        Ok(id)
    }

    fn cursor(&self) -> EventId {
        self.hub.cursor()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tasks::persist::tests::task;
    use broker_core::{BrokerConfig, Epoch, Filter, TaskId, TaskStatus, Timestamp};
    use std::io;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};

    /// A store that remembers what was saved and the hub's head at the time.
    #[derive(Clone, Default)]
    struct Watching {
        log: Arc<Mutex<Vec<(String, u64, u64)>>>,
        hub: Option<Hub>,
        fail: Arc<AtomicBool>,
    }

    impl RecordStore for Watching {
        fn save(&mut self, record: &Record) -> io::Result<()> {
            if self.fail.load(Ordering::Relaxed) {
                return Err(io::Error::other("disk full"));
            }
            let head = self.hub.as_ref().map_or(0, |h| h.cursor().seq);
            self.log
                .lock()
                .expect("log")
                .push(("save".into(), record.task.version, head));
            Ok(())
        }

        fn remove(&mut self, id: &TaskId) -> io::Result<()> {
            if self.fail.load(Ordering::Relaxed) {
                return Err(io::Error::other("disk full"));
            }
            let head = self.hub.as_ref().map_or(0, |h| h.cursor().seq);
            self.log
                .lock()
                .expect("log")
                .push((format!("remove {id}"), 0, head));
            Ok(())
        }
    }

    fn setup(first_seq: u64) -> (Hub, Watching, LocalLedger<Watching>) {
        let hub = Hub::new(Epoch::new(7), first_seq, BrokerConfig::default());
        let store = Watching {
            hub: Some(hub.clone()),
            ..Watching::default()
        };
        let ledger = LocalLedger::new(store.clone(), hub.clone());
        (hub, store, ledger)
    }

    fn record() -> Record {
        Record {
            task: task("t1", 0, 1),
            process_start_ticks: None,
            boot_id: None,
        }
    }

    fn published(hub: &Hub, from: &str) -> String {
        let (sub, _) = hub.subscribe(Filter::all(), Some(from));
        let mut buf = bytes::BytesMut::new();
        sub.drain(&mut buf, 1 << 20);
        String::from_utf8_lossy(&buf).into_owned()
    }

    #[test]
    fn the_record_is_durable_before_the_event_and_carries_its_seq() {
        let (hub, store, mut ledger) = setup(5);
        let mut r = record();
        let id = ledger
            .commit(&mut r, Announcement::Created)
            .expect("commit");
        assert_eq!(id.seq, 5);
        assert_eq!(r.task.version, 5);
        let log = store.log.lock().expect("log").clone();
        // Saved once, with the event's SEQ, while the head was still below it.
        assert_eq!(log, vec![("save".to_owned(), 5, 4)]);
        let text = published(&hub, "7-4");
        assert!(text.starts_with("id: 7-5\nevent: task.created\n"), "{text}");
        assert!(text.contains(r#""version":5"#), "{text}");
    }

    #[test]
    fn a_change_that_cannot_be_saved_announces_nothing() {
        let (hub, store, mut ledger) = setup(1);
        store.fail.store(true, Ordering::Relaxed);
        let mut r = record();
        let before = r.clone();
        let head = hub.cursor();
        for what in [
            Announcement::Created,
            Announcement::Updated,
            Announcement::Removed,
        ] {
            assert!(matches!(
                ledger.commit(&mut r, what),
                Err(CommitError::Unsaved(_))
            ));
        }
        assert_eq!(hub.cursor(), head, "nothing published");
        assert_eq!(r, before, "the record is untouched");
        store.fail.store(false, Ordering::Relaxed);
        assert!(ledger.commit(&mut r, Announcement::Updated).is_ok());
    }

    #[test]
    fn another_publisher_in_between_gets_the_record_saved_again_with_the_real_seq() {
        let (hub, store, mut ledger) = setup(1);
        let stop = Arc::new(AtomicBool::new(false));
        let noise = {
            let hub = hub.clone();
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                let kind = EventType::new("trigger.fired").expect("type");
                while !stop.load(Ordering::Relaxed) {
                    hub.publish(kind.clone(), None, Map::new());
                }
            })
        };
        let mut r = record();
        for _ in 0..200 {
            let id = ledger
                .commit(&mut r, Announcement::Updated)
                .expect("commit");
            assert_eq!(r.task.version, id.seq);
            let log = std::mem::take(&mut *store.log.lock().expect("log"));
            // The content was durable before its event was out.
            let (predicted, head) = (log[0].1, log[0].2);
            assert!(
                head < id.seq,
                "saved at head {head}, announced as {}",
                id.seq
            );
            assert!(predicted <= id.seq);
            match log.as_slice() {
                [_] => assert_eq!(predicted, id.seq),
                [_, (_, real, head_after)] => {
                    assert!(predicted < id.seq, "saved again only on a miss");
                    assert_eq!(*real, id.seq, "the second save carries the real SEQ");
                    assert!(*head_after >= id.seq, "after the publish");
                }
                other => panic!("at most two saves per commit: {other:?}"),
            }
        }
        stop.store(true, Ordering::Relaxed);
        noise.join().expect("noise");
    }

    #[test]
    fn a_status_change_and_a_removal_carry_their_own_seq() {
        let (hub, store, mut ledger) = setup(10);
        let mut r = record();
        ledger
            .commit(&mut r, Announcement::Created)
            .expect("created");
        let change = StatusChange {
            task_id: r.task.id.clone(),
            status: TaskStatus::Completed,
            previous: TaskStatus::Running,
            at: Timestamp::from_millis(3),
            reason: None,
        };
        r.task.status = TaskStatus::Completed;
        let status = ledger
            .commit(&mut r, Announcement::Status(&change))
            .expect("status");
        let removed = ledger
            .commit(&mut r, Announcement::Removed)
            .expect("removed");
        assert_eq!((status.seq, removed.seq), (11, 12));
        let text = published(&hub, "7-10");
        assert!(text.contains("id: 7-11\nevent: task.status\n"), "{text}");
        assert!(
            text.contains(
                "id: 7-12\nevent: task.removed\ndata: {\"task_id\":\"t1\",\"version\":12}\n"
            ),
            "{text}"
        );
        let log = store.log.lock().expect("log").clone();
        assert_eq!(log.last(), Some(&("remove t1".to_owned(), 0, 11)));
    }

    #[test]
    fn no_seq_above_the_limit_is_ever_used() {
        let (hub, _store, mut ledger) = setup(MAX_SEQ + 1);
        let mut r = record();
        assert!(matches!(
            ledger.commit(&mut r, Announcement::Created),
            Err(CommitError::SeqExhausted)
        ));
        assert_eq!(hub.cursor().seq, MAX_SEQ, "nothing published");
    }
}
