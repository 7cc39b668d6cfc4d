//! A tiny seeded generator for jitter.
//!
//! Jitter only has to spread clients (or streams) apart, not resist
//! prediction, and the core draws no randomness of its own: the driver passes
//! the seed, so a test replays exactly the same draws.

/// SplitMix64: a whole sequence follows from the seed.
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

    /// A value in `0..=max`. The modulo bias is negligible for the ranges
    /// jitter uses (milliseconds of minutes or hours).
    pub(crate) fn up_to(&mut self, max: u64) -> u64 {
        match max.checked_add(1) {
            Some(n) => self.next_u64() % n,
            None => self.next_u64(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn the_same_seed_gives_the_same_draws_and_they_stay_in_range() {
        let mut a = Jitter::new(11);
        let mut b = Jitter::new(11);
        let xs: Vec<u64> = (0..500).map(|_| a.up_to(9)).collect();
        let ys: Vec<u64> = (0..500).map(|_| b.up_to(9)).collect();
        assert_eq!(xs, ys);
        assert!(xs.iter().all(|&x| x <= 9));
        assert!(xs.contains(&0) && xs.contains(&9));
        assert_eq!(a.up_to(0), 0);
        let _ = a.up_to(u64::MAX);
    }
}
