//! # broker-core
//!
//! The no-IO heart of Tidings: it models events, the broker's bounded
//! subscriber queues and resume history, task status reconciliation, the SSE
//! wire format, and the browser client's reconnect state machine and task
//! store.
//!
//! It is **not** a server or a client: it opens no sockets, reads no clock,
//! spawns nothing and draws no random numbers. Callers pass time in as a
//! [`Timestamp`] and seeds in as integers; they carry out what the core asks
//! for. That keeps every behaviour deterministic in tests and lets the same
//! code run natively (host-native) and in the browser (client-wasm).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod broker;
pub mod client;
pub mod event;
pub mod id;
pub mod sse;
pub mod store;
pub mod task;
pub mod time;

pub use broker::{
    Broker, BrokerConfig, BrokerStats, Delivery, Filter, FilterError, Ready, TypePattern,
};
pub use client::{
    ClientConfig, ClientMachine, Failure, Input, Output, ResyncReason, Status, StatusReport,
};
pub use event::{event_data, Event, EventType, EventTypeError, NotAnObject};
pub use id::{Epoch, EventId, EventIdError, SubscriberId, TaskId, TaskIdError};
pub use sse::{EndReason, Message, ParseError, Parser, ParserConfig, SseItem};
pub use store::{Change, StoreError, TaskList, TaskStore};
pub use task::{ErrorCause, Observation, Reconciler, StatusChange, Task, TaskKind, TaskStatus};
pub use time::Timestamp;
