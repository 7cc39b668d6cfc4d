//! Reconnect backoff: grows, is capped, jitters deterministically per seed,
//! resets only after a stable connection, and respects the server's `retry:`.
mod common;

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use core::time::Duration;

use broker_core::{Failure, Input, Output, Status};
use common::{config, opens, Harness};

/// Fails `n` connection attempts in a row and returns each failure's delay
/// (failure to the next Open).
fn delays(h: &mut Harness, n: usize) -> Vec<Duration> {
    let mut out = Vec::new();
    for _ in 0..n {
        let failed_at = h.now;
        h.fail(Failure::Network);
        let (opened_at, _) = h.until_open();
        out.push(opened_at.saturating_since(failed_at));
    }
    out
}

fn started(seed: u64) -> Harness {
    let mut h = Harness::new(config(), seed);
    let out = h.input(Input::Start);
    assert_eq!(opens(&out), vec![None]);
    h
}

#[test]
fn backoff_grows_and_is_capped() {
    let seeds = 200u64;
    let rounds = 12;
    let mut sums = vec![Duration::ZERO; rounds];
    let mut hit_cap = false;
    for seed in 0..seeds {
        let mut h = started(seed);
        for (i, d) in delays(&mut h, rounds).into_iter().enumerate() {
            assert!(
                d >= Duration::from_secs(1),
                "seed {seed}: {d:?} below initial"
            );
            assert!(d <= Duration::from_secs(30), "seed {seed}: {d:?} above cap");
            hit_cap |= d == Duration::from_secs(30);
            sums[i] += d;
        }
    }
    let means: Vec<u128> = sums.iter().map(|s| s.as_millis() / 200).collect();
    for k in 1..4 {
        assert!(
            means[k] > means[k - 1] * 7 / 5,
            "mean delay must grow: {means:?}"
        );
    }
    assert!(
        means[rounds - 1] > 15_000,
        "late delays spread over the upper range: {means:?}"
    );
    assert!(hit_cap, "the cap is reached");
}

#[test]
fn jitter_is_within_bounds_and_deterministic_per_seed() {
    let a = delays(&mut started(42), 10);
    let b = delays(&mut started(42), 10);
    let c = delays(&mut started(43), 10);
    assert_eq!(a, b, "same seed, same delays");
    assert_ne!(a, c, "another seed, other delays");
    assert!(a[0] >= Duration::from_secs(1) && a[0] <= Duration::from_secs(3));
    for w in a.windows(2) {
        assert!(w[1] <= (w[0] * 3).min(Duration::from_secs(30)), "{a:?}");
    }
    // Clients failing together spread out at once.
    let firsts: std::collections::BTreeSet<Duration> =
        (0..50).map(|s| delays(&mut started(s), 1)[0]).collect();
    assert!(firsts.len() > 40, "first delays differ across seeds");
}

#[test]
fn backoff_resets_only_after_a_stable_connection() {
    let mut h = started(7);
    delays(&mut h, 6);
    assert_eq!(h.machine.consecutive_failures(), 6);

    // Live, but not for stable_after (10 s): failures are remembered.
    h.connect(true);
    h.advance(Duration::from_secs(9));
    assert_eq!(h.machine.consecutive_failures(), 6);
    h.fail(Failure::Network);
    assert_eq!(h.machine.consecutive_failures(), 7);
    h.until_open();

    // Live for 10 s: the next failure starts the schedule over.
    h.connect(true);
    h.advance(Duration::from_secs(10));
    assert_eq!(h.machine.status(), Status::Live);
    assert_eq!(h.machine.consecutive_failures(), 0);
    let d = delays(&mut h, 1)[0];
    assert_eq!(h.machine.consecutive_failures(), 1);
    assert!(d <= Duration::from_secs(3), "{d:?}");
}

#[test]
fn the_servers_retry_is_a_floor_for_the_delay() {
    let mut h = started(1);
    h.input(Input::Retry(5_000));
    for d in delays(&mut h, 3) {
        assert!(d >= Duration::from_secs(5), "{d:?}");
    }
    // Above the cap too: the server asked for it.
    h.input(Input::Retry(60_000));
    h.fail(Failure::Http(503));
    assert_eq!(
        h.machine.next_attempt(),
        Some(h.now + Duration::from_secs(60))
    );
}

#[test]
fn the_status_report_names_the_failure_and_the_next_attempt() {
    let mut h = started(5);
    let out = h.fail(Failure::Http(503));
    assert_eq!(out.first(), Some(&Output::Close));
    let report = common::reports(&out).pop().expect("a report");
    assert_eq!(report.status, Status::Reconnecting);
    assert_eq!(report.reason.to_string(), "http 503");
    assert_eq!(report.next_attempt, h.machine.next_attempt());
    assert!(report.next_attempt.is_some_and(|t| t > h.now));
}
