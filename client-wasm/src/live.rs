//! `LiveEvents`: the JS class. It builds the driver (`driver.rs`),
//! decides whether this tab leads or follows (see [`crate::share`]) and
//! forwards the application's calls.

#[allow(unused_imports)]
use crate::prelude::*;

use alloc::rc::Rc;
use core::cell::RefCell;

use broker_core::{ClientMachine, Input};
use wasm_bindgen::prelude::*;

use crate::driver::{self, feed, show_status, Driver, Relay, Role, Shared};
use crate::options::{LiveEventsOptions, Options};
use crate::platform::{self, js_error};
use crate::share::{self, frame, Share};
use crate::tasks::JsTaskStore;

/// A live connection to an SSE endpoint, driven by broker-core's client
/// machine: `new LiveEvents({url, listUrl, types, pollMs, share, ...})`.
#[wasm_bindgen]
pub struct LiveEvents {
    shared: Shared,
}

/// This tab leads (`true`) or another tab does (`false`).
fn on_role(shared: &Shared, leads: bool) {
    {
        let mut d = shared.borrow_mut();
        if d.closed {
            return;
        }
        if leads {
            d.role = Role::Leader;
            d.relay = Relay {
                session: (platform::seed() as u32) | 1,
                seq: 0,
                pending_joins: true,
                followers: false,
            };
            d.leader_status = None;
        } else if d.role == Role::Unknown {
            d.role = Role::Follower;
        }
    }
    if leads {
        // Took over while following: the relay goes, a real stream comes,
        // from this tab's own cursor (its machine sees a new connection).
        let (connected, cursor) = {
            let d = shared.borrow();
            (
                d.machine.is_connected() || d.joined.is_some(),
                d.machine.cursor(),
            )
        };
        if connected && shared.borrow().deferred.is_empty() {
            crate::connection::open(shared, cursor);
        } else if !connected {
            // Waiting out a backoff of the relay: the stream is ours now.
            feed(shared, Input::Recheck);
        }
        let (handlers, report) = {
            let d = shared.borrow();
            (d.status_handlers.clone(), d.machine.report_now())
        };
        if let Some(report) = report {
            show_status(&handlers, &driver::report_items(report));
        }
    }
    driver::perform_deferred(shared);
}

/// Joins the tabs of this URL: the channel, then the lock.
fn open_share(shared: &Shared) {
    let weak = Rc::downgrade(shared);
    let name = ["tidings:", &shared.borrow().options.stream_url].concat();
    let frames = weak.clone();
    let opened = Share::open(
        &name,
        move |f| crate::relay::on_frame(&frames, f),
        move |leads| {
            if let Some(shared) = weak.upgrade() {
                on_role(&shared, leads);
            }
        },
    );
    let mut d = shared.borrow_mut();
    match opened {
        Ok(s) => {
            d.role = Role::Unknown;
            d.share = Some(s);
        }
        Err(_) => d.role = Role::Solo,
    }
}

/// The page goes into the back/forward cache: a page holding a request, a
/// lock or a channel would not be kept, and a cached page cannot lead. Let
/// go of all three, and wait as if offline until the page is shown again.
pub(crate) fn suspend(shared: &Shared) {
    {
        let mut d = shared.borrow_mut();
        if d.closed || d.suspended {
            return;
        }
        if d.role == Role::Leader {
            let session = d.relay.session;
            d.post(&[frame::BYE.into(), session.into()]);
        }
        d.suspended = true;
        d.share = None;
        d.leader_status = None;
        d.role = Role::Solo;
        d.stream = None;
        d.probe = None;
        d.joined = None;
    }
    feed(shared, Input::Online { online: false });
    feed(shared, Input::Failed(broker_core::Failure::Network));
}

/// Shown again from the back/forward cache: rejoin the tabs, reconnect now.
pub(crate) fn resume(shared: &Shared) {
    let share = {
        let mut d = shared.borrow_mut();
        if d.closed || !d.suspended {
            return;
        }
        d.suspended = false;
        d.options.share && share::available()
    };
    if share {
        open_share(shared);
    }
    feed(
        shared,
        Input::Online {
            online: platform::online(),
        },
    );
    feed(shared, Input::Recheck);
}

#[wasm_bindgen]
impl LiveEvents {
    /// Starts connecting right after the current task, so that handlers
    /// registered next to the constructor see the first status.
    #[wasm_bindgen(constructor)]
    pub fn new(options: LiveEventsOptions) -> Result<LiveEvents, JsValue> {
        let options = Options::parse(&options)?;
        let seed = platform::seed();
        let machine = ClientMachine::new(options.config, seed);
        let listen = options.listen.clone();
        let sharing = options.share && share::available();
        let shared = Rc::new(RefCell::new(Driver {
            machine,
            listen,
            role: if sharing { Role::Unknown } else { Role::Solo },
            tab: (seed >> 33) as u32,
            share: None,
            joined: None,
            relay: Relay::default(),
            leader_status: None,
            stream: None,
            stream_generation: 0,
            stream_opened: false,
            stream_from: None,
            probe: None,
            list: None,
            list_generation: 0,
            timer: None,
            page_listeners: Vec::new(),
            handlers: Vec::new(),
            status_handlers: Vec::new(),
            resync_handlers: Vec::new(),
            stores: Vec::new(),
            fed: None,
            deferred: Vec::new(),
            suspended: false,
            started: false,
            closed: false,
            options,
        }));
        let weak = Rc::downgrade(&shared);
        shared.borrow_mut().page_listeners = crate::page::listeners(&weak)?;
        if sharing {
            open_share(&shared);
        }
        wasm_bindgen_futures::spawn_local(async move {
            if let Some(shared) = weak.upgrade() {
                shared.borrow_mut().started = true;
                feed(&shared, Input::Start);
                if !platform::visible() {
                    feed(&shared, Input::Visibility { visible: false });
                }
                if !platform::online() {
                    feed(&shared, Input::Online { online: false });
                }
            }
        });
        Ok(LiveEvents { shared })
    }

    /// Calls `listener` with each event of `type` (`{type, id, data}`).
    pub fn on(
        &self,
        #[wasm_bindgen(js_name = "type")] kind: String,
        #[wasm_bindgen(unchecked_param_type = "(event: LiveEvent) => void")]
        listener: js_sys::Function,
    ) -> Result<(), JsValue> {
        let mut d = self.shared.borrow_mut();
        if d.closed {
            return Err(js_error("LiveEvents is closed"));
        }
        if !d.listen.contains(&kind) {
            if let Some(stream) = d.stream.as_mut() {
                stream.listen(&kind)?;
            }
            d.post(&[frame::LISTEN.into(), kind.as_str().into()]);
            d.listen.push(kind.clone());
        }
        d.handlers.push((kind, listener));
        Ok(())
    }

    /// Calls `listener` with each status change (`LiveStatusReport`): the
    /// shared stream's, in every tab.
    #[wasm_bindgen(js_name = onStatus)]
    pub fn on_status(
        &self,
        #[wasm_bindgen(unchecked_param_type = "(report: LiveStatusReport) => void")]
        listener: js_sys::Function,
    ) {
        let mut d = self.shared.borrow_mut();
        if !d.closed {
            d.status_handlers.push(listener);
        }
    }

    /// Calls `listener` when the application must list again
    /// (`not-resumed`, `lagged`, `poll`). Bound task stores are refreshed
    /// by the driver itself.
    #[wasm_bindgen(js_name = onResync)]
    pub fn on_resync(
        &self,
        #[wasm_bindgen(unchecked_param_type = "(reason: ResyncReason) => void")]
        listener: js_sys::Function,
    ) {
        let mut d = self.shared.borrow_mut();
        if !d.closed {
            d.resync_handlers.push(listener);
        }
    }

    /// Feeds `store` from this connection: lists and `task.*` events.
    #[wasm_bindgen(js_name = bindTasks)]
    pub fn bind_tasks(&self, store: &JsTaskStore) {
        let mut d = self.shared.borrow_mut();
        if !d.closed && !d.stores.iter().any(|s| Rc::ptr_eq(s, &store.cell)) {
            d.stores.push(store.cell.clone());
        }
    }

    /// Without `listUrl`: the application's list answered. Give the
    /// `{tasks, cursor}` it fetched (bound stores land it), or just the
    /// cursor string when no store is bound. Ignored when no list was asked
    /// for.
    pub fn listed(
        &self,
        #[wasm_bindgen(unchecked_param_type = "TaskList | string")] list: JsValue,
    ) {
        crate::list::supplied(&self.shared, &list);
    }

    /// Without `listUrl`: the application's list failed.
    #[wasm_bindgen(js_name = listFailed)]
    pub fn list_failed(&self) {
        crate::list::supplied_failure(&self.shared);
    }

    /// Connects again after `unauthorized` (for example once the user has
    /// signed in again).
    pub fn reconnect(&self) {
        let follower = self.shared.borrow().role == Role::Follower;
        if follower {
            self.shared.borrow().post(&[frame::START.into()]);
        }
        feed(&self.shared, Input::Start);
    }

    /// The current status (the shared stream's).
    #[wasm_bindgen(getter, unchecked_return_type = "LiveStatus")]
    pub fn status(&self) -> JsValue {
        let d = self.shared.borrow();
        if d.closed {
            return "closed".into();
        }
        if !d.started {
            return "connecting".into();
        }
        if let (Role::Follower, Some(shown)) = (d.role, &d.leader_status) {
            return shown.get(0);
        }
        d.machine.status().as_str().into()
    }

    /// `leader`, `follower` or `solo` (`unknown` before the lock answers).
    #[wasm_bindgen(getter)]
    pub fn role(&self) -> JsValue {
        match self.shared.borrow().role {
            Role::Solo => "solo",
            Role::Leader => "leader",
            Role::Follower => "follower",
            Role::Unknown => "unknown",
        }
        .into()
    }

    /// The id the next connection resumes from.
    #[wasm_bindgen(getter)]
    pub fn cursor(&self) -> Option<String> {
        let d = self.shared.borrow();
        d.machine.cursor().map(crate::wire::id_text)
    }

    /// The URL of the open `EventSource`, if any (for diagnostics).
    #[wasm_bindgen(getter, js_name = streamUrl)]
    pub fn stream_url(&self) -> Option<String> {
        let d = self.shared.borrow();
        d.stream.as_ref().map(|s| s.url().to_owned())
    }

    /// Closes for good: reports `closed` once, then releases the stream,
    /// timer, fetches, listeners, the channel and the lock (another tab
    /// takes over). Nothing fires afterwards.
    pub fn close(&self) {
        {
            let mut d = self.shared.borrow_mut();
            // This tab's own `closed`, not the leader's relayed status.
            d.leader_status = None;
            if d.role == Role::Follower {
                d.role = Role::Solo;
            }
        }
        feed(&self.shared, Input::Close);
        self.shared.borrow_mut().tear_down();
    }
}

impl Drop for LiveEvents {
    fn drop(&mut self) {
        if let Ok(mut d) = self.shared.try_borrow_mut() {
            d.tear_down();
        }
    }
}
