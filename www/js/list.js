// The task list, patched row by row from the store's per-task changes: an
// event re-renders one row and moves it only if its place in the order
// changed, so a list of thousands stays cheap at hundreds of events a second.
// Order: waiting first, then running, then failed, then finished; newest
// first within each group; the id breaks ties (a total, stable order).
import { $, el, chip, clock, duration, elapsed, exitBadge, isFinal } from './util.js';

const GROUP = { 'waiting-for-input': 0, 'running': 1, 'error': 2, 'completed': 3, 'killed': 3 };

/** Negative when `a` comes before `b`. */
export function compare(a, b) {
  return (GROUP[a.status] ?? 9) - (GROUP[b.status] ?? 9)
    || (isFinal(a.status)
      ? (b.finished_at ?? 0) - (a.finished_at ?? 0)
      : b.created_at - a.created_at)
    || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

function timing(task) {
  if (isFinal(task.status) && task.finished_at) {
    return [
      el('span', {}, `finished ${clock(task.finished_at)}`),
      el('span', {}, `took ${duration(task.finished_at - task.created_at)}`),
    ];
  }
  return [el('span', {}, `started ${clock(task.created_at)}`), elapsed(task.created_at)];
}

export function createList({ tasks, onSelect }) {
  const ul = $('task-list');
  /** The tasks shown, in order (the objects the store holds). */
  const order = [];
  /** id -> { task, node } */
  const rows = new Map();
  const counts = { 'running': 0, 'waiting-for-input': 0, other: 0 };
  let selected = null;
  let listedOnce = false;

  const bucket = (s) => (s === 'running' || s === 'waiting-for-input' ? s : 'other');

  function row(t) {
    return el('li', {
      class: `task${t.status === 'waiting-for-input' ? ' waiting' : ''}`,
      dataset: { id: t.id, status: t.status },
      'aria-selected': t.id === selected ? 'true' : 'false',
      tabindex: '0',
      onclick: () => onSelect(t.id),
      onkeydown: (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); onSelect(t.id); } },
    },
    el('div', { class: 'task-name' }, t.name),
    el('div', { class: 'task-cmd' },
      t.kind === 'terminal' ? `terminal · ${t.command}` : t.name === t.command ? '' : t.command),
    el('div', { class: 'task-side' }, chip(t.status, t), exitBadge(t)),
    el('div', { class: 'task-meta' }, timing(t), t.error ? el('span', {}, t.error) : null));
  }

  /** Where `task` belongs in `order` (binary search). */
  function place(task) {
    let lo = 0;
    let hi = order.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (compare(order[mid], task) < 0) lo = mid + 1; else hi = mid;
    }
    return lo;
  }

  function remove(id) {
    const old = rows.get(id);
    if (!old) return;
    const at = place(old.task);
    if (order[at] === old.task) order.splice(at, 1);
    else order.splice(order.indexOf(old.task), 1);
    counts[bucket(old.task.status)] -= 1;
    old.node.remove();
    rows.delete(id);
  }

  function upsert(task) {
    remove(task.id);
    const at = place(task);
    order.splice(at, 0, task);
    const node = row(task);
    ul.insertBefore(node, rows.get(order[at + 1]?.id)?.node ?? null);
    rows.set(task.id, { task, node });
    counts[bucket(task.status)] += 1;
  }

  function summary() {
    const n = order.length;
    const { running, other } = counts;
    const waiting = counts['waiting-for-input'];
    $('empty').hidden = n > 0 || !listedOnce;
    $('task-summary').textContent = n ? `${running} running · ${waiting} waiting · ${other} finished` : '';
    document.title = waiting ? `(${waiting}) Tidings` : 'Tidings';
    const badge = $('waiting-count');
    badge.hidden = waiting === 0;
    badge.replaceChildren(`${waiting} waiting`, el('span', { class: 'long' }, ' for input'));
  }

  return {
    /** Applies the store's changes: only the rows named are touched. */
    apply(changes) {
      listedOnce = true;
      for (const { kind, id } of changes) {
        const task = kind === 'removed' ? undefined : tasks.get(id);
        if (task) upsert(task); else remove(id);
      }
      summary();
    },
    select(id) {
      const before = selected && rows.get(selected);
      selected = id;
      if (before) before.node.setAttribute('aria-selected', 'false');
      const now = id && rows.get(id);
      if (now) now.node.setAttribute('aria-selected', 'true');
    },
    render: summary,
  };
}
