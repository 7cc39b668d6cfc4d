//! The relay between tabs (see [`crate::share`]): the leader's side (answer
//! joins, welcome followers) and the follower's (the relay as its stream).

#[allow(unused_imports)]
use crate::prelude::*;

use broker_core::{EventId, Failure, Input};
use js_sys::Array;
use wasm_bindgen::JsValue;

use crate::driver::{fail, feed, feed_event, show_status, Joined, Role, Shared, WeakShared};
use crate::share::frame;
use crate::wire::{control_input, id_text, parse_data};

fn number(frame: &Array, i: u32) -> Option<f64> {
    frame.get(i).as_f64()
}

fn text(frame: &Array, i: u32) -> Option<String> {
    frame.get(i).as_string()
}

/// A follower's `Output::Open`: ask the leader for its stream.
pub(crate) fn join(shared: &Shared) {
    let mut d = shared.borrow_mut();
    d.joined = Some(Joined::default());
    let mut items: Vec<JsValue> = vec![frame::JOIN.into(), d.tab.into()];
    items.extend(d.listen.iter().map(|t| JsValue::from_str(t)));
    d.post(&items);
}

/// A frame from another tab.
pub(crate) fn on_frame(weak: &WeakShared, frame: Array) {
    let Some(shared) = weak.upgrade() else {
        return;
    };
    let (role, closed) = {
        let d = shared.borrow();
        (d.role, d.closed)
    };
    if closed {
        return;
    }
    let Some(kind) = number(&frame, 0) else {
        return;
    };
    let kind = kind as u32;
    match (role, kind) {
        (Role::Leader, frame::JOIN | frame::LISTEN | frame::START) => lead(&shared, kind, &frame),
        (Role::Follower, k) if k < frame::JOIN => follow(&shared, k, &frame),
        _ => {}
    }
}

/// The leader's side.
fn lead(shared: &Shared, kind: u32, frame: &Array) {
    match kind {
        frame::JOIN => {
            {
                let mut d = shared.borrow_mut();
                d.relay.followers = true;
                for t in frame.iter().skip(2).filter_map(|t| t.as_string()) {
                    listen(&mut d, t);
                }
            }
            let to = number(frame, 1).unwrap_or(-1.0);
            welcome(shared, to);
        }
        frame::LISTEN => {
            if let Some(t) = text(frame, 1) {
                listen(&mut shared.borrow_mut(), t);
            }
        }
        _ => feed(shared, Input::Start),
    }
}

fn listen(d: &mut crate::driver::Driver, kind: String) {
    if !d.listen.contains(&kind) {
        if let Some(stream) = d.stream.as_mut() {
            let _ = stream.listen(&kind);
        }
        d.listen.push(kind);
    }
}

/// Welcomes tab `to` (`-1`: every tab waiting) when the stream is live, with
/// the leader's last id and its status; otherwise at the next `ready`.
fn welcome(shared: &Shared, to: f64) {
    let mut d = shared.borrow_mut();
    let (Some(_), Some(last)) = (d.machine.live_epoch(), d.machine.cursor()) else {
        d.relay.pending_joins = true;
        return;
    };
    let hb = d.machine.heartbeat().as_millis() as f64;
    let session = d.relay.session;
    let seq = d.relay.seq;
    d.post(&[
        frame::WELCOME.into(),
        session.into(),
        seq.into(),
        to.into(),
        id_text(last).into(),
        hb.into(),
    ]);
    if let Some(report) = d.machine.report_now() {
        let items = crate::driver::report_items(report);
        d.post(&[
            frame::STATUS.into(),
            session.into(),
            items[0].clone(),
            items[1].clone(),
            items[2].clone(),
        ]);
    }
}

/// After the leader's `ready`: welcome the tabs that joined meanwhile.
pub(crate) fn welcome_pending(shared: &Shared) {
    let pending = {
        let mut d = shared.borrow_mut();
        d.role == Role::Leader && core::mem::take(&mut d.relay.pending_joins)
    };
    if pending {
        welcome(shared, -1.0);
    }
}

/// The follower's side: the relay as this tab's stream.
fn follow(shared: &Shared, kind: u32, frame: &Array) {
    let Some(session) = number(frame, 1).map(|s| s as u32) else {
        return;
    };
    if kind == frame::STATUS {
        let items: Vec<JsValue> = (2..5).map(|i| frame.get(i)).collect();
        let handlers = {
            let mut d = shared.borrow_mut();
            d.leader_status = Some(items.iter().collect());
            d.status_handlers.clone()
        };
        return show_status(&handlers, &items);
    }
    let joined = shared.borrow().joined;
    let joined = match joined {
        Some(j) => j,
        None if kind == frame::OPEN => {
            // The leader's stream is back while this tab waits out a
            // backoff: joining costs nothing, join now.
            feed(shared, Input::Recheck);
            match shared.borrow().joined {
                Some(j) => j,
                None => return,
            }
        }
        None => return,
    };
    if kind == frame::BYE {
        if joined.session == Some(session) {
            lost(shared);
        }
        return;
    }
    let n = number(frame, 2).map_or(0, |n| n as u32);
    match joined.session {
        Some(s) if s != session => return lost(shared), // A new leader.
        Some(_) if kind == frame::WELCOME => {}
        Some(_) if n != joined.expect => return lost(shared), // Missed a frame.
        Some(_) => {}
        None if kind == frame::OPEN || kind == frame::WELCOME => {}
        None => return,
    }
    let mine = |j: &mut Joined| {
        j.session = Some(session);
        j.expect = n.wrapping_add(1);
    };
    match kind {
        frame::OPEN => {
            if let Some(j) = shared.borrow_mut().joined.as_mut() {
                mine(j);
                j.from = text(frame, 3).and_then(|t| t.parse().ok());
            }
            feed(shared, Input::Opened);
        }
        frame::WELCOME => {
            let to = number(frame, 3).unwrap_or(-1.0);
            let (me, live) = {
                let d = shared.borrow();
                (f64::from(d.tab), d.machine.live_epoch().is_some())
            };
            let Some(last) = text(frame, 4).and_then(|t| t.parse::<EventId>().ok()) else {
                return;
            };
            if (to != me && to != -1.0) || live {
                return;
            }
            let cursor = {
                let mut d = shared.borrow_mut();
                if let Some(j) = d.joined.as_mut() {
                    mine(j);
                    j.from = Some(last);
                }
                d.machine.cursor()
            };
            feed(shared, Input::Opened);
            feed(
                shared,
                Input::Ready {
                    epoch: last.epoch,
                    resumed: cursor == Some(last),
                    head: last,
                    heartbeat_ms: number(frame, 5).map(|ms| ms as u64),
                },
            );
        }
        frame::MSG => {
            let from = {
                let mut d = shared.borrow_mut();
                let Some(j) = d.joined.as_mut() else {
                    return;
                };
                mine(j);
                j.from
            };
            let (Some(kind), Some(data)) = (text(frame, 3), text(frame, 4)) else {
                return;
            };
            let id = text(frame, 5).unwrap_or_default();
            match control_input(&kind, &data) {
                Some(Input::Ready {
                    epoch,
                    resumed,
                    head,
                    heartbeat_ms,
                }) => {
                    // Resumed for this tab only if it holds the id the
                    // leader's stream resumed from.
                    let cursor = shared.borrow().machine.cursor();
                    let resumed = resumed && from.is_some() && cursor == from;
                    feed(
                        shared,
                        Input::Ready {
                            epoch,
                            resumed,
                            head,
                            heartbeat_ms,
                        },
                    );
                }
                Some(input) => feed(shared, input),
                None => feed_event(shared, kind, parse_data(&data), id),
            }
        }
        frame::FAIL => {
            if let Some(j) = shared.borrow_mut().joined.as_mut() {
                mine(j);
            }
            let failure = match number(frame, 3).map_or(0, |c| c as i32) {
                -1 => Failure::WrongContentType,
                -2 => Failure::Timeout,
                code @ 1..=999 => Failure::Http(code as u16),
                _ => Failure::Network,
            };
            fail(shared, failure, number(frame, 4).map(|ms| ms as u64));
        }
        _ => {}
    }
}

/// The virtual connection broke (a missed frame, a new or departed leader):
/// the machine reconnects — joins again — as after any dropped stream.
fn lost(shared: &Shared) {
    shared.borrow_mut().joined = None;
    feed(shared, Input::Failed(Failure::Network));
}
