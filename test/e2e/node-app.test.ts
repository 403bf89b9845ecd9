import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { prepareNodeHello } from '../../examples/node-hello/prepare.ts';
import type { MachineView } from '../../src/cli/api-client.ts';
import { buildNodeApp } from '../../src/image/build/node-app.ts';
import { SKIP_WITHOUT_SKOPEO, skopeoWorkspace, type SkopeoWorkspace } from '../../src/image/registry/skopeo-fixture.ts';
import { httpGet, type HttpGetResult } from '../../src/lib/http-get.ts';
import { startTestPlatform, type TestPlatform } from './platform-process.ts';

const APP = 'node-hello';

/**
 * A Node.js app from source to a served request, as a user would do it without Docker:
 * build examples/node-hello into an OCI layout (buildNodeApp), push it with skopeo to
 * the platform's own registry, `aloft machine run` it by its registry ref under gVisor,
 * and GET it through the proxy: the answer comes from node inside the Machine.
 */
describe('node app: build without Docker → skopeo push → machine run → proxy', { timeout: 300_000, skip: SKIP_WITHOUT_SKOPEO }, () => {
  let harness: TestPlatform | undefined;
  let skopeo: SkopeoWorkspace | undefined;
  let layout: string;
  let digest: string;
  let machine: MachineView;

  const aloft = (...args: string[]) =>
    spawnSync(process.execPath, [join(import.meta.dirname, '..', '..', 'bin', 'aloft.js'), ...args], {
      encoding: 'utf8',
      env: { ...process.env, ALOFT_API_URL: `http://127.0.0.1:${harness!.platform.options.apiPort}`, ALOFT_API_TOKEN: harness!.platform.token },
    });

  const get = (): Promise<HttpGetResult> => httpGet(`http://127.0.0.1:${harness!.platform.options.proxyPort}/from-test`, { host: `${APP}.localhost` });

  before(async () => {
    harness = await startTestPlatform('node');
    skopeo = await skopeoWorkspace();
    const app = await prepareNodeHello(join(harness.dataDir, 'node-hello-src'));
    layout = join(harness.dataDir, 'node-hello-image');
    const started = Date.now();
    ({ digest } = await buildNodeApp(app, layout, { tag: 'v1' }));
    console.log(`# buildNodeApp(examples/node-hello): ${Date.now() - started} ms`);
  });

  after(async () => {
    await skopeo?.cleanUp();
    await harness?.close();
  });

  test('skopeo pushes the built layout to the platform registry with the API token', async () => {
    const host = `127.0.0.1:${harness!.platform.options.registryPort}`;
    await skopeo!.skopeo('copy', '--dest-tls-verify=false', '--dest-creds', `aloft:${harness!.platform.token}`, `oci:${layout}:v1`, `docker://${host}/personal/${APP}:v1`);
    const inspected = JSON.parse(await skopeo!.skopeo('inspect', '--tls-verify=false', '--creds', `aloft:${harness!.platform.token}`, `docker://${host}/personal/${APP}:v1`)) as { Digest: string; Layers: string[] };
    assert.equal(inspected.Digest, digest, 'the registry holds the very manifest built (skopeo kept it byte for byte)');
    assert.equal(inspected.Layers.length, 3);
  });

  test('aloft machine run starts it from the registry ref', async () => {
    const host = `127.0.0.1:${harness!.platform.options.registryPort}`;
    await harness!.client.post('/apps', { app_name: APP, org_slug: 'personal' });
    const run = aloft('machine', 'run', `${host}/personal/${APP}:v1`, '--app', APP, '--port', '8080', '--json');
    assert.equal(run.status, 0, `${run.stderr}\n${harness!.platform.output}`);
    machine = JSON.parse(run.stdout) as MachineView;
    harness!.machineIds.add(machine.id);
    assert.equal(machine.state, 'started', JSON.stringify(machine.events));
    assert.equal(machine.image_ref.digest, digest);
  });

  test('the proxy serves the answer of node inside the Machine', async () => {
    // A started Machine may need a moment before node listens: bounded retries, no sleep-and-hope.
    const deadline = Date.now() + 30_000;
    let response: HttpGetResult = { status: 0, body: '', headers: {} };
    while (Date.now() < deadline) {
      response = await get().catch((err: Error) => ({ status: 0, body: err.message, headers: {} }));
      if (response.status === 200) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(response.status, 200, `${response.body}\n${harness!.platform.output}`);
    const body = JSON.parse(response.body) as Record<string, unknown>;
    console.log(`# from the Machine: ${response.body.trim()}`);
    assert.equal(body['node'], process.version, 'the node that answered is the one the image carries');
    assert.equal(body['machine'], machine.id, 'FLY_MACHINE_ID from the platform');
    assert.equal(body['message'], `Hello from ${APP}!`, 'the greeting package from node_modules');
    assert.equal(body['uid'], 1000, 'runs as the image user, not root');
    assert.equal(body['env'], 'production');
    assert.equal(body['path'], '/from-test');
    assert.equal(body['hostname'], machine.id, "the Machine's own hostname (the sandbox's UTS namespace), not this host's");
    assert.ok(response.headers['fly-request-id'], 'it came through the proxy');
  });

  test('destroy: stopped and gone', async () => {
    const destroy = aloft('machine', 'destroy', machine.id, '--app', APP, '--force');
    assert.equal(destroy.status, 0, destroy.stderr);
    assert.equal((await get()).status, 503);
    assert.deepEqual(await harness!.client.get<MachineView[]>(`/apps/${APP}/machines`), []);
  });
});
