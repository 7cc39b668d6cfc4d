//! `subscribe` with arbitrary resume text: when it resumes, and what is delivered.
//! The check lives in `../../tests/fuzz_checks/broker_resume.rs` (replayed by
//! `tests/fuzz_fixtures.rs`), which says how it reads its input.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/fuzz_checks/broker_resume.rs"]
mod broker_resume;

fuzz_target!(|input: &[u8]| broker_resume::check(input));
