//! Per-task output logs: the raw bytes a task wrote to its terminal, appended
//! to `<data_dir>/tasks/<id>.log`, and their last lines as readable text.
//!
//! The log keeps the raw bytes (colours, cursor moves) so nothing is lost;
//! reading turns them into plain text: ANSI escape sequences removed, `\r\n`
//! made `\n`, and a line rewritten with `\r` (a progress bar) shown as its
//! final state.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

/// The most lines one tail returns: `?tail=N` above this is clamped.
pub const MAX_TAIL_LINES: usize = 10_000;

/// The most bytes of the log end one tail reads, so a log of very long lines
/// cannot make a request read (and answer with) megabytes.
pub const MAX_TAIL_BYTES: u64 = 1 << 20;

/// Opens (creating) the log for appending.
pub(crate) fn open_for_append(path: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

/// The last `lines` lines of the log as plain text (see the module docs).
/// A missing log reads as empty: a task that never started has no output.
pub(crate) fn tail(path: &Path, lines: usize) -> io::Result<String> {
    let lines = lines.min(MAX_TAIL_LINES);
    if lines == 0 {
        return Ok(String::new());
    }
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(String::new()),
        Err(e) => return Err(e),
    };
    let raw = read_tail_bytes(&mut file, lines)?;
    Ok(last_lines(&clean(&raw), lines))
}

/// Reads backwards from the end in blocks until the bytes hold more than
/// `lines` line breaks, the start of the file, or [`MAX_TAIL_BYTES`].
fn read_tail_bytes(file: &mut File, lines: usize) -> io::Result<Vec<u8>> {
    const BLOCK: u64 = 16 * 1024;
    let len = file.seek(SeekFrom::End(0))?;
    let mut start = len;
    let mut buf: Vec<u8> = Vec::new();
    while start > 0 && len - start < MAX_TAIL_BYTES {
        let step = BLOCK.min(start).min(MAX_TAIL_BYTES - (len - start));
        start -= step;
        file.seek(SeekFrom::Start(start))?;
        let mut block = Vec::with_capacity(usize::try_from(step).unwrap_or(0));
        file.by_ref().take(step).read_to_end(&mut block)?;
        block.extend_from_slice(&buf);
        buf = block;
        if buf.iter().filter(|&&b| b == b'\n').count() > lines {
            break;
        }
    }
    Ok(buf)
}

/// Terminal bytes as plain text: each line shown as a terminal would leave
/// it, escape sequences removed, invalid UTF-8 replaced.
pub(crate) fn clean(raw: &[u8]) -> String {
    let mut out = String::with_capacity(raw.len());
    for (i, line) in raw.split(|&b| b == b'\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.extend(render_line(line));
    }
    out
}

/// What one terminal line shows at the end. Text overwrites from the
/// cursor; a carriage return moves the cursor to the start and a backspace
/// one cell back (so progress bars and line editing leave their final state);
/// "erase in line" (`ESC [ K`, `ESC [ 0 K`, `ESC [ 2 K`) erases. Every other
/// escape sequence is dropped by the stripper. (The stripper drops carriage
/// returns and backspaces itself, so they are handled before it runs.)
fn render_line(raw: &[u8]) -> Vec<char> {
    let mut cells: Vec<char> = Vec::new();
    let mut col = 0usize;
    let mut rest = raw;
    while !rest.is_empty() {
        let (text, control, after) = next_control(rest);
        let stripped = strip_ansi_escapes::strip(text);
        for ch in String::from_utf8_lossy(&stripped).chars() {
            if col < cells.len() {
                cells[col] = ch;
            } else {
                cells.resize(col, ' ');
                cells.push(ch);
            }
            col += 1;
        }
        match control {
            Some(Control::CarriageReturn) => col = 0,
            Some(Control::Backspace) => col = col.saturating_sub(1),
            Some(Control::EraseToEnd) => cells.truncate(col),
            Some(Control::EraseLine) => cells.clear(),
            None => {}
        }
        rest = after;
    }
    cells
}

/// A control that moves the cursor or erases, handled before stripping.
enum Control {
    CarriageReturn,
    Backspace,
    EraseToEnd,
    EraseLine,
}

/// Splits `bytes` at the first control of interest: the text before it, the
/// control, and the bytes after it.
fn next_control(bytes: &[u8]) -> (&[u8], Option<Control>, &[u8]) {
    for (i, &b) in bytes.iter().enumerate() {
        let found = match b {
            b'\r' => Some((Control::CarriageReturn, 1)),
            0x08 => Some((Control::Backspace, 1)),
            0x1b => {
                let seq = &bytes[i..];
                if seq.starts_with(b"\x1b[K") {
                    Some((Control::EraseToEnd, 3))
                } else if seq.starts_with(b"\x1b[0K") {
                    Some((Control::EraseToEnd, 4))
                } else if seq.starts_with(b"\x1b[2K") {
                    Some((Control::EraseLine, 4))
                } else {
                    None
                }
            }
            _ => None,
        };
        if let Some((control, len)) = found {
            return (&bytes[..i], Some(control), &bytes[i + len..]);
        }
    }
    (bytes, None, &[])
}

/// The last `n` lines of `text`; a trailing line break is kept.
fn last_lines(text: &str, n: usize) -> String {
    let ends_with_break = text.ends_with('\n');
    let body = text.strip_suffix('\n').unwrap_or(text);
    let all: Vec<&str> = body.split('\n').collect();
    let mut out = all[all.len().saturating_sub(n)..].join("\n");
    if ends_with_break {
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn clean_removes_escapes_and_resolves_carriage_returns() {
        let raw = b"\x1b[1;32mok\x1b[0m\r\nname? \x1b]0;title\x07bob\r\n10%\r50%\r100%\r\n";
        assert_eq!(clean(raw), "ok\nname? bob\n100%\n");
        // A carriage return alone leaves the line as it was (a shell's prompt
        // hung up by SIGHUP); shorter text overwrites only the start.
        assert_eq!(clean(b"root@vm:/# \x1b[?2004l\r\r\n"), "root@vm:/# \n");
        assert_eq!(clean(b"abcdef\rXY"), "XYcdef");
        // Erase in line, and backspaces from line editing.
        assert_eq!(clean(b"Downloading 50%\r\x1b[KDone"), "Done");
        assert_eq!(clean(b"Downloading 50%\r\x1b[2KDone"), "Done");
        assert_eq!(clean(b"Downloading\r\x1b[0KOk"), "Ok");
        assert_eq!(clean(b"bog\x08 \x08b"), "bob");
        assert_eq!(
            clean("héllo \x1b[31mwörld\x1b[0m".as_bytes()),
            "héllo wörld"
        );
    }

    #[test]
    fn tail_returns_the_last_lines_of_a_long_log() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("t.log");
        let mut f = open_for_append(&path).expect("open log");
        for i in 0..50_000 {
            write!(f, "line {i}\r\n").expect("write log");
        }
        assert_eq!(
            tail(&path, 3).expect("tail"),
            "line 49997\nline 49998\nline 49999\n"
        );
        assert_eq!(tail(&path, 0).expect("tail"), "");
        let many = tail(&path, 100_000).expect("tail");
        assert_eq!(many.lines().count(), MAX_TAIL_LINES);
        assert!(many.starts_with("line 40000\n"));
    }

    #[test]
    fn tail_of_a_missing_or_unterminated_log() {
        let dir = tempfile::tempdir().expect("temp dir");
        assert_eq!(tail(&dir.path().join("none.log"), 5).expect("tail"), "");
        let path = dir.path().join("p.log");
        std::fs::write(&path, b"a\nb\nname? ").expect("write");
        assert_eq!(tail(&path, 2).expect("tail"), "b\nname? ");
    }
}
