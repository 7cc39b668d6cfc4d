//! Properties of a task's live output stream against a model log, on a
//! simulated clock: for any bytes a task writes (multibyte characters split
//! anywhere between writes, invalid bytes, escapes), any read latencies and
//! any resume points, the texts of a stream and its resumptions concatenate
//! to the log from the first offset decoded as UTF-8, offsets strictly
//! increase, every chunk is the exact bytes between its neighbours' ids, no
//! frame passes the cap and chunks are at least the flush interval apart.
//! With a capped log (old bytes dropped) the same holds from each
//! `truncated {from}` on.
#![cfg(not(target_arch = "wasm32"))]
// proptest's `prop_oneof!` builds its union on `Arc`; the ban is for the core.
#![allow(clippy::disallowed_types)]

use core::time::Duration;

use broker_core::output::{OutputAction, OutputConfig, OutputStream, Span, MIN_OUTPUT_FRAME};
use broker_core::sse::{HeartbeatForm, Parser, SseItem};
use broker_core::{EndReason, TaskId, Timestamp};
use proptest::prelude::*;

/// The task's log as the server keeps it: every byte ever written (for the
/// checks) and the kept window, compacted like the real log (when a write
/// would pass the cap, keep the newest half of the cap, or the newest cap
/// bytes of a larger write).
struct ModelLog {
    all: Vec<u8>,
    start: u64,
    cap: Option<u64>,
}

impl ModelLog {
    fn span(&self) -> Span {
        Span {
            start: self.start,
            end: self.all.len() as u64,
        }
    }

    fn append(&mut self, bytes: &[u8]) {
        let span = self.span();
        let len = bytes.len() as u64;
        self.all.extend_from_slice(bytes);
        if let Some(cap) = self.cap {
            if span.end - span.start + len > cap {
                let keep = (cap / 2).max(len).min(cap);
                self.start = self.all.len() as u64 - keep;
            }
        }
    }

    /// What the server's `read_from` answers.
    fn read(&self, from: u64, max: usize) -> (u64, Vec<u8>, Span) {
        let span = self.span();
        let from = from.clamp(span.start, span.end);
        let to = (from + max as u64).min(span.end);
        (from, self.all[from as usize..to as usize].to_vec(), span)
    }
}

/// What one client saw on one connection.
#[derive(Debug, Default)]
struct Seen {
    /// `(id, text, at)` of each output chunk.
    chunks: Vec<(u64, String, u64)>,
    /// `truncated` offsets, with the index of the chunk they came before.
    truncated: Vec<(usize, u64)>,
    end: Option<String>,
}

fn feed(parser: &mut Parser, bytes: &[u8], seen: &mut Seen, now: u64, max_frame: usize) {
    parser.handle_bytes(bytes);
    while let Some(item) = parser.poll_output() {
        let SseItem::Message(m) = item.expect("a well-formed stream") else {
            continue;
        };
        let data: serde_json::Value = serde_json::from_str(&m.data).expect("JSON data");
        match m.event.as_str() {
            "output" => {
                let id: u64 = m.last_event_id.parse().expect("an offset id");
                let frame_len = format!("id: {id}\nevent: output\ndata: {}\n\n", m.data).len();
                assert!(frame_len <= max_frame, "a frame of {frame_len} bytes");
                let text = data["text"].as_str().expect("text").to_owned();
                seen.chunks.push((id, text, now));
            }
            "truncated" => {
                let from = data["from"].as_u64().expect("from");
                seen.truncated.push((seen.chunks.len(), from));
            }
            "end" => seen.end = Some(data["reason"].as_str().expect("reason").to_owned()),
            "ready" | "heartbeat" => {}
            other => panic!("unexpected event {other}"),
        }
    }
}

#[derive(Clone, Debug)]
enum Atom {
    Ascii(u8),
    Char(char),
    Invalid(u8),
}

fn atom() -> impl Strategy<Value = Atom> {
    prop_oneof![
        4 => prop_oneof![0x20u8..0x7f, Just(b'\n'), Just(b'\r'), Just(0x1b), Just(b'"'), Just(b'\\')]
            .prop_map(Atom::Ascii),
        4 => any::<char>().prop_map(Atom::Char),
        4 => prop::sample::select(vec!['é', '€', '😀', '中', '\u{2028}']).prop_map(Atom::Char),
        1 => (0x80u8..=0xff).prop_map(Atom::Invalid),
    ]
}

fn bytes_of(atoms: &[Atom]) -> Vec<u8> {
    let mut out = Vec::new();
    for a in atoms {
        match a {
            Atom::Ascii(b) | Atom::Invalid(b) => out.push(*b),
            Atom::Char(c) => out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
        }
    }
    out
}

#[derive(Clone, Debug)]
struct Scenario {
    bytes: Vec<u8>,
    /// Sizes of the writes the bytes arrive in (cycled), and the pause
    /// before each.
    pieces: Vec<(usize, u64)>,
    /// How many chunks each connection takes before the client drops it
    /// (then it resumes from its last id); the last one runs to the end.
    resumes: Vec<usize>,
    /// For each read (cycled): answer it at once, or after time passes.
    read_now: Vec<bool>,
    /// When the first connection opens, and the offset it asks for (clamped
    /// to what the log holds by then; `None`: from the beginning).
    open_at: u64,
    first: Option<u64>,
    max_frame: usize,
    cap: Option<u64>,
    seed: u64,
}

fn scenario(capped: bool) -> impl Strategy<Value = Scenario> {
    (
        prop::collection::vec(atom(), 0..300),
        prop::collection::vec((1usize..40, 0u64..120), 1..20),
        prop::collection::vec(0usize..6, 0..5),
        prop::collection::vec(any::<bool>(), 1..8),
        (0u64..400, prop::option::of(0u64..400)),
        prop::sample::select(vec![MIN_OUTPUT_FRAME, MIN_OUTPUT_FRAME + 50, 64 * 1024]),
        any::<u64>(),
        if capped {
            prop::option::of(16u64..200).boxed()
        } else {
            Just(None).boxed()
        },
    )
        .prop_map(
            |(atoms, pieces, resumes, read_now, (open_at, first), max_frame, seed, cap)| Scenario {
                bytes: bytes_of(&atoms),
                pieces,
                resumes,
                read_now,
                open_at,
                first,
                max_frame,
                cap,
                seed,
            },
        )
}

const FLUSH_MS: u64 = 50;

/// Runs the scenario; returns what each connection saw, the offset the
/// first one asked for, and the model log.
fn run(s: &Scenario) -> (Vec<Seen>, u64, ModelLog) {
    let task = TaskId::new("t").expect("a task id");
    let mut config = OutputConfig::new(
        Duration::from_millis(1000),
        HeartbeatForm::Event,
        Duration::from_secs(3600),
        100,
    );
    config.session.max_write = s.max_frame;
    let mut log = ModelLog {
        all: Vec::new(),
        start: 0,
        cap: s.cap,
    };
    // The writes: (time, bytes).
    let mut writes = Vec::new();
    let (mut at, mut t) = (0, 0u64);
    let mut i = 0;
    while at < s.bytes.len() {
        let (size, pause) = s.pieces[i % s.pieces.len()];
        t += pause;
        let to = (at + size).min(s.bytes.len());
        writes.push((t, s.bytes[at..to].to_vec()));
        at = to;
        i += 1;
    }
    let complete_at = t + 30;
    let mut next_write = 0;
    let mut completed = false;
    let mut now = 0u64;
    let mut reads = 0usize;
    let mut connections = Vec::new();
    // The task writes for a while before anyone looks.
    while writes.get(next_write).is_some_and(|w| w.0 <= s.open_at) {
        log.append(&writes[next_write].1);
        next_write += 1;
    }
    now = now.max(s.open_at);
    let mut resume = s.first.map(|f| f.min(log.span().end));
    let first = resume.unwrap_or(0);
    let mut steps = 0u32;
    for connection in 0..=s.resumes.len() {
        let limit = s.resumes.get(connection).copied();
        let mut stream = OutputStream::open(
            config,
            &task,
            resume,
            log.span(),
            s.seed ^ connection as u64,
            Timestamp::from_millis(now),
        )
        .expect("a resume point is never past the end");
        if completed {
            // A finished task: the server knows it when the stream opens.
            stream.handle_complete(log.span(), Timestamp::from_millis(now));
        }
        let mut parser = Parser::default();
        let mut seen = Seen::default();
        let mut pending: Option<(u64, usize)> = None;
        let mut told = log.span();
        let mut ended = false;
        loop {
            steps += 1;
            assert!(steps < 200_000, "the stream makes progress");
            while let Some(action) = stream.poll_action() {
                match action {
                    OutputAction::Write(bytes) => {
                        feed(&mut parser, &bytes, &mut seen, now, s.max_frame)
                    }
                    OutputAction::End { frame, reason } => {
                        feed(&mut parser, &frame, &mut seen, now, s.max_frame);
                        assert_eq!(Some(reason), stream.end_reason());
                        ended = true;
                    }
                    OutputAction::Read { from, max } => {
                        assert!(pending.is_none(), "one read at a time");
                        pending = Some((from, max));
                    }
                }
            }
            if ended || limit.is_some_and(|k| seen.chunks.len() >= k) {
                break;
            }
            if stream.wants_span() && told != log.span() {
                told = log.span();
                stream.handle_span(told, Timestamp::from_millis(now));
                continue;
            }
            let due_write = writes.get(next_write).map(|w| w.0);
            let due_complete = (!completed && next_write == writes.len()).then_some(complete_at);
            let timer = stream.poll_timeout().map(Timestamp::as_millis);
            if let Some((from, max)) = pending {
                let answer_now = s.read_now[reads % s.read_now.len()];
                let nothing_else = due_write.is_none() && due_complete.is_none();
                if answer_now || nothing_else {
                    reads += 1;
                    pending = None;
                    let (f, bytes, span) = log.read(from, max);
                    stream.handle_read(f, &bytes, span, Timestamp::from_millis(now));
                    continue;
                }
            }
            let next = [due_write, due_complete, timer]
                .into_iter()
                .flatten()
                .min()
                .expect("something is always due until the end");
            now = now.max(next);
            if due_write == Some(next) {
                log.append(&writes[next_write].1);
                next_write += 1;
            } else if due_complete == Some(next) {
                completed = true;
                stream.handle_complete(log.span(), Timestamp::from_millis(now));
            } else {
                stream.handle_timeout(Timestamp::from_millis(now));
            }
        }
        if let Some(&(id, _, _)) = seen.chunks.last() {
            resume = Some(id);
        }
        let last = connection == s.resumes.len();
        connections.push(seen);
        if last {
            break;
        }
    }
    (connections, first, log)
}

fn check(s: &Scenario) -> Result<(), TestCaseError> {
    let (connections, first, log) = run(s);
    let all = &log.all;
    // Ids strictly increase over the stream and its resumptions, and each
    // chunk is exactly the bytes since the previous id (or `truncated`).
    let mut prev = first;
    let mut text = String::new();
    let mut from_start = first;
    for seen in &connections {
        let mut last_at: Option<u64> = None;
        let mut truncations = seen.truncated.iter().peekable();
        for (i, (id, chunk, at)) in seen.chunks.iter().enumerate() {
            while let Some(&&(before, from)) = truncations.peek() {
                if before > i {
                    break;
                }
                prop_assert!(from >= prev, "truncated goes forward: {from} < {prev}");
                prev = from;
                from_start = from;
                text.clear();
                truncations.next();
            }
            prop_assert!(*id > prev, "ids strictly increase: {id} after {prev}");
            let expected = String::from_utf8_lossy(&all[prev as usize..*id as usize]);
            prop_assert_eq!(chunk, &expected, "chunk {}..{}", prev, id);
            text.push_str(chunk);
            if let Some(last) = last_at {
                prop_assert!(at - last >= FLUSH_MS, "chunks {last} and {at} too close");
            }
            last_at = Some(*at);
            prev = *id;
        }
        for &(_, from) in truncations {
            prop_assert!(from >= prev);
            prev = from;
            from_start = from;
            text.clear();
        }
    }
    let last = connections.last().expect("one connection at least");
    prop_assert_eq!(last.end.as_deref(), Some(EndReason::Finished.as_str()));
    prop_assert_eq!(prev, all.len() as u64, "everything was sent");
    // The whole text since the last truncation (or the first offset) is the
    // log from there, decoded at once.
    prop_assert_eq!(
        text,
        String::from_utf8_lossy(&all[from_start as usize..]).into_owned()
    );
    if s.cap.is_none() {
        let joined: String = connections
            .iter()
            .flat_map(|c| c.chunks.iter().map(|(_, t, _)| t.as_str()))
            .collect();
        prop_assert_eq!(
            joined,
            String::from_utf8_lossy(&all[first as usize..]).into_owned()
        );
        prop_assert!(connections.iter().all(|c| c.truncated.is_empty()) || first < log.start);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn the_text_of_a_stream_and_its_resumptions_is_the_log(s in scenario(false)) {
        check(&s)?;
    }

    #[test]
    fn a_capped_log_is_exact_from_each_truncated_offset(s in scenario(true)) {
        check(&s)?;
    }
}
