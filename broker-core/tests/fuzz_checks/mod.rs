//! The checks of broker-core's fuzz targets (`../../fuzz/fuzz_targets/`),
//! one file per target, so that `tests/fuzz_fixtures.rs` replays a saved
//! input exactly as the fuzzer ran it. Each `check` takes the raw fuzz input
//! and panics when an invariant breaks; every file says how it reads its
//! input, so a fixture can be written by hand.
//!
//! The fuzz targets include these files with `#[path]`, each at its crate
//! root under the same module name, beside `sse_support`.
#![allow(dead_code)]

pub mod broker_resume;
pub mod event_id;
pub mod event_type;
pub mod filter;
pub mod output_offset;
pub mod output_text;
pub mod sse_roundtrip;
