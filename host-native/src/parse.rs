//! `tidings parse`: an SSE byte stream on stdin, one JSON line per output of
//! the core parser on stdout — exactly what a browser's `EventSource` would
//! dispatch, whatever the chunking.

use std::io::{self, BufWriter, Read, Write};

use broker_core::sse::{Parser, ParserConfig, SseItem};
use serde_json::json;

/// Why parsing stopped early.
#[derive(Debug, thiserror::Error)]
pub enum ParseCommandError {
    /// Reading stdin or writing stdout failed.
    #[error("i/o: {0}")]
    Io(#[from] io::Error),
    /// The stream broke the parser's limits.
    #[error("stream rejected: {0}")]
    Stream(#[from] broker_core::sse::ParseError),
}

/// Reads `input` to its end and writes `{"type","data","id"}` per dispatched
/// message and `{"retry":N}` per valid retry field to `output`.
///
/// Output is flushed after every chunk read, so each line appears as soon as
/// its message is parsed (`curl -N ... | tidings parse` is live); a burst
/// read in one chunk is still written at once.
pub fn run(mut input: impl Read, output: impl Write) -> Result<(), ParseCommandError> {
    let mut out = BufWriter::new(output);
    let mut parser = Parser::new(ParserConfig::default());
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => {
                parser.handle_eof();
                drain(&mut parser, &mut out)?;
                break;
            }
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        };
        parser.handle_bytes(&buf[..n]);
        drain(&mut parser, &mut out)?;
        out.flush()?;
    }
    out.flush()?;
    Ok(())
}

fn drain(parser: &mut Parser, out: &mut impl Write) -> Result<(), ParseCommandError> {
    while let Some(item) = parser.poll_output() {
        let line = match item? {
            SseItem::Message(m) => json!({"type": m.event, "data": m.data, "id": m.last_event_id}),
            SseItem::Retry(ms) => json!({ "retry": ms }),
        };
        serde_json::to_writer(&mut *out, &line).map_err(io::Error::from)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_and_retries_become_json_lines() {
        let input = b"retry: 10\nid: a-1\nevent: x\ndata: {\"k\":1}\n\n: c\ndata: y\n\n";
        let mut out = Vec::new();
        run(&input[..], &mut out).expect("parses");
        assert_eq!(
            String::from_utf8(out).expect("utf-8"),
            "{\"retry\":10}\n{\"data\":\"{\\\"k\\\":1}\",\"id\":\"a-1\",\"type\":\"x\"}\n{\"data\":\"y\",\"id\":\"a-1\",\"type\":\"message\"}\n"
        );
    }
}
