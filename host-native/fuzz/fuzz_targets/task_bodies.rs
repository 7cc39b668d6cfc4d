//! The bodies of the task routes (create, terminal, input, rename).
//! The check lives in `../../tests/fuzz_checks/task_bodies.rs` (replayed by
//! `tests/fuzz_fixtures.rs`), which says how it reads its input.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/fuzz_checks/task_bodies.rs"]
mod task_bodies;

fuzz_target!(|input: &[u8]| task_bodies::check(input));
