//! Lists: fetched from `listUrl` when the machine asks, or supplied by the
//! application (`live.listed(...)`); either way landed in every bound store
//! before the machine hears the cursor. A list that does not answer in time
//! is abandoned (the machine says so) and its late answer never lands.

#[allow(unused_imports)]
use crate::prelude::*;

use alloc::rc::Rc;

use broker_core::{EventId, Failure, Input, ResyncReason};
use wasm_bindgen::JsValue;

use crate::driver::{call_each, feed, ListedTasks, Shared};
use crate::guard::Abort;
use crate::platform;
use crate::tasks::{self, read_list};

/// `Output::List`: hold events in the stores, tell the application, fetch.
pub(crate) fn start(shared: &Shared, reason: ResyncReason) {
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
    call_each(&handlers, &JsValue::from_str(reason.as_str()));
    let Some(url) = url else {
        return; // The application lists and calls listed() / listFailed().
    };
    let Some(signal) = signal else {
        return finish(shared, Err(Failure::Network));
    };
    let weak = Rc::downgrade(shared);
    wasm_bindgen_futures::spawn_local(async move {
        let outcome = fetch(&url, &signal).await;
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
        finish(&shared, outcome);
    });
}

async fn fetch(
    url: &str,
    signal: &web_sys::AbortSignal,
) -> Result<(EventId, ListedTasks), Failure> {
    let fetched = platform::fetch(url, "GET", web_sys::RequestCredentials::SameOrigin, signal)
        .await
        .map_err(|_| Failure::Network)?;
    if fetched.status != 200 {
        return Err(Failure::Http(fetched.status));
    }
    let body = platform::text(&fetched.response)
        .await
        .map_err(|_| Failure::Network)?;
    let value = js_sys::JSON::parse(&body).map_err(|_| Failure::WrongContentType)?;
    read_list(&value).ok_or(Failure::WrongContentType)
}

/// `Output::AbandonList`: abort the fetch; the stores apply what they held.
pub(crate) fn abandon(shared: &Shared) {
    let stores = {
        let mut d = shared.borrow_mut();
        d.list = None;
        d.list_generation = d.list_generation.wrapping_add(1);
        d.stores.clone()
    };
    for store in &stores {
        tasks::list_failed(store);
    }
}

/// Lands a list's outcome in the bound stores, then tells the machine.
fn finish(shared: &Shared, outcome: Result<(EventId, ListedTasks), Failure>) {
    let stores = shared.borrow().stores.clone();
    let input = match outcome {
        Ok((cursor, listed)) => {
            for store in &stores {
                tasks::listed(store, cursor, listed.clone());
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
    feed(shared, input);
}

/// `live.listed(list)` from an application that lists itself: the
/// `{tasks, cursor}` it fetched (or only the cursor string, for stores it
/// keeps itself). Ignored unless the machine asked for a list.
pub(crate) fn supplied(shared: &Shared, list: &JsValue) {
    if !shared.borrow().machine.is_listing() {
        return;
    }
    if let Some(cursor) = list.as_string() {
        let Ok(cursor) = cursor.parse::<EventId>() else {
            return finish(shared, Err(Failure::WrongContentType));
        };
        let stores = shared.borrow().stores.clone();
        for store in &stores {
            tasks::list_failed(store);
        }
        return feed(shared, Input::ListFetched { cursor });
    }
    finish(shared, read_list(list).ok_or(Failure::WrongContentType));
}

/// `live.listFailed()`. Ignored unless a list was asked for.
pub(crate) fn supplied_failure(shared: &Shared) {
    if shared.borrow().machine.is_listing() {
        finish(shared, Err(Failure::Network));
    }
}
