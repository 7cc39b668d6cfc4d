//! The core's [`TaskStore`] for JS, over the objects `JSON.parse` made: a
//! list or event is parsed once, the store keeps the objects themselves
//! (never a copy through Rust types) and merges them by version, so an older
//! event never overwrites a newer list. `list()` hands out those objects.

#[allow(unused_imports)]
use crate::prelude::*;

use alloc::rc::Rc;
use core::cell::RefCell;

use broker_core::{Change, EventId, TaskEvent, TaskId, TaskRecord, TaskStore};
use js_sys::{Array, Object, Reflect, JSON};
use wasm_bindgen::prelude::*;

use crate::driver::call_each;

/// A task as the browser holds it: the object from `JSON.parse`. Merging
/// makes a new object, so one the application holds never changes under it.
#[derive(Clone, Debug, PartialEq)]
pub struct JsTask(pub JsValue);

/// The fields a `task.status` owns (absent means cleared).
const STATUS_FIELDS: [&str; 5] = ["status", "finished_at", "exit_code", "error", "reason"];
/// The fields a whole task owns that a status leaves alone.
const SNAPSHOT_FIELDS: [&str; 5] = ["name", "kind", "command", "workdir", "created_at"];

pub(crate) fn get(obj: &JsValue, key: &str) -> JsValue {
    Reflect::get(obj, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

fn set(obj: &JsValue, key: &str, value: &JsValue) {
    let _ = Reflect::set(obj, &JsValue::from_str(key), value);
}

fn copy(obj: &JsValue) -> Object {
    Object::assign(&Object::new(), &Object::from(obj.clone()))
}

fn is_final(status: &JsValue) -> bool {
    matches!(
        status.as_string().as_deref(),
        Some("completed" | "killed" | "error")
    )
}

impl TaskRecord for JsTask {
    type Status = JsValue;

    fn apply_status(&mut self, update: &JsValue) {
        let task = copy(&self.0);
        for key in STATUS_FIELDS {
            let value = get(update, key);
            if value.is_undefined() || value.is_null() {
                let _ = Reflect::delete_property(&task, &JsValue::from_str(key));
            } else {
                set(&task, key, &value);
            }
        }
        set(&task, "version", &get(update, "version"));
        let activity = get(update, "last_activity_at");
        if !activity.is_undefined() {
            set(&task, "last_activity_at", &activity);
        }
        if is_final(&get(update, "status")) {
            let _ = Reflect::delete_property(&task, &JsValue::from_str("pid"));
        }
        self.0 = task.into();
    }

    fn take_fields(&mut self, snapshot: &JsTask) -> bool {
        let task = copy(&self.0);
        for key in SNAPSHOT_FIELDS {
            set(&task, key, &get(&snapshot.0, key));
        }
        let pid = get(&snapshot.0, "pid");
        if is_final(&get(&task, "status")) || pid.is_undefined() {
            let _ = Reflect::delete_property(&task, &JsValue::from_str("pid"));
        } else {
            set(&task, "pid", &pid);
        }
        let task = JsTask(task.into());
        let changed = !self.same(&task);
        *self = task;
        changed
    }

    fn same(&self, other: &JsTask) -> bool {
        // Small objects, compared only when a list lands or a late rename
        // merges: the string compare is cheap and exact for JSON data.
        JSON::stringify(&self.0).ok() == JSON::stringify(&other.0).ok()
    }
}

/// The id and version a snapshot (`id`) or an update (`task_id`) carries.
fn id_and_version(obj: &JsValue, id_key: &str) -> Option<(TaskId, u64)> {
    let id = TaskId::new(get(obj, id_key).as_string()?).ok()?;
    let version = get(obj, "version").as_f64()?;
    (version >= 0.0).then_some((id, version as u64))
}

/// Reads a `task.*` event's parsed data; `None` for other types or data
/// that is not what the type promises.
pub fn task_event(kind: &str, data: &JsValue) -> Option<TaskEvent<JsTask>> {
    Some(match kind {
        "task.created" | "task.updated" => {
            let (id, version) = id_and_version(data, "id")?;
            TaskEvent::Snapshot {
                id,
                version,
                record: JsTask(data.clone()),
            }
        }
        "task.status" => {
            let (id, version) = id_and_version(data, "task_id")?;
            TaskEvent::Status {
                id,
                version,
                status: data.clone(),
            }
        }
        "task.removed" => {
            let (id, version) = id_and_version(data, "task_id")?;
            TaskEvent::Removed { id, version }
        }
        _ => return None,
    })
}

/// The tasks of a list, with their ids and versions.
pub type Listed = Vec<(TaskId, u64, JsTask)>;

/// A parsed `GET /api/tasks` answer: its cursor and tasks, if it is one.
pub fn read_list(list: &JsValue) -> Option<(EventId, Listed)> {
    let cursor: EventId = get(list, "cursor").as_string()?.parse().ok()?;
    let tasks = get(list, "tasks");
    if !Array::is_array(&tasks) {
        return None;
    }
    let tasks = Array::from(&tasks)
        .iter()
        .filter_map(|t| {
            let (id, version) = id_and_version(&t, "id")?;
            Some((id, version, JsTask(t)))
        })
        .collect();
    Some((cursor, tasks))
}

/// The store plus the application's change listeners.
#[derive(Default)]
pub struct StoreCell {
    store: TaskStore<JsTask>,
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

#[wasm_bindgen(js_class = TaskStore)]
impl JsTaskStore {
    /// An empty store; bind it with `live.bindTasks(store)`.
    #[wasm_bindgen(constructor)]
    pub fn new() -> JsTaskStore {
        JsTaskStore {
            cell: Rc::default(),
        }
    }

    /// Every task (the objects themselves), ordered by id.
    #[wasm_bindgen(unchecked_return_type = "Task[]")]
    pub fn list(&self) -> Array {
        self.cell
            .borrow()
            .store
            .tasks()
            .map(|t| t.0.clone())
            .collect()
    }

    /// One task, or `undefined`.
    #[wasm_bindgen(unchecked_return_type = "Task | undefined")]
    pub fn get(&self, id: &str) -> JsValue {
        let Ok(id) = TaskId::new(id) else {
            return JsValue::UNDEFINED;
        };
        let cell = self.cell.borrow();
        cell.store
            .task(&id)
            .map_or(JsValue::UNDEFINED, |t| t.0.clone())
    }

    /// How many tasks it holds.
    #[wasm_bindgen(getter)]
    pub fn size(&self) -> usize {
        self.cell.borrow().store.len()
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
pub fn listed(store: &SharedStore, cursor: EventId, tasks: Listed) {
    let changes = store.borrow_mut().store.handle_listed(cursor, tasks);
    notify(store, &changes);
}

/// The list failed (or brought no tasks).
pub fn list_failed(store: &SharedStore) {
    let changes = store.borrow_mut().store.handle_list_failed();
    notify(store, &changes);
}

/// One `task.*` event.
pub fn event(store: &SharedStore, event: TaskEvent<JsTask>) {
    let changes = store.borrow_mut().store.handle_task_event(event);
    notify(store, &changes);
}

fn notify(store: &SharedStore, changes: &[Change]) {
    if changes.is_empty() {
        return;
    }
    let array = Array::new();
    for change in changes {
        let (kind, id) = match change {
            Change::Upserted(id) => ("upserted", id),
            Change::Removed(id) => ("removed", id),
        };
        let obj = Object::new();
        set(&obj, "kind", &kind.into());
        set(&obj, "id", &id.as_str().into());
        array.push(&obj);
    }
    // Call with no borrow held: a listener may read the store.
    let listeners = store.borrow().listeners.clone();
    call_each(&listeners, &array);
}
