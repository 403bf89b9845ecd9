import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { buildHelloImage } from '../../examples/hello/build.ts';
import { prepareNodeHello } from '../../examples/node-hello/prepare.ts';
import { httpGet } from '../../src/lib/http-get.ts';
import { runAloft, type Run } from '../cli/cli-runner.ts';
import { startTestPlatform, type TestPlatform } from './platform-process.ts';

/**
 * `aloft deploy` end to end: one `aloft up` (runsc), the hello example's image, a
 * fly.toml with two process groups (web behind the proxy with an HTTP check, and a
 * worker), deployed with each strategy in turn through the CLI, then a deploy whose
 * Machine exits during its checks (auto_rollback), then `aloft releases rollback`; and
 * apart, a Node app built from its directory and pushed, and a group with a volume.
 * Each release sets its own GREETING, so the page the proxy serves names the version.
 */

interface MachineView {
  id: string;
  state: string;
  instance_id: string;
  config: { metadata?: Record<string, string>; env?: Record<string, string> };
}

interface ReleaseView {
  version: number;
  status: string;
  strategy: string;
  rollback_of?: number;
}

const APP = 'dply';

function flyToml(release: string, options: { entrypoint?: string; autoRollback?: boolean } = {}): string {
  return `
app = "${APP}"
primary_region = "local"
kill_signal = "SIGTERM"
kill_timeout = "5s"
${options.entrypoint ? `[experimental]\n  entrypoint = ["/bin/sh", "-c", "${options.entrypoint}"]\n` : ''}
[env]
  GREETING = "${release}"

[deploy]
  wait_timeout = "60s"
${options.autoRollback ? '  auto_rollback = true\n' : ''}
[processes]
  web = "web"
  worker = "worker"

[http_service]
  internal_port = 8080
  processes = ["web"]
  [[http_service.checks]]
    path = "/"
    interval = "500ms"
    timeout = "2s"
`;
}

describe('aloft deploy: every strategy, a failing deploy rolled back, and releases rollback, with real Machines', { timeout: 600_000 }, () => {
  let harness: TestPlatform;
  let imagePath: string;
  let tomlPath: string;
  let env: Record<string, string>;

  const machines = async (): Promise<MachineView[]> => {
    const all = await harness.client.get<MachineView[]>(`/apps/${APP}/machines`);
    for (const m of all) harness.machineIds.add(m.id);
    return all;
  };
  const group = (all: MachineView[], name: string): MachineView[] => all.filter((m) => m.config.metadata?.['fly_process_group'] === name);
  const page = async (): Promise<string> => (await httpGet(`http://127.0.0.1:${harness.platform.options.proxyPort}/`, { host: `${APP}.localhost`, timeoutMs: 5000 })).body;

  /** Writes the config for `release` and runs `aloft deploy` with it. */
  const deploy = async (release: string, args: string[] = [], options: Parameters<typeof flyToml>[1] = {}): Promise<Run> => {
    await writeFile(tomlPath, flyToml(release, options));
    const run = await runAloft(['deploy', '--config', tomlPath, '--image', imagePath, ...args], env);
    for (const m of await machines()) harness.machineIds.add(m.id);
    return run;
  };

  /** Every app Machine started, on `version`, and the proxy serving that release's page. */
  const assertLive = async (version: number, greeting: string): Promise<MachineView[]> => {
    const all = await machines();
    assert.equal(group(all, 'web').length, 1, JSON.stringify(all));
    assert.equal(group(all, 'worker').length, 1);
    for (const m of all) {
      assert.equal(m.config.metadata?.['aloft_release'], String(version), `${m.id} runs release v${version}`);
      assert.equal(m.config.env?.['GREETING'], greeting);
    }
    // An immediate deploy ends before its Machines have started: wait for them as a user would.
    for (const m of all) await harness.client.get(`/apps/${APP}/machines/${m.id}/wait?state=started&instance_id=${m.instance_id}&timeout=60`);
    const deadline = Date.now() + 30_000;
    let last = '';
    while (Date.now() < deadline) {
      last = await page().catch((err: Error) => err.message);
      if (last.startsWith(`${greeting}!`)) return all;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.fail(`the proxy did not serve release ${greeting}: last answer ${last}`);
  };

  before(async () => {
    harness = await startTestPlatform('dpl');
    imagePath = await buildHelloImage(join(harness.dataDir, 'hello-image'));
    tomlPath = join(harness.dataDir, 'fly.toml');
    env = { ALOFT_API_URL: `http://127.0.0.1:${harness.platform.options.apiPort}`, ALOFT_API_TOKEN: harness.platform.token };
    await harness.client.post('/apps', { app_name: APP, org_slug: 'personal' });
  });

  after(async () => {
    await harness?.close();
  });

  test('a first deploy creates one Machine per process group and the proxy serves it', async () => {
    const run = await deploy('release-1');
    assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
    assert.match(run.stdout, /release v1: rolling deploy of .* web: update 0, create 1; worker: update 0, create 1/);
    assert.match(run.stdout, /✔ dply release v1 is live/);
    await assertLive(1, 'release-1');
  });

  for (const [version, strategy] of [[2, 'rolling'], [3, 'immediate'], [4, 'canary'], [5, 'bluegreen']] as const) {
    test(`${strategy === 'immediate' ? 'an' : 'a'} ${strategy} deploy puts release v${version} on every Machine`, async () => {
      const before = await machines();
      const run = await deploy(`release-${version}`, ['--strategy', strategy]);
      assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
      assert.match(run.stdout, new RegExp(`release v${version}: ${strategy} deploy`));
      const after = await assertLive(version, `release-${version}`);
      const sameIds = after.map((m) => m.id).sort().join() === before.map((m) => m.id).sort().join();
      // Blue-green replaces the Machines; every other strategy updates them in place, each with a new instance.
      assert.equal(sameIds, strategy !== 'bluegreen');
      for (const m of after) assert.ok(!before.some((b) => b.instance_id === m.instance_id), `${m.id} has a new instance`);
      if (strategy === 'canary') assert.match(run.stdout, /created canary .* \[web\]/);
      if (strategy === 'bluegreen') assert.match(run.stdout, /switching routing/);
    });
  }

  test('without --image, aloft deploy builds the config’s directory (a Node app), pushes it to the platform registry and deploys that', async () => {
    const dir = await prepareNodeHello(join(harness.dataDir, 'node-src'));
    const toml = join(dir, 'fly.toml');
    await writeFile(toml, 'app = "dnode"\nprimary_region = "local"\n[http_service]\n  internal_port = 8080\n  [[http_service.checks]]\n    path = "/"\n    interval = "500ms"\n');
    await harness.client.post('/apps', { app_name: 'dnode', org_slug: 'personal' });
    const registry = `127.0.0.1:${harness.platform.options.registryPort}`;
    const run = await runAloft(['deploy', '--config', toml, '--registry', `http://${registry}`, '--data-dir', harness.dataDir], env);
    for (const m of await harness.client.get<MachineView[]>('/apps/dnode/machines')) harness.machineIds.add(m.id);
    assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
    assert.match(run.stdout, new RegExp(`pushed ${registry.replace(/\./g, '\\.')}/personal/dnode:deploy-\\w+`));
    const [release] = (await harness.client.get<{ releases: { image_ref: string; status: string }[] }>('/apps/dnode/releases')).releases;
    assert.match(release!.image_ref, new RegExp(`^${registry}/personal/dnode:deploy-`));
    const answer = await httpGet(`http://127.0.0.1:${harness.platform.options.proxyPort}/built`, { host: 'dnode.localhost', timeoutMs: 5000 });
    assert.equal(answer.status, 200, answer.body);
    assert.equal((JSON.parse(answer.body) as { path: string }).path, '/built', 'node answered from inside the Machine');
  });

  test('a process group with a volume: the first deploy mounts the free volume, a redeploy keeps it and its data', async () => {
    await harness.client.post('/apps', { app_name: 'dvol', org_slug: 'personal' });
    const volume = await harness.client.post<{ id: string }>('/apps/dvol/volumes', { name: 'data', size_gb: 1, region: 'local' });
    const toml = join(harness.dataDir, 'dvol.toml');
    const config = (greeting: string): string =>
      `app = "dvol"\nprimary_region = "local"\n[experimental]\n  entrypoint = ["/bin/sh", "-c", "echo $GREETING >> /data/log; exec /bin/sh /entrypoint.sh"]\n[env]\n  GREETING = "${greeting}"\n[mounts]\n  source = "data"\n  destination = "/data"\n[http_service]\n  internal_port = 8080\n  [[http_service.checks]]\n    path = "/"\n    interval = "500ms"\n`;
    const ids: string[] = [];
    for (const greeting of ['one', 'two']) {
      await writeFile(toml, config(greeting));
      const run = await runAloft(['deploy', '--config', toml, '--image', imagePath], env);
      const all = await harness.client.get<(MachineView & { config: { mounts?: { volume?: string }[] } })[]>('/apps/dvol/machines');
      for (const m of all) harness.machineIds.add(m.id);
      assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
      assert.equal(all.length, 1);
      assert.equal(all[0]!.config.mounts?.[0]?.volume, volume.id);
      ids.push(all[0]!.id);
    }
    assert.equal(ids[0], ids[1], 'updated in place');
    // The Machine wrote each run's greeting to its volume, which the host mounts while it runs.
    const log = join(harness.dataDir, 'volumes', 'mnt', volume.id, 'log');
    const deadline = Date.now() + 20_000;
    let text = '';
    while (Date.now() < deadline && text !== 'one\ntwo\n') {
      text = await readFile(log, 'utf8').catch(() => '');
      if (text !== 'one\ntwo\n') await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(text, 'one\ntwo\n', 'the second release found the first one’s data');
  });

  test('a Machine that exits during its checks fails the deploy fast, with its logs, and auto_rollback restores v5 as v7', async () => {
    const started = Date.now();
    // The new release's command prints a line and exits 3.
    const run = await deploy('release-bad', [], { entrypoint: 'echo booting the bad release; exit 3', autoRollback: true });
    assert.equal(run.code, 1, run.stdout);
    assert.ok(Date.now() - started < 50_000, 'it did not wait out wait_timeout (60 s) before rolling back');
    assert.match(run.stderr, /release v6 of dply failed and was rolled back: .*must keep running through its start and checks: got it/);
    assert.match(run.stdout, /booting the bad release/, 'the Machine’s last log lines are shown');
    assert.match(run.stdout, /auto_rollback: redeploying release v5/);
    await assertLive(7, 'release-5');
  });

  test('aloft releases rollback 2 redeploys release v2 as v8, and releases lists them all', async () => {
    const run = await runAloft(['releases', 'rollback', '2', '--app', APP], env);
    assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
    assert.match(run.stdout, /rolling dply back to release v2 as release v8/);
    await assertLive(8, 'release-2');
    const listed = await runAloft(['releases', '--app', APP, '--json'], env);
    assert.equal(listed.code, 0, listed.stderr);
    const releases = JSON.parse(listed.stdout) as ReleaseView[];
    assert.deepEqual(
      releases.map((r) => [r.version, r.status, r.strategy, r.rollback_of ?? null]),
      [[8, 'succeeded', 'rolling', 2], [7, 'succeeded', 'rolling', 5], [6, 'rolled_back', 'rolling', null], [5, 'succeeded', 'bluegreen', null], [4, 'succeeded', 'canary', null], [3, 'succeeded', 'immediate', null], [2, 'succeeded', 'rolling', null], [1, 'succeeded', 'rolling', null]],
    );
  });
});
