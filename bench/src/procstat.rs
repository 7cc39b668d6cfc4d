//! CPU time and resident memory of processes, read from /proc.
//!
//! The generator and the server share two cores, so every throughput figure
//! is reported with the server's CPU per delivery and the generator's own
//! CPU; both come from `utime + stime` in `/proc/PID/stat`.

use std::sync::OnceLock;

/// CPU and memory of one process (or the sum over several) at one instant.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Sample {
    /// User + system CPU, seconds.
    pub cpu_s: f64,
    /// Resident set size, KiB.
    pub rss_kib: u64,
}

/// Clock ticks per second for /proc/PID/stat (USER_HZ), from `getconf`.
fn clk_tck() -> f64 {
    static TCK: OnceLock<f64> = OnceLock::new();
    *TCK.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// Samples one process (`pid` = a number or `self`); None once it is gone.
pub fn sample(pid: &str) -> Option<Sample> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: fields start after the last ')'.
    let after = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    // Fields 14 and 15 of the whole line (utime, stime) are 11 and 12 here.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss_kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    Some(Sample {
        cpu_s: (utime + stime) as f64 / clk_tck(),
        rss_kib,
    })
}

/// The sum over several processes (a server made of a master and workers).
pub fn sample_all(pids: &[u32]) -> Sample {
    pids.iter()
        .filter_map(|p| sample(&p.to_string()))
        .fold(Sample::default(), |a, s| Sample {
            cpu_s: a.cpu_s + s.cpu_s,
            rss_kib: a.rss_kib + s.rss_kib,
        })
}

/// The generator itself.
pub fn sample_self() -> Sample {
    sample("self").unwrap_or_default()
}

/// The children of `parent` (nginx's workers), from /proc.
pub fn children_of(parent: u32) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|s| {
                    let after = &s[s.rfind(')')? + 1..];
                    after.split_whitespace().nth(1)?.parse::<u32>().ok()
                })
                == Some(parent)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_this_process() {
        let s = sample_self();
        assert!(s.rss_kib > 0, "a running process has resident memory");
        // Burn a little CPU and see the counter move forward (or stay: ticks are 10 ms).
        let mut x = 0u64;
        for i in 0..2_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        assert!(x != 1);
        assert!(sample_self().cpu_s >= s.cpu_s);
        assert_eq!(sample("4294967295"), None);
    }
}
