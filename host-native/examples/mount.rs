//! Mounting only the SSE endpoint in a backend's own hyper server and
//! router, next to its own routes, and publishing from a request handler.
//!
//! ```text
//! cargo run -p host-native --example mount      # 127.0.0.1:7373
//! curl -N http://127.0.0.1:7373/events &        # the stream
//! curl -X POST http://127.0.0.1:7373/fire       # publishes trigger.fired
//! ```
//! (This example has no authentication: your router would add its own.)

use std::convert::Infallible;

use broker_core::{BrokerConfig, Epoch, EventType};
use hyper::service::service_fn;
use hyper::{Method, Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use serde_json::{Map, Value};
use tidings::{Body, EventsEndpoint, Hub, StreamOptions};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A new epoch per start (here from the clock; the server draws it from
    // the OS), and SEQ 1 since this backend persists no versions.
    let epoch = Epoch::new(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_nanos() as u64,
    );
    let hub = Hub::new(epoch, 1, BrokerConfig::default());
    let events = EventsEndpoint::new(hub.clone(), StreamOptions::default())?;
    let addr = std::env::var("MOUNT_ADDR").unwrap_or_else(|_| "127.0.0.1:7373".into());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("own router on http://{addr}: GET /events, POST /fire");
    loop {
        let (tcp, _) = listener.accept().await?;
        let (hub, events) = (hub.clone(), events.clone());
        let service = service_fn(move |req: Request<hyper::body::Incoming>| {
            let response = route(&hub, &events, &req);
            async move { Ok::<_, Infallible>(response) }
        });
        tokio::spawn(async move {
            let _ = auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(tcp), service)
                .await;
        });
    }
}

fn route<B>(hub: &Hub, events: &EventsEndpoint, req: &Request<B>) -> Response<Body> {
    match (req.method(), req.uri().path()) {
        (_, "/events") => events.respond(req),
        (&Method::POST, "/fire") => {
            let mut data = Map::new();
            data.insert("source".into(), Value::from("POST /fire"));
            let id = hub.publish(
                EventType::new("trigger.fired").expect("a valid type"),
                None,
                data,
            );
            Response::new(Body::full(format!("published {id}\n")))
        }
        _ => {
            let mut response = Response::new(Body::full("not here\n"));
            *response.status_mut() = hyper::StatusCode::NOT_FOUND;
            response
        }
    }
}
