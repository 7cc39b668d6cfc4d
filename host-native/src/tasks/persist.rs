//! Task records on disk: one JSON file per task in `<data_dir>/tasks/`,
//! replaced atomically (temporary file, fsync, rename, fsync of the
//! directory) so a crash leaves either the old record or the new one, never a
//! torn one.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use broker_core::{Task, TaskId};

use super::TaskError;

/// A task as stored: the public record plus what is needed to recognise its
/// process after a restart.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct Record {
    /// The task as the API shows it.
    #[serde(flatten)]
    pub task: Task,
    /// The process's start time (clock ticks after boot): a pid alone could
    /// name a stranger after pid reuse.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process_start_ticks: Option<u64>,
}

/// The tasks found in a data directory by [`load`].
#[derive(Clone, Debug, Default)]
pub struct LoadedTasks {
    pub(crate) records: Vec<Record>,
    pub(crate) data_dir: PathBuf,
}

impl LoadedTasks {
    /// The highest task `version` on disk: the broker's sequence must start
    /// above it so versions stay comparable across restarts.
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

/// Reads every task record in `<data_dir>/tasks/` (creating the folder).
///
/// A record that cannot be read or parsed is skipped with a warning rather
/// than keeping the server from starting; leftover temporary files from an
/// interrupted write are removed.
pub fn load(data_dir: &Path) -> Result<LoadedTasks, TaskError> {
    let dir = tasks_dir(data_dir);
    fs::create_dir_all(&dir)?;
    let mut records = Vec::new();
    for entry in fs::read_dir(&dir)? {
        let path = entry?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if name.starts_with('.') && name.ends_with(".tmp") {
            let _ = fs::remove_file(&path);
            continue;
        }
        if !name.ends_with(".json") {
            continue;
        }
        match read_record(&path) {
            Ok(record) if record_path(&dir, &record.task.id) == path => records.push(record),
            Ok(_) => {
                tracing::warn!(path = %path.display(), "task record names another id; skipped")
            }
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "unreadable task record skipped")
            }
        }
    }
    records.sort_by(|a, b| (a.task.created_at, &a.task.id).cmp(&(b.task.created_at, &b.task.id)));
    Ok(LoadedTasks {
        records,
        data_dir: data_dir.to_path_buf(),
    })
}

fn read_record(path: &Path) -> io::Result<Record> {
    let bytes = fs::read(path)?;
    serde_json::from_slice(&bytes).map_err(io::Error::from)
}

/// Writes a record atomically and durably in one go (the manager splits
/// these steps around the publish).
#[cfg(test)]
pub(crate) fn save(dir: &Path, record: &Record) -> io::Result<()> {
    commit_rename(prepare(dir, record)?)?;
    sync_dir(dir)
}

/// A record written to its temporary file and flushed to disk, waiting to
/// be renamed into place.
#[derive(Debug)]
pub(crate) struct Prepared {
    tmp: PathBuf,
    path: PathBuf,
    /// The version the prepared record carries.
    pub version: u64,
}

/// First half of an atomic write: the temporary file, written and fsynced.
/// The slow part, done before the event's id is final (see the manager).
pub(crate) fn prepare(dir: &Path, record: &Record) -> io::Result<Prepared> {
    let id = &record.task.id;
    let tmp = dir.join(format!(".{id}.json.tmp"));
    let bytes = serde_json::to_vec_pretty(record).map_err(io::Error::from)?;
    let mut file = File::create(&tmp)?;
    file.write_all(&bytes)?;
    file.sync_all()?;
    Ok(Prepared {
        tmp,
        path: record_path(dir, id),
        version: record.task.version,
    })
}

/// Second half: the rename that replaces the record at once. Cheap (no
/// flush), so it may run while the broker is held; [`sync_dir`] then makes
/// the rename itself durable.
pub(crate) fn commit_rename(prepared: Prepared) -> io::Result<()> {
    fs::rename(&prepared.tmp, &prepared.path)
}

/// Replaces a record by write and rename without waiting for the disk: the
/// fallback that runs while the broker is held when a prepared record's
/// version missed (see the manager); [`sync_record`] follows once the broker
/// is free.
pub(crate) fn replace_unsynced(dir: &Path, record: &Record) -> io::Result<()> {
    let id = &record.task.id;
    let tmp = dir.join(format!(".{id}.json.tmp"));
    let bytes = serde_json::to_vec_pretty(record).map_err(io::Error::from)?;
    fs::write(&tmp, &bytes)?;
    fs::rename(&tmp, record_path(dir, id))
}

/// Flushes a record written by [`replace_unsynced`].
pub(crate) fn sync_record(dir: &Path, id: &TaskId) -> io::Result<()> {
    File::open(record_path(dir, id))?.sync_all()
}

/// Flushes the directory entry a rename changed.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use broker_core::{TaskKind, TaskStatus, Timestamp};

    fn task(id: &str, version: u64, created: u64) -> Task {
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

    #[test]
    fn records_round_trip_and_junk_is_skipped() {
        let data = tempfile::tempdir().expect("temp dir");
        let loaded = load(data.path()).expect("load empty");
        assert!(loaded.is_empty());
        assert_eq!(loaded.max_version(), 0);
        let dir = tasks_dir(data.path());
        for (id, version, created) in [("b", 9, 2), ("a", 4, 1)] {
            let record = Record {
                task: task(id, version, created),
                process_start_ticks: Some(77),
            };
            save(&dir, &record).expect("save");
        }
        fs::write(dir.join("broken.json"), b"{not json").expect("write junk");
        fs::write(dir.join(".c.json.tmp"), b"half").expect("write tmp");
        let loaded = load(data.path()).expect("load");
        let ids: Vec<&str> = loaded.records.iter().map(|r| r.task.id.as_str()).collect();
        assert_eq!(ids, ["a", "b"]);
        assert_eq!(loaded.max_version(), 9);
        assert_eq!(loaded.records[0].process_start_ticks, Some(77));
        assert_eq!(loaded.records[0].task, task("a", 4, 1));
        assert!(!dir.join(".c.json.tmp").exists());
    }
}
