//! The server's side of the chaos: tasks created, reconciled and renamed the
//! way the host publishes them, and restarts.

use broker_core::{
    Broker, Epoch, EventType, Input, Observation, Task, TaskId, TaskKind, TaskStatus,
};
use serde_json::{Map, Value};

use crate::world::{object, ts, Ev, World};
use crate::CLIENTS;

impl World {
    pub(crate) fn chaos_step(&mut self) -> Result<(), String> {
        match self.rng.below(100) {
            0..=24 => self.create_task(),
            25..=54 => self.observe_task(),
            55..=59 => self.remove_finished_task(),
            60..=71 => self.rename_task(),
            72..=76 => {
                // A short burst: with keyed conflation, only unkeyed events
                // (and history cuts) make a lagging client list again.
                for _ in 0..self.rng.range(1, 3) {
                    let kind = EventType::new("trigger.fired").expect("valid type");
                    let id = self.server.broker.publish(kind, None, &Map::new());
                    self.triggers.push(id);
                }
            }
            77..=81 => {
                if let Some(client) = self.random_conn() {
                    self.hang_up(client, false);
                }
            }
            82..=86 => {
                if let Some(client) = self.random_conn() {
                    let until = self.now + self.rng.range(500, 40_000);
                    if let Some(s) = self.server.conns.get_mut(&client) {
                        s.paused_until = until;
                    }
                }
            }
            87..=90 => {
                if let Some(client) = self.random_conn() {
                    self.hang_up(client, true);
                }
            }
            91..=93 => {
                let client = self.rng.below(CLIENTS as u64) as usize;
                self.input(client, Input::Online { online: false })?;
                let back = self.now + self.rng.range(100, 8_000);
                self.at(back, Ev::Online { client });
            }
            94..=95 => {
                let client = self.rng.below(CLIENTS as u64) as usize;
                let visible = self.rng.chance(50);
                self.input(client, Input::Visibility { visible })?;
            }
            _ => self.restart(),
        }
        Ok(())
    }

    pub(crate) fn random_conn(&mut self) -> Option<usize> {
        let clients: Vec<usize> = self.server.conns.keys().copied().collect();
        if clients.is_empty() {
            None
        } else {
            Some(clients[self.rng.below(clients.len() as u64) as usize])
        }
    }

    pub(crate) fn publish(&mut self, kind: &str, task: &TaskId, data: &Map<String, Value>) {
        let kind = EventType::new(kind).expect("valid type");
        self.server.broker.publish(kind, Some(task.clone()), data);
    }

    pub(crate) fn create_task(&mut self) {
        if self.server.tasks.len() >= 10 {
            return self.observe_task();
        }
        self.server.created += 1;
        let id = TaskId::new(format!("t{}", self.server.created)).expect("valid id");
        let now = ts(self.now);
        let task = Task {
            id: id.clone(),
            name: format!("task {}", self.server.created),
            kind: TaskKind::Command,
            command: "make test".into(),
            workdir: "/src".into(),
            status: TaskStatus::Running,
            version: self.server.broker.next_id().seq,
            created_at: now,
            finished_at: None,
            exit_code: None,
            error: None,
            pid: Some(1000 + self.server.created as u32),
            last_activity_at: now,
        };
        let data = object(serde_json::to_value(&task).expect("a task serialises"));
        self.server.tasks.insert(id.clone(), task);
        self.publish("task.created", &id, &data);
    }

    pub(crate) fn random_task(&mut self) -> Option<TaskId> {
        let ids: Vec<TaskId> = self.server.tasks.keys().cloned().collect();
        if ids.is_empty() {
            None
        } else {
            Some(ids[self.rng.below(ids.len() as u64) as usize].clone())
        }
    }

    pub(crate) fn observe_task(&mut self) {
        let Some(id) = self.random_task() else {
            return self.create_task();
        };
        let now = self.now;
        let observation = match self.rng.below(10) {
            0..=3 => Observation::Alive {
                last_output_at: ts(now.saturating_sub(self.rng.range(0, 200_000))),
                blocked_on_read: self.rng.chance(40),
            },
            4 => Observation::InputSent,
            5 | 6 => Observation::Exited {
                code: self.rng.range(0, 2) as i32,
            },
            7 => Observation::Killed,
            8 => Observation::FailedToStart {
                reason: "no such file".into(),
            },
            _ => Observation::Lost {
                reason: "gone".into(),
            },
        };
        self.observe(&id, observation);
    }

    pub(crate) fn observe(&mut self, id: &TaskId, observation: Observation) {
        let next_seq = self.server.broker.next_id().seq;
        let reconciler = self.server.reconciler;
        let Some(task) = self.server.tasks.get_mut(id) else {
            return;
        };
        if let Some(change) = reconciler.observe(task, observation, ts(self.now)) {
            task.version = next_seq;
            let data = change.to_data(task);
            self.publish("task.status", id, &data);
        }
    }

    pub(crate) fn rename_task(&mut self) {
        let Some(id) = self.random_task() else {
            return self.create_task();
        };
        let next_seq = self.server.broker.next_id().seq;
        let n = self.rng.below(1000);
        let Some(task) = self.server.tasks.get_mut(&id) else {
            return;
        };
        task.name = format!("renamed {n}");
        task.version = next_seq;
        let data = object(serde_json::to_value(&*task).expect("a task serialises"));
        self.publish("task.updated", &id, &data);
    }

    /// Retention: a finished task leaves the table, announced as
    /// `task.removed`.
    pub(crate) fn remove_finished_task(&mut self) {
        let finished: Vec<TaskId> = self
            .server
            .tasks
            .values()
            .filter(|t| t.status.is_final())
            .map(|t| t.id.clone())
            .collect();
        if finished.is_empty() {
            return;
        }
        let id = finished[self.rng.below(finished.len() as u64) as usize].clone();
        self.server.tasks.remove(&id);
        let version = self.server.broker.head().seq + 1;
        let mut data = Map::new();
        data.insert("task_id".into(), Value::from(id.as_str()));
        data.insert("version".into(), Value::from(version));
        self.publish("task.removed", &id, &data);
        self.coverage.removals += 1;
    }

    /// A new broker life: every stream breaks; tasks persist; live tasks may
    /// not survive.
    pub(crate) fn restart(&mut self) {
        self.coverage.restarts += 1;
        let clients: Vec<usize> = self.server.conns.keys().copied().collect();
        for client in clients {
            let with_end = self.rng.chance(50);
            self.hang_up(client, with_end);
        }
        let first_seq = self
            .server
            .tasks
            .values()
            .map(|t| t.version)
            .max()
            .unwrap_or(0)
            + 1;
        self.server.life += 1;
        let epoch = Epoch::new(self.rng.next() >> 1);
        self.server.broker = Broker::new(epoch, first_seq, self.broker_config);
        self.server.down_until = self.now + self.rng.range(0, 3_000);
        let live: Vec<TaskId> = self
            .server
            .tasks
            .values()
            .filter(|t| !t.status.is_final())
            .map(|t| t.id.clone())
            .collect();
        for id in live {
            if self.rng.chance(50) {
                self.observe(
                    &id,
                    Observation::Lost {
                        reason: "did not survive a restart".into(),
                    },
                );
            }
        }
    }
}
