//! The benchmark suite: every scenario against tidings and every peer, side
//! by side, repeated, with a fresh server per run.
//!
//! Runs are interleaved (repetition → scenario → server) so that whatever
//! else the machine is doing weighs on every server alike. Each finished run
//! is appended to `runs.json` at once, so an interrupted suite keeps what it
//! measured; `summary` turns the runs into medians and tables.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::loadgen::{self, GenConfig, LadderPlan, StormPlan};
use crate::report::{IdleResult, LadderResult, StormResult};
use crate::servers::{Kind, Programs, Server};

/// How much to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// One repetition, short steps: under five minutes for four servers.
    Quick,
    /// Three repetitions, longer steps, a finer rate ladder.
    Full,
}

/// The numbers that make a mode.
#[derive(Clone, Debug, Serialize)]
pub struct Shape {
    /// Repetitions of everything (medians are taken over them).
    pub runs: usize,
    /// Subscriber counts of the fan-out scenario.
    pub fanout_subscribers: Vec<usize>,
    /// Deliveries per second the ladder climbs through.
    pub fanout_deliveries: Vec<f64>,
    /// How long each rate is held.
    pub step_s: f64,
    /// Slow consumers: subscribers, events/s, seconds.
    pub slow: (usize, f64, f64),
    /// Idle density: streams, idle seconds.
    pub idle: (usize, f64),
    /// Reconnect storm: clients, grace seconds after the 1 s window.
    pub storm: (usize, f64),
}

impl Shape {
    /// The shape of `mode`.
    pub fn of(mode: Mode) -> Self {
        match mode {
            Mode::Quick => Shape {
                runs: 1,
                fanout_subscribers: vec![1000, 10_000],
                fanout_deliveries: vec![30e3, 100e3, 300e3, 1e6],
                step_s: 2.0,
                slow: (1000, 100.0, 5.0),
                idle: (10_000, 3.0),
                storm: (10_000, 10.0),
            },
            Mode::Full => Shape {
                runs: 3,
                fanout_subscribers: vec![1000, 10_000],
                fanout_deliveries: vec![10e3, 30e3, 100e3, 300e3, 500e3, 1e6, 1.5e6, 2e6],
                step_s: 3.0,
                slow: (1000, 100.0, 8.0),
                idle: (10_000, 8.0),
                storm: (10_000, 10.0),
            },
        }
    }
}

/// One scenario run against one server.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Record {
    /// `fanout-1000`, `slow-baseline`, `slow-stalled`, `idle`, `storm`.
    pub scenario: String,
    /// `tidings`, `axum`, `starlette`, `nchan`.
    pub server: String,
    /// Repetition, from 0.
    pub rep: usize,
    /// What it measured.
    pub outcome: Outcome,
    /// Why it could not run, if it could not.
    pub error: Option<String>,
}

/// The measurement of one record.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// A fan-out ladder (also the slow-consumer runs).
    Ladder(LadderResult),
    /// Idle density.
    Idle(IdleResult),
    /// Reconnect storm.
    Storm(StormResult),
    /// Nothing (the server did not start).
    None,
}

/// Everything the suite writes.
pub struct Suite {
    /// Quick or full.
    pub mode: Mode,
    /// Servers, in the order they are reported.
    pub servers: Vec<Kind>,
    /// How to start them.
    pub programs: Programs,
    /// Where results go.
    pub out: PathBuf,
    /// Generator settings.
    pub gen: GenConfig,
    /// Only scenarios whose name starts with one of these (all when empty).
    pub only: Vec<String>,
}

impl Suite {
    /// Runs every scenario; returns the records (also written to `runs.json`).
    pub fn run(&self) -> std::io::Result<Vec<Record>> {
        let shape = Shape::of(self.mode);
        std::fs::create_dir_all(&self.out)?;
        let started = Instant::now();
        let mut records = Vec::new();
        let mut run_id = 0u64;
        for rep in 0..shape.runs {
            for scenario in scenarios(&shape).into_iter().filter(|s| {
                self.only.is_empty() || self.only.iter().any(|o| s.starts_with(o.as_str()))
            }) {
                for &kind in &self.servers {
                    run_id += 1;
                    let t = Instant::now();
                    let record = self.one(kind, &scenario, &shape, rep, run_id);
                    eprintln!(
                        "[{:>5.0}s] rep {rep} {:<14} {:<9} {:>5.1}s  {}",
                        started.elapsed().as_secs_f64(),
                        scenario,
                        kind.name(),
                        t.elapsed().as_secs_f64(),
                        brief(&record)
                    );
                    records.push(record);
                    write_json(&self.out.join("runs.json"), &records)?;
                }
            }
        }
        Ok(records)
    }

    fn one(&self, kind: Kind, scenario: &str, shape: &Shape, rep: usize, run_id: u64) -> Record {
        let mut record = Record {
            scenario: scenario.to_string(),
            server: kind.name().to_string(),
            rep,
            outcome: Outcome::None,
            error: None,
        };
        let server = match Server::start(kind, &self.programs) {
            Ok(s) => s,
            Err(e) => {
                record.error = Some(e.to_string());
                return record;
            }
        };
        let target = server.target(run_id);
        let gen = GenConfig {
            server_pids: server.pids(),
            ..self.gen.clone()
        };
        let step = Duration::from_secs_f64(shape.step_s);
        let result = if let Some(n) = scenario.strip_prefix("fanout-") {
            let n: usize = n.parse().unwrap_or(1000);
            let plan = LadderPlan {
                subscribers: n,
                stalled: 0,
                steps: shape
                    .fanout_deliveries
                    .iter()
                    .map(|d| (d / n as f64, step, u64::MAX))
                    .collect(),
                pad: 64,
                drain: Duration::from_secs(2),
                stop_on_failure: true,
            };
            loadgen::ladder(&target, &plan, &gen).map(Outcome::Ladder)
        } else if let Some(which) = scenario.strip_prefix("slow-") {
            let (n, rate, secs) = shape.slow;
            let plan = LadderPlan {
                subscribers: n,
                stalled: if which == "stalled" { n / 20 } else { 0 },
                steps: vec![(rate, Duration::from_secs_f64(secs), u64::MAX)],
                pad: 64,
                drain: Duration::from_secs(2),
                stop_on_failure: false,
            };
            loadgen::ladder(&target, &plan, &gen).map(Outcome::Ladder)
        } else if scenario == "idle" {
            let (n, secs) = shape.idle;
            loadgen::idle(&target, n, Duration::from_secs_f64(secs), &gen).map(Outcome::Idle)
        } else {
            let (clients, grace) = shape.storm;
            let plan = StormPlan {
                clients,
                history: 60,
                max_behind: 50,
                window: Duration::from_secs(1),
                grace: Duration::from_secs_f64(grace),
            };
            loadgen::storm(&target, &plan, &gen).map(Outcome::Storm)
        };
        server.stop();
        match result {
            Ok(o) => record.outcome = o,
            Err(e) => record.error = Some(e.to_string()),
        }
        record
    }
}

/// The scenarios of a shape, in running order.
pub fn scenarios(shape: &Shape) -> Vec<String> {
    let mut s: Vec<String> = shape
        .fanout_subscribers
        .iter()
        .map(|n| format!("fanout-{n}"))
        .collect();
    s.extend(["slow-baseline", "slow-stalled", "idle", "storm"].map(String::from));
    s
}

/// One line about a record, for the progress log.
pub fn brief(r: &Record) -> String {
    if let Some(e) = &r.error {
        return format!("ERROR {e}");
    }
    match &r.outcome {
        Outcome::Ladder(l) => {
            let steps: Vec<String> = l
                .steps
                .iter()
                .map(|s| {
                    format!(
                        "{:.0}k/s{} p99={:.1}ms cpu={:.2}us/d gen={:.2}c",
                        s.deliveries_per_s / 1e3,
                        if s.ok {
                            String::new()
                        } else {
                            format!(
                                "(FAIL gaps={} miss={} dups={} rate={:.0}/{:.0})",
                                s.gaps, s.missing, s.dups, s.publish.achieved_rate, s.rate
                            )
                        },
                        s.latency.p99_us as f64 / 1e3,
                        s.server_cpu_us_per_delivery,
                        s.gen_cores
                    )
                })
                .collect();
            format!(
                "conn {}/{}: {}",
                l.connect.connected,
                l.connect.requested,
                steps.join(" | ")
            )
        }
        Outcome::Idle(i) => format!(
            "conn {}/{}: {:.1} KiB/stream, idle {:.3} cores",
            i.connect.connected, i.connect.requested, i.rss_per_stream_kib, i.idle_server_cores
        ),
        Outcome::Storm(s) => format!(
            "accepted {:.1}% exact {:.1}% first-event p99 {:.1}ms {}",
            s.accepted_pct,
            s.exact_pct,
            s.first_event.p99_us as f64 / 1e3,
            s.sample_errors.first().cloned().unwrap_or_default()
        ),
        Outcome::None => "no outcome".into(),
    }
}

/// Writes `value` as pretty JSON.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> std::io::Result<()> {
    let text = serde_json::to_string_pretty(value).map_err(std::io::Error::other)?;
    std::fs::write(path, text)
}
