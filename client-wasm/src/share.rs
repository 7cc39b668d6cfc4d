//! One stream per browser: the tabs that open the same stream URL elect a
//! leader with the Web Locks API, and the leader relays its stream to the
//! others over a `BroadcastChannel` (design.md, "The browser client").
//!
//! Each tab keeps its own machine and stores: to a follower's machine the
//! relay *is* its stream. `Output::Open` becomes a `JOIN`; the leader answers
//! with a `WELCOME` naming its last id, which resumes the follower exactly
//! when it holds that id and makes it list otherwise. Frames carry the
//! leader's session and a sequence number, so a follower that missed one
//! (it was frozen or cached) drops its virtual connection and joins again.
//! Duplicates are dropped by id by each tab's own machine. When the leader
//! goes (closed, crashed, navigated away), the lock passes to another tab,
//! which opens the `EventSource` from its own cursor; the others see frames
//! of a new session and join it.
//!
//! Frames are small arrays (structured clone, no JSON):
//! - leader → all: `[OPEN, s, n, from]`, `[MSG, s, n, type, data, id]`,
//!   `[FAIL, s, n, code, retryAfterMs]`, `[STATUS, s, status, reason, next]`,
//!   `[WELCOME, s, n, to, epoch, lastId, heartbeatMs]`, `[BYE, s]`;
//! - follower → leader: `[JOIN, tab, types...]`, `[LISTEN, type]`, `[START]`.

#[allow(unused_imports)]
use crate::prelude::*;

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{BroadcastChannel, MessageEvent};

use crate::guard::{Abort, Listener};

/// Frame kinds.
pub mod frame {
    /// The leader's stream opened.
    pub const OPEN: u32 = 0;
    /// A message of the leader's stream.
    pub const MSG: u32 = 1;
    /// The leader's stream failed.
    pub const FAIL: u32 = 2;
    /// The leader's status report.
    pub const STATUS: u32 = 3;
    /// The leader takes in a follower that joined.
    pub const WELCOME: u32 = 4;
    /// The leader leaves.
    pub const BYE: u32 = 5;
    /// A follower asks for the stream.
    pub const JOIN: u32 = 10;
    /// A follower listens for one more event type.
    pub const LISTEN: u32 = 11;
    /// A follower asks the leader to start again (after unauthorized).
    pub const START: u32 = 12;
}

#[wasm_bindgen]
extern "C" {
    /// `navigator.locks`.
    type LockManager;
    #[wasm_bindgen(method, js_name = request)]
    fn request_with_options(
        this: &LockManager,
        name: &str,
        options: &JsValue,
        callback: &js_sys::Function,
    ) -> js_sys::Promise;
}

/// The Web Locks API, where the page has it (secure contexts only).
fn lock_manager() -> Option<LockManager> {
    let navigator = crate::platform::window().ok()?.navigator();
    let locks = js_sys::Reflect::get(&navigator, &"locks".into()).ok()?;
    (!locks.is_undefined() && !locks.is_null()).then(|| locks.unchecked_into())
}

/// Whether this page can share a stream with other tabs.
pub fn available() -> bool {
    let has_channel =
        js_sys::Reflect::has(&js_sys::global(), &"BroadcastChannel".into()).unwrap_or(false);
    has_channel && lock_manager().is_some()
}

/// The channel, its listener, and the lock held or waited for.
pub struct Share {
    channel: BroadcastChannel,
    _listener: Listener,
    /// Resolving it releases a held lock.
    release: Option<js_sys::Function>,
    /// Aborts a lock request still waiting.
    waiting: Option<Abort>,
    /// The callbacks handed to the lock manager (kept alive while it may call them).
    _callbacks: Vec<Closure<dyn FnMut(JsValue) -> js_sys::Promise>>,
}

impl Share {
    /// Opens the channel named `name`; `on_frame` gets every frame another
    /// tab posts. Then asks for the lock: `on_role(true)` once this tab
    /// leads, `on_role(false)` if another tab leads for now.
    pub fn open(
        name: &str,
        on_frame: impl FnMut(js_sys::Array) + 'static,
        on_role: impl Fn(bool) + Clone + 'static,
    ) -> Result<Share, JsValue> {
        let channel = BroadcastChannel::new(name)?;
        let mut on_frame = on_frame;
        let listener = Listener::new(&channel, "message", move |event| {
            if let Some(message) = event.dyn_ref::<MessageEvent>() {
                let data = message.data();
                if js_sys::Array::is_array(&data) {
                    on_frame(data.unchecked_into());
                }
            }
        })?;
        let mut share = Share {
            channel,
            _listener: listener,
            release: None,
            waiting: None,
            _callbacks: Vec::new(),
        };
        share.ask(name, on_role)?;
        Ok(share)
    }

    /// `request(name, {ifAvailable})`: lead now if no tab does; else wait
    /// in line (`request(name, {signal})`) and lead when the leader goes.
    fn ask(&mut self, name: &str, on_role: impl Fn(bool) + Clone + 'static) -> Result<(), JsValue> {
        let locks =
            lock_manager().ok_or_else(|| crate::platform::js_error("no navigator.locks"))?;
        let (hold, release) = pending_promise();
        self.release = Some(release);
        let abort = Abort::new()?;
        let signal = abort.signal();
        self.waiting = Some(abort);
        let held = hold.clone();
        let role = on_role.clone();
        let wait = Closure::<dyn FnMut(JsValue) -> js_sys::Promise>::new(move |_lock: JsValue| {
            role(true);
            held.clone()
        });
        let queued_name = name.to_owned();
        let wait_fn: js_sys::Function = wait.as_ref().clone().unchecked_into();
        let first = Closure::<dyn FnMut(JsValue) -> js_sys::Promise>::new(move |lock: JsValue| {
            if lock.is_null() || lock.is_undefined() {
                on_role(false);
                if let Some(locks) = lock_manager() {
                    let options = js_sys::Object::new();
                    let _ = js_sys::Reflect::set(&options, &"signal".into(), &signal);
                    // Rejects with AbortError when this tab closes first.
                    let ignore = Closure::<dyn FnMut(JsValue)>::new(|_: JsValue| {});
                    let _ = locks
                        .request_with_options(&queued_name, &options, &wait_fn)
                        .catch(&ignore);
                    ignore.forget(); // One per LiveEvents that waits in line.
                }
                js_sys::Promise::resolve(&JsValue::UNDEFINED)
            } else {
                on_role(true);
                hold.clone()
            }
        });
        let options = js_sys::Object::new();
        js_sys::Reflect::set(&options, &"ifAvailable".into(), &JsValue::TRUE)?;
        let _ = locks.request_with_options(name, &options, first.as_ref().unchecked_ref());
        self._callbacks.push(first);
        self._callbacks.push(wait);
        Ok(())
    }

    /// Posts a frame to the other tabs.
    pub fn post(&self, frame: &js_sys::Array) {
        let _ = self.channel.post_message(frame);
    }
}

impl Drop for Share {
    fn drop(&mut self) {
        self.waiting = None;
        if let Some(release) = self.release.take() {
            let _ = release.call0(&JsValue::NULL);
        }
        self.channel.close();
    }
}

/// A promise and the function that resolves it.
fn pending_promise() -> (js_sys::Promise, js_sys::Function) {
    let mut resolve = None;
    let promise = js_sys::Promise::new(&mut |res, _rej| resolve = Some(res));
    // The executor runs at once: `resolve` is always there.
    let resolve = resolve.unwrap_or_else(|| JsValue::UNDEFINED.unchecked_into());
    (promise, resolve)
}

/// Builds a frame.
pub fn frame(items: &[JsValue]) -> js_sys::Array {
    items.iter().collect()
}
