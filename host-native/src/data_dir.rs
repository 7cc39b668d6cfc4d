//! The data directory: private to its user, and held by one server at a time.
//!
//! Task records, output logs and the reserved `SEQ` ceiling live here. Two
//! servers sharing one directory would each take the other's live tasks for
//! leftovers of a crash and kill them, and both would hand out the same
//! `SEQ`s; so [`DataDir::open`] takes an exclusive `flock` on `<dir>/lock`
//! before anything else reads or writes the directory, and a second server
//! gets [`DataDirError::Locked`] having changed nothing. The lock goes with
//! the process (a crash releases it), never with a stale file.
//!
//! The directory is created `0700` (and an existing one is narrowed to
//! `0700` once locked); every file in it is created `0600` through
//! [`private_file`].

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

/// The mode of the data directory and of every folder in it.
pub const DIR_MODE: u32 = 0o700;
/// The mode of every file written in the data directory.
pub const FILE_MODE: u32 = 0o600;
/// The lock file's name inside the data directory.
pub const LOCK_FILE: &str = "lock";

/// Why the data directory cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum DataDirError {
    /// Another server holds the directory.
    #[error(
        "data directory {path} is in use by another tidings server{holder}: stop that server \
         or give this one another --data"
    )]
    Locked {
        /// The directory.
        path: String,
        /// `" (pid N)"` when the holder wrote its pid, else empty.
        holder: String,
    },
    /// The directory or its lock file could not be created or opened.
    #[error("data directory {path}: {source}")]
    Io {
        /// The directory.
        path: String,
        /// What failed.
        source: io::Error,
    },
}

/// A data directory this process holds the lock of. The lock is released
/// when the last holder drops it (the server, its task runner and its `SEQ`
/// reserver each keep an `Arc`).
#[derive(Debug)]
pub struct DataDir {
    path: PathBuf,
    _lock: Flock<File>,
}

impl DataDir {
    /// Creates the directory (mode 0700) when missing, takes its lock, then
    /// narrows its mode to 0700 and writes this process's pid into the lock
    /// file. When another server holds the lock this fails with
    /// [`DataDirError::Locked`] before changing anything.
    pub fn open(path: &Path) -> Result<DataDir, DataDirError> {
        let io_err = |source| DataDirError::Io {
            path: path.display().to_string(),
            source,
        };
        if !path.is_dir() {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(DIR_MODE)
                .create(path)
                .map_err(io_err)?;
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(FILE_MODE)
            .open(path.join(LOCK_FILE))
            .map_err(io_err)?;
        let mut lock = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(lock) => lock,
            Err((mut file, Errno::EWOULDBLOCK)) => {
                let mut text = String::new();
                let _ = file.read_to_string(&mut text);
                let holder = text
                    .trim()
                    .parse::<u32>()
                    .map(|pid| format!(" (pid {pid})"))
                    .unwrap_or_default();
                return Err(DataDirError::Locked {
                    path: path.display().to_string(),
                    holder,
                });
            }
            Err((_, errno)) => return Err(io_err(io::Error::from(errno))),
        };
        make_private(path, DIR_MODE).map_err(io_err)?;
        // Only for the message a second server prints: the lock itself is
        // the flock, not this text.
        let pid = format!("{}\n", std::process::id());
        let written = lock
            .set_len(0)
            .and_then(|()| lock.seek(SeekFrom::Start(0)))
            .and_then(|_| lock.write_all(pid.as_bytes()));
        if let Err(e) = written {
            tracing::warn!(error = %e, "cannot write the pid into the data directory's lock file");
        }
        Ok(DataDir {
            path: path.to_path_buf(),
            _lock: lock,
        })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A folder inside the directory, created 0700 (and narrowed to 0700
    /// when it exists with a wider mode).
    pub fn subdir(&self, name: &str) -> io::Result<PathBuf> {
        let dir = self.path.join(name);
        match fs::DirBuilder::new().mode(DIR_MODE).create(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
        make_private(&dir, DIR_MODE)?;
        Ok(dir)
    }
}

/// Options that create a file with mode 0600 (the umask can only narrow it).
pub fn private_file() -> OpenOptions {
    let mut options = OpenOptions::new();
    options.mode(FILE_MODE);
    options
}

/// Sets `mode` on `path` unless it already has it (files and folders
/// written by older versions were 0644 and 0755).
pub fn make_private(path: &Path, mode: u32) -> io::Result<()> {
    let meta = fs::symlink_metadata(path)?;
    if meta.permissions().mode() & 0o777 != mode {
        fs::set_permissions(path, fs::Permissions::from_mode(mode))?;
    }
    Ok(())
}

/// Flushes a directory's entries (after a rename or an unlink in it).
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Replaces `path` with `bytes` atomically and durably: a temporary file
/// (mode 0600) written and flushed, renamed over `path`, then the folder
/// flushed. A crash leaves the old content or the new, never a torn file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp"));
    let mut file = private_file()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    fs::rename(&tmp, path)?;
    sync_dir(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).expect("metadata").permissions().mode() & 0o777
    }

    #[test]
    fn a_new_directory_is_private_and_a_second_open_is_refused() {
        let parent = tempfile::tempdir().expect("temp dir");
        let path = parent.path().join("data");
        let first = DataDir::open(&path).expect("first open");
        assert_eq!(mode(&path), DIR_MODE);
        assert_eq!(mode(&path.join(LOCK_FILE)), FILE_MODE);
        let text = fs::read_to_string(path.join(LOCK_FILE)).expect("lock file");
        assert_eq!(text.trim(), std::process::id().to_string());
        match DataDir::open(&path) {
            Err(e @ DataDirError::Locked { .. }) => {
                let message = e.to_string();
                assert!(
                    message.contains("in use by another tidings server"),
                    "{message}"
                );
                assert!(
                    message.contains(&format!("pid {}", std::process::id())),
                    "{message}"
                );
            }
            other => panic!("expected Locked, got {other:?}"),
        }
        drop(first);
        DataDir::open(&path).expect("free again once dropped");
    }

    #[test]
    fn an_existing_wide_directory_is_narrowed_and_files_are_0600() {
        let parent = tempfile::tempdir().expect("temp dir");
        let path = parent.path().join("old");
        fs::create_dir(&path).expect("mkdir");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).expect("chmod");
        let dir = DataDir::open(&path).expect("open");
        assert_eq!(mode(&path), DIR_MODE);
        let sub = dir.subdir("tasks").expect("subdir");
        assert_eq!(mode(&sub), DIR_MODE);
        let file = sub.join("x.json");
        write_atomic(&file, b"{}").expect("write");
        assert_eq!(mode(&file), FILE_MODE);
        assert_eq!(fs::read(&file).expect("read"), b"{}");
        write_atomic(&file, b"[]").expect("replace");
        assert_eq!(fs::read(&file).expect("read"), b"[]");
        assert!(!sub.join(".x.json.tmp").exists());
    }
}
