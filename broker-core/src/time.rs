//! Time as an input.
//!
//! The core never reads a clock: drivers pass a [`Timestamp`] into every call
//! that needs one (from `tokio::time::Instant`, `SystemTime` or the browser's
//! `performance.now()`), so every behaviour is reproducible in a test.

use core::fmt;
use core::ops::{Add, Sub};
use core::time::Duration;

/// Milliseconds since an origin the driver chooses.
///
/// Task records use the Unix epoch as origin (their times are shown to people);
/// the client machine uses the page's time origin. The core only compares and
/// subtracts timestamps that share an origin.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(transparent)
)]
pub struct Timestamp(u64);

impl Timestamp {
    /// The origin itself.
    pub const ZERO: Timestamp = Timestamp(0);

    /// A timestamp `ms` milliseconds after the origin.
    pub const fn from_millis(ms: u64) -> Self {
        Timestamp(ms)
    }

    /// Milliseconds after the origin.
    pub const fn as_millis(self) -> u64 {
        self.0
    }

    /// How long after `earlier` this is; zero when `earlier` is later.
    pub fn saturating_since(self, earlier: Timestamp) -> Duration {
        Duration::from_millis(self.0.saturating_sub(earlier.0))
    }
}

fn duration_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl Add<Duration> for Timestamp {
    type Output = Timestamp;
    fn add(self, rhs: Duration) -> Timestamp {
        Timestamp(self.0.saturating_add(duration_ms(rhs)))
    }
}

impl Sub<Duration> for Timestamp {
    type Output = Timestamp;
    fn sub(self, rhs: Duration) -> Timestamp {
        Timestamp(self.0.saturating_sub(duration_ms(rhs)))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}ms", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn arithmetic_saturates_instead_of_wrapping() {
        let t = Timestamp::from_millis(5);
        assert_eq!(t - Duration::from_millis(10), Timestamp::ZERO);
        assert_eq!(
            t.saturating_since(Timestamp::from_millis(9)),
            Duration::ZERO
        );
        assert_eq!((t + Duration::from_secs(1)).as_millis(), 1005);
        assert_eq!(
            Timestamp::from_millis(u64::MAX) + Duration::from_secs(1),
            Timestamp::from_millis(u64::MAX)
        );
    }
}
