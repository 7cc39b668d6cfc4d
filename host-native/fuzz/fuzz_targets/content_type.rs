//! The JSON content-type check of the JSON routes.
//! The check lives in `../../tests/fuzz_checks/content_type.rs` (replayed by
//! `tests/fuzz_fixtures.rs`), which says how it reads its input.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/fuzz_checks/content_type.rs"]
mod content_type;

fuzz_target!(|input: &[u8]| content_type::check(input));
