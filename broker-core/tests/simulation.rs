//! A seeded simulation of the whole system.
//!
//! A simulated server (the real [`Broker`], real [`Task`]s changed through the
//! real [`Reconciler`], published the way the host publishes them) and several
//! simulated browsers (the real [`ClientMachine`] driving the real
//! [`TaskStore`]) talk over a simulated network, all driven by one seeded
//! generator: random delays and chunking, connections that drop, streams that
//! `end`, subscribers that stop reading and lag, failing list and connect
//! requests (503, 429, wrong content type, 401, 404), clients going offline,
//! and server restarts (a new broker with a new epoch whose first `SEQ` is
//! above every persisted version; tasks persist, and live ones may be lost).
//! Stream bytes go through the real encoder (`Broker::drain_frames`, the
//! ready/end/keep-alive frames) and the real `sse::Parser`.
//!
//! After a chaotic phase the world quiets down (no more changes or faults);
//! once everyone had time to reconnect and catch up, every client must be
//! live and its store must hold exactly the server's tasks.
//!
//! A failing seed is printed; `SIM_SEED=<n>` replays just that one.

use std::io::Write;

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

#[path = "simulation/server.rs"]
mod server;
#[path = "simulation/world.rs"]
mod world;

use world::World;

/// Seeds run by the test suite.
#[cfg(not(target_arch = "wasm32"))]
const SEEDS: u64 = 10_000;
/// Fewer on wasm32 (a debug build under node), where the suite must stay quick.
#[cfg(target_arch = "wasm32")]
const SEEDS: u64 = 150;

pub(crate) const CLIENTS: usize = 3;
pub(crate) const CHAOS_MS: u64 = 20_000;
pub(crate) const QUIET_MS: u64 = 60_000;
pub(crate) const HEARTBEAT_MS: u64 = 15_000;
pub(crate) const RETRY_MS: u64 = 700;

/// How often a run hit each situation worth testing: summed over all seeds
/// and checked, so the simulation cannot silently stop exercising them.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Coverage {
    pub(crate) restarts: u64,
    pub(crate) not_resumed: u64,
    pub(crate) lagged: u64,
    pub(crate) polls: u64,
    pub(crate) watchdogs: u64,
    pub(crate) ends: u64,
    pub(crate) unauthorized: u64,
    pub(crate) resumed_after_failure: u64,
    pub(crate) removals: u64,
    pub(crate) abandoned_lists: u64,
}

impl Coverage {
    pub(crate) fn add(&mut self, o: &Coverage) {
        self.restarts += o.restarts;
        self.not_resumed += o.not_resumed;
        self.lagged += o.lagged;
        self.polls += o.polls;
        self.watchdogs += o.watchdogs;
        self.ends += o.ends;
        self.unauthorized += o.unauthorized;
        self.resumed_after_failure += o.resumed_after_failure;
        self.removals += o.removals;
        self.abandoned_lists += o.abandoned_lists;
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn run_seed(seed: u64) -> Result<Coverage, String> {
    // A panic in the core is a failure of this seed, reported with it.
    std::panic::catch_unwind(|| World::new(seed).run())
        .unwrap_or_else(|_| Err("panicked (message above)".to_owned()))
}

#[cfg(target_arch = "wasm32")]
fn run_seed(seed: u64) -> Result<Coverage, String> {
    World::new(seed).run()
}

#[cfg(not(target_arch = "wasm32"))]
fn replay_seed() -> Option<u64> {
    std::env::var("SIM_SEED").ok()?.parse().ok()
}

#[cfg(target_arch = "wasm32")]
fn replay_seed() -> Option<u64> {
    None
}

/// Runs `seeds`, returning up to three failures (seed, what went wrong).
fn run_seeds(seeds: &[u64]) -> (Coverage, Vec<(u64, String)>) {
    let mut coverage = Coverage::default();
    let mut failures = Vec::new();
    for &seed in seeds {
        match run_seed(seed) {
            Ok(c) => coverage.add(&c),
            Err(e) => {
                failures.push((seed, e));
                if failures.len() >= 3 {
                    break;
                }
            }
        }
    }
    (coverage, failures)
}

/// Natively the seeds are spread over the machine's cores.
#[cfg(not(target_arch = "wasm32"))]
fn run_all(seeds: &[u64]) -> (Coverage, Vec<(u64, String)>) {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
    let chunk = seeds.len().div_ceil(threads).max(1);
    let mut coverage = Coverage::default();
    let mut failures = Vec::new();
    std::thread::scope(|scope| {
        let handles: Vec<_> = seeds
            .chunks(chunk)
            .map(|part| scope.spawn(move || run_seeds(part)))
            .collect();
        for handle in handles {
            let (c, f) = handle.join().expect("run_seeds catches panics");
            coverage.add(&c);
            failures.extend(f);
        }
    });
    failures.sort_by_key(|(seed, _)| *seed);
    (coverage, failures)
}

#[cfg(target_arch = "wasm32")]
fn run_all(seeds: &[u64]) -> (Coverage, Vec<(u64, String)>) {
    run_seeds(seeds)
}

#[test]
fn every_store_converges_to_the_servers_tasks() {
    let seeds: Vec<u64> = match replay_seed() {
        Some(seed) => vec![seed],
        None => (0..SEEDS).collect(),
    };
    let (c, failures) = run_all(&seeds);
    if let Some((seed, e)) = failures.first() {
        let seeds: Vec<u64> = failures.iter().map(|(s, _)| *s).collect();
        panic!("simulation failed for seeds {seeds:?}; first (replay with SIM_SEED={seed}): {e}");
    }
    if seeds.len() as u64 == SEEDS {
        // Each situation shows up in a good share of the runs.
        let floor = SEEDS / 20;
        for (what, n) in [
            ("restarts", c.restarts),
            ("not-resumed lists", c.not_resumed),
            ("lagged lists", c.lagged),
            ("poll lists", c.polls),
            ("watchdog timeouts", c.watchdogs),
            ("end resumes", c.ends),
            ("unauthorized", c.unauthorized),
            ("resumes after a failure", c.resumed_after_failure),
            ("task removals", c.removals),
            ("abandoned lists", c.abandoned_lists),
        ] {
            assert!(n >= floor, "only {n} {what} in {SEEDS} seeds: {c:?}");
        }
    }
    // libtest captures print!; writing to stdout itself shows the count in
    // every run, passing or not.
    let _ = writeln!(
        std::io::stdout(),
        "simulation: {} seeds, all stores converged ({} restarts, {} lagged, {} not resumed, {} polls, {} watchdogs, {} ends, {} unauthorized)",
        seeds.len(), c.restarts, c.lagged, c.not_resumed, c.polls, c.watchdogs, c.ends, c.unauthorized
    );
}
