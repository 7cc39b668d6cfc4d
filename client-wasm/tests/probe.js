// Instruments the browser APIs the driver uses, so the tests observe what it
// really does: timers set and not yet fired or cleared, listeners added and
// not removed, every EventSource created and its state.
export function install() {
  if (globalThis.__probe) return;
  const p = {
    rawSetTimeout: window.setTimeout.bind(window),
    timers: new Set(),
    listeners: [],
    sources: [],
  };
  const set = window.setTimeout.bind(window);
  const clear = window.clearTimeout.bind(window);
  window.setTimeout = (fn, ms, ...args) => {
    const id = set(() => { p.timers.delete(id); fn(...args); }, ms);
    p.timers.add(id);
    return id;
  };
  window.clearTimeout = (id) => { p.timers.delete(id); clear(id); };
  const add = EventTarget.prototype.addEventListener;
  const remove = EventTarget.prototype.removeEventListener;
  EventTarget.prototype.addEventListener = function (type, fn, opts) {
    p.listeners.push({ target: this, type, fn });
    return add.call(this, type, fn, opts);
  };
  EventTarget.prototype.removeEventListener = function (type, fn, opts) {
    const i = p.listeners.findIndex(l => l.target === this && l.type === type && l.fn === fn);
    if (i >= 0) p.listeners.splice(i, 1);
    return remove.call(this, type, fn, opts);
  };
  const Native = window.EventSource;
  window.EventSource = class extends Native {
    constructor(url, init) {
      super(url, init);
      p.sources.push(this);
    }
  };
  globalThis.__probe = p;
}

export function reset() {
  const p = globalThis.__probe;
  p.timers.clear();
  p.listeners.length = 0;
  p.sources.length = 0;
}

export function pendingTimers() { return globalThis.__probe.timers.size; }

/** Listeners still attached to the page (window/document) or to an EventSource. */
export function liveListeners() {
  return globalThis.__probe.listeners.filter(
    l => l.target === window || l.target === document || l.target instanceof window.EventSource,
  ).length;
}

export function sourceUrls() { return globalThis.__probe.sources.map(s => s.url); }

export function openSources() {
  return globalThis.__probe.sources.filter(s => s.readyState !== 2).length;
}

export function sleep(ms) {
  return new Promise(resolve => globalThis.__probe.rawSetTimeout(resolve, ms));
}

/** A recorder: `fn` to hand to the API, `calls` to read back. */
export function recorder() {
  const r = { calls: [] };
  r.fn = (x) => { r.calls.push(x); };
  return r;
}

export function pageEvents() {
  window.dispatchEvent(new Event('online'));
  window.dispatchEvent(new Event('offline'));
  window.dispatchEvent(new Event('online'));
  document.dispatchEvent(new Event('visibilitychange'));
}
