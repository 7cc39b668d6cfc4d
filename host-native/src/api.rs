//! Request handling: authentication, routing, and the REST handlers.
//!
//! hyper's own examples route with a plain `match`; so does this file, over
//! the table in `router.rs`. Every failure is an [`ApiError`], turned into a
//! status in `error.rs` and nowhere else.

use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use broker_core::{event_data, EventType, TaskId};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{json, Value};

use crate::auth::Auth;
use crate::body::{missing, mistyped, read_limited, Body, JsonObject};
use crate::error::{json_response, ApiError};
use crate::hub::Hub;
use crate::router::{query_pairs, resolve, RouteName};
use crate::static_files::StaticFiles;
use crate::stream::{self, StreamSettings};
use crate::tasks::{CommandSpec, CreateTask, TaskManager};

/// Lines of output `GET /api/tasks/{id}/output` returns without `tail`.
pub const DEFAULT_TAIL: usize = 100;
/// The most lines `tail` may ask for.
pub const MAX_TAIL: usize = 100_000;

/// What every request handler shares.
pub struct State {
    /// The broker.
    pub hub: Hub,
    /// The task runner.
    pub tasks: TaskManager,
    /// Credentials.
    pub auth: Auth,
    /// `www/`.
    pub files: StaticFiles,
    /// Stream settings and counters.
    pub streams: Arc<StreamSettings>,
    /// The body cap.
    pub max_body: usize,
}

/// The hyper service function.
///
/// The handlers' combined state machine is large (~2 KiB) and hyper keeps a
/// slot of the service future's size for the whole life of a connection, so
/// it is boxed here for the length of one request: an open stream's
/// connection then keeps only a small slot.
pub async fn handle(
    state: Arc<State>,
    req: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let response = match Box::pin(dispatch(&state, req)).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    };
    Ok(response)
}

fn is_protected(path: &str) -> bool {
    path == "/api" || path.starts_with("/api/") || path == "/metrics"
}

async fn dispatch(state: &State, req: Request<Incoming>) -> Result<Response<Body>, ApiError> {
    let path = req.uri().path().to_owned();
    if !is_protected(&path) {
        if let Some(redirect) = state.auth.token_redirect(&path, req.uri().query()) {
            return Ok(redirect);
        }
        return state.files.serve(req.method(), &path).await;
    }
    state.auth.check(req.method(), req.headers())?;
    let (route, id) =
        resolve(&path).ok_or_else(|| ApiError::NotFound(format!("no route {path}")))?;
    if !route.methods.contains(req.method()) {
        return Err(ApiError::MethodNotAllowed { allow: route.allow });
    }
    // Ids that are not valid task ids name no task.
    let task_id = match id {
        Some(raw) => Some(TaskId::new(raw).map_err(|_| ApiError::NotFound("no such task".into()))?),
        None => None,
    };
    let task_id = || {
        task_id
            .clone()
            .ok_or_else(|| ApiError::Internal("route without id".into()))
    };
    let method = req.method().clone();
    match (route.name, method) {
        (RouteName::Events, Method::GET) => {
            stream::open(&state.hub, &state.streams, req.headers(), req.uri().query())
        }
        (RouteName::Events, Method::HEAD) => probe_stream(state, req.uri().query()),
        (RouteName::Events, _) => publish_event(state, req).await,
        (RouteName::Tasks, Method::GET) => Ok(json_response(StatusCode::OK, &state.tasks.list())),
        (RouteName::Tasks, _) => create_task(state, req).await,
        (RouteName::Terminal, _) => create_terminal(state, req).await,
        (RouteName::Task, Method::GET) => Ok(json_response(
            StatusCode::OK,
            &state.tasks.get(&task_id()?)?,
        )),
        (RouteName::Task, _) => Ok(json_response(
            StatusCode::OK,
            &state.tasks.kill(&task_id()?)?,
        )),
        (RouteName::TaskOutput, _) => {
            let tail = parse_tail(req.uri().query())?;
            let output = state.tasks.output(&task_id()?, tail)?;
            Ok(json_response(StatusCode::OK, &json!({ "output": output })))
        }
        (RouteName::TaskInput, _) => {
            let id = task_id()?;
            let mut body = JsonObject::parse(&read_limited(req, state.max_body).await?, &["text"])?;
            let text = body.string("text")?;
            Ok(json_response(
                StatusCode::OK,
                &state.tasks.send_input(&id, &text)?,
            ))
        }
        (RouteName::TaskRename, _) => {
            let id = task_id()?;
            let mut body = JsonObject::parse(&read_limited(req, state.max_body).await?, &["name"])?;
            let name = body.string("name")?;
            Ok(json_response(
                StatusCode::OK,
                &state.tasks.rename(&id, &name)?,
            ))
        }
        (RouteName::Health, _) => Ok(json_response(StatusCode::OK, &health(state))),
        (RouteName::OpenApi, _) => Ok(json_response(StatusCode::OK, &crate::openapi::document())),
        (RouteName::Metrics, _) => Ok(crate::metrics::response(state)),
    }
}

/// `HEAD /api/events`: what a `GET` with this query would answer — `400` for
/// a bad filter, `503` with `Retry-After` at the stream cap, else `200` with
/// the stream's content type — without subscribing. A browser whose
/// `EventSource` failed before it opened learns why from this one cheap
/// request (the `EventSource` API hides the status).
fn probe_stream(state: &State, query: Option<&str>) -> Result<Response<Body>, ApiError> {
    let query = stream::StreamQuery::parse(query)?;
    broker_core::Filter::parse(query.types.as_deref(), query.task.as_deref())
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let settings = &state.streams;
    if settings.open.load(Ordering::Relaxed) >= settings.max_streams {
        return Err(ApiError::Unavailable {
            retry_after: settings.retry.max(std::time::Duration::from_secs(1)),
        });
    }
    let mut response = Response::new(Body::full(Vec::new()));
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/event-stream"),
    );
    response.headers_mut().insert(
        hyper::header::CACHE_CONTROL,
        hyper::header::HeaderValue::from_static("no-cache, no-store, must-revalidate"),
    );
    Ok(response)
}

fn health(state: &State) -> Value {
    json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "epoch": state.hub.epoch(),
        "head": state.hub.cursor(),
        "streams": state.streams.open.load(Ordering::Relaxed),
    })
}

fn parse_tail(query: Option<&str>) -> Result<usize, ApiError> {
    let mut tail = DEFAULT_TAIL;
    for (key, value) in query_pairs(query.unwrap_or("")) {
        if key == "tail" {
            tail = value
                .parse::<usize>()
                .ok()
                .filter(|n| *n <= MAX_TAIL)
                .ok_or_else(|| {
                    ApiError::BadRequest(format!(
                        "query parameter `tail` must be a whole number from 0 to {MAX_TAIL}"
                    ))
                })?;
        }
    }
    Ok(tail)
}

/// `POST /api/events {type, data?, task?}`.
async fn publish_event(state: &State, req: Request<Incoming>) -> Result<Response<Body>, ApiError> {
    let bytes = read_limited(req, state.max_body).await?;
    let mut body = JsonObject::parse(&bytes, &["type", "data", "task"])?;
    let kind = body.string("type")?;
    let kind =
        EventType::new(kind).map_err(|e| ApiError::BadRequest(format!("field `type`: {e}")))?;
    if kind.as_str().starts_with("task.") {
        return Err(ApiError::BadRequest(
            "field `type`: task.* events are published by the server itself".into(),
        ));
    }
    let data = body.value("data");
    let data = match data {
        Some(v @ (Value::Bool(_) | Value::Number(_) | Value::String(_) | Value::Array(_))) => {
            return Err(mistyped("data", "a JSON object", &v))
        }
        other => event_data(other).map_err(|_| missing("data"))?,
    };
    let task = match body.opt_string("task")? {
        Some(raw) => {
            Some(TaskId::new(raw).map_err(|e| ApiError::BadRequest(format!("field `task`: {e}")))?)
        }
        None => None,
    };
    let id = state.hub.publish(kind, task, data);
    Ok(json_response(StatusCode::ACCEPTED, &json!({ "id": id })))
}

/// `POST /api/tasks {command, workdir?, name?, input?}`.
async fn create_task(state: &State, req: Request<Incoming>) -> Result<Response<Body>, ApiError> {
    let bytes = read_limited(req, state.max_body).await?;
    let mut body = JsonObject::parse(&bytes, &["command", "workdir", "name", "input"])?;
    let command = match body.value("command") {
        None => return Err(missing("command")),
        Some(Value::String(s)) if s.trim().is_empty() => {
            return Err(ApiError::BadRequest(
                "field `command` must not be empty".into(),
            ))
        }
        Some(Value::String(s)) => CommandSpec::Shell(s),
        Some(Value::Array(items)) => {
            let argv = items
                .into_iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s),
                    other => Err(mistyped(
                        "command",
                        "a string or an array of strings",
                        &other,
                    )),
                })
                .collect::<Result<Vec<_>, _>>()?;
            if argv.first().is_none_or(|p| p.is_empty()) {
                return Err(ApiError::BadRequest(
                    "field `command` must name a program (a non-empty first element)".into(),
                ));
            }
            CommandSpec::Argv(argv)
        }
        Some(other) => {
            return Err(mistyped(
                "command",
                "a string or an array of strings",
                &other,
            ))
        }
    };
    let request = CreateTask {
        command,
        workdir: body.opt_string("workdir")?.map(PathBuf::from),
        name: body.opt_string("name")?,
        input: body.opt_string("input")?,
    };
    Ok(json_response(
        StatusCode::CREATED,
        &state.tasks.create(request)?,
    ))
}

/// `POST /api/tasks/terminal {workdir?}` (an empty body is fine).
async fn create_terminal(
    state: &State,
    req: Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    let bytes = read_limited(req, state.max_body).await?;
    let workdir = if bytes.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        JsonObject::parse(&bytes, &["workdir"])?.opt_string("workdir")?
    };
    Ok(json_response(
        StatusCode::CREATED,
        &state.tasks.create_terminal(workdir.map(PathBuf::from))?,
    ))
}
