// The dashboard as the README shows it: a few tasks in every state, one
// waiting for input and selected. Used by the end-to-end test (which writes
// the picture under target/) and by `cargo xtask screenshot` (docs/).
import { api, sleep, until } from './harness.js';

export async function screenshotScene(server, dash, path) {
  const make = (name, command) => api(server, 'POST', '/api/tasks', { name, command });
  const backup = await make('nightly backup', 'sleep 600');
  await make('test suite', "sh -c 'echo running 42 tests; echo test result: ok. 42 passed'");
  await make('lint', "sh -c 'echo error: 3 warnings treated as errors >&2; exit 3'");
  await make('build: tidings (release)', "sh -c 'echo Compiling tidings v0.1.0; sleep 600'");
  const deploy = await make('deploy to production',
    `sh -c 'echo Built artifact 3f9c2e1; echo Staging checks passed.; read -p "Deploy to production? [y/N] " x'`);
  await api(server, 'DELETE', `/api/tasks/${backup.id}`);
  await dash.page.locator(`.task[data-id="${deploy.id}"][data-status="waiting-for-input"]`)
    .waitFor({ timeout: 10000 });
  await dash.page.locator(`.task[data-id="${backup.id}"][data-status="killed"]`).waitFor();
  await dash.page.click(`.task[data-id="${deploy.id}"]`);
  await until('the prompt shows', async () =>
    (await dash.page.textContent('#detail-output')).includes('Deploy to production?'));
  await until('the finished tasks settle', async () =>
    (await dash.page.locator('.task[data-status="completed"]').count()) === 2);
  await sleep(2000); // elapsed times worth reading
  await dash.page.screenshot({ path });
}
