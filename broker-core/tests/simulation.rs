//! A seeded simulation of the whole system.
//!
//! A simulated server (the real [`Broker`], real [`Task`]s changed through the
//! real [`Reconciler`], published the way the host publishes them) and several
//! simulated browsers (the real [`ClientMachine`] driving the real
//! [`TaskStore`]) talk over a simulated network, all driven by one seeded
//! generator: random delays and chunking, connections that drop, streams that
//! `end`, subscribers that stop reading and lag, failing list and connect
//! requests (503, 429, wrong content type, 401, 404), clients going offline,
//! and server restarts (a new broker with a new epoch whose first `SEQ` is
//! above every persisted version; tasks persist, and live ones may be lost).
//! Stream bytes go through the real encoder (`Broker::drain_frames`, the
//! ready/end/keep-alive frames) and the real `sse::Parser`.
//!
//! After a chaotic phase the world quiets down (no more changes or faults);
//! once everyone had time to reconnect and catch up, every client must be
//! live and its store must hold exactly the server's tasks.
//!
//! A failing seed is printed; `SIM_SEED=<n>` replays just that one.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use core::time::Duration;
use std::collections::BTreeMap;

use broker_core::sse::{end_frame, keep_alive_frame, ready_frame};
use broker_core::{
    Broker, BrokerConfig, ClientConfig, ClientMachine, EndReason, Epoch, EventType, Failure,
    Filter, Input, Observation, Output, Parser, ParserConfig, Reconciler, SseItem, Status,
    SubscriberId, Task, TaskId, TaskKind, TaskList, TaskStatus, TaskStore, Timestamp,
};
use bytes::BytesMut;
use serde_json::{Map, Value};

/// Seeds run by the test suite.
#[cfg(not(target_arch = "wasm32"))]
const SEEDS: u64 = 10_000;
/// Fewer on wasm32, where the same build runs interpreted-ish under node.
#[cfg(target_arch = "wasm32")]
const SEEDS: u64 = 300;

const CLIENTS: usize = 3;
const CHAOS_MS: u64 = 20_000;
const QUIET_MS: u64 = 60_000;
const HEARTBEAT_MS: u64 = 15_000;
const RETRY_MS: u64 = 700;

/// SplitMix64: the one source of randomness of a run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// `0..n`.
    fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next() % n
        }
    }
    /// `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }
    /// True `percent`% of the time.
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// Things that happen at a time.
#[derive(Debug)]
enum Ev {
    /// A random change or fault (chaos phase only).
    Chaos,
    /// Keep-alives, and the end of streams past their lifetime.
    Heartbeat,
    /// A stream request reaches the server.
    Connect {
        client: usize,
        conn: u64,
        last_event_id: Option<String>,
    },
    /// The stream's response head reaches the client.
    Response {
        client: usize,
        conn: u64,
        result: Result<(), Failure>,
    },
    /// Stream bytes reach the client.
    Bytes {
        client: usize,
        conn: u64,
        chunk: Vec<u8>,
    },
    /// The server closed the stream (or it broke).
    Eof { client: usize, conn: u64 },
    /// A list request reaches the server.
    ListRequest { client: usize },
    /// A list answer reaches the client.
    ListResponse {
        client: usize,
        result: Result<TaskList, Failure>,
    },
    /// The application starts a client again (after unauthorized / closed).
    AppStart { client: usize },
    /// The browser is back online.
    Online { client: usize },
}

/// The server's side of one stream.
struct ServerConn {
    conn: u64,
    sub: SubscriberId,
    paused_until: u64,
    last_write: u64,
    ends_at: u64,
    /// Bytes arrive in order: none before this time.
    arrive_floor: u64,
}

/// One simulated browser.
struct Client {
    machine: ClientMachine,
    store: TaskStore,
    /// The driver's stream: its number and parser (from `Open` to `Close`).
    stream: Option<(u64, Parser)>,
    next_conn: u64,
    lists_in_flight: u32,
}

struct Server {
    broker: Broker,
    life: u64,
    down_until: u64,
    tasks: BTreeMap<TaskId, Task>,
    created: u64,
    reconciler: Reconciler,
    conns: BTreeMap<usize, ServerConn>,
}

struct World {
    rng: Rng,
    now: u64,
    queue: BTreeMap<(u64, u64), Ev>,
    order: u64,
    server: Server,
    clients: Vec<Client>,
    chaos: bool,
    broker_config: BrokerConfig,
}

fn ts(ms: u64) -> Timestamp {
    Timestamp::from_millis(ms)
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("a task serialises to an object, not {other}"),
    }
}

impl World {
    fn new(seed: u64) -> Self {
        let mut rng = Rng(seed);
        let broker_config = BrokerConfig {
            history: rng.range(4, 40) as usize,
            queue: rng.range(2, 12) as usize,
        };
        let client_config = ClientConfig {
            backoff_initial: Duration::from_millis(rng.range(100, 800)),
            backoff_max: Duration::from_millis(rng.range(2_000, 6_000)),
            stable_after: Duration::from_millis(rng.range(1_000, 6_000)),
            poll_after: Duration::from_millis(rng.range(2_000, 8_000)),
            poll_interval: Duration::from_millis(rng.range(2_000, 8_000)),
            heartbeat: Duration::from_millis(HEARTBEAT_MS),
        };
        let clients = (0..CLIENTS)
            .map(|_| Client {
                machine: ClientMachine::new(client_config, rng.next()),
                store: TaskStore::new(),
                stream: None,
                next_conn: 0,
                lists_in_flight: 0,
            })
            .collect();
        let epoch = Epoch::new(rng.next() >> 1);
        let mut world = World {
            rng,
            now: 0,
            queue: BTreeMap::new(),
            order: 0,
            server: Server {
                broker: Broker::new(epoch, 1, broker_config),
                life: 0,
                down_until: 0,
                tasks: BTreeMap::new(),
                created: 0,
                reconciler: Reconciler::default(),
                conns: BTreeMap::new(),
            },
            clients,
            chaos: true,
            broker_config,
        };
        world.at(0, Ev::Chaos);
        world.at(5_000, Ev::Heartbeat);
        for client in 0..CLIENTS {
            let start = world.rng.range(0, 3_000);
            world.at(start, Ev::AppStart { client });
        }
        world
    }

    fn at(&mut self, time: u64, ev: Ev) {
        self.order += 1;
        self.queue.insert((time, self.order), ev);
    }

    fn latency(&mut self) -> u64 {
        if self.rng.chance(10) {
            self.rng.range(200, 1_500)
        } else {
            self.rng.range(1, 60)
        }
    }

    /// Runs until `end`, then checks convergence.
    fn run(&mut self) -> Result<(), String> {
        let quiet_at = CHAOS_MS;
        let end = CHAOS_MS + QUIET_MS;
        loop {
            let next_event = self.queue.keys().next().map(|k| k.0);
            let next_timer = self
                .clients
                .iter()
                .enumerate()
                .filter_map(|(i, c)| c.machine.poll_timeout().map(|t| (t.as_millis(), i)))
                .min();
            let step = match (next_event, next_timer) {
                (None, None) => break,
                (Some(e), Some((t, i))) if t < e => Step::Timer(t, i),
                (Some(e), _) => Step::Event(e),
                (None, Some((t, i))) => Step::Timer(t, i),
            };
            let time = match step {
                Step::Timer(t, _) | Step::Event(t) => t,
            };
            if time > end {
                break;
            }
            if self.chaos && time >= quiet_at {
                self.chaos = false;
            }
            self.now = self.now.max(time);
            match step {
                Step::Timer(_, client) => {
                    self.clients[client].machine.handle_timeout(ts(self.now));
                    self.drive(client)?;
                }
                Step::Event(_) => {
                    let Some((_, ev)) = self.queue.pop_first() else {
                        break;
                    };
                    let heartbeat = matches!(ev, Ev::Heartbeat);
                    self.handle(ev)?;
                    // Converged is for good once the faults stopped: every
                    // event still in flight is no newer than the stores.
                    if heartbeat && !self.chaos && self.converged() {
                        return Ok(());
                    }
                }
            }
            self.pump();
        }
        self.check()
    }

    /// Every client live, no list pending, every store equal to the server.
    fn converged(&self) -> bool {
        self.clients.iter().all(|c| {
            c.lists_in_flight == 0
                && c.machine.status() == Status::Live
                && c.store.len() == self.server.tasks.len()
                && c.store
                    .tasks()
                    .zip(self.server.tasks.values())
                    .all(|(got, want)| TaskView::of(got) == TaskView::of(want))
        })
    }

    fn check(&self) -> Result<(), String> {
        if self.converged() {
            return Ok(());
        }
        let want: Vec<TaskView> = self.server.tasks.values().map(TaskView::of).collect();
        for (i, client) in self.clients.iter().enumerate() {
            if client.lists_in_flight > 0 {
                return Err(format!("client {i} still waits for a list"));
            }
            if client.machine.status() != Status::Live {
                return Err(format!(
                    "client {i} is {:?} after the quiet phase",
                    client.machine.status()
                ));
            }
            let got: Vec<TaskView> = client.store.tasks().map(TaskView::of).collect();
            if got != want {
                return Err(format!(
                    "client {i}'s store differs from the server:\n  server: {want:?}\n  client: {got:?}"
                ));
            }
        }
        Err("not converged".to_owned())
    }

    fn handle(&mut self, ev: Ev) -> Result<(), String> {
        match ev {
            Ev::Chaos => {
                if self.chaos {
                    self.chaos_step()?;
                    let next = self.now + self.rng.range(0, 1_500);
                    self.at(next, Ev::Chaos);
                }
            }
            Ev::Heartbeat => {
                self.heartbeat();
                self.at(self.now + 5_000, Ev::Heartbeat);
            }
            Ev::Connect {
                client,
                conn,
                last_event_id,
            } => self.accept(client, conn, last_event_id),
            Ev::Response {
                client,
                conn,
                result,
            } => {
                if self.current(client, conn) {
                    let input = match result {
                        Ok(()) => Input::Opened,
                        Err(failure) => Input::Failed(failure),
                    };
                    self.input(client, input)?;
                }
            }
            Ev::Bytes {
                client,
                conn,
                chunk,
            } => self.bytes(client, conn, &chunk)?,
            Ev::Eof { client, conn } => {
                if self.current(client, conn) {
                    if let Some((_, parser)) = &mut self.clients[client].stream {
                        parser.handle_eof();
                    }
                    self.input(client, Input::Failed(Failure::Network))?;
                }
            }
            Ev::ListRequest { client } => {
                let fail = self.now < self.server.down_until || (self.chaos && self.rng.chance(12));
                let result = if fail {
                    Err(self.random_failure())
                } else {
                    Ok(TaskList {
                        tasks: self.server.tasks.values().cloned().collect(),
                        cursor: self.server.broker.head(),
                    })
                };
                let at = self.now + self.latency();
                self.at(at, Ev::ListResponse { client, result });
            }
            Ev::ListResponse { client, result } => {
                let c = &mut self.clients[client];
                c.lists_in_flight = c.lists_in_flight.saturating_sub(1);
                match result {
                    Ok(list) => {
                        let cursor = list.cursor.to_string();
                        c.store.handle_list(list);
                        self.input(client, Input::ListFetched { cursor })?;
                    }
                    Err(failure) => {
                        c.store.handle_list_failed();
                        self.input(client, Input::ListFailed(failure))?;
                    }
                }
            }
            Ev::AppStart { client } => self.input(client, Input::Start)?,
            Ev::Online { client } => self.input(client, Input::Online { online: true })?,
        }
        Ok(())
    }

    fn random_failure(&mut self) -> Failure {
        match self.rng.below(20) {
            0 => Failure::Http(401),
            1 => Failure::Http(404),
            2 => Failure::WrongContentType,
            3..=5 => Failure::Http(429),
            6..=10 => Failure::Http(503),
            _ => Failure::Network,
        }
    }

    fn current(&self, client: usize, conn: u64) -> bool {
        matches!(&self.clients[client].stream, Some((c, _)) if *c == conn)
    }

    fn input(&mut self, client: usize, input: Input) -> Result<(), String> {
        self.clients[client]
            .machine
            .handle_input(input, ts(self.now));
        self.drive(client)
    }

    /// Carries out the machine's outputs, as a driver does.
    fn drive(&mut self, client: usize) -> Result<(), String> {
        while let Some(output) = self.clients[client].machine.poll_output() {
            match output {
                Output::Open { last_event_id } => {
                    let c = &mut self.clients[client];
                    if c.stream.is_some() {
                        return Err(format!("client {client}: Open with a stream open"));
                    }
                    c.next_conn += 1;
                    let conn = c.next_conn;
                    // A fresh EventSource starts with an empty last id; a
                    // native driver may seed its parser with the cursor.
                    let parser = match (&last_event_id, self.rng.chance(50)) {
                        (Some(id), true) => Parser::with_last_event_id(ParserConfig::default(), id),
                        _ => Parser::new(ParserConfig::default()),
                    };
                    self.clients[client].stream = Some((conn, parser));
                    let at = self.now + self.latency();
                    self.at(
                        at,
                        Ev::Connect {
                            client,
                            conn,
                            last_event_id,
                        },
                    );
                }
                Output::Close => {
                    let closed = self.clients[client].stream.take();
                    if let Some((conn, _)) = closed {
                        let same = self
                            .server
                            .conns
                            .get(&client)
                            .is_some_and(|s| s.conn == conn);
                        if same {
                            if let Some(s) = self.server.conns.remove(&client) {
                                self.server.broker.unsubscribe(s.sub);
                            }
                        }
                    }
                }
                Output::List(_) => {
                    let c = &mut self.clients[client];
                    c.lists_in_flight += 1;
                    if c.lists_in_flight > 1 {
                        return Err(format!("client {client}: two lists in flight"));
                    }
                    c.store.handle_list_started();
                    let at = self.now + self.latency();
                    self.at(at, Ev::ListRequest { client });
                }
                Output::Deliver(message) => {
                    self.clients[client]
                        .store
                        .handle_event(&message.event, &message.data)
                        .map_err(|e| format!("client {client}: {e}"))?;
                }
                Output::Status(report) => {
                    if matches!(report.status, Status::Unauthorized | Status::Closed) {
                        let at = self.now + self.rng.range(500, 5_000);
                        self.at(at, Ev::AppStart { client });
                    }
                }
            }
        }
        Ok(())
    }

    fn bytes(&mut self, client: usize, conn: u64, chunk: &[u8]) -> Result<(), String> {
        if !self.current(client, conn) {
            return Ok(());
        }
        self.input(client, Input::BytesReceived)?;
        let mut items = Vec::new();
        if let Some((_, parser)) = &mut self.clients[client].stream {
            parser.handle_bytes(chunk);
            while let Some(item) = parser.poll_output() {
                items.push(item.map_err(|e| format!("client {client}: parse error {e}"))?);
            }
        }
        for item in items {
            if !self.current(client, conn) {
                break;
            }
            let input = match item {
                SseItem::Message(m) => Input::Message(m),
                SseItem::Retry(ms) => Input::Retry(ms),
            };
            self.input(client, input)?;
        }
        Ok(())
    }

    /// The server accepts (or refuses) a stream request.
    fn accept(&mut self, client: usize, conn: u64, last_event_id: Option<String>) {
        if !self.current(client, conn) {
            return;
        }
        let respond_at = self.now + self.latency();
        let refused = if self.now < self.server.down_until {
            Some(Failure::Network)
        } else if self.chaos && self.rng.chance(10) {
            Some(self.random_failure())
        } else {
            None
        };
        if let Some(failure) = refused {
            self.at(
                respond_at,
                Ev::Response {
                    client,
                    conn,
                    result: Err(failure),
                },
            );
            return;
        }
        if let Some(old) = self.server.conns.remove(&client) {
            self.server.broker.unsubscribe(old.sub);
        }
        let (sub, ready) = self
            .server
            .broker
            .subscribe(Filter::all(), last_event_id.as_deref());
        self.at(
            respond_at,
            Ev::Response {
                client,
                conn,
                result: Ok(()),
            },
        );
        self.at(
            respond_at,
            Ev::Bytes {
                client,
                conn,
                chunk: ready_frame(RETRY_MS, &ready).to_vec(),
            },
        );
        let lifetime = self.rng.range(3_000, 30_000);
        self.server.conns.insert(
            client,
            ServerConn {
                conn,
                sub,
                paused_until: 0,
                last_write: self.now,
                ends_at: self.now + lifetime,
                arrive_floor: respond_at,
            },
        );
    }

    /// Sends bytes on a server-side stream, split at random, in order.
    fn send(&mut self, client: usize, bytes: &[u8]) {
        let delay = self.latency();
        let Some(s) = self.server.conns.get_mut(&client) else {
            return;
        };
        let arrive = s.arrive_floor.max(self.now + delay);
        s.arrive_floor = arrive;
        s.last_write = self.now;
        let conn = s.conn;
        let mut rest = bytes;
        while !rest.is_empty() {
            let cut = if self.rng.chance(30) {
                self.rng.range(1, rest.len() as u64) as usize
            } else {
                rest.len()
            };
            let (head, tail) = rest.split_at(cut);
            self.at(
                arrive,
                Ev::Bytes {
                    client,
                    conn,
                    chunk: head.to_vec(),
                },
            );
            rest = tail;
        }
    }

    /// The server writes what each reading subscriber has pending.
    fn pump(&mut self) {
        let ready: Vec<usize> = self
            .server
            .conns
            .iter()
            .filter(|(_, s)| s.paused_until <= self.now && self.server.broker.has_pending(s.sub))
            .map(|(c, _)| *c)
            .collect();
        for client in ready {
            let Some(sub) = self.server.conns.get(&client).map(|s| s.sub) else {
                continue;
            };
            let mut out = BytesMut::new();
            while self.server.broker.drain_frames(sub, &mut out, 512) > 0 {}
            if !out.is_empty() {
                self.send(client, &out);
            }
        }
    }

    /// The server closes a stream: optionally with `end`, always with EOF.
    fn hang_up(&mut self, client: usize, with_end: bool) {
        if with_end {
            self.send(client, &end_frame(EndReason::MaxLifetime));
        }
        if let Some(s) = self.server.conns.remove(&client) {
            self.server.broker.unsubscribe(s.sub);
            let at = s.arrive_floor.max(self.now + 1);
            self.at(
                at,
                Ev::Eof {
                    client,
                    conn: s.conn,
                },
            );
        }
    }

    fn heartbeat(&mut self) {
        let clients: Vec<usize> = self.server.conns.keys().copied().collect();
        for client in clients {
            let Some(s) = self.server.conns.get(&client) else {
                continue;
            };
            if s.paused_until > self.now {
                continue;
            }
            if self.chaos && s.ends_at <= self.now {
                self.hang_up(client, true);
            } else if self.now - s.last_write >= HEARTBEAT_MS - 5_000 {
                self.send(client, &keep_alive_frame());
            }
        }
    }

    fn chaos_step(&mut self) -> Result<(), String> {
        match self.rng.below(100) {
            0..=24 => self.create_task(),
            25..=59 => self.observe_task(),
            60..=71 => self.rename_task(),
            72..=76 => {
                let kind = EventType::new("trigger.fired").expect("valid type");
                self.server.broker.publish(kind, None, &Map::new());
            }
            77..=81 => {
                if let Some(client) = self.random_conn() {
                    self.hang_up(client, false);
                }
            }
            82..=86 => {
                if let Some(client) = self.random_conn() {
                    let until = self.now + self.rng.range(500, 20_000);
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

    fn random_conn(&mut self) -> Option<usize> {
        let clients: Vec<usize> = self.server.conns.keys().copied().collect();
        if clients.is_empty() {
            None
        } else {
            Some(clients[self.rng.below(clients.len() as u64) as usize])
        }
    }

    fn publish(&mut self, kind: &str, task: &TaskId, data: &Map<String, Value>) {
        let kind = EventType::new(kind).expect("valid type");
        self.server.broker.publish(kind, Some(task.clone()), data);
    }

    fn create_task(&mut self) {
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

    fn random_task(&mut self) -> Option<TaskId> {
        let ids: Vec<TaskId> = self.server.tasks.keys().cloned().collect();
        if ids.is_empty() {
            None
        } else {
            Some(ids[self.rng.below(ids.len() as u64) as usize].clone())
        }
    }

    fn observe_task(&mut self) {
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

    fn observe(&mut self, id: &TaskId, observation: Observation) {
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

    fn rename_task(&mut self) {
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

    /// A new broker life: every stream breaks; tasks persist; live tasks may
    /// not survive.
    fn restart(&mut self) {
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

#[derive(Clone, Copy)]
enum Step {
    Timer(u64, usize),
    Event(u64),
}

/// What the protocol promises a client sees of a task: every field an event
/// or list carries. (`last_activity_at` also moves silently, without an
/// event, while a task runs: the contract does not announce that.)
#[derive(Debug, PartialEq, Eq)]
struct TaskView {
    id: TaskId,
    name: String,
    status: TaskStatus,
    version: u64,
    finished_at: Option<Timestamp>,
    exit_code: Option<i32>,
    error: Option<String>,
}

impl TaskView {
    fn of(t: &Task) -> Self {
        TaskView {
            id: t.id.clone(),
            name: t.name.clone(),
            status: t.status,
            version: t.version,
            finished_at: t.finished_at,
            exit_code: t.exit_code,
            error: t.error.clone(),
        }
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn run_seed(seed: u64) -> Result<(), String> {
    // A panic in the core is a failure of this seed, reported with it.
    std::panic::catch_unwind(|| World::new(seed).run())
        .unwrap_or_else(|_| Err("panicked (message above)".to_owned()))
}

#[cfg(target_arch = "wasm32")]
fn run_seed(seed: u64) -> Result<(), String> {
    World::new(seed).run()
}

#[cfg(not(target_arch = "wasm32"))]
fn replay_seed() -> Option<u64> {
    std::env::var("SIM_SEED").ok()?.parse().ok()
}

#[cfg(target_arch = "wasm32")]
fn replay_seed() -> Option<u64> {
    None
}

/// Runs `seeds`, returning up to three failures (seed, what went wrong).
fn run_seeds(seeds: &[u64]) -> Vec<(u64, String)> {
    let mut failures = Vec::new();
    for &seed in seeds {
        if let Err(e) = run_seed(seed) {
            failures.push((seed, e));
            if failures.len() >= 3 {
                break;
            }
        }
    }
    failures
}

/// Natively the seeds are spread over the machine's cores.
#[cfg(not(target_arch = "wasm32"))]
fn run_all(seeds: &[u64]) -> Vec<(u64, String)> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
    let chunk = seeds.len().div_ceil(threads).max(1);
    let mut failures: Vec<(u64, String)> = std::thread::scope(|scope| {
        let handles: Vec<_> = seeds
            .chunks(chunk)
            .map(|part| scope.spawn(move || run_seeds(part)))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("run_seeds catches panics"))
            .collect()
    });
    failures.sort_by_key(|(seed, _)| *seed);
    failures
}

#[cfg(target_arch = "wasm32")]
fn run_all(seeds: &[u64]) -> Vec<(u64, String)> {
    run_seeds(seeds)
}

#[test]
fn every_store_converges_to_the_servers_tasks() {
    let seeds: Vec<u64> = match replay_seed() {
        Some(seed) => vec![seed],
        None => (0..SEEDS).collect(),
    };
    let failures = run_all(&seeds);
    if let Some((seed, e)) = failures.first() {
        let seeds: Vec<u64> = failures.iter().map(|(s, _)| *s).collect();
        panic!("simulation failed for seeds {seeds:?}; first (replay with SIM_SEED={seed}): {e}");
    }
    println!("simulation: {} seeds, all stores converged", seeds.len());
}
