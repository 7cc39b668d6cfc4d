//! The page's life as machine inputs: visible again, online/offline, and
//! back from the back/forward cache or from being frozen (`Recheck`: look
//! at the stream now instead of trusting a connection that slept).

#[allow(unused_imports)]
use crate::prelude::*;

use broker_core::Input;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::driver::{feed, WeakShared};
use crate::guard::Listener;
use crate::platform::{self, js_error};

/// The listeners, removed when the vector is dropped.
pub(crate) fn listeners(weak: &WeakShared) -> Result<Vec<Listener>, JsValue> {
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
                feed(&shared, input);
            }
        })
    };
    Ok(vec![
        on(&document, "visibilitychange", |_| {
            Some(Input::Visibility {
                visible: platform::visible(),
            })
        })?,
        cached(&window, "pagehide", weak, crate::live::suspend)?,
        // Restored from the back/forward cache: rejoin, reconnect at once.
        cached(&window, "pageshow", weak, crate::live::resume)?,
        // Page Lifecycle: the page was frozen and runs again.
        on(&document, "resume", |_| Some(Input::Recheck))?,
        on(&window, "online", |_| Some(Input::Online { online: true }))?,
        on(&window, "offline", |_| {
            Some(Input::Online { online: false })
        })?,
    ])
}

/// A `pagehide` / `pageshow` listener that acts only for the back/forward
/// cache (`persisted`).
fn cached(
    window: &web_sys::Window,
    kind: &str,
    weak: &WeakShared,
    act: fn(&crate::driver::Shared),
) -> Result<Listener, JsValue> {
    let weak = weak.clone();
    Listener::new(window, kind, move |event| {
        let persisted = event
            .dyn_ref::<web_sys::PageTransitionEvent>()
            .is_some_and(|e| e.persisted());
        if let (true, Some(shared)) = (persisted, weak.upgrade()) {
            act(&shared);
        }
    })
}
