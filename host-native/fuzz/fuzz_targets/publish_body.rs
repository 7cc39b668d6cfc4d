//! The body of `POST /api/events` and the size of its frame.
//! The check lives in `../../tests/fuzz_checks/publish_body.rs` (replayed by
//! `tests/fuzz_fixtures.rs`), which says how it reads its input.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/fuzz_checks/publish_body.rs"]
mod publish_body;

fuzz_target!(|input: &[u8]| publish_body::check(input));
