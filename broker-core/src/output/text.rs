//! Turning log bytes into the `text` of an output chunk: UTF-8 decoding that
//! never splits a character, and JSON string escaping within a byte budget.
//!
//! A task's log is raw terminal bytes, read in pieces whose edges fall
//! anywhere — inside a multibyte character too. The rule that keeps a
//! stream's text equal to the whole log decoded at once:
//!
//! - a character that is cut off at the end of the bytes read, but that the
//!   next bytes may complete, is **held back** (not consumed): the chunk's
//!   offset stops before it, and the next read starts with it;
//! - bytes that can never be part of a character become U+FFFD, one per
//!   maximal invalid subpart, exactly as [`String::from_utf8_lossy`] (and the
//!   WHATWG decoder a browser runs) replace them;
//! - at the very end of a finished log a held-back, never-completed
//!   character becomes one U+FFFD.
//!
//! Because a cut only ever falls where the decoder holds nothing, decoding
//! the pieces one after the other gives the same text as decoding their
//! concatenation, whatever the pieces.
//!
//! The text is written JSON-escaped (as `serde_json` writes strings: `"`,
//! `\`, and control characters; `\n`, `\r`, `\t`, `\b`, `\f` short, the
//! others as `\u00XX`), so a chunk stays on one `data:` line. The budget
//! counts escaped bytes: a chunk of escape-heavy terminal output (every ESC
//! is six bytes escaped) is cut earlier, never past the frame cap, and never
//! inside a character.

/// The replacement character, UTF-8 encoded.
const REPLACEMENT: &[u8] = "\u{FFFD}".as_bytes();

/// Why [`encode_text`] stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// Every byte was consumed.
    Done,
    /// The budget is spent; the rest goes in a later chunk.
    Full,
    /// The bytes end inside a character that later bytes may complete: the
    /// last 1–3 bytes were held back.
    Incomplete,
}

/// What [`encode_text`] consumed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Encoded {
    /// How many of the input bytes the written text stands for.
    pub consumed: usize,
    /// Why it stopped there.
    pub stop: Stop,
}

/// Decodes `bytes` as UTF-8 and appends the text, JSON-escaped (without
/// quotes), to `out`, writing at most `budget` bytes. `at_end` says no byte
/// will ever follow these (a finished log read to its end): a cut-off
/// character at the end is then replaced instead of held back.
pub fn encode_text(out: &mut Vec<u8>, bytes: &[u8], at_end: bool, budget: usize) -> Encoded {
    let mut room = budget;
    let mut at = 0;
    while at < bytes.len() {
        let rest = &bytes[at..];
        let (valid, bad) = match core::str::from_utf8(rest) {
            Ok(_) => (rest.len(), None),
            Err(e) => (e.valid_up_to(), Some(e.error_len())),
        };
        let took = escape_valid(out, &rest[..valid], &mut room);
        at += took;
        if took < valid {
            return Encoded {
                consumed: at,
                stop: Stop::Full,
            };
        }
        match bad {
            None => {}
            // Bytes that no continuation can make valid: one U+FFFD for the
            // maximal invalid subpart, as `from_utf8_lossy` does.
            Some(Some(len)) => {
                if room < REPLACEMENT.len() {
                    return Encoded {
                        consumed: at,
                        stop: Stop::Full,
                    };
                }
                out.extend_from_slice(REPLACEMENT);
                room -= REPLACEMENT.len();
                at += len;
            }
            // The bytes end inside a character.
            Some(None) => {
                if !at_end {
                    return Encoded {
                        consumed: at,
                        stop: Stop::Incomplete,
                    };
                }
                if room < REPLACEMENT.len() {
                    return Encoded {
                        consumed: at,
                        stop: Stop::Full,
                    };
                }
                out.extend_from_slice(REPLACEMENT);
                return Encoded {
                    consumed: bytes.len(),
                    stop: Stop::Done,
                };
            }
        }
    }
    Encoded {
        consumed: at,
        stop: Stop::Done,
    }
}

/// How many bytes the character starting with `lead` takes (`lead` is the
/// first byte of a valid UTF-8 sequence).
fn char_len(lead: u8) -> usize {
    match lead {
        0x00..=0x7f => 1,
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        _ => 4,
    }
}

/// The escape of an ASCII byte, if it needs one.
fn escape(b: u8) -> Option<&'static [u8]> {
    Some(match b {
        b'"' => b"\\\"",
        b'\\' => b"\\\\",
        b'\n' => b"\\n",
        b'\r' => b"\\r",
        b'\t' => b"\\t",
        0x08 => b"\\b",
        0x0c => b"\\f",
        0x00..=0x1f => return Some(&CONTROL[usize::from(b)]),
        _ => return None,
    })
}

/// `\u00XX` for every control character (the short forms above win).
const CONTROL: [[u8; 6]; 32] = {
    let hex = b"0123456789abcdef";
    let mut table = [[0u8; 6]; 32];
    let mut i = 0;
    while i < 32 {
        table[i] = [b'\\', b'u', b'0', b'0', hex[i >> 4], hex[i & 0xf]];
        i += 1;
    }
    table
};

/// Escapes valid UTF-8 into `out` while it fits in `room`, whole characters
/// only; returns how many bytes of `valid` were taken.
fn escape_valid(out: &mut Vec<u8>, valid: &[u8], room: &mut usize) -> usize {
    let mut at = 0;
    let mut run = 0; // start of the bytes copied as they are
    while at < valid.len() {
        let b = valid[at];
        let (cost, len, escaped) = match escape(b) {
            Some(e) => (e.len(), 1, Some(e)),
            None => {
                let len = char_len(b);
                (len, len, None)
            }
        };
        if cost > *room {
            break;
        }
        if let Some(e) = escaped {
            out.extend_from_slice(&valid[run..at]);
            out.extend_from_slice(e);
            run = at + 1;
        }
        *room -= cost;
        at += len;
    }
    out.extend_from_slice(&valid[run..at]);
    at
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn text(bytes: &[u8], at_end: bool, budget: usize) -> (String, Encoded) {
        let mut out = Vec::new();
        let e = encode_text(&mut out, bytes, at_end, budget);
        (
            String::from_utf8(out).expect("the escaped text is UTF-8"),
            e,
        )
    }

    fn done(consumed: usize) -> Encoded {
        Encoded {
            consumed,
            stop: Stop::Done,
        }
    }

    #[test]
    fn plain_text_passes_and_json_specials_are_escaped_like_serde_json() {
        let s = "a\"b\\c\nd\re\tf\u{8}g\u{c}h\u{1b}[0mi\u{0}\u{7f}é€😀";
        let (got, e) = text(s.as_bytes(), false, usize::MAX);
        assert_eq!(e, done(s.len()));
        let serde = serde_json::to_string(s).expect("a string serializes");
        assert_eq!(format!("\"{got}\""), serde);
    }

    #[test]
    fn a_character_cut_at_the_end_is_held_back_until_more_comes() {
        let euro = "€".as_bytes(); // e2 82 ac
        for cut in 1..3 {
            let mut bytes = b"ab".to_vec();
            bytes.extend_from_slice(&euro[..cut]);
            let (got, e) = text(&bytes, false, usize::MAX);
            assert_eq!(got, "ab");
            assert_eq!(
                e,
                Encoded {
                    consumed: 2,
                    stop: Stop::Incomplete
                }
            );
            // At the end of a finished log it is one replacement.
            let (got, e) = text(&bytes, true, usize::MAX);
            assert_eq!((got.as_str(), e), ("ab\u{FFFD}", done(2 + cut)));
        }
    }

    #[test]
    fn invalid_bytes_become_replacements_like_from_utf8_lossy() {
        for bytes in [
            &b"a\xffb"[..],
            b"\x80\x80",
            b"\xe2\x82x",
            b"\xf0\x9f\x98",
            b"\xc0\xaf",
            b"\xed\xa0\x80",
            b"\xf4\x90\x80\x80",
            b"x\xe2\x82\xe2\x82\xac",
        ] {
            let (got, e) = text(bytes, true, usize::MAX);
            assert_eq!(got, String::from_utf8_lossy(bytes), "{bytes:x?}");
            assert_eq!(e.consumed, bytes.len());
        }
    }

    #[test]
    fn the_budget_counts_escaped_bytes_and_never_splits_a_character() {
        // ESC is six bytes escaped: two fit in 13, not three.
        let (got, e) = text(b"\x1b\x1b\x1b", false, 13);
        assert_eq!(got, "\\u001b\\u001b");
        assert_eq!(
            e,
            Encoded {
                consumed: 2,
                stop: Stop::Full
            }
        );
        // "é€" is 2 + 3 bytes: with 4 bytes of room only "é" goes.
        let (got, e) = text("é€".as_bytes(), false, 4);
        assert_eq!(got, "é");
        assert_eq!(
            e,
            Encoded {
                consumed: 2,
                stop: Stop::Full
            }
        );
        // A replacement needs three bytes of room too.
        let (got, e) = text(b"a\xff", false, 3);
        assert_eq!((got.as_str(), e.stop), ("a", Stop::Full));
        let (got, e) = text(b"", false, 0);
        assert_eq!((got.as_str(), e), ("", done(0)));
    }

    #[test]
    fn pieces_decode_like_the_whole_wherever_they_are_cut() {
        let all = "x€y😀z\u{1b}é".as_bytes().to_vec();
        let mut bad = all.clone();
        bad.insert(3, 0xff);
        for bytes in [all, bad] {
            let whole = String::from_utf8_lossy(&bytes).into_owned();
            for cut in 0..=bytes.len() {
                // Read up to `cut`, then (from where the first read stopped)
                // to the end.
                let mut first = Vec::new();
                let e = encode_text(&mut first, &bytes[..cut], false, usize::MAX);
                let mut second = Vec::new();
                let f = encode_text(&mut second, &bytes[e.consumed..], true, usize::MAX);
                assert_eq!(e.consumed + f.consumed, bytes.len());
                let joined = [first, second].concat();
                let decoded: String =
                    serde_json::from_str(&format!("\"{}\"", String::from_utf8_lossy(&joined)))
                        .expect("valid JSON string");
                assert_eq!(decoded, whole, "cut at {cut}");
            }
        }
    }
}
