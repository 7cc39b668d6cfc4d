//! Log bytes → output text: however a log is cut into reads, and whatever
//! the frame budget, the chunks' texts (JSON-unescaped) join to the whole
//! log decoded as UTF-8 (`from_utf8_lossy`), no chunk passes its budget,
//! and every cut falls where the decoder holds nothing.
//!
//! Input layout: byte 0 is the budget (escaped bytes per chunk, 6–261),
//! byte 1 the read size (1–256), the rest the log.

use broker_core::output::{encode_text, Stop};

/// Panics when an invariant breaks for `input`.
pub fn check(input: &[u8]) {
    let [budget, read, log @ ..] = input else {
        return;
    };
    let budget = usize::from(*budget) + 6;
    let read = usize::from(*read) + 1;
    // The log grows by `read` bytes at a time; the reader encodes what it
    // has not sent yet of what the log holds so far.
    let mut avail = read.min(log.len());
    let mut at = 0;
    let mut joined = String::new();
    let mut rounds = 0;
    while at < log.len() {
        rounds += 1;
        assert!(rounds <= 2 * log.len() + 2, "no progress at {at}");
        let at_end = avail == log.len();
        let mut out = Vec::new();
        let encoded = encode_text(&mut out, &log[at..avail], at_end, budget);
        assert!(
            out.len() <= budget,
            "{} bytes over a {budget} budget",
            out.len()
        );
        let text = std::str::from_utf8(&out).expect("UTF-8 out");
        joined.push_str(&unescape(text).unwrap_or_else(|| panic!("a JSON string body: {text:?}")));
        at += encoded.consumed;
        match encoded.stop {
            Stop::Full => assert!(
                encoded.consumed > 0,
                "a budget of {budget} always fits something"
            ),
            Stop::Done => {
                assert_eq!(at, avail);
                avail = (avail + read).min(log.len());
            }
            Stop::Incomplete => {
                assert!(!at_end, "at the end nothing is held back");
                assert!(avail - at <= 3, "at most a character is held back");
                avail = (avail + read).min(log.len());
            }
        }
    }
    assert_eq!(joined, String::from_utf8_lossy(log));
}

/// Unescapes the body of a JSON string as `encode_text` writes it.
fn unescape(body: &str) -> Option<String> {
    let mut out = String::new();
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            if (c as u32) < 0x20 || c == '"' {
                return None;
            }
            out.push(c);
            continue;
        }
        match chars.next()? {
            '"' => out.push('"'),
            '\\' => out.push('\\'),
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            't' => out.push('\t'),
            'b' => out.push('\u{8}'),
            'f' => out.push('\u{c}'),
            'u' => {
                let hex: String = chars.by_ref().take(4).collect();
                out.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
            }
            _ => return None,
        }
    }
    Some(out)
}
