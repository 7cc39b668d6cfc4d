// The dashboard in a real headless Chromium against a real `tidings`: the
// issue's end-to-end scenarios, one per test, each with its own server.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  api, canonical, cleanup, dataDir, inSync, openDashboard, pageTasks, repo, serverTasks, sleep, startServer,
  until,
} from './harness.js';
import { screenshotScene } from './scene.js';

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
      && canonical(mine) === canonical(truth);
  });
  for (const s of dash.streams().slice(1)) {
    assert.match(s.url.search, /last_event_id=/, `a resume carries the cursor: ${s.url}`);
  }
  assert.equal(dash.lists().length, 1, 'resumes never list');
  await dash.close();
  await server.stop();
});

test('4. a restart (new epoch) while tasks change → the page lists again, true state within 3 s', async () => {
  const data = dataDir();
  let server = await startServer({ data });
  // Reconnect attempts at most a second apart, so "within 3 s" measures the
  // resync, not the luck of a backoff draw.
  const dash = await openDashboard(server, { client: { backoffMaxMs: 1000 } });
  await live(dash);
  const lost = await api(server, 'POST', '/api/tasks', { command: 'sleep 60', name: 'lost in the restart' });
  await dash.page.locator(`.task[data-id="${lost.id}"][data-status="running"]`).waitFor();
  const before = dash.lists().length;
  const port = server.port;
  await server.stop();
  server = await startServer({ data, port });
  const restarted = Date.now();
  const fresh = await api(server, 'POST', '/api/tasks', { command: 'sleep 60', name: 'born after' });
  await until('the page matches the server', () => inSync(dash, server), 3000);
  const took = Date.now() - restarted;
  const truth = await serverTasks(server);
  assert.ok(truth[lost.id].status !== 'running', 'the lost task was finalised');
  assert.equal(truth[fresh.id].status, 'running');
  assert.ok(dash.lists().length > before, 'the page listed again');
  assert.ok(took <= 3000, `true state after ${took} ms`);
  assert.equal(await dash.status(), 'live');
  await dash.close();
  await server.stop();
});

test('5. a lagging subscriber is told, lists again and shows the true state', async () => {
  const server = await startServer({ args: ['--queue', '4'] });
  // All event types, so the burst of other events goes through this stream.
  const dash = await openDashboard(server, { client: { types: null } });
  await live(dash);
  await until('the first list', () => dash.lists().length === 1);
  await dash.page.evaluate(() => {
    globalThis.resyncs = [];
    globalThis.tidings.live.onResync((r) => globalThis.resyncs.push(r));
  });
  const resyncs = () => dash.page.evaluate(() => globalThis.resyncs);
  let task;
  for (let round = 0; round < 10 && !(await resyncs()).includes('lagged'); round++) {
    await Promise.all(Array.from({ length: 200 }, (_, i) =>
      api(server, 'POST', '/api/events', { type: 'burst.tick', data: { round, i } })));
    task = await api(server, 'POST', '/api/tasks', { command: 'true', name: `after burst ${round}` });
    await sleep(300);
  }
  assert.ok((await resyncs()).includes('lagged'), 'the stream reported lagged');
  await until('the page matches the server', async () => {
    const truth = await serverTasks(server);
    return truth[task.id]?.status === 'completed' && inSync(dash, server);
  });
  assert.ok(dash.lists().length >= 2, 'lagged led to a list');
  assert.equal(dash.streams().length, 1, 'lag is handled on the same stream');
  await dash.close();
  await server.stop();
});

test('6. server stopped → reconnecting, then polling; started again → live, then quiet', async () => {
  const data = dataDir();
  let server = await startServer({ data });
  const dash = await openDashboard(server, {
    client: { pollAfterMs: 2500, pollMs: 1500, backoffMaxMs: 2000 },
  });
  await live(dash);
  const port = server.port;
  await server.stop();
  // The first reconnect after a live stream is immediate: read the status
  // and its text together, while it says reconnecting.
  await until('reconnecting, shown as such', async () => {
    const [status, text] = await dash.page.evaluate(() => [
      document.getElementById('conn').dataset.status,
      document.getElementById('conn-text').textContent,
    ]);
    if (status !== 'reconnecting') return false;
    assert.match(text, /^Reconnecting( in \d+ s|…)$/);
    return true;
  });
  await until('polling', async () => (await dash.status()) === 'polling', 10000);
  const polled = dash.lists().length;
  await until('a poll tick lists', () => dash.lists().length > polled, 5000);
  server = await startServer({ data, port });
  await until('live again', async () => (await dash.status()) === 'live', 8000);
  await until('the page matches the server', () => inSync(dash, server));
  const [lists, streams] = [dash.lists().length, dash.streams().length];
  await sleep(4000);
  assert.equal(dash.lists().length, lists, 'no periodic list while live');
  assert.equal(dash.streams().length, streams, 'no reconnect while live');
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

test('8. the README picture renders (written under target/, `cargo xtask screenshot` refreshes docs/)', async () => {
  const server = await startServer();
  const dash = await openDashboard(server);
  await live(dash);
  const out = join(repo, 'target', 'e2e');
  mkdirSync(out, { recursive: true });
  await screenshotScene(server, dash, join(out, 'screenshot.png'));
  assert.equal(await dash.page.title(), '(1) Tidings');
  await dash.close();
  await server.stop();
});
