//! The three kinds of run: a fan-out ladder, idle density, and a reconnect
//! storm. Each builds its own runtime, is bounded in time and count, and
//! talks to loopback only.

use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::procstat::{sample_all, sample_self};
use crate::publisher::{publish, PublishOutcome, PublishPlan};
use crate::report::{
    ConnectSummary, IdleResult, LadderResult, Latency, ProcPoint, StepResult, StormResult,
};
use crate::subscriber::{self, new_histogram, Shared, SubOutcome, SubPlan};
use crate::target::Target;

/// Settings every run shares.
#[derive(Clone, Debug)]
pub struct GenConfig {
    /// Worker threads of the generator's runtime.
    pub threads: usize,
    /// Source addresses 127.0.0.2 ... 127.0.0.(1+src_ips).
    pub src_ips: u8,
    /// The server's processes, for CPU and RSS.
    pub server_pids: Vec<u32>,
    /// Connections opened at once.
    pub connect_batch: usize,
    /// Limit on opening all connections.
    pub connect_timeout: Duration,
}

impl Default for GenConfig {
    fn default() -> Self {
        GenConfig {
            threads: 2,
            src_ips: 32,
            server_pids: Vec::new(),
            connect_batch: 500,
            connect_timeout: Duration::from_secs(60),
        }
    }
}

impl GenConfig {
    fn src(&self, i: usize) -> Ipv4Addr {
        let n = usize::from(self.src_ips.max(1));
        Ipv4Addr::new(127, 0, 0, 2 + (i % n) as u8)
    }
}

/// Raises this process's open-files limit to the hard limit; returns it.
pub fn raise_nofile() -> u64 {
    rlimit::increase_nofile_limit(u64::MAX).unwrap_or(1024)
}

fn runtime(threads: usize) -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .enable_all()
        .build()
}

/// A fan-out run's shape.
#[derive(Clone, Debug)]
pub struct LadderPlan {
    /// Connections in all.
    pub subscribers: usize,
    /// How many of them stop reading once connected.
    pub stalled: usize,
    /// (events/s, longest duration, most events) for each step, in order.
    pub steps: Vec<(f64, Duration, u64)>,
    /// Padding per event, bytes.
    pub pad: usize,
    /// The longest wait for late deliveries after a step.
    pub drain: Duration,
    /// Stop at the first step that drops, duplicates or cannot hold its rate.
    pub stop_on_failure: bool,
}

/// Opens `plans.len()` connections in batches; returns their handles and a summary.
async fn open(
    target: &Arc<Target>,
    plans: Vec<SubPlan>,
    shared: &Arc<Shared>,
    cfg: &GenConfig,
) -> (Vec<tokio::task::JoinHandle<SubOutcome>>, ConnectSummary) {
    let started = Instant::now();
    let deadline = started + cfg.connect_timeout;
    let requested = plans.len() as u64;
    let mut handles = Vec::with_capacity(plans.len());
    let mut spawned = 0u64;
    let mut plans = plans.into_iter().peekable();
    while plans.peek().is_some() {
        for plan in plans.by_ref().take(cfg.connect_batch.max(1)) {
            handles.push(tokio::spawn(subscriber::run(
                target.clone(),
                plan,
                shared.clone(),
            )));
            spawned += 1;
        }
        while shared.connected.load(Ordering::Relaxed) + shared.finished.load(Ordering::Relaxed)
            < spawned
            && Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    let summary = ConnectSummary {
        requested,
        connected: shared.connected.load(Ordering::Relaxed),
        elapsed_s: started.elapsed().as_secs_f64(),
        ..ConnectSummary::default()
    };
    (handles, summary)
}

/// Joins every connection; fills in statuses and errors.
async fn close(
    handles: Vec<tokio::task::JoinHandle<SubOutcome>>,
    summary: &mut ConnectSummary,
) -> Vec<SubOutcome> {
    let mut outs = Vec::with_capacity(handles.len());
    for h in handles {
        if let Ok(o) = h.await {
            *summary.statuses.entry(o.status).or_default() += 1;
            if let Some(e) = &o.error {
                if summary.sample_errors.len() < 5 {
                    summary.sample_errors.push(e.clone());
                }
            }
            outs.push(o);
        }
    }
    outs
}

fn plan(index: usize, cfg: &GenConfig) -> SubPlan {
    SubPlan {
        index,
        src: cfg.src(index),
        stall: false,
        last_event_id: None,
        expect_first: 0,
        finish_at: None,
        learn_ids: false,
        record_latency: true,
        start_at: None,
    }
}

/// Samples the server every 250 ms on its own thread until stopped.
struct Sampler {
    stop: Arc<AtomicBool>,
    points: Arc<Mutex<Vec<ProcPoint>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Sampler {
    fn start(pids: Vec<u32>) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let points = Arc::new(Mutex::new(Vec::new()));
        let (s, p) = (stop.clone(), points.clone());
        let thread = std::thread::spawn(move || {
            let t0 = Instant::now();
            let cpu0 = sample_all(&pids).cpu_s;
            while !s.load(Ordering::Relaxed) {
                let now = sample_all(&pids);
                if let Ok(mut p) = p.lock() {
                    p.push(ProcPoint {
                        t_s: t0.elapsed().as_secs_f64(),
                        server_rss_kib: now.rss_kib,
                        server_cpu_s: now.cpu_s - cpu0,
                    });
                }
                std::thread::sleep(Duration::from_millis(250));
            }
        });
        Sampler {
            stop,
            points,
            thread: Some(thread),
        }
    }

    fn finish(mut self) -> Vec<ProcPoint> {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.points.lock().map(|p| p.clone()).unwrap_or_default()
    }
}

/// Publishes on a thread of its own so its ticks are not delayed by the
/// subscribers' work on the main runtime.
async fn publish_on_thread(
    target: Arc<Target>,
    plan: PublishPlan,
    base: Instant,
) -> PublishOutcome {
    let handle = std::thread::spawn(move || {
        match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => rt.block_on(publish(&target, &plan, base)),
            Err(e) => PublishOutcome {
                error: Some(format!("publisher runtime: {e}")),
                ..PublishOutcome::default()
            },
        }
    });
    tokio::task::spawn_blocking(move || handle.join().unwrap_or_default())
        .await
        .unwrap_or_default()
}

/// Whether connection `i` of `n` is one of the `stalled`, spread evenly.
fn is_stalled(i: usize, n: usize, stalled: usize) -> bool {
    if stalled == 0 {
        return false;
    }
    let every = (n / stalled).max(1);
    i % every == 0 && i / every < stalled
}

/// Opens the connections once, then holds each publish rate in turn.
pub fn ladder(
    target: &Target,
    plan: &LadderPlan,
    cfg: &GenConfig,
) -> std::io::Result<LadderResult> {
    let rt = runtime(cfg.threads)?;
    let target = Arc::new(target.clone());
    Ok(rt.block_on(async {
        let shared = Arc::new(Shared::new());
        let plans = (0..plan.subscribers)
            .map(|i| SubPlan {
                // Spread the stalled clients evenly over the connections.
                stall: is_stalled(i, plan.subscribers, plan.stalled),
                ..self::plan(i, cfg)
            })
            .collect::<Vec<_>>();
        let stalled = plans.iter().filter(|p| p.stall).count() as u64;
        let (handles, mut connect) = open(&target, plans, &shared, cfg).await;
        let healthy = connect.connected.saturating_sub(stalled);
        let pad = "x".repeat(plan.pad);
        let mut steps = Vec::new();
        let mut seq = 0u64;
        for &(rate, duration, max_count) in &plan.steps {
            shared.reset_latency();
            let (d0, g0, u0) = (
                shared.delivered.load(Ordering::Relaxed),
                shared.gaps.load(Ordering::Relaxed),
                shared.dups.load(Ordering::Relaxed),
            );
            let (s0, me0, t0) = (sample_all(&cfg.server_pids), sample_self(), Instant::now());
            let sampler = Sampler::start(cfg.server_pids.clone());
            let pub_plan = PublishPlan {
                rate,
                duration,
                max_count,
                first_seq: seq,
                pad: pad.clone(),
            };
            let published = publish_on_thread(target.clone(), pub_plan, shared.base).await;
            let expected = published.accepted * healthy;
            let drain_until = Instant::now() + plan.drain;
            while shared.delivered.load(Ordering::Relaxed) - d0 < expected
                && Instant::now() < drain_until
            {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            // Deliveries per second over the time they really took: from the
            // first publish to the last delivery (or the end of the drain).
            let delivery_s = t0.elapsed().as_secs_f64();
            let (s1, me1, wall) = (
                sample_all(&cfg.server_pids),
                sample_self(),
                t0.elapsed().as_secs_f64(),
            );
            let series = sampler.finish();
            seq += published.sent;
            let deliveries = shared.delivered.load(Ordering::Relaxed) - d0;
            let gaps = shared.gaps.load(Ordering::Relaxed) - g0;
            let dups = shared.dups.load(Ordering::Relaxed) - u0;
            let missing = expected.saturating_sub(deliveries);
            let server_cpu_s = s1.cpu_s - s0.cpu_s;
            let gen_cpu_s = me1.cpu_s - me0.cpu_s;
            let ok = gaps == 0
                && dups == 0
                && missing == 0
                && published.rejected == 0
                && published.error.is_none()
                && published.achieved_rate >= 0.9 * rate
                && healthy > 0;
            let publish_s = delivery_s.max(published.send_window_s).max(1e-3);
            steps.push(StepResult {
                rate,
                target_deliveries_per_s: rate * healthy as f64,
                healthy,
                stalled,
                deliveries,
                expected,
                deliveries_per_s: deliveries as f64 / publish_s,
                gaps,
                dups,
                missing,
                ok,
                latency: Latency::of(&shared.merged_latency()),
                server_cpu_s,
                server_cores: server_cpu_s / wall,
                server_cpu_us_per_delivery: if deliveries > 0 {
                    server_cpu_s * 1e6 / deliveries as f64
                } else {
                    0.0
                },
                gen_cpu_s,
                gen_cores: gen_cpu_s / wall,
                server_rss_kib: (s0.rss_kib, s1.rss_kib),
                series,
                publish: published,
            });
            if plan.stop_on_failure && !ok {
                break;
            }
        }
        shared.cancel.cancel();
        let outs = close(handles, &mut connect).await;
        let ended_early = outs.iter().filter(|o| o.error.is_some()).count() as u64;
        LadderResult {
            connect,
            steps,
            ended_early,
        }
    }))
}

/// Opens `n` streams, lets them sit idle, and measures what they cost.
pub fn idle(
    target: &Target,
    n: usize,
    idle_window: Duration,
    cfg: &GenConfig,
) -> std::io::Result<IdleResult> {
    let rt = runtime(cfg.threads)?;
    let target = Arc::new(target.clone());
    Ok(rt.block_on(async {
        let shared = Arc::new(Shared::new());
        let before = sample_all(&cfg.server_pids);
        let (handles, mut connect) = open(
            &target,
            (0..n).map(|i| plan(i, cfg)).collect(),
            &shared,
            cfg,
        )
        .await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        let s0 = sample_all(&cfg.server_pids);
        let t0 = Instant::now();
        tokio::time::sleep(idle_window).await;
        let s1 = sample_all(&cfg.server_pids);
        let wall = t0.elapsed().as_secs_f64();
        shared.cancel.cancel();
        close(handles, &mut connect).await;
        let after = s0.rss_kib.max(s1.rss_kib);
        IdleResult {
            rss_before_kib: before.rss_kib,
            rss_after_kib: after,
            rss_per_stream_kib: if connect.connected > 0 {
                after.saturating_sub(before.rss_kib) as f64 / connect.connected as f64
            } else {
                0.0
            },
            idle_window_s: wall,
            idle_server_cpu_s: s1.cpu_s - s0.cpu_s,
            idle_server_cores: (s1.cpu_s - s0.cpu_s) / wall,
            connect,
        }
    }))
}

/// A reconnect storm's shape.
#[derive(Clone, Debug)]
pub struct StormPlan {
    /// Clients that come back.
    pub clients: usize,
    /// Events published before the storm (more than the furthest a client is behind).
    pub history: u64,
    /// A client is 1..=max_behind events behind.
    pub max_behind: u64,
    /// The clients reconnect evenly over this window.
    pub window: Duration,
    /// The longest wait, after the window, for clients to finish.
    pub grace: Duration,
}

/// Publishes some history, learns the ids from one listener, then brings
/// every client back within the window with an id some events behind.
pub fn storm(target: &Target, plan: &StormPlan, cfg: &GenConfig) -> std::io::Result<StormResult> {
    let rt = runtime(cfg.threads)?;
    let target = Arc::new(target.clone());
    Ok(rt.block_on(async {
        let mut result = StormResult {
            clients: plan.clients as u64,
            history_events: plan.history,
            window_s: plan.window.as_secs_f64(),
            ..StormResult::default()
        };
        // 1. One listener learns the id of every history event.
        let learn = Arc::new(Shared::new());
        let learner_plan = SubPlan {
            learn_ids: true,
            record_latency: false,
            finish_at: Some(plan.history - 1),
            ..self::plan(0, cfg)
        };
        let (mut learner, _) = open(&target, vec![learner_plan], &learn, cfg).await;
        let published = publish_on_thread(
            target.clone(),
            PublishPlan {
                rate: 1000.0,
                duration: Duration::from_secs(10),
                max_count: plan.history,
                first_seq: 0,
                pad: String::new(),
            },
            learn.base,
        )
        .await;
        let until = Instant::now() + Duration::from_secs(5);
        while learn.completed.load(Ordering::Relaxed) == 0 && Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        learn.cancel.cancel();
        let ids = match learner.pop() {
            Some(h) => h.await.map(|o| o.ids).unwrap_or_default(),
            None => Vec::new(),
        };
        if ids.len() as u64 != plan.history || published.accepted != plan.history {
            result.sample_errors.push(format!(
                "learner saw {} of {} events ({} accepted): no storm",
                ids.len(),
                plan.history,
                published.accepted
            ));
            return result;
        }
        // 2. The storm.
        let shared = Arc::new(Shared::new());
        let s0 = sample_all(&cfg.server_pids);
        let start = Instant::now() + Duration::from_millis(50);
        let step = plan.window.as_secs_f64() / plan.clients.max(1) as f64;
        let last = plan.history - 1;
        let mut behind_of = Vec::with_capacity(plan.clients);
        let handles: Vec<_> = (0..plan.clients)
            .map(|i| {
                // 1..=max_behind, spread evenly (19 is coprime with 50).
                let behind = 1 + (i as u64 * 19) % plan.max_behind.max(1);
                behind_of.push(behind);
                let seen = last - behind;
                let p = SubPlan {
                    last_event_id: ids.get(seen as usize).map(|(_, id)| id.clone()),
                    expect_first: seen + 1,
                    finish_at: Some(last),
                    record_latency: false,
                    start_at: Some(start + Duration::from_secs_f64(step * i as f64)),
                    ..self::plan(i, cfg)
                };
                tokio::spawn(subscriber::run(target.clone(), p, shared.clone()))
            })
            .collect();
        let until = start + plan.window + plan.grace;
        // Every client ends up in `finished`, whether it completed or not.
        // A server that cannot resume sends nothing at all: once every
        // client is in and two quiet seconds passed, waiting longer is moot.
        let clients = plan.clients as u64;
        let mut all_in_at: Option<Instant> = None;
        while shared.finished.load(Ordering::Relaxed) < clients && Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(10)).await;
            let settled = shared.connected.load(Ordering::Relaxed)
                + shared.finished.load(Ordering::Relaxed)
                >= clients;
            match all_in_at {
                None if settled => all_in_at = Some(Instant::now()),
                Some(at)
                    if at.elapsed() >= Duration::from_secs(2)
                        && shared.delivered.load(Ordering::Relaxed) == 0 =>
                {
                    break
                }
                _ => {}
            }
        }
        shared.cancel.cancel();
        let mut summary = ConnectSummary::default();
        let outs = close(handles, &mut summary).await;
        result.server_cpu_s = sample_all(&cfg.server_pids).cpu_s - s0.cpu_s;
        let (mut first, mut conn) = (new_histogram(), new_histogram());
        for (o, behind) in outs.iter().zip(behind_of) {
            if o.status == 200 {
                result.accepted += 1;
            }
            if o.gaps > 0 || o.first_seq.is_some_and(|f| f > last - behind + 1) {
                result.with_gaps += 1;
            }
            if o.dups > 0 {
                result.with_dups += 1;
            }
            if o.finished {
                result.finished += 1;
            }
            if o.finished
                && o.gaps == 0
                && o.dups == 0
                && o.delivered == behind
                && o.first_seq == Some(last - behind + 1)
            {
                result.exact += 1;
            }
            if let Some(us) = o.first_event_us {
                let _ = first.record(us.max(1));
            }
            if let Some(us) = o.connect_us {
                let _ = conn.record(us.max(1));
            }
        }
        let n = plan.clients.max(1) as f64;
        result.accepted_pct = 100.0 * result.accepted as f64 / n;
        result.exact_pct = 100.0 * result.exact as f64 / n;
        result.first_event = Latency::of(&first);
        result.connect = Latency::of(&conn);
        result.statuses = summary.statuses;
        result.sample_errors.extend(summary.sample_errors);
        result
    }))
}
