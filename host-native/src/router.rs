//! The route table: which paths exist and which methods each takes.
//!
//! The dispatcher in `api.rs` matches on [`RouteName`]; this table alone
//! answers 404 (no such route) and 405 (with `Allow`), and the OpenAPI test
//! compares it with the published document.

use std::borrow::Cow;

use hyper::Method;

/// Every API route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RouteName {
    /// `/api/events`
    Events,
    /// `/api/tasks`
    Tasks,
    /// `/api/tasks/terminal`
    Terminal,
    /// `/api/tasks/{id}`
    Task,
    /// `/api/tasks/{id}/output`
    TaskOutput,
    /// `/api/tasks/{id}/output/stream`
    TaskOutputStream,
    /// `/api/tasks/{id}/input`
    TaskInput,
    /// `/api/tasks/{id}/rename`
    TaskRename,
    /// `/api/health`
    Health,
    /// `/api/openapi.json`
    OpenApi,
    /// `/metrics`
    Metrics,
}

/// One route: its path pattern (`{id}` matches one segment), its methods,
/// and the `Allow` header listing them.
#[derive(Clone, Copy, Debug)]
pub struct Route {
    /// Which route.
    pub name: RouteName,
    /// The path as in the OpenAPI document.
    pub pattern: &'static str,
    /// The methods it takes.
    pub methods: &'static [Method],
    /// `methods` as an `Allow` value.
    pub allow: &'static str,
}

/// All API routes. `/api/tasks/terminal` comes before `/api/tasks/{id}`:
/// the first match wins.
pub const ROUTES: &[Route] = &[
    Route {
        name: RouteName::Events,
        pattern: "/api/events",
        methods: &[Method::GET, Method::HEAD, Method::POST],
        allow: "GET, HEAD, POST",
    },
    Route {
        name: RouteName::Tasks,
        pattern: "/api/tasks",
        methods: &[Method::GET, Method::POST],
        allow: "GET, POST",
    },
    Route {
        name: RouteName::Terminal,
        pattern: "/api/tasks/terminal",
        methods: &[Method::POST],
        allow: "POST",
    },
    Route {
        name: RouteName::Task,
        pattern: "/api/tasks/{id}",
        methods: &[Method::GET, Method::DELETE],
        allow: "GET, DELETE",
    },
    Route {
        name: RouteName::TaskOutput,
        pattern: "/api/tasks/{id}/output",
        methods: &[Method::GET],
        allow: "GET",
    },
    Route {
        name: RouteName::TaskOutputStream,
        pattern: "/api/tasks/{id}/output/stream",
        methods: &[Method::GET, Method::HEAD],
        allow: "GET, HEAD",
    },
    Route {
        name: RouteName::TaskInput,
        pattern: "/api/tasks/{id}/input",
        methods: &[Method::POST],
        allow: "POST",
    },
    Route {
        name: RouteName::TaskRename,
        pattern: "/api/tasks/{id}/rename",
        methods: &[Method::POST],
        allow: "POST",
    },
    Route {
        name: RouteName::Health,
        pattern: "/api/health",
        methods: &[Method::GET],
        allow: "GET",
    },
    Route {
        name: RouteName::OpenApi,
        pattern: "/api/openapi.json",
        methods: &[Method::GET],
        allow: "GET",
    },
    Route {
        name: RouteName::Metrics,
        pattern: "/metrics",
        methods: &[Method::GET],
        allow: "GET",
    },
];

/// The route for `path` and the `{id}` segment it captured.
pub fn resolve(path: &str) -> Option<(&'static Route, Option<&str>)> {
    ROUTES.iter().find_map(|route| {
        let mut captured = None;
        let mut pattern = route.pattern.split('/');
        let mut actual = path.split('/');
        loop {
            match (pattern.next(), actual.next()) {
                (None, None) => return Some((route, captured)),
                (Some("{id}"), Some(segment)) if !segment.is_empty() => captured = Some(segment),
                (Some(p), Some(a)) if p == a => {}
                _ => return None,
            }
        }
    })
}

/// The `key=value` pairs of a query string, percent-decoded (`+` is a
/// space). Pairs whose decoding is not UTF-8 are decoded lossily.
pub fn query_pairs(query: &str) -> impl Iterator<Item = (Cow<'_, str>, Cow<'_, str>)> {
    query.split('&').filter(|p| !p.is_empty()).map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (decode_query(k), decode_query(v))
    })
}

fn decode_query(text: &str) -> Cow<'_, str> {
    if !text.contains(['%', '+']) {
        return Cow::Borrowed(text);
    }
    let spaced = text.replace('+', " ");
    Cow::Owned(
        percent_encoding::percent_decode_str(&spaced)
            .decode_utf8_lossy()
            .into_owned(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_fixed_and_captured_paths() {
        let (r, id) = resolve("/api/tasks/terminal").expect("a route");
        assert_eq!((r.name, id), (RouteName::Terminal, None));
        let (r, id) = resolve("/api/tasks/t-1/output").expect("a route");
        assert_eq!((r.name, id), (RouteName::TaskOutput, Some("t-1")));
        let (r, id) = resolve("/api/tasks/t-1/output/stream").expect("a route");
        assert_eq!((r.name, id), (RouteName::TaskOutputStream, Some("t-1")));
        assert!(resolve("/api/tasks/").is_none());
        assert!(resolve("/api/tasks/a/b").is_none());
        assert!(resolve("/api/nothing").is_none());
    }

    #[test]
    fn query_pairs_decode() {
        let pairs: Vec<_> = query_pairs("types=task.*%2Ctrigger.fired&x&y=a+b")
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("types".into(), "task.*,trigger.fired".into()),
                ("x".into(), String::new()),
                ("y".into(), "a b".into())
            ]
        );
    }
}
