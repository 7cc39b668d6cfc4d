//! The bodies of the task routes: `POST /api/tasks` (`command` a non-blank
//! string or an array of strings whose first is not empty; `workdir`, `name`,
//! `input` optional strings), `POST /api/tasks/terminal` (blank, or an object
//! with an optional `workdir`), `POST /api/tasks/{id}/input` (`text`) and
//! `.../rename` (`name`). None panics; each accepts exactly what a literal
//! reading of its contract accepts (`null` counts as absent, unknown fields
//! are refused), a refusal names the field at fault, and what is accepted,
//! written back as JSON, reads back the same.
//!
//! Input: byte 0 picks the route (modulo 4: create, terminal, input,
//! rename); the rest is the body.

use std::path::PathBuf;

use serde_json::{json, Map, Value};
use tidings::fuzzing::{create_task_body, create_terminal_body, input_body, rename_body};
use tidings::tasks::{CommandSpec, CreateTask};

/// The body as an object with only `allowed` keys, or the refusal's text.
fn object(body: &[u8], allowed: &[&str]) -> Result<Map<String, Value>, String> {
    let value: Value =
        serde_json::from_slice(body).map_err(|_| "malformed JSON body".to_owned())?;
    let Value::Object(fields) = value else {
        return Err("the body must be a JSON object".into());
    };
    if let Some(unknown) = fields.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(format!("unknown field `{unknown}`"));
    }
    Ok(fields)
}

/// An optional string field: absent or `null` is `None`.
fn opt_string(fields: &Map<String, Value>, name: &str) -> Result<Option<String>, String> {
    match fields.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(format!("field `{name}` must be a string")),
    }
}

fn required_string(body: &[u8], name: &str) -> Result<String, String> {
    let fields = object(body, &[name])?;
    opt_string(&fields, name)?.ok_or_else(|| format!("field `{name}` is missing"))
}

/// The create request, read literally: (command, workdir, name, input).
type Create = (CommandSpec, Option<String>, Option<String>, Option<String>);

fn create_model(body: &[u8]) -> Result<Create, String> {
    let fields = object(body, &["command", "workdir", "name", "input"])?;
    let command = match fields.get("command") {
        None | Some(Value::Null) => return Err("field `command` is missing".into()),
        Some(Value::String(s)) if s.trim().is_empty() => {
            return Err("field `command` must not be empty".into())
        }
        Some(Value::String(s)) => CommandSpec::Shell(s.clone()),
        Some(Value::Array(items)) => {
            let mut argv = Vec::new();
            for item in items {
                match item {
                    Value::String(s) => argv.push(s.clone()),
                    _ => return Err("field `command` must be a string or an array".into()),
                }
            }
            if argv.first().is_none_or(String::is_empty) {
                return Err("field `command` must name a program".into());
            }
            CommandSpec::Argv(argv)
        }
        Some(_) => return Err("field `command` must be a string or an array".into()),
    };
    Ok((
        command,
        opt_string(&fields, "workdir")?,
        opt_string(&fields, "name")?,
        opt_string(&fields, "input")?,
    ))
}

fn as_tuple(task: &CreateTask) -> Create {
    (
        task.command.clone(),
        task.workdir
            .as_ref()
            .map(|p| p.to_str().unwrap_or_default().to_owned()),
        task.name.clone(),
        task.input.clone(),
    )
}

/// Both sides agree: the same value, or a refusal that says what the model
/// says.
fn agree<T: PartialEq + std::fmt::Debug>(
    body: &[u8],
    model: Result<T, String>,
    got: Result<T, String>,
) {
    match (model, got) {
        (Ok(want), Ok(got)) => assert_eq!(got, want),
        (Err(want), Err(message)) => {
            assert!(message.contains(&want), "{message:?} should say {want:?}")
        }
        (want, got) => panic!(
            "{:?}: expected {want:?}, got {got:?}",
            String::from_utf8_lossy(body)
        ),
    }
}

fn json_bytes(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_default()
}

fn check_create(body: &[u8]) {
    let got = create_task_body(body);
    agree(
        body,
        create_model(body),
        got.as_ref().map(as_tuple).map_err(Clone::clone),
    );
    let Ok(task) = got else {
        return;
    };
    let command = match &task.command {
        CommandSpec::Shell(s) => json!(s),
        CommandSpec::Argv(argv) => json!(argv),
    };
    let (_, workdir, name, input) = as_tuple(&task);
    let written = json!({ "command": command, "workdir": workdir, "name": name, "input": input });
    let again = create_task_body(&json_bytes(&written)).map(|t| as_tuple(&t));
    assert_eq!(again, Ok(as_tuple(&task)), "written back");
}

fn check_terminal(body: &[u8]) {
    let model = if body.iter().all(u8::is_ascii_whitespace) {
        Ok(None)
    } else {
        object(body, &["workdir"]).and_then(|f| opt_string(&f, "workdir"))
    };
    let got = create_terminal_body(body);
    let as_text = |p: &Option<PathBuf>| {
        p.as_ref()
            .map(|p| p.to_str().unwrap_or_default().to_owned())
    };
    agree(body, model, got.as_ref().map(as_text).map_err(Clone::clone));
    if let Ok(Some(dir)) = got {
        let written = json_bytes(&json!({ "workdir": dir }));
        assert_eq!(
            create_terminal_body(&written),
            Ok(Some(dir)),
            "written back"
        );
    }
}

fn check_text_route(body: &[u8], field: &str, parse: fn(&[u8]) -> Result<String, String>) {
    let got = parse(body);
    agree(body, required_string(body, field), got.clone());
    if let Ok(text) = got {
        let written = json_bytes(&json!({ field: text }));
        assert_eq!(parse(&written), Ok(text), "written back");
    }
}

/// The check: see the module docs.
pub fn check(input: &[u8]) {
    let Some((&route, body)) = input.split_first() else {
        return;
    };
    match route % 4 {
        0 => check_create(body),
        1 => check_terminal(body),
        2 => check_text_route(body, "text", input_body),
        _ => check_text_route(body, "name", rename_body),
    }
}
