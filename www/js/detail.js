// The detail pane of the selected task: its facts, its controls' state and
// its output. The output is a view of its own, so that another one (a live
// terminal on the output stream, say) can replace the default without
// touching the rest: `detail.setOutputView(factory)`, where `factory(pre,
// taskId)` returns `{ refresh(task), close() }`.
import { $, api, ago, chip, clock, duration, el, elapsed, exitBadge, isFinal, plain } from './util.js';

/** The default output view: the task's `recent_output`, fetched on demand. */
export function recentOutputView(pre, taskId, onError) {
  let ticket = 0;
  let closed = false;
  async function refresh() {
    const mine = ++ticket;
    try {
      const task = await api('GET', `/api/tasks/${encodeURIComponent(taskId)}`);
      if (closed || mine !== ticket) return;
      const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 8;
      pre.textContent = plain(task.recent_output || '') || '(no output yet)';
      if (atBottom) pre.scrollTop = pre.scrollHeight;
      onError(null);
    } catch (e) {
      if (!closed && mine === ticket) onError(e);
    }
  }
  refresh();
  return { refresh, close() { closed = true; } };
}

function fact(name, value, mono) {
  if (value === undefined || value === null || value === '') return [];
  return [el('dt', {}, name), el('dd', { class: mono ? 'mono' : '' }, String(value))];
}

export function showError(id, e) {
  const p = $(id);
  p.textContent = e ? String(e.message || e) : '';
  p.hidden = !e;
}

export function createDetail({ tasks }) {
  let selected = null;
  let output = null;
  let makeOutput = (pre, id) => recentOutputView(pre, id, (e) => showError('detail-error', e));

  function render() {
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
        : elapsed(task.created_at)));
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

  return {
    get selected() { return selected; },
    /** Shows task `id` (or nothing). */
    show(id) {
      selected = id;
      output?.close();
      output = null;
      $('detail-output').textContent = '';
      showError('detail-error', null);
      render();
      if (id) output = makeOutput($('detail-output'), id);
    },
    /** The store changed: redraw if the selected task is among the changes. */
    apply(changes) {
      if (!selected || !changes.some((c) => c.id === selected)) return;
      render();
      output?.refresh(tasks.get(selected));
    },
    refreshOutput() { output?.refresh(tasks.get(selected)); },
    render,
    /** Replaces the output view (for the selected task and the next ones). */
    setOutputView(factory) {
      makeOutput = factory;
      if (selected) this.show(selected);
    },
  };
}
