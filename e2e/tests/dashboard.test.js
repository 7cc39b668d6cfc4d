// The dashboard in a real headless Chromium against a real `tidings`: the
// issue's end-to-end scenarios, one per test, each with its own server.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  api, cleanup, dataDir, openDashboard, pageTasks, repo, serverTasks, sleep, startServer, until,
} from './harness.js';

after(cleanup);

const READS_ITS_TERMINAL = `sh -c 'read -p "name? " x; echo hi $x'`;

async function live(dash) {
  await until('the indicator says live', async () => (await dash.status()) === 'live');
}

test('1. a task created through the API appears without another list request', async () => {
  const server = await startServer();
  const dash = await openDashboard(server);
  await live(dash);
  await until('the first list', () => dash.lists().length === 1);
  const task = await api(server, 'POST', '/api/tasks', { command: 'sleep 30', name: 'pushed' });
  await dash.page.locator(`.task[data-id="${task.id}"]`).waitFor();
  assert.equal(await dash.page.textContent(`.task[data-id="${task.id}"] .task-name`), 'pushed');
  await api(server, 'POST', `/api/tasks/${task.id}/rename`, { name: 'renamed' });
  await until('the rename shows', async () =>
    (await dash.page.textContent(`.task[data-id="${task.id}"] .task-name`)) === 'renamed');
  await sleep(500);
  assert.equal(dash.lists().length, 1, 'no list after the first one');
  assert.equal(dash.streams().length, 1, 'one stream, still open');
  assert.deepEqual(dash.errors, []);
  await dash.close();
  await server.stop();
});

test('2. a task reading its terminal waits; input typed in the page → running → completed', async () => {
  const server = await startServer();
  const dash = await openDashboard(server);
  await live(dash);
  await dash.page.evaluate(() => {
    globalThis.seen = [];
    globalThis.tidings.tasks.onChange((changes) => {
      for (const c of changes) globalThis.seen.push([c.id, globalThis.tidings.tasks.get(c.id)?.status]);
    });
  });
  // Created through the page's own form.
  await dash.page.fill('#create-command', READS_ITS_TERMINAL);
  await dash.page.click('#create-form button[type=submit]');
  const row = dash.page.locator('.task[data-status="waiting-for-input"]');
  await row.waitFor({ timeout: 10000 });
  const id = await row.getAttribute('data-id');
  assert.match(await dash.page.title(), /^\(1\) /, 'the waiting count is in the title');
  await row.click();
  await dash.page.locator('#input-form:not([hidden])').waitFor();
  await dash.page.fill('#input-text', 'tidings');
  await dash.page.press('#input-text', 'Enter');
  await dash.page.locator(`.task[data-id="${id}"][data-status="completed"]`).waitFor({ timeout: 10000 });
  const statuses = (await dash.page.evaluate(() => globalThis.seen))
    .filter(([tid]) => tid === id).map(([, s]) => s);
  const waited = statuses.indexOf('waiting-for-input');
  const resumed = statuses.indexOf('running', waited);
  const done = statuses.indexOf('completed', resumed);
  assert.ok(waited >= 0 && resumed > waited && done > resumed,
    `waiting → running → completed, saw ${statuses.join(' → ')}`);
  await until('the output shows the answer', async () =>
    (await dash.page.textContent('#detail-output')).includes('hi tidings'));
  assert.equal(await dash.page.textContent(`.task[data-id="${id}"] .exit`), 'exit 0');
  assert.equal(await dash.page.title(), 'Tidings');
  assert.equal(dash.lists().length, 1);
  await dash.close();
  await server.stop();
});

test('3. streams that end every few seconds resume with no list and no missed event', async () => {
  const server = await startServer({ args: ['--stream-lifetime', '2s'] });
  const dash = await openDashboard(server);
  await live(dash);
  await until('the first list', () => dash.lists().length === 1);
  const created = [];
  const deadline = Date.now() + 7000;
  while (Date.now() < deadline) {
    created.push((await api(server, 'POST', '/api/tasks', { command: 'true' })).id);
    await sleep(400);
  }
  await until('three streams (two resumes)', () => dash.streams().length >= 3, 10000);
  await until('every task in its final state on the page', async () => {
    const [mine, truth] = [await pageTasks(dash.page), await serverTasks(server)];
    return created.every((id) => truth[id]?.status === 'completed')
      && JSON.stringify(mine) === JSON.stringify(truth);
  });
  for (const s of dash.streams().slice(1)) {
    assert.match(s.url.search, /last_event_id=/, `a resume carries the cursor: ${s.url}`);
  }
  assert.equal(dash.lists().length, 1, 'resumes never list');
  await dash.close();
  await server.stop();
});

test('7. without a token: unauthorized, and no retry storm', async () => {
  const server = await startServer();
  const dash = await openDashboard(server, { token: false });
  await until('unauthorized', async () => (await dash.status()) === 'unauthorized');
  assert.match(await dash.page.textContent('#banner'), /Not signed in/);
  const seen = dash.requests.filter((r) => r.url.pathname.startsWith('/api/')).length;
  await sleep(4000);
  const api = dash.requests.filter((r) => r.url.pathname.startsWith('/api/'));
  assert.equal(api.length, seen, 'nothing more after unauthorized');
  // The stream itself, and one probe of it to learn the status.
  assert.ok(api.length <= 2, `at most two requests: ${api.map((r) => r.url.pathname)}`);
  assert.equal(dash.lists().length, 0);
  await dash.close();
  await server.stop();
});
