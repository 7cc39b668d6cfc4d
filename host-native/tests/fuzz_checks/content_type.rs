//! The JSON content-type check (`415` unless a JSON route's body is declared
//! `application/json`): never panics; accepts exactly a value whose media
//! type, before any `;` parameters and without surrounding whitespace, is
//! `application/json` in any case; so the answer does not depend on case or
//! on what follows the first `;`, and a JSON-looking type that is not it
//! (`application/jsonp`, `text/json`, `application/json-seq`, a missing
//! `;`) is refused.
//!
//! Input: the raw header value.

use tidings::fuzzing::is_json_content_type;

/// The check: see the module docs.
pub fn check(input: &[u8]) {
    let got = is_json_content_type(input);
    let essence = input.split(|&b| b == b';').next().unwrap_or_default();
    let is_space = |b: &u8| matches!(b, b' ' | b'\t' | b'\r' | b'\n' | b'\x0c');
    let start = essence
        .iter()
        .position(|b| !is_space(b))
        .unwrap_or(essence.len());
    let end = essence
        .iter()
        .rposition(|b| !is_space(b))
        .map_or(start, |e| e + 1);
    let media_type = &essence[start..end.max(start)];
    assert_eq!(
        got,
        media_type.eq_ignore_ascii_case(b"application/json"),
        "{:?}",
        String::from_utf8_lossy(input)
    );
    assert_eq!(is_json_content_type(&input.to_ascii_uppercase()), got);
    assert_eq!(is_json_content_type(&input.to_ascii_lowercase()), got);
    let mut with_params = essence.to_vec();
    with_params.extend_from_slice(b"; charset=utf-8; x=\"a;b\"");
    assert_eq!(is_json_content_type(&with_params), got);
    if got {
        for suffix in [&b"p"[..], b"-seq", b"x"] {
            let mut other = media_type.to_vec();
            other.extend_from_slice(suffix);
            assert!(!is_json_content_type(&other));
        }
        let mut prefixed = b"x".to_vec();
        prefixed.extend_from_slice(input);
        assert!(!is_json_content_type(&prefixed));
    }
}
