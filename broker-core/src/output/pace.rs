//! How fast a task's terminal is read: a token bucket over bytes.
//!
//! A program that prints as fast as it can (`yes`, `cat` of a large file)
//! is only as fast as the reader of its terminal: reading without a limit
//! lets it spin a core and turns the server's CPU into log churn that no
//! follower can watch anyway (a live output stream carries at most one
//! 64 KiB frame per ~50 ms). Reading at a bounded rate lets the kernel's
//! terminal buffer fill, and the program then sleeps in `write` like it
//! would on a slow terminal. Short bursts (a compiler's error dump) still
//! pass at once, up to `burst` bytes.
//!
//! The driver (the task's output thread) reports each read with
//! [`OutputPace::handle_read`] and waits for [`OutputPace::poll_wait`]
//! before it reads again.

use core::time::Duration;

use crate::time::Timestamp;

/// The default rate: 1 MiB of terminal output a second per task, a little
/// under what one output stream carries (64 KiB frames, ~20 a second).
pub const DEFAULT_OUTPUT_RATE: u64 = 1024 * 1024;

/// The default burst: 256 KiB read without waiting after a quiet spell.
pub const DEFAULT_OUTPUT_BURST: u64 = 256 * 1024;

/// A byte-rate limit for one terminal reader.
#[derive(Clone, Debug)]
pub struct OutputPace {
    /// Bytes per second; 0 reads without limit.
    rate: u64,
    /// The most bytes saved up while the program was quiet.
    burst: u64,
    /// Bytes that may be read now; negative after a read larger than what
    /// was saved up (a debt paid back by waiting).
    balance: i64,
    /// When `balance` was last brought up to date.
    at: Timestamp,
}

impl OutputPace {
    /// A reader allowed `rate` bytes a second (0: no limit), saving up at
    /// most `burst` bytes; it starts with a full burst at `now`.
    pub fn new(rate: u64, burst: u64, now: Timestamp) -> Self {
        OutputPace {
            rate,
            burst,
            balance: clamp(burst),
            at: now,
        }
    }

    /// Whether this reader has no limit at all.
    pub fn unlimited(&self) -> bool {
        self.rate == 0
    }

    /// `bytes` were read at `now`.
    pub fn handle_read(&mut self, now: Timestamp, bytes: usize) {
        if self.unlimited() {
            return;
        }
        self.refill(now);
        let bytes = i64::try_from(bytes).unwrap_or(i64::MAX);
        self.balance = self.balance.saturating_sub(bytes);
    }

    /// How long to wait at `now` before the next read; `None` reads at once.
    pub fn poll_wait(&mut self, now: Timestamp) -> Option<Duration> {
        if self.unlimited() {
            return None;
        }
        self.refill(now);
        if self.balance >= 0 {
            return None;
        }
        let debt = self.balance.unsigned_abs();
        // Whole milliseconds, rounded up, so that the wait always pays the
        // debt off (the clock is in milliseconds too).
        let ms = debt.saturating_mul(1000).div_ceil(self.rate);
        Some(Duration::from_millis(ms.max(1)))
    }

    fn refill(&mut self, now: Timestamp) {
        let elapsed = now.saturating_since(self.at);
        let ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
        let earned = ms.saturating_mul(self.rate) / 1000;
        if earned == 0 {
            // Less than a byte's worth (or no time at all): keep `at`, so
            // that slow rates still accumulate across many short calls.
            return;
        }
        self.balance = self
            .balance
            .saturating_add(clamp(earned))
            .min(clamp(self.burst));
        self.at = now;
    }
}

fn clamp(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: u64) -> Timestamp {
        Timestamp::from_millis(ms)
    }

    #[test]
    fn a_burst_passes_at_once_then_the_rate_holds() {
        let mut pace = OutputPace::new(1000, 500, at(0));
        pace.handle_read(at(0), 500);
        assert_eq!(pace.poll_wait(at(0)), None, "the burst was saved up");
        pace.handle_read(at(0), 250);
        assert_eq!(pace.poll_wait(at(0)), Some(Duration::from_millis(250)));
        assert_eq!(pace.poll_wait(at(100)), Some(Duration::from_millis(150)));
        assert_eq!(pace.poll_wait(at(250)), None);
    }

    #[test]
    fn a_quiet_spell_saves_up_at_most_the_burst() {
        let mut pace = OutputPace::new(1000, 100, at(0));
        pace.handle_read(at(0), 100);
        // An hour of silence is worth one burst, not a million bytes.
        pace.handle_read(at(3_600_000), 300);
        assert_eq!(
            pace.poll_wait(at(3_600_000)),
            Some(Duration::from_millis(200))
        );
    }

    #[test]
    fn over_any_window_no_more_than_rate_times_time_plus_burst_is_read() {
        // A reader that reads 16 KiB whenever it may, for ten simulated
        // seconds, at 1 MiB/s with a 256 KiB burst.
        let mut pace = OutputPace::new(DEFAULT_OUTPUT_RATE, DEFAULT_OUTPUT_BURST, at(0));
        let mut now = 0u64;
        let mut read = 0u64;
        while now < 10_000 {
            match pace.poll_wait(at(now)) {
                Some(wait) => now += u64::try_from(wait.as_millis()).unwrap_or(1),
                None => {
                    pace.handle_read(at(now), 16 * 1024);
                    read += 16 * 1024;
                }
            }
        }
        let bound = DEFAULT_OUTPUT_RATE * 10 + DEFAULT_OUTPUT_BURST + 16 * 1024;
        assert!(read <= bound, "{read} read, bound {bound}");
        assert!(
            read >= DEFAULT_OUTPUT_RATE * 10 - 16 * 1024,
            "the rate is used, not wasted: {read}"
        );
    }

    #[test]
    fn a_slow_rate_still_accumulates_across_short_calls() {
        let mut pace = OutputPace::new(10, 0, at(0));
        pace.handle_read(at(0), 1);
        let mut now = 0;
        while pace.poll_wait(at(now)).is_some() {
            now += 1;
            assert!(now <= 100, "one byte at 10 B/s costs 100 ms");
        }
        assert_eq!(now, 100);
    }

    #[test]
    fn rate_zero_never_waits() {
        let mut pace = OutputPace::new(0, 0, at(0));
        pace.handle_read(at(0), usize::MAX);
        assert!(pace.unlimited());
        assert_eq!(pace.poll_wait(at(0)), None);
    }
}
