//! A lean SSE scanner for the load generator.
//!
//! The generator competes with the server for the same two cores, so it does
//! not build `Message`s with owned strings the way an `EventSource` (or
//! `broker_core::sse::Parser`) must. It splits lines in place, remembers the
//! last `id:`, and from a `data:` line pulls only the two numbers the bench
//! payload carries: `"seq"` (the publisher's counter) and `"sent_us"` (the
//! publish time). Lines end in LF or CRLF (every server measured here uses
//! one of those; a lone CR is not treated as a line end).

use memchr::memchr;

/// The payload key holding the publisher's counter.
pub const SEQ_KEY: &[u8] = b"\"seq\":";
/// The payload key holding the publish time, µs since the run's base instant.
pub const SENT_KEY: &[u8] = b"\"sent_us\":";

/// One dispatched bench event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BenchEvent<'a> {
    /// The publisher's counter.
    pub seq: u64,
    /// When it was published (µs since the run's base instant).
    pub sent_us: u64,
    /// The last `id:` seen, as the server wrote it.
    pub id: &'a [u8],
}

/// Incremental scanner; feed it body bytes split anywhere.
#[derive(Debug, Default)]
pub struct Scanner {
    partial: Vec<u8>,
    id: Vec<u8>,
    seq: Option<u64>,
    sent_us: u64,
    /// Events dispatched whose data carried no `seq` (ready, lagged, ...).
    pub other_events: u64,
    had_data: bool,
}

impl Scanner {
    /// Feeds body bytes; `on_event` runs for every dispatched bench event.
    pub fn feed(&mut self, mut bytes: &[u8], on_event: &mut impl FnMut(BenchEvent<'_>)) {
        if !self.partial.is_empty() {
            match memchr(b'\n', bytes) {
                Some(i) => {
                    let mut line = std::mem::take(&mut self.partial);
                    line.extend_from_slice(&bytes[..i]);
                    self.line(&line, on_event);
                    line.clear();
                    self.partial = line;
                    bytes = &bytes[i + 1..];
                }
                None => {
                    self.partial.extend_from_slice(bytes);
                    return;
                }
            }
        }
        while let Some(i) = memchr(b'\n', bytes) {
            self.line(&bytes[..i], on_event);
            bytes = &bytes[i + 1..];
        }
        self.partial.extend_from_slice(bytes);
    }

    fn line(&mut self, line: &[u8], on_event: &mut impl FnMut(BenchEvent<'_>)) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            if let Some(seq) = self.seq.take() {
                on_event(BenchEvent {
                    seq,
                    sent_us: self.sent_us,
                    id: &self.id,
                });
            } else if self.had_data {
                self.other_events += 1;
            }
            self.had_data = false;
        } else if let Some(rest) = line.strip_prefix(b"data:") {
            self.had_data = true;
            if let Some(seq) = number_after(rest, SEQ_KEY) {
                self.seq = Some(seq);
                self.sent_us = number_after(rest, SENT_KEY).unwrap_or(0);
            }
        } else if let Some(rest) = line.strip_prefix(b"id:") {
            let rest = rest.strip_prefix(b" ").unwrap_or(rest);
            self.id.clear();
            self.id.extend_from_slice(rest);
        }
    }
}

/// The unsigned number after `key` (spaces allowed after the colon).
fn number_after(hay: &[u8], key: &[u8]) -> Option<u64> {
    let at = memchr::memmem::find(hay, key)? + key.len();
    let mut n: u64 = 0;
    let mut digits = 0;
    for &b in &hay[at..] {
        match b {
            b' ' if digits == 0 => {}
            b'0'..=b'9' => {
                n = n.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
                digits += 1;
            }
            _ => break,
        }
    }
    (digits > 0).then_some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan_all(chunks: &[&[u8]]) -> (Vec<(u64, u64, String)>, u64) {
        let mut s = Scanner::default();
        let mut got = Vec::new();
        for c in chunks {
            s.feed(c, &mut |e| {
                got.push((e.seq, e.sent_us, String::from_utf8_lossy(e.id).into_owned()));
            });
        }
        (got, s.other_events)
    }

    #[test]
    fn finds_counter_time_and_id_in_every_server_style() {
        let stream: &[u8] = b"retry: 2000\nevent: ready\ndata: {\"resumed\":false}\n\n\
id: 7-1\nevent: bench\ndata: {\"pad\":\"x\",\"sent_us\":55,\"seq\":0}\n\n\
id: 1:0\r\ndata: {\"seq\": 1, \"sent_us\": 66}\r\n\r\n: keep-alive\n\n";
        let expected = vec![(0, 55, "7-1".to_string()), (1, 66, "1:0".to_string())];
        for split in 0..stream.len() {
            let (got, others) = scan_all(&[&stream[..split], &stream[split..]]);
            assert_eq!(got, expected, "split at {split}");
            assert_eq!(others, 1, "the ready event is counted as another event");
        }
    }

    #[test]
    fn a_block_without_blank_line_is_not_dispatched() {
        let (got, _) = scan_all(&[b"id: 1\ndata: {\"seq\":3,\"sent_us\":1}\n"]);
        assert!(got.is_empty());
    }
}
