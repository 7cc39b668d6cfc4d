//! Every setting of the server, with the documented defaults, and the clap
//! arguments (flags and `TIDINGS_*` variables) they are read from.
//!
//! [`Config`] is what the library takes (tests build one with tiny intervals);
//! [`ServeArgs`] is what `tidings serve` parses. Both share the default
//! constants below, so `--help`, `Config::default()` and the README agree.
//! [`Config::validate`] refuses zero or absurd values, one line per setting.
//!
//! Adding a setting: a `DEFAULT_*` constant, a field of [`Config`] (and its
//! `Default`), a flag of [`ServeArgs`] (and its line in `From<ServeArgs>`), a
//! line in [`Config::validate`], and a row in host-native/README.md.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::allowed_hosts::AllowedHost;
use crate::validation::{hours, ms, Checks, ConfigError, MIB};

/// `127.0.0.1:7171`: loopback only, so nothing is exposed by default.
pub const DEFAULT_ADDR: &str = "127.0.0.1:7171";
/// The data directory, relative to the working directory.
pub const DEFAULT_DATA_DIR: &str = ".tidings";
/// The reconnect delay the stream advertises with `retry:`.
pub const DEFAULT_RETRY: Duration = Duration::from_millis(2000);
/// A keep-alive comment after this long without any other frame.
pub const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(15);
/// A stream ends with `end{max-lifetime}` after this long (minus up to 10%).
pub const DEFAULT_STREAM_LIFETIME: Duration = Duration::from_secs(1800);
/// Events kept for resume.
pub const DEFAULT_HISTORY: usize = 4096;
/// Bytes of encoded frames kept for resume (64 MiB).
pub const DEFAULT_HISTORY_BYTES: usize = broker_core::DEFAULT_HISTORY_BYTES;
/// `--history-bytes` below this could not hold one event of the largest
/// size the API accepts (64 KiB).
pub const MIN_HISTORY_BYTES: usize = 64 * 1024;
/// `--history-bytes` above this (1 TiB) is a typo, not a budget.
pub const MAX_HISTORY_BYTES: usize = 1 << 40;
/// How far a subscriber may fall behind before it is told `lagged`.
pub const DEFAULT_QUEUE: usize = 256;
/// Open streams at most; more get `503` with `Retry-After`.
pub const DEFAULT_MAX_STREAMS: usize = 10_000;
/// Request bodies larger than this get `413`.
pub const DEFAULT_MAX_BODY: usize = 64 * 1024;
/// A client must send its request headers within this long.
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// A request body must arrive completely within this long (`408` otherwise).
pub const DEFAULT_BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// A connection with nothing in flight for this long is closed.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Published events whose encoded SSE frame is larger than this get `413`.
pub const DEFAULT_MAX_EVENT_BYTES: usize = 64 * 1024;
/// How often the task reconciler runs.
pub const DEFAULT_RECONCILE_INTERVAL: Duration = Duration::from_secs(2);
/// No output for this long means `waiting-for-input`.
pub const DEFAULT_IDLE_THRESHOLD: Duration = Duration::from_secs(90);
/// The most output bytes one task's log keeps (the newest).
pub const DEFAULT_TASK_LOG_MAX: u64 = crate::tasks::DEFAULT_TASK_LOG_MAX;
/// The largest `--task-log-max` accepted (1 TiB).
pub const MAX_TASK_LOG_MAX: u64 = 1 << 40;
/// The most tasks alive at once; more get `429`.
pub const DEFAULT_MAX_LIVE_TASKS: usize = crate::tasks::DEFAULT_MAX_LIVE_TASKS;
/// The largest `--max-live-tasks` accepted (each live task holds 4
/// descriptors and 2 threads).
pub const MAX_MAX_LIVE_TASKS: usize = 100_000;
/// Finished tasks kept; older ones are removed and announced as `task.removed`.
pub const DEFAULT_KEEP_FINISHED: usize = crate::tasks::DEFAULT_KEEP_FINISHED;
/// The largest `--keep-finished` accepted.
pub const MAX_KEEP_FINISHED: usize = 10_000_000;

/// Everything the server needs to start. `Default` gives the documented
/// defaults (with a fresh random token and the default `www/`).
#[derive(Clone, Debug)]
pub struct Config {
    /// Where to listen; port 0 picks a free port (see `Running::addr`).
    pub addr: SocketAddr,
    /// Where tasks and their logs are kept.
    pub data_dir: PathBuf,
    /// How the access token is obtained.
    pub token: TokenSource,
    /// Serve without any credentials. Only allowed on a loopback address.
    pub no_auth: bool,
    /// The folder of static files served at `/`; `None` serves none.
    pub www: Option<PathBuf>,

    // The stream and the broker.
    /// The `retry:` the stream advertises.
    pub retry: Duration,
    /// Keep-alive comment interval on an idle stream.
    pub heartbeat: Duration,
    /// Maximum life of one stream (up to 10% less, at random).
    pub stream_lifetime: Duration,
    /// Events kept for resume.
    pub history: usize,
    /// Bytes of encoded frames kept for resume (the oldest go first).
    pub history_bytes: usize,
    /// Events a subscriber may lag before `lagged`.
    pub queue: usize,
    /// Open streams at most.
    pub max_streams: usize,
    /// Largest encoded SSE frame of an event published through the API.
    pub max_event_bytes: usize,

    // Connections and requests.
    /// Open connections at most; `None` derives the cap from the open-files
    /// limit (raised to its hard limit at start), keeping a reserve.
    pub max_connections: Option<usize>,
    /// A connection with nothing in flight this long is closed.
    pub idle_timeout: Duration,
    /// Names the server answers to besides the loopback names and the bound
    /// address (DNS-rebinding guard).
    pub allowed_hosts: Vec<AllowedHost>,
    /// Largest accepted request body, in bytes.
    pub max_body: usize,
    /// Deadline for a client to send its request headers (slow-loris guard).
    pub header_read_timeout: Duration,
    /// Deadline for a request body to arrive completely.
    pub body_read_timeout: Duration,

    // Tasks.
    /// Task reconcile loop interval.
    pub reconcile_interval: Duration,
    /// Task idle threshold.
    pub idle_threshold: Duration,
    /// The shell of `POST /api/tasks/terminal`; `None` uses `$SHELL`, then `/bin/sh`.
    pub shell: Option<String>,
    /// The most output bytes a task's log keeps (the newest).
    pub task_log_max: u64,
    /// Bytes per second a task's terminal is read at most (0: no limit).
    pub task_output_rate: u64,
    /// The most live tasks; more get `429`.
    pub max_live_tasks: usize,
    /// Finished tasks kept (oldest removed first, announced as `task.removed`).
    pub keep_finished: usize,
}

/// Where the access token comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenSource {
    /// Draw a new one from the OS at every start.
    Generate,
    /// Use this one.
    Given(String),
    /// Read it from this file; when the file does not exist, generate one and
    /// write it there (mode 0600), so the URL stays the same across restarts.
    File(PathBuf),
}

impl Default for Config {
    fn default() -> Self {
        Config {
            addr: SocketAddr::from(([127, 0, 0, 1], 7171)),
            data_dir: PathBuf::from(DEFAULT_DATA_DIR),
            token: TokenSource::Generate,
            no_auth: false,
            www: default_www(),
            retry: DEFAULT_RETRY,
            heartbeat: DEFAULT_HEARTBEAT,
            stream_lifetime: DEFAULT_STREAM_LIFETIME,
            history: DEFAULT_HISTORY,
            history_bytes: DEFAULT_HISTORY_BYTES,
            queue: DEFAULT_QUEUE,
            max_streams: DEFAULT_MAX_STREAMS,
            max_event_bytes: DEFAULT_MAX_EVENT_BYTES,
            max_connections: None,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            allowed_hosts: Vec::new(),
            max_body: DEFAULT_MAX_BODY,
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            body_read_timeout: DEFAULT_BODY_READ_TIMEOUT,
            reconcile_interval: DEFAULT_RECONCILE_INTERVAL,
            idle_threshold: DEFAULT_IDLE_THRESHOLD,
            shell: None,
            task_log_max: DEFAULT_TASK_LOG_MAX,
            task_output_rate: broker_core::output::DEFAULT_OUTPUT_RATE,
            max_live_tasks: DEFAULT_MAX_LIVE_TASKS,
            keep_finished: DEFAULT_KEEP_FINISHED,
        }
    }
}

/// The dashboard folder when none is given: `www` in the working directory
/// when it exists (running from a checkout), else the `www` folder of the
/// workspace this binary was built from.
pub fn default_www() -> Option<PathBuf> {
    let local = PathBuf::from("www");
    if local.is_dir() {
        return Some(local);
    }
    let built = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("www");
    built.is_dir().then_some(built)
}

/// `tidings serve`: every setting as a flag and a `TIDINGS_*` variable.
#[derive(Clone, Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on. A non-loopback address exposes the API to the
    /// network (it still needs the token).
    #[arg(long, env = "TIDINGS_ADDR", default_value = DEFAULT_ADDR)]
    pub addr: SocketAddr,
    /// Data directory (task records and logs).
    #[arg(long, env = "TIDINGS_DATA", default_value = DEFAULT_DATA_DIR)]
    pub data: PathBuf,
    /// Access token (default: a random one per start). Prefer --token-file or
    /// the variable: flags show up in the process list.
    #[arg(
        long,
        env = "TIDINGS_TOKEN",
        hide_env_values = true,
        conflicts_with = "token_file"
    )]
    pub token: Option<String>,
    /// File holding the access token; created with a random token (mode
    /// 0600) when missing.
    #[arg(long, env = "TIDINGS_TOKEN_FILE")]
    pub token_file: Option<PathBuf>,
    /// Serve without credentials. Dangerous: any local program and any web
    /// page you visit can then drive your tasks. Refused on a non-loopback
    /// address.
    #[arg(
        long,
        env = "TIDINGS_NO_AUTH",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub no_auth: bool,
    /// Folder of static files served at / [default: ./www, else the www/ of
    /// the source tree it was built from].
    #[arg(long, env = "TIDINGS_WWW")]
    pub www: Option<PathBuf>,
    /// Reconnect delay advertised to clients (`retry:`), e.g. 2000ms or 2s.
    #[arg(long, env = "TIDINGS_RETRY", default_value = "2000ms", value_parser = parse_duration)]
    pub retry: Duration,
    /// Keep-alive comment interval on idle streams.
    #[arg(long, env = "TIDINGS_HEARTBEAT", default_value = "15s", value_parser = parse_duration)]
    pub heartbeat: Duration,
    /// Maximum life of one stream; each stream ends up to 10% earlier, at random.
    #[arg(long, env = "TIDINGS_STREAM_LIFETIME", default_value = "1800s", value_parser = parse_duration)]
    pub stream_lifetime: Duration,
    /// Events kept for Last-Event-ID resume.
    #[arg(long, env = "TIDINGS_HISTORY", default_value_t = DEFAULT_HISTORY)]
    pub history: usize,
    /// Bytes of encoded frames kept for resume, besides the count (64 KiB to
    /// 1 TiB); the oldest events go first.
    #[arg(long, env = "TIDINGS_HISTORY_BYTES", default_value_t = DEFAULT_HISTORY_BYTES, value_parser = parse_history_bytes)]
    pub history_bytes: usize,
    /// Events one stream may fall behind before it gets `lagged`.
    #[arg(long, env = "TIDINGS_QUEUE", default_value_t = DEFAULT_QUEUE)]
    pub queue: usize,
    /// Open streams at most; more get 503 with Retry-After.
    #[arg(long, env = "TIDINGS_MAX_STREAMS", default_value_t = DEFAULT_MAX_STREAMS)]
    pub max_streams: usize,
    /// Largest encoded SSE frame of an event sent to POST /api/events
    /// (e.g. 65536 or 64KiB); larger gets 413.
    #[arg(long, env = "TIDINGS_MAX_EVENT_BYTES", default_value = "64KiB", value_parser = parse_bytes)]
    pub max_event_bytes: usize,
    /// Open connections at most; at the cap a new connection replaces the
    /// longest-idle one, or is closed at once [default: the open-files limit
    /// (raised to its hard limit at start) minus a reserve for tasks and
    /// persistence].
    #[arg(long, env = "TIDINGS_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
    /// Close a connection with nothing in flight after this long (an idle
    /// keep-alive connection, an HTTP/2 connection without an open stream).
    #[arg(long, env = "TIDINGS_IDLE_TIMEOUT", default_value = "60s", value_parser = parse_duration)]
    pub idle_timeout: Duration,
    /// Another name the server answers to (HOST or HOST:PORT; no port means
    /// any port). Repeatable; the variable takes a comma-separated list. The
    /// loopback names and the bound address on its port are always allowed;
    /// requests for any other Host get 421 (DNS-rebinding guard).
    #[arg(
        long = "allowed-host",
        env = "TIDINGS_ALLOWED_HOST",
        value_name = "HOST[:PORT]",
        value_delimiter = ','
    )]
    pub allowed_hosts: Vec<AllowedHost>,
    /// Largest request body (e.g. 65536 or 64KiB); larger gets 413.
    #[arg(long, env = "TIDINGS_MAX_BODY", default_value = "64KiB", value_parser = parse_bytes)]
    pub max_body: usize,
    /// Time a client has to send its request headers.
    #[arg(long, env = "TIDINGS_HEADER_READ_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub header_read_timeout: Duration,
    /// Time a client has to send a whole request body; later gets 408.
    #[arg(long, env = "TIDINGS_BODY_READ_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub body_read_timeout: Duration,
    /// How often live tasks are reconciled.
    #[arg(long, env = "TIDINGS_RECONCILE_INTERVAL", default_value = "2s", value_parser = parse_duration)]
    pub reconcile_interval: Duration,
    /// No output for this long marks a task waiting-for-input.
    #[arg(long, env = "TIDINGS_IDLE_THRESHOLD", default_value = "90s", value_parser = parse_duration)]
    pub idle_threshold: Duration,
    /// Shell for terminal tasks [default: $SHELL, else /bin/sh].
    #[arg(long, env = "TIDINGS_SHELL")]
    pub shell: Option<String>,
    /// Most bytes of output a task's log keeps (the newest; older output is
    /// dropped and the output API says from which offset the log starts).
    #[arg(long, env = "TIDINGS_TASK_LOG_MAX", value_name = "BYTES", default_value_t = DEFAULT_TASK_LOG_MAX,
          value_parser = clap::value_parser!(u64).range(crate::tasks::MIN_LOG_MAX..=MAX_TASK_LOG_MAX))]
    pub task_log_max: u64,
    /// Most bytes a second read from a task's terminal (KiB, MiB units; 0
    /// for no limit). A program printing faster waits in `write`, as on a
    /// slow terminal; bursts of up to 256 KiB pass at once.
    #[arg(long, env = "TIDINGS_TASK_OUTPUT_RATE", value_name = "BYTES", default_value = "1MiB",
          value_parser = parse_output_rate)]
    pub task_output_rate: u64,
    /// Most tasks alive at once; more get 429.
    #[arg(long, env = "TIDINGS_MAX_LIVE_TASKS", value_name = "N", default_value_t = DEFAULT_MAX_LIVE_TASKS,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=MAX_MAX_LIVE_TASKS as u64))]
    pub max_live_tasks: usize,
    /// Finished tasks kept; older ones are removed with their logs (oldest
    /// finished first) and announced as task.removed.
    #[arg(long, env = "TIDINGS_KEEP_FINISHED", value_name = "N", default_value_t = DEFAULT_KEEP_FINISHED,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(0..=MAX_KEEP_FINISHED as u64))]
    pub keep_finished: usize,
}

impl From<ServeArgs> for Config {
    fn from(args: ServeArgs) -> Self {
        let token = match (args.token, args.token_file) {
            (Some(token), _) => TokenSource::Given(token),
            (None, Some(file)) => TokenSource::File(file),
            (None, None) => TokenSource::Generate,
        };
        Config {
            addr: args.addr,
            data_dir: args.data,
            token,
            no_auth: args.no_auth,
            www: args.www.or_else(default_www),
            retry: args.retry,
            heartbeat: args.heartbeat,
            stream_lifetime: args.stream_lifetime,
            history: args.history,
            history_bytes: args.history_bytes,
            queue: args.queue,
            max_streams: args.max_streams,
            max_event_bytes: args.max_event_bytes,
            max_connections: args.max_connections,
            idle_timeout: args.idle_timeout,
            allowed_hosts: args.allowed_hosts,
            max_body: args.max_body,
            header_read_timeout: args.header_read_timeout,
            body_read_timeout: args.body_read_timeout,
            reconcile_interval: args.reconcile_interval,
            idle_threshold: args.idle_threshold,
            shell: args.shell,
            task_log_max: args.task_log_max,
            task_output_rate: args.task_output_rate,
            max_live_tasks: args.max_live_tasks,
            keep_finished: args.keep_finished,
        }
    }
}

impl Config {
    /// Refuses zero or absurd settings, naming each flag and its range.
    /// One line per setting: add yours here.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut c = Checks::new();
        c.duration("--retry", self.retry, ms(1), hours(1));
        c.duration("--heartbeat", self.heartbeat, ms(10), hours(1));
        c.duration(
            "--stream-lifetime",
            self.stream_lifetime,
            ms(100),
            hours(7 * 24),
        );
        c.count("--history", self.history as u64, 1, 10_000_000);
        c.bytes(
            "--history-bytes",
            self.history_bytes as u64,
            MIN_HISTORY_BYTES as u64,
            MAX_HISTORY_BYTES as u64,
        );
        c.count("--queue", self.queue as u64, 1, 1_000_000);
        c.count("--max-streams", self.max_streams as u64, 1, 10_000_000);
        c.bytes(
            "--max-event-bytes",
            self.max_event_bytes as u64,
            64,
            16 * MIB,
        );
        if let Some(n) = self.max_connections {
            c.count("--max-connections", n as u64, 1, 10_000_000);
        }
        c.duration("--idle-timeout", self.idle_timeout, ms(10), hours(24));
        c.bytes("--max-body", self.max_body as u64, 1, 16 * MIB);
        c.duration(
            "--header-read-timeout",
            self.header_read_timeout,
            ms(10),
            hours(1),
        );
        c.duration(
            "--body-read-timeout",
            self.body_read_timeout,
            ms(10),
            hours(1),
        );
        c.duration(
            "--reconcile-interval",
            self.reconcile_interval,
            ms(10),
            hours(1),
        );
        c.duration(
            "--idle-threshold",
            self.idle_threshold,
            ms(10),
            hours(7 * 24),
        );
        c.rule(
            self.shell.as_ref().is_none_or(|s| !s.trim().is_empty()),
            "--shell: must not be empty",
        );
        c.bytes(
            "--task-log-max",
            self.task_log_max,
            crate::tasks::MIN_LOG_MAX,
            MAX_TASK_LOG_MAX,
        );
        c.rule(
            self.task_output_rate == 0
                || (MIN_OUTPUT_RATE..=MAX_OUTPUT_RATE).contains(&self.task_output_rate),
            "--task-output-rate: 0 (no limit) or 1 KiB to 1 GiB a second",
        );
        c.count(
            "--max-live-tasks",
            self.max_live_tasks as u64,
            1,
            MAX_MAX_LIVE_TASKS as u64,
        );
        c.count(
            "--keep-finished",
            self.keep_finished as u64,
            0,
            MAX_KEEP_FINISHED as u64,
        );
        c.finish()
    }
}

/// Why a byte count could not be read.
#[derive(Debug, thiserror::Error)]
#[error("invalid size {0:?}: use a number of bytes, optionally with KiB, MiB or GiB (or k, M, G)")]
pub struct SizeError(String);

/// Reads `65536`, `64KiB` (or `64k`, `64K`), `8MiB` (`8M`), `1GiB` (`1G`):
/// binary multiples.
pub fn parse_bytes(text: &str) -> Result<usize, SizeError> {
    let text = text.trim();
    let err = || SizeError(text.to_owned());
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    let (number, unit) = text.split_at(digits);
    let n: u64 = number.parse().map_err(|_| err())?;
    let multiple: u64 = match unit.trim() {
        "" | "B" => 1,
        "k" | "K" | "KiB" => 1 << 10,
        "M" | "MiB" => 1 << 20,
        "G" | "GiB" => 1 << 30,
        _ => return Err(err()),
    };
    n.checked_mul(multiple)
        .and_then(|b| usize::try_from(b).ok())
        .ok_or_else(err)
}

/// Reads `--history-bytes`: a size (see [`parse_bytes`]) between
/// [`MIN_HISTORY_BYTES`] and [`MAX_HISTORY_BYTES`].
pub fn parse_history_bytes(text: &str) -> Result<usize, String> {
    let n = parse_bytes(text).map_err(|e| e.to_string())?;
    if !(MIN_HISTORY_BYTES..=MAX_HISTORY_BYTES).contains(&n) {
        return Err(format!(
            "{n} bytes is outside {MIN_HISTORY_BYTES}..={MAX_HISTORY_BYTES} (64 KiB to 1 TiB)"
        ));
    }
    Ok(n)
}

/// The slowest `--task-output-rate` accepted besides 0 (1 KiB/s).
pub const MIN_OUTPUT_RATE: u64 = 1024;
/// The fastest `--task-output-rate` accepted (1 GiB/s).
pub const MAX_OUTPUT_RATE: u64 = 1 << 30;

/// Reads `--task-output-rate`: 0, or a size (see [`parse_bytes`]) between
/// [`MIN_OUTPUT_RATE`] and [`MAX_OUTPUT_RATE`].
pub fn parse_output_rate(text: &str) -> Result<u64, String> {
    let n = parse_bytes(text).map_err(|e| e.to_string())? as u64;
    if n != 0 && !(MIN_OUTPUT_RATE..=MAX_OUTPUT_RATE).contains(&n) {
        return Err(format!(
            "{n} bytes a second is outside {MIN_OUTPUT_RATE}..={MAX_OUTPUT_RATE} (1 KiB to 1 GiB; 0 for no limit)"
        ));
    }
    Ok(n)
}

/// Why a duration setting could not be read.
#[derive(Debug, thiserror::Error)]
#[error("invalid duration {0:?}: use a number with ms, s, m or h (a bare number is seconds)")]
pub struct DurationError(String);

/// Reads `500ms`, `15s`, `2m`, `1h` or a bare number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    let text = text.trim();
    let err = || DurationError(text.to_owned());
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    let (number, unit) = text.split_at(digits);
    let n: u64 = number.parse().map_err(|_| err())?;
    let ms = match unit.trim() {
        "ms" => Some(n),
        "" | "s" => n.checked_mul(1000),
        "m" => n.checked_mul(60_000),
        "h" => n.checked_mul(3_600_000),
        _ => None,
    }
    .ok_or_else(err)?;
    Ok(Duration::from_millis(ms))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        serve: ServeArgs,
    }

    #[test]
    fn durations_take_units_and_bare_seconds() {
        assert_eq!(
            parse_duration("500ms").ok(),
            Some(Duration::from_millis(500))
        );
        assert_eq!(parse_duration("15").ok(), Some(Duration::from_secs(15)));
        assert_eq!(parse_duration("2m").ok(), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h").ok(), Some(Duration::from_secs(3600)));
        for bad in ["", "s", "1.5s", "-1", "3d", "99999999999999999999h"] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn sizes_take_binary_units() {
        assert_eq!(parse_bytes("65536").ok(), Some(65536));
        assert_eq!(parse_bytes("64KiB").ok(), Some(65536));
        assert_eq!(parse_bytes("64k").ok(), Some(65536));
        assert_eq!(parse_bytes("8M").ok(), Some(8 << 20));
        assert_eq!(parse_bytes("1GiB").ok(), Some(1 << 30));
        for bad in ["", "k", "1.5M", "-1", "3T", "99999999999999999999G", "64kb"] {
            assert!(parse_bytes(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_defaults_pass_validation_and_zeros_do_not() {
        assert_eq!(Config::default().validate(), Ok(()));
        let zero = Config {
            heartbeat: Duration::ZERO,
            reconcile_interval: Duration::ZERO,
            header_read_timeout: Duration::ZERO,
            max_body: 0,
            ..Config::default()
        };
        let err = zero.validate().expect_err("refused");
        assert_eq!(err.problems.len(), 4, "{err}");
        for flag in [
            "--heartbeat 0ms",
            "--reconcile-interval 0ms",
            "--header-read-timeout 0ms",
            "--max-body 0 bytes",
        ] {
            assert!(err.to_string().contains(flag), "{err} lacks {flag}");
        }
    }

    #[test]
    fn allowed_hosts_repeat_and_are_checked_when_parsed() {
        let parsed = Cli::try_parse_from([
            "tidings",
            "--allowed-host",
            "dash.example",
            "--allowed-host",
            "proxy.example:8443",
        ])
        .expect("parses");
        let shown: Vec<String> = parsed
            .serve
            .allowed_hosts
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(shown, ["dash.example", "proxy.example:8443"]);
        assert!(Cli::try_parse_from(["tidings", "--allowed-host", "a b"]).is_err());
    }

    #[test]
    fn output_rate_is_zero_or_a_sane_rate() {
        assert_eq!(parse_output_rate("0"), Ok(0));
        assert_eq!(parse_output_rate("1MiB"), Ok(1 << 20));
        assert_eq!(parse_output_rate("1024"), Ok(1024));
        for bad in ["1023", "2GiB", "fast", "-1", ""] {
            assert!(parse_output_rate(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn history_bytes_must_be_a_sane_budget() {
        assert_eq!(parse_history_bytes("67108864"), Ok(64 << 20));
        assert_eq!(parse_history_bytes("65536"), Ok(64 * 1024));
        assert_eq!(parse_history_bytes("64MiB"), Ok(64 << 20));
        for bad in ["0", "65535", "1099511627777", "-1", "", "1e9"] {
            assert!(parse_history_bytes(bad).is_err(), "{bad:?}");
        }
        let zero = Cli::try_parse_from(["tidings", "--history-bytes", "0"]);
        assert!(zero.is_err(), "clap refuses it (exit code 2)");
    }

    #[test]
    fn flag_defaults_match_config_defaults() {
        let parsed = Cli::try_parse_from(["tidings"]).expect("defaults parse");
        let from_flags = Config::from(parsed.serve);
        let defaults = Config::default();
        // The environment of the test runner could set TIDINGS_*; compare
        // only when it does not.
        if std::env::vars().any(|(k, _)| k.starts_with("TIDINGS_")) {
            return;
        }
        assert_eq!(from_flags.addr, defaults.addr);
        assert_eq!(from_flags.data_dir, defaults.data_dir);
        assert_eq!(from_flags.token, TokenSource::Generate);
        assert_eq!(from_flags.retry, defaults.retry);
        assert_eq!(from_flags.heartbeat, defaults.heartbeat);
        assert_eq!(from_flags.stream_lifetime, defaults.stream_lifetime);
        assert_eq!(from_flags.history, defaults.history);
        assert_eq!(from_flags.history_bytes, defaults.history_bytes);
        assert_eq!(from_flags.queue, defaults.queue);
        assert_eq!(from_flags.max_streams, defaults.max_streams);
        assert_eq!(from_flags.max_body, defaults.max_body);
        assert_eq!(from_flags.max_event_bytes, defaults.max_event_bytes);
        assert_eq!(from_flags.max_connections, defaults.max_connections);
        assert_eq!(from_flags.idle_timeout, defaults.idle_timeout);
        assert_eq!(from_flags.allowed_hosts, defaults.allowed_hosts);
        assert_eq!(from_flags.header_read_timeout, defaults.header_read_timeout);
        assert_eq!(from_flags.body_read_timeout, defaults.body_read_timeout);
        assert_eq!(from_flags.reconcile_interval, defaults.reconcile_interval);
        assert_eq!(from_flags.idle_threshold, defaults.idle_threshold);
        assert_eq!(from_flags.task_log_max, defaults.task_log_max);
        assert_eq!(from_flags.max_live_tasks, defaults.max_live_tasks);
        assert_eq!(from_flags.keep_finished, defaults.keep_finished);
    }

    #[test]
    fn task_limits_out_of_range_are_refused() {
        for bad in [
            ["--task-log-max", "0"],
            ["--task-log-max", "1023"],
            ["--max-live-tasks", "0"],
            ["--max-live-tasks", "100001"],
            ["--keep-finished", "-1"],
        ] {
            let parsed = Cli::try_parse_from(["tidings", bad[0], bad[1]]);
            assert!(parsed.is_err(), "{bad:?}");
        }
        let ok = Cli::try_parse_from([
            "tidings",
            "--task-log-max",
            "4096",
            "--max-live-tasks",
            "3",
            "--keep-finished",
            "0",
        ])
        .expect("parses");
        let config = Config::from(ok.serve);
        assert_eq!(
            (
                config.task_log_max,
                config.max_live_tasks,
                config.keep_finished
            ),
            (4096, 3, 0)
        );
    }
}
