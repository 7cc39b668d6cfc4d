//! `GET /api/openapi.json`: the API as an OpenAPI 3.0 document.
//!
//! Written by hand next to the router; the `openapi` integration test checks
//! that every path and method here is served and that every served route is
//! here.

use serde_json::{json, Value};

fn error(description: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    })
}

fn ok_json(description: &str, schema: Value) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": schema}}})
}

fn body(schema: Value, required: bool) -> Value {
    json!({"required": required, "content": {"application/json": {"schema": schema}}})
}

fn task_ref() -> Value {
    json!({"$ref": "#/components/schemas/Task"})
}

fn id_param() -> Value {
    json!({"name": "id", "in": "path", "required": true,
           "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"}})
}

/// Answers every operation may give before it is routed, or for the reasons
/// its method implies: added to each operation by [`document`].
fn add_common_answers(doc: &mut Value) {
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for item in paths.values_mut().filter_map(Value::as_object_mut) {
        for (method, operation) in item.iter_mut() {
            let has_body = operation.get("requestBody").is_some();
            let Some(responses) = operation
                .get_mut("responses")
                .and_then(Value::as_object_mut)
            else {
                continue;
            };
            let mut add = |status: &str, answer: Value| {
                responses.entry(status).or_insert(answer);
            };
            add(
                "421",
                error(
                    "The Host (or HTTP/2 :authority) is not one this server answers to: \
                the loopback names and the bound address on its port, plus each --allowed-host \
                (DNS-rebinding guard). Checked before routing, on every path.",
                ),
            );
            add(
                "400",
                error("Malformed input; also a request without any Host."),
            );
            if method == "get" {
                add(
                    "403",
                    error("An Origin header that is not an allowed host."),
                );
            } else {
                add(
                    "403",
                    error(
                        "Cookie or --no-auth credentials without a same-origin signal: \
                    needs Sec-Fetch-Site: same-origin or an allowed Origin (any other \
                    Sec-Fetch-Site, a foreign Origin, or neither header is refused). Bearer \
                    requests need neither.",
                    ),
                );
            }
            if has_body {
                add("408", error("The body did not arrive within --body-read-timeout (the connection is closed)."));
                add(
                    "415",
                    error("The body is not sent with Content-Type: application/json."),
                );
            }
        }
    }
}

/// The document.
pub fn document() -> Value {
    let mut doc = operations();
    add_common_answers(&mut doc);
    doc
}

fn operations() -> Value {
    let unauthorized = error("Missing or invalid credentials.");
    let bad = error("Malformed JSON, or a missing or mistyped field (named in the message).");
    let too_large = error("The body is larger than --max-body (64 KiB by default).");
    let not_found = error("No such task.");
    let unsaved = || {
        error(
            "The change could not be saved (the data directory failed); nothing was changed or \
             announced. Retry later (Retry-After).",
        )
    };
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "Tidings",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Dashboard events over Server-Sent Events, and tasks in terminals. \
                List (GET /api/tasks), then watch from the list's cursor (GET /api/events with Last-Event-ID)."
        },
        "security": [{"bearer": []}, {"cookie": []}],
        "paths": {
            "/api/events": {
                "get": {
                    "summary": "The SSE stream",
                    "description": "Frames: `retry` and `ready {epoch, resumed, head}`; events with `id: EPOCH-SEQ`; \
                        `lagged {dropped}`; `: keep-alive` comments; `end {reason: max-lifetime|shutdown}`. \
                        Task events: `task.created` and `task.updated` (the Task), `task.status`, and \
                        `task.removed` (TaskRemoved: a finished task left the table, `--keep-finished`).",
                    "parameters": [
                        {"name": "types", "in": "query", "schema": {"type": "string"},
                         "description": "Comma-separated event types or `prefix.*` patterns."},
                        {"name": "task", "in": "query", "schema": {"type": "string"},
                         "description": "Only events of this task."},
                        {"name": "last_event_id", "in": "query", "schema": {"type": "string"},
                         "description": "Resume after this id (the Last-Event-ID header wins)."},
                        {"name": "heartbeat", "in": "query", "schema": {"type": "string", "enum": ["event", "comment"]},
                         "description": "`event`: idle heartbeats as `event: heartbeat` with `{}` (visible to a browser's EventSource) instead of the `: keep-alive` comment."},
                        {"name": "Last-Event-ID", "in": "header", "schema": {"type": "string"},
                         "description": "Resume after this id."}
                    ],
                    "responses": {
                        "200": {"description": "The stream.", "content": {"text/event-stream": {"schema": {"type": "string"}}}},
                        "400": error("A malformed `types` or `task` filter."),
                        "401": unauthorized,
                        "503": error("The open-stream cap is reached; see Retry-After.")
                    }
                },
                "head": {
                    "summary": "Check the stream without subscribing",
                    "description": "Answers what GET with the same query would (400 bad filter, 401, 503 with Retry-After at the cap, else 200 with text/event-stream) with no body and no subscription: a browser whose EventSource failed before it opened learns why from it.",
                    "parameters": [
                        {"name": "types", "in": "query", "schema": {"type": "string"}},
                        {"name": "task", "in": "query", "schema": {"type": "string"}},
                        {"name": "heartbeat", "in": "query", "schema": {"type": "string", "enum": ["event", "comment"]}}
                    ],
                    "responses": {
                        "200": {"description": "A GET would open the stream."},
                        "400": error("A malformed `types` or `task` filter."),
                        "401": unauthorized,
                        "503": error("The open-stream cap is reached; see Retry-After.")
                    }
                },
                "post": {
                    "summary": "Publish an event from another process",
                    "requestBody": body(json!({
                        "type": "object", "required": ["type"], "additionalProperties": false,
                        "properties": {
                            "type": {"type": "string", "maxLength": 64,
                                     "description": "No spaces, control characters, `,` or `*`; not ready/lagged/end/heartbeat; not task.*"},
                            "data": {"type": "object", "description": "Any JSON object (default {})."},
                            "task": {"type": "string", "description": "A task id, for `task=` filters."}
                        }
                    }), true),
                    "responses": {
                        "202": ok_json("Published.", json!({"type": "object", "properties": {"id": {"type": "string"}}})),
                        "400": bad, "401": unauthorized,
                        "413": error("The body is larger than --max-body, or the event's encoded SSE frame \
                            (id, type and data as the broker writes them) would be larger than \
                            --max-event-bytes (64 KiB by default); nothing is published.")
                    }
                }
            },
            "/api/tasks": {
                "get": {
                    "summary": "List tasks with the cursor to watch from",
                    "responses": {
                        "200": ok_json("The tasks.", json!({"$ref": "#/components/schemas/TaskList"})),
                        "401": unauthorized
                    }
                },
                "post": {
                    "summary": "Run a command in a pseudo-terminal",
                    "requestBody": body(json!({
                        "type": "object", "required": ["command"], "additionalProperties": false,
                        "properties": {
                            "command": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}, "minItems": 1}],
                                        "description": "A shell string (sh -c) or an argv array."},
                            "workdir": {"type": "string"},
                            "name": {"type": "string"},
                            "input": {"type": "string", "description": "Typed into the terminal once started."}
                        }
                    }), true),
                    "responses": {
                        "201": ok_json("The task (task.created was published).", task_ref()),
                        "400": bad, "401": unauthorized, "413": too_large,
                        "429": error("At the live-task cap (--max-live-tasks); nothing was started."),
                        "503": unsaved()
                    }
                }
            },
            "/api/tasks/terminal": {
                "post": {
                    "summary": "Start an interactive login shell",
                    "requestBody": body(json!({
                        "type": "object", "additionalProperties": false,
                        "properties": {"workdir": {"type": "string"}}
                    }), false),
                    "responses": {
                        "201": ok_json("The task.", task_ref()),
                        "400": bad, "401": unauthorized, "413": too_large,
                        "429": error("At the live-task cap (--max-live-tasks); nothing was started."),
                        "503": unsaved()
                    }
                }
            },
            "/api/tasks/{id}": {
                "parameters": [id_param()],
                "get": {
                    "summary": "One task with the tail of its output",
                    "responses": {
                        "200": ok_json("The task.", json!({"allOf": [task_ref(),
                            {"type": "object", "properties": {"recent_output": {"type": "string"}}}]})),
                        "401": unauthorized, "404": not_found
                    }
                },
                "delete": {
                    "summary": "Kill a live task (its process group)",
                    "responses": {
                        "200": ok_json("The task, now killed.", task_ref()),
                        "401": unauthorized, "404": not_found,
                        "409": error("The task has already finished."),
                        "503": unsaved()
                    }
                }
            },
            "/api/tasks/{id}/output": {
                "parameters": [id_param()],
                "get": {
                    "summary": "The last lines of a task's output, with byte offsets",
                    "description": "Offsets count every byte the task ever wrote. The log keeps at most \
                        --task-log-max bytes (the newest): `start` is the first offset still kept, `end` the \
                        offset just past the last byte, `from` where `output` begins.",
                    "parameters": [{"name": "tail", "in": "query",
                                    "schema": {"type": "integer", "minimum": 0, "maximum": 100000, "default": 100}}],
                    "responses": {
                        "200": ok_json("The output.", json!({"type": "object",
                            "required": ["output", "from", "start", "end"],
                            "properties": {
                                "output": {"type": "string", "description": "The last lines as plain text (ANSI removed)."},
                                "from": {"type": "integer", "description": "The byte offset `output` begins at."},
                                "start": {"type": "integer", "description": "The first byte offset the log still holds (> 0: older output was dropped)."},
                                "end": {"type": "integer", "description": "The byte offset just past the last byte written."}}})),
                        "400": bad, "401": unauthorized, "404": not_found
                    }
                }
            },
            "/api/tasks/{id}/output/stream": {
                "parameters": [id_param()],
                "get": {
                    "summary": "A task's output, live (SSE), resumable by byte offset",
                    "description": "Frames: `retry`; `ready {task_id, start, end, heartbeat_ms}` (the log's first and \
                        next byte offsets when the stream opened); chunks `id: <byte offset just past the chunk>` / \
                        `event: output` / `data: {\"text\"}` (the chunk decoded as UTF-8, a character split across \
                        reads kept whole; at most one chunk per ~50 ms, at most 64 KiB per frame); \
                        `truncated {from}` when the offset wanted is older than the log still kept (the text goes \
                        on from `from`); `: keep-alive` comments (or `event: heartbeat` with `heartbeat=event`); \
                        `end {reason: finished|max-lifetime|shutdown}` (`finished` once the task is final and its \
                        whole log was sent). Resume with `Last-Event-ID` or `from`: the texts of a stream and its \
                        resumptions concatenate to the log. Counts toward --max-streams with /api/events.",
                    "parameters": [
                        {"name": "from", "in": "query", "schema": {"type": "integer", "minimum": 0},
                         "description": "Start at this byte offset (default 0: the first byte the task wrote; \
                            older than the kept log gives `truncated`). The Last-Event-ID header wins."},
                        {"name": "heartbeat", "in": "query", "schema": {"type": "string", "enum": ["event", "comment"]},
                         "description": "`event`: idle heartbeats as `event: heartbeat` with `{}` instead of the `: keep-alive` comment."},
                        {"name": "Last-Event-ID", "in": "header", "schema": {"type": "string", "pattern": "^[0-9]*$"},
                         "description": "Resume at this byte offset (an output chunk's id); empty counts as absent."}
                    ],
                    "responses": {
                        "200": {"description": "The stream.", "content": {"text/event-stream": {"schema": {"type": "string"}}}},
                        "400": error("`from` or Last-Event-ID is not a byte offset, or is past the end of the task's output; a bad `heartbeat`."),
                        "401": unauthorized,
                        "404": not_found,
                        "503": error("The open-stream cap is reached (shared with /api/events); see Retry-After.")
                    }
                },
                "head": {
                    "summary": "Check the output stream without opening it",
                    "description": "Answers what GET with the same query and Last-Event-ID would (400, 401, 404, 503 with \
                        Retry-After at the cap, else 200 with text/event-stream) with no body and no stream.",
                    "parameters": [
                        {"name": "from", "in": "query", "schema": {"type": "integer", "minimum": 0}},
                        {"name": "heartbeat", "in": "query", "schema": {"type": "string", "enum": ["event", "comment"]}},
                        {"name": "Last-Event-ID", "in": "header", "schema": {"type": "string"}}
                    ],
                    "responses": {
                        "200": {"description": "A GET would open the stream."},
                        "400": error("`from` or Last-Event-ID is not a byte offset, or is past the end; a bad `heartbeat`."),
                        "401": unauthorized,
                        "404": not_found,
                        "503": error("The open-stream cap is reached; see Retry-After.")
                    }
                }
            },
            "/api/tasks/{id}/input": {
                "parameters": [id_param()],
                "post": {
                    "summary": "Type into a task's terminal",
                    "requestBody": body(json!({"type": "object", "required": ["text"], "additionalProperties": false,
                                               "properties": {"text": {"type": "string"}}}), true),
                    "responses": {
                        "200": ok_json("The task.", task_ref()),
                        "400": bad, "401": unauthorized, "404": not_found,
                        "409": error("The task has finished."), "413": too_large, "503": unsaved()
                    }
                }
            },
            "/api/tasks/{id}/rename": {
                "parameters": [id_param()],
                "post": {
                    "summary": "Rename a task (publishes task.updated)",
                    "requestBody": body(json!({"type": "object", "required": ["name"], "additionalProperties": false,
                                               "properties": {"name": {"type": "string"}}}), true),
                    "responses": {
                        "200": ok_json("The task.", task_ref()),
                        "400": bad, "401": unauthorized, "404": not_found, "413": too_large,
                        "503": unsaved()
                    }
                }
            },
            "/api/health": {
                "get": {
                    "summary": "Liveness and the broker's position",
                    "responses": {
                        "200": ok_json("Up.", json!({"type": "object", "properties": {
                            "status": {"type": "string"}, "version": {"type": "string"},
                            "epoch": {"type": "string"}, "head": {"type": "string"}, "streams": {"type": "integer"}}})),
                        "401": unauthorized
                    }
                }
            },
            "/api/openapi.json": {
                "get": {
                    "summary": "This document",
                    "responses": {"200": ok_json("OpenAPI 3.", json!({"type": "object"})), "401": unauthorized}
                }
            },
            "/metrics": {
                "get": {
                    "summary": "Prometheus metrics",
                    "responses": {
                        "200": {"description": "Text format 0.0.4.", "content": {"text/plain": {"schema": {"type": "string"}}}},
                        "401": unauthorized
                    }
                }
            }
        },
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "cookie": {"type": "apiKey", "in": "cookie", "name": "tidings_token_PORT",
                           "description": "A session credential set by opening /?token=... (never the token \
                               itself: an issue time and an HMAC-SHA256 of it keyed by the token; Max-Age one \
                               week; valid across restarts while the token is unchanged). PORT is the server's port."}
            },
            "schemas": {
                "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}},
                "TaskRemoved": {"type": "object", "required": ["task_id", "version"],
                    "description": "Data of the `task.removed` event: a finished task left the table (--keep-finished) with its log.",
                    "properties": {
                        "task_id": {"type": "string"},
                        "version": {"type": "integer", "description": "The SEQ of this event, like every task event's version."}}},
                "TaskList": {"type": "object", "required": ["tasks", "cursor"], "properties": {
                    "tasks": {"type": "array", "items": task_ref()},
                    "cursor": {"type": "string", "description": "The newest event id reflected in `tasks`."}}},
                "Task": {"type": "object",
                    "required": ["id", "name", "kind", "command", "workdir", "status", "version", "created_at", "last_activity_at"],
                    "properties": {
                        "id": {"type": "string"}, "name": {"type": "string"},
                        "kind": {"type": "string", "enum": ["command", "terminal"]},
                        "command": {"type": "string"}, "workdir": {"type": "string"},
                        "status": {"type": "string", "enum": ["running", "waiting-for-input", "completed", "killed", "error"]},
                        "version": {"type": "integer", "description": "SEQ of the last event that changed the task."},
                        "created_at": {"type": "integer", "description": "Unix ms."},
                        "finished_at": {"type": "integer"}, "exit_code": {"type": "integer"},
                        "error": {"type": "string"}, "pid": {"type": "integer"},
                        "last_activity_at": {"type": "integer"}
                    }}
            }
        }
    })
}
