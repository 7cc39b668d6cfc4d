//! A small backend that embeds Tidings: it starts the server inside its own
//! tokio runtime and publishes `trigger.fired` from a timer, the way a real
//! backend would publish from its own loops and request handlers.
//!
//! ```text
//! cargo run -p host-native --example embedded            # port 7272
//! curl -N -H "Authorization: Bearer $TOKEN" http://127.0.0.1:7272/api/events?types=trigger.*
//! ```
//! (or open the printed URL for the dashboard, or `tidings watch URL`).

use std::time::Duration;

use broker_core::EventType;
use serde_json::{Map, Value};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config = tidings::Config {
        addr: std::env::var("EMBEDDED_ADDR")
            .unwrap_or_else(|_| "127.0.0.1:7272".into())
            .parse()?,
        data_dir: std::env::temp_dir().join("tidings-embedded-example"),
        ..tidings::Config::default()
    };
    let running = tidings::start(config).await?;
    println!("embedded backend serving Tidings on {}", running.url());

    // The publisher handle is cheap to clone and never blocks: hand it to
    // whatever part of the backend has something to announce.
    let hub = running.hub.clone();
    let timer = tokio::spawn(async move {
        let fired = EventType::new("trigger.fired").expect("a valid event type");
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        for count in 1u64.. {
            tick.tick().await;
            let mut data = Map::new();
            data.insert("trigger".into(), Value::from("heartbeat-timer"));
            data.insert("count".into(), Value::from(count));
            hub.publish(fired.clone(), None, data);
        }
    });

    tokio::signal::ctrl_c().await?;
    timer.abort();
    running.shutdown().await;
    Ok(())
}
