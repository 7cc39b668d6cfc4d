//! Request handling: the request-level checks, routing, and the REST
//! handlers.
//!
//! Every request passes, in order: the Host allowlist (`421`, before any
//! routing, on every path), then for `/api` and `/metrics` the credentials
//! and the same-origin rule (`401`/`403`), the route table (`404`/`405`),
//! and for JSON routes the content type, body cap and body deadline
//! (`415`/`413`/`408`). What each route reads from its body is in
//! `requests.rs`.
//!
//! hyper's own examples route with a plain `match`; so does this file, over
//! the table in `router.rs`. Every failure is an [`ApiError`], turned into a
//! status in `error.rs` and nowhere else.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use broker_core::{Event, EventId, TaskId};
use hyper::body::Incoming;
use hyper::header::{HOST, ORIGIN};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{json, Value};

use crate::allowed_hosts::{HostAllowlist, Refusal};
use crate::auth::{unix_now, Auth};
use crate::body::{read_json_body, Body, BodyLimits, Empty};
use crate::connections::Connections;
use crate::error::{json_response, ApiError};
use crate::hub::Hub;
use crate::requests::{
    parse_create_task, parse_create_terminal, parse_input, parse_publish, parse_rename, parse_tail,
    PublishRequest,
};
use crate::router::{resolve, RouteName};
use crate::static_files::StaticFiles;
use crate::stream::{self, StreamSettings};
use crate::tasks::TaskManager;

/// What every request handler shares.
pub struct State {
    /// The broker.
    pub hub: Hub,
    /// The task runner.
    pub tasks: TaskManager,
    /// Credentials.
    pub auth: Auth,
    /// The hosts (and origins) this server answers to.
    pub hosts: HostAllowlist,
    /// `www/`.
    pub files: StaticFiles,
    /// Stream settings and counters.
    pub streams: Arc<StreamSettings>,
    /// Open connections, for `/metrics`.
    pub connections: Arc<Connections>,
    /// The body cap and deadline.
    pub body: BodyLimits,
    /// The cap on one published event's encoded frame.
    pub max_event_bytes: usize,
}

/// The hyper service function for a connection that arrived at `local`.
///
/// The handlers' combined state machine is large (~2 KiB) and hyper keeps a
/// slot of the service future's size for the whole life of a connection, so
/// it is boxed here for the length of one request: an open stream's
/// connection then keeps only a small slot.
pub async fn handle(
    state: Arc<State>,
    local: Option<SocketAddr>,
    req: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let response = match Box::pin(dispatch(&state, local, req)).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    };
    Ok(response)
}

fn is_protected(path: &str) -> bool {
    path == "/api" || path.starts_with("/api/") || path == "/metrics"
}

/// The Host allowlist, before anything else looks at the request.
fn check_host(
    hosts: &HostAllowlist,
    req: &Request<Incoming>,
    local: Option<SocketAddr>,
) -> Result<(), ApiError> {
    let host = req.headers().get(HOST).map(|v| v.as_bytes());
    let authority = req.uri().authority().map(|a| a.as_str());
    let origin = req.headers().get(ORIGIN).map(|v| v.as_bytes());
    hosts
        .check(host, authority, origin, local)
        .map_err(|refusal| match refusal {
            Refusal::MissingHost => ApiError::BadRequest("the request has no Host header".into()),
            Refusal::Host => ApiError::MisdirectedHost,
            Refusal::Origin => ApiError::Forbidden(
                "cross-origin request refused (Origin is not an allowed host)".into(),
            ),
        })
}

async fn dispatch(
    state: &State,
    local: Option<SocketAddr>,
    req: Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    check_host(&state.hosts, &req, local)?;
    let now = unix_now();
    let path = req.uri().path().to_owned();
    if !is_protected(&path) {
        if let Some(redirect) = state.auth.token_redirect(&path, req.uri().query(), now) {
            return Ok(redirect);
        }
        return state.files.serve(req.method(), &path).await;
    }
    state
        .auth
        .check(req.method(), req.headers(), &state.hosts, local, now)?;
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
    let json_body = |req: Request<Incoming>, empty: Empty| read_json_body(req, state.body, empty);
    match (route.name, method) {
        (RouteName::Events, Method::GET) => {
            stream::open(&state.hub, &state.streams, req.headers(), req.uri().query())
        }
        (RouteName::Events, Method::HEAD) => probe_stream(state, req.uri().query()),
        (RouteName::Events, _) => {
            let request = parse_publish(&json_body(req, Empty::Refused).await?)?;
            publish_event(state, request)
        }
        (RouteName::Tasks, Method::GET) => {
            Ok(json_response(StatusCode::OK, &state.tasks.list().await?))
        }
        (RouteName::Tasks, _) => {
            let request = parse_create_task(&json_body(req, Empty::Refused).await?)?;
            Ok(json_response(
                StatusCode::CREATED,
                &state.tasks.create(request).await?,
            ))
        }
        (RouteName::Terminal, _) => {
            let workdir = parse_create_terminal(&json_body(req, Empty::Allowed).await?)?;
            Ok(json_response(
                StatusCode::CREATED,
                &state.tasks.create_terminal(workdir).await?,
            ))
        }
        (RouteName::Task, Method::GET) => Ok(json_response(
            StatusCode::OK,
            &state.tasks.get(&task_id()?).await?,
        )),
        (RouteName::Task, _) => Ok(json_response(
            StatusCode::OK,
            &state.tasks.kill(&task_id()?).await?,
        )),
        (RouteName::TaskOutput, _) => {
            let tail = parse_tail(req.uri().query())?;
            let output = state.tasks.output(&task_id()?, tail).await?;
            Ok(json_response(StatusCode::OK, &output))
        }
        (RouteName::TaskOutputStream, Method::GET) => {
            crate::output_stream::open(
                &state.tasks,
                &state.hub,
                &state.streams,
                &task_id()?,
                req.headers(),
                req.uri().query(),
            )
            .await
        }
        (RouteName::TaskOutputStream, _) => {
            crate::output_stream::probe(
                &state.tasks,
                &state.streams,
                &task_id()?,
                req.headers(),
                req.uri().query(),
            )
            .await
        }
        (RouteName::TaskInput, _) => {
            let id = task_id()?;
            let text = parse_input(&json_body(req, Empty::Refused).await?)?;
            Ok(json_response(
                StatusCode::OK,
                &state.tasks.send_input(&id, &text).await?,
            ))
        }
        (RouteName::TaskRename, _) => {
            let id = task_id()?;
            let name = parse_rename(&json_body(req, Empty::Refused).await?)?;
            Ok(json_response(
                StatusCode::OK,
                &state.tasks.rename(&id, &name).await?,
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

/// The size of the SSE frame the broker would encode for `request` if it
/// were published now: the same encoder, the id it would get.
pub fn encoded_frame_len(next_id: EventId, request: &PublishRequest) -> usize {
    Event::new(
        next_id,
        request.kind.clone(),
        request.task.clone(),
        &request.data,
    )
    .frame()
    .len()
}

/// `POST /api/events`: refused with `413` when its frame would exceed the
/// cap (nothing is published), else published.
fn publish_event(state: &State, request: PublishRequest) -> Result<Response<Body>, ApiError> {
    let head = state.hub.cursor();
    let next = EventId::new(head.epoch, head.seq.saturating_add(1));
    let size = encoded_frame_len(next, &request);
    if size > state.max_event_bytes {
        return Err(ApiError::EventTooLarge {
            size,
            limit: state.max_event_bytes,
        });
    }
    let id = state.hub.publish(request.kind, request.task, request.data);
    Ok(json_response(StatusCode::ACCEPTED, &json!({ "id": id })))
}
