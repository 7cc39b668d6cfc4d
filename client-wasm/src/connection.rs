//! This tab's own `EventSource` (it leads, or shares nothing): what the
//! browser reports becomes machine inputs, and a leader relays each of them
//! to the other tabs as it happens.

#[allow(unused_imports)]
use crate::prelude::*;

use alloc::rc::Rc;

use broker_core::{EventId, Failure, Input};
use wasm_bindgen::JsValue;

use crate::driver::{fail, feed, feed_event, Role, Shared, WeakShared};
use crate::guard::Abort;
use crate::options::with_query;
use crate::platform;
use crate::share::frame;
use crate::stream::{Handler, Stream, StreamEvent};
use crate::wire::{control_input, id_text, parse_data};

/// Opens a stream resuming from `last_event_id` (closing any old one first).
pub(crate) fn open(shared: &Shared, last_event_id: Option<EventId>) {
    let weak = Rc::downgrade(shared);
    let opened = {
        let mut d = shared.borrow_mut();
        // Never two live EventSources: the old one closes before the new opens.
        d.stream = None;
        d.probe = None;
        d.joined = None;
        d.stream_opened = false;
        d.stream_from = last_event_id;
        d.stream_generation = d.stream_generation.wrapping_add(1);
        let generation = d.stream_generation;
        let url = match last_event_id {
            Some(id) => with_query(&d.options.stream_url, "last_event_id", &id_text(id)),
            None => d.options.stream_url.clone(),
        };
        let handler: Handler = Rc::new(move |event| on_stream(&weak, generation, event));
        match Stream::open(url, &d.listen, handler) {
            Ok(stream) => {
                d.stream = Some(stream);
                true
            }
            Err(e) => {
                web_sys::console::error_1(&e);
                false
            }
        }
    };
    if !opened {
        feed(shared, Input::Failed(Failure::Network));
    }
}

fn on_stream(weak: &WeakShared, generation: u32, event: StreamEvent) {
    let Some(shared) = weak.upgrade() else {
        return;
    };
    {
        let d = shared.borrow();
        if d.closed || d.stream_generation != generation || d.stream.is_none() {
            return;
        }
    }
    match event {
        StreamEvent::Open => {
            {
                let mut d = shared.borrow_mut();
                d.stream_opened = true;
                if d.role == Role::Leader && d.relay.followers {
                    let n = d.next_seq();
                    let from = d.stream_from.map_or(JsValue::NULL, |id| id_text(id).into());
                    let session = d.relay.session;
                    d.post(&[frame::OPEN.into(), session.into(), n.into(), from]);
                }
            }
            feed(&shared, Input::Opened);
        }
        StreamEvent::Message {
            kind,
            data,
            last_event_id,
        } => {
            {
                let mut d = shared.borrow_mut();
                if d.role == Role::Leader && d.relay.followers {
                    let n = d.next_seq();
                    let session = d.relay.session;
                    d.post(&[
                        frame::MSG.into(),
                        session.into(),
                        n.into(),
                        kind.as_str().into(),
                        data.as_str().into(),
                        last_event_id.as_str().into(),
                    ]);
                }
            }
            message(&shared, kind, &data, last_event_id);
        }
        StreamEvent::Error { closed } => {
            // Close the native source ourselves: its own reconnect would race
            // the machine's (and ignore its backoff and cursor).
            let (url, opened) = {
                let mut d = shared.borrow_mut();
                let url = d.stream.take().map(|s| s.url().to_owned());
                (url, d.stream_opened)
            };
            match url {
                Some(url) if closed && !opened => probe(&shared, generation, url),
                _ => stream_failed(&shared, Failure::Network, None),
            }
        }
    }
}

/// A message of this tab's stream: a control message as its typed input,
/// an event fed with its data parsed once.
fn message(shared: &Shared, kind: String, data: &str, id: String) {
    match control_input(&kind, data) {
        Some(input) => {
            let ready = matches!(input, Input::Ready { .. });
            feed(shared, input);
            if ready {
                crate::relay::welcome_pending(shared);
            }
        }
        None => feed_event(shared, kind, parse_data(data), id),
    }
}

/// The failure relayed (when leading), then fed.
pub(crate) fn stream_failed(shared: &Shared, failure: Failure, retry_after_ms: Option<u64>) {
    {
        let mut d = shared.borrow_mut();
        if d.role == Role::Leader && d.relay.followers {
            let n = d.next_seq();
            let session = d.relay.session;
            let code: i32 = match failure {
                Failure::Network => 0,
                Failure::WrongContentType => -1,
                Failure::Timeout => -2,
                Failure::Http(code) => i32::from(code),
            };
            let after = retry_after_ms.map_or(JsValue::NULL, |ms| JsValue::from_f64(ms as f64));
            d.post(&[
                frame::FAIL.into(),
                session.into(),
                n.into(),
                code.into(),
                after,
            ]);
        }
    }
    fail(shared, failure, retry_after_ms);
}

/// The browser failed the stream before it opened and hides why. One `HEAD`
/// of the same URL — which the server answers like the `GET` (401, 400,
/// 503 with `Retry-After`, ...) without subscribing — tells a refused
/// credential (stop) from a full server (wait as long as it asks) and from a
/// network failure (back off).
fn probe(shared: &Shared, generation: u32, url: String) {
    let abort = match Abort::new() {
        Ok(a) => a,
        Err(_) => return stream_failed(shared, Failure::Network, None),
    };
    let signal = abort.signal();
    shared.borrow_mut().probe = Some(abort);
    let weak = Rc::downgrade(shared);
    wasm_bindgen_futures::spawn_local(async move {
        // The same credentials mode as the EventSource (`withCredentials`).
        let fetched =
            platform::fetch(&url, "HEAD", web_sys::RequestCredentials::Include, &signal).await;
        let (failure, retry_after) = match fetched {
            Ok(f) if f.status == 200 && f.content_type.starts_with("text/event-stream") => {
                (Failure::Network, None)
            }
            Ok(f) if f.status == 200 => (Failure::WrongContentType, None),
            // A server that does not answer HEAD here: no more to learn.
            Ok(f) if f.status == 405 || f.status == 501 => (Failure::Network, None),
            Ok(f) => (Failure::Http(f.status), f.retry_after_ms),
            Err(_) => (Failure::Network, None),
        };
        let Some(shared) = weak.upgrade() else {
            return;
        };
        {
            let mut d = shared.borrow_mut();
            if d.closed || d.stream_generation != generation || d.probe.is_none() {
                return;
            }
            d.probe = None;
        }
        stream_failed(&shared, failure, retry_after);
    });
}
