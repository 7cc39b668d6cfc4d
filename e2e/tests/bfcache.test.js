// Back/forward cache: a page restored from it re-checks its stream at once
// (its EventSource slept or was closed meanwhile) and shows what happened
// while it was away, with no reload.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { api, cleanup, openDashboard, startServer, until } from './harness.js';

after(cleanup);

test('a page restored from the back/forward cache catches up without a reload', async () => {
  const server = await startServer({ args: ['--heartbeat', '1s', '--retry', '200ms'] });
  const dash = await openDashboard(server);
  await dash.page.addInitScript(() => {
    addEventListener('pageshow', (e) => { globalThis.restored = e.persisted; });
  });
  await until('live', async () => (await dash.status()) === 'live');
  await dash.page.evaluate(() => { globalThis.marker = 'still the same document'; });
  // Leave for another page of the origin, change the world, come back.
  await dash.page.goto(`${server.base}/style.css`);
  const task = await api(server, 'POST', '/api/tasks', { command: 'sleep 30', name: 'made while away' });
  await dash.page.goBack({ waitUntil: 'commit' });
  const same = await dash.page.evaluate(() => globalThis.marker);
  assert.equal(same, 'still the same document', 'restored from the back/forward cache, not reloaded');
  await dash.page.locator(`.task[data-id="${task.id}"]`).waitFor({ timeout: 5000 });
  await until('live again', async () => (await dash.status()) === 'live', 5000);
  assert.deepEqual(dash.errors, []);
  await dash.close();
  await server.stop();
});
