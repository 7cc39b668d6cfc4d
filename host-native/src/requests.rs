//! What each route reads from its request: the JSON bodies and the query
//! parameters, as pure functions of bytes (the handlers in `api.rs` only
//! call them and act). Every error names the field at fault.

use std::path::PathBuf;

use broker_core::{event_data, EventType, TaskId};
use serde_json::{Map, Value};

use crate::body::{missing, mistyped, JsonObject};
use crate::error::ApiError;
use crate::router::query_pairs;
use crate::tasks::{CommandSpec, CreateTask};

/// Lines of output `GET /api/tasks/{id}/output` returns without `tail`.
pub const DEFAULT_TAIL: usize = 100;
/// The most lines `tail` may ask for.
pub const MAX_TAIL: usize = 100_000;

/// `POST /api/events`, read.
#[derive(Clone, Debug, PartialEq)]
pub struct PublishRequest {
    /// The event type: valid, and not one the server publishes itself.
    pub kind: EventType,
    /// The task it is tagged with, for `task=` filters.
    pub task: Option<TaskId>,
    /// The event's data (`{}` when absent).
    pub data: Map<String, Value>,
}

/// `POST /api/events {type, data?, task?}`.
pub fn parse_publish(bytes: &[u8]) -> Result<PublishRequest, ApiError> {
    let mut body = JsonObject::parse(bytes, &["type", "data", "task"])?;
    let kind = body.string("type")?;
    let kind =
        EventType::new(kind).map_err(|e| ApiError::BadRequest(format!("field `type`: {e}")))?;
    if kind.as_str().starts_with("task.") {
        return Err(ApiError::BadRequest(
            "field `type`: task.* events are published by the server itself".into(),
        ));
    }
    let data = match body.value("data") {
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
    Ok(PublishRequest { kind, task, data })
}

/// `POST /api/tasks {command, workdir?, name?, input?}`.
pub fn parse_create_task(bytes: &[u8]) -> Result<CreateTask, ApiError> {
    let mut body = JsonObject::parse(bytes, &["command", "workdir", "name", "input"])?;
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
    Ok(CreateTask {
        command,
        workdir: body.opt_string("workdir")?.map(PathBuf::from),
        name: body.opt_string("name")?,
        input: body.opt_string("input")?,
    })
}

/// `POST /api/tasks/terminal {workdir?}`; an empty (or blank) body means no
/// options.
pub fn parse_create_terminal(bytes: &[u8]) -> Result<Option<PathBuf>, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    Ok(JsonObject::parse(bytes, &["workdir"])?
        .opt_string("workdir")?
        .map(PathBuf::from))
}

/// `POST /api/tasks/{id}/input {text}`: the text to type.
pub fn parse_input(bytes: &[u8]) -> Result<String, ApiError> {
    JsonObject::parse(bytes, &["text"])?.string("text")
}

/// `POST /api/tasks/{id}/rename {name}`: the new name.
pub fn parse_rename(bytes: &[u8]) -> Result<String, ApiError> {
    JsonObject::parse(bytes, &["name"])?.string("name")
}

/// `GET /api/tasks/{id}/output?tail=N`.
pub fn parse_tail(query: Option<&str>) -> Result<usize, ApiError> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publish_bodies() {
        let p = parse_publish(br#"{"type":"trigger.fired","task":"t-1"}"#).expect("valid");
        assert_eq!(p.kind.as_str(), "trigger.fired");
        assert_eq!(p.task.as_ref().map(TaskId::as_str), Some("t-1"));
        assert!(p.data.is_empty());
        assert!(parse_publish(br#"{"type":"task.created"}"#).is_err());
        assert!(parse_publish(br#"{"type":"a","data":[]}"#).is_err());
    }

    #[test]
    fn task_bodies() {
        let t = parse_create_task(br#"{"command":["ls","-l"],"name":"n"}"#).expect("valid");
        assert_eq!(t.command, CommandSpec::Argv(vec!["ls".into(), "-l".into()]));
        assert_eq!(t.name.as_deref(), Some("n"));
        assert!(parse_create_task(br#"{"command":[""]}"#).is_err());
        assert_eq!(parse_create_terminal(b" \n").expect("empty"), None);
        assert_eq!(
            parse_create_terminal(br#"{"workdir":"/tmp"}"#).expect("valid"),
            Some(PathBuf::from("/tmp"))
        );
        assert_eq!(parse_input(br#"{"text":"a\n"}"#).expect("valid"), "a\n");
        assert!(parse_rename(br#"{"name":null}"#).is_err());
    }

    #[test]
    fn tail_parameter() {
        assert_eq!(parse_tail(None).expect("default"), DEFAULT_TAIL);
        assert_eq!(parse_tail(Some("tail=0")).expect("zero"), 0);
        assert!(parse_tail(Some("tail=100001")).is_err());
        assert!(parse_tail(Some("tail=-1")).is_err());
    }
}
