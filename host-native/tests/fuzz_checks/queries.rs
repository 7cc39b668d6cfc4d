//! Query strings: `query_pairs` (every route's query) agrees with the
//! `application/x-www-form-urlencoded` parser of the WHATWG URL standard (as
//! the `form_urlencoded` crate implements it) and gives back any pairs that
//! were encoded into a query; the `GET /api/events` query takes each of
//! `types`, `task`, `last_event_id` and `heartbeat` at most once, `heartbeat`
//! only as `event` or `comment`, ignores every other key, and round-trips;
//! `?tail=` takes only whole numbers up to 100,000 (100 when absent).
//! Nothing panics.
//!
//! Input: byte 0 picks whether the query is present at all (bit 0) and a
//! `tail` value to round-trip (bytes 1–3, little-endian, modulo 200,001);
//! then text (lossy UTF-8) split at `\u{1}`: the query string itself, then
//! alternating keys and values to encode into a query.

use broker_core::sse::HeartbeatForm;
use tidings::fuzzing::{events_query, query_pairs, tail_query};

/// `tail`'s upper bound, as the API documents it.
const MAX_TAIL: usize = 100_000;

fn encode(pairs: &[(String, String)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

fn check_pairs(query: &str, pairs: &[(String, String)]) {
    let got = query_pairs(query);
    let reference: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    assert_eq!(got, reference, "{query:?}");
    let encoded = encode(pairs);
    assert_eq!(query_pairs(&encoded), pairs, "{encoded:?}");
}

fn check_events(present: bool, query: &str, pairs: &[(String, String)]) {
    let query = present.then_some(query);
    let decoded = query.map(query_pairs).unwrap_or_default();
    let known = ["types", "task", "last_event_id", "heartbeat"];
    let value = |key: &str| {
        decoded
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    };
    // The first known key seen a second time, in query order.
    let repeated = decoded.iter().enumerate().find_map(|(i, (k, _))| {
        (known.contains(&k.as_str()) && decoded[..i].iter().any(|(seen, _)| seen == k))
            .then_some(k.as_str())
    });
    let heartbeat = value("heartbeat");
    let result = events_query(query);
    match (repeated, heartbeat.as_deref()) {
        (Some(key), _) => {
            let message = result.err().unwrap_or_default();
            assert!(
                message.contains(&format!("`{key}` given twice")),
                "{message:?}"
            );
            return;
        }
        (None, None | Some("event" | "comment")) => {}
        (None, Some(_)) => {
            let message = result.err().unwrap_or_default();
            assert!(message.starts_with("heartbeat must be"), "{message:?}");
            return;
        }
    }
    let parsed = result.unwrap_or_else(|e| panic!("{query:?} refused: {e}"));
    assert_eq!(parsed.types, value("types"));
    assert_eq!(parsed.task, value("task"));
    assert_eq!(parsed.last_event_id, value("last_event_id"));
    let form = match heartbeat.as_deref() {
        Some("event") => HeartbeatForm::Event,
        _ => HeartbeatForm::Comment,
    };
    assert_eq!(parsed.heartbeat, form);

    // The same values, encoded after any other (unknown) pairs, read back.
    let mut written: Vec<(String, String)> = pairs
        .iter()
        .filter(|(k, _)| !known.contains(&k.as_str()))
        .cloned()
        .collect();
    for (key, v) in [
        ("types", &parsed.types),
        ("task", &parsed.task),
        ("last_event_id", &parsed.last_event_id),
    ] {
        if let Some(v) = v {
            written.push((key.to_owned(), v.clone()));
        }
    }
    let encoded = encode(&written);
    let again = events_query(Some(&encoded)).unwrap_or_else(|e| panic!("{encoded:?}: {e}"));
    assert_eq!(
        (again.types, again.task, again.last_event_id),
        (parsed.types, parsed.task, parsed.last_event_id),
        "{encoded:?}"
    );
}

fn check_tail(present: bool, query: &str, n: usize) {
    let query = present.then_some(query);
    let tails: Vec<String> = query
        .map(query_pairs)
        .unwrap_or_default()
        .into_iter()
        .filter(|(k, _)| k == "tail")
        .map(|(_, v)| v)
        .collect();
    let read: Option<Vec<usize>> = tails
        .iter()
        .map(|t| t.parse::<usize>().ok().filter(|n| *n <= MAX_TAIL))
        .collect();
    let expected = read.map(|ns| ns.last().copied().unwrap_or(100)).ok_or(());
    assert_eq!(tail_query(query).map_err(drop), expected, "{query:?}");
    let one = format!("tail={n}");
    assert_eq!(
        tail_query(Some(&one)).ok(),
        (n <= MAX_TAIL).then_some(n),
        "{one}"
    );
}

/// The check: see the module docs.
pub fn check(input: &[u8]) {
    let Some(head) = input.get(..4) else {
        return;
    };
    let present = head[0] & 1 == 1;
    let n =
        (usize::from(head[1]) | usize::from(head[2]) << 8 | usize::from(head[3]) << 16) % 200_001;
    let text = String::from_utf8_lossy(&input[4..]);
    let mut parts = text.split('\u{1}');
    let query = parts.next().unwrap_or_default();
    let rest: Vec<&str> = parts.collect();
    let pairs: Vec<(String, String)> = rest
        .chunks(2)
        .map(|kv| {
            (
                kv[0].to_owned(),
                kv.get(1).copied().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    check_pairs(query, &pairs);
    check_events(present, query, &pairs);
    check_tail(present, query, n);
}
