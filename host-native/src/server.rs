//! Starting and stopping the server: the library entry points.

use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use broker_core::{BrokerConfig, Epoch};
use bytes::Bytes;
use hyper::body::{Frame, SizeHint};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::allowed_hosts::HostAllowlist;
use crate::api::{self, State};
use crate::auth::Auth;
use crate::body::{Body, BodyLimits};
use crate::config::{Config, TokenSource};
use crate::connections::{Busy, CloseReason, Connections, Slot};
use crate::data_dir::{DataDir, DataDirError};
use crate::hub::Hub;
use crate::limits::{self, FileLimit};
use crate::random::{self, RandomError};
use crate::seq::{SeqBlocks, SeqError};
use crate::static_files::StaticFiles;
use crate::stream::{StreamOptions, StreamSettings};
use crate::tasks::{self, TaskConfig, TaskError, TaskManager};
use crate::validation::ConfigError;

/// How long shutdown waits for connections to finish on their own (after
/// every stream got `end`) before dropping them: well inside the 5 s promise.
const GRACE: Duration = Duration::from_millis(2500);

/// How long a connection closed for being idle (or evicted) may take to
/// finish what it is doing (an HTTP/2 GOAWAY, a last response) before it is
/// dropped.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// HTTP/2 keep-alive: a PING after this long without frames from the peer,
/// and the connection is dropped when the answer takes longer than
/// [`H2_PING_TIMEOUT`], so a peer that vanished frees its streams.
const H2_PING_INTERVAL: Duration = Duration::from_secs(20);
const H2_PING_TIMEOUT: Duration = Duration::from_secs(20);

/// HTTP/2 streams one connection may have open at once.
const H2_MAX_CONCURRENT_STREAMS: u32 = 64;

/// Bytes hyper may queue per HTTP/2 stream before it stops polling the
/// body: small, so a stalled reader's backlog stays in the broker, where it
/// is counted and turned into `lagged`, rather than piling up in hyper.
const H2_SEND_BUFFER: usize = 32 * 1024;

/// What a connection refused at the cap gets before it is closed: written
/// once, without reading the request and without waiting (an HTTP/1.1
/// client then sees the contract's `503` with `Retry-After`; any other
/// client just a closed connection).
const CAP_REFUSAL: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\n\
content-type: application/json\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: 50\r\n\r\n\
{\"error\":\"too many open connections, retry later\"}";

/// The warning about refused connections is logged at most this often.
const REFUSAL_LOG_INTERVAL: Duration = Duration::from_secs(10);

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// `--no-auth` on an address other hosts can reach.
    #[error("--no-auth is only allowed on a loopback address, not {0}")]
    NoAuthNonLoopback(SocketAddr),
    /// The given token could not be used in a header or a cookie.
    #[error("the token must be 16 to 256 characters of A-Z, a-z, 0-9, '-', '_', '.' or '~'")]
    BadToken,
    /// The token file could not be read or written.
    #[error("token file {path}: {source}")]
    TokenFile {
        /// The file.
        path: String,
        /// What failed.
        source: io::Error,
    },
    /// The data directory could not be created or locked (another server
    /// holds it).
    #[error(transparent)]
    DataDir(#[from] DataDirError),
    /// The durable `SEQ` reservation could not be read or written.
    #[error("event sequence: {0}")]
    Seq(#[from] SeqError),
    /// Persisted tasks could not be loaded.
    #[error("loading tasks: {0}")]
    Tasks(#[from] TaskError),
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// What failed.
        source: io::Error,
    },
    /// The OS random source failed.
    #[error(transparent)]
    Random(#[from] RandomError),
    /// A setting is zero or absurd.
    #[error(transparent)]
    Config(#[from] ConfigError),
}

/// A running server.
pub struct Running {
    /// The bound address (the real port when the config asked for port 0).
    pub addr: SocketAddr,
    /// The access token (empty with `no_auth`).
    pub token: String,
    /// Publish from your own code through this.
    pub hub: Hub,
    /// The task runner.
    pub tasks: TaskManager,
    /// The open-files limit after raising it (`None` where unknown).
    pub file_limit: Option<FileLimit>,
    /// The connection cap in force.
    pub max_connections: usize,
    connections: Arc<Connections>,
    stop_accepting: CancellationToken,
    accept_loop: JoinHandle<()>,
    drain: CancellationToken,
    force_close: CancellationToken,
    seq: Arc<SeqBlocks>,
    data: Arc<DataDir>,
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Running")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Running {
    /// The dashboard URL with the token (opening it sets the cookie).
    pub fn url(&self) -> String {
        if self.token.is_empty() {
            format!("http://{}/", self.addr)
        } else {
            format!("http://{}/?token={}", self.addr, self.token)
        }
    }

    /// Stops the server: every open stream gets `end{"reason":"shutdown"}`,
    /// new connections are refused, open ones are closed once their
    /// responses are done (or dropped after a grace period), then the task
    /// runner stops. Returns within about 5 s.
    pub async fn shutdown(self) {
        self.hub.close();
        self.stop_accepting.cancel();
        if let Err(e) = self.accept_loop.await {
            tracing::error!(error = %e, "the accept loop failed");
        }
        self.drain.cancel();
        if tokio::time::timeout(GRACE, self.connections.all_closed())
            .await
            .is_err()
        {
            tracing::warn!("connections still open after {GRACE:?}: dropping them");
        }
        self.force_close.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(1), self.tasks.shutdown()).await;
        // Nothing writes the data directory after this: its lock goes with
        // the last holder.
        let seq = self.seq;
        let _ = tokio::task::spawn_blocking(move || seq.close()).await;
        drop(self.data);
    }
}

/// Starts everything inside the caller's tokio runtime and returns as soon
/// as the socket is bound.
///
/// It raises the process's soft open-files limit to the hard limit first
/// (see [`FileLimit`]), so the connection cap can be derived from it.
pub async fn start(config: Config) -> Result<Running, StartError> {
    config.validate()?;
    let file_limit = limits::raise_open_files();
    if config.no_auth && !config.addr.ip().is_loopback() {
        return Err(StartError::NoAuthNonLoopback(config.addr));
    }
    let token = if config.no_auth {
        String::new()
    } else {
        resolve_token(&config.token)?
    };
    // Locked before anything in it is read or written: a second server on
    // the same directory stops here, having touched nothing.
    let data = Arc::new(DataDir::open(&config.data_dir)?);
    let loaded = tasks::load(Arc::clone(&data))?;
    let seq = Arc::new(SeqBlocks::open(Arc::clone(&data), loaded.max_version())?);
    let epoch = Epoch::new(random::os_u64()?);
    let hub = Hub::reserved(
        epoch,
        Arc::clone(&seq),
        BrokerConfig {
            history: config.history,
            queue: config.queue,
            history_bytes: config.history_bytes,
            ..BrokerConfig::default()
        },
    );
    let budget = limits::default_max_connections(file_limit, config.max_live_tasks as u64);
    let max_connections = config.max_connections.unwrap_or(budget);
    if max_connections > budget {
        tracing::warn!(
            max_connections,
            budget,
            ?file_limit,
            "--max-connections is above what the open-files limit leaves for connections"
        );
    }
    let listener = bind(config.addr)?;
    let addr = listener.local_addr().map_err(|source| StartError::Bind {
        addr: config.addr,
        source,
    })?;
    let task_manager = TaskManager::start(
        loaded,
        hub.clone(),
        TaskConfig {
            reconcile_interval: config.reconcile_interval,
            idle_threshold: config.idle_threshold,
            shell: config.shell.clone(),
            task_log_max: config.task_log_max,
            task_output_rate: config.task_output_rate,
            max_live_tasks: config.max_live_tasks,
            keep_finished: config.keep_finished,
        },
    )
    .await?;
    let connections = Connections::new(max_connections);
    let state = Arc::new(State {
        hub: hub.clone(),
        tasks: task_manager.clone(),
        auth: Auth::new((!config.no_auth).then(|| token.clone()), addr.port()),
        hosts: HostAllowlist::new(addr, &config.allowed_hosts),
        files: StaticFiles::new(config.www.as_deref()),
        streams: Arc::new(StreamSettings::new(StreamOptions {
            retry: config.retry,
            heartbeat: config.heartbeat,
            lifetime: config.stream_lifetime,
            max_streams: config.max_streams,
        })?),
        connections: Arc::clone(&connections),
        body: BodyLimits {
            max_bytes: config.max_body,
            deadline: config.body_read_timeout,
        },
        max_event_bytes: config.max_event_bytes,
    });
    if config.www.is_some() && state.files.root().is_none() {
        tracing::warn!(www = ?config.www, "the static folder does not exist: serving no files");
    }
    let stop_accepting = CancellationToken::new();
    let drain = CancellationToken::new();
    let force_close = CancellationToken::new();
    let server = Arc::new(ConnectionServer {
        builder: http_builder(&config),
        state,
        connections: Arc::clone(&connections),
        header_read_timeout: config.header_read_timeout,
        idle_timeout: config.idle_timeout,
        drain: drain.clone(),
        force_close: force_close.clone(),
    });
    let accept_loop = tokio::spawn(accept_loop(listener, server, stop_accepting.clone()));
    Ok(Running {
        addr,
        token,
        hub,
        tasks: task_manager,
        file_limit,
        max_connections,
        connections,
        stop_accepting,
        accept_loop,
        drain,
        force_close,
        seq,
        data,
    })
}

/// Binds with a deep backlog: thousands of dashboards reconnecting at once
/// after a restart must not be refused by the kernel.
fn bind(addr: SocketAddr) -> Result<TcpListener, StartError> {
    let err = |source| StartError::Bind { addr, source };
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()
    } else {
        TcpSocket::new_v6()
    }
    .map_err(err)?;
    socket.set_reuseaddr(true).map_err(err)?;
    socket.bind(addr).map_err(err)?;
    socket.listen(4096).map_err(err)
}

/// hyper's settings for both protocols.
fn http_builder(config: &Config) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(config.header_read_timeout)
        // hyper's smallest buffer cap: a stream's connection then keeps one
        // 8 KiB read buffer instead of growing it to 16 KiB after the
        // request head (~6 KiB less per open stream), and its write queue
        // stays short, so a stalled client lags in the broker (where it is
        // counted) rather than in hyper. Request heads are limited to 8 KiB.
        .max_buf_size(8192);
    // Request bodies are capped at `max_body`: a receive window of that much
    // per stream is all a client ever needs.
    let window = u32::try_from(config.max_body.max(65_535)).unwrap_or(u32::MAX);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(H2_PING_INTERVAL)
        .keep_alive_timeout(H2_PING_TIMEOUT)
        .max_concurrent_streams(H2_MAX_CONCURRENT_STREAMS)
        .max_send_buf_size(H2_SEND_BUFFER)
        .initial_stream_window_size(window)
        .initial_connection_window_size(window.saturating_mul(4));
    builder
}

/// What every connection task shares.
struct ConnectionServer {
    builder: auto::Builder<TokioExecutor>,
    state: Arc<State>,
    connections: Arc<Connections>,
    header_read_timeout: Duration,
    idle_timeout: Duration,
    /// Cancelled at shutdown: connections finish their responses and close.
    drain: CancellationToken,
    /// Cancelled after the grace period: connections are dropped.
    force_close: CancellationToken,
}

/// Accepts until `stop`: each connection gets a slot under the cap (or is
/// closed at once) and a task of its own. Never spins: when descriptors run
/// out, the pending connection is accepted on a spare descriptor and closed.
async fn accept_loop(
    listener: TcpListener,
    server: Arc<ConnectionServer>,
    stop: CancellationToken,
) {
    // Held in reserve for the moment accept fails with EMFILE: giving it
    // back lets the pending connection be accepted and closed, instead of
    // leaving it in the backlog and the listener readable (a busy loop).
    let mut spare = open_spare();
    let mut refusals = RefusalLog::default();
    loop {
        let accepted = tokio::select! {
            () = stop.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, _)) => match server.connections.admit().await {
                Some(slot) => {
                    tokio::spawn(serve_connection(Arc::clone(&server), stream, slot));
                }
                None => {
                    refuse(stream);
                    refusals.note("the connection cap is reached: closing new connections at once");
                }
            },
            Err(e) if out_of_descriptors(&e) => {
                server.connections.count_refused();
                refusals.note("out of file descriptors: closing new connections at once");
                drop(spare.take());
                let pending =
                    std::future::poll_fn(|cx| Poll::Ready(listener.poll_accept(cx))).await;
                if let Poll::Ready(Ok((stream, _))) = pending {
                    refuse(stream);
                }
                spare = open_spare();
                if spare.is_none() {
                    // No descriptor to spare at all: wait for one to free up.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
            // The client went away before it was accepted, and the like.
            Err(e) => tracing::debug!(error = %e, "accept failed"),
        }
    }
}

/// Closes a refused connection at once, with [`CAP_REFUSAL`] if the socket
/// takes it without waiting.
fn refuse(stream: TcpStream) {
    let _ = stream.try_write(CAP_REFUSAL);
}

fn open_spare() -> Option<std::fs::File> {
    std::fs::File::open("/dev/null").ok()
}

fn out_of_descriptors(e: &io::Error) -> bool {
    // EMFILE, ENFILE (Linux numbers; other errors only differ in the message).
    #[cfg(unix)]
    {
        if matches!(e.raw_os_error(), Some(24 | 23)) {
            return true;
        }
    }
    matches!(e.kind(), io::ErrorKind::OutOfMemory)
}

/// Logs refused connections at most once per [`REFUSAL_LOG_INTERVAL`], with
/// how many there were.
#[derive(Default)]
struct RefusalLog {
    last: Option<tokio::time::Instant>,
    since: u64,
}

impl RefusalLog {
    fn note(&mut self, what: &str) {
        self.since += 1;
        let now = tokio::time::Instant::now();
        if self.last.is_none_or(|at| now - at >= REFUSAL_LOG_INTERVAL) {
            tracing::warn!(refused = self.since, "{what}");
            self.last = Some(now);
            self.since = 0;
        }
    }
}

/// Serves one connection until it ends, is closed for being idle (or to make
/// room at the cap), or the server shuts down.
async fn serve_connection(server: Arc<ConnectionServer>, stream: TcpStream, slot: Slot) {
    let _ = stream.set_nodelay(true);
    let local = stream.local_addr().ok();
    let conn = Arc::clone(slot.connection());
    let state = Arc::clone(&server.state);
    let requests = Arc::clone(&conn);
    let service = service_fn(move |req| {
        let busy = requests.busy();
        let state = Arc::clone(&state);
        async move {
            let response = api::handle(state, local, req).await;
            response.map(|r| r.map(|body| ConnectionBody { body, _busy: busy }))
        }
    });
    let connection = server
        .builder
        .serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    let close = conn.close_reason(server.header_read_timeout, server.idle_timeout);
    tokio::pin!(close);
    let mut closing = false;
    let mut close_deadline = None;
    loop {
        let grace = async {
            match close_deadline {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = connection.as_mut() => break,
            () = server.force_close.cancelled() => break,
            () = grace => break,
            () = server.drain.cancelled(), if !closing => {
                connection.as_mut().graceful_shutdown();
                closing = true;
            }
            reason = &mut close, if !closing => {
                if reason != CloseReason::Evicted {
                    server.connections.count_timed_out();
                }
                if reason != CloseReason::Idle {
                    // Nothing was asked, or nothing is in flight and the slot
                    // is wanted now: nothing to finish.
                    break;
                }
                connection.as_mut().graceful_shutdown();
                closing = true;
                close_deadline = Some(tokio::time::Instant::now() + CLOSE_GRACE);
            }
        }
    }
    drop(slot);
}

/// A response body that keeps its request counted as in flight on its
/// connection until the body is finished or dropped.
struct ConnectionBody {
    body: Body,
    _busy: Busy,
}

impl hyper::body::Body for ConnectionBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

fn resolve_token(source: &TokenSource) -> Result<String, StartError> {
    match source {
        TokenSource::Generate => Ok(random::token()?),
        TokenSource::Given(token) => checked_token(token.clone()),
        TokenSource::File(path) => token_from_file(path),
    }
}

fn checked_token(token: String) -> Result<String, StartError> {
    let ok = (16..=256).contains(&token.len())
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~'));
    if ok {
        Ok(token)
    } else {
        Err(StartError::BadToken)
    }
}

fn token_from_file(path: &Path) -> Result<String, StartError> {
    let err = |source| StartError::TokenFile {
        path: path.display().to_string(),
        source,
    };
    match std::fs::read_to_string(path) {
        Ok(text) => checked_token(text.trim().to_owned()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let token = random::token()?;
            write_private(path, &token).map_err(err)?;
            Ok(token)
        }
        Err(e) => Err(err(e)),
    }
}

fn write_private(path: &Path, text: &str) -> io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(text.as_bytes())?;
    file.write_all(b"\n")?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_refusal_is_a_complete_json_503() {
        let text = std::str::from_utf8(CAP_REFUSAL).expect("text");
        let (head, body) = text.split_once("\r\n\r\n").expect("a head and a body");
        assert!(head.starts_with("HTTP/1.1 503 "));
        assert!(head.contains(&format!("content-length: {}", body.len())));
        let v: serde_json::Value = serde_json::from_str(body).expect("JSON");
        assert!(v["error"].is_string());
    }
}
