//! The `Host` / `:authority` / `Origin` allowlist (DNS rebinding).
//! The check lives in `../../tests/fuzz_checks/host_origin.rs` (replayed by
//! `tests/fuzz_fixtures.rs`), which says how it reads its input.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/fuzz_checks/host_origin.rs"]
mod host_origin;

fuzz_target!(|input: &[u8]| host_origin::check(input));
