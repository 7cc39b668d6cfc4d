//! `types=` / `task=` filters: normal form, idempotence, and the events they select.
//! The check lives in `../../tests/fuzz_checks/filter.rs` (replayed by
//! `tests/fuzz_fixtures.rs`), which says how it reads its input.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/fuzz_checks/filter.rs"]
mod filter;

fuzz_target!(|input: &[u8]| filter::check(input));
