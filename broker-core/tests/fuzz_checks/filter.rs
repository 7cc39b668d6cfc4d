//! Subscriber filters (`types=` and `task=` of `GET /api/events`):
//! `Filter::parse` never panics; an accepted filter is in normal form
//! (sorted, no duplicates, no pattern covering another, so their matches are
//! disjoint, as the broker's counters need), is never wider than asked (a
//! `types=` that was given never becomes "everything"), parses back from its
//! own printed form unchanged (the normal form is idempotent) and selects
//! exactly the events a literal reading of the raw entries selects; a
//! refusal names the entry at fault.
//!
//! Input: byte 0 says which parts are present (bit 0: `types`, bit 1:
//! `task`); the rest, as text (lossy UTF-8), is split at `\u{1}` into the
//! `types` value, the `task` value and a comma-separated list of extra event
//! types to probe the filter with (besides names derived from the entries).

use broker_core::broker::MAX_TYPE_PATTERNS;
use broker_core::{Epoch, Event, EventId, EventType, Filter, FilterError, TaskId, TypePattern};
use serde_json::Map;

/// Whether the raw `types=` entry selects `kind`, read literally: `p.*`
/// selects what starts with `p.`, anything else only itself.
fn entry_selects(entry: &str, kind: &str) -> bool {
    match entry.strip_suffix('*') {
        Some(prefix) => kind.starts_with(prefix),
        None => kind == entry,
    }
}

/// The `types=` value of a filter, printed back.
fn print(patterns: &[TypePattern]) -> String {
    let texts: Vec<String> = patterns
        .iter()
        .map(|p| match p {
            TypePattern::Exact(name) => name.clone(),
            TypePattern::Prefix(prefix) => format!("{prefix}*"),
        })
        .collect();
    texts.join(",")
}

fn text_of(p: &TypePattern) -> &str {
    match p {
        TypePattern::Exact(s) | TypePattern::Prefix(s) => s,
    }
}

/// The check: see the module docs.
pub fn check(input: &[u8]) {
    let Some((&flags, rest)) = input.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let mut parts = text.splitn(3, '\u{1}');
    let types_part = parts.next().unwrap_or_default();
    let task_part = parts.next().unwrap_or_default();
    let probes_part = parts.next().unwrap_or_default();
    let types = (flags & 1 == 1).then_some(types_part);
    let task = (flags & 2 == 2).then_some(task_part);

    let entries: Vec<&str> = types
        .map(|t| t.split(',').map(str::trim).collect())
        .unwrap_or_default();
    let result = Filter::parse(types, task);
    let filter = match result {
        Err(FilterError::TooManyTypes) => {
            assert!(entries.len() > MAX_TYPE_PATTERNS);
            return;
        }
        Err(FilterError::BadType(entry)) => {
            assert!(entries.len() <= MAX_TYPE_PATTERNS);
            let first_bad = entries.iter().find(|e| TypePattern::parse(e).is_err());
            assert_eq!(first_bad, Some(&entry.as_str()), "not the first bad entry");
            return;
        }
        Err(FilterError::BadTask) => {
            assert!(entries.iter().all(|e| TypePattern::parse(e).is_ok()));
            assert!(TaskId::new(task.unwrap_or_default()).is_err());
            return;
        }
        Ok(filter) => filter,
    };
    assert!(entries.len() <= MAX_TYPE_PATTERNS);
    assert!(entries.iter().all(|e| TypePattern::parse(e).is_ok()));
    assert_eq!(filter.task().map(TaskId::as_str), task);

    // Normal form.
    let patterns = filter.types();
    assert!(
        patterns.windows(2).all(|w| w[0] < w[1]),
        "not sorted: {patterns:?}"
    );
    for a in patterns {
        for b in patterns {
            if let TypePattern::Prefix(p) = a {
                assert!(
                    a == b || !text_of(b).starts_with(p.as_str()),
                    "{a:?} covers {b:?}"
                );
            }
        }
    }
    assert_eq!(
        patterns.is_empty(),
        types.is_none(),
        "a given types= widened to everything"
    );
    assert!(patterns.len() <= entries.len());

    // Idempotent: the printed normal form parses back to the same filter.
    let printed = print(patterns);
    let again = Filter::parse((!patterns.is_empty()).then_some(printed.as_str()), task);
    assert_eq!(again.as_ref(), Ok(&filter), "{printed:?}");

    // Selects what the raw entries select.
    let mut kinds: Vec<String> = Vec::new();
    for entry in &entries {
        let base = entry.trim_end_matches('*');
        kinds.push(base.to_owned());
        kinds.push(format!("{base}x"));
        kinds.push(format!("{base}.x"));
        for (i, _) in base.match_indices('.') {
            kinds.push(base[..i].to_owned());
            kinds.push(base[..=i].to_owned());
            kinds.push(format!("{}y", &base[..=i]));
        }
    }
    kinds.extend(probes_part.split(',').map(str::to_owned));
    let other_task = TaskId::new(if task == Some("other") {
        "other2"
    } else {
        "other"
    });
    let tasks: Vec<Option<TaskId>> = [
        None,
        task.and_then(|t| TaskId::new(t).ok()),
        other_task.ok(),
    ]
    .into_iter()
    .collect();
    let id = EventId::new(Epoch::new(1), 1);
    for kind in &kinds {
        let Ok(event_type) = EventType::new(kind.as_str()) else {
            continue;
        };
        for event_task in &tasks {
            let event = Event::new(id, event_type.clone(), event_task.clone(), &Map::new());
            let task_ok = task.is_none() || event_task.as_ref().map(TaskId::as_str) == task;
            let type_ok = types.is_none() || entries.iter().any(|e| entry_selects(e, kind));
            assert_eq!(
                filter.matches(&event),
                task_ok && type_ok,
                "{kind:?} task {event_task:?} through {types:?} / {task:?}"
            );
            assert_eq!(
                again.as_ref().map(|f| f.matches(&event)),
                Ok(task_ok && type_ok)
            );
        }
    }
}
