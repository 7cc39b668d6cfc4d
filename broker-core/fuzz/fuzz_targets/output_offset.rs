//! The output stream's resume point (`Last-Event-ID` or `?from=`): the
//! The check lives in `../../tests/fuzz_checks/output_offset.rs` (replayed by
//! `tests/fuzz_fixtures.rs`), which says how it reads its input.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/fuzz_checks/output_offset.rs"]
mod output_offset;

fuzz_target!(|input: &[u8]| output_offset::check(input));
