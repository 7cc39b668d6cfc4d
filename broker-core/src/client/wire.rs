//! The stream's own messages (`ready`, `lagged`, `end`) as the client reads them.

use crate::id::{Epoch, EventId};

/// `event: ready` data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ReadyData {
    /// The server's epoch.
    pub(crate) epoch: Epoch,
    /// Whether the stream continues from the id sent.
    pub(crate) resumed: bool,
}

#[derive(serde::Deserialize)]
struct RawReady {
    epoch: String,
    resumed: bool,
    head: String,
}

#[derive(serde::Deserialize)]
struct RawLagged {
    dropped: u64,
}

#[derive(serde::Deserialize)]
struct RawEnd {
    reason: String,
}

/// Reads a `ready` payload; `Err` names what is wrong (a protocol error).
pub(crate) fn parse_ready(data: &str) -> Result<ReadyData, String> {
    let raw: RawReady = serde_json::from_str(data).map_err(|e| format!("bad ready: {e}"))?;
    let epoch: Epoch = raw
        .epoch
        .parse()
        .map_err(|e| format!("bad ready epoch: {e}"))?;
    let head: EventId = raw
        .head
        .parse()
        .map_err(|e| format!("bad ready head: {e}"))?;
    if head.epoch != epoch {
        return Err("ready head is not of the ready epoch".to_owned());
    }
    Ok(ReadyData {
        epoch,
        resumed: raw.resumed,
    })
}

/// Reads a `lagged` payload: how many events were dropped.
pub(crate) fn parse_lagged(data: &str) -> Result<u64, String> {
    serde_json::from_str::<RawLagged>(data)
        .map(|l| l.dropped)
        .map_err(|e| format!("bad lagged: {e}"))
}

/// Reads an `end` payload: the reason given.
pub(crate) fn parse_end(data: &str) -> Result<String, String> {
    serde_json::from_str::<RawEnd>(data)
        .map(|e| e.reason)
        .map_err(|e| format!("bad end: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn ready_lagged_and_end_are_read() {
        let r = parse_ready(r#"{"epoch":"ab","resumed":true,"head":"ab-7"}"#).expect("valid");
        assert_eq!(r.epoch, Epoch::new(0xab));
        assert!(r.resumed);
        assert_eq!(parse_lagged(r#"{"dropped":12}"#), Ok(12));
        assert_eq!(
            parse_end(r#"{"reason":"shutdown"}"#).as_deref(),
            Ok("shutdown")
        );
    }

    #[test]
    fn malformed_payloads_are_errors_not_panics() {
        for bad in [
            "",
            "{",
            "[]",
            r#"{"epoch":"ab","resumed":"yes","head":"ab-1"}"#,
            r#"{"epoch":"XY","resumed":true,"head":"ab-1"}"#,
            r#"{"epoch":"ab","resumed":true,"head":"cd-1"}"#,
            r#"{"epoch":"ab","resumed":true}"#,
        ] {
            assert!(parse_ready(bad).is_err(), "{bad}");
        }
        assert!(parse_lagged(r#"{"dropped":-1}"#).is_err());
        assert!(parse_end(r#"{"reason":3}"#).is_err());
    }
}
