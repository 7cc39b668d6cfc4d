//! The core's [`TaskStore`] for JS: lists and `task.*` events applied by
//! version, so an older event never overwrites a newer list.

use std::cell::RefCell;
use std::rc::Rc;

use broker_core::{Change, TaskId, TaskList, TaskStore};
use wasm_bindgen::prelude::*;

use crate::live::call_each;

/// The store plus the application's change listeners.
#[derive(Default)]
pub struct StoreCell {
    store: TaskStore,
    listeners: Vec<js_sys::Function>,
}

/// A shared store: the JS object and every `LiveEvents` bound to it hold one.
pub type SharedStore = Rc<RefCell<StoreCell>>;

/// The task store as JS sees it (`new TaskStore()`).
#[wasm_bindgen(js_name = TaskStore)]
pub struct JsTaskStore {
    pub(crate) cell: SharedStore,
}

impl Default for JsTaskStore {
    fn default() -> Self {
        JsTaskStore::new()
    }
}

fn to_js(json: serde_json::Result<String>) -> JsValue {
    json.ok()
        .and_then(|s| js_sys::JSON::parse(&s).ok())
        .unwrap_or(JsValue::UNDEFINED)
}

#[wasm_bindgen(js_class = TaskStore)]
impl JsTaskStore {
    /// An empty store; bind it with `live.bindTasks(store)`.
    #[wasm_bindgen(constructor)]
    pub fn new() -> JsTaskStore {
        JsTaskStore {
            cell: Rc::default(),
        }
    }

    /// Every task, ordered by id.
    #[wasm_bindgen(unchecked_return_type = "Task[]")]
    pub fn list(&self) -> JsValue {
        let cell = self.cell.borrow();
        let tasks: Vec<_> = cell.store.tasks().collect();
        to_js(serde_json::to_string(&tasks))
    }

    /// One task, or `undefined`.
    #[wasm_bindgen(unchecked_return_type = "Task | undefined")]
    pub fn get(&self, id: &str) -> JsValue {
        let Ok(id) = TaskId::new(id) else {
            return JsValue::UNDEFINED;
        };
        let cell = self.cell.borrow();
        match cell.store.task(&id) {
            Some(task) => to_js(serde_json::to_string(task)),
            None => JsValue::UNDEFINED,
        }
    }

    /// Calls `listener` with the changes (`TaskChange[]`) after each list
    /// or event that changed something.
    #[wasm_bindgen(js_name = onChange)]
    pub fn on_change(
        &self,
        #[wasm_bindgen(unchecked_param_type = "(changes: TaskChange[]) => void")]
        listener: js_sys::Function,
    ) {
        self.cell.borrow_mut().listeners.push(listener);
    }
}

/// A list request went out: the store holds events until it answers.
pub fn list_started(store: &SharedStore) {
    store.borrow_mut().store.handle_list_started();
}

/// The list answered.
pub fn listed(store: &SharedStore, list: TaskList) {
    let changes = store.borrow_mut().store.handle_list(list);
    notify(store, &changes);
}

/// The list failed.
pub fn list_failed(store: &SharedStore) {
    let changes = store.borrow_mut().store.handle_list_failed();
    notify(store, &changes);
}

/// One `task.*` event.
pub fn event(store: &SharedStore, kind: &str, data: &str) {
    let result = store.borrow_mut().store.handle_event(kind, data);
    match result {
        Ok(changes) => notify(store, &changes),
        Err(e) => web_sys::console::warn_1(&JsValue::from_str(&e.to_string())),
    }
}

fn notify(store: &SharedStore, changes: &[Change]) {
    if changes.is_empty() {
        return;
    }
    let array = js_sys::Array::new();
    for change in changes {
        let (kind, id) = match change {
            Change::Upserted(id) => ("upserted", id),
            Change::Removed(id) => ("removed", id),
        };
        let obj = js_sys::Object::new();
        let _ = js_sys::Reflect::set(&obj, &"kind".into(), &kind.into());
        let _ = js_sys::Reflect::set(&obj, &"id".into(), &id.as_str().into());
        array.push(&obj);
    }
    // Call with no borrow held: a listener may read the store.
    let listeners = store.borrow().listeners.clone();
    call_each(&listeners, &array);
}
