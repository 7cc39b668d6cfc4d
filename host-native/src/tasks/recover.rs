//! Tasks recorded as live by a previous run: whether the process a record
//! names is still ours (and must be killed, since its terminal cannot be
//! reattached), or a stranger that must be left alone.
//!
//! A record is data on disk; the decision to send `SIGKILL` must not rest on
//! it alone. A process is taken for ours only when every check holds:
//! - the record carries the boot id of the running kernel (after a reboot
//!   pids and start ticks begin again);
//! - the pid is a plausible one, not this server's nor its parent's;
//! - the process exists, is not a zombie, and started at the recorded clock
//!   tick (a reused pid started later);
//! - it leads its own session (every task is started with `setsid`);
//! - it belongs to this server's user;
//! - it started within a minute of the task's recorded `created_at`.
//!
//! Anything else is treated as "our process is gone" and nothing is
//! signalled.

use nix::sys::signal::Signal;

use super::inspect::{self, ProcStat, TICKS_PER_SECOND};
use super::persist::Record;
use super::process;

/// How far a process's start may be from its task's `created_at`.
const START_SLACK_MS: u64 = 60_000;

/// What this server knows about itself and the machine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Host {
    /// The running kernel's boot id.
    pub boot_id: Option<String>,
    /// This server's pid.
    pub pid: i32,
    /// Its parent's pid.
    pub parent: i32,
    /// Its user.
    pub uid: Option<u32>,
    /// When the machine booted (Unix ms).
    pub boot_time_ms: Option<u64>,
}

impl Host {
    /// Reads it from `/proc`.
    pub(crate) fn current() -> Host {
        let pid = i32::try_from(std::process::id()).unwrap_or(0);
        Host {
            boot_id: inspect::boot_id(),
            pid,
            parent: inspect::stat(pid).map_or(0, |st| st.ppid),
            uid: inspect::owner(pid),
            boot_time_ms: inspect::boot_time_ms(),
        }
    }
}

/// What `/proc` says about the recorded pid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Seen {
    /// Its stat line.
    pub stat: ProcStat,
    /// Its owner.
    pub uid: Option<u32>,
}

/// The decision about one recorded process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// It is the process this record's task started: kill it.
    Ours(i32),
    /// It is not (or is gone); why, for the log.
    NotOurs(&'static str),
}

/// Decides whether the process a record names is ours (see the module docs).
pub(crate) fn judge(record: &Record, host: &Host, seen: Option<Seen>) -> Verdict {
    let Some(pid) = record.task.pid.and_then(|p| i32::try_from(p).ok()) else {
        return Verdict::NotOurs("no pid recorded");
    };
    match (&record.boot_id, &host.boot_id) {
        (Some(recorded), Some(now)) if recorded == now => {}
        (None, _) => return Verdict::NotOurs("no boot id recorded"),
        _ => return Verdict::NotOurs("recorded before the machine restarted"),
    }
    if pid < 2 || pid == host.pid || pid == host.parent {
        return Verdict::NotOurs("the pid cannot be a task's");
    }
    let Some(seen) = seen.filter(|s| s.stat.state != b'Z') else {
        return Verdict::NotOurs("no such process");
    };
    if record.process_start_ticks != Some(seen.stat.start_ticks) {
        return Verdict::NotOurs("the pid names a process started at another time");
    }
    if seen.stat.session != pid {
        return Verdict::NotOurs("the process does not lead its own session");
    }
    if host.uid.is_none() || seen.uid != host.uid {
        return Verdict::NotOurs("the process belongs to another user");
    }
    if let Some(boot) = host.boot_time_ms {
        let started =
            boot.saturating_add(seen.stat.start_ticks.saturating_mul(1000) / TICKS_PER_SECOND);
        let created = record.task.created_at.as_millis();
        if started.abs_diff(created) > START_SLACK_MS {
            return Verdict::NotOurs("the process did not start with the task");
        }
    }
    Verdict::Ours(pid)
}

/// Finalising a task recorded as live by a previous run: kills what is left
/// of it if it is still ours, and says why it ended.
pub(crate) fn recover_lost(record: &Record, host: &Host) -> String {
    let seen = record
        .task
        .pid
        .and_then(|p| i32::try_from(p).ok())
        .and_then(|pid| {
            Some(Seen {
                stat: inspect::stat(pid)?,
                uid: inspect::owner(pid),
            })
        });
    match judge(record, host, seen) {
        Verdict::Ours(pid) => {
            process::signal_session(pid, Signal::SIGKILL);
            "the server restarted while the task ran; its terminal could not be reattached, \
             so the surviving process was killed"
                .to_owned()
        }
        Verdict::NotOurs(why) => {
            if record.task.pid.is_some() && why != "no such process" {
                tracing::info!(task = %record.task.id, pid = ?record.task.pid, why,
                    "the recorded process is not this task's: left alone");
            }
            "the process did not survive a restart of the server".to_owned()
        }
    }
}

/// The created-at a record of a process started at `start_ticks` would have
/// (for tests that plant records).
#[cfg(test)]
pub(crate) fn created_at_for(host: &Host, start_ticks: u64) -> broker_core::Timestamp {
    broker_core::Timestamp::from_millis(
        host.boot_time_ms.unwrap_or(0) + start_ticks * 1000 / TICKS_PER_SECOND,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tasks::persist::tests::task;

    const BOOT: &str = "0f1e2d3c-aaaa-bbbb-cccc-000011112222";

    fn host() -> Host {
        Host {
            boot_id: Some(BOOT.into()),
            pid: 100,
            parent: 99,
            uid: Some(1000),
            boot_time_ms: Some(1_000_000),
        }
    }

    fn seen(pid: i32, ticks: u64) -> Seen {
        Seen {
            stat: ProcStat {
                state: b'S',
                ppid: 1,
                pgrp: pid,
                session: pid,
                start_ticks: ticks,
            },
            uid: Some(1000),
        }
    }

    fn record(pid: u32, ticks: u64) -> Record {
        let mut t = task("a", 1, 0);
        t.pid = Some(pid);
        t.created_at = created_at_for(&host(), ticks);
        Record {
            task: t,
            process_start_ticks: Some(ticks),
            boot_id: Some(BOOT.into()),
        }
    }

    #[test]
    fn only_a_process_passing_every_check_is_ours() {
        let r = record(4242, 500);
        assert_eq!(
            judge(&r, &host(), Some(seen(4242, 500))),
            Verdict::Ours(4242)
        );

        let mut no_boot = r.clone();
        no_boot.boot_id = None;
        let mut other_boot = r.clone();
        other_boot.boot_id = Some("ffffffff-aaaa-bbbb-cccc-000011112222".into());
        let mut own = record(100, 500);
        own.task.pid = Some(100);
        let parent = record(99, 500);
        let mut early = r.clone();
        early.task.created_at = broker_core::Timestamp::from_millis(0);
        let mut stranger_user = seen(4242, 500);
        stranger_user.uid = Some(0);
        let mut not_leader = seen(4242, 500);
        not_leader.stat.session = 1;
        let mut zombie = seen(4242, 500);
        zombie.stat.state = b'Z';
        for (what, rec, s) in [
            ("no boot id", &no_boot, Some(seen(4242, 500))),
            ("another boot", &other_boot, Some(seen(4242, 500))),
            ("own pid", &own, Some(seen(100, 500))),
            ("parent pid", &parent, Some(seen(99, 500))),
            ("gone", &r, None),
            ("zombie", &r, Some(zombie)),
            ("reused pid", &r, Some(seen(4242, 501))),
            ("not a session leader", &r, Some(not_leader)),
            ("another user", &r, Some(stranger_user)),
            (
                "created long before it started",
                &early,
                Some(seen(4242, 500)),
            ),
        ] {
            assert!(
                matches!(judge(rec, &host(), s), Verdict::NotOurs(_)),
                "{what}"
            );
        }
    }

    #[test]
    fn the_host_is_read_from_proc() {
        let h = Host::current();
        assert!(h.boot_id.is_some());
        assert_eq!(h.pid, i32::try_from(std::process::id()).expect("pid"));
        assert!(h.parent > 0);
        assert!(h.uid.is_some());
    }
}
