//! The checks of host-native's fuzz targets (`../../fuzz/fuzz_targets/`),
//! one file per target, so that `tests/fuzz_fixtures.rs` replays a saved
//! input exactly as the fuzzer ran it. Each `check` takes the raw fuzz input
//! and panics when an invariant breaks; every file says how it reads its
//! input, so a fixture can be written by hand. They call the server's own
//! parsers through `tidings::fuzzing`.
//!
//! The fuzz targets include these files with `#[path]`, each at its crate
//! root under the same module name.
#![allow(dead_code)]

pub mod content_type;
pub mod credentials;
pub mod host_origin;
pub mod publish_body;
pub mod queries;
pub mod session_cookie;
pub mod task_bodies;
