//! Randomness from the operating system, and a cheap generator seeded from it
//! that seeds each stream's session (its lifetime jitter).

use std::sync::atomic::{AtomicU64, Ordering};

/// Why the operating system's random source failed.
#[derive(Debug, thiserror::Error)]
#[error("the operating system's random source failed: {0}")]
pub struct RandomError(String);

/// Fills `buf` from the OS (getrandom(2) / /dev/urandom): tokens and epochs
/// must not be guessable.
pub fn fill(buf: &mut [u8]) -> Result<(), RandomError> {
    getrandom::fill(buf).map_err(|e| RandomError(e.to_string()))
}

/// A random `u64` from the OS.
pub fn os_u64() -> Result<u64, RandomError> {
    let mut b = [0u8; 8];
    fill(&mut b)?;
    Ok(u64::from_le_bytes(b))
}

/// A 256-bit token as 64 lowercase hex digits.
pub fn token() -> Result<String, RandomError> {
    let mut b = [0u8; 32];
    fill(&mut b)?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

/// SplitMix64 over an atomic counter: jitter needs spread, not secrecy, and
/// drawing it must cost nothing per stream.
#[derive(Debug)]
pub struct Jitter {
    state: AtomicU64,
}

impl Jitter {
    /// A generator starting from `seed`.
    pub fn new(seed: u64) -> Self {
        Jitter {
            state: AtomicU64::new(seed),
        }
    }

    /// The next value (each stream's session is seeded with one).
    pub fn next_u64(&self) -> u64 {
        let mut z = self
            .state
            .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
            .wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_hex_and_differ() {
        let a = token().expect("os randomness");
        let b = token().expect("os randomness");
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn jitter_seeds_differ_from_draw_to_draw() {
        let j = Jitter::new(7);
        let draws: std::collections::BTreeSet<u64> = (0..1000).map(|_| j.next_u64()).collect();
        assert_eq!(draws.len(), 1000);
    }
}
