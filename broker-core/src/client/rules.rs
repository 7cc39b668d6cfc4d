//! The machine's decisions that need no state: what a failure leads to and
//! which id becomes the cursor.

use crate::id::{Epoch, EventId};

use super::Failure;

/// What a failure leads to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Verdict {
    /// Back off and connect again.
    Retry,
    /// Stop until `Start`: the credentials were refused.
    Unauthorized,
    /// Stop until `Start`: the request itself is wrong.
    Stop,
}

pub(super) fn verdict(failure: Failure) -> Verdict {
    match failure {
        Failure::Network | Failure::WrongContentType => Verdict::Retry,
        Failure::Http(401 | 403) => Verdict::Unauthorized,
        Failure::Http(408 | 429) => Verdict::Retry,
        Failure::Http(400..=499) => Verdict::Stop,
        Failure::Http(_) => Verdict::Retry,
    }
}

pub(super) fn describe(failure: Failure) -> String {
    match failure {
        Failure::Network => "network".to_owned(),
        Failure::Http(code) => format!("http {code}"),
        Failure::WrongContentType => "wrong content type".to_owned(),
    }
}

/// Whether a fetched list's cursor should replace the current one (the rule
/// in the module docs). `live_epoch` is the epoch of the connection that is
/// live now, if any.
pub(super) fn adopt_list_cursor(
    current: Option<&str>,
    list: &str,
    live_epoch: Option<Epoch>,
) -> bool {
    let Ok(list) = list.parse::<EventId>() else {
        return false;
    };
    let Some(Ok(current)) = current.map(str::parse::<EventId>) else {
        return true;
    };
    if current.epoch == list.epoch {
        list.seq > current.seq
    } else {
        live_epoch != Some(current.epoch)
    }
}

/// Whether a delivered event's id should become the cursor: any id but an
/// empty one, or one no newer than the cursor in the same epoch (an event
/// that a list adopted meanwhile already reflects: going back would only
/// replay more).
pub(super) fn moves_cursor(current: Option<&str>, delivered: &str) -> bool {
    if delivered.is_empty() {
        return false;
    }
    match (
        current.map(str::parse::<EventId>),
        delivered.parse::<EventId>(),
    ) {
        (Some(Ok(current)), Ok(delivered)) if current.epoch == delivered.epoch => {
            delivered.seq > current.seq
        }
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn http_statuses_are_classified() {
        assert_eq!(verdict(Failure::Http(401)), Verdict::Unauthorized);
        assert_eq!(verdict(Failure::Http(403)), Verdict::Unauthorized);
        assert_eq!(verdict(Failure::Http(404)), Verdict::Stop);
        assert_eq!(verdict(Failure::Http(410)), Verdict::Stop);
        assert_eq!(verdict(Failure::Http(400)), Verdict::Stop);
        assert_eq!(verdict(Failure::Http(429)), Verdict::Retry);
        assert_eq!(verdict(Failure::Http(408)), Verdict::Retry);
        assert_eq!(verdict(Failure::Http(500)), Verdict::Retry);
        assert_eq!(verdict(Failure::Http(503)), Verdict::Retry);
        assert_eq!(verdict(Failure::Network), Verdict::Retry);
        assert_eq!(verdict(Failure::WrongContentType), Verdict::Retry);
    }

    #[test]
    fn list_cursor_rule() {
        let e = Some(Epoch::new(0xe));
        // No cursor, or an unreadable one: take the list's.
        assert!(adopt_list_cursor(None, "e-5", None));
        assert!(adopt_list_cursor(Some("junk"), "e-5", e));
        // An unreadable list cursor is never taken.
        assert!(!adopt_list_cursor(Some("e-5"), "junk", None));
        // Same epoch: only newer.
        assert!(adopt_list_cursor(Some("e-5"), "e-6", e));
        assert!(!adopt_list_cursor(Some("e-5"), "e-5", e));
        assert!(!adopt_list_cursor(Some("e-5"), "e-4", None));
        // Other epoch: taken unless live on the cursor's epoch.
        assert!(!adopt_list_cursor(Some("e-5"), "f-9", e));
        assert!(adopt_list_cursor(Some("e-5"), "f-9", None));
        assert!(adopt_list_cursor(Some("e-5"), "f-1", Some(Epoch::new(0xf))));
    }

    #[test]
    fn delivered_ids_move_the_cursor_forward_only_within_an_epoch() {
        assert!(moves_cursor(None, "e-1"));
        assert!(!moves_cursor(None, ""));
        assert!(moves_cursor(Some("e-1"), "e-2"));
        assert!(!moves_cursor(Some("e-5"), "e-3"));
        assert!(moves_cursor(Some("e-5"), "f-3"));
        assert!(moves_cursor(Some("junk"), "e-3"));
        assert!(moves_cursor(Some("e-5"), "other"));
    }
}
