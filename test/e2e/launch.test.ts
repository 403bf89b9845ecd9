import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { httpGet } from '../../src/lib/http-get.ts';
import { runAloft } from '../cli/cli-runner.ts';
import { startTestPlatform, type TestPlatform } from './platform-process.ts';

/**
 * `aloft launch --deploy` from a directory holding only a static site to a page served
 * through the proxy: launch detects the site, writes its Dockerfile and aloft.toml,
 * creates the app, and runs `aloft deploy`, which builds the Dockerfile with buildah
 * from the platform registry's seeded busybox and rolls out a Machine under gVisor.
 */
describe('launch: a static site from a bare directory to a served page', { timeout: 420_000 }, () => {
  let harness: TestPlatform;
  let env: Record<string, string>;
  let site: string;

  before(async () => {
    harness = await startTestPlatform('lnch');
    env = {
      ALOFT_API_URL: `http://127.0.0.1:${harness.platform.options.apiPort}`,
      ALOFT_API_TOKEN: harness.platform.token,
      ALOFT_REGISTRY_URL: `http://127.0.0.1:${harness.platform.options.registryPort}`,
      ALOFT_DATA_DIR: harness.dataDir,
    };
    const seeded = await runAloft(['images', 'seed', '--only', 'busybox'], env);
    assert.equal(seeded.code, 0, seeded.stderr);
    site = join(harness.dataDir, 'src', 'brochure');
    mkdirSync(join(site, 'public'), { recursive: true });
    writeFileSync(join(site, 'public', 'index.html'), '<h1>launched by aloft</h1>\n');
  });

  after(async () => {
    // The deploy's Machines: found by the app, so their netns are removed by name.
    const machines = await harness?.client.get<{ id: string }[]>('/apps/brochure/machines').catch(() => []);
    for (const m of machines ?? []) harness.machineIds.add(m.id);
    await harness?.close();
  });

  test('launch --deploy builds, deploys and serves it', async () => {
    const began = Date.now();
    const run = await runAloft(['launch', '--deploy'], env, site);
    console.log(`# launch --deploy took ${Date.now() - began} ms`);
    assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}\n${harness.platform.output}`);
    assert.match(run.stdout, /Found a static site \(public\/index\.html\)/);
    assert.match(run.stdout, /Created app brochure in org personal; wrote Dockerfile and aloft\.toml/);
    const page = await httpGet(`http://127.0.0.1:${harness.platform.options.proxyPort}/`, { host: 'brochure.localhost', timeoutMs: 60_000 });
    assert.equal(page.status, 200, page.body);
    assert.equal(page.body, '<h1>launched by aloft</h1>\n');
  });
});
