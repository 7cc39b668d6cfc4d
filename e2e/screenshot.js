// `cargo xtask screenshot`: refreshes the README picture (docs/screenshot.png)
// from a real `tidings` and Chromium. Tests never write tracked files; this
// explicit command does.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { cleanup, openDashboard, repo, startServer, until } from './tests/harness.js';
import { screenshotScene } from './tests/scene.js';

const server = await startServer();
try {
  const dash = await openDashboard(server);
  await until('live', async () => (await dash.status()) === 'live');
  mkdirSync(join(repo, 'docs'), { recursive: true });
  const path = join(repo, 'docs', 'screenshot.png');
  await screenshotScene(server, dash, path);
  console.log(`wrote ${path}`);
  await dash.close();
} finally {
  await cleanup();
}
