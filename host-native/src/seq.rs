//! `SEQ` reserved in durable blocks, so no sequence number is handed out
//! twice, not even after a crash (kill -9, power loss).
//!
//! The file `<data_dir>/seq` holds the *ceiling*: the highest `SEQ` this
//! data directory may have handed out. A server that starts reads it and
//! begins above it (and above every task version on disk), then, before its
//! hub exists, makes the first block durable (`ceiling = first + BLOCK - 1`,
//! written atomically and fsynced). Whatever happened to the previous
//! server, every `SEQ` it could have handed out is at most the old ceiling,
//! so the new one never repeats any.
//!
//! Publishing must never block or fail, and the broker's lock must never
//! wait for a disk. So the hub only reports each `SEQ` it hands out
//! ([`SeqBlocks::handed_out`]: two atomic loads, no IO); when less than half
//! a block is left, a dedicated thread writes the next ceiling and fsyncs it
//! while publishing goes on. With a block of 2^20, the publishers would have
//! to hand out half a million `SEQ`s during one fsync to run past the
//! durable ceiling; if they ever do, publishing still goes on (it must not
//! block), each such `SEQ` is counted in [`SeqBlocks::overruns`] and logged,
//! and only those few could be reused after a crash at that very moment.
//!
//! Sequence numbers stay at most [`MAX_SEQ`] (2^53 - 1): browsers read ids
//! and versions as JSON numbers, exact only up to there. Every addition is
//! checked; a data directory whose ceiling reaches the limit refuses to
//! start.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::data_dir::{self, DataDir};

/// The highest `SEQ` (and task version) ever handed out: JSON numbers are
/// exact up to here in every browser.
pub const MAX_SEQ: u64 = (1 << 53) - 1;

/// How many `SEQ`s one durable reservation covers.
pub const BLOCK: u64 = 1 << 20;

/// The ceiling's file inside the data directory.
pub const SEQ_FILE: &str = "seq";

/// How long the reserver waits before retrying a write that failed.
const RETRY: Duration = Duration::from_millis(500);

/// Why the sequence could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SeqError {
    /// The ceiling could not be read or made durable.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// What failed.
        source: std::io::Error,
    },
    /// The file holds something other than a number.
    #[error("{path} does not hold a sequence number ({text:?}); restore it or remove it together with the tasks folder")]
    Corrupt {
        /// The file.
        path: String,
        /// What it holds (cut to 40 bytes).
        text: String,
    },
    /// The ceiling is at the limit: no `SEQ` is left to hand out.
    #[error("the event sequence of this data directory is exhausted (ceiling {0}); use a new data directory")]
    Exhausted(u64),
}

/// The reservation shared by the hub (which reports) and the reserver
/// thread (which writes ahead).
#[derive(Debug)]
pub struct SeqBlocks {
    first: u64,
    shared: Arc<Shared>,
    thread: std::thread::Thread,
    handle: Mutex<Option<JoinHandle<()>>>,
}

#[derive(Debug)]
struct Shared {
    /// The ceiling known to be on disk.
    durable: AtomicU64,
    /// The highest `SEQ` reported handed out.
    latest: AtomicU64,
    /// A new block is wanted (set by the hub, cleared by the reserver).
    wanted: AtomicBool,
    closed: AtomicBool,
    overruns: AtomicU64,
    /// The ceiling at which the last overrun was logged (once per block).
    overrun_logged: AtomicU64,
}

impl SeqBlocks {
    /// Reads the ceiling, makes the first block durable and starts the
    /// reserver. `above` is the highest task version on disk: the first
    /// `SEQ` is above both.
    pub fn open(data: Arc<DataDir>, above: u64) -> Result<SeqBlocks, SeqError> {
        let path = data.path().join(SEQ_FILE);
        let ceiling = read_ceiling(&path)?;
        let start = ceiling.max(above);
        let first = start
            .checked_add(1)
            .filter(|&s| s <= MAX_SEQ)
            .ok_or(SeqError::Exhausted(start))?;
        let reserved = next_ceiling(start);
        if reserved < first {
            return Err(SeqError::Exhausted(start));
        }
        write_ceiling(&path, reserved)?;
        let shared = Arc::new(Shared {
            durable: AtomicU64::new(reserved),
            latest: AtomicU64::new(start),
            wanted: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            overruns: AtomicU64::new(0),
            overrun_logged: AtomicU64::new(0),
        });
        let worker = Arc::clone(&shared);
        let handle = std::thread::Builder::new()
            .name("tidings-seq".into())
            .spawn(move || reserve_ahead(&worker, &data, &path))
            .map_err(|source| SeqError::Io {
                path: SEQ_FILE.into(),
                source,
            })?;
        Ok(SeqBlocks {
            first,
            thread: handle.thread().clone(),
            shared,
            handle: Mutex::new(Some(handle)),
        })
    }

    /// The first `SEQ` of this run.
    pub fn first_seq(&self) -> u64 {
        self.first
    }

    /// The ceiling known to be durable now.
    pub fn ceiling(&self) -> u64 {
        self.shared.durable.load(Ordering::Acquire)
    }

    /// How many `SEQ`s were handed out above the durable ceiling (see the
    /// module docs; expected to stay 0).
    pub fn overruns(&self) -> u64 {
        self.shared.overruns.load(Ordering::Relaxed)
    }

    /// Called by the hub after it handed out `seq` (outside the broker's
    /// lock): asks for the next block once less than half of one is left.
    /// Never blocks, never does IO.
    pub fn handed_out(&self, seq: u64) {
        let shared = &self.shared;
        shared.latest.fetch_max(seq, Ordering::AcqRel);
        let durable = shared.durable.load(Ordering::Acquire);
        if seq > durable {
            shared.overruns.fetch_add(1, Ordering::Relaxed);
            if shared.overrun_logged.swap(durable, Ordering::AcqRel) != durable {
                tracing::error!(
                    seq,
                    durable,
                    "event SEQs are handed out faster than the disk reserves them; \
                     a crash now could reuse some"
                );
            }
        }
        if durable.saturating_sub(seq) < BLOCK / 2
            && !shared.closed.load(Ordering::Acquire)
            && !shared.wanted.swap(true, Ordering::AcqRel)
        {
            self.thread.unpark();
        }
    }

    /// Stops the reserver and waits for it (it releases its hold on the data
    /// directory). Reports after this are still counted but write nothing.
    pub fn close(&self) {
        self.shared.closed.store(true, Ordering::Release);
        self.thread.unpark();
        let handle = self
            .handle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(handle) = handle {
            let _ = handle.join();
        }
    }
}

impl Drop for SeqBlocks {
    fn drop(&mut self) {
        self.close();
    }
}

/// The reserver thread: sleeps until a block is wanted, then writes the next
/// ceiling above everything handed out.
fn reserve_ahead(shared: &Shared, data: &Arc<DataDir>, path: &Path) {
    let _hold = Arc::clone(data);
    loop {
        if shared.closed.load(Ordering::Acquire) {
            return;
        }
        if !shared.wanted.load(Ordering::Acquire) {
            std::thread::park();
            continue;
        }
        let durable = shared.durable.load(Ordering::Acquire);
        let latest = shared.latest.load(Ordering::Acquire);
        let target = next_ceiling(durable.max(latest));
        if target <= durable {
            // At the limit: nothing more can be reserved. Publishing goes
            // on; every SEQ above the ceiling counts as an overrun.
            tracing::error!(durable, "the event sequence is exhausted");
            shared.wanted.store(false, Ordering::Release);
            std::thread::park();
            continue;
        }
        match write_ceiling(path, target) {
            Ok(()) => {
                shared.durable.store(target, Ordering::Release);
                shared.wanted.store(false, Ordering::Release);
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot reserve the next block of event SEQs; retrying");
                std::thread::park_timeout(RETRY);
            }
        }
    }
}

/// One block above `from`, capped at [`MAX_SEQ`].
fn next_ceiling(from: u64) -> u64 {
    from.checked_add(BLOCK).map_or(MAX_SEQ, |c| c.min(MAX_SEQ))
}

/// The ceiling on disk; 0 when the file does not exist (a new directory).
pub fn read_ceiling(path: &Path) -> Result<u64, SeqError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(source) => {
            return Err(SeqError::Io {
                path: path.display().to_string(),
                source,
            })
        }
    };
    text.trim()
        .parse::<u64>()
        .ok()
        .filter(|&c| c <= MAX_SEQ)
        .ok_or_else(|| SeqError::Corrupt {
            path: path.display().to_string(),
            text: text.chars().take(40).collect(),
        })
}

fn write_ceiling(path: &Path, ceiling: u64) -> Result<(), SeqError> {
    data_dir::write_atomic(path, format!("{ceiling}\n").as_bytes()).map_err(|source| SeqError::Io {
        path: PathBuf::from(path).display().to_string(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    fn open_dir(path: &Path) -> Arc<DataDir> {
        Arc::new(DataDir::open(path).expect("data dir"))
    }

    #[test]
    fn each_run_starts_above_the_previous_reservation_and_task_versions() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let first = SeqBlocks::open(open_dir(tmp.path()), 0).expect("open");
        assert_eq!(first.first_seq(), 1);
        assert_eq!(first.ceiling(), BLOCK);
        assert_eq!(
            read_ceiling(&tmp.path().join(SEQ_FILE)).expect("read"),
            BLOCK
        );
        drop(first);
        // Reopened (as after kill -9): above the whole reserved block.
        let second = SeqBlocks::open(open_dir(tmp.path()), 7).expect("open");
        assert_eq!(second.first_seq(), BLOCK + 1);
        drop(second);
        // A task version above the ceiling wins.
        let third = SeqBlocks::open(open_dir(tmp.path()), 10 * BLOCK).expect("open");
        assert_eq!(third.first_seq(), 10 * BLOCK + 1);
    }

    #[test]
    fn the_next_block_is_reserved_ahead_of_need() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let blocks = SeqBlocks::open(open_dir(tmp.path()), 0).expect("open");
        blocks.handed_out(BLOCK / 4);
        assert_eq!(blocks.ceiling(), BLOCK, "plenty left: nothing written");
        blocks.handed_out(BLOCK / 2 + 1);
        let began = Instant::now();
        while blocks.ceiling() == BLOCK {
            assert!(began.elapsed() < Duration::from_secs(5), "no new block");
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(
            blocks.ceiling(),
            2 * BLOCK,
            "one more block above the old ceiling"
        );
        assert_eq!(
            read_ceiling(&tmp.path().join(SEQ_FILE)).expect("read"),
            blocks.ceiling()
        );
        assert_eq!(blocks.overruns(), 0);
        blocks.handed_out(blocks.ceiling() + 1);
        assert_eq!(blocks.overruns(), 1, "an overrun is counted, never blocks");
    }

    #[test]
    fn a_corrupt_or_exhausted_ceiling_refuses_to_start() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let path = tmp.path().join(SEQ_FILE);
        std::fs::write(&path, "banana").expect("write");
        assert!(matches!(
            SeqBlocks::open(open_dir(tmp.path()), 0),
            Err(SeqError::Corrupt { .. })
        ));
        std::fs::write(&path, format!("{MAX_SEQ}\n")).expect("write");
        assert!(matches!(
            SeqBlocks::open(open_dir(tmp.path()), 0),
            Err(SeqError::Exhausted(_))
        ));
        std::fs::write(&path, "1\n").expect("write");
        assert!(matches!(
            SeqBlocks::open(open_dir(tmp.path()), u64::MAX),
            Err(SeqError::Exhausted(_))
        ));
        std::fs::write(&path, format!("{}\n", u64::MAX)).expect("write");
        assert!(matches!(
            SeqBlocks::open(open_dir(tmp.path()), 0),
            Err(SeqError::Corrupt { .. })
        ));
    }
}
