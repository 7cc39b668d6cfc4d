//! Records are checked before the server acts on them: a planted or stale
//! record naming a stranger's pid (even with the stranger's real start
//! time) never gets that stranger killed, the kernel's boot id is compared
//! first, and an absurd version cannot overflow the sequence.

mod serve_support;

use std::process::{Child, Command, Stdio};

use serde_json::{json, Value};
use serve_support::{pid_alive, seq, Serve};

fn stat_field(pid: u32, n: usize) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    let rest = text.rsplit(')').next().expect("fields");
    // rest starts at field 3.
    rest.split_whitespace()
        .nth(n - 3)
        .and_then(|f| f.parse().ok())
        .expect("a number")
}

fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .expect("boot id")
        .trim()
        .to_owned()
}

/// When `pid` started, in Unix ms (as a task record would say).
fn started_ms(pid: u32) -> u64 {
    let stat = std::fs::read_to_string("/proc/stat").expect("/proc/stat");
    let btime: u64 = stat
        .lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
        .expect("btime");
    btime * 1000 + stat_field(pid, 22) * 10
}

struct Stranger(Child);

impl Stranger {
    /// `sleep`, as its own session leader when `leader`.
    fn start(leader: bool) -> Stranger {
        let mut cmd = if leader {
            let mut c = Command::new("setsid");
            c.args(["sleep", "60"]);
            c
        } else {
            let mut c = Command::new("sleep");
            c.arg("60");
            c
        };
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("a stranger starts");
        // setsid execs sleep in the same process: wait until it did.
        let pid = child.id();
        for _ in 0..200 {
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            if comm.trim() == "sleep" {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        Stranger(child)
    }

    fn pid(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for Stranger {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A running task's record naming `pid`.
fn record(id: &str, pid: u32, version: u64, created_at: u64) -> Value {
    json!({
        "id": id, "name": id, "kind": "command", "command": "sleep 60", "workdir": "/",
        "status": "running", "version": version, "created_at": created_at,
        "last_activity_at": created_at, "pid": pid,
        "process_start_ticks": stat_field(pid, 22),
    })
}

fn plant(dir: &std::path::Path, record: &Value) {
    let id = record["id"].as_str().expect("id");
    std::fs::write(dir.join(format!("{id}.json")), record.to_string()).expect("plant");
}

#[test]
fn planted_records_kill_no_stranger_and_overflow_nothing() {
    let data = tempfile::tempdir().expect("temp dir");
    let tasks = data.path().join("tasks");
    std::fs::create_dir_all(&tasks).expect("mkdir");

    // Everything right but the process is no session leader (every task is).
    let follower = Stranger::start(false);
    let mut r = record("follower", follower.pid(), 5, started_ms(follower.pid()));
    r["boot_id"] = json!(boot_id());
    plant(&tasks, &r);
    // A session leader with its real start time, but no boot id recorded.
    let unbooted = Stranger::start(true);
    plant(
        &tasks,
        &record("unbooted", unbooted.pid(), 6, started_ms(unbooted.pid())),
    );
    // ... or the boot id of another boot.
    let other_boot = Stranger::start(true);
    let mut r = record(
        "other-boot",
        other_boot.pid(),
        7,
        started_ms(other_boot.pid()),
    );
    r["boot_id"] = json!("00000000-0000-4000-8000-000000000000");
    plant(&tasks, &r);
    // ... or a task created a day before the process started.
    let too_late = Stranger::start(true);
    let mut r = record(
        "too-late",
        too_late.pid(),
        8,
        started_ms(too_late.pid()) - 86_400_000,
    );
    r["boot_id"] = json!(boot_id());
    plant(&tasks, &r);
    // An absurd version. (Implausible pids such as 1 are refused the same
    // way, see persist.rs; no record here names a process this test did
    // not start, so a broken build cannot hurt anything else.)
    let mut absurd = record("absurd", follower.pid(), 1, started_ms(follower.pid()));
    absurd["version"] = json!(u64::MAX);
    plant(&tasks, &absurd);

    let serve = Serve::start(data.path(), &[], &[]);
    let (status, list) = serve.json("GET", "/api/tasks", None);
    assert_eq!(status, 200, "{list}");
    let listed: Vec<&Value> = list["tasks"].as_array().expect("tasks").iter().collect();
    let ids: Vec<&str> = listed
        .iter()
        .map(|t| t["id"].as_str().expect("id"))
        .collect();
    assert!(
        !ids.contains(&"absurd"),
        "the absurd record is skipped: {ids:?}"
    );
    for id in ["follower", "unbooted", "other-boot", "too-late"] {
        let task = listed.iter().find(|t| t["id"] == id).expect("listed");
        assert_eq!(task["status"], "error", "{task}");
        assert!(
            task["error"]
                .as_str()
                .is_some_and(|e| e.contains("did not survive")),
            "{task}"
        );
    }
    std::thread::sleep(std::time::Duration::from_millis(200));
    for (what, s) in [
        ("follower", &follower),
        ("unbooted", &unbooted),
        ("other boot", &other_boot),
        ("too late", &too_late),
    ] {
        assert!(pid_alive(s.pid()), "the stranger {what} was killed");
    }
    // The sequence is sane: above the planted versions, far below overflow.
    let id = serve.publish(1);
    let s = seq(&id);
    assert!(s > 8 && s < 1 << 53, "{id}");
    serve.stop();
}
