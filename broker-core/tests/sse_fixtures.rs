//! Replays every stream in `tests/fixtures/sse/` (hand-made hard cases and
//! any input the fuzzer ever flagged): none may panic, and each must parse
//! the same under every two-way split, byte by byte, under tight limits, and
//! as the literal spec algorithm does. Each file is also replayed as a fuzz
//! input (header bytes choosing limits and chunk sizes, then the stream),
//! exactly as `fuzz/fuzz_targets/sse_parser.rs` ran it.
//!
//! Native only: the wasm32 test runner has no file system. The same checks on
//! inline streams run on wasm32 in `sse_frames.rs`.
#![cfg(not(target_arch = "wasm32"))]

mod sse_support;

use std::path::PathBuf;

use broker_core::sse::ParserConfig;
use sse_support::{check_fuzz_input, reference, run_chunked, run_whole, unlimited};

fn fixtures() -> Vec<(PathBuf, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sse");
    let mut found: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(&dir)
        .expect("the fixture folder exists")
        .map(|entry| entry.expect("the fixture folder is readable").path())
        .filter(|path| path.is_file())
        .map(|path| {
            let bytes = std::fs::read(&path).expect("a fixture is readable");
            (path, bytes)
        })
        .collect();
    found.sort();
    found
}

#[test]
fn every_fixture_parses_the_same_however_it_is_chunked() {
    let fixtures = fixtures();
    assert!(!fixtures.is_empty(), "no fixtures found");
    for (path, bytes) in &fixtures {
        check_fuzz_input(bytes);
        let whole = run_whole(unlimited(), bytes);
        assert_eq!(
            whole,
            reference(bytes),
            "{} against the spec",
            path.display()
        );
        let every: Vec<usize> = (0..bytes.len()).collect();
        assert_eq!(
            run_chunked(unlimited(), bytes, &every),
            whole,
            "{} byte by byte",
            path.display()
        );
        // Two-way splits everywhere for small inputs; a sample for large ones.
        let step = (bytes.len() / 512).max(1);
        for cut in (0..=bytes.len()).step_by(step) {
            assert_eq!(
                run_chunked(unlimited(), bytes, &[cut]),
                whole,
                "{} split at {cut}",
                path.display()
            );
        }
        for (max_line, max_event) in [(0, 0), (3, 5), (16, 8), (64, 256)] {
            let config = ParserConfig {
                max_line,
                max_event,
            };
            let limited = run_whole(config, bytes);
            assert_eq!(
                run_chunked(config, bytes, &every),
                limited,
                "{} byte by byte under limits {max_line}/{max_event}",
                path.display()
            );
        }
    }
}
