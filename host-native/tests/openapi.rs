//! The OpenAPI document matches the server: every documented operation is
//! served, every route is documented, and undocumented methods are 405.

mod common;

use std::collections::BTreeSet;

use hyper::Request;

use common::start;
use tidings::router::ROUTES;

const METHODS: [&str; 6] = ["get", "head", "post", "put", "delete", "patch"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_operation_exists_and_every_route_is_documented() {
    let server = start(|_| {}).await;
    let (status, doc) = server.json(server.get("/api/openapi.json"), "").await;
    assert_eq!(status, 200);
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")));
    let paths = doc["paths"].as_object().expect("paths");

    let mut documented = BTreeSet::new();
    for (path, item) in paths {
        for method in METHODS {
            if item.get(method).is_some() {
                documented.insert((path.clone(), method.to_uppercase()));
            }
        }
    }
    let routed: BTreeSet<(String, String)> = ROUTES
        .iter()
        .flat_map(|r| {
            r.methods
                .iter()
                .map(|m| (r.pattern.to_owned(), m.to_string()))
        })
        .collect();
    assert_eq!(
        documented, routed,
        "the document and the route table list the same operations"
    );

    // And the server really answers them: no route-level 404 or 405.
    for (path, item) in paths {
        let concrete = path.replace("{id}", "no-such-task");
        for method in METHODS {
            let req = Request::builder()
                .method(method.to_uppercase().as_str())
                .uri(format!("{}{concrete}", server.base))
                .header("authorization", format!("Bearer {}", common::TOKEN))
                .header("content-type", "application/json");
            let (status, text) = if method == "get" && path == "/api/events" {
                // A stream never ends by itself: look at its status only.
                let sse = server.stream("", &[]).await;
                (sse.status, String::new())
            } else {
                // An unknown field: no POST really creates anything here.
                let (status, _, text) = server.send(req, r#"{"unknown_field":1}"#).await;
                (status, text)
            };
            if item.get(method).is_some() {
                assert_ne!(status, 405, "{method} {path}");
                // A HEAD answer has no body to say why.
                if status == 404 && method != "head" {
                    assert!(text.contains("no such task"), "{method} {path}: {text}");
                }
                let responses = item[method]["responses"].as_object().expect("responses");
                assert!(
                    responses.contains_key(status.as_str()),
                    "{method} {path} answered {status}, not documented: {text}"
                );
            } else {
                assert_eq!(status, 405, "{method} {path} is not documented");
            }
        }
    }
    server.running.shutdown().await;
}
