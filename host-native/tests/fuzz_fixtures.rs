//! Replays every saved input of host-native's fuzz targets: the files in
//! `tests/fixtures/fuzz/<target>/` (hand-made hard cases, and any input a
//! fuzzer ever flagged, copied from `fuzz/artifacts/<target>/` as it is) go
//! through the very check the target runs (`tests/fuzz_checks/<target>.rs`),
//! against the server's own parsers (`tidings::fuzzing`).

mod fuzz_checks;

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
fn host_origin_fixtures_hold() {
    replay("host_origin", fuzz_checks::host_origin::check);
}

#[test]
fn credentials_fixtures_hold() {
    replay("credentials", fuzz_checks::credentials::check);
}

#[test]
fn session_cookie_fixtures_hold() {
    replay("session_cookie", fuzz_checks::session_cookie::check);
}

#[test]
fn queries_fixtures_hold() {
    replay("queries", fuzz_checks::queries::check);
}

#[test]
fn content_type_fixtures_hold() {
    replay("content_type", fuzz_checks::content_type::check);
}

#[test]
fn publish_body_fixtures_hold() {
    replay("publish_body", fuzz_checks::publish_body::check);
}

#[test]
fn task_bodies_fixtures_hold() {
    replay("task_bodies", fuzz_checks::task_bodies::check);
}
