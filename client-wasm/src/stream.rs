//! One native `EventSource` and its listeners, closed when dropped.

#[allow(unused_imports)]
use crate::prelude::*;

use alloc::rc::Rc;

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{EventSource, EventSourceInit, MessageEvent};

use crate::guard::Listener;

/// What an `EventSource` reported, in the driver's terms.
pub enum StreamEvent {
    /// `open`: the response was 200 with `text/event-stream`.
    Open,
    /// A named or unnamed message.
    Message {
        /// The event type.
        kind: String,
        /// The data.
        data: String,
        /// The `lastEventId` at dispatch.
        last_event_id: String,
    },
    /// `error`. `closed` is the `CLOSED` ready state: the browser gave up
    /// (an HTTP error status or a wrong content type). Otherwise the browser
    /// is about to reconnect on its own.
    Error {
        /// The browser will not retry.
        closed: bool,
    },
}

/// The handler every listener of one stream shares.
pub type Handler = Rc<dyn Fn(StreamEvent)>;

/// A live `EventSource`. Dropping it closes the source and removes every
/// listener, so an old stream can never deliver into a new one's state.
pub struct Stream {
    source: EventSource,
    url: String,
    handler: Handler,
    listeners: Vec<Listener>,
}

impl Stream {
    /// Opens `url` (with credentials: the cookie) and listens for `types`.
    pub fn open(url: String, types: &[String], handler: Handler) -> Result<Stream, JsValue> {
        let init = EventSourceInit::new();
        init.set_with_credentials(true);
        let source = EventSource::new_with_event_source_init_dict(&url, &init)?;
        let mut stream = Stream {
            source,
            url,
            handler,
            listeners: Vec::with_capacity(types.len() + 2),
        };
        let opened = stream.handler.clone();
        let open = Listener::new(&stream.source, "open", move |_| opened(StreamEvent::Open))?;
        stream.listeners.push(open);
        let failed = stream.handler.clone();
        let source = stream.source.clone();
        let error = Listener::new(&stream.source, "error", move |_| {
            failed(StreamEvent::Error {
                closed: source.ready_state() == EventSource::CLOSED,
            })
        })?;
        stream.listeners.push(error);
        for kind in types {
            stream.listen(kind)?;
        }
        Ok(stream)
    }

    /// Listens for one more event type (named events need a listener each).
    pub fn listen(&mut self, kind: &str) -> Result<(), JsValue> {
        if self.listeners.iter().any(|l| l.kind() == kind) {
            return Ok(());
        }
        let handler = self.handler.clone();
        let listener = Listener::new(&self.source, kind, move |event| {
            if let Some(message) = event.dyn_ref::<MessageEvent>() {
                handler(StreamEvent::Message {
                    kind: message.type_(),
                    data: message.data().as_string().unwrap_or_default(),
                    last_event_id: message.last_event_id(),
                });
            }
        })?;
        self.listeners.push(listener);
        Ok(())
    }

    /// The URL this stream was opened with.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        self.source.close();
    }
}
