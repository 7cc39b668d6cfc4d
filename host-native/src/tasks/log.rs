//! Per-task output logs: the raw bytes a task wrote to its terminal, capped
//! at `--task-log-max` bytes (the newest kept), addressed by absolute offset.
//!
//! # Offsets
//! Every byte a task ever wrote has an offset counted from its first output:
//! the log holds the bytes from [`LogSpan::start`] (the first byte still
//! kept) to [`LogSpan::end`] (the offset the next byte will get). Both only
//! grow over the task's whole life, even as old bytes are dropped, so a
//! reader can resume by offset and tell exactly what it missed.
//!
//! # On disk
//! `<data_dir>/tasks/<id>.log` is one header line, `tidings-log 1 start=`
//! and the start offset in 20 digits, then the kept bytes. When a write
//! would take the log past the cap, the writer keeps the newest half of the
//! cap: it writes header and kept bytes to a temporary file and renames it
//! over the log, so a reader (which reads from one open file) always sees a
//! consistent start and bytes, and a crash leaves one whole log. Copying
//! half the cap once per half cap written costs one extra write per byte at
//! most. Logs written before the header existed read as starting at 0.
//!
//! # Waiting for output
//! The writer publishes its span on a `tokio::sync::watch` channel after
//! every write ([`LogWriter::subscribe`]), and marks it closed at end of
//! file, so a live reader waits for new output without polling.
//!
//! Write failures (a full disk) drop that output, are logged once per task,
//! and the offsets follow what the file really holds.

use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use serde::Serialize;
use tokio::sync::watch;

use super::render;
use crate::data_dir::private_file;

/// The most lines one tail returns: `?tail=N` above this is clamped.
pub const MAX_TAIL_LINES: usize = 10_000;

/// The most bytes of the log end one tail reads, so a log of very long lines
/// cannot make a request read (and answer with) megabytes.
pub const MAX_TAIL_BYTES: u64 = 1 << 20;

/// The smallest log cap accepted (`--task-log-max`).
pub const MIN_LOG_MAX: u64 = 1024;

const MAGIC: &[u8] = b"tidings-log 1 start=";
/// The header: the magic, 20 digits, a line break.
const HEADER_LEN: u64 = MAGIC.len() as u64 + 21;

/// Which bytes of a task's output a log holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct LogSpan {
    /// The offset of the first byte still kept (older output was dropped).
    pub start: u64,
    /// The offset the next byte will get: every byte below it was written.
    pub end: u64,
}

/// What a live reader watches.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LogState {
    /// What the log holds now.
    pub span: LogSpan,
    /// The terminal reached end of file: no more output will come.
    pub closed: bool,
}

/// The single writer of one task's log (its output thread).
#[derive(Debug)]
pub(crate) struct LogWriter {
    path: PathBuf,
    file: File,
    span: LogSpan,
    cap: u64,
    state: watch::Sender<LogState>,
    warned: bool,
    /// The log was removed (the task left the table): output is dropped.
    discarded: bool,
}

fn header(start: u64) -> Vec<u8> {
    let mut h = MAGIC.to_vec();
    h.extend_from_slice(format!("{start:020}\n").as_bytes());
    h
}

impl LogWriter {
    /// Creates (or truncates) the log at `path` (mode 0600), empty, capped at
    /// `cap` bytes (at least [`MIN_LOG_MAX`]).
    pub(crate) fn create(path: &Path, cap: u64) -> io::Result<LogWriter> {
        let mut file = private_file()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)?;
        file.write_all(&header(0))?;
        Ok(LogWriter {
            path: path.to_path_buf(),
            file,
            span: LogSpan::default(),
            cap: cap.max(MIN_LOG_MAX),
            state: watch::Sender::new(LogState::default()),
            warned: false,
            discarded: false,
        })
    }

    /// A receiver of the log's span, updated after every write.
    pub(crate) fn subscribe(&self) -> watch::Receiver<LogState> {
        self.state.subscribe()
    }

    /// The bytes held now.
    #[cfg(test)]
    pub(crate) fn span(&self) -> LogSpan {
        self.span
    }

    /// Appends output, dropping the oldest bytes when the cap is reached.
    pub(crate) fn append(&mut self, bytes: &[u8]) {
        if bytes.is_empty() || self.discarded {
            return;
        }
        let len = bytes.len() as u64;
        let held = self.span.end - self.span.start;
        let result = if held.saturating_add(len) > self.cap {
            self.compact(bytes)
        } else {
            self.file.write_all(bytes).map(|()| {
                self.span.end = self.span.end.saturating_add(len);
            })
        };
        if let Err(e) = result {
            if !self.warned {
                self.warned = true;
                tracing::warn!(log = %self.path.display(), error = %e,
                    "task output could not be written to its log; output is dropped while this lasts");
            }
            self.resync();
        }
        self.state.send_replace(LogState {
            span: self.span,
            closed: false,
        });
    }

    /// Rewrites the log as its newest `cap / 2` bytes (or the newest `cap`
    /// bytes of a chunk larger than that) followed by `bytes`.
    fn compact(&mut self, bytes: &[u8]) -> io::Result<()> {
        if !self.path.exists() {
            // Removed with its task (a process outliving its task's
            // retention): never recreate it.
            self.discarded = true;
            return Ok(());
        }
        let len = bytes.len() as u64;
        let keep = (self.cap / 2).max(len).min(self.cap);
        let from_chunk = len.min(keep);
        let from_file = (keep - from_chunk).min(self.span.end - self.span.start);
        let new_end = self.span.end.saturating_add(len);
        let new_start = new_end - from_file - from_chunk;
        let mut old = vec![0u8; usize::try_from(from_file).unwrap_or(0)];
        let at = HEADER_LEN + (self.span.end - self.span.start) - from_file;
        self.file.read_exact_at(&mut old, at)?;
        let tmp = self.path.with_extension("log.tmp");
        let mut file = private_file()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)?;
        file.write_all(&header(new_start))?;
        file.write_all(&old)?;
        let skip = usize::try_from(len - from_chunk).unwrap_or(0);
        file.write_all(&bytes[skip..])?;
        fs::rename(&tmp, &self.path)?;
        self.file = file;
        self.span = LogSpan {
            start: new_start,
            end: new_end,
        };
        Ok(())
    }

    /// After a failed write: the offsets follow what the file holds.
    fn resync(&mut self) {
        if let Ok(meta) = self.file.metadata() {
            let held = meta.len().saturating_sub(HEADER_LEN);
            self.span.end = self.span.start.saturating_add(held);
            let _ = self.file.seek(SeekFrom::End(0));
        }
    }

    /// End of output: readers see `closed`.
    pub(crate) fn close(&self) {
        self.state.send_replace(LogState {
            span: self.span,
            closed: true,
        });
    }
}

/// An open log, read from one file descriptor (so a compaction racing the
/// read cannot mix two versions).
struct OpenLog {
    file: File,
    /// Where the kept bytes begin in the file.
    body_at: u64,
    span: LogSpan,
}

fn open_log(path: &Path) -> io::Result<Option<OpenLog>> {
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let len = file.metadata()?.len();
    let mut head = vec![0u8; HEADER_LEN as usize];
    let mut got = 0;
    while got < head.len() {
        match file.read(&mut head[got..])? {
            0 => break,
            n => got += n,
        }
    }
    let start = (got == head.len() && head.starts_with(MAGIC))
        .then(|| std::str::from_utf8(&head[MAGIC.len()..head.len() - 1]).ok())
        .flatten()
        .and_then(|digits| digits.parse::<u64>().ok());
    let (body_at, start) = match start {
        Some(start) => (HEADER_LEN, start),
        None => (0, 0), // a log from before the header: starts at 0
    };
    let held = len.saturating_sub(body_at);
    Ok(Some(OpenLog {
        file,
        body_at,
        span: LogSpan {
            start,
            end: start.saturating_add(held),
        },
    }))
}

/// The span of the log at `path` (empty when there is no log).
pub(crate) fn span(path: &Path) -> io::Result<LogSpan> {
    Ok(open_log(path)?.map(|l| l.span).unwrap_or_default())
}

/// Bytes of the log from offset `from` (at most `max`): the offset they
/// really start at (the log's start when `from` is older than what is
/// kept), the bytes, and the span at the time of reading.
pub(crate) fn read_from(path: &Path, from: u64, max: usize) -> io::Result<(u64, Vec<u8>, LogSpan)> {
    let Some(log) = open_log(path)? else {
        return Ok((0, Vec::new(), LogSpan::default()));
    };
    let from = from.clamp(log.span.start, log.span.end);
    let n = (log.span.end - from).min(max as u64);
    let mut buf = vec![0u8; usize::try_from(n).unwrap_or(0)];
    log.file
        .read_exact_at(&mut buf, log.body_at + (from - log.span.start))?;
    Ok((from, buf, log.span))
}

/// The end of a log as text (`GET /api/tasks/{id}/output`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct LogTail {
    /// The last lines as plain text (see `render`).
    pub output: String,
    /// The offset in the task's output where `output` begins.
    pub from: u64,
    /// The first offset the log still holds: output before it was dropped
    /// (`--task-log-max`).
    pub start: u64,
    /// The offset just past the last byte written.
    pub end: u64,
}

/// The last `lines` lines of the log as plain text, with their offsets. A
/// missing log reads as empty: a task that never started has no output.
pub(crate) fn tail(path: &Path, lines: usize) -> io::Result<LogTail> {
    let lines = lines.min(MAX_TAIL_LINES);
    let Some(log) = open_log(path)? else {
        return Ok(LogTail::default());
    };
    let span = log.span;
    if lines == 0 {
        return Ok(LogTail {
            output: String::new(),
            from: span.end,
            start: span.start,
            end: span.end,
        });
    }
    let (raw_from, raw) = read_tail_bytes(&log, lines)?;
    let skip = render::start_of_last_lines(&raw, lines);
    Ok(LogTail {
        output: render::clean(&raw[skip..]),
        from: raw_from + skip as u64,
        start: span.start,
        end: span.end,
    })
}

/// Reads backwards from the end in blocks until the bytes hold more than
/// `lines` line breaks, the start of the log, or [`MAX_TAIL_BYTES`]; returns
/// the offset the bytes begin at and the bytes.
fn read_tail_bytes(log: &OpenLog, lines: usize) -> io::Result<(u64, Vec<u8>)> {
    const BLOCK: u64 = 16 * 1024;
    let held = log.span.end - log.span.start;
    let mut back = 0u64; // bytes read from the end so far
    let mut buf: Vec<u8> = Vec::new();
    let mut breaks = 0usize;
    while back < held && back < MAX_TAIL_BYTES {
        let step = BLOCK.min(held - back).min(MAX_TAIL_BYTES - back);
        back += step;
        let mut block = vec![0u8; usize::try_from(step).unwrap_or(0)];
        log.file
            .read_exact_at(&mut block, log.body_at + held - back)?;
        breaks += block.iter().filter(|&&b| b == b'\n').count();
        block.extend_from_slice(&buf);
        buf = block;
        if breaks > lines {
            break;
        }
    }
    Ok((log.span.end - back, buf))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn writer(dir: &Path, cap: u64) -> (PathBuf, LogWriter) {
        let path = dir.join("t.log");
        let w = LogWriter::create(&path, cap).expect("create");
        (path, w)
    }

    #[test]
    fn tail_returns_the_last_lines_of_a_long_log_with_offsets() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (path, mut w) = writer(dir.path(), 1 << 30);
        let mut text = String::new();
        for i in 0..50_000 {
            text.push_str(&format!("line {i}\r\n"));
        }
        w.append(text.as_bytes());
        let t = tail(&path, 3).expect("tail");
        assert_eq!(t.output, "line 49997\nline 49998\nline 49999\n");
        assert_eq!((t.start, t.end), (0, text.len() as u64));
        assert_eq!(
            t.from,
            (text.len() - "line 49997\r\nline 49998\r\nline 49999\r\n".len()) as u64
        );
        let none = tail(&path, 0).expect("tail");
        assert_eq!((none.output.as_str(), none.from), ("", t.end));
        let many = tail(&path, 100_000).expect("tail");
        assert_eq!(many.output.lines().count(), MAX_TAIL_LINES);
        assert!(many.output.starts_with("line 40000\n"));
    }

    #[test]
    fn a_missing_log_is_empty_and_an_old_headerless_log_starts_at_zero() {
        let dir = tempfile::tempdir().expect("temp dir");
        assert_eq!(
            tail(&dir.path().join("none.log"), 5).expect("tail"),
            LogTail::default()
        );
        let path = dir.path().join("p.log");
        std::fs::write(&path, b"a\nb\nname? ").expect("write");
        let t = tail(&path, 2).expect("tail");
        assert_eq!(
            (t.output.as_str(), t.from, t.start, t.end),
            ("b\nname? ", 2, 0, 10)
        );
        assert_eq!(read_from(&path, 4, 100).expect("read").1, b"name? ");
    }

    #[test]
    fn the_cap_keeps_the_newest_bytes_and_offsets_keep_counting() {
        let dir = tempfile::tempdir().expect("temp dir");
        let cap = 4096;
        let (path, mut w) = writer(dir.path(), cap);
        let mut rx = w.subscribe();
        let mut all = Vec::new();
        for i in 0..3000u32 {
            let chunk = format!("{i:05}\n");
            all.extend_from_slice(chunk.as_bytes());
            w.append(chunk.as_bytes());
            let span = w.span();
            assert!(span.end - span.start <= cap, "{span:?}");
            assert_eq!(span.end, all.len() as u64);
        }
        let span = w.span();
        assert!(span.start > 0);
        assert!(span.end - span.start >= cap / 2);
        let on_disk = std::fs::metadata(&path).expect("meta").len();
        assert!(on_disk <= cap + HEADER_LEN, "{on_disk}");
        let (from, bytes, read_span) = read_from(&path, 0, usize::MAX).expect("read");
        assert_eq!(read_span, span);
        assert_eq!(from, span.start, "older than the log: starts at its start");
        assert_eq!(bytes, &all[usize::try_from(span.start).expect("fits")..]);
        let (_, some, _) = read_from(&path, span.end - 6, 6).expect("read");
        assert_eq!(some, b"02999\n");
        assert!(rx.has_changed().expect("open"));
        assert_eq!(rx.borrow_and_update().span, span);
        w.close();
        assert!(rx.borrow_and_update().closed);
        let t = tail(&path, 1).expect("tail");
        assert_eq!(
            (t.output.as_str(), t.start, t.end),
            ("02999\n", span.start, span.end)
        );
    }

    #[test]
    fn a_chunk_larger_than_the_cap_keeps_its_newest_bytes() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (path, mut w) = writer(dir.path(), 1024);
        w.append(b"hello\n");
        let big: Vec<u8> = (0..5000u32).map(|i| b'a' + (i % 26) as u8).collect();
        w.append(&big);
        let span = w.span();
        assert_eq!(
            span,
            LogSpan {
                start: 6 + 5000 - 1024,
                end: 5006
            }
        );
        let (_, bytes, _) = read_from(&path, 0, usize::MAX).expect("read");
        assert_eq!(bytes, &big[5000 - 1024..]);
    }

    /// Counts warnings.
    struct Warnings(std::sync::Arc<std::sync::atomic::AtomicUsize>);

    impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Warnings {
        fn on_event(
            &self,
            event: &tracing::Event<'_>,
            _ctx: tracing_subscriber::layer::Context<'_, S>,
        ) {
            if *event.metadata().level() == tracing::Level::WARN {
                self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }
    }

    #[test]
    fn a_failing_disk_is_warned_about_once_and_the_offsets_stay_true() {
        use tracing_subscriber::layer::SubscriberExt;
        let dir = tempfile::tempdir().expect("temp dir");
        let (_path, mut w) = writer(dir.path(), 1 << 20);
        w.append(b"kept\n");
        // Every write from now on fails with ENOSPC.
        w.file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/full")
            .expect("/dev/full");
        let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let subscriber =
            tracing_subscriber::registry().with(Warnings(std::sync::Arc::clone(&count)));
        tracing::subscriber::with_default(subscriber, || {
            for _ in 0..100 {
                w.append(b"lost output\n");
            }
        });
        assert_eq!(
            count.load(std::sync::atomic::Ordering::Relaxed),
            1,
            "one warning per task"
        );
        assert!(
            w.span().end <= 5,
            "no offset for bytes never written: {:?}",
            w.span()
        );
    }
}
