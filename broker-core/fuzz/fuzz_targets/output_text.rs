//! Log bytes → output text: however a log is cut into reads, and whatever
//! The check lives in `../../tests/fuzz_checks/output_text.rs` (replayed by
//! `tests/fuzz_fixtures.rs`), which says how it reads its input.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/fuzz_checks/output_text.rs"]
mod output_text;

fuzz_target!(|input: &[u8]| output_text::check(input));
