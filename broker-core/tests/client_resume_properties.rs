//! The resume rule as a property: across any sequence of publishes,
//! deliveries, lags, dropped connections, `end`s, lists (answered, failed,
//! late) and timers, no event of the current epoch that is still in the
//! server's history is ever skipped: whenever the machine resumes from an
//! id, every event up to that id reached the client, or the server told it
//! that event was lost (`lagged`, a `ready` that did not resume), or the
//! client started after it (its first list).
#![cfg(not(target_arch = "wasm32"))]
// proptest's `prop_oneof!` builds its union on `Arc`; the ban is for the core.
#![allow(clippy::disallowed_types)]

use core::time::Duration;
use std::collections::{BTreeSet, VecDeque};

use broker_core::{
    ClientConfig, ClientMachine, Epoch, EventId, Failure, Input, Output, StreamEnd, Timestamp,
};
use proptest::prelude::*;

const EPOCH: Epoch = Epoch::new(0xe);
const HISTORY: usize = 12;

#[derive(Clone, Debug)]
enum Step {
    Publish(u8),
    Deliver(u8),
    Lag(u8),
    Drop,
    End,
    ListAnswer,
    ListFail,
    Deadline,
    Wait(u32),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (1u8..4).prop_map(Step::Publish),
        4 => (1u8..4).prop_map(Step::Deliver),
        1 => (1u8..4).prop_map(Step::Lag),
        1 => Just(Step::Drop),
        1 => Just(Step::End),
        2 => Just(Step::ListAnswer),
        1 => Just(Step::ListFail),
        3 => Just(Step::Deadline),
        1 => (0u32..40_000).prop_map(Step::Wait),
    ]
}

/// The server of one epoch and the client's view of what it was owed.
struct World {
    machine: ClientMachine,
    now: Timestamp,
    seq: u64,
    history: VecDeque<u64>,
    /// Events queued on the client's live stream, in order.
    pending: Option<VecDeque<u64>>,
    received: BTreeSet<u64>,
    /// Events the client was told it lost, or that predate its start.
    excused: BTreeSet<u64>,
}

impl World {
    fn id(seq: u64) -> EventId {
        EventId::new(EPOCH, seq)
    }

    fn excuse_upto(&mut self, seq: u64) {
        self.excused.extend(1..=seq);
    }

    fn feed(&mut self, input: Input) -> Result<(), TestCaseError> {
        self.machine.handle_input(input, self.now);
        self.drain()
    }

    fn drain(&mut self) -> Result<(), TestCaseError> {
        while let Some(out) = self.machine.poll_output() {
            match out {
                Output::Open { last_event_id } => self.connect(last_event_id)?,
                Output::Close => self.pending = None,
                Output::Deliver { id: Some(id) } => {
                    self.received.insert(id.seq);
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// The server answers a stream request (at once, in this model).
    fn connect(&mut self, cursor: Option<EventId>) -> Result<(), TestCaseError> {
        if let Some(c) = cursor {
            prop_assert_eq!(c.epoch, EPOCH);
            for seq in self.history.iter().copied().filter(|s| *s <= c.seq) {
                prop_assert!(
                    self.received.contains(&seq) || self.excused.contains(&seq),
                    "resumes from {} past e-{} it never got nor was told it lost",
                    c,
                    seq
                );
            }
        }
        let oldest = self.history.front().copied().unwrap_or(self.seq + 1);
        let resumed = cursor.is_some_and(|c| c.seq + 1 >= oldest && c.seq <= self.seq);
        let queue: VecDeque<u64> = match cursor {
            Some(c) if resumed => self
                .history
                .iter()
                .copied()
                .filter(|s| *s > c.seq)
                .collect(),
            _ => {
                self.excuse_upto(self.seq);
                VecDeque::new()
            }
        };
        self.pending = Some(queue);
        self.machine.handle_input(Input::Opened, self.now);
        self.machine.handle_input(
            Input::Ready {
                epoch: EPOCH,
                resumed,
                head: Self::id(self.seq),
                heartbeat_ms: Some(15_000),
            },
            self.now,
        );
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn no_event_still_in_history_is_skipped(
        seed in any::<u64>(),
        steps in prop::collection::vec(step(), 1..200),
    ) {
        let mut w = World {
            machine: ClientMachine::new(ClientConfig::default(), seed),
            now: Timestamp::ZERO,
            seq: 0,
            history: VecDeque::new(),
            pending: None,
            received: BTreeSet::new(),
            excused: BTreeSet::new(),
        };
        w.feed(Input::Start)?;
        for step in steps {
            match step {
                Step::Publish(n) => {
                    for _ in 0..n {
                        w.seq += 1;
                        w.history.push_back(w.seq);
                        if w.history.len() > HISTORY {
                            w.history.pop_front();
                        }
                        let seq = w.seq;
                        if let Some(q) = &mut w.pending {
                            q.push_back(seq);
                        }
                    }
                }
                Step::Deliver(n) => {
                    for _ in 0..n {
                        let Some(seq) = w.pending.as_mut().and_then(VecDeque::pop_front) else {
                            break;
                        };
                        w.feed(Input::Event { id: Some(World::id(seq)) })?;
                    }
                }
                Step::Lag(n) => {
                    let mut dropped = 0;
                    if let Some(q) = &mut w.pending {
                        for _ in 0..n {
                            if let Some(seq) = q.pop_front() {
                                w.excused.insert(seq);
                                dropped += 1;
                            }
                        }
                    }
                    if dropped > 0 {
                        w.feed(Input::Lagged { dropped })?;
                    }
                }
                Step::Drop => {
                    if w.pending.is_some() {
                        w.pending = None;
                        w.feed(Input::Failed(Failure::Network))?;
                    }
                }
                Step::End => {
                    if w.pending.as_ref().is_some_and(VecDeque::is_empty) {
                        w.feed(Input::End(StreamEnd::MaxLifetime))?;
                    }
                }
                Step::ListAnswer => {
                    if w.machine.is_listing() {
                        let before = w.machine.cursor();
                        let cursor = World::id(w.seq);
                        w.feed(Input::ListFetched { cursor })?;
                        if before.is_none() && w.machine.cursor() == Some(cursor) {
                            // The client's first list: it starts here.
                            w.excuse_upto(w.seq);
                        }
                    }
                }
                Step::ListFail => {
                    if w.machine.is_listing() {
                        w.feed(Input::ListFailed(Failure::Http(503)))?;
                    }
                }
                Step::Deadline => {
                    if let Some(at) = w.machine.poll_timeout() {
                        w.now = w.now.max(at);
                        w.machine.handle_timeout(w.now);
                        w.drain()?;
                    }
                }
                Step::Wait(ms) => {
                    w.now = w.now + Duration::from_millis(u64::from(ms));
                    w.machine.handle_timeout(w.now);
                    w.drain()?;
                }
            }
        }
    }
}
