import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { connect } from 'node:http2';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { buildHelloImage } from '../../examples/hello/build.ts';
import { helloMachineConfig } from '../../examples/hello/app.ts';
import type { ApiClient, MachineView } from '../../src/cli/api-client.ts';
import { pushLayout } from '../../src/image/registry/test-fixture.ts';
import { httpGet, type HttpGetResult } from '../../src/lib/http-get.ts';
import { PlatformProcess, startTestPlatform, type TestPlatform } from './platform-process.ts';

/**
 * The walking skeleton, end to end, as a user drives it: `aloft up` in a child process,
 * the example image run as a Machine under gVisor, served through the proxy, stopped,
 * started, the platform killed and restarted while the Machine runs, then destroyed.
 */
describe('walking skeleton: aloft up → machine → proxy', { timeout: 240_000 }, () => {
  let dataDir: string;
  let platform: PlatformProcess;
  let client: ApiClient;
  let imagePath: string;
  let machineIds: Set<string>;

  const get = (path = '/'): Promise<HttpGetResult> => httpGet(`http://127.0.0.1:${platform.options.proxyPort}${path}`, { host: 'hello.localhost' });

  /** The first 200 through the proxy, bounded: a started Machine may need a moment to listen. */
  const firstOk = async (): Promise<HttpGetResult> => {
    const deadline = Date.now() + 20_000;
    let last = '';
    while (Date.now() < deadline) {
      const response = await get().catch((err: Error) => ({ status: 0, body: err.message, headers: {} }));
      if (response.status === 200) return response;
      last = `${response.status} ${response.body}`;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`no 200 through the proxy within 20s; last: ${last}\n${platform.output}`);
  };

  /** The sandboxes runsc has under the platform's state root. */
  const sandboxes = (): string[] => {
    const listed = spawnSync('runsc', ['--root', join(dataDir, 'runsc'), 'list', '--quiet'], { encoding: 'utf8' });
    assert.equal(listed.status, 0, listed.stderr);
    return listed.stdout.split('\n').filter(Boolean);
  };

  const aloft = (...args: string[]) =>
    spawnSync(process.execPath, [join(import.meta.dirname, '..', '..', 'bin', 'aloft.js'), ...args], {
      encoding: 'utf8',
      env: { ...process.env, ALOFT_API_URL: `http://127.0.0.1:${platform.options.apiPort}`, ALOFT_API_TOKEN: platform.token },
    });

  let harness: TestPlatform | undefined;

  before(async () => {
    harness = await startTestPlatform('e2e');
    ({ platform, client, dataDir, machineIds } = harness);
    imagePath = await buildHelloImage(join(dataDir, 'hello-image'));
  });

  after(async () => {
    await harness?.close();
  });

  let machine: MachineView;

  test('creates the app and runs the example image as a Machine under runsc', async () => {
    await client.post('/apps', { app_name: 'hello', org_slug: 'personal' });
    machine = await client.post<MachineView>('/apps/hello/machines', { config: helloMachineConfig(imagePath) });
    machineIds.add(machine.id);
    assert.match(machine.id, /^[0-9a-f]{14}$/);
    assert.match(machine.private_ip, /^fdaa:/);
    await client.get(`/apps/hello/machines/${machine.id}/wait?state=started&timeout=60`);
  });

  test('serves the page from inside the Machine through the proxy, with its environment', async () => {
    const { body, headers } = await firstOk();
    assert.match(body, new RegExp(machine.id), 'FLY_MACHINE_ID shows');
    assert.match(body, /hello/, 'FLY_APP_NAME shows');
    assert.match(body, /local/, 'FLY_REGION shows');
    assert.ok(headers['fly-request-id'], 'the proxy adds Fly-Request-Id');
  });

  test("the proxy's TLS port serves it over HTTP/2, with a certificate for the app's name", async () => {
    const tlsPort = Number(/and https:\/\/127\.0\.0\.1:(\d+)/.exec(platform.output)?.[1]);
    assert.ok(tlsPort > 0, `aloft up names its TLS port: ${platform.output}`);
    const session = connect(`https://127.0.0.1:${tlsPort}`, { servername: 'hello.localhost', rejectUnauthorized: false });
    try {
      const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const stream = session.request({ ':path': '/', ':authority': 'hello.localhost' });
        let body = '';
        let status = 0;
        stream.on('response', (headers) => (status = Number(headers[':status'])));
        stream.on('data', (chunk: Buffer) => (body += chunk.toString()));
        stream.on('end', () => resolve({ status, body }));
        stream.on('error', reject);
        stream.end();
      });
      assert.equal(status, 200);
      assert.match(body, new RegExp(machine.id));
      const cert = (session.socket as TLSSocket).getPeerCertificate();
      assert.match(cert.subjectaltname ?? '', /DNS:hello\.localhost/);
      assert.equal(session.alpnProtocol, 'h2');
    } finally {
      session.close();
    }
  });

  test('the CLI lists the Machine, human and JSON', () => {
    const human = aloft('machine', 'list', '--app', 'hello');
    assert.equal(human.status, 0, human.stderr);
    assert.match(human.stdout, new RegExp(`${machine.id}.*started`));
    const json = aloft('machine', 'list', '--app', 'hello', '--json');
    assert.deepEqual((JSON.parse(json.stdout) as MachineView[]).map((m) => m.state), ['started']);
  });

  test('stop: the proxy answers 503 with a clear body', async () => {
    const stop = aloft('machine', 'stop', machine.id, '--app', 'hello');
    assert.equal(stop.status, 0, stop.stderr);
    const response = await get();
    assert.equal(response.status, 503);
    assert.match(response.body, /hello/);
    const events = (await client.get<MachineView>(`/apps/hello/machines/${machine.id}`)).events;
    assert.equal(events[0]?.type, 'exit');
  });

  test('start again: served again', async () => {
    const start = aloft('machine', 'start', machine.id, '--app', 'hello');
    assert.equal(start.status, 0, start.stderr);
    assert.match((await firstOk()).body, new RegExp(machine.id));
  });

  test('the platform killed and restarted while the Machine runs: still served, still one Machine', async () => {
    await platform.stop('SIGKILL');
    // The sandbox outlives the agent: it serves even while nothing of aloft runs.
    await platform.start();
    const machines = await client.get<MachineView[]>('/apps/hello/machines');
    assert.deepEqual(machines.map((m) => [m.id, m.state]), [[machine.id, 'started']]);
    assert.match((await firstOk()).body, new RegExp(machine.id));
    assert.deepEqual(sandboxes(), [machine.id], 'exactly one sandbox: adopted, not started twice');
    const events = (await client.get<MachineView>(`/apps/hello/machines/${machine.id}`)).events;
    assert.equal(events.filter((e) => e.type === 'start' && e.status === 'started').length, 2, 'one start per user start, none from the restart');
  });

  test('bad input: a missing image path is one clear line, exit 1, and no Machine is left', () => {
    const result = aloft('machine', 'run', '/no/such/image', '--app', 'hello');
    assert.equal(result.status, 1);
    assert.match(result.stderr, /\/no\/such\/image/);
    assert.equal(result.stderr.trim().split('\n').length, 1, 'one line, no stack trace');
    const list = JSON.parse(aloft('machine', 'list', '--app', 'hello', '--json').stdout) as MachineView[];
    assert.equal(list.length, 1);
  });

  test('an image pushed to the platform registry runs by its registry ref (aloft machine run)', async () => {
    const host = `127.0.0.1:${platform.options.registryPort}`;
    const index = JSON.parse(await readFile(join(imagePath, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
    const digest = index.manifests[0]?.digest ?? '';
    await pushLayout(`http://${host}`, 'personal/hello', 'latest', imagePath, digest, { authorization: `Bearer ${platform.token}` });
    const run = aloft('machine', 'run', `${host}/personal/hello:latest`, '--app', 'hello', '--json');
    assert.equal(run.status, 0, run.stderr);
    const pulled = JSON.parse(run.stdout) as MachineView;
    machineIds.add(pulled.id);
    assert.equal(pulled.state, 'started');
    assert.deepEqual(pulled.image_ref, { registry: host, repository: 'personal/hello', tag: 'latest', digest, labels: {} });
    const destroy = aloft('machine', 'destroy', pulled.id, '--app', 'hello', '--force');
    assert.equal(destroy.status, 0, destroy.stderr);
    assert.deepEqual(sandboxes(), [machine.id]);
  });

  test('a second aloft up on the same data dir says so clearly and changes nothing', async () => {
    const second = new PlatformProcess(platform.options);
    await assert.rejects(second.start(), /already running/);
    assert.equal((await get()).status, 200);
  });

  test('destroy: the Machine, its sandbox and its network are gone', async () => {
    const destroy = aloft('machine', 'destroy', machine.id, '--app', 'hello', '--force');
    assert.equal(destroy.status, 0, destroy.stderr);
    assert.equal((await get()).status, 503);
    assert.equal(existsSync(`/var/run/netns/aloft-${machine.id}`), false);
    assert.deepEqual(sandboxes(), []);
    assert.equal((await client.get<MachineView>(`/apps/hello/machines/${machine.id}`)).state, 'destroyed');
    assert.deepEqual(await client.get<MachineView[]>('/apps/hello/machines'), []);
  });

  test('Ctrl-C stops the platform cleanly', async () => {
    assert.equal(await platform.stop('SIGINT'), 0);
    assert.match(platform.output, /aloft stopped/);
  });
});
