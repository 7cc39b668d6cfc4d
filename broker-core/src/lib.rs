//! # broker-core
//!
//! The no-IO heart of Tidings: it models events, the broker's bounded
//! subscriber queues and resume history (with keyed conflation for lagging
//! subscribers), the timing of a server's SSE stream (heartbeat, lifetime,
//! `end`), task status reconciliation, the SSE wire format, and the browser
//! client's reconnect state machine and task store.
//!
//! It is **not** a server or a client: it opens no sockets, reads no clock,
//! spawns nothing and draws no random numbers. Callers pass time in as a
//! [`Timestamp`] and seeds in as integers; they carry out what the core asks
//! for. That keeps every behaviour deterministic in tests and lets the same
//! code run natively (host-native) and in the browser (client-wasm).
//!
//! # The drive loop
//!
//! A server feeds the [`Broker`] and writes what a subscriber has ready; a
//! client feeds what it parsed to the [`ClientMachine`] and carries out its
//! outputs. Here both ends meet in memory, the way the simulation test runs
//! them:
//!
//! ```
//! use broker_core::{
//!     sse, Broker, BrokerConfig, ClientConfig, ClientMachine, Epoch, EventType, Filter,
//!     Input, Output, Parser, ParserConfig, SseItem, Status, Timestamp,
//! };
//! use bytes::BytesMut;
//! use serde_json::{json, Map};
//!
//! // Server: the epoch is drawn by the driver; SEQ continues above persisted versions.
//! let mut broker = Broker::new(Epoch::new(0x7e57), 1, BrokerConfig::default());
//!
//! // Client: starts, and asks for a stream with no cursor yet.
//! let now = Timestamp::from_millis(0);
//! let mut client = ClientMachine::new(ClientConfig::default(), 42);
//! client.handle_input(Input::Start, now);
//! let mut resume = None;
//! while let Some(out) = client.poll_output() {
//!     if let Output::Open { last_event_id } = out {
//!         resume = last_event_id;
//!     }
//! }
//!
//! // Server: the request arrives; subscribe, write `retry` + `ready`, publish.
//! let (sub, ready) = broker.subscribe(Filter::all(), resume.as_deref());
//! let mut wire = BytesMut::from(&sse::ready_frame(2000, 15_000, &ready)[..]);
//! let mut data = Map::new();
//! data.insert("source".into(), json!("cron"));
//! broker.publish(EventType::new("trigger.fired")?, None, &data);
//! broker.publish(EventType::new("trigger.fired")?, None, &Map::new());
//! broker.drain_frames(sub, &mut wire, 64 * 1024);
//!
//! // Client: the bytes go through the parser into the machine.
//! client.handle_input(Input::Opened, now);
//! let mut parser = Parser::new(ParserConfig::default());
//! parser.handle_bytes(&wire);
//! let mut delivered = Vec::new();
//! while let Some(item) = parser.poll_output() {
//!     match item? {
//!         SseItem::Message(message) => client.handle_input(Input::Message(message), now),
//!         SseItem::Retry(ms) => client.handle_input(Input::Retry(ms), now),
//!     }
//!     while let Some(out) = client.poll_output() {
//!         match out {
//!             Output::Deliver(message) => delivered.push(message.last_event_id),
//!             // `ready` said resumed: false, so a real driver lists now and
//!             // answers with Input::ListFetched (or ListFailed).
//!             Output::List(_) => {}
//!             _ => {}
//!         }
//!     }
//! }
//! assert_eq!(client.status(), Status::Live);
//! assert_eq!(delivered, ["7e57-1", "7e57-2"]);
//! // A reconnect would resume from the last id it was given.
//! assert_eq!(client.cursor(), Some("7e57-2"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod broker;
pub mod client;
pub mod event;
pub mod id;
mod jitter;
pub mod session;
pub mod sse;
pub mod store;
pub mod task;
pub mod time;

pub use broker::{
    Broker, BrokerConfig, BrokerStats, Delivery, Filter, FilterError, Ready, TypePattern,
    DEFAULT_HISTORY_BYTES,
};
pub use client::{
    ClientConfig, ClientMachine, Failure, Input, Output, ResyncReason, Status, StatusReport,
};
pub use event::{event_data, Event, EventType, EventTypeError, NotAnObject};
pub use id::{Epoch, EventId, EventIdError, SubscriberId, TaskId, TaskIdError};
pub use session::{SessionConfig, StreamSession};
pub use sse::{EndReason, Message, ParseError, Parser, ParserConfig, SseItem};
pub use store::{Change, StoreError, TaskList, TaskStore};
pub use task::{ErrorCause, Observation, Reconciler, StatusChange, Task, TaskKind, TaskStatus};
pub use time::Timestamp;
