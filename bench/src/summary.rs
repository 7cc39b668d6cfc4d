//! Medians over repetitions, ratios against tidings, and the tables written
//! to `summary.md`, `summary.csv` and `summary.json`.

use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use crate::report::StepResult;
use crate::suite::{write_json, Outcome, Record};

/// One metric of one server: the median over repetitions, and the spread.
#[derive(Clone, Debug, Serialize)]
pub struct Cell {
    /// Scenario key (`fanout-1000`, ...).
    pub scenario: String,
    /// What is measured.
    pub metric: String,
    /// The server.
    pub server: String,
    /// Median over repetitions.
    pub median: f64,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
    /// Repetitions that produced a value.
    pub runs: usize,
}

type Extract = fn(&Record) -> Option<f64>;

/// (scenario prefix, metric label, extractor).
fn metrics() -> Vec<(&'static str, &'static str, Extract)> {
    vec![
        ("fanout", "max deliveries/s, no drop", |r| {
            best(r).map(|s| s.deliveries_per_s).or(Some(0.0))
        }),
        ("fanout", "server CPU µs/delivery there", |r| {
            best(r).map(|s| s.server_cpu_us_per_delivery)
        }),
        ("fanout", "server cores there", |r| {
            best(r).map(|s| s.server_cores)
        }),
        ("fanout", "generator cores there", |r| {
            best(r).map(|s| s.gen_cores)
        }),
        ("fanout", "server CPU µs/delivery at 300k/s", |r| {
            at(r, 300e3).map(|s| s.server_cpu_us_per_delivery)
        }),
        ("fanout", "server CPU µs/delivery at 1M/s", |r| {
            at(r, 1e6).map(|s| s.server_cpu_us_per_delivery)
        }),
        ("fanout", "p50 ms at 100k/s", |r| {
            at(r, 100e3).map(|s| ms(s.latency.p50_us))
        }),
        ("fanout", "p99 ms at 100k/s", |r| {
            at(r, 100e3).map(|s| ms(s.latency.p99_us))
        }),
        ("fanout", "p99.9 ms at 100k/s", |r| {
            at(r, 100e3).map(|s| ms(s.latency.p999_us))
        }),
        ("fanout", "drops at 100k/s", |r| {
            at(r, 100e3).map(|s| (s.gaps + s.missing) as f64)
        }),
        ("slow", "healthy p50 ms", |r| {
            first(r).map(|s| ms(s.latency.p50_us))
        }),
        ("slow", "healthy p99 ms", |r| {
            first(r).map(|s| ms(s.latency.p99_us))
        }),
        ("slow", "healthy p99.9 ms", |r| {
            first(r).map(|s| ms(s.latency.p999_us))
        }),
        ("slow", "healthy drops", |r| {
            first(r).map(|s| (s.gaps + s.missing) as f64)
        }),
        ("slow", "publish rate held %", |r| {
            first(r).map(|s| 100.0 * s.publish.achieved_rate / s.rate)
        }),
        ("slow", "server RSS start MiB", |r| {
            first(r).map(|s| s.server_rss_kib.0 as f64 / 1024.0)
        }),
        ("slow", "server RSS max MiB", |r| {
            first(r).map(|s| {
                s.series
                    .iter()
                    .map(|p| p.server_rss_kib)
                    .max()
                    .unwrap_or(s.server_rss_kib.1) as f64
                    / 1024.0
            })
        }),
        ("slow", "server RSS end MiB", |r| {
            first(r).map(|s| s.server_rss_kib.1 as f64 / 1024.0)
        }),
        ("slow", "server CPU µs/delivery", |r| {
            first(r).map(|s| s.server_cpu_us_per_delivery)
        }),
        ("idle", "streams open", |r| {
            idle(r).map(|i| i.connect.connected as f64)
        }),
        ("idle", "server RSS KiB per stream", |r| {
            idle(r).map(|i| i.rss_per_stream_kib)
        }),
        ("idle", "idle server CPU % of a core", |r| {
            idle(r).map(|i| 100.0 * i.idle_server_cores)
        }),
        ("storm", "accepted %", |r| storm(r).map(|s| s.accepted_pct)),
        ("storm", "exact resume (no gap, no dup) %", |r| {
            storm(r).map(|s| s.exact_pct)
        }),
        ("storm", "p99 ms to first replayed event", |r| {
            storm(r).and_then(|s| (s.first_event.count > 0).then(|| ms(s.first_event.p99_us)))
        }),
        ("storm", "p99 ms to first byte", |r| {
            storm(r).map(|s| ms(s.connect.p99_us))
        }),
        ("storm", "server CPU s", |r| {
            storm(r).map(|s| s.server_cpu_s)
        }),
    ]
}

fn ms(us: u64) -> f64 {
    us as f64 / 1e3
}

fn steps(r: &Record) -> &[StepResult] {
    match &r.outcome {
        Outcome::Ladder(l) => &l.steps,
        _ => &[],
    }
}

/// The fastest step that passed.
fn best(r: &Record) -> Option<&StepResult> {
    steps(r)
        .iter()
        .filter(|s| s.ok)
        .max_by(|a, b| a.deliveries_per_s.total_cmp(&b.deliveries_per_s))
}

/// The step aimed at `deliveries` per second (within 10%).
fn at(r: &Record, deliveries: f64) -> Option<&StepResult> {
    steps(r)
        .iter()
        .find(|s| (s.target_deliveries_per_s - deliveries).abs() <= 0.1 * deliveries)
}

fn first(r: &Record) -> Option<&StepResult> {
    steps(r).first()
}

fn idle(r: &Record) -> Option<&crate::report::IdleResult> {
    match &r.outcome {
        Outcome::Idle(i) => Some(i),
        _ => None,
    }
}

fn storm(r: &Record) -> Option<&crate::report::StormResult> {
    match &r.outcome {
        Outcome::Storm(s) => Some(s),
        _ => None,
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Medians of every metric for every (scenario, server) present in `records`.
pub fn cells(records: &[Record]) -> Vec<Cell> {
    let mut scenarios: Vec<&str> = Vec::new();
    let mut servers: Vec<&str> = Vec::new();
    for r in records {
        if !scenarios.contains(&r.scenario.as_str()) {
            scenarios.push(&r.scenario);
        }
        if !servers.contains(&r.server.as_str()) {
            servers.push(&r.server);
        }
    }
    let mut out = Vec::new();
    for scenario in &scenarios {
        for (prefix, metric, extract) in metrics() {
            if !scenario.starts_with(prefix) {
                continue;
            }
            for server in &servers {
                let values: Vec<f64> = records
                    .iter()
                    .filter(|r| r.scenario == *scenario && r.server == *server && r.error.is_none())
                    .filter_map(extract)
                    .filter(|v| v.is_finite())
                    .collect();
                if values.is_empty() {
                    continue;
                }
                out.push(Cell {
                    scenario: scenario.to_string(),
                    metric: metric.to_string(),
                    server: server.to_string(),
                    min: values.iter().copied().fold(f64::INFINITY, f64::min),
                    max: values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                    runs: values.len(),
                    median: median(values),
                })
            }
        }
    }
    // Slow consumers: how far the stalled clients moved the healthy p99.
    for server in &servers {
        let p99 = |scenario: &str| {
            out.iter()
                .find(|c: &&Cell| {
                    c.scenario == scenario && c.server == *server && c.metric == "healthy p99 ms"
                })
                .map(|c| c.median)
        };
        if let (Some(base), Some(stalled)) = (p99("slow-baseline"), p99("slow-stalled")) {
            if base > 0.0 {
                let change = 100.0 * (stalled / base - 1.0);
                out.push(Cell {
                    scenario: "slow-stalled".into(),
                    metric: "healthy p99 change vs no stall %".into(),
                    server: server.to_string(),
                    median: change,
                    min: change,
                    max: change,
                    runs: 1,
                });
            }
        }
    }
    out
}

fn fmt_num(v: f64) -> String {
    if !v.is_finite() {
        "–".into()
    } else if v.abs() >= 100_000.0 {
        format!("{:.0}k", v / 1e3)
    } else if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// Markdown tables: one per scenario, a column per server, then each peer
/// over tidings.
pub fn markdown(cells: &[Cell], servers: &[&str]) -> String {
    let mut md = String::new();
    let mut scenarios: Vec<&str> = Vec::new();
    for c in cells {
        if !scenarios.contains(&c.scenario.as_str()) {
            scenarios.push(&c.scenario);
        }
    }
    let peers: Vec<&str> = servers
        .iter()
        .copied()
        .filter(|s| *s != "tidings")
        .collect();
    for scenario in scenarios {
        let _ = writeln!(md, "\n#### {scenario}\n");
        let mut header = String::from("| metric |");
        let mut rule = String::from("|---|");
        for s in servers {
            let _ = write!(header, " {s} |");
            rule.push_str("---:|");
        }
        for p in &peers {
            let _ = write!(header, " {p} ÷ tidings |");
            rule.push_str("---:|");
        }
        let _ = writeln!(md, "{header}\n{rule}");
        let mut metrics: Vec<&str> = Vec::new();
        for c in cells.iter().filter(|c| c.scenario == scenario) {
            if !metrics.contains(&c.metric.as_str()) {
                metrics.push(&c.metric);
            }
        }
        for metric in metrics {
            let value = |server: &str| {
                cells
                    .iter()
                    .find(|c| c.scenario == scenario && c.metric == metric && c.server == server)
                    .map(|c| c.median)
            };
            let mut row = format!("| {metric} |");
            for s in servers {
                let _ = write!(
                    row,
                    " {} |",
                    value(s).map(fmt_num).unwrap_or_else(|| "n/a".into())
                );
            }
            for p in &peers {
                // A ratio of two relative changes means nothing.
                let relative = metric.contains("change");
                let ratio = match (value(p), value("tidings")) {
                    (Some(a), Some(b))
                        if !relative && b != 0.0 && a.is_finite() && b.is_finite() =>
                    {
                        format!("{:.2}×", a / b)
                    }
                    _ => "–".into(),
                };
                let _ = write!(row, " {ratio} |");
            }
            let _ = writeln!(md, "{row}");
        }
    }
    md
}

/// Writes summary.json, summary.csv and summary.md next to runs.json.
pub fn write(records: &[Record], out: &Path, header: &str) -> std::io::Result<()> {
    let cells = cells(records);
    write_json(&out.join("summary.json"), &cells)?;
    let mut csv = String::from("scenario,metric,server,median,min,max,runs\n");
    for c in &cells {
        let _ = writeln!(
            csv,
            "{},\"{}\",{},{},{},{},{}",
            c.scenario, c.metric, c.server, c.median, c.min, c.max, c.runs
        );
    }
    std::fs::write(out.join("summary.csv"), csv)?;
    let mut servers: Vec<&str> = Vec::new();
    for r in records {
        if !servers.contains(&r.server.as_str()) {
            servers.push(&r.server);
        }
    }
    let mut md = String::from(header);
    md.push_str(&markdown(&cells, &servers));
    let errors: Vec<String> = records
        .iter()
        .filter_map(|r| {
            r.error
                .as_ref()
                .map(|e| format!("- {} {} rep {}: {e}", r.scenario, r.server, r.rep))
        })
        .collect();
    if !errors.is_empty() {
        md.push_str("\nRuns that could not be measured:\n");
        md.push_str(&errors.join("\n"));
        md.push('\n');
    }
    std::fs::write(out.join("summary.md"), md)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_of_odd_and_even_counts() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(vec![]).is_nan());
    }

    #[test]
    fn tables_carry_ratios_against_tidings() {
        let cell = |server: &str, v: f64| Cell {
            scenario: "idle".into(),
            metric: "server RSS KiB per stream".into(),
            server: server.into(),
            median: v,
            min: v,
            max: v,
            runs: 1,
        };
        let md = markdown(
            &[cell("tidings", 4.0), cell("axum", 10.0)],
            &["tidings", "axum"],
        );
        assert!(
            md.contains("| server RSS KiB per stream | 4.00 | 10.0 | 2.50× |"),
            "{md}"
        );
    }
}
