//! Encode → parse round trip of the SSE encoder and parser; the check lives
//! in `../../tests/fuzz_checks/sse_roundtrip.rs` (replayed by
//! `tests/fuzz_fixtures.rs`).
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/sse_support/mod.rs"]
mod sse_support;

#[path = "../../tests/fuzz_checks/sse_roundtrip.rs"]
mod sse_roundtrip;

fuzz_target!(|input: &[u8]| sse_roundtrip::check(input));
