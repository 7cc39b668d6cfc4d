// The forms: create a task or a terminal, rename, type input, kill. They only
// send requests: what they change comes back as events through the stream.
import { $, api } from './util.js';
import { showError } from './detail.js';

export function bindForms({ tasks, detail, select }) {
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

  $('rename-btn').addEventListener('click', () => {
    const task = tasks.get(detail.selected);
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
    detail.render();
  }
  $('rename-cancel').addEventListener('click', endRename);

  $('rename-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const name = $('rename-input').value.trim();
    if (!name || !detail.selected) return;
    try {
      await api('POST', `/api/tasks/${encodeURIComponent(detail.selected)}/rename`, { name });
      showError('detail-error', null);
      endRename();
    } catch (err) {
      showError('detail-error', err);
    }
  });

  $('input-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    if (!detail.selected) return;
    const box = $('input-text');
    try {
      // Like pressing Enter in the terminal.
      await api('POST', `/api/tasks/${encodeURIComponent(detail.selected)}/input`, { text: `${box.value}\n` });
      box.value = '';
      showError('detail-error', null);
    } catch (err) {
      showError('detail-error', err);
    }
  });

  $('kill-btn').addEventListener('click', async () => {
    if (!detail.selected) return;
    try {
      await api('DELETE', `/api/tasks/${encodeURIComponent(detail.selected)}`);
      showError('detail-error', null);
    } catch (err) {
      showError('detail-error', err);
    }
  });

  $('close-detail').addEventListener('click', () => select(null));
  $('refresh-output').addEventListener('click', () => detail.refreshOutput());
}
