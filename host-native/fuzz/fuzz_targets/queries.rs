//! Query strings, the `GET /api/events` query and `?tail=`.
//! The check lives in `../../tests/fuzz_checks/queries.rs` (replayed by
//! `tests/fuzz_fixtures.rs`), which says how it reads its input.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/fuzz_checks/queries.rs"]
mod queries;

fuzz_target!(|input: &[u8]| queries::check(input));
