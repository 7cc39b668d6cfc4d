//! Task records on disk: one JSON file per task in `<data_dir>/tasks/`,
//! replaced atomically (temporary file, fsync, rename, fsync of the
//! directory) so a crash leaves either the old record or the new one, never a
//! torn one. Files are 0600 in a 0700 folder.
//!
//! Records are read back at start and checked before anything acts on them
//! ([`validate`]): a record that could make the server overflow its sequence
//! or act on a process it never started is skipped, never trusted.

use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use broker_core::{Task, TaskId};

use super::command::MAX_COMMAND_LEN;
use super::TaskError;
use crate::data_dir::{self, DataDir, FILE_MODE};
use crate::seq::MAX_SEQ;

/// The largest record file read back; real ones are a few KiB.
const MAX_RECORD_BYTES: u64 = 256 * 1024;

/// A task as stored: the public record plus what is needed to recognise its
/// process after a restart.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Record {
    /// The task as the API shows it.
    #[serde(flatten)]
    pub task: Task,
    /// The process's start time (clock ticks after boot): a pid alone could
    /// name a stranger after pid reuse.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process_start_ticks: Option<u64>,
    /// The kernel's boot id when the process was started: after a reboot,
    /// pids and start ticks begin again and name strangers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot_id: Option<String>,
}

/// The tasks found in a data directory by [`load`], with the directory they
/// came from (whose lock the task runner keeps).
#[derive(Clone, Debug)]
pub struct LoadedTasks {
    pub(crate) records: Vec<Record>,
    pub(crate) data: Arc<DataDir>,
}

impl LoadedTasks {
    /// The highest task `version` on disk: the sequence starts above it so
    /// versions stay comparable across restarts (at most
    /// [`MAX_SEQ`](crate::seq::MAX_SEQ): larger records are refused on load).
    pub fn max_version(&self) -> u64 {
        self.records
            .iter()
            .map(|r| r.task.version)
            .max()
            .unwrap_or(0)
    }

    /// How many tasks were found.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether no task was found.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Arc<DataDir> {
        &self.data
    }
}

/// The folder holding records and logs.
pub(crate) fn tasks_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("tasks")
}

/// Where a task's record lives.
pub(crate) fn record_path(dir: &Path, id: &TaskId) -> PathBuf {
    dir.join(format!("{id}.json"))
}

/// Where a task's output log lives.
pub(crate) fn log_path(dir: &Path, id: &TaskId) -> PathBuf {
    dir.join(format!("{id}.log"))
}

/// Reads every task record in `<data_dir>/tasks/` (creating the folder 0700).
///
/// A record that cannot be read, parsed or trusted (a version above the
/// sequence's range, an implausible pid, oversized texts: see the README's
/// data directory section) is skipped with a warning rather than keeping the
/// server from starting; leftover
/// temporary files from an interrupted write are removed, and files left
/// readable by others by older versions are narrowed to 0600.
pub fn load(data: Arc<DataDir>) -> Result<LoadedTasks, TaskError> {
    let dir = data.subdir("tasks")?;
    let mut records = Vec::new();
    for entry in fs::read_dir(&dir)? {
        let entry = entry?;
        let path = entry.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if name.starts_with('.') && name.ends_with(".tmp") {
            let _ = fs::remove_file(&path);
            continue;
        }
        if entry.file_type().is_ok_and(|t| t.is_file()) {
            if let Err(e) = data_dir::make_private(&path, FILE_MODE) {
                tracing::warn!(path = %path.display(), error = %e, "cannot make the file private");
            }
        }
        if !name.ends_with(".json") {
            continue;
        }
        let record = read_record(&path).and_then(|record| {
            if record_path(&dir, &record.task.id) != path {
                return Err(invalid("the record names another task id"));
            }
            validate(&record).map_err(invalid)?;
            Ok(record)
        });
        match record {
            Ok(record) => records.push(record),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "task record skipped")
            }
        }
    }
    records.sort_by(|a, b| (a.task.created_at, &a.task.id).cmp(&(b.task.created_at, &b.task.id)));
    Ok(LoadedTasks { records, data })
}

fn invalid(text: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, text.into())
}

fn read_record(path: &Path) -> io::Result<Record> {
    let mut bytes = Vec::new();
    fs::File::open(path)?
        .take(MAX_RECORD_BYTES + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_RECORD_BYTES {
        return Err(invalid("the record is larger than any task record"));
    }
    serde_json::from_slice(&bytes).map_err(io::Error::from)
}

/// Whether a record read from disk can be trusted: its version within the
/// sequence's range (so nothing added to it can overflow), a pid (if any)
/// that could be one of ours, and texts no longer than the API accepts.
/// Whether its process may be signalled is decided later, against the live
/// system (see `recover`).
pub(crate) fn validate(record: &Record) -> Result<(), String> {
    let task = &record.task;
    if task.version > MAX_SEQ {
        return Err(format!(
            "version {} is above the largest sequence number {MAX_SEQ}",
            task.version
        ));
    }
    if let Some(pid) = task.pid {
        if !(2..=i32::MAX as u32).contains(&pid) {
            return Err(format!("pid {pid} cannot be a task's process"));
        }
    }
    // A name defaults to the command, so both are bounded by the command's
    // limit.
    if task.name.len() > MAX_COMMAND_LEN || task.command.len() > MAX_COMMAND_LEN {
        return Err("the name or command is longer than the API accepts".into());
    }
    if record
        .boot_id
        .as_ref()
        .is_some_and(|b| b.len() > 64 || !b.bytes().all(|c| c.is_ascii_hexdigit() || c == b'-'))
    {
        return Err("the boot id is not one".into());
    }
    Ok(())
}

/// Where records are made durable: the seam the announce protocol writes
/// through ([`DiskRecords`] in the data directory; a fake in unit tests).
pub(crate) trait RecordStore: Send {
    /// Replaces the task's record atomically and durably.
    fn save(&mut self, record: &Record) -> io::Result<()>;
    /// Removes the task's record durably (absent already is fine).
    fn remove(&mut self, id: &TaskId) -> io::Result<()>;
}

/// Records as files in `<data_dir>/tasks/`.
#[derive(Debug)]
pub(crate) struct DiskRecords {
    dir: PathBuf,
}

impl DiskRecords {
    /// Records in `dir` (the tasks folder).
    pub(crate) fn new(dir: PathBuf) -> Self {
        DiskRecords { dir }
    }
}

impl RecordStore for DiskRecords {
    fn save(&mut self, record: &Record) -> io::Result<()> {
        let bytes = serde_json::to_vec_pretty(record).map_err(io::Error::from)?;
        data_dir::write_atomic(&record_path(&self.dir, &record.task.id), &bytes)
    }

    fn remove(&mut self, id: &TaskId) -> io::Result<()> {
        match fs::remove_file(record_path(&self.dir, id)) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        }
        data_dir::sync_dir(&self.dir)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use broker_core::{TaskKind, TaskStatus, Timestamp};
    use std::os::unix::fs::PermissionsExt;

    pub(crate) fn task(id: &str, version: u64, created: u64) -> Task {
        Task {
            id: TaskId::new(id).expect("valid id"),
            name: "n".into(),
            kind: TaskKind::Command,
            command: "sleep 1".into(),
            workdir: "/".into(),
            status: TaskStatus::Running,
            version,
            created_at: Timestamp::from_millis(created),
            finished_at: None,
            exit_code: None,
            error: None,
            pid: Some(42),
            last_activity_at: Timestamp::from_millis(created),
        }
    }

    fn record(task: Task) -> Record {
        Record {
            task,
            process_start_ticks: Some(77),
            boot_id: Some("0f1e2d3c-aaaa-bbbb-cccc-000011112222".into()),
        }
    }

    #[test]
    fn records_round_trip_and_junk_is_skipped() {
        let data = tempfile::tempdir().expect("temp dir");
        let loaded = load(Arc::new(DataDir::open(data.path()).expect("dir"))).expect("load empty");
        assert!(loaded.is_empty());
        assert_eq!(loaded.max_version(), 0);
        drop(loaded);
        let dir = tasks_dir(data.path());
        let mut store = DiskRecords::new(dir.clone());
        for (id, version, created) in [("b", 9, 2), ("a", 4, 1)] {
            store
                .save(&record(task(id, version, created)))
                .expect("save");
        }
        fs::write(dir.join("broken.json"), b"{not json").expect("write junk");
        fs::write(dir.join(".c.json.tmp"), b"half").expect("write tmp");
        fs::write(dir.join("a.log"), b"out").expect("write log");
        fs::set_permissions(dir.join("a.log"), fs::Permissions::from_mode(0o644)).expect("chmod");
        let loaded = load(Arc::new(DataDir::open(data.path()).expect("dir"))).expect("load");
        let ids: Vec<&str> = loaded.records.iter().map(|r| r.task.id.as_str()).collect();
        assert_eq!(ids, ["a", "b"]);
        assert_eq!(loaded.max_version(), 9);
        assert_eq!(loaded.records[0], record(task("a", 4, 1)));
        assert!(!dir.join(".c.json.tmp").exists());
        for file in ["a.json", "b.json", "a.log"] {
            let mode = fs::metadata(dir.join(file))
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{file}");
        }
        store
            .remove(&TaskId::new("a").expect("id"))
            .expect("remove");
        store
            .remove(&TaskId::new("a").expect("id"))
            .expect("remove twice");
        assert!(!dir.join("a.json").exists());
    }

    #[test]
    fn untrustworthy_records_are_refused() {
        assert!(validate(&record(task("a", MAX_SEQ, 1))).is_ok());
        assert!(validate(&record(task("a", MAX_SEQ + 1, 1))).is_err());
        assert!(validate(&record(task("a", u64::MAX, 1))).is_err());
        for pid in [0, 1, u32::MAX, i32::MAX as u32 + 1] {
            let mut t = task("a", 1, 1);
            t.pid = Some(pid);
            assert!(validate(&record(t)).is_err(), "pid {pid}");
        }
        let mut r = record(task("a", 1, 1));
        r.boot_id = Some("../../etc/passwd".into());
        assert!(validate(&r).is_err());
    }

    #[test]
    fn a_planted_record_with_an_absurd_version_is_skipped() {
        let data = tempfile::tempdir().expect("temp dir");
        let dir = tasks_dir(data.path());
        fs::create_dir_all(&dir).expect("mkdir");
        let mut planted = serde_json::to_value(record(task("x", 1, 1))).expect("json");
        planted["version"] = serde_json::Value::from(u64::MAX);
        fs::write(dir.join("x.json"), planted.to_string()).expect("plant");
        let loaded = load(Arc::new(DataDir::open(data.path()).expect("dir"))).expect("load");
        assert!(loaded.is_empty());
        assert_eq!(loaded.max_version(), 0);
    }
}
