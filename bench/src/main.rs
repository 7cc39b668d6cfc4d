//! `tidings-bench`: the load generator, the suite that runs it against
//! tidings and its peers, and the CI smoke run.
//!
//! - `suite --mode quick|full`: every scenario, every server, results under `--out`;
//! - `summarize --out DIR`: redo the tables from `DIR/runs.json`;
//! - `load`: one fan-out run against a server that is already running (for profiling);
//! - `smoke --tidings PATH`: 20 streams × 50 events against a fresh tidings; fails
//!   unless every event arrived once, in order;
//! - `output-flood`: `yes` in a task with clients following its live output,
//!   against the event stream's latency for other subscribers.

mod http;
mod loadgen;
mod output_flood;
mod procstat;
mod publisher;
mod report;
mod servers;
mod smoke;
mod sse_scan;
mod subscriber;
mod suite;
mod summary;
mod target;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

use crate::loadgen::{GenConfig, LadderPlan};
use crate::servers::{Kind, Programs};
use crate::suite::{Mode, Suite};

#[derive(Parser, Debug)]
#[command(about = "Load generator and benchmark suite for tidings and its peers")]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Worker threads of the generator.
    #[arg(long, global = true, default_value_t = 2)]
    threads: usize,
    /// Source addresses to spread connections over (127.0.0.2 ...).
    #[arg(long, global = true, default_value_t = 32)]
    src_ips: u8,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Every scenario against every server.
    Suite {
        /// quick (one repetition, < 5 min) or full (three repetitions).
        #[arg(long, value_enum, default_value = "quick")]
        mode: Mode,
        /// Where runs.json and the summaries go.
        #[arg(long)]
        out: PathBuf,
        /// Servers to measure, in report order.
        #[arg(
            long,
            value_enum,
            value_delimiter = ',',
            default_value = "tidings,axum,starlette,nchan"
        )]
        servers: Vec<Kind>,
        #[command(flatten)]
        programs: ProgramArgs,
        /// Markdown put before the tables (machine, command).
        #[arg(long, default_value = "")]
        header: String,
        /// Only these scenarios (name prefixes: fanout, fanout-1000, slow, idle, storm).
        #[arg(long, value_delimiter = ',')]
        scenarios: Vec<String>,
    },
    /// Rebuild summary.{json,csv,md} from runs.json.
    Summarize {
        /// The folder holding runs.json.
        #[arg(long)]
        out: PathBuf,
        /// Markdown put before the tables.
        #[arg(long, default_value = "")]
        header: String,
    },
    /// One fan-out run against a running server.
    Load {
        /// Which kind of server it is (decides paths and publish format).
        #[arg(long, value_enum)]
        kind: Kind,
        /// Its address.
        #[arg(long)]
        addr: SocketAddr,
        /// Its bearer token (tidings).
        #[arg(long)]
        token: Option<String>,
        /// Its processes, for CPU and RSS.
        #[arg(long)]
        pid: Vec<u32>,
        /// Connections.
        #[arg(long, default_value_t = 1000)]
        subscribers: usize,
        /// Of which this many stop reading.
        #[arg(long, default_value_t = 0)]
        stalled: usize,
        /// Publish rates (events/s), one step each.
        #[arg(long, value_delimiter = ',', default_value = "100")]
        rates: Vec<f64>,
        /// Seconds per step.
        #[arg(long, default_value_t = 3.0)]
        secs: f64,
        /// Write the full result as JSON here.
        #[arg(long)]
        json: Option<PathBuf>,
    },
    /// One reconnect storm against a running server.
    Storm {
        /// Which kind of server it is.
        #[arg(long, value_enum)]
        kind: Kind,
        /// Its address.
        #[arg(long)]
        addr: SocketAddr,
        /// Its processes, for CPU.
        #[arg(long)]
        pid: Vec<u32>,
        /// Clients.
        #[arg(long, default_value_t = 1000)]
        clients: usize,
        /// Seconds to wait after the 1 s window.
        #[arg(long, default_value_t = 3.0)]
        grace: f64,
    },
    /// `yes` in a task followed by `--followers` output streams, against the
    /// event stream's p99 for other subscribers (quiet / yes / yes+followers).
    OutputFlood {
        #[command(flatten)]
        programs: ProgramArgs,
        /// Streams following the task's output.
        #[arg(long, default_value_t = 20)]
        followers: usize,
        /// Event stream subscribers whose latency is measured.
        #[arg(long, default_value_t = 200)]
        subscribers: usize,
        /// Events per second published to them.
        #[arg(long, default_value_t = 100.0)]
        rate: f64,
        /// Seconds per phase.
        #[arg(long, default_value_t = 4.0)]
        secs: f64,
        /// Repetitions of the three phases.
        #[arg(long, default_value_t = 3)]
        reps: usize,
        /// Write every phase as JSON here.
        #[arg(long)]
        json: Option<PathBuf>,
    },
    /// The CI smoke run against a fresh tidings.
    Smoke {
        /// The tidings binary.
        #[arg(long)]
        tidings: PathBuf,
        /// Extra arguments for `tidings serve`.
        #[arg(long, allow_hyphen_values = true)]
        tidings_arg: Vec<String>,
    },
}

#[derive(clap::Args, Debug)]
struct ProgramArgs {
    /// The tidings binary.
    #[arg(long, default_value = "target/release/tidings")]
    tidings: PathBuf,
    /// Extra arguments for `tidings serve`, e.g. raised stream caps.
    #[arg(long, allow_hyphen_values = true)]
    tidings_arg: Vec<String>,
    /// The axum-peer binary.
    #[arg(long, default_value = "target/release/axum-peer")]
    axum: PathBuf,
    /// A Python with sse-starlette and uvicorn.
    #[arg(long, default_value = "python3")]
    python: PathBuf,
    /// The nginx binary (with nchan).
    #[arg(long, default_value = "/usr/sbin/nginx")]
    nginx: PathBuf,
    /// bench/peers.
    #[arg(long, default_value = "bench/peers")]
    peers_dir: PathBuf,
    /// Scratch space (data dirs, configs, server logs).
    #[arg(long, default_value = "bench/results/tmp")]
    scratch: PathBuf,
}

impl ProgramArgs {
    fn programs(&self) -> std::io::Result<Programs> {
        std::fs::create_dir_all(&self.scratch)?;
        Ok(Programs {
            tidings: self.tidings.clone(),
            tidings_args: self.tidings_arg.clone(),
            axum: self.axum.clone(),
            python: self.python.clone(),
            starlette_script: self.peers_dir.join("starlette_peer.py"),
            nginx: self.nginx.clone(),
            nchan_template: self.peers_dir.join("nchan.conf.template"),
            scratch: std::path::absolute(&self.scratch)?,
        })
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let nofile = loadgen::raise_nofile();
    let gen = GenConfig {
        threads: cli.threads,
        src_ips: cli.src_ips,
        ..GenConfig::default()
    };
    let outcome: Result<(), String> = match cli.command {
        Command::Suite {
            mode,
            out,
            servers,
            programs,
            header,
            scenarios,
        } => (|| {
            eprintln!("open-files limit: {nofile}");
            let suite = Suite {
                mode,
                servers,
                programs: programs.programs().map_err(|e| e.to_string())?,
                out: out.clone(),
                gen,
                only: scenarios,
            };
            let records = suite.run().map_err(|e| e.to_string())?;
            summary::write(&records, &out, &header).map_err(|e| e.to_string())
        })(),
        Command::Summarize { out, header } => (|| {
            let text = std::fs::read_to_string(out.join("runs.json")).map_err(|e| e.to_string())?;
            let records: Vec<suite::Record> =
                serde_json::from_str(&text).map_err(|e| e.to_string())?;
            summary::write(&records, &out, &header).map_err(|e| e.to_string())
        })(),
        Command::Load {
            kind,
            addr,
            token,
            pid,
            subscribers,
            stalled,
            rates,
            secs,
            json,
        } => (|| {
            let mut target = servers::target_for(kind, addr, 1);
            target.token = token.or(target.token);
            let plan = LadderPlan {
                subscribers,
                stalled,
                steps: rates
                    .iter()
                    .map(|&r| (r, Duration::from_secs_f64(secs), u64::MAX))
                    .collect(),
                pad: 64,
                drain: Duration::from_secs(2),
                stop_on_failure: false,
            };
            let gen = GenConfig {
                server_pids: pid,
                ..gen
            };
            let result = loadgen::ladder(&target, &plan, &gen).map_err(|e| e.to_string())?;
            let record = suite::Record {
                scenario: format!("fanout-{subscribers}"),
                server: kind.name().into(),
                rep: 0,
                outcome: suite::Outcome::Ladder(result),
                error: None,
            };
            println!("{}", suite::brief(&record));
            if let Some(path) = json {
                suite::write_json(&path, &record).map_err(|e| e.to_string())?;
            }
            Ok(())
        })(),
        Command::Storm {
            kind,
            addr,
            pid,
            clients,
            grace,
        } => (|| {
            let target = servers::target_for(kind, addr, std::process::id().into());
            let plan = loadgen::StormPlan {
                clients,
                history: 60,
                max_behind: 50,
                window: Duration::from_secs(1),
                grace: Duration::from_secs_f64(grace),
            };
            let gen = GenConfig {
                server_pids: pid,
                ..gen
            };
            let result = loadgen::storm(&target, &plan, &gen).map_err(|e| e.to_string())?;
            let brief = serde_json::json!({
                "accepted": result.accepted, "exact": result.exact, "finished": result.finished,
                "with_gaps": result.with_gaps, "with_dups": result.with_dups, "statuses": result.statuses,
                "first_event_p50_us": result.first_event.p50_us, "first_event_p99_us": result.first_event.p99_us,
                "connect_p99_us": result.connect.p99_us, "errors": result.sample_errors,
            });
            println!("{brief}");
            Ok(())
        })(),
        Command::Smoke {
            tidings,
            tidings_arg,
        } => smoke::run(&tidings, &tidings_arg, &gen),
        Command::OutputFlood {
            programs,
            followers,
            subscribers,
            rate,
            secs,
            reps,
            json,
        } => (|| {
            let plan = output_flood::FloodPlan {
                followers,
                subscribers,
                rate,
                secs,
                reps,
            };
            let programs = programs.programs().map_err(|e| e.to_string())?;
            let phases = output_flood::run(&programs, &plan, &gen)?;
            println!("{}", output_flood::table(&phases, &plan));
            if let Some(path) = json {
                let text = serde_json::to_string_pretty(&phases).map_err(|e| e.to_string())?;
                std::fs::write(path, text).map_err(|e| e.to_string())?;
            }
            Ok(())
        })(),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tidings-bench: {e}");
            ExitCode::FAILURE
        }
    }
}
