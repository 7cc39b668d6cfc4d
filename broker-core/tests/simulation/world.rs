//! The simulated world: the network, the server's stream side and the
//! browsers' drivers.

use core::time::Duration;
use std::collections::BTreeMap;

use std::collections::BTreeSet;

use broker_core::client::stream_input;
use broker_core::sse::{end_frame, heartbeat_frame, ready_frame, HeartbeatForm};
use broker_core::{
    Broker, BrokerConfig, Change, ClientConfig, ClientMachine, EndReason, Epoch, EventId, Failure,
    Filter, Input, Message, Output, Parser, ParserConfig, Reason, Reconciler, ResyncReason,
    SseItem, Status, SubscriberId, Task, TaskId, TaskList, TaskStatus, TaskStore, Timestamp,
};
use bytes::BytesMut;
use serde_json::{Map, Value};

use crate::{Coverage, CHAOS_MS, CLIENTS, HEARTBEAT_MS, QUIET_MS, RETRY_MS};

/// SplitMix64: the one source of randomness of a run.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// `0..n`.
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next() % n
        }
    }
    /// `lo..=hi`.
    pub(crate) fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }
    /// True `percent`% of the time.
    pub(crate) fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// Things that happen at a time.
#[derive(Debug)]
pub(crate) enum Ev {
    /// A random change or fault (chaos phase only).
    Chaos,
    /// Keep-alives, and the end of streams past their lifetime.
    Heartbeat,
    /// A stream request reaches the server.
    Connect {
        client: usize,
        conn: u64,
        last_event_id: Option<EventId>,
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
    ListRequest { client: usize, list: u64 },
    /// A list answer reaches the client.
    ListResponse {
        client: usize,
        list: u64,
        result: Result<TaskList, Failure>,
    },
    /// The application starts a client again (after unauthorized / closed).
    AppStart { client: usize },
    /// The browser is back online.
    Online { client: usize },
}

/// The server's side of one stream.
pub(crate) struct ServerConn {
    pub(crate) conn: u64,
    pub(crate) sub: SubscriberId,
    pub(crate) paused_until: u64,
    pub(crate) last_write: u64,
    pub(crate) ends_at: u64,
    /// Bytes arrive in order: none before this time.
    pub(crate) arrive_floor: u64,
    /// Heartbeats as `event: heartbeat` (the client asked `heartbeat=event`).
    pub(crate) heartbeat_event: bool,
}

/// One simulated browser.
pub(crate) struct Client {
    pub(crate) machine: ClientMachine,
    pub(crate) store: TaskStore<Task>,
    /// The driver's stream: its number and parser (from `Open` to `Close`).
    pub(crate) stream: Option<(u64, Parser)>,
    pub(crate) next_conn: u64,
    pub(crate) lists_in_flight: u32,
    /// The list the driver waits for (abandoned ones are ignored).
    pub(crate) list: u64,
    /// Browser-shaped: an `EventSource` shows no comment and no `retry:`,
    /// only messages; heartbeats come as events.
    pub(crate) browser: bool,
    /// The message being fed, for `Output::Deliver`.
    pub(crate) pending: Option<Message>,
    /// The highest version the store ever showed per task: it never goes back.
    pub(crate) seen_versions: BTreeMap<TaskId, u64>,
    /// `trigger.fired` ids this client received or was told it missed (a
    /// resync after them).
    pub(crate) accounted: BTreeSet<(Epoch, u64)>,
    /// `trigger.fired` ids received.
    pub(crate) received: BTreeSet<(Epoch, u64)>,
}

pub(crate) struct Server {
    pub(crate) broker: Broker,
    pub(crate) life: u64,
    pub(crate) down_until: u64,
    pub(crate) tasks: BTreeMap<TaskId, Task>,
    pub(crate) created: u64,
    pub(crate) reconciler: Reconciler,
    pub(crate) conns: BTreeMap<usize, ServerConn>,
}

pub(crate) struct World {
    pub(crate) coverage: Coverage,
    pub(crate) rng: Rng,
    pub(crate) now: u64,
    pub(crate) queue: BTreeMap<(u64, u64), Ev>,
    pub(crate) order: u64,
    pub(crate) server: Server,
    pub(crate) clients: Vec<Client>,
    pub(crate) chaos: bool,
    pub(crate) broker_config: BrokerConfig,
    /// Every `trigger.fired` published, in order.
    pub(crate) triggers: Vec<EventId>,
    pub(crate) next_list: u64,
}

/// An id as a set key (ids of different epochs do not compare by order).
pub(crate) fn key(id: EventId) -> (Epoch, u64) {
    (id.epoch, id.seq)
}

pub(crate) fn ts(ms: u64) -> Timestamp {
    Timestamp::from_millis(ms)
}

pub(crate) fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("a task serialises to an object, not {other}"),
    }
}

impl World {
    pub(crate) fn new(seed: u64) -> Self {
        let mut rng = Rng(seed);
        let broker_config = BrokerConfig {
            history: rng.range(4, 40) as usize,
            queue: rng.range(2, 12) as usize,
            // A byte budget that often cuts the history shorter than its
            // count (task frames are a few hundred bytes).
            history_bytes: rng.range(1_000, 16_000) as usize,
            ..BrokerConfig::default()
        };
        let client_config = ClientConfig {
            backoff_initial: Duration::from_millis(rng.range(100, 800)),
            backoff_max: Duration::from_millis(rng.range(2_000, 6_000)),
            stable_after: Duration::from_millis(rng.range(1_000, 6_000)),
            poll_after: Duration::from_millis(rng.range(2_000, 8_000)),
            poll_interval: Duration::from_millis(rng.range(2_000, 8_000)),
            heartbeat: None,
            watchdog: true,
            list_timeout: Duration::from_millis(rng.range(800, 10_000)),
        };
        let clients = (0..CLIENTS)
            .map(|_| Client {
                machine: ClientMachine::new(client_config, rng.next()),
                store: TaskStore::new(),
                stream: None,
                next_conn: 0,
                lists_in_flight: 0,
                list: 0,
                browser: rng.chance(50),
                pending: None,
                seen_versions: BTreeMap::new(),
                accounted: BTreeSet::new(),
                received: BTreeSet::new(),
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
            coverage: Coverage::default(),
            triggers: Vec::new(),
            next_list: 0,
        };
        world.at(0, Ev::Chaos);
        world.at(5_000, Ev::Heartbeat);
        for client in 0..CLIENTS {
            let start = world.rng.range(0, 3_000);
            world.at(start, Ev::AppStart { client });
        }
        world
    }

    pub(crate) fn at(&mut self, time: u64, ev: Ev) {
        self.order += 1;
        self.queue.insert((time, self.order), ev);
    }

    pub(crate) fn latency(&mut self) -> u64 {
        if self.rng.chance(10) {
            self.rng.range(200, 1_500)
        } else {
            self.rng.range(1, 60)
        }
    }

    /// Runs until `end`, then checks convergence.
    pub(crate) fn run(&mut self) -> Result<Coverage, String> {
        self.run_to_quiescence()?;
        Ok(self.coverage)
    }

    pub(crate) fn run_to_quiescence(&mut self) -> Result<(), String> {
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
                    self.handle(ev)?;
                    // Converged is for good once the faults stopped: every
                    // event still in flight is no newer than the stores.
                    if !self.chaos && self.converged() {
                        return Ok(());
                    }
                }
            }
            self.pump();
        }
        self.check()
    }

    /// Every client live, no list pending, every store equal to the server,
    /// every `trigger.fired` received or announced missed by a resync.
    pub(crate) fn converged(&self) -> bool {
        self.clients.iter().all(|c| {
            c.lists_in_flight == 0
                && c.machine.status() == Status::Live
                && self.cursor_is_current(c)
                && self
                    .triggers
                    .iter()
                    .all(|id| c.accounted.contains(&key(*id)))
                && c.store.len() == self.server.tasks.len()
                && c.store
                    .tasks()
                    .zip(self.server.tasks.values())
                    .all(|(got, want)| TaskView::same(got, want))
        })
    }

    /// The client resumes from an id of the server's current life, not
    /// beyond its head: never stuck on a foreign epoch.
    fn cursor_is_current(&self, client: &Client) -> bool {
        let head = self.server.broker.head();
        client
            .machine
            .cursor()
            .is_some_and(|c| c.epoch == head.epoch && c.seq <= head.seq)
    }

    pub(crate) fn check(&self) -> Result<(), String> {
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
            if !self.cursor_is_current(client) {
                return Err(format!(
                    "client {i}'s cursor {:?} is not of the server's life (head {})",
                    client.machine.cursor(),
                    self.server.broker.head()
                ));
            }
            if let Some(lost) = self
                .triggers
                .iter()
                .find(|id| !client.accounted.contains(&key(**id)))
            {
                return Err(format!(
                    "client {i} never received trigger.fired {lost} and no resync was announced after it"
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

    pub(crate) fn handle(&mut self, ev: Ev) -> Result<(), String> {
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
            Ev::ListRequest { client, list } => {
                let fail = self.now < self.server.down_until || (self.chaos && self.rng.chance(12));
                let result = if fail {
                    Err(self.random_failure())
                } else {
                    Ok(TaskList {
                        tasks: self.server.tasks.values().cloned().collect(),
                        cursor: self.server.broker.head(),
                    })
                };
                // Now and then a list that takes longer than its deadline.
                let at = if self.chaos && self.rng.chance(5) {
                    self.now + self.rng.range(1_000, 12_000)
                } else {
                    self.now + self.latency()
                };
                self.at(
                    at,
                    Ev::ListResponse {
                        client,
                        list,
                        result,
                    },
                );
            }
            Ev::ListResponse {
                client,
                list,
                result,
            } => {
                let c = &mut self.clients[client];
                if c.list != list || c.lists_in_flight == 0 {
                    return Ok(()); // Abandoned: the driver aborted it.
                }
                c.lists_in_flight -= 1;
                match result {
                    Ok(list) => {
                        let cursor = list.cursor;
                        let before = c.machine.cursor();
                        let changes = c.store.handle_list(list);
                        self.follow(client, &changes)?;
                        self.input(client, Input::ListFetched { cursor })?;
                        let c = &mut self.clients[client];
                        let adopted = c.machine.cursor() == Some(cursor)
                            && before.is_none_or(|b| b.epoch != cursor.epoch);
                        if adopted {
                            // The list is the client's start in this epoch:
                            // what came before it is accounted for by it.
                            // Older epochs are over for it: this resync
                            // (its first, or one across a restart) said so.
                            for id in &self.triggers {
                                if id.epoch != cursor.epoch || id.seq <= cursor.seq {
                                    c.accounted.insert(key(*id));
                                }
                            }
                        }
                    }
                    Err(failure) => {
                        let changes = c.store.handle_list_failed();
                        self.follow(client, &changes)?;
                        self.input(client, Input::ListFailed(failure))?;
                    }
                }
            }
            Ev::AppStart { client } => self.input(client, Input::Start)?,
            Ev::Online { client } => self.input(client, Input::Online { online: true })?,
        }
        Ok(())
    }

    pub(crate) fn random_failure(&mut self) -> Failure {
        match self.rng.below(20) {
            0 => Failure::Http(401),
            1 => Failure::Http(404),
            2 => Failure::WrongContentType,
            3..=5 => Failure::Http(429),
            6..=10 => Failure::Http(503),
            _ => Failure::Network,
        }
    }

    pub(crate) fn current(&self, client: usize, conn: u64) -> bool {
        matches!(&self.clients[client].stream, Some((c, _)) if *c == conn)
    }

    /// Safety while running: a store never shows an older version of a task
    /// than it showed before.
    pub(crate) fn follow(&mut self, client: usize, changes: &[Change]) -> Result<(), String> {
        let c = &mut self.clients[client];
        for change in changes {
            let id = change.id();
            let Some(version) = c.store.version(id) else {
                continue;
            };
            let seen = c.seen_versions.entry(id.clone()).or_insert(0);
            if version < *seen {
                return Err(format!(
                    "client {client}: task {id} went back from version {seen} to {version}"
                ));
            }
            *seen = version;
        }
        Ok(())
    }

    pub(crate) fn input(&mut self, client: usize, input: Input) -> Result<(), String> {
        self.clients[client]
            .machine
            .handle_input(input, ts(self.now));
        self.drive(client)
    }

    /// Carries out the machine's outputs, as a driver does.
    pub(crate) fn drive(&mut self, client: usize) -> Result<(), String> {
        while let Some(output) = self.clients[client].machine.poll_output() {
            if std::env::var("SIM_TRACE").is_ok() {
                eprintln!(
                    "{} c{client} {:?} pending={:?}",
                    self.now,
                    output,
                    self.clients[client]
                        .pending
                        .as_ref()
                        .map(|m| (&m.event, &m.last_event_id))
                );
            }
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
                        (Some(id), true) => {
                            Parser::with_last_event_id(ParserConfig::default(), &id.to_string())
                        }
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
                Output::List(reason) => {
                    match reason {
                        ResyncReason::NotResumed => self.coverage.not_resumed += 1,
                        ResyncReason::Lagged => self.coverage.lagged += 1,
                        ResyncReason::Poll => self.coverage.polls += 1,
                    }
                    if reason != ResyncReason::Poll {
                        // A resync announced: every trigger published so far
                        // is accounted for.
                        let c = &mut self.clients[client];
                        c.accounted.extend(self.triggers.iter().map(|id| key(*id)));
                    }
                    self.next_list += 1;
                    let list = self.next_list;
                    let c = &mut self.clients[client];
                    c.lists_in_flight += 1;
                    c.list = list;
                    if c.lists_in_flight > 1 {
                        return Err(format!("client {client}: two lists in flight"));
                    }
                    c.store.handle_list_started();
                    let at = self.now + self.latency();
                    self.at(at, Ev::ListRequest { client, list });
                }
                Output::AbandonList => {
                    self.coverage.abandoned_lists += 1;
                    let c = &mut self.clients[client];
                    c.lists_in_flight = c.lists_in_flight.saturating_sub(1);
                    let changes = c.store.handle_list_failed();
                    self.follow(client, &changes)?;
                }
                Output::Deliver { id } => {
                    let Some(message) = self.clients[client].pending.take() else {
                        return Err(format!("client {client}: Deliver with no event fed"));
                    };
                    if id.map(|i| i.to_string()) != Some(message.last_event_id.clone()) {
                        return Err(format!(
                            "client {client}: Deliver {id:?} for event {}",
                            message.last_event_id
                        ));
                    }
                    if message.event == "trigger.fired" {
                        let c = &mut self.clients[client];
                        if let Some(id) = id {
                            if !c.received.insert(key(id)) {
                                return Err(format!(
                                    "client {client}: trigger.fired {id} delivered twice"
                                ));
                            }
                            c.accounted.insert(key(id));
                        }
                    }
                    let changes = self.clients[client]
                        .store
                        .handle_event(&message.event, &message.data)
                        .map_err(|e| format!("client {client}: {e}"))?;
                    self.follow(client, &changes)?;
                }
                Output::Status(report) => {
                    if report.reason == Reason::Watchdog {
                        self.coverage.watchdogs += 1;
                    }
                    if matches!(report.reason, Reason::End(_))
                        && report.status == Status::Connecting
                    {
                        self.coverage.ends += 1;
                    }
                    if report.status == Status::Unauthorized {
                        self.coverage.unauthorized += 1;
                    }
                    if report.status == Status::Live
                        && report.reason == Reason::Resumed
                        && self.clients[client].machine.consecutive_failures() > 0
                    {
                        self.coverage.resumed_after_failure += 1;
                    }
                    if matches!(report.status, Status::Unauthorized | Status::Closed) {
                        let at = self.now + self.rng.range(500, 5_000);
                        self.at(at, Ev::AppStart { client });
                    }
                }
            }
        }
        Ok(())
    }

    pub(crate) fn bytes(&mut self, client: usize, conn: u64, chunk: &[u8]) -> Result<(), String> {
        if !self.current(client, conn) {
            return Ok(());
        }
        // An EventSource shows no bytes, only messages.
        if !self.clients[client].browser {
            self.input(client, Input::BytesReceived)?;
        }
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
            match item {
                SseItem::Message(m) => {
                    let input = stream_input(&m);
                    self.clients[client].pending = Some(m);
                    self.input(client, input)?;
                    self.clients[client].pending = None;
                }
                SseItem::Retry(ms) => {
                    if !self.clients[client].browser {
                        self.input(client, Input::Retry(ms))?;
                    }
                }
            }
        }
        Ok(())
    }

    /// The server accepts (or refuses) a stream request.
    pub(crate) fn accept(&mut self, client: usize, conn: u64, last_event_id: Option<EventId>) {
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
        let resume = last_event_id.map(|id| id.to_string());
        let (sub, ready) = self
            .server
            .broker
            .subscribe(Filter::all(), resume.as_deref());
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
                chunk: ready_frame(RETRY_MS, HEARTBEAT_MS, &ready).to_vec(),
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
                heartbeat_event: self.clients[client].browser,
            },
        );
    }

    /// Sends bytes on a server-side stream, split at random, in order.
    pub(crate) fn send(&mut self, client: usize, bytes: &[u8]) {
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
    pub(crate) fn pump(&mut self) {
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
    pub(crate) fn hang_up(&mut self, client: usize, with_end: bool) {
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

    pub(crate) fn heartbeat(&mut self) {
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
                let form = if s.heartbeat_event {
                    HeartbeatForm::Event
                } else {
                    HeartbeatForm::Comment
                };
                self.send(client, &heartbeat_frame(form));
            }
        }
    }
}

#[derive(Clone, Copy)]
pub(crate) enum Step {
    Timer(u64, usize),
    Event(u64),
}

/// What the protocol promises a client sees of a task: every field an event
/// or list carries. (`last_activity_at` also moves silently, without an
/// event, while a task runs: the contract does not announce that.)
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct TaskView {
    pub(crate) id: TaskId,
    pub(crate) name: String,
    pub(crate) status: TaskStatus,
    pub(crate) version: u64,
    pub(crate) finished_at: Option<Timestamp>,
    pub(crate) exit_code: Option<i32>,
    pub(crate) error: Option<String>,
}

impl TaskView {
    /// `TaskView::of(a) == TaskView::of(b)`, without copying.
    pub(crate) fn same(a: &Task, b: &Task) -> bool {
        a.id == b.id
            && a.name == b.name
            && a.status == b.status
            && a.version == b.version
            && a.finished_at == b.finished_at
            && a.exit_code == b.exit_code
            && a.error == b.error
    }

    pub(crate) fn of(t: &Task) -> Self {
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
