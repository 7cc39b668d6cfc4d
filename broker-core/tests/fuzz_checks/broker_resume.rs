//! The broker's resume point: `subscribe` with any `Last-Event-ID` text
//! never panics, resumes exactly when the contract says (an id of this epoch,
//! at most the head, from which nothing has left the history — the cursor of
//! a list taken before any event of this epoch included), and then delivers
//! exactly the missed events that pass the filter, in order, with no
//! `lagged`; a subscriber that does not resume gets only what is published
//! after it joined. Later publishes arrive exactly, and when the subscriber
//! falls behind, `lagged` comes first and counts exactly what it lost (the
//! events used here are unkeyed, so none is conflated away).
//!
//! Input: byte 0 sets the history size (1–32), byte 1 the queue (1–16),
//! byte 2 how many events are published before subscribing (0–95), byte 3
//! the filter (all, `a.*`, task `t1`, `b,a.x` of task `t2`), byte 4 how many
//! are published next (up to the queue), byte 5 how many after that (0–95),
//! bytes 6–13 the first `SEQ` (little-endian), byte 14 the resume text's
//! form (none; the rest as text; this epoch's id at the head plus byte 15
//! as a signed offset, followed by the rest; the same for another epoch),
//! byte 15 that offset, then the rest. Event `n` (counting from 0) has type
//! `a.x`, `a.y` or `b` (`n mod 3`) and no task, `t1` or `t2` (`n / 3 mod 3`).

use broker_core::{Broker, BrokerConfig, Delivery, Epoch, EventId, EventType, Filter, TaskId};
use serde_json::Map;

const EPOCH: Epoch = Epoch::new(0x1d);
const KINDS: [&str; 3] = ["a.x", "a.y", "b"];
const TASKS: [Option<&str>; 3] = [None, Some("t1"), Some("t2")];
const FILTERS: [(Option<&str>, Option<&str>); 4] = [
    (None, None),
    (Some("a.*"), None),
    (None, Some("t1")),
    (Some("b,a.x"), Some("t2")),
];

/// The type and task of the `n`th event published.
fn event_of(n: usize) -> (&'static str, Option<&'static str>) {
    (KINDS[n % 3], TASKS[(n / 3) % 3])
}

/// What the test remembers of every event it published.
struct Model {
    filter: (Option<&'static str>, Option<&'static str>),
    /// (SEQ, passes the filter), oldest first.
    published: Vec<(u64, bool)>,
    first_seq: u64,
    held: usize,
}

impl Model {
    fn passes(&self, n: usize) -> bool {
        let (kind, task) = event_of(n);
        let type_ok = match self.filter.0 {
            None => true,
            Some("a.*") => kind.starts_with("a."),
            Some(_) => kind == "b" || kind == "a.x",
        };
        type_ok && (self.filter.1.is_none() || task == self.filter.1)
    }

    fn publish(&mut self, broker: &mut Broker, count: usize) {
        for _ in 0..count {
            let n = self.published.len();
            let (kind, task) = event_of(n);
            let kind = EventType::new(kind).unwrap_or_else(|e| panic!("a valid type: {e}"));
            let task = task.map(|t| TaskId::new(t).unwrap_or_else(|e| panic!("{e}")));
            let id = broker.publish(kind, task, &Map::new());
            let seq = self.first_seq + n as u64;
            assert_eq!(id, EventId::new(EPOCH, seq), "SEQ counts up by one");
            let passes = self.passes(n);
            self.published.push((seq, passes));
        }
    }

    fn next_seq(&self) -> u64 {
        self.first_seq + self.published.len() as u64
    }

    /// The oldest SEQ still held (the next one when none is).
    fn oldest(&self) -> u64 {
        self.next_seq() - self.published.len().min(self.held) as u64
    }

    /// The matching SEQs published at `from..` (positions), still held.
    fn matching_held(&self, from: usize) -> Vec<u64> {
        let oldest = self.oldest();
        self.published[from..]
            .iter()
            .filter(|(seq, passes)| *passes && *seq >= oldest)
            .map(|(seq, _)| *seq)
            .collect()
    }
}

/// Everything the subscriber receives now: events' SEQs, and the dropped
/// counts with the number of events received before each.
fn drain(broker: &mut Broker, sub: broker_core::SubscriberId) -> (Vec<u64>, Vec<(usize, u64)>) {
    let mut events = Vec::new();
    let mut lagged = Vec::new();
    while let Some(item) = broker.poll_delivery(sub) {
        match item {
            Delivery::Event(event) => {
                assert_eq!(event.id().epoch, EPOCH);
                events.push(event.id().seq);
            }
            Delivery::Lagged { dropped } => {
                assert!(dropped > 0, "lagged with nothing dropped");
                lagged.push((events.len(), dropped));
            }
        }
        assert!(events.len() < 10_000, "the subscriber never runs dry");
    }
    (events, lagged)
}

/// The check: see the module docs.
pub fn check(input: &[u8]) {
    let Some(head) = input.get(..16) else {
        return;
    };
    let rest = String::from_utf8_lossy(&input[16..]);
    let history = usize::from(head[0] % 32) + 1;
    let queue = usize::from(head[1] % 16) + 1;
    let before = usize::from(head[2] % 96);
    let filter = FILTERS[usize::from(head[3] % 4)];
    let next = usize::from(head[4]) % (queue + 1);
    let after = usize::from(head[5] % 96);
    let mut seq_bytes = [0u8; 8];
    seq_bytes.copy_from_slice(&head[6..14]);
    // Room for every publish below: the SEQ never reaches u64::MAX here.
    let first_seq = u64::from_le_bytes(seq_bytes).min(u64::MAX - 1024);
    let offset = i64::from(head[15] as i8);

    // Other fields (the byte budget, conflation) keep their defaults.
    #[allow(clippy::needless_update)]
    let config = BrokerConfig {
        history,
        queue,
        ..BrokerConfig::default()
    };
    let mut broker = Broker::new(EPOCH, first_seq, config);
    let mut model = Model {
        filter,
        published: Vec::new(),
        first_seq: first_seq.max(1),
        held: history.max(queue),
    };
    model.publish(&mut broker, before);
    let head_seq = model.next_seq() - 1;

    let resume = match head[14] % 4 {
        0 => None,
        1 => Some(rest.into_owned()),
        form => {
            let epoch = if form == 2 { EPOCH.value() } else { 0x1e };
            let seq = head_seq.wrapping_add_signed(offset);
            Some(format!("{epoch:x}-{seq}{rest}"))
        }
    };
    let parsed_filter = Filter::parse(filter.0, filter.1)
        .unwrap_or_else(|e| panic!("a valid filter {filter:?}: {e}"));
    let (sub, ready) = broker.subscribe(parsed_filter.clone(), resume.as_deref());
    assert_eq!(ready.epoch, EPOCH);
    assert_eq!(ready.head, EventId::new(EPOCH, head_seq));

    let resume_id = resume.as_deref().and_then(|r| r.parse::<EventId>().ok());
    let resumes = resume_id.is_some_and(|id| {
        id.epoch == EPOCH
            && id.seq <= head_seq
            && id.seq + 1 >= model.oldest()
            && id.seq + 1 >= model.first_seq
    });
    assert_eq!(ready.resumed, resumes, "resume from {resume:?}");

    // The replay: exactly the missed matching events.
    let replay: Vec<u64> = match resume_id.filter(|_| resumes) {
        Some(id) => model
            .matching_held(0)
            .into_iter()
            .filter(|&s| s > id.seq)
            .collect(),
        None => Vec::new(),
    };
    assert_eq!(broker.has_pending(sub), !replay.is_empty());
    assert_eq!(drain(&mut broker, sub), (replay, Vec::new()), "the replay");

    // Live, within the queue: exactly what matches.
    let from = model.published.len();
    model.publish(&mut broker, next);
    let live = model.matching_held(from);
    assert_eq!(drain(&mut broker, sub), (live, Vec::new()), "live events");

    // Live, maybe beyond the queue: the newest `queue` matching events that
    // are still held, after one `lagged` counting the rest.
    let from = model.published.len();
    model.publish(&mut broker, after);
    let matching = model.published[from..].iter().filter(|(_, p)| *p).count();
    let newest: Vec<u64> = {
        let held = model.matching_held(from);
        let all: Vec<u64> = model.published[from..]
            .iter()
            .filter(|(_, p)| *p)
            .map(|(s, _)| *s)
            .collect();
        let kept = &all[all.len().saturating_sub(queue)..];
        held.into_iter().filter(|s| kept.contains(s)).collect()
    };
    let (events, lagged) = drain(&mut broker, sub);
    assert_eq!(events, newest, "after a burst of {after}");
    let dropped: u64 = lagged.iter().map(|(_, d)| d).sum();
    assert_eq!(
        dropped,
        (matching - newest.len()) as u64,
        "the dropped count"
    );
    assert!(
        lagged.iter().all(|(at, _)| *at == 0),
        "lagged after events: {lagged:?}"
    );

    // The head it is told always resumes, with nothing to replay.
    let head_now = broker.head();
    let (again, ready) = broker.subscribe(parsed_filter, Some(&head_now.to_string()));
    assert!(ready.resumed, "the head {head_now} does not resume");
    assert!(!broker.has_pending(again));
    assert!(broker.unsubscribe(sub));
    assert!(!broker.unsubscribe(sub), "unsubscribing twice");
    assert!(broker.unsubscribe(again));
    assert_eq!(broker.stats().subscribers, 0);
}
