//! The machine's decisions that need no state: what a failure leads to,
//! which id the client resumes from, and how long silence may last.

use core::time::Duration;

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
        Failure::Network | Failure::WrongContentType | Failure::Timeout => Verdict::Retry,
        Failure::Http(401 | 403) => Verdict::Unauthorized,
        Failure::Http(408 | 429) => Verdict::Retry,
        Failure::Http(400..=499) => Verdict::Stop,
        Failure::Http(_) => Verdict::Retry,
    }
}

/// Whether a fetched list's cursor replaces the resume point: only when the
/// client holds no id of the list's epoch (its first list, or a list of a
/// new epoch). Within one epoch the resume point is the last real event the
/// stream delivered (or the `head` a fresh stream started after): a list
/// taken while the stream was down reflects tasks, not the other events
/// still in history, so it must never move the resume point forward. A list
/// of another epoch than the connection live now (`live_epoch`) is stale:
/// never adopted.
pub(super) fn adopt_list_cursor(
    current: Option<EventId>,
    list: EventId,
    live_epoch: Option<Epoch>,
) -> bool {
    current.is_none_or(|c| c.epoch != list.epoch) && live_epoch.is_none_or(|l| l == list.epoch)
}

/// What a delivered id does: `true` when it is new (it becomes the cursor),
/// `false` for a duplicate (an id no newer than the cursor in its epoch:
/// relayed twice, replayed after a takeover, or repeated by a browser that
/// reconnected on its own).
pub(super) fn is_new(current: Option<EventId>, delivered: EventId) -> bool {
    match current {
        Some(c) if c.epoch == delivered.epoch => delivered.seq > c.seq,
        _ => true,
    }
}

/// How long a connection may stay silent before it is dead: twice the
/// heartbeat plus a margin for scheduling (a quarter heartbeat, between
/// 250 ms and 5 s).
pub(super) fn watchdog_window(heartbeat: Duration) -> Duration {
    heartbeat
        .saturating_mul(2)
        .saturating_add(margin(heartbeat))
}

/// After a `Recheck` (the page was frozen or cached): one heartbeat plus the
/// margin is enough to tell whether the connection still carries bytes.
pub(super) fn recheck_window(heartbeat: Duration) -> Duration {
    heartbeat.saturating_add(margin(heartbeat))
}

fn margin(heartbeat: Duration) -> Duration {
    (heartbeat / 4).clamp(Duration::from_millis(250), Duration::from_secs(5))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::Epoch;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn id(epoch: u64, seq: u64) -> EventId {
        EventId::new(Epoch::new(epoch), seq)
    }

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
        assert_eq!(verdict(Failure::Timeout), Verdict::Retry);
    }

    #[test]
    fn a_list_cursor_is_adopted_only_without_an_id_of_its_epoch() {
        let (e, f) = (Some(Epoch::new(0xe)), Some(Epoch::new(0xf)));
        assert!(adopt_list_cursor(None, id(0xe, 5), None));
        assert!(adopt_list_cursor(None, id(0xe, 5), e));
        assert!(adopt_list_cursor(Some(id(0xe, 5)), id(0xf, 1), None));
        assert!(adopt_list_cursor(Some(id(0xe, 5)), id(0xf, 1), f));
        assert!(!adopt_list_cursor(Some(id(0xe, 5)), id(0xe, 9), None));
        assert!(!adopt_list_cursor(Some(id(0xe, 5)), id(0xe, 9), e));
        assert!(!adopt_list_cursor(Some(id(0xe, 5)), id(0xe, 2), None));
        // A list of another epoch than the live connection's is stale.
        assert!(!adopt_list_cursor(Some(id(0xf, 5)), id(0xe, 99), f));
        assert!(!adopt_list_cursor(None, id(0xe, 99), f));
    }

    #[test]
    fn ids_no_newer_than_the_cursor_in_its_epoch_are_duplicates() {
        assert!(is_new(None, id(0xe, 1)));
        assert!(is_new(Some(id(0xe, 1)), id(0xe, 2)));
        assert!(!is_new(Some(id(0xe, 5)), id(0xe, 5)));
        assert!(!is_new(Some(id(0xe, 5)), id(0xe, 3)));
        assert!(is_new(Some(id(0xe, 5)), id(0xf, 3)));
    }

    #[test]
    fn the_watchdog_window_is_twice_the_heartbeat_plus_a_margin() {
        assert_eq!(
            watchdog_window(Duration::from_secs(1)),
            Duration::from_millis(2250)
        );
        assert_eq!(
            watchdog_window(Duration::from_secs(15)),
            Duration::from_millis(33_750)
        );
        assert_eq!(
            watchdog_window(Duration::from_millis(100)),
            Duration::from_millis(450)
        );
        assert_eq!(
            watchdog_window(Duration::from_secs(60)),
            Duration::from_secs(125)
        );
    }
}
