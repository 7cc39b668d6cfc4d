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

/// The document.
pub fn document() -> Value {
    let unauthorized = error("Missing or invalid credentials.");
    let bad = error("Malformed JSON, or a missing or mistyped field (named in the message).");
    let too_large = error("The body is larger than the cap (64 KiB by default).");
    let not_found = error("No such task.");
    let forbidden = error("A state-changing request with cookie credentials from another origin.");
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
                        `lagged {dropped}`; `: keep-alive` comments; `end {reason: max-lifetime|shutdown}`.",
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
                                     "description": "No spaces, control characters or `*`; not ready/lagged/end; not task.*"},
                            "data": {"type": "object", "description": "Any JSON object (default {})."},
                            "task": {"type": "string", "description": "A task id, for `task=` filters."}
                        }
                    }), true),
                    "responses": {
                        "202": ok_json("Published.", json!({"type": "object", "properties": {"id": {"type": "string"}}})),
                        "400": bad, "401": unauthorized, "403": forbidden, "413": too_large
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
                        "400": bad, "401": unauthorized, "403": forbidden, "413": too_large
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
                        "400": bad, "401": unauthorized, "403": forbidden, "413": too_large
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
                        "401": unauthorized, "403": forbidden, "404": not_found,
                        "409": error("The task has already finished.")
                    }
                }
            },
            "/api/tasks/{id}/output": {
                "parameters": [id_param()],
                "get": {
                    "summary": "The last lines of a task's output",
                    "parameters": [{"name": "tail", "in": "query",
                                    "schema": {"type": "integer", "minimum": 0, "maximum": 100000, "default": 100}}],
                    "responses": {
                        "200": ok_json("The output.", json!({"type": "object", "properties": {"output": {"type": "string"}}})),
                        "400": bad, "401": unauthorized, "404": not_found
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
                        "400": bad, "401": unauthorized, "403": forbidden, "404": not_found,
                        "409": error("The task has finished."), "413": too_large
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
                        "400": bad, "401": unauthorized, "403": forbidden, "404": not_found, "413": too_large
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
                           "description": "Set by opening /?token=...; PORT is the server's port."}
            },
            "schemas": {
                "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}},
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
