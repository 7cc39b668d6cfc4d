// Shared pieces of the end-to-end tests: a real `tidings` process per
// scenario (spawned with flags, bound to port 0 unless a port is given), a
// real headless Chromium through playwright-core, and a request log per page.
import { spawn, spawnSync } from 'node:child_process';
import { createServer, connect } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
export const repo = resolve(here, '..', '..');
const BIN = process.env.TIDINGS_BIN || join(repo, 'target', 'debug', 'tidings');
const WWW = process.env.TIDINGS_WWW || join(repo, 'www');
export const TOKEN = 'e2e-token-0123456789abcdef';

const children = new Set();
const dirs = new Set();

/** A fresh data directory, removed by `cleanup()`. */
export function dataDir() {
  const dir = mkdtempSync(join(tmpdir(), 'tidings-e2e-'));
  dirs.add(dir);
  return dir;
}

/**
 * Starts `tidings serve` and resolves once it prints its address.
 * `args` are extra flags (e.g. ['--stream-lifetime', '3s']).
 */
let allowsHosts;
/** Whether this `tidings` checks the Host header (then a proxy's port must be allowed). */
function checksHost() {
  allowsHosts ??= String(spawnSync(BIN, ['serve', '--help']).stdout).includes('--allowed-host');
  return allowsHosts;
}

export function startServer({ data = dataDir(), port = 0, args = [], allowHosts = [] } = {}) {
  const hostArgs = checksHost() ? allowHosts.flatMap((h) => ['--allowed-host', h]) : [];
  const proc = spawn(BIN, [
    'serve', '--addr', `127.0.0.1:${port}`, '--data', data, '--token', TOKEN, '--www', WWW,
    '--reconcile-interval', '300ms', ...hostArgs, ...args,
  ], { cwd: data, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(proc);
  let stderr = '';
  proc.stderr.on('data', (d) => { stderr += d; });
  return new Promise((resolveStart, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`tidings did not start: ${stderr}`)), 15000);
    proc.on('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`cannot run ${BIN} (build it: cargo build -p host-native): ${e.message}`));
    });
    proc.on('exit', (code) => {
      children.delete(proc);
      clearTimeout(timer);
      reject(new Error(`tidings exited (${code}) before listening: ${stderr}`));
    });
    proc.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/listening on http:\/\/127\.0\.0\.1:(\d+)/);
      if (m) {
        clearTimeout(timer);
        const p = Number(m[1]);
        resolveStart({
          proc, data, port: p, base: `http://127.0.0.1:${p}`, args,
          stop: () => stopProcess(proc),
        });
      }
    });
  });
}

/** SIGTERM (graceful: streams get `end: shutdown`), then waits for exit. */
export function stopProcess(proc) {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((done) => {
    const kill = setTimeout(() => proc.kill('SIGKILL'), 5000);
    proc.once('exit', () => { clearTimeout(kill); children.delete(proc); done(); });
    proc.kill('SIGTERM');
  });
}

/** Calls the API with the bearer token. */
export async function api(server, method, path, body) {
  const res = await fetch(server.base + path, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const json = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

let browser;

export async function launch() {
  browser ??= await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
    // Playwright turns the back/forward cache off; the bfcache scenario needs it.
    ignoreDefaultArgs: ['--disable-back-forward-cache'],
  });
  return browser;
}

/**
 * A TCP proxy in front of `target` (a port). `blackhole()` makes every live
 * stream connection open now (the ones that carried `GET /api/events`) keep
 * its sockets open but pass no more bytes either way — a dead NAT entry, a
 * sleeping laptop's Wi-Fi. New connections pass as usual. `port` is fixed
 * on the first listen; `retarget(port)` follows a restarted server.
 */
/** Proxies still listening: closed by `cleanup`, so a failed test never
 * leaves a socket that keeps the test process alive. */
const proxies = new Set();

export function startProxy(target, port = 0) {
  const pairs = new Set();
  let upstreamPort = target;
  const server = createServer((down) => {
    const up = connect(upstreamPort, '127.0.0.1');
    const pair = { down, up, dead: false, stream: false };
    pairs.add(pair);
    down.on('data', (chunk) => {
      if (!pair.stream && /^GET \/api\/events[ ?]/.test(chunk.toString('latin1', 0, 32))) pair.stream = true;
      if (!pair.dead) up.write(chunk);
    });
    up.on('data', (chunk) => { if (!pair.dead) down.write(chunk); });
    const end = () => { pairs.delete(pair); down.destroy(); up.destroy(); };
    down.on('error', end); up.on('error', end); down.on('close', end); up.on('close', end);
  });
  return new Promise((resolveListen) => {
    server.listen(port, '127.0.0.1', () => {
      const p = server.address().port;
      const handle = {
        port: p,
        base: `http://127.0.0.1:${p}`,
        /** Blackholes the live streams open now; returns how many. */
        blackhole() {
          let n = 0;
          for (const pair of pairs) if (pair.stream && !pair.dead) { pair.dead = true; n += 1; }
          return n;
        },
        streams: () => [...pairs].filter((x) => x.stream && !x.dead).length,
        retarget(portNow) { upstreamPort = portNow; },
        close() {
          proxies.delete(handle);
          for (const pair of pairs) { pair.down.destroy(); pair.up.destroy(); }
          return new Promise((r) => server.close(r));
        },
      };
      proxies.add(handle);
      resolveListen(handle);
    });
  });
}

/** A Prometheus value from `/metrics` (first sample of `name`). */
export async function metric(server, name) {
  const res = await fetch(`${server.base}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
  const text = await res.text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return line ? Number(line.split(' ').pop()) : NaN;
}

/**
 * Opens the dashboard in a fresh context (no cookie). `token: false` opens it
 * without credentials. `client` overrides the wasm client's options.
 * Returns { page, requests, lists(), streams() } where requests are logged as
 * they leave the browser.
 */
export async function openDashboard(server, { token = true, client, viewport, context: shared } = {}) {
  const b = await launch();
  const context = shared
    || await b.newContext({ viewport: viewport || { width: 1280, height: 800 } });
  if (client && !shared) {
    await context.addInitScript((opts) => { globalThis.tidingsClientOptions = opts; }, client);
  }
  const page = await context.newPage();
  const requests = [];
  const errors = [];
  page.on('request', (r) => requests.push({ method: r.method(), url: new URL(r.url()), at: Date.now() }));
  page.on('pageerror', (e) => errors.push(e));
  await page.goto(`${server.base}/${token ? `?token=${TOKEN}` : ''}`);
  const api = (path) => requests.filter((r) => r.method === 'GET' && r.url.pathname === path);
  return {
    page,
    context,
    requests,
    errors,
    lists: () => api('/api/tasks'),
    streams: () => api('/api/events'),
    status: () => page.getAttribute('#conn', 'data-status'),
    role: () => page.evaluate(() => globalThis.tidings?.live.role),
    close: () => (shared ? page.close() : context.close()),
  };
}

/** Polls `fn` until it returns a truthy value (or throws after `ms`). */
export async function until(what, fn, ms = 10000) {
  const start = Date.now();
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() - start > ms) throw new Error(`timed out after ${ms} ms waiting for ${what} (last: ${last})`);
    await sleep(50);
  }
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The page's task store as {id: {status, version}}. */
export async function pageTasks(page) {
  return page.evaluate(() => Object.fromEntries(
    globalThis.tidings.tasks.list().map((t) => [t.id, { status: t.status, version: t.version }])));
}

/** The server's list as {id: {status, version}}. */
export async function serverTasks(server) {
  const list = await api(server, 'GET', '/api/tasks');
  return Object.fromEntries(list.tasks.map((t) => [t.id, { status: t.status, version: t.version }]));
}

/** Both sides as canonical JSON (sorted ids), to compare page and server. */
export function canonical(tasks) {
  return JSON.stringify(Object.keys(tasks).sort().map((id) => [id, tasks[id].status, tasks[id].version]));
}

/** Whether the page's store holds exactly what the server lists. */
export async function inSync(dash, server) {
  return canonical(await pageTasks(dash.page)) === canonical(await serverTasks(server));
}

/** A browser context of its own: the tabs opened in it are one browser profile's. */
export async function newContext(client) {
  const b = await launch();
  const context = await b.newContext({ viewport: { width: 1280, height: 800 } });
  if (client) {
    await context.addInitScript((opts) => { globalThis.tidingsClientOptions = opts; }, client);
  }
  return context;
}

export async function cleanup() {
  for (const proxy of [...proxies]) await proxy.close();
  for (const proc of [...children]) await stopProcess(proc);
  if (browser) await browser.close();
  browser = undefined;
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  dirs.clear();
}
