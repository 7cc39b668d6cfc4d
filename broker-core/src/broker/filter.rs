//! Subscriber filters: which event types, and which task, a stream wants.
//!
//! A filter is kept in a normal form — its type patterns sorted, without
//! duplicates and without a pattern that another one already covers — so the
//! sets of types its patterns match never overlap. The broker relies on that to
//! count a subscriber's pending events as a plain sum of per-pattern counters.

use crate::event::{Event, EventType};
use crate::id::TaskId;

/// The most entries a `types=` filter may hold; a bound on the work each
/// event costs a subscriber and on what a single query string can ask for.
pub const MAX_TYPE_PATTERNS: usize = 32;

/// Which events a subscriber wants.
///
/// Built from the `types` and `task` query values of `GET /api/events` by
/// [`Filter::parse`]; [`Filter::all`] passes everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    /// Normalised: sorted, deduplicated, no pattern covered by another. Empty
    /// means every type.
    types: Vec<TypePattern>,
    task: Option<TaskId>,
}

/// One entry of a `types=` filter.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum TypePattern {
    /// Exactly this type.
    Exact(String),
    /// Every type starting with this prefix (written `prefix.*`; the stored
    /// prefix keeps its trailing dot).
    Prefix(String),
}

/// Why a filter could not be built.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    /// An entry of `types=` is not a valid type or `prefix.*` pattern.
    #[error("invalid type pattern {0:?}: use a type name or 'prefix.*'")]
    BadType(String),
    /// Too many entries in `types=`.
    #[error("too many type patterns (at most 32)")]
    TooManyTypes,
    /// `task=` is not a valid task id.
    #[error("invalid task id in filter")]
    BadTask,
}

impl TypePattern {
    /// Parses one trimmed `types=` entry: an event type name, or a prefix
    /// ending in `.` followed by `*` (`task.*`). A lone `*` or `.*` is refused:
    /// "everything" is written by leaving `types` out.
    pub fn parse(entry: &str) -> Result<Self, FilterError> {
        let bad = || FilterError::BadType(entry.to_owned());
        match entry.strip_suffix('*') {
            Some(prefix) => {
                if prefix.len() < 2 || !prefix.ends_with('.') || EventType::new(prefix).is_err() {
                    return Err(bad());
                }
                Ok(TypePattern::Prefix(prefix.to_owned()))
            }
            None => {
                EventType::new(entry).map_err(|_| bad())?;
                Ok(TypePattern::Exact(entry.to_owned()))
            }
        }
    }

    /// Whether an event of type `kind` passes this pattern.
    pub fn matches(&self, kind: &str) -> bool {
        match self {
            TypePattern::Exact(name) => kind == name,
            TypePattern::Prefix(prefix) => kind.starts_with(prefix.as_str()),
        }
    }

    /// Whether every type `other` matches is also matched by `self`.
    fn covers(&self, other: &TypePattern) -> bool {
        match (self, other) {
            (TypePattern::Prefix(p), TypePattern::Exact(name) | TypePattern::Prefix(name)) => {
                name.starts_with(p.as_str())
            }
            (TypePattern::Exact(a), TypePattern::Exact(b)) => a == b,
            (TypePattern::Exact(_), TypePattern::Prefix(_)) => false,
        }
    }
}

impl Filter {
    /// Everything.
    pub fn all() -> Self {
        Filter::default()
    }

    /// Parses the `types` (comma separated) and `task` query values.
    ///
    /// Entries are trimmed; an empty entry (including an empty `types=`) is an
    /// error rather than "everything", so a client bug cannot silently widen a
    /// stream. Overlapping entries are accepted and merged.
    pub fn parse(types: Option<&str>, task: Option<&str>) -> Result<Self, FilterError> {
        let mut patterns = Vec::new();
        if let Some(types) = types {
            if types.split(',').count() > MAX_TYPE_PATTERNS {
                return Err(FilterError::TooManyTypes);
            }
            for entry in types.split(',') {
                patterns.push(TypePattern::parse(entry.trim())?);
            }
        }
        let task = match task {
            Some(raw) => Some(TaskId::new(raw).map_err(|_| FilterError::BadTask)?),
            None => None,
        };
        Ok(Filter {
            types: normalise(patterns),
            task,
        })
    }

    /// Whether `event` passes this filter.
    pub fn matches(&self, event: &Event) -> bool {
        if let Some(task) = &self.task {
            if event.task() != Some(task) {
                return false;
            }
        }
        self.passes_type(event.kind().as_str())
    }

    /// Whether the type patterns let `kind` through (the task restriction
    /// aside).
    pub fn passes_type(&self, kind: &str) -> bool {
        self.types.is_empty() || self.types.iter().any(|p| p.matches(kind))
    }

    /// The type patterns in normal form (sorted, none covering another);
    /// empty when every type passes.
    pub fn types(&self) -> &[TypePattern] {
        &self.types
    }

    /// The task the filter is restricted to, if any.
    pub fn task(&self) -> Option<&TaskId> {
        self.task.as_ref()
    }
}

/// Sorts, deduplicates and drops every pattern another one covers, so the
/// remaining patterns match disjoint sets of types.
fn normalise(mut patterns: Vec<TypePattern>) -> Vec<TypePattern> {
    patterns.sort();
    patterns.dedup();
    let mut kept: Vec<TypePattern> = Vec::with_capacity(patterns.len());
    for (i, p) in patterns.iter().enumerate() {
        let covered = patterns
            .iter()
            .enumerate()
            .any(|(j, other)| i != j && other != p && other.covers(p));
        if !covered {
            kept.push(p.clone());
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::{Epoch, EventId};
    use serde_json::Map;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn event(kind: &str, task: Option<&str>) -> Event {
        Event::new(
            EventId::new(Epoch::new(1), 1),
            EventType::new(kind).expect("valid type"),
            task.map(|t| TaskId::new(t).expect("valid task")),
            &Map::new(),
        )
    }

    #[test]
    fn no_filter_passes_everything() {
        let f = Filter::parse(None, None).expect("parses");
        assert_eq!(f, Filter::all());
        assert!(f.matches(&event("task.status", Some("t1"))));
        assert!(f.matches(&event("trigger.fired", None)));
    }

    #[test]
    fn exact_types_match_only_themselves() {
        let f = Filter::parse(Some(" task.created , task.status"), None).expect("parses");
        assert!(f.matches(&event("task.created", None)));
        assert!(f.matches(&event("task.status", None)));
        assert!(!f.matches(&event("task.status2", None)));
        assert!(!f.matches(&event("task", None)));
        assert!(!f.matches(&event("trigger.fired", None)));
    }

    #[test]
    fn a_prefix_pattern_matches_every_type_under_it() {
        let f = Filter::parse(Some("task.*"), None).expect("parses");
        assert_eq!(f.types(), &[TypePattern::Prefix("task.".into())]);
        assert!(f.matches(&event("task.created", None)));
        assert!(f.matches(&event("task.output.chunk", None)));
        assert!(!f.matches(&event("task", None)));
        assert!(!f.matches(&event("tasks.created", None)));
    }

    #[test]
    fn a_task_filter_needs_the_same_task() {
        let f = Filter::parse(None, Some("t1")).expect("parses");
        assert!(f.matches(&event("task.status", Some("t1"))));
        assert!(!f.matches(&event("task.status", Some("t2"))));
        assert!(!f.matches(&event("task.status", None)));
        let both = Filter::parse(Some("task.status"), Some("t1")).expect("parses");
        assert!(both.matches(&event("task.status", Some("t1"))));
        assert!(!both.matches(&event("task.created", Some("t1"))));
    }

    #[test]
    fn malformed_filters_are_refused() {
        for bad in [
            "", "a,,b", "a,", "*", ".*", "task*", "task.*.x", "a b", "ready", "task.**",
        ] {
            assert!(
                matches!(Filter::parse(Some(bad), None), Err(FilterError::BadType(_))),
                "{bad:?}"
            );
        }
        let many = vec!["a"; MAX_TYPE_PATTERNS + 1].join(",");
        assert_eq!(
            Filter::parse(Some(&many), None),
            Err(FilterError::TooManyTypes)
        );
        let enough = vec!["a"; MAX_TYPE_PATTERNS].join(",");
        assert!(Filter::parse(Some(&enough), None).is_ok());
        for bad in ["", "../x", "a b"] {
            assert_eq!(Filter::parse(None, Some(bad)), Err(FilterError::BadTask));
        }
    }

    #[test]
    fn overlapping_patterns_are_merged_into_disjoint_ones() {
        let f = Filter::parse(
            Some("task.status,task.*,task.sub.*,a.b,a.b,x.*,x.y.*,x.y.z"),
            None,
        )
        .expect("parses");
        assert_eq!(
            f.types(),
            &[
                TypePattern::Exact("a.b".into()),
                TypePattern::Prefix("task.".into()),
                TypePattern::Prefix("x.".into()),
            ]
        );
    }
}
