//! A simulated-clock harness for the client machine: it owns `now`, feeds
//! inputs, jumps to the machine's own deadlines and records every output.
//! No sleeps, no sockets.
#![allow(dead_code)]

use core::time::Duration;

use broker_core::{
    ClientConfig, ClientMachine, Failure, Input, Message, Output, ResyncReason, Status,
    StatusReport, Timestamp,
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
        out.extend(self.input(Input::Message(ready("e", resumed, "e-0"))));
        out
    }

    /// Fails the current connection with `failure`.
    pub fn fail(&mut self, failure: Failure) -> Vec<Output> {
        self.input(Input::Failed(failure))
    }
}

/// A `ready` message.
pub fn ready(epoch: &str, resumed: bool, head: &str) -> Message {
    Message {
        event: "ready".into(),
        data: format!(r#"{{"epoch":"{epoch}","resumed":{resumed},"head":"{head}"}}"#),
        last_event_id: String::new(),
    }
}

/// An application event with id `id`.
pub fn event(id: &str) -> Message {
    Message {
        event: "task.updated".into(),
        data: "{}".into(),
        last_event_id: id.into(),
    }
}

/// A `lagged` message.
pub fn lagged(dropped: u64) -> Message {
    Message {
        event: "lagged".into(),
        data: format!(r#"{{"dropped":{dropped}}}"#),
        last_event_id: String::new(),
    }
}

/// An `end` message.
pub fn end(reason: &str) -> Message {
    Message {
        event: "end".into(),
        data: format!(r#"{{"reason":"{reason}"}}"#),
        last_event_id: String::new(),
    }
}

/// The Open outputs among `out`, with their cursors.
pub fn opens(out: &[Output]) -> Vec<Option<String>> {
    out.iter()
        .filter_map(|o| match o {
            Output::Open { last_event_id } => Some(last_event_id.clone()),
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
            Output::Status(r) => Some(r.clone()),
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
        heartbeat: Duration::from_secs(15),
    }
}
