//! Credentials as the server reads them: the `Authorization` value, the
//! `Cookie` header and the `?token=` query of a page URL. None panics; each
//! agrees with a literal reading of its format (the bearer scheme name in
//! any case, RFC 7235; cookies as `name=value` pairs split at `;`, RFC 6265,
//! surrounding quotes dropped; the last `token` pair of a query,
//! percent-decoded) and round-trips: a token written as `Bearer <token>`, a
//! cookie written into a header among others, a token percent-encoded into
//! a query all come back exactly, and the rest of the query the redirect
//! keeps never holds a `token` pair.
//!
//! Input: text (lossy UTF-8) split at `\u{1}` into an `Authorization`
//! value, a `Cookie` header, a cookie name, a query string and a token.

use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use tidings::fuzzing::{bearer_token, cookie_values, token_from_query};

/// `(name, value)` of each pair of a `Cookie` header, read literally.
fn cookie_pairs(header: &str) -> Vec<(&str, &str)> {
    let mut pairs = Vec::new();
    for piece in header.split(';') {
        let piece = piece.trim();
        if let Some(eq) = piece.find('=') {
            let value = piece[eq + 1..].trim_matches('"');
            pairs.push((&piece[..eq], value));
        }
    }
    pairs
}

fn check_bearer(value: &str, token: &str) {
    let expected = value
        .get(..7)
        .filter(|scheme| scheme.eq_ignore_ascii_case("bearer "))
        .map(|_| value[7..].trim());
    assert_eq!(bearer_token(value), expected, "{value:?}");
    let token = token.trim();
    for scheme in ["Bearer", "bearer", "BEARER"] {
        let header = format!("{scheme} {token}");
        assert_eq!(bearer_token(&header), Some(token), "{header:?}");
    }
}

fn check_cookies(header: &str, name: &str) {
    let values = cookie_values(header, name);
    let expected: Vec<&str> = cookie_pairs(header)
        .into_iter()
        .filter(|(n, _)| *n == name)
        .map(|(_, v)| v)
        .collect();
    assert_eq!(values, expected, "{name:?} in {header:?}");
    assert!(values.iter().all(|v| !v.contains(';')));

    // Written back into a header between other cookies, each value is read
    // back exactly (when the name and the value can be written at all).
    let plain =
        |t: &str| t.trim() == t && !t.contains(';') && !t.starts_with('"') && !t.ends_with('"');
    if name.is_empty() || !plain(name) || name.contains('=') {
        return;
    }
    let own: Vec<&str> = values.iter().copied().filter(|v| plain(v)).collect();
    let other = if name == "o" { "p" } else { "o" };
    let mut pieces = vec![format!("{other}=1")];
    for value in &own {
        pieces.push(format!("{name}={value}"));
        pieces.push(format!("{other}=\"{value}\""));
    }
    let rebuilt = pieces.join("; ");
    assert_eq!(cookie_values(&rebuilt, name), own, "{rebuilt:?}");
    let quoted: Vec<String> = own.iter().map(|v| format!("{name}=\"{v}\"")).collect();
    assert_eq!(cookie_values(&quoted.join(";"), name), own, "quoted");
}

fn check_query(query: &str, token: &str) {
    let pairs: Vec<&str> = query.split('&').filter(|p| !p.is_empty()).collect();
    let is_token = |p: &&str| p.split_once('=').is_some_and(|(k, _)| k == "token");
    let expected = pairs.iter().rev().find(|p| is_token(p)).map(|p| {
        let value = &p["token=".len()..];
        let token = percent_encoding::percent_decode_str(value)
            .decode_utf8_lossy()
            .into_owned();
        let rest: Vec<&str> = pairs.iter().copied().filter(|p| !is_token(p)).collect();
        (token, rest)
    });
    assert_eq!(token_from_query(query), expected, "{query:?}");

    // A token encoded into the query comes back, and leaves the rest.
    let encoded = utf8_percent_encode(token, NON_ALPHANUMERIC).to_string();
    let with_token = format!("{query}&token={encoded}");
    let (got, rest) =
        token_from_query(&with_token).unwrap_or_else(|| panic!("{with_token:?}: no token found"));
    assert_eq!(got, token);
    assert!(!rest.iter().any(is_token), "{rest:?} keeps a token");
    let kept: Vec<&str> = pairs.iter().copied().filter(|p| !is_token(p)).collect();
    assert_eq!(rest, kept);
}

/// The check: see the module docs.
pub fn check(input: &[u8]) {
    let text = String::from_utf8_lossy(input);
    let mut parts = text.splitn(5, '\u{1}');
    let authorization = parts.next().unwrap_or_default();
    let cookie = parts.next().unwrap_or_default();
    let name = parts.next().unwrap_or_default();
    let query = parts.next().unwrap_or_default();
    let token = parts.next().unwrap_or_default();
    check_bearer(authorization, token);
    check_cookies(cookie, name);
    check_query(query, token);
}
