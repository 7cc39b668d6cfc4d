//! Reading `/proc` (Linux): who is in a task's session, whether the
//! terminal's foreground process is blocked reading the terminal, and whether
//! a pid still names the process we started.
//!
//! Everything here is best effort: a process can exit between two reads, and a
//! kernel may hide a file. Every failure reads as "not known", which the
//! callers treat as the harmless answer (not blocked, not ours).

use std::fs;
use std::path::{Path, PathBuf};

/// The fields of `/proc/<pid>/stat` the task runner uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ProcStat {
    /// One letter: `R` running, `S` sleeping, `Z` zombie, ...
    pub state: u8,
    /// Parent process id.
    pub ppid: i32,
    /// Process group id.
    pub pgrp: i32,
    /// Session id.
    pub session: i32,
    /// Start time in clock ticks after boot: with the pid, it identifies a
    /// process across pid reuse.
    pub start_ticks: u64,
}

/// Parses a `/proc/<pid>/stat` line. The command name (field 2) may hold
/// spaces and parentheses, so fields are counted after the last `)`.
pub(crate) fn parse_stat(line: &str) -> Option<ProcStat> {
    let rest = &line[line.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // fields[0] is field 3 (state); field N is fields[N - 3].
    Some(ProcStat {
        state: *fields.first()?.as_bytes().first()?,
        ppid: fields.get(1)?.parse().ok()?,
        pgrp: fields.get(2)?.parse().ok()?,
        session: fields.get(3)?.parse().ok()?,
        start_ticks: fields.get(19)?.parse().ok()?,
    })
}

/// Reads `/proc/<pid>/stat`.
pub(crate) fn stat(pid: i32) -> Option<ProcStat> {
    parse_stat(&fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// The kernel's boot id (`/proc/sys/kernel/random/boot_id`): a new one at
/// every boot, so a record from before a reboot is never taken for ours.
pub(crate) fn boot_id() -> Option<String> {
    let text = fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
    let id = text.trim();
    (!id.is_empty()).then(|| id.to_owned())
}

/// When the machine booted, in Unix ms (`btime` in `/proc/stat`).
pub(crate) fn boot_time_ms() -> Option<u64> {
    let text = fs::read_to_string("/proc/stat").ok()?;
    let secs: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()?;
    secs.checked_mul(1000)
}

/// Clock ticks per second in `/proc/<pid>/stat`: `USER_HZ`, fixed at 100 in
/// Linux's user-space ABI whatever the kernel's own tick rate.
pub(crate) const TICKS_PER_SECOND: u64 = 100;

/// The owner (uid) of process `pid`.
pub(crate) fn owner(pid: i32) -> Option<u32> {
    use std::os::unix::fs::MetadataExt;
    fs::metadata(format!("/proc/{pid}")).ok().map(|m| m.uid())
}

/// Every process (pid and its stat) in session `sid`, found by scanning
/// `/proc`. Used to signal a whole task, job-control groups included.
pub(crate) fn session_members(sid: i32) -> Vec<(i32, ProcStat)> {
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(|pid| Some((pid, stat(pid)?)))
        .filter(|(_, st)| st.session == sid)
        .collect()
}

/// The processes in process group `pgrp` among `root` and its descendants,
/// walked through `/proc/<pid>/task/<tid>/children`.
fn group_members_under(root: i32, pgrp: i32) -> Vec<i32> {
    let mut found = Vec::new();
    let mut stack = vec![root];
    let mut seen = 0usize;
    while let Some(pid) = stack.pop() {
        seen += 1;
        if seen > 4096 {
            break; // a fork bomb is not worth walking
        }
        if stat(pid).is_some_and(|st| st.pgrp == pgrp) {
            found.push(pid);
        }
        let Ok(threads) = fs::read_dir(format!("/proc/{pid}/task")) else {
            continue;
        };
        for thread in threads.flatten() {
            let children = thread.path().join("children");
            if let Ok(text) = fs::read_to_string(children) {
                stack.extend(
                    text.split_whitespace()
                        .filter_map(|c| c.parse::<i32>().ok()),
                );
            }
        }
    }
    found
}

/// System call numbers of the calls a program blocks in while it waits for
/// a line from its terminal.
#[cfg(target_arch = "x86_64")]
mod nr {
    pub const READ: i64 = 0;
    pub const READV: i64 = 19;
    pub const PREAD64: i64 = 17;
    pub const SELECT: i64 = 23;
    pub const PSELECT6: i64 = 270;
}
#[cfg(target_arch = "aarch64")]
mod nr {
    pub const READ: i64 = 63;
    pub const READV: i64 = 65;
    pub const PREAD64: i64 = 67;
    pub const SELECT: i64 = -1; // aarch64 has only pselect6
    pub const PSELECT6: i64 = 72;
}

/// Whether the first two fields of `/proc/<pid>/syscall` say the process is
/// waiting on the terminal `tty`: a `read` family call on a descriptor that is
/// the terminal, or a `select` whose descriptor set can only hold terminal
/// descriptors (interactive bash waits in `pselect6(1, ...)` on fd 0).
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
fn syscall_waits_on_tty(pid: i32, syscall_line: &str, tty: Option<&Path>) -> bool {
    let mut fields = syscall_line.split_whitespace();
    let Some(Ok(number)) = fields.next().map(str::parse::<i64>) else {
        return false; // "running", or unreadable
    };
    let Some(arg0) = fields
        .next()
        .and_then(|a| i64::from_str_radix(a.trim_start_matches("0x"), 16).ok())
    else {
        return false;
    };
    if number == nr::READ || number == nr::READV || number == nr::PREAD64 {
        return fd_is_tty(pid, arg0, tty);
    }
    if number == nr::SELECT || number == nr::PSELECT6 {
        // arg0 is nfds: the set holds descriptors below it.
        if !(1..=3).contains(&arg0) {
            return false;
        }
        let open: Vec<i64> = (0..arg0)
            .filter(|fd| Path::new(&format!("/proc/{pid}/fd/{fd}")).exists())
            .collect();
        return !open.is_empty() && open.iter().all(|&fd| fd_is_tty(pid, fd, tty));
    }
    false
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
fn syscall_waits_on_tty(_pid: i32, _syscall_line: &str, _tty: Option<&Path>) -> bool {
    false // unknown numbering: the idle threshold still applies
}

/// Whether descriptor `fd` of `pid` is the terminal `tty` (any pseudo-terminal
/// when the name is unknown).
fn fd_is_tty(pid: i32, fd: i64, tty: Option<&Path>) -> bool {
    let Ok(target) = fs::read_link(format!("/proc/{pid}/fd/{fd}")) else {
        return false;
    };
    match tty {
        Some(tty) => target == tty,
        None => target.starts_with("/dev/pts/"),
    }
}

/// Whether the terminal's foreground process group (`foreground`, from
/// `tcgetpgrp` on the master) has a member, among `root` and its descendants,
/// sleeping in a read of the terminal `tty`.
///
/// Programs that wait in an event loop (`epoll`) cannot be told apart from
/// programs waiting on the network; for them the idle threshold decides.
pub(crate) fn foreground_blocked_on_read(root: i32, foreground: i32, tty: Option<&Path>) -> bool {
    group_members_under(root, foreground)
        .into_iter()
        .any(|pid| {
            let sleeping = stat(pid).is_some_and(|st| st.state == b'S');
            sleeping
                && fs::read_to_string(format!("/proc/{pid}/syscall"))
                    .is_ok_and(|line| syscall_waits_on_tty(pid, &line, tty))
        })
}

/// The terminal device path as `/proc/<pid>/fd` links show it.
pub(crate) fn tty_path(name: Option<PathBuf>) -> Option<PathBuf> {
    name.filter(|p| p.starts_with("/dev/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_after_the_last_parenthesis() {
        let line = "4242 (a (weird) name) S 1 4242 4242 34816 4242 4194560 120 0 0 0 0 0 0 0 20 0 1 0 987654 2277376 200 18446744073709551615";
        let st = parse_stat(line).expect("a valid stat line");
        assert_eq!(st.state, b'S');
        assert_eq!(st.ppid, 1);
        assert_eq!(st.pgrp, 4242);
        assert_eq!(st.session, 4242);
        assert_eq!(st.start_ticks, 987654);
        assert_eq!(parse_stat("12 (x) S 1"), None);
    }

    #[test]
    fn our_own_process_is_readable() {
        let me = i32::try_from(std::process::id()).expect("pid fits i32");
        let st = stat(me).expect("own stat readable");
        assert!(st.start_ticks > 0);
        assert_ne!(st.state, b'Z');
        assert!(boot_id().is_some_and(|b| b.len() == 36));
        assert!(boot_time_ms().is_some());
        assert!(owner(me).is_some());
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn running_or_unrelated_syscalls_are_not_terminal_reads() {
        let me = i32::try_from(std::process::id()).expect("pid fits i32");
        assert!(!syscall_waits_on_tty(me, "running", None));
        // nanosleep (35) is not a read.
        assert!(!syscall_waits_on_tty(me, "35 0x7ffd 0x0 0x0", None));
        // select with a big descriptor set is not a terminal-only wait.
        assert!(!syscall_waits_on_tty(me, "270 0x40 0x0", None));
    }
}
