//! The driver: one [`ClientMachine`] whose outputs are carried out with
//! browser APIs, and browser happenings fed back as typed inputs.
//!
//! Its stream is either an `EventSource` of its own (this tab leads, or
//! shares nothing) or the leader's relay (see [`crate::share`]): the machine
//! cannot tell, it sees the same inputs. What the driver keeps is only what
//! the machine must not see: the payload of the event being fed, the
//! resources (guards), the callbacks.
//!
//! Ownership: all state sits in one `Rc<RefCell<Driver>>`. Browser callbacks
//! hold a `Weak` to it, so a dropped `LiveEvents` is never kept alive by its
//! own listeners. No borrow is held while application callbacks run, so a
//! callback may call back into the `LiveEvents` (even `close()`).

#[allow(unused_imports)]
use crate::prelude::*;

use alloc::rc::{Rc, Weak};
use core::cell::RefCell;

use broker_core::{ClientMachine, EventId, Failure, Input, Output, StatusReport};
use wasm_bindgen::prelude::*;

use crate::guard::{Abort, Listener, Timeout};
use crate::options::Options;
use crate::platform::now;
use crate::share::Share;
use crate::stream::Stream;
use crate::tasks::SharedStore;

pub(crate) type Shared = Rc<RefCell<Driver>>;
pub(crate) type WeakShared = Weak<RefCell<Driver>>;

/// Which stream this tab's machine reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    /// Its own `EventSource`, shared with nobody (no Web Locks or
    /// BroadcastChannel, or sharing turned off).
    Solo,
    /// Its own `EventSource`, relayed to the other tabs.
    Leader,
    /// The leader's relay; `None` until this tab knows whether it leads.
    Follower,
    /// Waiting to learn the role: outputs wait too.
    Unknown,
}

/// A follower's virtual connection to the leader.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Joined {
    /// The leader session it reads; `None` until the first frame.
    pub(crate) session: Option<u32>,
    /// The sequence number the next frame must carry.
    pub(crate) expect: u32,
    /// The id the leader's current stream resumed from.
    pub(crate) from: Option<EventId>,
}

/// A leader's relay state.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Relay {
    pub(crate) session: u32,
    /// The last sequence number used.
    pub(crate) seq: u32,
    /// A follower joined while the stream was not live: welcome all at `ready`.
    pub(crate) pending_joins: bool,
    /// A follower joined this session: only then are stream frames posted
    /// (a tab alone pays nothing for sharing).
    pub(crate) followers: bool,
}

/// Everything one `LiveEvents` holds. Each browser resource is a guard field:
/// clearing the field releases the resource.
pub(crate) struct Driver {
    pub(crate) machine: ClientMachine,
    pub(crate) options: Options,
    /// Event types each new stream listens for.
    pub(crate) listen: Vec<String>,
    pub(crate) role: Role,
    pub(crate) tab: u32,
    pub(crate) share: Option<Share>,
    pub(crate) joined: Option<Joined>,
    pub(crate) relay: Relay,
    /// The leader's last status, shown while following.
    pub(crate) leader_status: Option<js_sys::Array>,
    pub(crate) stream: Option<Stream>,
    /// Bumped per stream, so a late callback of an old stream is ignored.
    pub(crate) stream_generation: u32,
    pub(crate) stream_opened: bool,
    /// The id the open stream resumed from (relayed to followers).
    pub(crate) stream_from: Option<EventId>,
    /// The status probe of a stream that failed before opening.
    pub(crate) probe: Option<Abort>,
    pub(crate) list: Option<Abort>,
    pub(crate) list_generation: u32,
    pub(crate) timer: Option<(broker_core::Timestamp, Timeout)>,
    pub(crate) page_listeners: Vec<Listener>,
    pub(crate) handlers: Vec<(String, js_sys::Function)>,
    pub(crate) status_handlers: Vec<js_sys::Function>,
    pub(crate) resync_handlers: Vec<js_sys::Function>,
    pub(crate) stores: Vec<SharedStore>,
    /// The event being fed: (type, parsed data, id) for `Output::Deliver`.
    pub(crate) fed: Option<(String, JsValue, String)>,
    /// Outputs that wait until the role is known.
    pub(crate) deferred: Vec<Output>,
    /// In the back/forward cache: no stream, no share, until shown again.
    pub(crate) suspended: bool,
    /// `Start` was fed (the constructor defers it by one microtask).
    pub(crate) started: bool,
    pub(crate) closed: bool,
}

impl Driver {
    /// Releases every browser resource and forgets every callback.
    pub(crate) fn tear_down(&mut self) {
        if self.role == Role::Leader {
            self.post(&[crate::share::frame::BYE.into(), self.relay.session.into()]);
        }
        self.closed = true;
        self.stream = None;
        self.share = None;
        self.probe = None;
        self.list = None;
        self.timer = None;
        self.page_listeners.clear();
        self.handlers.clear();
        self.status_handlers.clear();
        self.resync_handlers.clear();
        self.stores.clear();
        self.deferred.clear();
        self.fed = None;
    }

    /// Posts a frame to the other tabs (nothing without sharing).
    pub(crate) fn post(&self, items: &[JsValue]) {
        if let Some(share) = &self.share {
            share.post(&crate::share::frame(items));
        }
    }

    /// The next sequence number of the leader's frames.
    pub(crate) fn next_seq(&mut self) -> u32 {
        self.relay.seq = self.relay.seq.wrapping_add(1);
        self.relay.seq
    }
}

/// Calls each function with `arg`; an exception in one is logged and does not
/// stop the others or the driver.
pub(crate) fn call_each(functions: &[js_sys::Function], arg: &JsValue) {
    for f in functions {
        if let Err(e) = f.call1(&JsValue::NULL, arg) {
            web_sys::console::error_1(&e);
        }
    }
}

/// Feeds one input, then carries out every output.
pub(crate) fn feed(shared: &Shared, input: Input) {
    {
        let mut d = shared.borrow_mut();
        if d.closed {
            return;
        }
        d.machine.handle_input(input, now());
    }
    pump(shared);
}

/// Feeds an application event whose data the driver keeps: delivered to the
/// stores and listeners if the machine says it is new.
pub(crate) fn feed_event(shared: &Shared, kind: String, data: JsValue, id: String) {
    let parsed: Option<EventId> = id.parse().ok();
    shared.borrow_mut().fed = Some((kind, data, id));
    feed(shared, Input::Event { id: parsed });
    shared.borrow_mut().fed = None;
}

/// Drains the machine's outputs, then re-arms its timer.
pub(crate) fn pump(shared: &Shared) {
    loop {
        let output = {
            let mut d = shared.borrow_mut();
            if d.closed {
                return;
            }
            d.machine.poll_output()
        };
        match output {
            Some(output) => perform(shared, output),
            None => break,
        }
    }
    arm_timer(shared);
}

/// Carries out the outputs that waited for the role.
pub(crate) fn perform_deferred(shared: &Shared) {
    let deferred = core::mem::take(&mut shared.borrow_mut().deferred);
    for output in deferred {
        perform(shared, output);
    }
    pump(shared);
}

fn perform(shared: &Shared, output: Output) {
    let role = shared.borrow().role;
    match output {
        Output::Open { .. } | Output::Close if role == Role::Unknown => {
            shared.borrow_mut().deferred.push(output);
        }
        Output::Open { last_event_id } => match role {
            Role::Follower => crate::relay::join(shared),
            _ => crate::connection::open(shared, last_event_id),
        },
        Output::Close => {
            let mut d = shared.borrow_mut();
            d.stream = None;
            d.probe = None;
            d.joined = None;
        }
        Output::List(reason) => crate::list::start(shared, reason),
        Output::AbandonList => crate::list::abandon(shared),
        Output::Deliver { .. } => deliver(shared),
        Output::Status(report) => status(shared, report),
    }
}

fn deliver(shared: &Shared) {
    let (fed, stores, handlers) = {
        let mut d = shared.borrow_mut();
        let Some(fed) = d.fed.take() else {
            return;
        };
        let handlers: Vec<js_sys::Function> = d
            .handlers
            .iter()
            .filter(|(kind, _)| *kind == fed.0)
            .map(|(_, f)| f.clone())
            .collect();
        (fed, d.stores.clone(), handlers)
    };
    let (kind, data, id) = fed;
    if let Some(event) = crate::tasks::task_event(&kind, &data) {
        for store in &stores {
            crate::tasks::event(store, event.clone());
        }
    }
    if handlers.is_empty() {
        return;
    }
    let obj = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&obj, &"type".into(), &kind.as_str().into());
    let _ = js_sys::Reflect::set(&obj, &"id".into(), &id.as_str().into());
    let _ = js_sys::Reflect::set(&obj, &"data".into(), &data);
    call_each(&handlers, &obj);
}

/// The status object JS sees, as a frame's payload `[status, reason, next]`.
pub(crate) fn report_items(report: StatusReport) -> [JsValue; 3] {
    let next = match report.next_attempt {
        Some(at) => JsValue::from_f64(js_sys::Math::round(crate::platform::wall_clock(at))),
        None => JsValue::NULL,
    };
    [
        report.status.as_str().into(),
        crate::platform::reason_text(report.reason).into(),
        next,
    ]
}

fn status(shared: &Shared, report: StatusReport) {
    let items = report_items(report);
    let handlers = {
        let d = shared.borrow();
        if d.role == Role::Leader {
            let session = d.relay.session;
            d.post(&[
                crate::share::frame::STATUS.into(),
                session.into(),
                items[0].clone(),
                items[1].clone(),
                items[2].clone(),
            ]);
        }
        // A follower shows the shared stream's status, not its relay's.
        if d.role == Role::Follower && d.leader_status.is_some() {
            return;
        }
        d.status_handlers.clone()
    };
    show_status(&handlers, &items);
}

/// Calls the status handlers with `{status, reason, nextAttempt}`.
pub(crate) fn show_status(handlers: &[js_sys::Function], items: &[JsValue]) {
    if handlers.is_empty() {
        return;
    }
    let obj = js_sys::Object::new();
    for (key, value) in ["status", "reason", "nextAttempt"].iter().zip(items) {
        let _ = js_sys::Reflect::set(&obj, &(*key).into(), value);
    }
    call_each(handlers, &obj);
}

/// Inputs for a failure the relay or a probe reports: a floor first.
pub(crate) fn fail(shared: &Shared, failure: Failure, retry_after_ms: Option<u64>) {
    if let Some(ms) = retry_after_ms {
        feed(shared, Input::RetryAfter(ms));
    }
    feed(shared, Input::Failed(failure));
}

fn arm_timer(shared: &Shared) {
    let weak = Rc::downgrade(shared);
    let mut d = shared.borrow_mut();
    if d.closed {
        return;
    }
    let Some(deadline) = d.machine.poll_timeout() else {
        d.timer = None;
        return;
    };
    if matches!(&d.timer, Some((at, _)) if *at == deadline) {
        return;
    }
    let wait = deadline.as_millis().saturating_sub(now().as_millis());
    // At least 1 ms: a deadline reached by rounding re-arms instead of spinning.
    let delay = i32::try_from(wait.max(1)).unwrap_or(i32::MAX);
    d.timer = None;
    match Timeout::new(delay, move || on_timer(&weak)) {
        Ok(timeout) => d.timer = Some((deadline, timeout)),
        Err(e) => web_sys::console::error_1(&e),
    }
}

fn on_timer(weak: &WeakShared) {
    let Some(shared) = weak.upgrade() else {
        return;
    };
    {
        let mut d = shared.borrow_mut();
        if d.closed {
            return;
        }
        // The guard of the timeout that is firing: dropping it is harmless.
        d.timer = None;
        d.machine.handle_timeout(now());
    }
    pump(&shared);
}

/// The tasks a list brought, for stores.
pub(crate) type ListedTasks = crate::tasks::Listed;
