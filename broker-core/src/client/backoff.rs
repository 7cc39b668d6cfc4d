//! Seeded jitter and the reconnect backoff schedule.

use core::time::Duration;

/// A tiny seeded generator (SplitMix64).
///
/// Jitter only has to spread clients apart, not resist prediction, and the
/// core draws no randomness of its own: the driver passes the seed, so a test
/// replays the exact same delays.
#[derive(Clone, Debug)]
pub(crate) struct Jitter {
    state: u64,
}

impl Jitter {
    /// A generator whose whole sequence follows from `seed`.
    pub(crate) fn new(seed: u64) -> Self {
        Jitter { state: seed }
    }

    /// The next 64 random bits.
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A value in `lo..=hi` (or `lo` when the range is empty). The modulo
    /// bias is at most 2^-40 for ranges of a day in milliseconds: irrelevant
    /// for spreading reconnects.
    pub(crate) fn between(&mut self, lo: u64, hi: u64) -> u64 {
        if hi <= lo {
            return lo;
        }
        let span = hi - lo;
        match span.checked_add(1) {
            Some(n) => lo + self.next_u64() % n,
            None => self.next_u64(),
        }
    }
}

/// Milliseconds of a duration, saturating.
pub(crate) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Consecutive failures and the last delay drawn ("decorrelated jitter").
///
/// Each delay is drawn uniformly between `initial` and three times the
/// previous delay, then capped at `max`: the expected delay roughly doubles
/// per failure while clients that failed together drift apart at once.
#[derive(Clone, Debug, Default)]
pub(crate) struct Backoff {
    /// Failures since the last stable connection.
    pub(crate) failures: u32,
    /// The previous (capped) delay, the base of the next draw.
    previous: Option<Duration>,
}

impl Backoff {
    /// Counts a failure and draws its delay.
    pub(crate) fn next_delay(
        &mut self,
        jitter: &mut Jitter,
        initial: Duration,
        max: Duration,
    ) -> Duration {
        self.failures = self.failures.saturating_add(1);
        let lo = millis(initial);
        let base = self.previous.map_or(lo, millis).max(lo);
        let drawn = jitter.between(lo, base.saturating_mul(3));
        let delay = Duration::from_millis(drawn.min(millis(max)));
        self.previous = Some(delay);
        delay
    }

    /// Counts a failure that reconnects at once (the first after a live
    /// connection): the next draw still starts from `initial`.
    pub(crate) fn count_immediate(&mut self) {
        self.failures = self.failures.saturating_add(1);
    }

    /// A stable connection forgets past failures.
    pub(crate) fn reset(&mut self) {
        *self = Backoff::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn the_same_seed_gives_the_same_sequence() {
        let mut a = Jitter::new(7);
        let mut b = Jitter::new(7);
        let mut c = Jitter::new(8);
        let xs: Vec<u64> = (0..8).map(|_| a.next_u64()).collect();
        let ys: Vec<u64> = (0..8).map(|_| b.next_u64()).collect();
        let zs: Vec<u64> = (0..8).map(|_| c.next_u64()).collect();
        assert_eq!(xs, ys);
        assert_ne!(xs, zs);
    }

    #[test]
    fn between_stays_in_its_bounds_and_reaches_both_ends() {
        let mut j = Jitter::new(1);
        let draws: Vec<u64> = (0..2000).map(|_| j.between(10, 13)).collect();
        assert!(draws.iter().all(|d| (10..=13).contains(d)));
        assert!(draws.contains(&10) && draws.contains(&13));
        assert_eq!(j.between(5, 5), 5);
        assert_eq!(j.between(9, 3), 9);
        let _ = j.between(0, u64::MAX);
    }

    #[test]
    fn delays_stay_between_initial_and_max() {
        let mut j = Jitter::new(99);
        let mut b = Backoff::default();
        let initial = Duration::from_millis(100);
        let max = Duration::from_millis(5000);
        for n in 1..50u32 {
            let d = b.next_delay(&mut j, initial, max);
            assert!(d >= initial && d <= max, "{d:?}");
            assert_eq!(b.failures, n);
        }
        b.reset();
        assert_eq!(b.failures, 0);
        let d = b.next_delay(&mut j, initial, max);
        assert!(d <= initial * 3, "a reset starts the schedule over: {d:?}");
    }
}
