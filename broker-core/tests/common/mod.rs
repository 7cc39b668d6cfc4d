//! A simulated-clock harness for the client machine: it owns `now`, feeds
//! inputs, jumps to the machine's own deadlines and records every output.
//! No sleeps, no sockets.
#![allow(dead_code)]

use core::time::Duration;

use broker_core::{
    ClientConfig, ClientMachine, Epoch, EventId, Failure, Input, Output, ResyncReason, Status,
    StatusReport, StreamEnd, Timestamp,
};

/// Drives one machine on a simulated clock.
pub struct Harness {
    /// The machine under test.
    pub machine: ClientMachine,
    /// The simulated clock.
    pub now: Timestamp,
}

impl Harness {
    /// A machine with the given config and seed, clock at 0.
    pub fn new(config: ClientConfig, seed: u64) -> Self {
        Harness {
            machine: ClientMachine::new(config, seed),
            now: Timestamp::ZERO,
        }
    }

    /// Feeds `input` at the current time and returns what came out.
    pub fn input(&mut self, input: Input) -> Vec<Output> {
        self.machine.handle_input(input, self.now);
        self.drain()
    }

    /// Every output waiting.
    pub fn drain(&mut self) -> Vec<Output> {
        std::iter::from_fn(|| self.machine.poll_output()).collect()
    }

    /// Jumps to the next deadline, fires it and returns the outputs; `None`
    /// when the machine has no deadline.
    pub fn fire_next(&mut self) -> Option<Vec<Output>> {
        let at = self.machine.poll_timeout()?;
        assert!(at >= self.now, "deadline {at} is before now {}", self.now);
        self.now = at;
        self.machine.handle_timeout(self.now);
        Some(self.drain())
    }

    /// Advances the clock by `d`, firing every deadline on the way.
    pub fn advance(&mut self, d: Duration) -> Vec<Output> {
        let end = self.now + d;
        let mut out = Vec::new();
        while let Some(at) = self.machine.poll_timeout() {
            if at > end {
                break;
            }
            self.now = self.now.max(at);
            self.machine.handle_timeout(self.now);
            out.extend(self.drain());
        }
        self.now = end;
        out
    }

    /// Fires deadlines until one of them opens a stream; returns when it was
    /// opened (relative jump) and the outputs on the way.
    pub fn until_open(&mut self) -> (Timestamp, Vec<Output>) {
        let mut out = Vec::new();
        for _ in 0..10_000 {
            let step = self.fire_next().expect("a reconnect is scheduled");
            let opened = step.iter().any(|o| matches!(o, Output::Open { .. }));
            out.extend(step);
            if opened {
                return (self.now, out);
            }
        }
        panic!("no Open after 10,000 deadlines");
    }

    /// Start, open, `ready`: a live connection.
    pub fn go_live(&mut self, resumed: bool) -> Vec<Output> {
        let mut out = self.input(Input::Start);
        out.extend(self.connect(resumed));
        out
    }

    /// Answers a pending Open with `Opened` + `ready`.
    pub fn connect(&mut self, resumed: bool) -> Vec<Output> {
        let mut out = self.input(Input::Opened);
        out.extend(self.input(ready("e", resumed, "e-0")));
        out
    }

    /// The cursor as text.
    pub fn cursor(&self) -> Option<String> {
        self.machine.cursor().map(|c| c.to_string())
    }

    /// Answers the list in flight with `cursor`.
    pub fn listed(&mut self, cursor: &str) -> Vec<Output> {
        self.input(listed(cursor))
    }

    /// Fails the current connection with `failure`.
    pub fn fail(&mut self, failure: Failure) -> Vec<Output> {
        self.input(Input::Failed(failure))
    }
}

/// An event id from text (`e-5`).
pub fn id(text: &str) -> EventId {
    text.parse().expect("a valid event id")
}

/// A `ready` (15 s heartbeat).
pub fn ready(epoch: &str, resumed: bool, head: &str) -> Input {
    Input::Ready {
        epoch: epoch.parse::<Epoch>().expect("a valid epoch"),
        resumed,
        head: id(head),
        heartbeat_ms: Some(15_000),
    }
}

/// A `ready` announcing its heartbeat.
pub fn ready_with_heartbeat(epoch: &str, resumed: bool, head: &str, heartbeat_ms: u64) -> Input {
    Input::Ready {
        epoch: epoch.parse::<Epoch>().expect("a valid epoch"),
        resumed,
        head: id(head),
        heartbeat_ms: Some(heartbeat_ms),
    }
}

/// An application event with id `text`.
pub fn event(text: &str) -> Input {
    Input::Event { id: Some(id(text)) }
}

/// What the machine says for a new event with id `text`.
pub fn delivered(text: &str) -> Output {
    Output::Deliver { id: Some(id(text)) }
}

/// A `lagged`.
pub fn lagged(dropped: u64) -> Input {
    Input::Lagged { dropped }
}

/// An `end`.
pub fn end(reason: &str) -> Input {
    Input::End(StreamEnd::from_reason(reason))
}

/// A list answer.
pub fn listed(cursor: &str) -> Input {
    Input::ListFetched { cursor: id(cursor) }
}

/// The Open outputs among `out`, with their cursors.
pub fn opens(out: &[Output]) -> Vec<Option<String>> {
    out.iter()
        .filter_map(|o| match o {
            Output::Open { last_event_id } => Some(last_event_id.map(|c| c.to_string())),
            _ => None,
        })
        .collect()
}

/// The List outputs among `out`.
pub fn lists(out: &[Output]) -> Vec<ResyncReason> {
    out.iter()
        .filter_map(|o| match o {
            Output::List(r) => Some(*r),
            _ => None,
        })
        .collect()
}

/// The status reports among `out`.
pub fn reports(out: &[Output]) -> Vec<StatusReport> {
    out.iter()
        .filter_map(|o| match o {
            Output::Status(r) => Some(*r),
            _ => None,
        })
        .collect()
}

/// The statuses among `out`, in order.
pub fn statuses(out: &[Output]) -> Vec<Status> {
    reports(out).into_iter().map(|r| r.status).collect()
}

/// A config with round numbers for reading tests.
pub fn config() -> ClientConfig {
    ClientConfig {
        backoff_initial: Duration::from_secs(1),
        backoff_max: Duration::from_secs(30),
        stable_after: Duration::from_secs(10),
        poll_after: Duration::from_secs(20),
        poll_interval: Duration::from_secs(15),
        heartbeat: None,
        watchdog: true,
        list_timeout: Duration::from_secs(10),
    }
}
