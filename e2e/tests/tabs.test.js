// Three tabs of one browser hold one stream at the server: one leads (Web
// Locks) and relays to the others (BroadcastChannel). When the leader
// closes, another takes over and every remaining tab keeps up.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  api, cleanup, inSync, metric, newContext, openDashboard, sleep, startServer, until,
} from './harness.js';

after(cleanup);

test('three tabs share one stream and survive the leader closing', async () => {
  const server = await startServer({ args: ['--heartbeat', '1s'] });
  const context = await newContext();
  const tabs = [];
  for (let i = 0; i < 3; i += 1) {
    // Opened with the token once; the cookie serves the others.
    tabs.push(await openDashboard(server, { context, token: i === 0 }));
  }
  for (const tab of tabs) {
    await until('live in every tab', async () => (await tab.status()) === 'live');
  }
  await until('one stream at the server', async () => (await metric(server, 'tidings_subscribers')) === 1);
  const roles = await Promise.all(tabs.map((t) => t.role()));
  assert.deepEqual([...roles].sort(), ['follower', 'follower', 'leader'], `roles: ${roles}`);
  assert.equal(tabs.reduce((n, t) => n + t.streams().length, 0), 1, 'one EventSource request in all');

  const first = await api(server, 'POST', '/api/tasks', { command: 'sleep 30', name: 'seen by all' });
  for (const tab of tabs) await tab.page.locator(`.task[data-id="${first.id}"]`).waitFor();

  const leader = tabs[roles.indexOf('leader')];
  const rest = tabs.filter((t) => t !== leader);
  await leader.close();
  const closedAt = Date.now();
  await until('a new leader', async () => (await Promise.all(rest.map((t) => t.role()))).includes('leader'), 5000);
  await until('one stream at the server again', async () =>
    (await metric(server, 'tidings_subscribers')) === 1, 5000);
  const tookOver = Date.now() - closedAt;
  const second = await api(server, 'POST', '/api/tasks', { command: 'true', name: 'after the takeover' });
  for (const tab of rest) {
    await tab.page.locator(`.task[data-id="${second.id}"][data-status="completed"]`).waitFor({ timeout: 5000 });
    await until('every remaining tab matches the server', () => inSync(tab, server));
    assert.equal(await tab.status(), 'live');
  }
  assert.ok(tookOver < 5000, `took over after ${tookOver} ms`);
  await sleep(200);
  assert.equal(await metric(server, 'tidings_subscribers'), 1, 'still one stream');
  for (const tab of rest) assert.deepEqual(tab.errors, []);
  await context.close();
  await server.stop();
});
