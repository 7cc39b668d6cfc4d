// `cargo xtask bench-dashboard`: how much main-thread time the dashboard
// spends per applied event, with 1,000 tasks listed and 200 events/s
// arriving (renames: each a `task.updated` the store applies and the list
// patches). Real `tidings` (release), real Chromium; Chrome's own
// `Performance.getMetrics` counts the main thread's task time. A benchmark:
// it prints figures and asserts nothing.
import { api, cleanup, openDashboard, sleep, startServer, until } from '../tests/harness.js';

const TASKS = 1000;
const RATE = 200; // events per second
const SECONDS = 10;

const server = await startServer();
try {
  const ids = [];
  for (let i = 0; i < TASKS; i += 50) {
    const batch = await Promise.all(Array.from({ length: Math.min(50, TASKS - i) }, (_, j) =>
      api(server, 'POST', '/api/tasks', { command: 'true', name: `task ${i + j}` })));
    ids.push(...batch.map((t) => t.id));
  }
  const dash = await openDashboard(server);
  await until('every task on the page', () =>
    dash.page.evaluate((n) => globalThis.tidings?.tasks.size === n, TASKS), 60000);
  if (process.env.BENCH_CSS) await dash.page.addStyleTag({ content: process.env.BENCH_CSS });
  await sleep(1500); // the tasks finish; their last events land
  await dash.page.evaluate(() => {
    globalThis.applied = 0;
    globalThis.tidings.tasks.onChange((changes) => { globalThis.applied += changes.length; });
  });
  const cdp = await dash.context.newCDPSession(dash.page);
  await cdp.send('Performance.enable');
  const metrics = async () => Object.fromEntries(
    (await cdp.send('Performance.getMetrics')).metrics.map((m) => [m.name, m.value]));
  const profiling = Boolean(process.env.BENCH_PROFILE);
  if (profiling) { await cdp.send('Profiler.enable'); await cdp.send('Profiler.start'); }
  const before = await metrics();
  const started = Date.now();
  let sent = 0;
  const inflight = new Set();
  for (let tick = 0; tick < SECONDS * 10; tick += 1) {
    for (let k = 0; k < RATE / 10; k += 1) {
      const id = ids[(sent * 7919) % ids.length];
      const p = api(server, 'POST', `/api/tasks/${id}/rename`, { name: `renamed ${sent}` })
        .catch(() => {}).finally(() => inflight.delete(p));
      inflight.add(p);
      sent += 1;
    }
    const due = started + (tick + 1) * 100;
    await sleep(Math.max(0, due - Date.now()));
  }
  await Promise.all(inflight);
  const wall = (Date.now() - started) / 1000;
  await sleep(1000);
  const after = await metrics();
  if (profiling) {
    const { profile } = await cdp.send('Profiler.stop');
    const self = new Map();
    const dt = profile.timeDeltas;
    const byId = new Map(profile.nodes.map((n) => [n.id, n]));
    profile.samples.forEach((id, i) => {
      const f = byId.get(id).callFrame;
      const key = `${f.functionName || '(anon)'} ${f.url.split('/').pop()}:${f.lineNumber}`;
      self.set(key, (self.get(key) || 0) + (dt[i] || 0));
    });
    for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 15)) {
      console.log(`  ${(v / 1000).toFixed(0).padStart(6)} ms  ${k}`);
    }
  }
  const applied = await dash.page.evaluate(() => globalThis.applied);
  const task = (after.TaskDuration - before.TaskDuration) * 1000;
  const script = (after.ScriptDuration - before.ScriptDuration) * 1000;
  const layout = (after.LayoutDuration - before.LayoutDuration) * 1000;
  const style = (after.RecalcStyleDuration - before.RecalcStyleDuration) * 1000;
  const per = (ms) => (applied ? (ms * 1000 / applied).toFixed(1) : 'n/a');
  console.log(`dashboard bench: ${TASKS} tasks, ${sent} renames sent in ${wall.toFixed(1)} s `
    + `(${(sent / wall).toFixed(0)}/s), ${applied} changes applied`);
  console.log(`main thread: ${task.toFixed(0)} ms busy of ${(wall * 1000 + 1000).toFixed(0)} ms `
    + `(${(100 * task / (wall * 1000 + 1000)).toFixed(1)}%); per applied event: ${per(task)} µs `
    + `(script ${per(script)} µs, style ${per(style)} µs, layout ${per(layout)} µs)`);
  await dash.close();
} finally {
  await cleanup();
}
