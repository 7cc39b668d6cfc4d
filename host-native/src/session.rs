//! The session cookie's value: proof that a browser opened the URL with the
//! token, without the token itself.
//!
//! `v1.<issued>.<mac>`: `issued` is the Unix time in seconds at which
//! `/?token=` was opened, `mac` the HMAC-SHA256 (hex) keyed by the token of
//! the cookie's name and `issued`. A stolen cookie therefore never reveals the
//! token, expires after [`SESSION_MAX_AGE`], and belongs to one cookie name
//! (one port). Nothing is stored on the server, so a cookie stays valid
//! across restarts for as long as the token is the same, and a new token
//! invalidates every cookie at once.

use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// How long a session cookie is valid (also its `Max-Age`): a week.
pub const SESSION_MAX_AGE: Duration = Duration::from_secs(7 * 24 * 3600);

/// How far in the future an issue time may lie (clock steps between the
/// server that issued the cookie and the one reading it).
const CLOCK_SKEW_SECS: u64 = 300;

/// The format's version prefix: a later format gets a new one.
const VERSION: &str = "v1";

/// Why a cookie value is not a valid session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    /// Not `v1.<digits>.<64 hex digits>` (the digits without leading zeros).
    #[error("not a session value")]
    Malformed,
    /// The MAC does not match: another token, another port, or forged.
    #[error("the session does not match the token")]
    BadMac,
    /// Older than the maximum age.
    #[error("the session has expired")]
    Expired,
    /// Issued further in the future than clock skew explains.
    #[error("the session was issued in the future")]
    FromTheFuture,
}

fn mac_hex(token: &str, cookie_name: &str, issued: u64) -> String {
    // HMAC takes keys of any length; the token is never empty here.
    let mut mac = match Hmac::<Sha256>::new_from_slice(token.as_bytes()) {
        Ok(mac) => mac,
        Err(_) => return String::new(),
    };
    mac.update(b"tidings-session\0");
    mac.update(VERSION.as_bytes());
    mac.update(b"\0");
    mac.update(cookie_name.as_bytes());
    mac.update(b"\0");
    mac.update(issued.to_string().as_bytes());
    let bytes = mac.finalize().into_bytes();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The cookie value for a session issued at `issued` (Unix seconds).
pub fn issue(token: &str, cookie_name: &str, issued: u64) -> String {
    format!("{VERSION}.{issued}.{}", mac_hex(token, cookie_name, issued))
}

/// Checks a cookie value at `now` (Unix seconds): the MAC in constant time,
/// then its age.
pub fn verify(
    token: &str,
    cookie_name: &str,
    value: &str,
    now: u64,
    max_age: Duration,
) -> Result<(), SessionError> {
    let mut parts = value.splitn(3, '.');
    let (Some(VERSION), Some(issued), Some(mac)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(SessionError::Malformed);
    };
    // One spelling per session: the issue time as `issue` writes it, without
    // leading zeros (the MAC covers the number, not its text).
    let well_formed = !issued.is_empty()
        && issued.len() <= 20
        && issued.bytes().all(|b| b.is_ascii_digit())
        && (issued == "0" || !issued.starts_with('0'))
        && mac.len() == 64
        && mac.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    let issued: u64 = match issued.parse() {
        Ok(n) if well_formed => n,
        _ => return Err(SessionError::Malformed),
    };
    let expected = mac_hex(token, cookie_name, issued);
    if !bool::from(expected.as_bytes().ct_eq(mac.as_bytes())) {
        return Err(SessionError::BadMac);
    }
    if issued > now.saturating_add(CLOCK_SKEW_SECS) {
        return Err(SessionError::FromTheFuture);
    }
    if now.saturating_sub(issued) > max_age.as_secs() {
        return Err(SessionError::Expired);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "a-token-of-sixteen-or-more";
    const NAME: &str = "tidings_token_7171";
    const NOW: u64 = 1_750_000_000;

    #[test]
    fn an_issued_session_verifies_and_never_holds_the_token() {
        let value = issue(TOKEN, NAME, NOW);
        assert!(!value.contains(TOKEN));
        assert!(value.starts_with("v1.1750000000."));
        assert_eq!(verify(TOKEN, NAME, &value, NOW, SESSION_MAX_AGE), Ok(()));
        assert_eq!(
            verify(TOKEN, NAME, &value, NOW + 3600, SESSION_MAX_AGE),
            Ok(()),
            "a later check (another server life) still accepts it"
        );
    }

    #[test]
    fn another_token_port_or_a_forged_mac_is_refused() {
        let value = issue(TOKEN, NAME, NOW);
        let check = |token: &str, name: &str, v: &str| verify(token, name, v, NOW, SESSION_MAX_AGE);
        assert_eq!(
            check("another-token-0123456789", NAME, &value),
            Err(SessionError::BadMac)
        );
        assert_eq!(
            check(TOKEN, "tidings_token_7172", &value),
            Err(SessionError::BadMac)
        );
        let later = value.replacen("1750000000", "1750000001", 1);
        assert_eq!(check(TOKEN, NAME, &later), Err(SessionError::BadMac));
        for bad in [
            "",
            TOKEN,
            "v1.",
            "v1.1.x",
            "v2.1750000000.00",
            "v1.-1.0000000000000000000000000000000000000000000000000000000000000000",
            "v1.99999999999999999999999.0000000000000000000000000000000000000000000000000000000000000000",
        ] {
            assert_eq!(check(TOKEN, NAME, bad), Err(SessionError::Malformed), "{bad}");
        }
        // Found by fuzzing: a leading zero kept the number (and the MAC) and
        // was accepted, a second spelling of the same session.
        let padded = value.replacen("v1.", "v1.0", 1);
        assert_eq!(check(TOKEN, NAME, &padded), Err(SessionError::Malformed));
        let upper = value.to_ascii_uppercase().replacen("V1", "v1", 1);
        assert_eq!(check(TOKEN, NAME, &upper), Err(SessionError::Malformed));
    }

    #[test]
    fn sessions_expire_and_cannot_come_from_the_future() {
        let max = SESSION_MAX_AGE.as_secs();
        let old = issue(TOKEN, NAME, NOW - max - 1);
        assert_eq!(
            verify(TOKEN, NAME, &old, NOW, SESSION_MAX_AGE),
            Err(SessionError::Expired)
        );
        let edge = issue(TOKEN, NAME, NOW - max);
        assert_eq!(verify(TOKEN, NAME, &edge, NOW, SESSION_MAX_AGE), Ok(()));
        let future = issue(TOKEN, NAME, NOW + 3600);
        assert_eq!(
            verify(TOKEN, NAME, &future, NOW, SESSION_MAX_AGE),
            Err(SessionError::FromTheFuture)
        );
    }
}
