//! The idiomatic Rust peer: what a team would write with axum in an
//! afternoon — one `tokio::sync::broadcast` channel, `BroadcastStream`, and
//! axum's `Sse` with `KeepAlive`. It speaks the same two routes as tidings
//! (`GET /api/events`, `POST /api/events {"type","data"}`) so the load
//! generator drives both the same way.
//!
//! What it cannot do, by construction: resume (`Last-Event-ID` is ignored:
//! a broadcast channel keeps no history for new receivers) and tell a
//! subscriber that it lagged (a lagged receiver silently skips to the
//! oldest message still held, the usual idiom).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::get;
use axum::{Json, Router};
use clap::Parser;
use futures_util::stream::{self, Stream, StreamExt};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use tokio::sync::broadcast;
use tokio_stream::wrappers::BroadcastStream;

/// Command line of the peer.
#[derive(Parser, Debug)]
#[command(about = "axum + broadcast SSE peer for the tidings benchmarks")]
struct Args {
    /// Address to listen on (loopback).
    #[arg(long, default_value = "127.0.0.1:0")]
    addr: SocketAddr,
    /// Broadcast capacity: how far a subscriber may lag before it skips.
    #[arg(long, default_value_t = 256)]
    capacity: usize,
    /// Listen backlog, so a reconnect storm is not dropped at accept.
    #[arg(long, default_value_t = 4096)]
    backlog: u32,
}

/// One published event, shared by every receiver.
struct Published {
    id: u64,
    kind: String,
    data: String,
}

#[derive(Clone)]
struct AppState {
    tx: broadcast::Sender<Arc<Published>>,
    next_id: Arc<AtomicU64>,
}

#[derive(Deserialize)]
struct PublishBody {
    #[serde(rename = "type")]
    kind: String,
    data: Map<String, Value>,
}

async fn events(
    State(state): State<AppState>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    // Subscribe before answering, so a client that has its response head
    // receives everything published after it.
    let rx = state.tx.subscribe();
    let ready = stream::once(async { Ok(Event::default().comment("ready")) });
    let events = BroadcastStream::new(rx).filter_map(|msg| async move {
        match msg {
            Ok(p) => Some(Ok(Event::default()
                .id(p.id.to_string())
                .event(p.kind.as_str())
                .data(p.data.as_str()))),
            // Lagged: skip ahead, as most axum SSE code does.
            Err(_) => None,
        }
    });
    Sse::new(ready.chain(events)).keep_alive(KeepAlive::default())
}

async fn publish(
    State(state): State<AppState>,
    Json(body): Json<PublishBody>,
) -> (StatusCode, Json<Value>) {
    let id = state.next_id.fetch_add(1, Ordering::Relaxed) + 1;
    let data = Value::Object(body.data).to_string();
    let _ = state.tx.send(Arc::new(Published {
        id,
        kind: body.kind,
        data,
    }));
    (StatusCode::ACCEPTED, Json(json!({ "id": id.to_string() })))
}

async fn health() -> &'static str {
    "ok"
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let (tx, _) = broadcast::channel(args.capacity.max(1));
    let state = AppState {
        tx,
        next_id: Arc::new(AtomicU64::new(0)),
    };
    let app = Router::new()
        .route("/api/events", get(events).post(publish))
        .route("/api/health", get(health))
        .with_state(state);
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(args.addr)?;
    let listener = socket.listen(args.backlog)?;
    println!("listening on {}", listener.local_addr()?);
    axum::serve(listener, app).await
}
