import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { buildHelloImage } from '../../examples/hello/build.ts';
import type { ApiClient, MachineView } from '../../src/cli/api-client.ts';
import { httpGet, type HttpGetResult } from '../../src/lib/http-get.ts';
import { TEST_GUEST_CACHE, testGuestKernel } from '../../src/runtime/microvm/test-kernel.ts';
import { startTestPlatform, type TestPlatform } from './platform-process.ts';

// The platform child inherits this: the guest kernel is fetched once per host, not per test.
process.env['ALOFT_GUEST_CACHE'] ??= TEST_GUEST_CACHE;
const guest = await testGuestKernel();
const qemu = spawnSync('sh', ['-c', 'command -v qemu-system-x86_64'], { stdio: 'ignore' }).status === 0;
const skip = !qemu ? 'qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)' : guest.skip;

/**
 * The example app as a QEMU microVM, driven as a user would: `aloft machine run
 * --driver microvm`, served through the proxy, exec'd into, suspended and resumed
 * through the API (memory saved to disk, the VM gone meanwhile), then destroyed with
 * nothing left behind.
 */
describe('microvm: aloft machine run --driver microvm → proxy → suspend → resume', { timeout: 300_000, skip }, () => {
  let harness: TestPlatform | undefined;
  let client: ApiClient;
  let machine: MachineView;

  const get = (): Promise<HttpGetResult> => httpGet(`http://127.0.0.1:${harness!.platform.options.proxyPort}/`, { host: 'hello.localhost' });
  const aloft = (...args: string[]) =>
    spawnSync(process.execPath, [join(import.meta.dirname, '..', '..', 'bin', 'aloft.js'), ...args], {
      encoding: 'utf8',
      env: { ...process.env, ALOFT_API_URL: `http://127.0.0.1:${harness!.platform.options.apiPort}`, ALOFT_API_TOKEN: harness!.platform.token },
    });

  /** The first 200 through the proxy within `ms`, and how long it took. */
  const firstOk = async (ms = 30_000): Promise<{ response: HttpGetResult; ms: number }> => {
    const started = Date.now();
    let last = '';
    while (Date.now() - started < ms) {
      const response = await get().catch((err: Error) => ({ status: 0, body: err.message, headers: {} }));
      if (response.status === 200) return { response, ms: Date.now() - started };
      last = `${response.status} ${response.body}`;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`no 200 through the proxy within ${ms} ms; last: ${last}\n${harness!.platform.output}`);
  };

  /** QEMU processes whose command line names this platform's data dir. */
  const qemus = (): number[] =>
    readdirSync('/proc')
      .filter((p) => /^\d+$/.test(p))
      .filter((pid) => {
        try {
          const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
          return cmdline.startsWith('qemu-system') || cmdline.includes('/qemu-system') ? cmdline.includes(harness!.dataDir) : false;
        } catch {
          return false;
        }
      })
      .map(Number);

  before(async () => {
    harness = await startTestPlatform('vm');
    client = harness.client;
    await client.post('/apps', { app_name: 'hello', org_slug: 'personal' });
  });

  after(async () => {
    await harness?.close();
  });

  test('aloft machine run --driver microvm boots the image as a VM and records it started', async () => {
    const image = await buildHelloImage(join(harness!.dataDir, 'hello-image'));
    const run = aloft('machine', 'run', image, '--app', 'hello', '--port', '8080', '--driver', 'microvm', '--env', 'GREETING=hi from a VM', '--json');
    assert.equal(run.status, 0, `${run.stderr}\n${harness!.platform.output}`);
    machine = JSON.parse(run.stdout) as MachineView;
    harness!.machineIds.add(machine.id);
    assert.equal(machine.state, 'started', JSON.stringify(machine.events));
    assert.equal((machine.config as { guest?: { driver?: string } }).guest?.driver, 'microvm');
    assert.equal(qemus().length, 1, 'one QEMU runs the Machine');
    const cached = readdirSync(join(harness!.dataDir, 'images', 'ext4'));
    assert.deepEqual(cached, [`${machine.image_ref.digest.slice('sha256:'.length)}.ext4`], "the image's disk is built once per digest and copied per Machine");
  });

  test('the proxy serves the page from inside the VM, with its environment', async () => {
    const { response, ms } = await firstOk();
    console.log(`# first 200 after started: ${ms} ms`);
    assert.match(response.body, /hi from a VM/);
    assert.match(response.body, new RegExp(machine.id), 'FLY_MACHINE_ID shows');
  });

  test('exec runs beside the app inside the VM, through the guest channel', async () => {
    const result = await client.post<{ stdout: string; exit_code: number }>(`/apps/hello/machines/${machine.id}/exec`, { command: ['/bin/busybox', 'cat', '/proc/1/comm'] });
    assert.equal(result.exit_code, 0);
    assert.notEqual(result.stdout.trim(), '', 'a process table of its own: a VM, not the host');
    const uname = await client.post<{ stdout: string }>(`/apps/hello/machines/${machine.id}/exec`, { command: ['/bin/busybox', 'uname', '-r'] });
    assert.match(uname.stdout, /cloud-amd64/, 'the guest kernel, not the host one');
  });

  test('suspend saves the VM to disk (no QEMU left running); start restores it and it serves again', async () => {
    await client.post(`/apps/hello/machines/${machine.id}/suspend`, {});
    await client.get(`/apps/hello/machines/${machine.id}/wait?state=suspended&timeout=60`);
    const suspended = await client.get<MachineView>(`/apps/hello/machines/${machine.id}`);
    const event = suspended.events.find((e) => e.type === 'suspend');
    assert.equal(event?.request?.['how'], 'checkpointed', JSON.stringify(suspended.events));
    assert.deepEqual(qemus(), [], 'the VM is gone while suspended');
    assert.equal((await get()).status, 503);

    const started = Date.now();
    await client.post(`/apps/hello/machines/${machine.id}/start`, {});
    const { response } = await firstOk();
    const resumeMs = Date.now() - started;
    console.log(`# start from suspended → first 200 through the proxy: ${resumeMs} ms`);
    assert.match(response.body, new RegExp(machine.id));
    const resumed = await client.get<MachineView>(`/apps/hello/machines/${machine.id}`);
    assert.ok(resumed.events.some((e) => e.type === 'start' && e.request?.['how'] === 'restored'), JSON.stringify(resumed.events));
  });

  test('destroy leaves no QEMU, netns or Machine dir behind', async () => {
    const destroyed = aloft('machine', 'destroy', machine.id, '--app', 'hello', '--force');
    assert.equal(destroyed.status, 0, destroyed.stderr);
    await client.get(`/apps/hello/machines/${machine.id}/wait?state=destroyed&timeout=60`);
    assert.deepEqual(qemus(), []);
    const netns = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout;
    assert.doesNotMatch(netns, new RegExp(`aloft-${machine.id}`));
    assert.deepEqual(readdirSync(join(harness!.dataDir, 'microvm')).filter((d) => d === machine.id), []);
  });
});
