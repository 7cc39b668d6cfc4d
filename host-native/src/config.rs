//! Every setting of the server, with the documented defaults, and the clap
//! arguments (flags and `TIDINGS_*` variables) they are read from.
//!
//! [`Config`] is what the library takes (tests build one with tiny intervals);
//! [`ServeArgs`] is what `tidings serve` parses. Both share the default
//! constants below, so `--help`, `Config::default()` and the README agree.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

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
/// How often the task reconciler runs.
pub const DEFAULT_RECONCILE_INTERVAL: Duration = Duration::from_secs(2);
/// No output for this long means `waiting-for-input`.
pub const DEFAULT_IDLE_THRESHOLD: Duration = Duration::from_secs(90);

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
    /// Largest accepted request body, in bytes.
    pub max_body: usize,
    /// Deadline for a client to send its request headers (slow-loris guard).
    pub header_read_timeout: Duration,
    /// Task reconcile loop interval.
    pub reconcile_interval: Duration,
    /// Task idle threshold.
    pub idle_threshold: Duration,
    /// The shell of `POST /api/tasks/terminal`; `None` uses `$SHELL`, then `/bin/sh`.
    pub shell: Option<String>,
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
            max_body: DEFAULT_MAX_BODY,
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            reconcile_interval: DEFAULT_RECONCILE_INTERVAL,
            idle_threshold: DEFAULT_IDLE_THRESHOLD,
            shell: None,
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
    /// Largest request body in bytes; larger gets 413.
    #[arg(long, env = "TIDINGS_MAX_BODY", default_value_t = DEFAULT_MAX_BODY)]
    pub max_body: usize,
    /// Time a client has to send its request headers.
    #[arg(long, env = "TIDINGS_HEADER_READ_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub header_read_timeout: Duration,
    /// How often live tasks are reconciled.
    #[arg(long, env = "TIDINGS_RECONCILE_INTERVAL", default_value = "2s", value_parser = parse_duration)]
    pub reconcile_interval: Duration,
    /// No output for this long marks a task waiting-for-input.
    #[arg(long, env = "TIDINGS_IDLE_THRESHOLD", default_value = "90s", value_parser = parse_duration)]
    pub idle_threshold: Duration,
    /// Shell for terminal tasks [default: $SHELL, else /bin/sh].
    #[arg(long, env = "TIDINGS_SHELL")]
    pub shell: Option<String>,
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
            max_body: args.max_body,
            header_read_timeout: args.header_read_timeout,
            reconcile_interval: args.reconcile_interval,
            idle_threshold: args.idle_threshold,
            shell: args.shell,
        }
    }
}

/// Reads `--history-bytes`: a number of bytes between
/// [`MIN_HISTORY_BYTES`] and [`MAX_HISTORY_BYTES`].
pub fn parse_history_bytes(text: &str) -> Result<usize, String> {
    let n: usize = text
        .trim()
        .parse()
        .map_err(|_| format!("invalid byte count {text:?}: use a whole number of bytes"))?;
    if !(MIN_HISTORY_BYTES..=MAX_HISTORY_BYTES).contains(&n) {
        return Err(format!(
            "{n} bytes is outside {MIN_HISTORY_BYTES}..={MAX_HISTORY_BYTES} (64 KiB to 1 TiB)"
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
    fn history_bytes_must_be_a_sane_budget() {
        assert_eq!(parse_history_bytes("67108864"), Ok(64 << 20));
        assert_eq!(parse_history_bytes("65536"), Ok(64 * 1024));
        for bad in ["0", "65535", "1099511627777", "-1", "64MiB", "", "1e9"] {
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
        assert_eq!(from_flags.header_read_timeout, defaults.header_read_timeout);
        assert_eq!(from_flags.reconcile_interval, defaults.reconcile_interval);
        assert_eq!(from_flags.idle_threshold, defaults.idle_threshold);
    }
}
