//! The body of `POST /api/events` and the size of the frame it would make:
//! `publish_body` never panics and accepts exactly a JSON object with only
//! `type`, `data` and `task`, where `type` is a valid event type outside
//! `task.*`, `data` an object (or absent or `null`: `{}`) and `task` a task
//! id (or absent or `null`); a refusal names the field at fault, in the
//! order the server checks them. What it accepts, written back as JSON,
//! reads back the same. `encoded_frame_len` is exactly the length of the
//! broker's frame for it, and that frame parses back, through the SSE
//! parser, to this event (id, type, and data equal to what was sent).
//!
//! Input: byte 0 picks the id the frame would get (`0-1`, `ab-7`,
//! `ffffffffffffffff-9007199254740991`, or bytes 1–8 as the `SEQ` of epoch
//! `1d` when bit 2 is set); the rest is the body.

use broker_core::sse::{Message, Parser, ParserConfig, SseItem};
use broker_core::{Epoch, Event, EventId, EventType, TaskId};
use serde_json::{json, Map, Value};
use tidings::fuzzing::{encoded_frame_len, publish_body, PublishRequest};

/// A publish request's parts: type, data, task.
type Parts = (EventType, Map<String, Value>, Option<TaskId>);

/// What the server makes of `body`, read literally: the request, or the
/// text that must appear in the refusal.
fn model(body: &[u8]) -> Result<Parts, String> {
    let value: Value =
        serde_json::from_slice(body).map_err(|_| "malformed JSON body".to_owned())?;
    let Value::Object(fields) = value else {
        return Err("the body must be a JSON object".into());
    };
    if let Some(unknown) = fields
        .keys()
        .find(|k| !["type", "data", "task"].contains(&k.as_str()))
    {
        return Err(format!("unknown field `{unknown}`"));
    }
    let present = |name: &str| fields.get(name).filter(|v| !v.is_null());
    let kind = match present("type") {
        None => return Err("field `type` is missing".into()),
        Some(Value::String(s)) => s,
        Some(_) => return Err("field `type` must be a string".into()),
    };
    let kind = EventType::new(kind.as_str()).map_err(|_| "field `type`: ".to_owned())?;
    if kind.as_str().starts_with("task.") {
        return Err("field `type`: task.* events".into());
    }
    let data = match present("data") {
        None => Map::new(),
        Some(Value::Object(map)) => map.clone(),
        Some(_) => return Err("field `data` must be a JSON object".into()),
    };
    let task = match present("task") {
        None => None,
        Some(Value::String(s)) => {
            Some(TaskId::new(s.as_str()).map_err(|_| "field `task`: ".to_owned())?)
        }
        Some(_) => return Err("field `task` must be a string".into()),
    };
    Ok((kind, data, task))
}

/// The frame's id for this input.
fn frame_id(input: &[u8]) -> EventId {
    let pick = input.first().copied().unwrap_or_default();
    if pick & 4 == 4 {
        let mut seq = [0u8; 8];
        for (i, b) in input.iter().skip(1).take(8).enumerate() {
            seq[i] = *b;
        }
        return EventId::new(Epoch::new(0x1d), u64::from_le_bytes(seq));
    }
    match pick % 3 {
        0 => EventId::new(Epoch::new(0), 1),
        1 => EventId::new(Epoch::new(0xab), 7),
        _ => EventId::new(Epoch::new(u64::MAX), (1 << 53) - 1),
    }
}

fn check_frame(id: EventId, request: &PublishRequest) {
    let event = Event::new(
        id,
        request.kind.clone(),
        request.task.clone(),
        &request.data,
    );
    let frame = event.frame();
    assert_eq!(encoded_frame_len(id, request), frame.len());
    let mut parser = Parser::new(ParserConfig {
        max_line: usize::MAX,
        max_event: usize::MAX,
    });
    parser.handle_bytes(frame);
    parser.handle_eof();
    let Some(Ok(SseItem::Message(Message {
        event: kind,
        data,
        last_event_id,
    }))) = parser.poll_output()
    else {
        panic!("{frame:?} is not one message");
    };
    assert!(
        parser.poll_output().is_none(),
        "{frame:?} is more than one message"
    );
    assert_eq!(kind, request.kind.as_str());
    assert_eq!(last_event_id, id.to_string());
    assert!(!data.contains('\n'), "data on more than one line");
    let sent: Value = serde_json::from_str(&data).unwrap_or_else(|e| panic!("{data:?}: {e}"));
    assert_eq!(sent, Value::Object(request.data.clone()));
}

/// The check: see the module docs.
pub fn check(input: &[u8]) {
    let body = input.get(1..).unwrap_or_default();
    let result = publish_body(body);
    match (model(body), &result) {
        (Ok((kind, data, task)), Ok(request)) => {
            assert_eq!(
                (&request.kind, &request.data, &request.task),
                (&kind, &data, &task)
            );
        }
        (Err(want), Err(message)) => {
            assert!(message.contains(&want), "{message:?} should say {want:?}");
        }
        (want, got) => panic!(
            "{:?}: expected {want:?}, got {got:?}",
            String::from_utf8_lossy(body)
        ),
    }
    let Ok(request) = result else {
        return;
    };

    let mut written = json!({ "type": request.kind.as_str(), "data": request.data });
    if let Some(task) = &request.task {
        written["task"] = Value::String(task.as_str().to_owned());
    }
    let bytes = serde_json::to_vec(&written).unwrap_or_default();
    assert_eq!(publish_body(&bytes).as_ref(), Ok(&request), "written back");

    check_frame(frame_id(input), &request);
    let short = encoded_frame_len(EventId::new(Epoch::new(0), 0), &request);
    let long = encoded_frame_len(EventId::new(Epoch::new(u64::MAX), u64::MAX), &request);
    assert_eq!(
        long - short,
        15 + 19,
        "the frame grows with the id's digits only"
    );
}
