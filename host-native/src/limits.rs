//! The process's open-files limit, and the connection cap derived from it.
//!
//! Many systems start processes with a soft `RLIMIT_NOFILE` of 1024 and a far
//! higher hard limit. A server that keeps the soft one runs out of
//! descriptors at about a thousand idle connections, and then every accept,
//! task start and record write fails. So the server raises the soft limit to
//! the hard one at start and caps connections below it, keeping a reserve for
//! what else needs descriptors: tasks (a terminal and its pipes each) and
//! persistence (records, logs, the data directory).

/// Descriptors kept for everything that is neither a connection nor a task:
/// the listener, stdio, the runtime's epoll and wakers, the spare descriptor
/// of the accept loop, records and logs being written.
pub const PERSISTENCE_RESERVE: u64 = 64;

/// Descriptors one live task holds (its terminal's master, the reader and
/// writer duplicates, the log).
pub const DESCRIPTORS_PER_TASK: u64 = 4;

/// Live tasks the reserve is sized for when the caller does not say (the
/// default of `--max-live-tasks`).
pub const ASSUMED_LIVE_TASKS: u64 = 256;

/// The connection cap when the open-files limit cannot be read.
pub const FALLBACK_MAX_CONNECTIONS: usize = 10_000;

/// The open-files limit after [`raise_open_files`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileLimit {
    /// The soft limit now in force.
    pub soft: u64,
    /// The hard limit (the most the soft one can be raised to).
    pub hard: u64,
}

/// Raises the soft open-files limit to the hard limit (or to the kernel's
/// ceiling when the hard limit is unlimited) and returns the limits now in
/// force; `None` where they cannot be read.
#[cfg(unix)]
pub fn raise_open_files() -> Option<FileLimit> {
    use nix::sys::resource::{getrlimit, setrlimit, Resource, RLIM_INFINITY};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).ok()?;
    let target = if hard == RLIM_INFINITY {
        // Linux refuses more than fs.nr_open even with an unlimited hard limit.
        std::fs::read_to_string("/proc/sys/fs/nr_open")
            .ok()
            .and_then(|t| t.trim().parse().ok())
            .unwrap_or(1 << 20)
    } else {
        hard
    };
    if target > soft {
        if let Err(e) = setrlimit(Resource::RLIMIT_NOFILE, target, hard) {
            tracing::warn!(error = %e, soft, target, "cannot raise the open-files limit");
        }
    }
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).ok()?;
    Some(FileLimit { soft, hard })
}

/// No limit to raise on this platform.
#[cfg(not(unix))]
pub fn raise_open_files() -> Option<FileLimit> {
    None
}

/// The descriptors kept out of the connection cap under `soft`: the
/// persistence reserve and `live_tasks` tasks, but never more than half the
/// limit (a tiny limit still serves some connections).
pub fn reserve(soft: u64, live_tasks: u64) -> u64 {
    PERSISTENCE_RESERVE
        .saturating_add(DESCRIPTORS_PER_TASK.saturating_mul(live_tasks))
        .min(soft / 2)
}

/// The default `--max-connections`: the soft limit minus the [`reserve`]
/// (at least 1).
pub fn default_max_connections(limit: Option<FileLimit>, live_tasks: u64) -> usize {
    match limit {
        Some(FileLimit { soft, .. }) => {
            let cap = soft.saturating_sub(reserve(soft, live_tasks)).max(1);
            usize::try_from(cap).unwrap_or(usize::MAX)
        }
        None => FALLBACK_MAX_CONNECTIONS,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_keeps_a_reserve_for_tasks_and_persistence() {
        let at = |soft| {
            default_max_connections(Some(FileLimit { soft, hard: 20_000 }), ASSUMED_LIVE_TASKS)
        };
        assert_eq!(at(20_000), 20_000 - 64 - 4 * 256);
        // A low limit still leaves half of it to connections.
        assert_eq!(at(1024), 512);
        assert_eq!(at(1), 1);
        assert_eq!(default_max_connections(None, 256), FALLBACK_MAX_CONNECTIONS);
    }

    #[cfg(unix)]
    #[test]
    fn raising_leaves_the_soft_limit_at_the_hard_one() {
        let limit = raise_open_files().expect("limits are readable");
        assert!(limit.soft <= limit.hard);
        if limit.hard != nix::sys::resource::RLIM_INFINITY {
            assert_eq!(limit.soft, limit.hard);
        }
    }
}
