// Small helpers every module of the dashboard shares: the API call, element
// building and the formatting of times and terminal output.

/** Calls the API with the cookie; throws an Error with the server's message. */
export async function api(method, path, body) {
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

export const $ = (id) => document.getElementById(id);

/** `el('div', {class, dataset, onclick, ...attrs}, ...children)`. */
export function el(tag, props = {}, ...children) {
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

export function duration(ms) {
  if (ms < 1000) return '<1s';
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h ${String(m % 60).padStart(2, '0')}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

export const ago = (ms) => `${duration(Date.now() - ms)} ago`;

// Formatters are costly to make and cheap to use: one each, made once.
const TIME = new Intl.DateTimeFormat([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
const DATE_TIME = new Intl.DateTimeFormat([], { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });

export function clock(ms) {
  const d = new Date(ms);
  const now = new Date();
  const today = d.getFullYear() === now.getFullYear() && d.getMonth() === now.getMonth()
    && d.getDate() === now.getDate();
  return (today ? TIME : DATE_TIME).format(d);
}

/** Terminal output carries colour codes and carriage returns; show plain text. */
export function plain(text) {
  return text
    .replace(/\x1b\][^\x07\x1b]*(\x07|\x1b\\)/g, '')
    .replace(/\x1b\[[0-9;?]*[ -/]*[@-~]/g, '')
    .replace(/\x1b[()][0-9A-Za-z]/g, '')
    .replace(/\r\n/g, '\n')
    .replace(/[^\n]*\r(?!\n)/g, '');
}

export const isFinal = (s) => s === 'completed' || s === 'killed' || s === 'error';

export const STATUS_LABEL = {
  'running': 'running',
  'waiting-for-input': 'waiting for input',
  'completed': 'completed',
  'killed': 'killed',
  'error': 'error',
};

export function chip(status, task) {
  const failed = status === 'completed' && task && task.exit_code !== undefined && task.exit_code !== 0;
  return el('span', { class: `chip ${status}${failed ? ' failed' : ''}` }, STATUS_LABEL[status] || status);
}

export function exitBadge(task) {
  if (task.exit_code === undefined || task.exit_code === null) return null;
  return el('span', { class: `exit${task.exit_code === 0 ? '' : ' bad'}`, title: 'exit code' },
    `exit ${task.exit_code}`);
}

/** A span that the page clock keeps counting (see `tickClocks`). */
export const elapsed = (since) => el('span', { class: 'elapsed', dataset: { since } },
  `elapsed ${duration(Date.now() - since)}`);

/** Refreshes every counting span: text only, no request. */
export function tickClocks() {
  const now = Date.now();
  for (const node of document.querySelectorAll('.elapsed')) {
    node.textContent = `elapsed ${duration(now - Number(node.dataset.since))}`;
  }
}
