//! The session cookie (`v1.<issued>.<hmac>`): `verify_session` never panics;
//! it accepts what `issue_session` issued, for that token and cookie name
//! only, exactly while the issue time is at most 300 s ahead of `now` and at
//! most the maximum age (a week) behind it; it refuses every single-byte
//! change of an issued value (a byte replaced, removed or inserted,
//! anywhere); whatever it accepts is exactly the value `issue_session` gives
//! for that issue time (one spelling per session); and a value never shows
//! the token.
//!
//! Input: bytes 0–7 the issue time (little-endian Unix seconds); bytes 8–11
//! a signed offset of `now` from it (modulo 1,300,000 s, so both edges are
//! near), or, when bit 0 of byte 18 is set, bytes 8–15 `now` itself; byte 16
//! the position and byte 17 the byte of the change; the rest as text (lossy
//! UTF-8) split at `\u{1}` into the token, the cookie name and a value to
//! verify as it is.

use tidings::fuzzing::{issue_session, verify_session};

/// `SESSION_MAX_AGE`, as the contract states it (`Max-Age=604800`).
const MAX_AGE: i128 = 7 * 24 * 3600;
/// How far ahead of `now` an issue time may be.
const SKEW: i128 = 300;

fn le_u64(bytes: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(bytes);
    u64::from_le_bytes(b)
}

/// The check: see the module docs.
pub fn check(input: &[u8]) {
    let Some(head) = input.get(..19) else {
        return;
    };
    let issued = le_u64(&head[..8]);
    let now = if head[18] & 1 == 1 {
        le_u64(&head[8..16])
    } else {
        let mut b = [0u8; 4];
        b.copy_from_slice(&head[8..12]);
        let offset = i64::from(i32::from_le_bytes(b) % 1_300_000);
        issued.saturating_add_signed(offset)
    };
    let text = String::from_utf8_lossy(&input[19..]);
    let mut parts = text.splitn(3, '\u{1}');
    let token = parts.next().unwrap_or_default();
    let name = parts.next().unwrap_or_default();
    let raw = parts.next().unwrap_or_default();

    let value = issue_session(token, name, issued);
    let (version, rest) = value.split_at(3);
    assert_eq!(version, "v1.");
    let (digits, mac) = rest
        .split_once('.')
        .unwrap_or_else(|| panic!("{value:?} has no second dot"));
    assert_eq!(digits, issued.to_string());
    assert!(mac.len() == 64 && mac.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')));
    if token.len() >= 16 && token.chars().any(|c| !c.is_ascii_hexdigit() && c != '.') {
        assert!(!value.contains(token), "the value shows the token");
    }

    let age = i128::from(now) - i128::from(issued);
    let expected = if age < -SKEW {
        Err("the session was issued in the future".to_owned())
    } else if age > MAX_AGE {
        Err("the session has expired".to_owned())
    } else {
        Ok(())
    };
    assert_eq!(
        verify_session(token, name, &value, now),
        expected,
        "at {now}"
    );
    assert_eq!(verify_session(token, name, &value, issued), Ok(()));
    let other_token = format!("{token}x");
    assert!(verify_session(&other_token, name, &value, issued).is_err());
    let other_name = format!("{name}x");
    assert!(verify_session(token, &other_name, &value, issued).is_err());

    // Every single-byte change is refused: the fuzzed one at every position.
    let bytes = value.as_bytes();
    let byte = head[17];
    let at = usize::from(head[16]) % (bytes.len() + 1);
    let mut changes: Vec<Vec<u8>> = Vec::new();
    for i in 0..bytes.len() {
        if bytes[i] != byte {
            let mut replaced = bytes.to_vec();
            replaced[i] = byte;
            changes.push(replaced);
        }
    }
    let mut removed = bytes.to_vec();
    if at < removed.len() {
        removed.remove(at);
        changes.push(removed);
    }
    let mut inserted = bytes.to_vec();
    inserted.insert(at, byte);
    changes.push(inserted);
    for change in changes {
        if let Ok(changed) = std::str::from_utf8(&change) {
            assert!(
                verify_session(token, name, changed, issued).is_err(),
                "{changed:?} (from {value:?}) was accepted"
            );
        }
    }

    // Whatever is accepted is the one spelling of its session.
    if verify_session(token, name, raw, now).is_ok() {
        let issued: u64 = raw
            .split('.')
            .nth(1)
            .and_then(|d| d.parse().ok())
            .unwrap_or_else(|| panic!("{raw:?} was accepted without an issue time"));
        assert_eq!(raw, issue_session(token, name, issued));
    }
}
