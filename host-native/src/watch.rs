//! `tidings watch URL`: a native client of the stream, driven by the core's
//! client state machine (reconnect with backoff, resume from the id of the
//! last event it printed, list again on `lagged` or a failed resume, a
//! watchdog on the server's `heartbeat_ms`). Prints each delivered event as
//! one JSON line on stdout and status changes on stderr. A list only tells
//! the machine where a client with no id of that epoch starts: it never moves
//! the resume point past events still in the server's history.

use std::time::Duration;

use broker_core::client::stream_input;
use broker_core::sse::{Parser, ParserConfig, SseItem};
use broker_core::{
    ClientConfig, ClientMachine, EventId, Failure, Input, Message, Output, Status, Timestamp,
};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use hyper::{Request, Uri};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// `tidings watch` arguments.
#[derive(Clone, Debug, clap::Args)]
pub struct WatchArgs {
    /// The server: `http://127.0.0.1:7171`, or the dashboard URL `serve`
    /// prints (its `?token=` is used).
    pub url: String,
    /// The access token (else the URL's `token=`).
    #[arg(long, env = "TIDINGS_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Only these event types (comma separated; `prefix.*` allowed).
    #[arg(long)]
    pub types: Option<String>,
    /// Only events of this task.
    #[arg(long)]
    pub task: Option<String>,
}

type HttpClient = Client<HttpConnector, Empty<Bytes>>;

/// What the connection and list tasks report to the driver loop.
enum Report {
    /// An input for the machine from the connection of this generation.
    Stream(u64, Input),
    /// A message from the connection of this generation: its typed input is
    /// fed, and its payload printed if the machine delivers it.
    Message(u64, Message),
    /// The list of this generation answered (or failed).
    List(u64, Input),
}

struct Target {
    base: String,
    token: Option<String>,
    query: String,
}

impl Target {
    fn parse(args: &WatchArgs) -> Result<Target, String> {
        let uri: Uri = args
            .url
            .parse()
            .map_err(|e| format!("bad URL {:?}: {e}", args.url))?;
        if uri.scheme_str() != Some("http") {
            return Err("only http:// URLs are supported".into());
        }
        let authority = uri.authority().ok_or("the URL has no host")?;
        let url_token = crate::router::query_pairs(uri.query().unwrap_or(""))
            .find(|(k, _)| k == "token")
            .map(|(_, v)| v.into_owned());
        // Heartbeats as events: the same stream a browser reads.
        let mut query = vec!["heartbeat=event".to_owned()];
        if let Some(types) = &args.types {
            query.push(format!("types={}", encode(types)));
        }
        if let Some(task) = &args.task {
            query.push(format!("task={}", encode(task)));
        }
        Ok(Target {
            base: format!("http://{authority}"),
            token: args.token.clone().or(url_token),
            query: format!("?{}", query.join("&")),
        })
    }

    fn request(
        &self,
        path: &str,
        last_event_id: Option<EventId>,
    ) -> Result<Request<Empty<Bytes>>, String> {
        let mut builder = Request::get(format!("{}{path}", self.base));
        if let Some(token) = &self.token {
            builder = builder.header(AUTHORIZATION, format!("Bearer {token}"));
        }
        if let Some(id) = last_event_id {
            builder = builder.header("last-event-id", id.to_string());
        }
        builder.body(Empty::new()).map_err(|e| e.to_string())
    }
}

fn encode(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// Runs until the server refuses the credentials or the stream is gone for
/// good (returns an error), or Ctrl-C (returns Ok).
pub async fn run(args: WatchArgs) -> Result<(), String> {
    let target = std::sync::Arc::new(Target::parse(&args)?);
    let client: HttpClient = Client::builder(TokioExecutor::new()).build_http();
    let started = Instant::now();
    let now =
        || Timestamp::from_millis(u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX));
    let seed = crate::random::os_u64().map_err(|e| e.to_string())?;
    let mut machine = ClientMachine::new(ClientConfig::default(), seed);
    let (tx, mut rx) = mpsc::unbounded_channel::<Report>();
    let mut generation = 0u64;
    let mut connection: Option<JoinHandle<()>> = None;
    let mut list_generation = 0u64;
    let mut listing: Option<JoinHandle<()>> = None;
    machine.handle_input(Input::Start, now());
    // The message whose input was just fed: `Deliver` prints it.
    let mut fed: Option<Message> = None;
    loop {
        while let Some(output) = machine.poll_output() {
            match output {
                Output::Open { last_event_id } => {
                    if let Some(old) = connection.take() {
                        old.abort();
                    }
                    generation += 1;
                    connection = Some(tokio::spawn(connect(
                        client.clone(),
                        std::sync::Arc::clone(&target),
                        last_event_id,
                        generation,
                        tx.clone(),
                    )));
                }
                Output::Close => {
                    if let Some(old) = connection.take() {
                        old.abort();
                    }
                    generation += 1;
                }
                Output::List(reason) => {
                    eprintln!("tidings watch: listing tasks ({})", reason.as_str());
                    if let Some(old) = listing.take() {
                        old.abort();
                    }
                    list_generation += 1;
                    listing = Some(tokio::spawn(list(
                        client.clone(),
                        std::sync::Arc::clone(&target),
                        list_generation,
                        tx.clone(),
                    )));
                }
                Output::AbandonList => {
                    eprintln!("tidings watch: the list did not answer in time");
                    if let Some(old) = listing.take() {
                        old.abort();
                    }
                    list_generation += 1;
                }
                Output::Deliver { .. } => {
                    if let Some(message) = fed.take() {
                        print_event(&message);
                    }
                }
                Output::Status(report) => {
                    eprintln!(
                        "tidings watch: {} ({})",
                        report.status.as_str(),
                        report.reason
                    );
                    match report.status {
                        Status::Unauthorized => return Err("the server refused the token".into()),
                        Status::Closed => {
                            return Err(format!("the stream is closed: {}", report.reason))
                        }
                        _ => {}
                    }
                }
            }
        }
        fed = None;
        let deadline = machine
            .poll_timeout()
            .map(|at| started + Duration::from_millis(at.as_millis()));
        tokio::select! {
            report = rx.recv() => match report {
                Some(Report::Stream(g, input)) if g == generation => machine.handle_input(input, now()),
                Some(Report::Message(g, message)) if g == generation => {
                    let input = stream_input(&message);
                    fed = Some(message);
                    machine.handle_input(input, now());
                }
                Some(Report::List(g, input)) if g == list_generation => {
                    listing = None;
                    machine.handle_input(input, now());
                }
                Some(_) => {}
                None => return Ok(()),
            },
            () = sleep_until(deadline) => machine.handle_timeout(now()),
            _ = tokio::signal::ctrl_c() => return Ok(()),
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

fn print_event(message: &Message) {
    let data = serde_json::from_str::<Value>(&message.data)
        .unwrap_or_else(|_| Value::String(message.data.clone()));
    println!(
        "{}",
        json!({"type": message.event, "id": message.last_event_id, "data": data})
    );
}

async fn connect(
    client: HttpClient,
    target: std::sync::Arc<Target>,
    last_event_id: Option<EventId>,
    generation: u64,
    tx: mpsc::UnboundedSender<Report>,
) {
    let send = |input| tx.send(Report::Stream(generation, input)).is_ok();
    let path = format!("/api/events{}", target.query);
    let request = match target.request(&path, last_event_id) {
        Ok(r) => r,
        Err(_) => {
            send(Input::Failed(Failure::Network));
            return;
        }
    };
    let response = match client.request(request).await {
        Ok(r) => r,
        Err(_) => {
            send(Input::Failed(Failure::Network));
            return;
        }
    };
    if response.status() != hyper::StatusCode::OK {
        // A 503 or 429 says how long to stay away: a floor for the next try.
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        if let Some(secs) = retry_after {
            send(Input::RetryAfter(secs.saturating_mul(1000)));
        }
        send(Input::Failed(Failure::Http(response.status().as_u16())));
        return;
    }
    let is_sse = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v: &HeaderValue| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"));
    if !is_sse {
        send(Input::Failed(Failure::WrongContentType));
        return;
    }
    send(Input::Opened);
    let mut parser = Parser::new(ParserConfig::default());
    let mut body = response.into_body();
    loop {
        match body.frame().await {
            Some(Ok(frame)) => {
                let Some(chunk) = frame.data_ref() else {
                    continue;
                };
                send(Input::BytesReceived);
                parser.handle_bytes(chunk);
                while let Some(item) = parser.poll_output() {
                    let sent = match item {
                        Ok(SseItem::Message(m)) => tx.send(Report::Message(generation, m)).is_ok(),
                        Ok(SseItem::Retry(ms)) => send(Input::Retry(ms)),
                        Err(_) => send(Input::Failed(Failure::Network)),
                    };
                    if !sent {
                        return;
                    }
                }
            }
            Some(Err(_)) | None => {
                send(Input::Failed(Failure::Network));
                return;
            }
        }
    }
}

async fn list(
    client: HttpClient,
    target: std::sync::Arc<Target>,
    generation: u64,
    tx: mpsc::UnboundedSender<Report>,
) {
    let input = async {
        let request = target
            .request("/api/tasks", None)
            .map_err(|_| Failure::Network)?;
        let response = client
            .request(request)
            .await
            .map_err(|_| Failure::Network)?;
        let status = response.status();
        let bytes = response
            .into_body()
            .collect()
            .await
            .map_err(|_| Failure::Network)?
            .to_bytes();
        if status != hyper::StatusCode::OK {
            return Err(Failure::Http(status.as_u16()));
        }
        let value: Value = serde_json::from_slice(&bytes).map_err(|_| Failure::WrongContentType)?;
        let cursor = value
            .get("cursor")
            .and_then(Value::as_str)
            .and_then(|c| c.parse::<EventId>().ok())
            .ok_or(Failure::WrongContentType)?;
        let count = value
            .get("tasks")
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        eprintln!("tidings watch: {count} tasks, cursor {cursor}");
        Ok(cursor)
    }
    .await;
    let _ = tx.send(Report::List(
        generation,
        match input {
            Ok(cursor) => Input::ListFetched { cursor },
            Err(failure) => Input::ListFailed(failure),
        },
    ));
}
