//! Session cookies: issue, verify, and every single-byte change refused.
//! The check lives in `../../tests/fuzz_checks/session_cookie.rs` (replayed by
//! `tests/fuzz_fixtures.rs`), which says how it reads its input.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/fuzz_checks/session_cookie.rs"]
mod session_cookie;

fuzz_target!(|input: &[u8]| session_cookie::check(input));
