//! Event type names: the contract's refusals, and an accepted name's frame parses back.
//! The check lives in `../../tests/fuzz_checks/event_type.rs` (replayed by
//! `tests/fuzz_fixtures.rs`), which says how it reads its input.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/sse_support/mod.rs"]
mod sse_support;

#[path = "../../tests/fuzz_checks/event_type.rs"]
mod event_type;

fuzz_target!(|input: &[u8]| event_type::check(input));
