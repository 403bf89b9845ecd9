import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { buildHelloImage } from '../../examples/hello/build.ts';
import { helloMachineConfig } from '../../examples/hello/app.ts';
import { waitForMachineHealthy } from '../../src/agent/checks/index.ts';
import type { MachineView } from '../../src/cli/api-client.ts';
import type { MachineConfig } from '../../src/model/index.ts';
import { openSqliteStore, type Store } from '../../src/store/index.ts';
import { runAloft } from '../cli/cli-runner.ts';
import { startTestPlatform, type TestPlatform } from './platform-process.ts';

/**
 * Machine health checks with real Machines: `aloft up` runs the hello example under
 * gVisor, its agent probes each Machine at its address on the host bridge, and the
 * statuses show in the API (Fly's `checks`), in `aloft machine status`, and to
 * waitForMachineHealthy, which this test runs against the platform's store file (the
 * store's watch follows another process's writes).
 */
describe('machine checks: the agent checks real Machines', { timeout: 300_000 }, () => {
  let harness: TestPlatform;
  let store: Store;
  let imagePath: string;

  const run = async (config: MachineConfig): Promise<MachineView> => {
    const machine = await harness.client.post<MachineView>('/apps/hello/machines', { config });
    harness.machineIds.add(machine.id);
    return machine;
  };

  before(async () => {
    harness = await startTestPlatform('chk');
    imagePath = await buildHelloImage(join(harness.dataDir, 'hello-image'));
    await harness.client.post('/apps', { app_name: 'hello', org_slug: 'personal' });
    store = await openSqliteStore({ path: join(harness.dataDir, 'aloft.db') });
  });

  after(async () => {
    await store?.close();
    await harness?.close();
  });

  test('a served Machine passes its http and tcp checks; the API and the CLI show them', async () => {
    const base = helloMachineConfig(imagePath);
    const config: MachineConfig = {
      ...base,
      checks: { listening: { type: 'tcp', port: 8080, interval: '1s', timeout: '1s' } },
      services: base.services!.map((s) => ({ ...s, checks: [{ type: 'http', path: '/', interval: '1s', timeout: '1s' }] })),
    };
    const machine = await run(config);
    const began = Date.now();
    const result = await waitForMachineHealthy(store, machine.id, { instanceId: machine.instance_id, timeoutMs: 60_000 });
    console.log(`# healthy ${Date.now() - began} ms after the create`);
    assert.equal(result.outcome, 'passing', JSON.stringify(result));

    const view = await harness.client.get<MachineView>(`/apps/hello/machines/${machine.id}`);
    assert.equal(view.state, 'started');
    const checks = view.checks ?? [];
    assert.deepEqual(checks.map((c) => [c.name, c.status]), [['listening', 'passing'], ['servicecheck-00-http-8080', 'passing']]);
    assert.equal(checks[0]!.output, 'Success');
    assert.match(checks[1]!.output, /^200 OK: Hello from aloft! app=hello/);
    assert.ok(!Number.isNaN(Date.parse(checks[1]!.updated_at)));

    const env = { ALOFT_API_URL: `http://127.0.0.1:${harness.platform.options.apiPort}`, ALOFT_API_TOKEN: harness.platform.token };
    const status = await runAloft(['machine', 'status', machine.id, '--app', 'hello'], env);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /Checks: 2 passing/);
    assert.match(status.stdout, /servicecheck-00-http-8080\s+passing\s+\S+\s+200 OK: Hello from aloft!/);
  });

  test('a check the Machine fails is critical, and the wait times out with it', async () => {
    const base = helloMachineConfig(imagePath);
    const config: MachineConfig = { ...base, checks: { missing: { type: 'http', port: 8080, path: '/nope', interval: '1s' } } };
    const machine = await run(config);
    const result = await waitForMachineHealthy(store, machine.id, { timeoutMs: 8_000 });
    assert.ok(result.outcome === 'timeout', JSON.stringify(result));
    assert.equal(result.state, 'started');
    assert.deepEqual(result.checks.map((c) => [c.name, c.status]), [['missing', 'critical']]);
    assert.match(result.checks[0]!.output, /^404 Not Found/);
  });

  test('a Machine that exits during its checks ends the wait at once, with its exit code', async () => {
    const base = helloMachineConfig(imagePath);
    // It exits 3 after a second, long before its check's 60 s grace period is over.
    const config: MachineConfig = {
      ...base,
      init: { entrypoint: ['/bin/sh', '-c', 'echo going down; sleep 1; exit 3'] },
      restart: { policy: 'no' },
      checks: { web: { type: 'http', port: 8080, path: '/', grace_period: '60s' } },
    };
    const machine = await run(config);
    const began = Date.now();
    const result = await waitForMachineHealthy(store, machine.id, { instanceId: machine.instance_id, timeoutMs: 120_000 });
    const tookMs = Date.now() - began;
    console.log(`# exit seen ${tookMs} ms after the create (timeout 120 s)`);
    assert.ok(result.outcome === 'exited', JSON.stringify(result));
    assert.equal(result.state, 'stopped');
    assert.equal(result.exitCode, 3);
    assert.equal(result.logsHint, `aloft machine logs ${machine.id} --app hello`);
    assert.ok(tookMs < 30_000, `answered in ${tookMs} ms, not at the timeout`);
  });
});
