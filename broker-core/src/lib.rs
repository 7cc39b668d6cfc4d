//! # broker-core
//!
//! The no-IO heart of Tidings: it models events, the broker's bounded
//! subscriber queues and resume history (with keyed conflation for lagging
//! subscribers), the timing of a server's SSE stream (heartbeat, lifetime,
//! `end`), a task's live output stream (offsets, coalescing, UTF-8 edges), task status reconciliation, the SSE wire format, and the browser
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
//!     client, sse, Broker, BrokerConfig, ClientConfig, ClientMachine, Epoch, EventType, Filter,
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
//!         resume = last_event_id.map(|id| id.to_string());
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
//! // Client: the bytes go through the parser; the driver reads each message
//! // into a typed input and keeps the payload itself.
//! client.handle_input(Input::Opened, now);
//! let mut parser = Parser::new(ParserConfig::default());
//! parser.handle_bytes(&wire);
//! let mut delivered = Vec::new();
//! while let Some(item) = parser.poll_output() {
//!     let message = match item? {
//!         SseItem::Message(message) => message,
//!         SseItem::Retry(ms) => {
//!             client.handle_input(Input::Retry(ms), now);
//!             continue;
//!         }
//!     };
//!     client.handle_input(client::stream_input(&message), now);
//!     while let Some(out) = client.poll_output() {
//!         match out {
//!             // New: hand the payload the driver kept to the stores.
//!             Output::Deliver { .. } => delivered.push(message.data.clone()),
//!             // `ready` said resumed: false, so a real driver lists now and
//!             // answers with Input::ListFetched (or ListFailed).
//!             Output::List(_) => {}
//!             _ => {}
//!         }
//!     }
//! }
//! assert_eq!(client.status(), Status::Live);
//! assert_eq!(delivered, [r#"{"source":"cron"}"#, "{}"]);
//! // A reconnect would resume from the last id it was given.
//! assert_eq!(client.cursor().map(|id| id.to_string()).as_deref(), Some("7e57-2"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
// Without `std` (the browser build) the core needs only `alloc`: no
// formatting or panic machinery of the standard library comes with it.
#![cfg_attr(not(feature = "std"), no_std)]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;

// The broker, the SSE codec and tasks carry JSON (`serde_json::Map` event
// data, serde task records): they come with the `serde` feature. The client
// machine, the store and the identities do not need it, so the browser
// client builds the core without it.
#[cfg(feature = "serde")]
pub mod broker;
pub mod client;
#[cfg(feature = "serde")]
pub mod event;
pub mod id;
#[cfg(feature = "serde")]
mod jitter;
pub mod output;
#[cfg(feature = "serde")]
pub mod session;
#[cfg(feature = "serde")]
pub mod sse;
pub mod store;
#[cfg(feature = "serde")]
pub mod task;
pub mod time;

#[cfg(feature = "serde")]
pub use broker::{
    Broker, BrokerConfig, BrokerStats, Delivery, Filter, FilterError, Ready, TypePattern,
    DEFAULT_HISTORY_BYTES,
};
pub use client::{
    ClientConfig, ClientMachine, Failure, Input, Output, Reason, ResyncReason, Status,
    StatusReport, StreamEnd,
};
#[cfg(feature = "serde")]
pub use event::{event_data, Event, EventType, EventTypeError, NotAnObject};
pub use id::{Epoch, EventId, EventIdError, SubscriberId, TaskId, TaskIdError};
#[cfg(feature = "serde")]
pub use session::{SessionConfig, StreamSession};
#[cfg(feature = "serde")]
pub use sse::{EndReason, Message, ParseError, Parser, ParserConfig, SseItem};
pub use store::{Change, TaskEvent, TaskRecord, TaskStore};
#[cfg(feature = "serde")]
pub use store::{StatusUpdate, StoreError, TaskList};
#[cfg(feature = "serde")]
pub use task::{ErrorCause, Observation, Reconciler, StatusChange, Task, TaskKind, TaskStatus};
pub use time::Timestamp;
