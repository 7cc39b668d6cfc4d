//! The benchmark suite against peers. (Owned by the benchmark work;
//! placeholders until it lands.)

use crate::util::Result;

/// A tiny run of the load generator against a real server (part of CI).
pub fn smoke() -> Result {
    Ok(())
}

/// The whole suite: `args` are what followed `cargo xtask bench`.
pub fn run(args: &[String]) -> Result {
    let _ = args;
    Ok(())
}
