// A live stream whose connection stays open but passes no more bytes (a dead
// NAT entry, a sleeping laptop's Wi-Fi, a hung proxy): the page must notice
// from the missing heartbeats and show a task created meanwhile within three
// heartbeats. The proxy is in the test; the server and Chromium are real.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { api, cleanup, openDashboard, startProxy, startServer, until } from './harness.js';

after(cleanup);

const HEARTBEAT_MS = 1000;

test('a blackholed stream is dropped and a task created meanwhile shows within 3 heartbeats', async () => {
  // The page is served through the proxy, on a port of its own: that origin
  // must be one the server answers to (the DNS-rebinding guard).
  const server = await startServer({
    args: ['--heartbeat', `${HEARTBEAT_MS}ms`, '--retry', '100ms'],
    allowHosts: ['127.0.0.1'],
  });
  const proxy = await startProxy(server.port);
  const dash = await openDashboard({ base: proxy.base });
  await until('live', async () => (await dash.status()) === 'live');
  await until('the stream goes through the proxy', () => proxy.streams() === 1);
  const streamsBefore = dash.streams().length;

  assert.equal(proxy.blackhole(), 1, 'one live stream blackholed');
  const since = Date.now();
  const task = await api(server, 'POST', '/api/tasks', { command: 'sleep 30', name: 'made in the dark' });
  await dash.page.locator(`.task[data-id="${task.id}"]`).waitFor({ timeout: 3 * HEARTBEAT_MS + 2000 });
  const took = Date.now() - since;
  assert.ok(took <= 3 * HEARTBEAT_MS, `shown after ${took} ms, more than 3 heartbeats`);
  assert.ok(dash.streams().length > streamsBefore, 'a new stream was opened');
  const resumed = dash.streams().at(-1);
  assert.match(resumed.url.search, /last_event_id=/, `the new stream resumes: ${resumed.url}`);
  await until('live again', async () => (await dash.status()) === 'live');
  await dash.close();
  await proxy.close();
  await server.stop();
});
