//! `LiveEvents`: the driver. It owns one [`ClientMachine`] and carries out its
//! outputs with browser APIs; browser happenings become machine inputs.
//!
//! Ownership: all state sits in one `Rc<RefCell<Driver>>`. Browser callbacks
//! hold a `Weak` to it, so a dropped `LiveEvents` is never kept alive by its
//! own listeners. No borrow is held while application callbacks run, so a
//! callback may call back into the `LiveEvents` (even `close()`).

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use broker_core::{
    ClientMachine, Failure, Input, Message, Output, ResyncReason, StatusReport, TaskList,
};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::guard::{Abort, Listener, Timeout};
use crate::options::{with_query, LiveEventsOptions, Options};
use crate::platform::{self, js_error, now};
use crate::stream::{Handler, Stream, StreamEvent};
use crate::tasks::{self, JsTaskStore, SharedStore};

type Shared = Rc<RefCell<Driver>>;
type WeakShared = Weak<RefCell<Driver>>;

/// Everything one `LiveEvents` holds. Each browser resource is a guard field:
/// clearing the field releases the resource.
struct Driver {
    machine: ClientMachine,
    options: Options,
    /// Event types each new stream listens for.
    listen: Vec<String>,
    /// Inputs raised while carrying out outputs, fed before the next poll.
    pending: Vec<Input>,
    stream: Option<Stream>,
    /// Bumped per stream, so a late callback of an old stream is ignored.
    stream_generation: u32,
    stream_opened: bool,
    /// The status probe of a stream that failed before opening.
    probe: Option<Abort>,
    list: Option<Abort>,
    list_generation: u32,
    timer: Option<(broker_core::Timestamp, Timeout)>,
    page_listeners: Vec<Listener>,
    handlers: Vec<(String, js_sys::Function)>,
    status_handlers: Vec<js_sys::Function>,
    resync_handlers: Vec<js_sys::Function>,
    stores: Vec<SharedStore>,
    /// `Start` was fed (the constructor defers it by one microtask).
    started: bool,
    closed: bool,
}

impl Driver {
    /// Releases every browser resource and forgets every callback.
    fn tear_down(&mut self) {
        self.closed = true;
        self.stream = None;
        self.probe = None;
        self.list = None;
        self.timer = None;
        self.page_listeners.clear();
        self.handlers.clear();
        self.status_handlers.clear();
        self.resync_handlers.clear();
        self.stores.clear();
        self.pending.clear();
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

/// Feeds inputs, then carries out every output.
fn feed(shared: &Shared, inputs: impl IntoIterator<Item = Input>) {
    {
        let mut d = shared.borrow_mut();
        if d.closed {
            return;
        }
        d.pending.extend(inputs);
    }
    pump(shared);
}

/// Drains the machine's outputs, then re-arms its timer.
fn pump(shared: &Shared) {
    loop {
        let output = {
            let mut d = shared.borrow_mut();
            if d.closed {
                return;
            }
            let pending = std::mem::take(&mut d.pending);
            if !pending.is_empty() {
                let at = now();
                for input in pending {
                    d.machine.handle_input(input, at);
                }
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

fn perform(shared: &Shared, output: Output) {
    match output {
        Output::Open { last_event_id } => open(shared, last_event_id),
        Output::Close => {
            let mut d = shared.borrow_mut();
            d.stream = None;
            d.probe = None;
        }
        Output::List(reason) => list(shared, reason),
        Output::Deliver(message) => deliver(shared, message),
        Output::Status(report) => status(shared, report),
    }
}

fn open(shared: &Shared, last_event_id: Option<String>) {
    let weak = Rc::downgrade(shared);
    let mut d = shared.borrow_mut();
    // Never two live EventSources: the old one closes before the new opens.
    d.stream = None;
    d.probe = None;
    d.stream_opened = false;
    d.stream_generation = d.stream_generation.wrapping_add(1);
    let generation = d.stream_generation;
    let url = match &last_event_id {
        Some(id) => with_query(&d.options.stream_url, "last_event_id", id),
        None => d.options.stream_url.clone(),
    };
    let handler: Handler = Rc::new(move |event| on_stream(&weak, generation, event));
    match Stream::open(url, &d.listen, handler) {
        Ok(stream) => d.stream = Some(stream),
        Err(e) => {
            web_sys::console::error_1(&e);
            d.pending.push(Input::Failed(Failure::Network));
        }
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
            shared.borrow_mut().stream_opened = true;
            feed(&shared, [Input::Opened, Input::BytesReceived]);
        }
        StreamEvent::Message {
            kind,
            data,
            last_event_id,
        } => feed(
            &shared,
            [
                Input::BytesReceived,
                Input::Message(Message {
                    event: kind,
                    data,
                    last_event_id,
                }),
            ],
        ),
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
                _ => feed(&shared, [Input::Failed(Failure::Network)]),
            }
        }
    }
}

/// The browser failed the stream before it opened and hides why. A plain
/// fetch of the same URL tells 401 (stop) from 404 / 503 (back off) and from
/// a wrong content type.
fn probe(shared: &Shared, generation: u32, url: String) {
    let abort = match Abort::new() {
        Ok(a) => a,
        Err(_) => return feed(shared, [Input::Failed(Failure::Network)]),
    };
    let signal = abort.signal();
    shared.borrow_mut().probe = Some(abort);
    let weak = Rc::downgrade(shared);
    wasm_bindgen_futures::spawn_local(async move {
        // The same credentials mode as the EventSource (`withCredentials`).
        let credentials = web_sys::RequestCredentials::Include;
        let failure = match platform::fetch(&url, credentials, &signal).await {
            Ok(f) if f.status == 200 && f.content_type.starts_with("text/event-stream") => {
                Failure::Network
            }
            Ok(f) if f.status == 200 => Failure::WrongContentType,
            Ok(f) => Failure::Http(f.status),
            Err(_) => Failure::Network,
        };
        let Some(shared) = weak.upgrade() else {
            return;
        };
        {
            let mut d = shared.borrow_mut();
            if d.closed || d.stream_generation != generation || d.probe.is_none() {
                return;
            }
            // Aborts the body of a probe that got a stream after all.
            d.probe = None;
        }
        feed(&shared, [Input::Failed(failure)]);
    });
}

fn resync_name(reason: ResyncReason) -> &'static str {
    match reason {
        ResyncReason::NotResumed => "not-resumed",
        ResyncReason::Lagged => "lagged",
        ResyncReason::Poll => "poll",
    }
}

fn list(shared: &Shared, reason: ResyncReason) {
    let (stores, handlers, url, generation, signal) = {
        let mut d = shared.borrow_mut();
        d.list = None;
        d.list_generation = d.list_generation.wrapping_add(1);
        let mut signal = None;
        if d.options.list_url.is_some() {
            if let Ok(abort) = Abort::new() {
                signal = Some(abort.signal());
                d.list = Some(abort);
            }
        }
        (
            d.stores.clone(),
            d.resync_handlers.clone(),
            d.options.list_url.clone(),
            d.list_generation,
            signal,
        )
    };
    for store in &stores {
        tasks::list_started(store);
    }
    call_each(&handlers, &JsValue::from_str(resync_name(reason)));
    let Some(url) = url else {
        return; // The application lists and calls listed() / listFailed().
    };
    let Some(signal) = signal else {
        return feed(shared, [Input::ListFailed(Failure::Network)]);
    };
    let weak = Rc::downgrade(shared);
    wasm_bindgen_futures::spawn_local(async move {
        let outcome = fetch_list(&url, &signal).await;
        let Some(shared) = weak.upgrade() else {
            return;
        };
        {
            let mut d = shared.borrow_mut();
            if d.closed || d.list_generation != generation || d.list.is_none() {
                return;
            }
            d.list = None;
        }
        finish_list(&shared, outcome);
    });
}

async fn fetch_list(url: &str, signal: &web_sys::AbortSignal) -> Result<TaskList, Failure> {
    let fetched = platform::fetch(url, web_sys::RequestCredentials::SameOrigin, signal)
        .await
        .map_err(|_| Failure::Network)?;
    if fetched.status != 200 {
        return Err(Failure::Http(fetched.status));
    }
    let body = platform::text(&fetched.response)
        .await
        .map_err(|_| Failure::Network)?;
    serde_json::from_str(&body).map_err(|_| Failure::WrongContentType)
}

/// Applies a list's outcome to the bound stores, then tells the machine.
fn finish_list(shared: &Shared, outcome: Result<TaskList, Failure>) {
    let stores = shared.borrow().stores.clone();
    let input = match outcome {
        Ok(list) => {
            let cursor = list.cursor.to_string();
            for store in &stores {
                tasks::listed(store, list.clone());
            }
            Input::ListFetched { cursor }
        }
        Err(failure) => {
            for store in &stores {
                tasks::list_failed(store);
            }
            Input::ListFailed(failure)
        }
    };
    feed(shared, [input]);
}

fn deliver(shared: &Shared, message: Message) {
    let (stores, handlers) = {
        let d = shared.borrow();
        let handlers: Vec<js_sys::Function> = d
            .handlers
            .iter()
            .filter(|(kind, _)| *kind == message.event)
            .map(|(_, f)| f.clone())
            .collect();
        (d.stores.clone(), handlers)
    };
    if message.event.starts_with("task.") {
        for store in &stores {
            tasks::event(store, &message.event, &message.data);
        }
    }
    if handlers.is_empty() {
        return;
    }
    let data =
        js_sys::JSON::parse(&message.data).unwrap_or_else(|_| JsValue::from_str(&message.data));
    let obj = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&obj, &"type".into(), &message.event.as_str().into());
    let _ = js_sys::Reflect::set(&obj, &"id".into(), &message.last_event_id.as_str().into());
    let _ = js_sys::Reflect::set(&obj, &"data".into(), &data);
    call_each(&handlers, &obj);
}

fn status(shared: &Shared, report: StatusReport) {
    let handlers = shared.borrow().status_handlers.clone();
    if handlers.is_empty() {
        return;
    }
    let obj = js_sys::Object::new();
    let next = match report.next_attempt {
        Some(at) => JsValue::from_f64(platform::wall_clock(at).round()),
        None => JsValue::NULL,
    };
    let _ = js_sys::Reflect::set(&obj, &"status".into(), &report.status.as_str().into());
    let _ = js_sys::Reflect::set(&obj, &"reason".into(), &report.reason.as_str().into());
    let _ = js_sys::Reflect::set(&obj, &"nextAttempt".into(), &next);
    call_each(&handlers, &obj);
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

fn page_listeners(weak: &WeakShared) -> Result<Vec<Listener>, JsValue> {
    let window = platform::window()?;
    let document = window
        .document()
        .ok_or_else(|| js_error("client-wasm needs a document"))?;
    let on = |target: &web_sys::EventTarget,
              kind: &str,
              input: fn(&web_sys::Event) -> Option<Input>|
     -> Result<Listener, JsValue> {
        let weak = weak.clone();
        Listener::new(target, kind, move |event| {
            if let (Some(shared), Some(input)) = (weak.upgrade(), input(&event)) {
                feed(&shared, [input]);
            }
        })
    };
    Ok(vec![
        on(&document, "visibilitychange", |_| {
            Some(Input::Visibility {
                visible: platform::visible(),
            })
        })?,
        on(&window, "pageshow", |event| {
            // Restored from the back/forward cache: the stream is gone.
            let persisted = event
                .dyn_ref::<web_sys::PageTransitionEvent>()
                .is_some_and(|e| e.persisted());
            persisted.then_some(Input::Visibility { visible: true })
        })?,
        on(&window, "online", |_| Some(Input::Online { online: true }))?,
        on(&window, "offline", |_| {
            Some(Input::Online { online: false })
        })?,
    ])
}

/// A live connection to an SSE endpoint, driven by broker-core's client
/// machine: `new LiveEvents({url, listUrl, types, pollMs})`.
#[wasm_bindgen]
pub struct LiveEvents {
    shared: Shared,
}

#[wasm_bindgen]
impl LiveEvents {
    /// Starts connecting right after the current task, so that handlers
    /// registered next to the constructor see the first status.
    #[wasm_bindgen(constructor)]
    pub fn new(options: LiveEventsOptions) -> Result<LiveEvents, JsValue> {
        let options = Options::parse(&options)?;
        let machine = ClientMachine::new(options.config, platform::seed());
        let listen = options.listen.clone();
        let shared = Rc::new(RefCell::new(Driver {
            machine,
            options,
            listen,
            pending: Vec::new(),
            stream: None,
            stream_generation: 0,
            stream_opened: false,
            probe: None,
            list: None,
            list_generation: 0,
            timer: None,
            page_listeners: Vec::new(),
            handlers: Vec::new(),
            status_handlers: Vec::new(),
            resync_handlers: Vec::new(),
            stores: Vec::new(),
            started: false,
            closed: false,
        }));
        let weak = Rc::downgrade(&shared);
        shared.borrow_mut().page_listeners = page_listeners(&weak)?;
        wasm_bindgen_futures::spawn_local(async move {
            if let Some(shared) = weak.upgrade() {
                shared.borrow_mut().started = true;
                let mut inputs = vec![Input::Start];
                if !platform::visible() {
                    inputs.push(Input::Visibility { visible: false });
                }
                if !platform::online() {
                    inputs.push(Input::Online { online: false });
                }
                feed(&shared, inputs);
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
            d.listen.push(kind.clone());
        }
        d.handlers.push((kind, listener));
        Ok(())
    }

    /// Calls `listener` with each status change (`LiveStatusReport`).
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

    /// Feeds `store` from this connection: lists (from `listUrl`) and
    /// `task.*` events.
    #[wasm_bindgen(js_name = bindTasks)]
    pub fn bind_tasks(&self, store: &JsTaskStore) {
        let mut d = self.shared.borrow_mut();
        if !d.closed && !d.stores.iter().any(|s| Rc::ptr_eq(s, &store.cell)) {
            d.stores.push(store.cell.clone());
        }
    }

    /// Without `listUrl`: the application's list answered with `cursor`.
    pub fn listed(&self, cursor: String) {
        feed(&self.shared, [Input::ListFetched { cursor }]);
    }

    /// Without `listUrl`: the application's list failed.
    #[wasm_bindgen(js_name = listFailed)]
    pub fn list_failed(&self) {
        feed(&self.shared, [Input::ListFailed(Failure::Network)]);
    }

    /// Connects again after `unauthorized` (for example once the user has
    /// signed in again).
    pub fn reconnect(&self) {
        feed(&self.shared, [Input::Start]);
    }

    /// The current status.
    #[wasm_bindgen(getter, unchecked_return_type = "LiveStatus")]
    pub fn status(&self) -> String {
        let d = self.shared.borrow();
        if d.closed {
            return "closed".to_owned();
        }
        if !d.started {
            return "connecting".to_owned();
        }
        d.machine.status().as_str().to_owned()
    }

    /// The id the next connection resumes from.
    #[wasm_bindgen(getter)]
    pub fn cursor(&self) -> Option<String> {
        let d = self.shared.borrow();
        d.machine.cursor().map(str::to_owned)
    }

    /// The URL of the open `EventSource`, if any (for diagnostics).
    #[wasm_bindgen(getter, js_name = streamUrl)]
    pub fn stream_url(&self) -> Option<String> {
        let d = self.shared.borrow();
        d.stream.as_ref().map(|s| s.url().to_owned())
    }

    /// Closes for good: reports `closed` once, then releases the stream,
    /// timer, fetches and listeners. Nothing fires afterwards.
    pub fn close(&self) {
        feed(&self.shared, [Input::Close]);
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
