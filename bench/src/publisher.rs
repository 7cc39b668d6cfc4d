//! The publisher: POSTs bench events at a fixed rate through the server's
//! own publish path.
//!
//! One keep-alive connection keeps the counter in order at the server. Each
//! 1 ms tick writes every event that is due in one batch of pipelined
//! requests, then reads their responses, so a high rate does not need one
//! round trip per event.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::http::{take_response, HttpError};
use crate::target::Target;

/// The most requests written in one batch.
const MAX_BATCH: u64 = 256;

/// What to publish.
#[derive(Clone, Debug)]
pub struct PublishPlan {
    /// Events per second.
    pub rate: f64,
    /// How long to publish.
    pub duration: Duration,
    /// Stop after this many events even if time is left.
    pub max_count: u64,
    /// The counter value of the first event.
    pub first_seq: u64,
    /// Padding carried in every event (makes events a realistic size).
    pub pad: String,
}

/// What the publisher did.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct PublishOutcome {
    /// Requests sent.
    pub sent: u64,
    /// Requests answered 2xx.
    pub accepted: u64,
    /// Requests answered otherwise.
    pub rejected: u64,
    /// Seconds from the first request to the last response.
    pub elapsed_s: f64,
    /// Seconds from the first request to one interval after the last one
    /// (the time over which the rate was offered).
    pub send_window_s: f64,
    /// `accepted / elapsed_s`: what the server actually took in.
    pub achieved_rate: f64,
    /// Why it stopped early, if it did.
    pub error: Option<String>,
}

/// Why publishing stopped.
#[derive(Debug, thiserror::Error)]
enum PublishError {
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    #[error("http: {0}")]
    Http(#[from] HttpError),
    #[error("the server closed the publish connection")]
    Closed,
    #[error("responses still missing {0:?} after the publish window")]
    Late(Duration),
}

/// Publishes per `plan`; `base` is the instant `sent_us` counts from.
pub async fn publish(target: &Target, plan: &PublishPlan, base: Instant) -> PublishOutcome {
    let mut out = PublishOutcome::default();
    let started = Instant::now();
    if let Err(e) = drive(target, plan, base, &mut out).await {
        out.error = Some(e.to_string());
    }
    out.elapsed_s = started.elapsed().as_secs_f64();
    if out.elapsed_s > 0.0 {
        out.achieved_rate = out.accepted as f64 / out.elapsed_s;
    }
    out
}

async fn drive(
    target: &Target,
    plan: &PublishPlan,
    base: Instant,
    out: &mut PublishOutcome,
) -> Result<(), PublishError> {
    let mut stream = TcpStream::connect(target.addr).await?;
    stream.set_nodelay(true)?;
    let mut ticker = tokio::time::interval(Duration::from_millis(1));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut wbuf = Vec::with_capacity(64 * 1024);
    let mut rbuf = vec![0u8; 64 * 1024];
    let (mut start, mut end) = (0usize, 0usize);
    let t0 = Instant::now();
    // A server that falls far behind does not hold the run hostage.
    let grace = Duration::from_secs(3);
    let deadline = tokio::time::Instant::now() + plan.duration + grace;
    while out.sent < plan.max_count {
        ticker.tick().await;
        let elapsed = t0.elapsed();
        if elapsed >= plan.duration {
            break;
        }
        // The first event goes out at once; then `rate` per second.
        let due = ((elapsed.as_secs_f64() * plan.rate) as u64 + 1).min(plan.max_count);
        if due <= out.sent {
            continue;
        }
        let batch = (due - out.sent).min(MAX_BATCH);
        wbuf.clear();
        let sent_us = base.elapsed().as_micros() as u64;
        for i in 0..batch {
            target.publish_request(plan.first_seq + out.sent + i, sent_us, &plan.pad, &mut wbuf);
        }
        stream.write_all(&wbuf).await?;
        out.sent += batch;
        out.send_window_s = t0.elapsed().as_secs_f64() + 1.0 / plan.rate.max(1e-9);
        let mut waiting = batch;
        while waiting > 0 {
            if let Some((head, used)) = take_response(&rbuf[start..end])? {
                if (200..300).contains(&head.status) {
                    out.accepted += 1;
                } else {
                    out.rejected += 1;
                }
                start += used;
                waiting -= 1;
                continue;
            }
            if start > 0 {
                rbuf.copy_within(start..end, 0);
                end -= start;
                start = 0;
            }
            if end == rbuf.len() {
                rbuf.resize(rbuf.len() * 2, 0);
            }
            let n = tokio::time::timeout_at(deadline, stream.read(&mut rbuf[end..]))
                .await
                .map_err(|_| PublishError::Late(grace))??;
            if n == 0 {
                return Err(PublishError::Closed);
            }
            end += n;
        }
    }
    Ok(())
}
