//! Event id text (`Last-Event-ID`, `last_event_id=`): parse, print, parse.
//! The check lives in `../../tests/fuzz_checks/event_id.rs` (replayed by
//! `tests/fuzz_fixtures.rs`), which says how it reads its input.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/fuzz_checks/event_id.rs"]
mod event_id;

fuzz_target!(|input: &[u8]| event_id::check(input));
