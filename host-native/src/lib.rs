//! # tidings (host-native)
//!
//! The Tidings server as a library: a tokio + hyper server that drives
//! broker-core. It serves the SSE stream (`GET /api/events`), the task REST
//! API, the dashboard's static files, `/metrics` and an OpenAPI document.
//!
//! Start it inside your own tokio runtime with [`start`], and publish from
//! your own code through the cloneable [`Hub`] it hands back (publishing
//! never fails and never blocks, whatever the subscribers do):
//!
//! ```no_run
//! # async fn run() -> Result<(), tidings::StartError> {
//! use broker_core::EventType;
//! use serde_json::Map;
//!
//! let mut config = tidings::Config::default();
//! config.addr = "127.0.0.1:0".parse().expect("an address");
//! let running = tidings::start(config).await?;
//! println!("open {}", running.url());
//! let kind = EventType::new("trigger.fired").expect("a valid type");
//! running.hub.publish(kind, None, Map::new());
//! running.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! To mount only the stream in your own hyper router, build a [`Hub`] and an
//! [`EventsEndpoint`] and answer with [`EventsEndpoint::respond`].
//!
//! It is not a general web framework: the routes are the ones in the
//! contract (design.md), and `main.rs` only parses the command line.
//!
//! Modules: [`hub`] (the broker behind a lock), [`server`] (start/stop, the
//! accept loop, one task per connection), `connections` (the connection cap,
//! idle and first-request deadlines), [`limits`] (the open-files limit),
//! [`config`] and [`validation`] (settings and their ranges), [`data_dir`]
//! (the locked, private data directory), [`seq`] (`SEQ` reserved in durable
//! blocks), `api` (the request-level checks, routing and REST handlers),
//! `requests` (each route's body and query), `body`, `stream` (the SSE body),
//! `output_stream` (a task's live output stream),
//! `auth` and `session` (credentials and the session cookie),
//! [`allowed_hosts`] (the DNS-rebinding guard), `static_files`, `metrics`,
//! `openapi`, [`tasks`] (the task runner), [`fuzzing`] (the network-facing
//! parsers, for fuzz targets),
//! and the CLI tools [`watch`] and [`parse`].
#![forbid(unsafe_code)]

pub mod allowed_hosts;
mod api;
mod auth;
mod body;
pub mod config;
mod connections;
pub mod data_dir;
mod error;
pub mod fuzzing;
pub mod hub;
pub mod limits;
mod metrics;
pub mod openapi;
mod output_stream;
pub mod parse;
mod random;
mod requests;
pub mod router;
pub mod seq;
pub mod server;
mod session;
mod static_files;
mod stream;
pub mod tasks;
pub mod validation;
pub mod watch;

pub use body::Body;
pub use config::{Config, ServeArgs, TokenSource};
pub use data_dir::{DataDir, DataDirError};
pub use hub::{Hub, Subscription};
pub use server::{start, Running, StartError};
pub use stream::{EventsEndpoint, StreamOptions};
pub use validation::ConfigError;
