//! Checking settings at start: a zero or absurd duration or size is refused
//! with a message naming the flag, before anything is bound or written.
//!
//! A zero `--heartbeat` would spin, a zero `--reconcile-interval` panics a
//! timer, a body cap of a terabyte invites the memory it names. Each setting
//! gets one line in [`Config::validate`](crate::Config::validate): its flag,
//! its value and the range that makes sense. `tidings serve` exits with code 2
//! on the first refused setting (every refused setting is listed).

use std::fmt;
use std::time::Duration;

/// Settings that are out of range, each with its flag and what is allowed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid configuration: {}", .problems.join("; "))]
pub struct ConfigError {
    /// One sentence per refused setting, e.g. `--heartbeat 0ms: must be from 10ms to 1h`.
    pub problems: Vec<String>,
}

/// Collects range checks; [`Checks::finish`] reports every failed one.
#[derive(Debug, Default)]
pub struct Checks {
    problems: Vec<String>,
}

/// A duration as the flags write it (`500ms`, `15s`, `2m`, `1h`).
struct Shown(Duration);

impl fmt::Display for Shown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        if ms == 0 || ms % 1000 != 0 {
            write!(f, "{ms}ms")
        } else if ms % 3_600_000 == 0 {
            write!(f, "{}h", ms / 3_600_000)
        } else if ms % 60_000 == 0 {
            write!(f, "{}m", ms / 60_000)
        } else {
            write!(f, "{}s", ms / 1000)
        }
    }
}

/// A byte count as the flags write it (`65536`, `64KiB`, `8MiB`).
struct Bytes(u64);

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [(u64, &str); 3] = [(1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")];
        for (size, unit) in UNITS {
            if self.0 >= size && self.0 % size == 0 {
                return write!(f, "{}{unit}", self.0 / size);
            }
        }
        write!(f, "{} bytes", self.0)
    }
}

impl Checks {
    /// No checks yet.
    pub fn new() -> Self {
        Checks::default()
    }

    /// `flag`'s duration must lie in `min..=max`.
    pub fn duration(&mut self, flag: &str, value: Duration, min: Duration, max: Duration) {
        if value < min || value > max {
            self.problems.push(format!(
                "{flag} {}: must be from {} to {}",
                Shown(value),
                Shown(min),
                Shown(max)
            ));
        }
    }

    /// `flag`'s byte count must lie in `min..=max`.
    pub fn bytes(&mut self, flag: &str, value: u64, min: u64, max: u64) {
        if value < min || value > max {
            self.problems.push(format!(
                "{flag} {}: must be from {} to {}",
                Bytes(value),
                Bytes(min),
                Bytes(max)
            ));
        }
    }

    /// `flag`'s count must lie in `min..=max`.
    pub fn count(&mut self, flag: &str, value: u64, min: u64, max: u64) {
        if value < min || value > max {
            self.problems
                .push(format!("{flag} {value}: must be from {min} to {max}"));
        }
    }

    /// A rule between settings that does not fit a range (`ok` false refuses
    /// with `message`).
    pub fn rule(&mut self, ok: bool, message: impl Into<String>) {
        if !ok {
            self.problems.push(message.into());
        }
    }

    /// Every refused setting, or `Ok`.
    pub fn finish(self) -> Result<(), ConfigError> {
        if self.problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError {
                problems: self.problems,
            })
        }
    }
}

/// Milliseconds, for writing ranges.
pub const fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Seconds, for writing ranges.
pub const fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// Hours, for writing ranges.
pub const fn hours(n: u64) -> Duration {
    Duration::from_secs(n * 3600)
}

/// One kibibyte.
pub const KIB: u64 = 1 << 10;
/// One mebibyte.
pub const MIB: u64 = 1 << 20;
/// One gibibyte.
pub const GIB: u64 = 1 << 30;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_failed_check_is_reported_with_its_flag_and_range() {
        let mut c = Checks::new();
        c.duration("--heartbeat", Duration::ZERO, ms(10), hours(1));
        c.duration("--retry", secs(2), ms(100), hours(1));
        c.bytes("--max-body", 0, 1, 16 * MIB);
        c.count("--queue", 0, 1, 1_000_000);
        let err = c.finish().expect_err("refused");
        assert_eq!(
            err.problems,
            [
                "--heartbeat 0ms: must be from 10ms to 1h",
                "--max-body 0 bytes: must be from 1 bytes to 16MiB",
                "--queue 0: must be from 1 to 1000000",
            ]
        );
        assert!(err
            .to_string()
            .starts_with("invalid configuration: --heartbeat"));
    }

    #[test]
    fn values_in_range_pass() {
        let mut c = Checks::new();
        c.duration("--x", secs(90), secs(1), secs(90));
        c.bytes("--y", 64 * KIB, 1, 64 * KIB);
        c.rule(true, "never shown");
        assert_eq!(c.finish(), Ok(()));
    }
}
