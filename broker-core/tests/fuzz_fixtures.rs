//! Replays every saved input of broker-core's fuzz targets: the files in
//! `tests/fixtures/fuzz/<target>/` (hand-made hard cases, and any input a
//! fuzzer ever flagged, copied from `fuzz/artifacts/<target>/` as it is) go
//! through the very check the target runs (`tests/fuzz_checks/<target>.rs`).
//! The SSE parser's inputs live in `tests/fixtures/sse/` and are replayed by
//! `sse_fixtures.rs`. Every target of `fuzz/Cargo.toml` must have its check
//! replayed here.
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
fn replay(target: &str) {
    let (_, check) = CHECKS
        .iter()
        .find(|(name, _)| *name == target)
        .unwrap_or_else(|| panic!("no check for {target}"));
    let failed: Vec<String> = fixtures(target)
        .into_iter()
        .filter(|(_, bytes)| std::panic::catch_unwind(|| check(bytes)).is_err())
        .map(|(path, _)| path.display().to_string())
        .collect();
    assert!(failed.is_empty(), "fail their check: {failed:#?}");
}

/// A target's check: panics when an invariant breaks.
type Check = fn(&[u8]);

/// Every fuzz target of `fuzz/Cargo.toml` and its check (`sse_parser`'s
/// inputs are replayed by `sse_fixtures.rs`).
const CHECKS: &[(&str, Check)] = &[
    ("event_id", fuzz_checks::event_id::check),
    ("event_type", fuzz_checks::event_type::check),
    ("filter", fuzz_checks::filter::check),
    ("broker_resume", fuzz_checks::broker_resume::check),
    ("sse_roundtrip", fuzz_checks::sse_roundtrip::check),
    ("output_offset", fuzz_checks::output_offset::check),
    ("output_text", fuzz_checks::output_text::check),
];

/// Targets whose inputs another test replays.
const REPLAYED_ELSEWHERE: &[&str] = &["sse_parser"];

#[test]
fn every_fuzz_target_has_a_replayed_check() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/Cargo.toml");
    let text = std::fs::read_to_string(&manifest).expect("the fuzz crate's manifest");
    let mut targets: Vec<&str> = text
        .lines()
        .filter_map(|line| line.strip_prefix("name = \""))
        .filter_map(|rest| rest.strip_suffix('"'))
        .filter(|name| !name.ends_with("-fuzz"))
        .filter(|name| !REPLAYED_ELSEWHERE.contains(name))
        .collect();
    targets.sort_unstable();
    let mut checked: Vec<&str> = CHECKS.iter().map(|(name, _)| *name).collect();
    checked.sort_unstable();
    assert_eq!(targets, checked, "a fuzz target without a replay here");
    // Each target runs the very file replayed here.
    for target in targets {
        let source = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fuzz/fuzz_targets")
            .join(format!("{target}.rs"));
        let text = std::fs::read_to_string(&source)
            .unwrap_or_else(|e| panic!("{}: {e}", source.display()));
        let include = format!("#[path = \"../../tests/fuzz_checks/{target}.rs\"]");
        assert!(
            text.contains(&include),
            "{} does not include its check",
            source.display()
        );
    }
}

#[test]
fn event_id_fixtures_hold() {
    replay("event_id");
}

#[test]
fn event_type_fixtures_hold() {
    replay("event_type");
}

#[test]
fn filter_fixtures_hold() {
    replay("filter");
}

#[test]
fn broker_resume_fixtures_hold() {
    replay("broker_resume");
}

#[test]
fn sse_roundtrip_fixtures_hold() {
    replay("sse_roundtrip");
}

#[test]
fn output_offset_fixtures_hold() {
    replay("output_offset");
}

#[test]
fn output_text_fixtures_hold() {
    replay("output_text");
}
