//! Replays every saved input of broker-core's fuzz targets: the files in
//! `tests/fixtures/fuzz/<target>/` (hand-made hard cases, and any input a
//! fuzzer ever flagged, copied from `fuzz/artifacts/<target>/` as it is) go
//! through the very check the target runs (`tests/fuzz_checks/<target>.rs`).
//! The SSE parser's inputs live in `tests/fixtures/sse/` and are replayed by
//! `sse_fixtures.rs`.
//!
//! Native only: the wasm32 test runner has no file system.
#![cfg(not(target_arch = "wasm32"))]

mod fuzz_checks;
mod sse_support;

use std::path::{Path, PathBuf};

/// The saved inputs of one target, sorted by name.
fn fixtures(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/fuzz")
        .join(target);
    let mut found: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("the fixture folder is readable").path())
        .filter(|path| path.is_file())
        .map(|path| {
            let bytes = std::fs::read(&path).expect("a fixture is readable");
            (path, bytes)
        })
        .collect();
    found.sort();
    assert!(found.len() >= 3, "{}: too few fixtures", dir.display());
    found
}

/// Runs `check` on every saved input of `target`, naming the files that
/// fail (each failure's message is printed above by the panic hook).
fn replay(target: &str, check: fn(&[u8])) {
    let failed: Vec<String> = fixtures(target)
        .into_iter()
        .filter(|(_, bytes)| std::panic::catch_unwind(|| check(bytes)).is_err())
        .map(|(path, _)| path.display().to_string())
        .collect();
    assert!(failed.is_empty(), "fail their check: {failed:#?}");
}

#[test]
fn event_id_fixtures_hold() {
    replay("event_id", fuzz_checks::event_id::check);
}

#[test]
fn event_type_fixtures_hold() {
    replay("event_type", fuzz_checks::event_type::check);
}

#[test]
fn filter_fixtures_hold() {
    replay("filter", fuzz_checks::filter::check);
}

#[test]
fn broker_resume_fixtures_hold() {
    replay("broker_resume", fuzz_checks::broker_resume::check);
}

#[test]
fn sse_roundtrip_fixtures_hold() {
    replay("sse_roundtrip", fuzz_checks::sse_roundtrip::check);
}
