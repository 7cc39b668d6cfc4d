//! The bearer value, the `Cookie` header and the `?token=` query.
//! The check lives in `../../tests/fuzz_checks/credentials.rs` (replayed by
//! `tests/fuzz_fixtures.rs`), which says how it reads its input.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/fuzz_checks/credentials.rs"]
mod credentials;

fuzz_target!(|input: &[u8]| credentials::check(input));
