// The Tidings dashboard: plain ES modules, no bundler. Every update comes from
// the live stream through the wasm client (www/pkg/, built by `cargo xtask
// wasm`); the page lists only when the client asks for it (first load, a
// stream that could not resume, lag, poll ticks while the stream is down).
import init, { LiveEvents, TaskStore } from './pkg/client_wasm.js';

const $ = (id) => document.getElementById(id);

const STATUS_LABEL = {
  'running': 'running',
  'waiting-for-input': 'waiting for input',
  'completed': 'completed',
  'killed': 'killed',
  'error': 'error',
};
const ORDER = { 'waiting-for-input': 0, 'running': 1, 'error': 2, 'completed': 3, 'killed': 3 };

// --- small helpers --------------------------------------------------------

async function api(method, path, body) {
  const init = { method, credentials: 'same-origin', headers: {} };
  if (body !== undefined) {
    init.headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const res = await fetch(path, init);
  const json = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(json.error || `HTTP ${res.status}`);
  return json;
}

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') node.className = v;
    else if (k === 'dataset') Object.assign(node.dataset, v);
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c !== undefined && c !== null && c !== false) node.append(c);
  }
  return node;
}

function duration(ms) {
  if (ms < 1000) return '<1s';
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h ${String(m % 60).padStart(2, '0')}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

function ago(ms) {
  return `${duration(Date.now() - ms)} ago`;
}

function clock(ms) {
  const d = new Date(ms);
  const today = new Date().toDateString() === d.toDateString();
  return today
    ? d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' })
    : d.toLocaleString([], { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
}

// Terminal output carries colour codes and carriage returns; show plain text.
function plain(text) {
  return text
    .replace(/\x1b\][^\x07\x1b]*(\x07|\x1b\\)/g, '')
    .replace(/\x1b\[[0-9;?]*[ -/]*[@-~]/g, '')
    .replace(/\x1b[()][0-9A-Za-z]/g, '')
    .replace(/\r\n/g, '\n')
    .replace(/[^\n]*\r(?!\n)/g, '');
}

const isFinal = (s) => s === 'completed' || s === 'killed' || s === 'error';

// --- state ----------------------------------------------------------------

await init();
const tasks = new TaskStore();
const options = Object.assign(
  { url: '/api/events', listUrl: '/api/tasks', types: ['task.*'] },
  globalThis.tidingsClientOptions || {},
);
const live = new LiveEvents(options);
live.bindTasks(tasks);
// For people poking around in the console, and for the end-to-end tests.
globalThis.tidings = { live, tasks };

let selected = decodeURIComponent(location.hash.replace(/^#task-/, '')) || null;
let connection = { status: 'connecting', reason: '', nextAttempt: null };
const lastStatus = new Map(); // task id -> status seen last (for notifications)
let listedOnce = false;
let detailLoad = 0; // the newest detail request; older answers are dropped

// --- connection indicator -------------------------------------------------

function connectionText() {
  const { status, reason, nextAttempt } = connection;
  const inSecs = nextAttempt ? Math.max(0, Math.ceil((nextAttempt - Date.now()) / 1000)) : null;
  switch (status) {
    case 'live': return 'Live';
    case 'connecting': return 'Connecting…';
    case 'reconnecting': return inSecs ? `Reconnecting in ${inSecs} s` : 'Reconnecting…';
    case 'polling': return inSecs ? `Polling · retry in ${inSecs} s` : 'Polling';
    case 'unauthorized': return 'Unauthorized';
    default: return reason ? `Closed (${reason})` : 'Closed';
  }
}

function renderConnection() {
  const conn = $('conn');
  conn.dataset.status = connection.status;
  conn.title = connection.reason ? `${connection.status}: ${connection.reason}` : connection.status;
  $('conn-text').textContent = connectionText();
  const banner = $('banner');
  if (connection.status === 'unauthorized') {
    banner.textContent = 'Not signed in. Open the dashboard through the link tidings printed when it started '
      + '(http://127.0.0.1:PORT/?token=…); it sets a cookie and brings you back here.';
    banner.hidden = false;
  } else if (connection.status === 'polling') {
    banner.textContent = 'The live stream is down; the list is refreshed periodically until it is back.';
    banner.hidden = false;
  } else {
    banner.hidden = true;
  }
}

live.onStatus((report) => {
  connection = report;
  renderConnection();
});

// --- the task list --------------------------------------------------------

function sortedTasks() {
  return tasks.list().sort((a, b) =>
    (ORDER[a.status] ?? 9) - (ORDER[b.status] ?? 9)
    || (isFinal(a.status) ? (b.finished_at ?? 0) - (a.finished_at ?? 0) : b.created_at - a.created_at)
    || a.id.localeCompare(b.id));
}

function chip(status, task) {
  const failed = status === 'completed' && task && task.exit_code !== undefined && task.exit_code !== 0;
  return el('span', { class: `chip ${status}${failed ? ' failed' : ''}` }, STATUS_LABEL[status] || status);
}

function exitBadge(task) {
  if (task.exit_code === undefined || task.exit_code === null) return null;
  return el('span', { class: `exit${task.exit_code === 0 ? '' : ' bad'}`, title: 'exit code' },
    `exit ${task.exit_code}`);
}

function timing(task) {
  if (isFinal(task.status) && task.finished_at) {
    return [
      el('span', {}, `finished ${clock(task.finished_at)}`),
      el('span', {}, `took ${duration(task.finished_at - task.created_at)}`),
    ];
  }
  return [
    el('span', {}, `started ${clock(task.created_at)}`),
    el('span', { class: 'elapsed', dataset: { since: task.created_at } },
      `elapsed ${duration(Date.now() - task.created_at)}`),
  ];
}

function renderList() {
  const list = sortedTasks();
  const ul = $('task-list');
  ul.replaceChildren(...list.map((t) => el('li', {
    class: `task${t.status === 'waiting-for-input' ? ' waiting' : ''}`,
    dataset: { id: t.id, status: t.status },
    'aria-selected': t.id === selected ? 'true' : 'false',
    tabindex: '0',
    onclick: () => select(t.id),
    onkeydown: (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); select(t.id); } },
  },
  el('div', { class: 'task-name' }, t.name),
  el('div', { class: 'task-cmd' },
    t.kind === 'terminal' ? `terminal · ${t.command}` : t.name === t.command ? '' : t.command),
  el('div', { class: 'task-side' }, chip(t.status, t), exitBadge(t)),
  el('div', { class: 'task-meta' }, timing(t), t.error ? el('span', {}, t.error) : null))));
  $('empty').hidden = list.length > 0 || !listedOnce;
  const waiting = list.filter((t) => t.status === 'waiting-for-input').length;
  const running = list.filter((t) => t.status === 'running').length;
  $('task-summary').textContent = list.length
    ? `${running} running · ${waiting} waiting · ${list.length - running - waiting} finished`
    : '';
  document.title = waiting ? `(${waiting}) Tidings` : 'Tidings';
  const badge = $('waiting-count');
  badge.hidden = waiting === 0;
  badge.replaceChildren(`${waiting} waiting`, el('span', { class: 'long' }, ' for input'));
}

// --- notifications --------------------------------------------------------

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

tasks.onChange((changes) => {
  noticeTransitions(changes);
  listedOnce = true;
  renderList();
  if (selected && changes.some((c) => c.id === selected)) {
    renderDetail();
    loadOutput();
  }
});

// --- the detail panel -----------------------------------------------------

function select(id) {
  selected = id;
  history.replaceState(null, '', id ? `#task-${encodeURIComponent(id)}` : location.pathname);
  $('rename-form').hidden = true;
  $('input-text').value = '';
  $('detail-output').textContent = '';
  $('detail-error').hidden = true;
  renderList();
  renderDetail();
  if (id) loadOutput();
}

function fact(name, value, mono) {
  if (value === undefined || value === null || value === '') return [];
  return [el('dt', {}, name), el('dd', { class: mono ? 'mono' : '' }, String(value))];
}

function renderDetail() {
  const task = selected ? tasks.get(selected) : undefined;
  const panel = $('detail');
  panel.hidden = !task;
  if (!task) return;
  panel.dataset.id = task.id;
  panel.dataset.status = task.status;
  if ($('rename-form').hidden) $('detail-name').textContent = task.name;
  $('detail-status').replaceChildren(chip(task.status, task), exitBadge(task) || '',
    el('span', { class: 'muted' }, isFinal(task.status) && task.finished_at
      ? `finished ${clock(task.finished_at)} after ${duration(task.finished_at - task.created_at)}`
      : el('span', { class: 'elapsed', dataset: { since: task.created_at } },
        `elapsed ${duration(Date.now() - task.created_at)}`)));
  $('detail-facts').replaceChildren(
    ...fact('Command', task.command, true),
    ...fact('Kind', task.kind),
    ...fact('Directory', task.workdir, true),
    ...fact('Started', clock(task.created_at)),
    ...fact('Last activity', task.last_activity_at ? ago(task.last_activity_at) : null),
    ...fact('PID', task.pid),
    ...fact('Error', task.error),
    ...fact('Id', task.id, true),
  );
  const form = $('input-form');
  const waiting = task.status === 'waiting-for-input';
  form.hidden = isFinal(task.status);
  form.classList.toggle('plain', !waiting);
  $('input-label').textContent = waiting ? 'This task is waiting for input' : 'Send input to the terminal';
  $('kill-btn').hidden = isFinal(task.status);
}

async function loadOutput() {
  const id = selected;
  if (!id) return;
  const ticket = ++detailLoad;
  try {
    const task = await api('GET', `/api/tasks/${encodeURIComponent(id)}`);
    if (ticket !== detailLoad || selected !== id) return;
    const pre = $('detail-output');
    const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 8;
    pre.textContent = plain(task.recent_output || '') || '(no output yet)';
    if (atBottom) pre.scrollTop = pre.scrollHeight;
  } catch (e) {
    if (ticket === detailLoad) showError('detail-error', e);
  }
}

function showError(id, e) {
  const p = $(id);
  p.textContent = e ? String(e.message || e) : '';
  p.hidden = !e;
}

$('close-detail').addEventListener('click', () => select(null));
$('refresh-output').addEventListener('click', loadOutput);

$('rename-btn').addEventListener('click', () => {
  const task = tasks.get(selected);
  if (!task) return;
  $('rename-input').value = task.name;
  $('rename-form').hidden = false;
  $('rename-btn').hidden = true;
  $('detail-name').hidden = true;
  $('rename-input').focus();
  $('rename-input').select();
});

function endRename() {
  $('rename-form').hidden = true;
  $('rename-btn').hidden = false;
  $('detail-name').hidden = false;
  renderDetail();
}
$('rename-cancel').addEventListener('click', endRename);

$('rename-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const name = $('rename-input').value.trim();
  if (!name || !selected) return;
  try {
    await api('POST', `/api/tasks/${encodeURIComponent(selected)}/rename`, { name });
    showError('detail-error', null);
    endRename();
  } catch (err) {
    showError('detail-error', err);
  }
});

$('input-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  if (!selected) return;
  const box = $('input-text');
  try {
    // Like pressing Enter in the terminal.
    await api('POST', `/api/tasks/${encodeURIComponent(selected)}/input`, { text: `${box.value}\n` });
    box.value = '';
    showError('detail-error', null);
  } catch (err) {
    showError('detail-error', err);
  }
});

$('kill-btn').addEventListener('click', async () => {
  if (!selected) return;
  try {
    await api('DELETE', `/api/tasks/${encodeURIComponent(selected)}`);
    showError('detail-error', null);
  } catch (err) {
    showError('detail-error', err);
  }
});

// --- creating tasks -------------------------------------------------------

$('create-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const command = $('create-command').value.trim();
  const input = $('create-input').value;
  if (!command) return;
  const body = { command };
  if (input) body.input = input.endsWith('\n') ? input : `${input}\n`;
  try {
    const task = await api('POST', '/api/tasks', body);
    $('create-command').value = '';
    $('create-input').value = '';
    showError('create-error', null);
    if (task && task.id) select(task.id);
  } catch (err) {
    showError('create-error', err);
  }
});

$('terminal-btn').addEventListener('click', async () => {
  try {
    const task = await api('POST', '/api/tasks/terminal', {});
    showError('create-error', null);
    if (task && task.id) select(task.id);
  } catch (err) {
    showError('create-error', err);
  }
});

// --- clocks on screen (no requests: only text is refreshed) ---------------

setInterval(() => {
  for (const node of document.querySelectorAll('.elapsed')) {
    node.textContent = `elapsed ${duration(Date.now() - Number(node.dataset.since))}`;
  }
  if (connection.nextAttempt) $('conn-text').textContent = connectionText();
}, 1000);

notifyBtn();
renderConnection();
renderList();
renderDetail();
