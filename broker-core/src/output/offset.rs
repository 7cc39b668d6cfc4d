//! Reading a resume point: the byte offset a client sends back as
//! `Last-Event-ID` (the `id:` of the last chunk it received) or as `?from=`.
//!
//! An offset is written as plain decimal digits (the server writes exactly
//! that in every `id:` line), so reading one back is strict: digits only, no
//! sign, no spaces, no exponent, and it must fit a `u64`. Anything else is an
//! [`OffsetError`], which the server answers with `400` instead of guessing
//! where to resume.

/// Why a text is not a byte offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OffsetError {
    /// Nothing at all.
    #[error("a byte offset cannot be empty")]
    Empty,
    /// Something other than the digits 0–9.
    #[error("a byte offset is decimal digits only")]
    NotDigits,
    /// More than a `u64` holds.
    #[error("a byte offset must be at most 18446744073709551615")]
    TooLarge,
}

/// The byte offset `text` names: decimal digits (leading zeros allowed), at
/// most `u64::MAX`.
///
/// ```
/// use broker_core::output::{parse_offset, OffsetError};
///
/// assert_eq!(parse_offset("4096"), Ok(4096));
/// assert_eq!(parse_offset(""), Err(OffsetError::Empty));
/// assert_eq!(parse_offset("+1"), Err(OffsetError::NotDigits));
/// assert_eq!(parse_offset("18446744073709551616"), Err(OffsetError::TooLarge));
/// ```
pub fn parse_offset(text: &str) -> Result<u64, OffsetError> {
    if text.is_empty() {
        return Err(OffsetError::Empty);
    }
    // Every byte is looked at before the value, so a long run of digits
    // followed by anything else is `NotDigits`, not `TooLarge`.
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(OffsetError::NotDigits);
    }
    let mut value: u64 = 0;
    for b in text.bytes() {
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(b - b'0')))
            .ok_or(OffsetError::TooLarge)?;
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn digits_are_offsets() {
        assert_eq!(parse_offset("0"), Ok(0));
        assert_eq!(parse_offset("007"), Ok(7));
        assert_eq!(parse_offset("18446744073709551615"), Ok(u64::MAX));
    }

    #[test]
    fn anything_else_is_refused_with_its_reason() {
        // The last: found by the `output_offset` fuzz target (an overflow
        // was reported before the letter).
        for bad in [
            "-1",
            "+1",
            " 1",
            "1 ",
            "1e3",
            "0x10",
            "1_000",
            "١",
            "1.0",
            "99999999999999999999x",
        ] {
            assert_eq!(parse_offset(bad), Err(OffsetError::NotDigits), "{bad:?}");
        }
        assert_eq!(parse_offset(""), Err(OffsetError::Empty));
        assert_eq!(
            parse_offset("18446744073709551616"),
            Err(OffsetError::TooLarge)
        );
        assert_eq!(
            parse_offset("99999999999999999999999"),
            Err(OffsetError::TooLarge)
        );
    }
}
