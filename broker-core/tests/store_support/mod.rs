//! A small simulated server for the store tests: tasks created, renamed and
//! reconciled, each change published as the event the real host publishes.
#![allow(dead_code)] // each test file uses a different part

use std::collections::BTreeMap;

use broker_core::{
    Change, Epoch, EventId, Observation, Reconciler, Task, TaskId, TaskKind, TaskList, TaskStatus,
    TaskStore, Timestamp,
};

pub const EPOCH: Epoch = Epoch::new(0xabc);

pub fn ms(v: u64) -> Timestamp {
    Timestamp::from_millis(v)
}

pub fn id(s: &str) -> TaskId {
    TaskId::new(s).expect("valid task id")
}

/// A running task at `version`.
pub fn task(name: &str, version: u64) -> Task {
    Task {
        id: id(name),
        name: name.to_owned(),
        kind: TaskKind::Command,
        command: format!("run {name}"),
        workdir: "/srv".into(),
        status: TaskStatus::Running,
        version,
        created_at: ms(1_000),
        finished_at: None,
        exit_code: None,
        error: None,
        pid: Some(100),
        last_activity_at: ms(1_000),
    }
}

pub fn json(task: &Task) -> String {
    serde_json::to_string(task).expect("a task serialises")
}

pub fn list(tasks: &[Task], cursor_seq: u64) -> TaskList {
    TaskList {
        tasks: tasks.to_vec(),
        cursor: EventId::new(EPOCH, cursor_seq),
    }
}

/// One published event.
#[derive(Clone, Debug)]
pub struct Published {
    pub seq: u64,
    pub kind: &'static str,
    pub data: String,
}

/// What the simulated server can be asked to do.
#[derive(Clone, Debug)]
pub enum Op {
    Create,
    Rename {
        task: usize,
        name: String,
    },
    Observe {
        task: usize,
        observation: Observation,
        after_ms: u64,
    },
}

/// The server: its tasks, its clock, and every event it published.
#[derive(Debug)]
pub struct Server {
    reconciler: Reconciler,
    now: Timestamp,
    next_seq: u64,
    /// Each task as of the last event about it (what a list at the current
    /// head reflects; output seen between events moves `last_activity_at`
    /// silently on the real host, which a store cannot know).
    pub published: BTreeMap<TaskId, Task>,
    /// The live records, as the reconciler keeps them.
    live: Vec<Task>,
    pub events: Vec<Published>,
    /// `published` after each event: `views[seq]` is what a list with cursor
    /// `seq` holds (`views[0]`: before any event).
    views: Vec<BTreeMap<TaskId, Task>>,
}

impl Server {
    pub fn new() -> Self {
        Server {
            reconciler: Reconciler {
                idle_threshold: core::time::Duration::from_millis(500),
            },
            now: ms(10_000),
            next_seq: 1,
            published: BTreeMap::new(),
            live: Vec::new(),
            events: Vec::new(),
            views: vec![BTreeMap::new()],
        }
    }

    pub fn run(ops: &[Op]) -> Self {
        let mut server = Server::new();
        for op in ops {
            server.apply(op.clone());
        }
        server
    }

    pub fn apply(&mut self, op: Op) {
        match op {
            Op::Create => {
                let mut t = task(&format!("t{}", self.live.len()), self.next_seq);
                t.created_at = self.now;
                t.last_activity_at = self.now;
                self.live.push(t.clone());
                self.publish("task.created", t.clone(), json(&t));
            }
            Op::Rename { task, name } => {
                let Some(i) = self.pick(task) else { return };
                self.live[i].name = name;
                self.live[i].version = self.next_seq;
                let t = self.live[i].clone();
                self.publish("task.updated", t.clone(), json(&t));
            }
            Op::Observe {
                task,
                observation,
                after_ms,
            } => {
                let Some(i) = self.pick(task) else { return };
                self.now = self.now + core::time::Duration::from_millis(after_ms);
                let change = self
                    .reconciler
                    .observe(&mut self.live[i], observation, self.now);
                if let Some(change) = change {
                    // The documented order: version first, then the payload.
                    self.live[i].version = self.next_seq;
                    let data = change.to_data(&self.live[i]);
                    let t = self.live[i].clone();
                    let data = serde_json::to_string(&data).expect("a map serialises");
                    self.publish("task.status", t, data);
                }
            }
        }
    }

    fn pick(&self, task: usize) -> Option<usize> {
        (!self.live.is_empty()).then(|| task % self.live.len())
    }

    fn publish(&mut self, kind: &'static str, task: Task, data: String) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.published.insert(task.id.clone(), task);
        self.views.push(self.published.clone());
        self.events.push(Published { seq, kind, data });
    }

    /// The list a client gets when the newest event is `seq` (0: before any).
    pub fn list_at(&self, seq: u64) -> TaskList {
        let tasks = self.views[seq as usize].values().cloned().collect();
        TaskList {
            tasks,
            cursor: EventId::new(EPOCH, seq),
        }
    }

    pub fn head(&self) -> u64 {
        self.next_seq - 1
    }
}

/// What a UI that redraws only the reported rows would show; kept in step
/// with the changes a store reports.
#[derive(Debug, Default)]
pub struct Mirror {
    rows: BTreeMap<TaskId, Task>,
}

impl Mirror {
    /// Applies reported changes, checking each is real: an `Upserted` row is
    /// new or different, a `Removed` one was shown; no row is reported twice.
    pub fn follow(&mut self, store: &TaskStore<Task>, changes: &[Change]) -> Result<(), String> {
        let mut seen = std::collections::BTreeSet::new();
        for change in changes {
            match change {
                Change::Upserted(id) => {
                    let now = store
                        .task(id)
                        .ok_or_else(|| format!("upserted {id} is not in the store"))?;
                    if self.rows.get(id) == Some(now) {
                        return Err(format!("upserted {id} did not change"));
                    }
                    if !seen.insert(id.clone()) {
                        return Err(format!("{id} reported twice"));
                    }
                    self.rows.insert(id.clone(), now.clone());
                }
                Change::Removed(id) => {
                    if store.task(id).is_some() {
                        return Err(format!("removed {id} is still in the store"));
                    }
                    if self.rows.remove(id).is_none() {
                        return Err(format!("removed {id} was not shown"));
                    }
                    if !seen.insert(id.clone()) {
                        return Err(format!("{id} reported twice"));
                    }
                }
            }
        }
        let shown: Vec<&Task> = self.rows.values().collect();
        let held: Vec<&Task> = store.tasks().collect();
        if shown != held {
            return Err(format!(
                "unreported change: shown {shown:?}, store {held:?}"
            ));
        }
        Ok(())
    }
}

pub fn contents(store: &TaskStore<Task>) -> Vec<Task> {
    store.tasks().cloned().collect()
}
