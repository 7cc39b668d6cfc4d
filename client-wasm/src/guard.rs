//! Values that own one browser resource each and release it on `Drop`.
//!
//! A listener that outlives its driver would call into freed Rust closures; a
//! timer that is never cleared would wake a closed client. Tying each one to a
//! Rust value makes "closed means nothing fires" a matter of dropping fields.

#[allow(unused_imports)]
use crate::prelude::*;

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{AbortController, AbortSignal, Event, EventTarget};

/// An event listener, removed when dropped.
pub struct Listener {
    target: EventTarget,
    kind: String,
    closure: Closure<dyn FnMut(Event)>,
}

impl Listener {
    /// Adds `handler` for `kind` events on `target`.
    pub fn new(
        target: &EventTarget,
        kind: &str,
        handler: impl FnMut(Event) + 'static,
    ) -> Result<Listener, JsValue> {
        let closure = Closure::<dyn FnMut(Event)>::new(handler);
        target.add_event_listener_with_callback(kind, closure.as_ref().unchecked_ref())?;
        Ok(Listener {
            target: target.clone(),
            kind: kind.to_owned(),
            closure,
        })
    }

    /// The event type listened to.
    pub fn kind(&self) -> &str {
        &self.kind
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = self
            .target
            .remove_event_listener_with_callback(&self.kind, self.closure.as_ref().unchecked_ref());
    }
}

/// A `setTimeout`, cleared when dropped.
pub struct Timeout {
    handle: i32,
    _closure: Closure<dyn FnMut()>,
}

impl Timeout {
    /// Calls `handler` once after `delay_ms`.
    pub fn new(delay_ms: i32, handler: impl FnMut() + 'static) -> Result<Timeout, JsValue> {
        let closure = Closure::<dyn FnMut()>::new(handler);
        let handle = crate::platform::window()?
            .set_timeout_with_callback_and_timeout_and_arguments_0(
                closure.as_ref().unchecked_ref(),
                delay_ms,
            )?;
        Ok(Timeout {
            handle,
            _closure: closure,
        })
    }
}

impl Drop for Timeout {
    fn drop(&mut self) {
        if let Ok(window) = crate::platform::window() {
            window.clear_timeout_with_handle(self.handle);
        }
    }
}

/// An `AbortController` for one fetch, aborted when dropped (a no-op once the
/// fetch is done).
pub struct Abort {
    controller: AbortController,
}

impl Abort {
    /// A fresh controller.
    pub fn new() -> Result<Abort, JsValue> {
        Ok(Abort {
            controller: AbortController::new()?,
        })
    }

    /// The signal to hand to `fetch`.
    pub fn signal(&self) -> AbortSignal {
        self.controller.signal()
    }
}

impl Drop for Abort {
    fn drop(&mut self) {
        self.controller.abort();
    }
}
