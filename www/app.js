// The Tidings dashboard: plain ES modules, no bundler. Every update comes from
// the live stream through the wasm client (www/pkg/, built by `cargo xtask
// wasm`), shared by the tabs of this browser; the page lists only when the
// client asks for it (first load, a stream that could not resume, lag, poll
// ticks while the stream is down). Modules by concern: js/connection.js (the
// indicator), js/list.js (rows patched from the store's changes),
// js/detail.js (the selected task, with a replaceable output view),
// js/forms.js (requests).
import init, { LiveEvents, TaskStore } from './pkg/client_wasm.js';
import { $, tickClocks } from './js/util.js';
import { createConnection } from './js/connection.js';
import { createList } from './js/list.js';
import { createDetail } from './js/detail.js';
import { bindForms } from './js/forms.js';

await init();
const tasks = new TaskStore();
const options = Object.assign(
  { url: '/api/events', listUrl: '/api/tasks', types: ['task.*'] },
  globalThis.tidingsClientOptions || {},
);
const live = new LiveEvents(options);
live.bindTasks(tasks);

const connection = createConnection(live);
const detail = createDetail({ tasks });
const list = createList({ tasks, onSelect: (id) => select(id) });

function select(id) {
  history.replaceState(null, '', id ? `#task-${encodeURIComponent(id)}` : location.pathname);
  $('rename-form').hidden = true;
  $('input-text').value = '';
  list.select(id);
  detail.show(id);
}

// --- notifications: a task that starts waiting for input -------------------

const lastStatus = new Map(); // task id -> status seen last
let listedOnce = false;

function notifyBtn() {
  const btn = $('notify-btn');
  btn.hidden = !('Notification' in globalThis) || Notification.permission !== 'default';
}

$('notify-btn').addEventListener('click', async () => {
  await Notification.requestPermission().catch(() => {});
  notifyBtn();
});

function noticeTransitions(changes) {
  for (const { kind, id } of changes) {
    if (kind === 'removed') { lastStatus.delete(id); continue; }
    const task = tasks.get(id);
    if (!task) continue;
    const before = lastStatus.get(id);
    lastStatus.set(id, task.status);
    if (listedOnce && task.status === 'waiting-for-input' && before !== 'waiting-for-input'
        && 'Notification' in globalThis && Notification.permission === 'granted') {
      const n = new Notification(`${task.name} is waiting for input`, {
        body: task.command, tag: `tidings-${task.id}`,
      });
      n.onclick = () => { window.focus(); select(task.id); };
    }
  }
}

// The store reports each change at once; the page draws them at most every
// 100 ms, at a frame (a burst of events costs one patch of the rows it
// touched, not one each, and one layout and paint). A hidden tab has no
// frames: it draws on a timer.
const DRAW_EVERY_MS = 100;
let pending = new Map(); // id -> the latest change
let scheduled = false;
let drawn = 0;
function flush() {
  scheduled = false;
  drawn = performance.now();
  const changes = [...pending.values()];
  pending = new Map();
  list.apply(changes);
  detail.apply(changes);
}
tasks.onChange((changes) => {
  noticeTransitions(changes);
  listedOnce = true;
  for (const c of changes) pending.set(c.id, c);
  if (scheduled) return;
  scheduled = true;
  const wait = Math.max(0, drawn + DRAW_EVERY_MS - performance.now());
  if (document.hidden) setTimeout(flush, Math.max(wait, 200));
  else if (wait === 0) requestAnimationFrame(flush);
  else setTimeout(() => requestAnimationFrame(flush), wait);
});

bindForms({ tasks, detail, select });

// For people poking around in the console, and for the end-to-end tests.
globalThis.tidings = { live, tasks, detail };

// Clocks on screen: text only, no request.
setInterval(() => {
  tickClocks();
  connection.tick();
}, 1000);

notifyBtn();
list.render();
const initial = decodeURIComponent(location.hash.replace(/^#task-/, '')) || null;
if (initial) select(initial);
