//! Terminal bytes as readable text: escape sequences removed, `\r\n` made
//! `\n`, and a line rewritten with `\r` (a progress bar) or backspaces
//! (line editing) shown as its final state.
//!
//! Raw bytes are split on `\n` and each line is rendered on its own, so the
//! last N lines of the text are exactly the rendering of the last N raw lines
//! ([`start_of_last_lines`]): a tail can say from which byte of the log it
//! starts.

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

/// Where the last `n` lines of `raw` begin (a trailing line break does not
/// start a line of its own); 0 when it holds `n` lines or fewer.
pub(crate) fn start_of_last_lines(raw: &[u8], n: usize) -> usize {
    if n == 0 {
        return raw.len();
    }
    let body = raw.strip_suffix(b"\n").unwrap_or(raw);
    let mut seen = 0;
    for (i, &b) in body.iter().enumerate().rev() {
        if b == b'\n' {
            seen += 1;
            if seen == n {
                return i + 1;
            }
        }
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn the_last_lines_start_after_the_right_line_break() {
        let raw = b"a\r\nb\r\nc\r\n";
        assert_eq!(start_of_last_lines(raw, 1), 6);
        assert_eq!(clean(&raw[start_of_last_lines(raw, 2)..]), "b\nc\n");
        assert_eq!(start_of_last_lines(raw, 3), 0);
        assert_eq!(start_of_last_lines(raw, 9), 0);
        assert_eq!(start_of_last_lines(b"a\nname? ", 1), 2);
        assert_eq!(start_of_last_lines(b"abc", 0), 3);
    }
}
