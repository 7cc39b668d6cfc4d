//! Arbitrary bytes in arbitrary chunkings: the SSE parser must never panic,
//! must give the same outputs however the bytes are cut, and, without
//! limits, must agree with a literal reading of the WHATWG algorithm.
//! The check lives in the test support module so that a saved input replays
//! exactly (`tests/sse_fixtures.rs`).
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/sse_support/mod.rs"]
mod sse_support;

fuzz_target!(|input: &[u8]| sse_support::check_fuzz_input(input));
