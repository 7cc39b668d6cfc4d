//! Starting and stopping the server: the library entry points.

use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use broker_core::{BrokerConfig, Epoch};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::{TcpListener, TcpSocket};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::api::{self, State};
use crate::auth::Auth;
use crate::config::{Config, TokenSource};
use crate::hub::Hub;
use crate::random::{self, RandomError};
use crate::static_files::StaticFiles;
use crate::stream::{StreamOptions, StreamSettings};
use crate::tasks::{self, TaskConfig, TaskError, TaskManager};

/// How long shutdown waits for connections to finish on their own (after
/// every stream got `end`) before dropping them: well inside the 5 s promise.
const GRACE: Duration = Duration::from_millis(2500);

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
    /// The data directory could not be created or read.
    #[error("data directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: String,
        /// What failed.
        source: io::Error,
    },
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
    stop_accepting: CancellationToken,
    accept_loop: JoinHandle<GracefulShutdown>,
    force_close: CancellationToken,
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
        match self.accept_loop.await {
            Ok(graceful) => {
                if tokio::time::timeout(GRACE, graceful.shutdown())
                    .await
                    .is_err()
                {
                    tracing::warn!("connections still open after {GRACE:?}: dropping them");
                }
            }
            Err(e) => tracing::error!(error = %e, "the accept loop failed"),
        }
        self.force_close.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(1), self.tasks.shutdown()).await;
    }
}

/// Starts everything inside the caller's tokio runtime and returns as soon
/// as the socket is bound.
pub async fn start(config: Config) -> Result<Running, StartError> {
    if config.no_auth && !config.addr.ip().is_loopback() {
        return Err(StartError::NoAuthNonLoopback(config.addr));
    }
    let token = if config.no_auth {
        String::new()
    } else {
        resolve_token(&config.token)?
    };
    std::fs::create_dir_all(&config.data_dir).map_err(|source| StartError::DataDir {
        path: config.data_dir.display().to_string(),
        source,
    })?;
    let loaded = tasks::load(&config.data_dir)?;
    let epoch = Epoch::new(random::os_u64()?);
    let hub = Hub::new(
        epoch,
        loaded.max_version() + 1,
        BrokerConfig {
            history: config.history,
            queue: config.queue,
            history_bytes: config.history_bytes,
            ..BrokerConfig::default()
        },
    );
    let listener = bind(config.addr)?;
    let addr = listener.local_addr().map_err(|source| StartError::Bind {
        addr: config.addr,
        source,
    })?;
    let task_manager = TaskManager::start(
        loaded,
        hub.clone(),
        TaskConfig {
            data_dir: config.data_dir.clone(),
            reconcile_interval: config.reconcile_interval,
            idle_threshold: config.idle_threshold,
            shell: config.shell.clone(),
        },
    );
    let state = Arc::new(State {
        hub: hub.clone(),
        tasks: task_manager.clone(),
        auth: Auth::new((!config.no_auth).then(|| token.clone()), addr.port()),
        files: StaticFiles::new(config.www.as_deref()),
        streams: Arc::new(StreamSettings::new(StreamOptions {
            retry: config.retry,
            heartbeat: config.heartbeat,
            lifetime: config.stream_lifetime,
            max_streams: config.max_streams,
        })?),
        max_body: config.max_body,
    });
    if config.www.is_some() && state.files.root().is_none() {
        tracing::warn!(www = ?config.www, "the static folder does not exist: serving no files");
    }
    let stop_accepting = CancellationToken::new();
    let force_close = CancellationToken::new();
    let accept_loop = tokio::spawn(accept_loop(
        listener,
        state,
        config.header_read_timeout,
        stop_accepting.clone(),
        force_close.clone(),
    ));
    Ok(Running {
        addr,
        token,
        hub,
        tasks: task_manager,
        stop_accepting,
        accept_loop,
        force_close,
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

async fn accept_loop(
    listener: TcpListener,
    state: Arc<State>,
    header_read_timeout: Duration,
    stop: CancellationToken,
    force_close: CancellationToken,
) -> GracefulShutdown {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout)
        // hyper's smallest buffer cap: a stream's connection then keeps one
        // 8 KiB read buffer instead of growing it to 16 KiB after the
        // request head (~6 KiB less per open stream), and its write queue
        // stays short, so a stalled client lags in the broker (where it is
        // counted) rather than in hyper. Request heads are limited to 8 KiB.
        .max_buf_size(8192);
    builder.http2().timer(TokioTimer::new());
    let graceful = GracefulShutdown::new();
    loop {
        let accepted = tokio::select! {
            () = stop.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of file descriptors and the like: back off briefly
                // instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let state = Arc::clone(&state);
        // hyper's header timeout starts once it knows the protocol; a client
        // that sends nothing (or a stalled HTTP/2 preface) is cut off here
        // unless its first request arrives within the same deadline.
        let first_request = Arc::new(AtomicBool::new(false));
        let seen = Arc::clone(&first_request);
        let service = service_fn(move |req| {
            seen.store(true, Ordering::Relaxed);
            api::handle(Arc::clone(&state), req)
        });
        let connection = builder
            .serve_connection(TokioIo::new(stream), service)
            .into_owned();
        let connection = graceful.watch(connection);
        let force_close = force_close.clone();
        tokio::spawn(async move {
            let first_deadline = async {
                tokio::time::sleep(header_read_timeout).await;
                if first_request.load(Ordering::Relaxed) {
                    std::future::pending::<()>().await;
                }
            };
            tokio::select! {
                _ = connection => {}
                () = force_close.cancelled() => {}
                () = first_deadline => {}
            }
        });
    }
    graceful
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
