//! Shared scaffolding for the task runner tests: a real hub, a real manager
//! on a temporary data dir, and an event log read through the core's SSE
//! parser from a real subscription.
#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use broker_core::{BrokerConfig, Epoch, Filter, Parser, SseItem, TaskId, TaskStatus};
use bytes::BytesMut;
use serde_json::Value;
use tidings::hub::Subscription;
use tidings::tasks::{self, TaskConfig, TaskManager};
use tidings::{DataDir, Hub};

/// The reconcile interval the tests run with.
pub const TICK: Duration = Duration::from_millis(100);

/// One published event, as a client would read it.
#[derive(Clone, Debug)]
pub struct Seen {
    pub id: String,
    pub kind: String,
    pub data: Value,
}

impl Seen {
    /// The event's SEQ (the part after the `-`).
    pub fn seq(&self) -> u64 {
        self.id
            .rsplit('-')
            .next()
            .and_then(|s| s.parse().ok())
            .expect("event ids are EPOCH-SEQ")
    }
}

/// A subscription to every event, decoded with the core's parser.
pub struct Events {
    sub: Subscription,
    parser: Parser,
    pub seen: Vec<Seen>,
}

impl Events {
    pub fn new(hub: &Hub) -> Self {
        let (sub, _ready) = hub.subscribe(Filter::all(), None);
        Events {
            sub,
            parser: Parser::default(),
            seen: Vec::new(),
        }
    }

    /// Reads everything published so far.
    pub fn pump(&mut self) -> &[Seen] {
        let mut buf = BytesMut::new();
        while self.sub.drain(&mut buf, 1 << 20) > 0 {
            self.parser.handle_bytes(&buf);
            buf.clear();
        }
        while let Some(item) = self.parser.poll_output() {
            if let Ok(SseItem::Message(m)) = item {
                let data = serde_json::from_str(&m.data).expect("event data is JSON");
                self.seen.push(Seen {
                    id: m.last_event_id,
                    kind: m.event,
                    data,
                });
            }
        }
        &self.seen
    }

    /// The events about one task.
    pub fn about(&mut self, id: &TaskId) -> Vec<Seen> {
        self.pump();
        self.seen
            .iter()
            .filter(|e| {
                e.data.get("task_id").or_else(|| e.data.get("id"))
                    == Some(&Value::from(id.as_str()))
            })
            .cloned()
            .collect()
    }

    /// The statuses announced by `task.status` for one task, in order.
    pub fn statuses(&mut self, id: &TaskId) -> Vec<String> {
        self.about(id)
            .iter()
            .filter(|e| e.kind == "task.status")
            .map(|e| {
                e.data["status"]
                    .as_str()
                    .expect("status is text")
                    .to_owned()
            })
            .collect()
    }

    /// Waits until a `task.status` to `status` was published for `id`;
    /// returns how long that took.
    pub async fn wait_status(
        &mut self,
        id: &TaskId,
        status: TaskStatus,
        within: Duration,
    ) -> Duration {
        let began = Instant::now();
        loop {
            if self.statuses(id).iter().any(|s| s == status.as_str()) {
                return began.elapsed();
            }
            assert!(
                began.elapsed() < within,
                "no {} for {id} within {within:?}; saw {:?}",
                status.as_str(),
                self.statuses(id)
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// A hub whose sequence continues above what is on disk, like the server's.
pub fn hub_for(loaded: &tasks::LoadedTasks, epoch: u64) -> Hub {
    Hub::new(
        Epoch::new(epoch),
        loaded.max_version() + 1,
        BrokerConfig::default(),
    )
}

/// Loads the tasks of `dir` (taking the data directory's lock).
pub fn load(dir: &Path) -> tasks::LoadedTasks {
    let data = Arc::new(DataDir::open(dir).expect("lock the data dir"));
    tasks::load(data).expect("load the data dir")
}

/// A manager on `dir` with the short test tick.
pub async fn start(dir: &Path, epoch: u64) -> (TaskManager, Hub) {
    start_with(dir, epoch, |_| {}).await
}

/// A manager on `dir` with the short test tick and `adjust` applied.
pub async fn start_with(
    dir: &Path,
    epoch: u64,
    adjust: impl FnOnce(&mut TaskConfig),
) -> (TaskManager, Hub) {
    let loaded = load(dir);
    let hub = hub_for(&loaded, epoch);
    let mut config = TaskConfig {
        reconcile_interval: TICK,
        ..TaskConfig::default()
    };
    adjust(&mut config);
    let manager = TaskManager::start(loaded, hub.clone(), config)
        .await
        .expect("the task runner starts");
    (manager, hub)
}

/// Polls `cond` every 10 ms until it holds or `within` passes.
pub async fn eventually<F>(within: Duration, what: &str, mut cond: F)
where
    F: AsyncFnMut() -> bool,
{
    let began = Instant::now();
    while !cond().await {
        assert!(began.elapsed() < within, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Whether a process with this pid exists (zombies included).
pub fn pid_exists(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Whether a process exists and is not a zombie.
pub fn pid_alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit(')').next().map(|r| r.trim_start().chars().next()))
        .flatten()
        .is_some_and(|state| state != 'Z')
}

/// Every pid whose session id is `sid`.
pub fn session_pids(sid: u32) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .expect("read /proc")
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|s| {
                    let rest = s.rsplit(')').next()?.to_owned();
                    rest.split_whitespace().nth(3)?.parse::<u32>().ok()
                })
                == Some(sid)
        })
        .collect()
}
