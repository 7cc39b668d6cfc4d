//! The output stream's resume point (`Last-Event-ID` or `?from=`): the
//! offset parser never panics, accepts exactly non-empty decimal digits
//! that fit a `u64`, and gives back the value the digits name (so the ids
//! the server writes read back as themselves).
//!
//! Input: the bytes, as lossy UTF-8.

use broker_core::output::{parse_offset, OffsetError};

/// Panics when an invariant breaks for `input`.
pub fn check(input: &[u8]) {
    let text = String::from_utf8_lossy(input);
    let result = parse_offset(&text);
    if text.is_empty() {
        assert_eq!(result, Err(OffsetError::Empty));
        return;
    }
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        assert_eq!(result, Err(OffsetError::NotDigits));
        return;
    }
    let digits = text.trim_start_matches('0');
    let fits = digits.len() < 20 || (digits.len() == 20 && digits <= "18446744073709551615");
    match result {
        Ok(value) => {
            assert!(fits, "{text} accepted as {value}");
            let canonical = if digits.is_empty() { "0" } else { digits };
            assert_eq!(value.to_string(), canonical);
            assert_eq!(parse_offset(&value.to_string()), Ok(value));
        }
        Err(e) => {
            assert!(!fits, "{text} refused: {e}");
            assert_eq!(e, OffsetError::TooLarge);
        }
    }
}
