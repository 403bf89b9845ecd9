import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { buildHelloImage } from '../../examples/hello/build.ts';
import { helloMachineConfig } from '../../examples/hello/app.ts';
import type { MachineView } from '../../src/cli/api-client.ts';
import type { MachineConfig } from '../../src/model/index.ts';
import { httpGet, type HttpGetResult } from '../../src/lib/http-get.ts';
import { startTestPlatform, type TestPlatform } from './platform-process.ts';

/**
 * Autostart and autostop with real Machines: `aloft up --autostop-interval 2s`, the
 * hello example under gVisor with `autostart` and `autostop` on its service. Served;
 * left idle, the proxy stops it (an event from the proxy); the next request starts it
 * again and is answered 200 by the Machine itself, without the client retrying.
 */
describe('autoscale: autostop stops an idle Machine, the next request autostarts it', { timeout: 420_000 }, () => {
  let harness: TestPlatform;
  let machine: MachineView;
  let imagePath: string;

  const get = (): Promise<HttpGetResult> =>
    httpGet(`http://127.0.0.1:${harness.platform.options.proxyPort}/`, { host: 'hello.localhost', timeoutMs: 60_000 });
  /** Fly's wait for `stopped` names the version: the Machine's (an autostop never changes it). */
  const waitStopped = (): Promise<unknown> =>
    harness.client.get(`/apps/hello/machines/${machine.id}/wait?state=stopped&instance_id=${machine.instance_id}&timeout=60`);
  const view = (): Promise<MachineView> => harness.client.get<MachineView>(`/apps/hello/machines/${machine.id}`);
  const proxyEvents = async (): Promise<string[]> =>
    (await view()).events.filter((e) => e.source === 'proxy').map((e) => `${e.type}:${e.status}`).reverse();

  before(async () => {
    harness = await startTestPlatform('auto', ['--autostop-interval', '2s']);
    imagePath = await buildHelloImage(join(harness.dataDir, 'hello-image'));
    await harness.client.post('/apps', { app_name: 'hello', org_slug: 'personal' });
    const base = helloMachineConfig(imagePath);
    const config: MachineConfig = { ...base, services: base.services!.map((s) => ({ ...s, autostart: true, autostop: 'stop' as const, min_machines_running: 0 })) };
    machine = await harness.client.post<MachineView>('/apps/hello/machines', { config });
    harness.machineIds.add(machine.id);
    await harness.client.get(`/apps/hello/machines/${machine.id}/wait?state=started&timeout=60`);
  });

  after(async () => {
    await harness?.close();
  });

  test('the started Machine serves through the proxy', async () => {
    // httpd may need a moment after `started` to listen; the proxy retries a just-started Machine itself.
    const response = await get();
    assert.equal(response.status, 200, `${response.body}\n${harness.platform.output}`);
    assert.match(response.body, new RegExp(machine.id));
  });

  test('left idle, autostop stops it, with an event from the proxy', async () => {
    const began = Date.now();
    await waitStopped();
    console.log(`# autostop stopped it ${Date.now() - began} ms after the last request (interval 2 s)`);
    assert.deepEqual(await proxyEvents(), ['stop:requested']);
    const response = await httpGet(`http://127.0.0.1:${harness.platform.options.proxyPort}/`, { host: 'nope.localhost' });
    assert.equal(response.status, 404, 'the proxy still answers');
  });

  test('the next request starts it again and gets 200 from the Machine', async () => {
    const began = Date.now();
    const response = await get();
    console.log(`# autostart: first answer ${Date.now() - began} ms after the request reached a stopped app`);
    assert.equal(response.status, 200, `${response.body}\n${harness.platform.output}`);
    assert.match(response.body, new RegExp(machine.id), 'answered by the Machine itself');
    assert.equal((await view()).state, 'started');
    assert.deepEqual(await proxyEvents(), ['stop:requested', 'start:requested']);
  });

  test('idle again, it is stopped again', async () => {
    await waitStopped();
    assert.deepEqual(await proxyEvents(), ['stop:requested', 'start:requested', 'stop:requested']);
  });

  test('autostop "suspend": an idle Machine is suspended, and a request resumes it', async () => {
    await harness.client.post('/apps', { app_name: 'sleepy', org_slug: 'personal' });
    const base = helloMachineConfig(imagePath);
    const config: MachineConfig = { ...base, services: base.services!.map((s) => ({ ...s, autostart: true, autostop: 'suspend' as const })) };
    const sleepy = await harness.client.post<MachineView>('/apps/sleepy/machines', { config });
    harness.machineIds.add(sleepy.id);
    const getSleepy = (): Promise<HttpGetResult> =>
      httpGet(`http://127.0.0.1:${harness.platform.options.proxyPort}/`, { host: 'sleepy.localhost', timeoutMs: 60_000 });
    await harness.client.get(`/apps/sleepy/machines/${sleepy.id}/wait?state=started&timeout=60`);
    assert.equal((await getSleepy()).status, 200);
    // runsc checkpoints only once the Machine's TCP counters were still for a minute
    // (runtime/oci-driver.ts), which the proxy's closed pool allows: up to three waits.
    for (let i = 0; ; i++) {
      const waited = await harness.client.get(`/apps/sleepy/machines/${sleepy.id}/wait?state=suspended&timeout=60`).then(
        () => true,
        (err: unknown) => (i < 2 ? false : Promise.reject(err as Error)),
      );
      if (waited) break;
    }
    const suspended = await harness.client.get<MachineView>(`/apps/sleepy/machines/${sleepy.id}`);
    const how = suspended.events.find((e) => e.type === 'suspend' && e.status === 'suspended')?.request?.['how'];
    console.log(`# autostop suspended it (${String(how)})`);
    const began = Date.now();
    const response = await getSleepy();
    console.log(`# autostart from suspended: first answer in ${Date.now() - began} ms`);
    assert.equal(response.status, 200, `${response.body}\n${harness.platform.output}`);
    assert.match(response.body, new RegExp(sleepy.id));
    const after = await harness.client.get<MachineView>(`/apps/sleepy/machines/${sleepy.id}`);
    assert.equal(after.state, 'started');
    assert.deepEqual(after.events.filter((e) => e.source === 'proxy').map((e) => `${e.type}:${e.status}`).reverse(), ['suspend:requested', 'start:requested']);
  });
});
