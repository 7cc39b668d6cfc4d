//! The driver in a real headless Chromium: real `EventSource`s reading real
//! streams (`data:` URLs carry SSE bytes without a server; the test runner's
//! own server answers 404 for a missing path), with the browser's timer and
//! listener APIs instrumented (probe.js) to see what the driver leaves behind.
#![cfg(target_arch = "wasm32")]

use client_wasm::{JsTaskStore, LiveEvents};
use js_sys::{Array, Function, Object, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen(module = "/tests/probe.js")]
extern "C" {
    fn install();
    fn reset();
    #[wasm_bindgen(js_name = pendingTimers)]
    fn pending_timers() -> u32;
    #[wasm_bindgen(js_name = liveListeners)]
    fn live_listeners() -> u32;
    #[wasm_bindgen(js_name = sourceUrls)]
    fn source_urls() -> Vec<String>;
    #[wasm_bindgen(js_name = openSources)]
    fn open_sources() -> u32;
    fn sleep(ms: u32) -> js_sys::Promise;
    fn recorder() -> JsValue;
    #[wasm_bindgen(js_name = pageEvents)]
    fn page_events();
}

fn setup() {
    install();
    reset();
}

async fn pause(ms: u32) {
    let _ = JsFuture::from(sleep(ms)).await;
}

/// Waits up to `ms` for `cond`; the bound keeps a broken driver from hanging
/// the whole test binary.
async fn wait_for(ms: u32, what: &str, mut cond: impl FnMut() -> bool) {
    let mut waited = 0;
    while !cond() {
        assert!(waited < ms, "timed out after {ms} ms waiting for {what}");
        pause(10).await;
        waited += 10;
    }
}

/// Options for a client that shares nothing (one per test page).
fn options(pairs: &[(&str, JsValue)]) -> client_wasm::options::LiveEventsOptions {
    let obj = Object::new();
    Reflect::set(&obj, &"share".into(), &false.into()).expect("set option");
    for (k, v) in pairs {
        Reflect::set(&obj, &JsValue::from_str(k), v).expect("set option");
    }
    obj.unchecked_into()
}

fn stream_url(body: &str) -> String {
    let encoded: String = js_sys::encode_uri_component(body).into();
    format!("data:text/event-stream,{encoded}")
}

fn handler(rec: &JsValue) -> Function {
    Reflect::get(rec, &"fn".into())
        .expect("recorder fn")
        .unchecked_into()
}

fn calls(rec: &JsValue) -> Array {
    Reflect::get(rec, &"calls".into())
        .expect("recorder calls")
        .unchecked_into()
}

fn field(value: &JsValue, name: &str) -> JsValue {
    Reflect::get(value, &name.into()).unwrap_or(JsValue::UNDEFINED)
}

fn statuses(rec: &JsValue) -> Vec<String> {
    calls(rec)
        .iter()
        .map(|c| field(&c, "status").as_string().unwrap_or_default())
        .collect()
}

/// A stream that is not resumed, then one event, then EOF.
const ONE_EVENT: &str = "retry: 10\nevent: ready\ndata: {\"epoch\":\"e\",\"resumed\":false,\"head\":\"e-4\"}\n\nid: e-5\nevent: trigger.fired\ndata: {\"n\":1}\n\n";

#[wasm_bindgen_test]
async fn the_cursor_goes_into_the_url_when_a_stream_is_recreated() {
    setup();
    let live = LiveEvents::new(options(&[
        ("url", stream_url(ONE_EVENT).into()),
        ("backoffMs", 20.into()),
        ("backoffMaxMs", 40.into()),
    ]))
    .expect("LiveEvents");
    let events = recorder();
    live.on("trigger.fired".into(), handler(&events))
        .expect("on");
    // No listUrl: the application lists; answer with the ready's head.
    let resyncs = recorder();
    live.on_resync(handler(&resyncs));
    let status = recorder();
    live.on_status(handler(&status));
    wait_for(3000, "a resync request", || calls(&resyncs).length() > 0).await;
    assert_eq!(
        calls(&resyncs).get(0).as_string().as_deref(),
        Some("not-resumed")
    );
    live.listed("e-4".into());
    // A second answer nobody asked for is ignored.
    live.listed("e-99".into());
    wait_for(3000, "a second EventSource", || source_urls().len() >= 2).await;
    let urls = source_urls();
    assert!(!urls[0].contains("last_event_id"), "first: {}", urls[0]);
    assert!(urls[0].contains("heartbeat=event"), "first: {}", urls[0]);
    assert!(
        urls[1].ends_with("?heartbeat=event&last_event_id=e-5")
            || urls[1].ends_with("&last_event_id=e-5"),
        "the recreated stream resumes from the last event: {}",
        urls[1]
    );
    let first = calls(&events).get(0);
    assert_eq!(field(&first, "id").as_string().as_deref(), Some("e-5"));
    assert_eq!(field(&field(&first, "data"), "n").as_f64(), Some(1.0));
    assert!(open_sources() <= 1, "never two live EventSources");
    let seen = statuses(&status);
    assert_eq!(seen.first().map(String::as_str), Some("connecting"));
    assert!(seen.iter().any(|s| s == "live"), "{seen:?}");
    assert!(seen.iter().any(|s| s == "reconnecting"), "{seen:?}");
    live.close();
}

#[wasm_bindgen_test]
async fn close_releases_timers_listeners_and_the_stream() {
    setup();
    let before = (pending_timers(), live_listeners());
    let live = LiveEvents::new(options(&[
        ("url", stream_url(ONE_EVENT).into()),
        // A long backoff: the reconnect timer is pending when we close.
        ("backoffMs", 60_000.into()),
        ("backoffMaxMs", 60_000.into()),
        ("pollAfterMs", 60_000.into()),
    ]))
    .expect("LiveEvents");
    let status = recorder();
    live.on_status(handler(&status));
    let resyncs = recorder();
    live.on_resync(handler(&resyncs));
    wait_for(3000, "reconnecting", || {
        statuses(&status).iter().any(|s| s == "reconnecting")
    })
    .await;
    assert!(pending_timers() > before.0, "a backoff timer is pending");
    assert!(
        live_listeners() >= before.1 + 4,
        "visibilitychange, pageshow, resume, online and offline are listened to"
    );
    live.close();
    assert_eq!(pending_timers(), before.0, "close clears the timer");
    assert_eq!(live_listeners(), before.1, "close removes every listener");
    assert_eq!(open_sources(), 0, "close closes the EventSource");
    assert_eq!(live.status(), "closed");
    let after = calls(&status).length();
    assert_eq!(statuses(&status).last().map(String::as_str), Some("closed"));
    page_events();
    pause(100).await;
    assert_eq!(calls(&status).length(), after, "nothing fires after close");
}

#[wasm_bindgen_test]
async fn no_callback_fires_after_close_from_inside_a_callback() {
    setup();
    let list = "data:application/json,%7B%22tasks%22%3A%5B%5D%2C%22cursor%22%3A%22e-4%22%7D";
    let live = std::rc::Rc::new(
        LiveEvents::new(options(&[
            ("url", stream_url(ONE_EVENT).into()),
            ("listUrl", list.into()),
            ("backoffMs", 20.into()),
        ]))
        .expect("LiveEvents"),
    );
    let store = JsTaskStore::new();
    live.bind_tasks(&store);
    let changes = recorder();
    store.on_change(handler(&changes));
    let events = recorder();
    live.on("trigger.fired".into(), handler(&events))
        .expect("on");
    let status = recorder();
    live.on_status(handler(&status));
    // Close from inside the resync callback: the list fetch it started is
    // abandoned and the event that follows in the stream is never delivered.
    let closer = live.clone();
    let close_on_resync = Closure::<dyn FnMut(JsValue)>::new(move |_| closer.close());
    live.on_resync(close_on_resync.as_ref().clone().unchecked_into());
    wait_for(3000, "closed", || {
        statuses(&status).iter().any(|s| s == "closed")
    })
    .await;
    assert_eq!(live.status(), "closed");
    let fired = calls(&status).length();
    pause(300).await;
    assert_eq!(calls(&status).length(), fired, "no status after close");
    assert_eq!(calls(&events).length(), 0, "no event after close");
    assert_eq!(
        calls(&changes).length(),
        0,
        "the abandoned list changes nothing"
    );
    assert_eq!(pending_timers(), 0);
    assert_eq!(open_sources(), 0);
}

#[wasm_bindgen_test]
async fn a_stream_the_browser_refuses_is_probed_for_its_status() {
    setup();
    // The test runner's server has no such path: 404, which the machine
    // treats as "this stream is gone" (closed, no retry).
    let live = LiveEvents::new(options(&[("url", "/no-such-stream".into())])).expect("LiveEvents");
    let status = recorder();
    live.on_status(handler(&status));
    wait_for(5000, "closed", || {
        statuses(&status).iter().any(|s| s == "closed")
    })
    .await;
    let last = calls(&status).get(calls(&status).length() - 1);
    assert_eq!(
        field(&last, "reason").as_string().as_deref(),
        Some("http 404")
    );
    assert_eq!(open_sources(), 0);
    assert_eq!(source_urls().len(), 1, "no retry after a 404");
    live.close();
}

#[wasm_bindgen_test]
async fn a_wrong_content_type_backs_off_and_retries() {
    setup();
    let live = LiveEvents::new(options(&[
        ("url", "data:text/plain,not%20a%20stream".into()),
        ("backoffMs", 20.into()),
        ("backoffMaxMs", 40.into()),
    ]))
    .expect("LiveEvents");
    let status = recorder();
    live.on_status(handler(&status));
    wait_for(3000, "two attempts", || source_urls().len() >= 2).await;
    let reasons: Vec<String> = calls(&status)
        .iter()
        .map(|c| field(&c, "reason").as_string().unwrap_or_default())
        .collect();
    assert!(
        reasons.iter().any(|r| r == "wrong content type"),
        "{reasons:?}"
    );
    let reconnecting = calls(&status)
        .iter()
        .find(|c| field(c, "status").as_string().as_deref() == Some("reconnecting"))
        .expect("a reconnecting report");
    assert!(
        field(&reconnecting, "nextAttempt").as_f64().is_some(),
        "reconnecting says when"
    );
    live.close();
}

#[wasm_bindgen_test]
fn bad_options_are_js_errors() {
    setup();
    let err = LiveEvents::new(options(&[]))
        .err()
        .expect("url is required");
    assert!(err.is_instance_of::<js_sys::Error>());
    let err = LiveEvents::new(options(&[("url", "/x".into()), ("pollMs", "soon".into())]))
        .err()
        .expect("pollMs must be a number");
    assert!(err.is_instance_of::<js_sys::Error>());
}

fn task_json(id: &str, status: &str, version: u64) -> String {
    format!(
        r#"{{"id":"{id}","name":"{id}","kind":"command","command":"true","workdir":"/","status":"{status}","version":{version},"created_at":1,"last_activity_at":1}}"#
    )
}

#[wasm_bindgen_test]
async fn a_bound_store_is_listed_and_fed_and_an_older_event_never_wins() {
    setup();
    let list = format!(
        r#"{{"tasks":[{}],"cursor":"e-5"}}"#,
        task_json("a", "completed", 5)
    );
    let list_url = format!(
        "data:application/json,{}",
        String::from(js_sys::encode_uri_component(&list))
    );
    let stream = format!(
        "event: ready\ndata: {{\"epoch\":\"e\",\"resumed\":false,\"head\":\"e-5\"}}\n\n\
         id: e-3\nevent: task.status\ndata: {{\"task_id\":\"a\",\"status\":\"running\",\"previous\":\"waiting-for-input\",\"version\":3}}\n\n\
         id: e-6\nevent: task.created\ndata: {}\n\n",
        task_json("b", "running", 6)
    );
    let live = LiveEvents::new(options(&[
        ("url", stream_url(&stream).into()),
        ("listUrl", list_url.into()),
        ("backoffMs", 60_000.into()),
    ]))
    .expect("LiveEvents");
    let store = JsTaskStore::new();
    live.bind_tasks(&store);
    let changes = recorder();
    store.on_change(handler(&changes));
    wait_for(3000, "both tasks", || {
        Array::from(&store.list()).length() == 2
    })
    .await;
    pause(50).await;
    let a = store.get("a");
    assert_eq!(
        field(&a, "status").as_string().as_deref(),
        Some("completed")
    );
    assert_eq!(
        field(&a, "version").as_f64(),
        Some(5.0),
        "the older event lost"
    );
    let b = store.get("b");
    assert_eq!(field(&b, "status").as_string().as_deref(), Some("running"));
    assert!(store.get("zzz").is_undefined());
    let ids: Vec<String> = calls(&changes)
        .iter()
        .flat_map(|batch| Array::from(&batch).iter().collect::<Vec<_>>())
        .map(|c| field(&c, "id").as_string().unwrap_or_default())
        .collect();
    assert!(
        ids.contains(&"a".to_owned()) && ids.contains(&"b".to_owned()),
        "{ids:?}"
    );
    assert_eq!(live.cursor().as_deref(), Some("e-6"));
    live.close();
}

#[wasm_bindgen_test]
async fn two_clients_of_one_url_share_one_event_source_and_the_follower_takes_over() {
    setup();
    let both = |extra: &str| {
        let obj = Object::new();
        let url = stream_url(ONE_EVENT) + extra;
        Reflect::set(&obj, &"url".into(), &url.into()).expect("set");
        Reflect::set(&obj, &"backoffMs".into(), &60_000.into()).expect("set");
        Reflect::set(&obj, &"backoffMaxMs".into(), &60_000.into()).expect("set");
        Reflect::set(&obj, &"pollAfterMs".into(), &60_000.into()).expect("set");
        obj.unchecked_into::<client_wasm::options::LiveEventsOptions>()
    };
    // A URL of its own, so that no other test's client shares with these.
    let leader = LiveEvents::new(both("")).expect("first");
    wait_for(3000, "a role", || {
        leader.role().as_string().as_deref() == Some("leader")
    })
    .await;
    // The data: stream ends at once: the leader reconnects once at once,
    // then waits out a long backoff.
    pause(300).await;
    let before = source_urls().len();
    let follower = LiveEvents::new(both("")).expect("second");
    wait_for(3000, "a role", || {
        follower.role().as_string().as_deref() == Some("follower")
    })
    .await;
    pause(300).await;
    assert_eq!(
        source_urls().len(),
        before,
        "the follower opens no EventSource"
    );
    leader.close();
    wait_for(3000, "the takeover", || {
        follower.role().as_string().as_deref() == Some("leader")
    })
    .await;
    wait_for(3000, "the new leader's own stream", || {
        source_urls().len() > before
    })
    .await;
    assert!(open_sources() <= 1);
    follower.close();
}
