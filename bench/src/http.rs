//! Just enough HTTP/1.1 for the load generator.
//!
//! A general client (hyper's) would spend the generator's CPU on things the
//! benchmark does not need, and the generator shares the two cores with the
//! server it measures. So requests are written as bytes, response heads are
//! parsed once, and chunked bodies are decoded by a small state machine.

use memchr::memmem;

/// A response the generator cannot make sense of.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HttpError {
    /// The status line is not `HTTP/1.x NNN ...`.
    #[error("malformed status line")]
    BadStatusLine,
    /// A `Content-Length` that is not a number.
    #[error("malformed content-length")]
    BadContentLength,
    /// A chunk-size line that is not hexadecimal.
    #[error("malformed chunk size")]
    BadChunkSize,
    /// The head grew past the limit without ending.
    #[error("response head too large")]
    HeadTooLarge,
}

/// The longest response head accepted.
pub const MAX_HEAD: usize = 16 * 1024;

/// How the end of a response body is found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// `Content-Length: N`.
    Length(usize),
    /// Neither: the body runs until the connection closes.
    UntilClose,
}

/// The parts of a response head the generator uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResponseHead {
    /// The status code.
    pub status: u16,
    /// How the body is delimited.
    pub framing: Framing,
    /// Bytes of `buf` taken by the head, including the blank line.
    pub len: usize,
}

/// Parses a response head at the start of `buf`; `Ok(None)` while it is incomplete.
pub fn parse_head(buf: &[u8]) -> Result<Option<ResponseHead>, HttpError> {
    let Some(end) = memmem::find(buf, b"\r\n\r\n") else {
        return if buf.len() > MAX_HEAD {
            Err(HttpError::HeadTooLarge)
        } else {
            Ok(None)
        };
    };
    let head = &buf[..end];
    let mut lines = head.split(|&b| b == b'\n');
    let status_line = lines.next().ok_or(HttpError::BadStatusLine)?;
    if !status_line.starts_with(b"HTTP/1.") || status_line.len() < 12 {
        return Err(HttpError::BadStatusLine);
    }
    let status = parse_decimal(&status_line[9..12]).ok_or(HttpError::BadStatusLine)? as u16;
    let mut framing = Framing::UntilClose;
    for line in lines {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(colon) = memchr::memchr(b':', line) else {
            continue;
        };
        let (name, value) = (&line[..colon], trim(&line[colon + 1..]));
        if name.eq_ignore_ascii_case(b"transfer-encoding") {
            if value.eq_ignore_ascii_case(b"chunked") {
                framing = Framing::Chunked;
            }
        } else if name.eq_ignore_ascii_case(b"content-length") && framing != Framing::Chunked {
            let n = parse_decimal(value).ok_or(HttpError::BadContentLength)?;
            framing = Framing::Length(n as usize);
        }
    }
    Ok(Some(ResponseHead {
        status,
        framing,
        len: end + 4,
    }))
}

fn trim(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

/// Reads an unsigned decimal; `None` when `s` is empty or holds a non-digit.
pub fn parse_decimal(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 19 {
        return None;
    }
    let mut n: u64 = 0;
    for &b in s {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n * 10 + u64::from(b - b'0');
    }
    Some(n)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ChunkState {
    Size,
    Extension,
    SizeLf,
    Data,
    DataEnd,
    Done,
}

/// Incremental decoder of a chunked body.
#[derive(Debug)]
pub struct Dechunker {
    state: ChunkState,
    size: usize,
    size_digits: usize,
}

impl Default for Dechunker {
    fn default() -> Self {
        Dechunker {
            state: ChunkState::Size,
            size: 0,
            size_digits: 0,
        }
    }
}

impl Dechunker {
    /// Feeds raw bytes (split anywhere); `out` receives each run of payload.
    /// Returns true once the last (zero-size) chunk was read.
    pub fn feed(
        &mut self,
        mut input: &[u8],
        out: &mut impl FnMut(&[u8]),
    ) -> Result<bool, HttpError> {
        while !input.is_empty() {
            match self.state {
                ChunkState::Data => {
                    let n = self.size.min(input.len());
                    out(&input[..n]);
                    self.size -= n;
                    input = &input[n..];
                    if self.size == 0 {
                        self.state = ChunkState::DataEnd;
                    }
                }
                ChunkState::Size => {
                    let b = input[0];
                    input = &input[1..];
                    match b {
                        b'0'..=b'9' | b'a'..=b'f' | b'A'..=b'F' => {
                            let digit = (b as char).to_digit(16).unwrap_or(0) as usize;
                            self.size_digits += 1;
                            if self.size_digits > 15 {
                                return Err(HttpError::BadChunkSize);
                            }
                            self.size = self.size * 16 + digit;
                        }
                        b';' | b' ' | b'\t' => self.state = ChunkState::Extension,
                        b'\r' => self.state = ChunkState::SizeLf,
                        b'\n' => self.end_size_line()?,
                        _ => return Err(HttpError::BadChunkSize),
                    }
                }
                ChunkState::Extension | ChunkState::SizeLf => {
                    let b = input[0];
                    input = &input[1..];
                    if b == b'\n' {
                        self.end_size_line()?;
                    }
                }
                ChunkState::DataEnd => {
                    let b = input[0];
                    input = &input[1..];
                    if b == b'\n' {
                        self.state = ChunkState::Size;
                        self.size = 0;
                        self.size_digits = 0;
                    }
                }
                ChunkState::Done => return Ok(true),
            }
        }
        Ok(self.state == ChunkState::Done)
    }

    fn end_size_line(&mut self) -> Result<(), HttpError> {
        if self.size_digits == 0 {
            return Err(HttpError::BadChunkSize);
        }
        self.state = if self.size == 0 {
            ChunkState::Done
        } else {
            ChunkState::Data
        };
        Ok(())
    }
}

/// Strips the body of one response from the front of `buf` once it is
/// complete: returns `Some((head, consumed))`. Used by the publisher, whose
/// responses are small.
pub fn take_response(buf: &[u8]) -> Result<Option<(ResponseHead, usize)>, HttpError> {
    let Some(head) = parse_head(buf)? else {
        return Ok(None);
    };
    let body = &buf[head.len..];
    match head.framing {
        Framing::Length(n) => Ok((body.len() >= n).then_some((head, head.len + n))),
        Framing::UntilClose => Ok(Some((head, buf.len()))),
        Framing::Chunked => {
            // Small responses: find the terminating zero chunk by decoding.
            let mut d = Dechunker::default();
            let mut consumed = 0;
            for (i, b) in body.iter().enumerate() {
                if d.feed(std::slice::from_ref(b), &mut |_| {})? {
                    consumed = i + 1;
                    break;
                }
            }
            if consumed == 0 {
                return Ok(None);
            }
            // The trailer section ends with an empty line.
            let rest = &body[consumed..];
            match memmem::find(rest, b"\r\n") {
                Some(0) => Ok(Some((head, head.len + consumed + 2))),
                Some(_) => match memmem::find(rest, b"\r\n\r\n") {
                    Some(i) => Ok(Some((head, head.len + consumed + i + 4))),
                    None => Ok(None),
                },
                None => Ok(None),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_status_and_framing() {
        let raw = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\nabc";
        let head = parse_head(raw).expect("valid head").expect("complete head");
        assert_eq!(head.status, 200);
        assert_eq!(head.framing, Framing::Chunked);
        assert_eq!(&raw[head.len..], b"abc");
        assert_eq!(
            parse_head(b"HTTP/1.1 200 OK\r\n").expect("valid so far"),
            None
        );
        let head = parse_head(b"HTTP/1.1 503 Busy\r\nContent-Length: 12\r\n\r\n")
            .expect("valid head")
            .expect("complete head");
        assert_eq!((head.status, head.framing), (503, Framing::Length(12)));
        assert_eq!(
            parse_head(b"SIP/2.0 200 OK\r\n\r\n"),
            Err(HttpError::BadStatusLine)
        );
    }

    #[test]
    fn dechunks_across_any_split() {
        let raw = b"5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\n\r\n";
        for split in 0..raw.len() {
            let mut d = Dechunker::default();
            let mut out = Vec::new();
            let done_a = d
                .feed(&raw[..split], &mut |p| out.extend_from_slice(p))
                .expect("valid");
            let done_b = d
                .feed(&raw[split..], &mut |p| out.extend_from_slice(p))
                .expect("valid");
            assert_eq!(out, b"hello, world", "split at {split}");
            assert!(done_a || done_b);
        }
        let mut d = Dechunker::default();
        assert_eq!(d.feed(b"zz\r\n", &mut |_| {}), Err(HttpError::BadChunkSize));
    }

    #[test]
    fn takes_whole_responses_only() {
        let one = b"HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\n{}";
        assert_eq!(take_response(&one[..one.len() - 1]).expect("valid"), None);
        let (head, used) = take_response(one).expect("valid").expect("complete");
        assert_eq!((head.status, used), (202, one.len()));
        let chunked =
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\nHTTP";
        let (head, used) = take_response(chunked).expect("valid").expect("complete");
        assert_eq!((head.status, used), (200, chunked.len() - 4));
    }
}
