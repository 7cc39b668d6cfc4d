//! The hub: the one owner of the broker inside the server, and the cloneable
//! publisher handle an embedding backend uses.
//!
//! SKELETON — signatures are the contract between the HTTP layer and the task
//! runner; bodies are being filled in.

use std::sync::Arc;

use broker_core::{EventId, EventType, TaskId};
use serde_json::{Map, Value};

/// Cloneable handle to the broker. Publishing never fails and never blocks on
/// subscribers.
#[derive(Clone)]
pub struct Hub {
    inner: Arc<()>,
}

impl Hub {
    /// Publishes an event.
    pub fn publish(
        &self,
        kind: EventType,
        task: Option<TaskId>,
        data: Map<String, Value>,
    ) -> EventId {
        let _ = (&self.inner, kind, task, data);
        todo!()
    }

    /// Publishes an event whose data is built knowing its own id (a task's
    /// `version` is the `SEQ` of the event that announces it). `build` runs with
    /// the broker locked: keep it short.
    pub fn publish_with(
        &self,
        kind: EventType,
        task: Option<TaskId>,
        build: impl FnOnce(EventId) -> Map<String, Value>,
    ) -> EventId {
        let _ = (kind, task, build);
        todo!()
    }

    /// The id of the newest event: the `cursor` of a list taken now.
    pub fn cursor(&self) -> EventId {
        todo!()
    }
}
