import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Machine } from '../model/index.ts';
import { checksHealthGate } from './checks-health-gate.ts';
import type { HealthOutcome } from './health-gate.ts';
import { exitMachine, openDeployHarness, type DeployHarness, type StreamedEvent } from './testing/deploy-harness.ts';
import { fakeGate } from './testing/fake-gate.ts';

/**
 * The strategies, end to end through the API (POST …/deploys, then the events stream)
 * over a real SQLite store, with a fake agent moving intents to resting states and a
 * HealthGate the test decides.
 */

const V1 = `sha256:${'a'.repeat(64)}`;
const V2 = `sha256:${'b'.repeat(64)}`;

const TOML = (extra = ''): string => `
app = "web1"
primary_region = "local"
[deploy]
  wait_timeout = "20s"
${extra}
[processes]
  web = "httpd -f"
  worker = "sleep infinity"
[http_service]
  internal_port = 8080
  processes = ["web"]
`;

const failing: HealthOutcome = { outcome: 'timeout', checks: [{ name: 'http', status: 'critical', output: 'HTTP 500' }] };
const live = (machines: Machine[], group: string): Machine[] => machines.filter((m) => m.config.metadata?.['fly_process_group'] === group && m.config.metadata['aloft_role'] === undefined);
const digests = (machines: Machine[]): string[] => machines.map((m) => m.imageRef.digest);
const messages = (events: StreamedEvent[]): string => events.map((e) => `${e.type}: ${e.message}`).join('\n');

/** Adds `n` more started web Machines of the app as a deploy of v1 made them. */
async function addWebMachines(h: DeployHarness, app: string, n: number): Promise<void> {
  const [template] = live(await h.machines(app), 'web');
  for (let i = 0; i < n; i++) {
    const answer = await h.call('POST', `/apps/${app}/machines`, { config: template!.config, region: 'local' });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
  }
  // The fake agent starts them in a later turn: wait for it through the API's own wait.
  for (const m of live(await h.machines(app), 'web')) await h.call('GET', `/apps/${app}/machines/${m.id}/wait?state=started&timeout=10`);
}

async function withHarness(decide: Parameters<typeof fakeGate>[1], fn: (h: DeployHarness, gate: ReturnType<typeof fakeGate>) => Promise<void>): Promise<void> {
  let gate: ReturnType<typeof fakeGate> | undefined;
  const h = await openDeployHarness({ gate: (store) => (gate = fakeGate(store, decide)) });
  try {
    await h.createApp('web1');
    await fn(h, gate!);
  } finally {
    await h.close();
  }
}

describe('deploy strategies', () => {
  test('a first rolling deploy creates one healthy Machine per process group, as release v1', async () => {
    await withHarness(undefined, async (h, gate) => {
      const { release, events, final } = await h.deploy('web1', TOML());
      assert.equal(release['version'], 1);
      assert.equal(release['status'], 'pending');
      assert.equal(final['status'], 'succeeded', messages(events));
      assert.equal(final['image_digest'], V1);
      const machines = await h.machines('web1');
      assert.equal(live(machines, 'web').length, 1);
      assert.equal(live(machines, 'worker').length, 1);
      assert.ok(machines.every((m) => m.state === 'started' && m.config.metadata?.['aloft_release'] === '1'));
      assert.equal(gate.calls.length, 2, 'each new Machine was health-gated');
      assert.deepEqual(events.map((e) => e.type).filter((t, i, a) => a.indexOf(t) === i), ['plan', 'machine', 'health', 'lease', 'done']);
      assert.equal(events.at(-1)!.status, 'succeeded');
      assert.deepEqual(events.map((e) => e.seq), events.map((_, i) => i + 1), 'events are numbered in order');
    });
  });

  test('rolling respects max_unavailable: batches of 2, each healthy before the next begins', async () => {
    await withHarness(undefined, async (h) => {
      await h.deploy('web1', TOML());
      await addWebMachines(h, 'web1', 4);
      const before = live(await h.machines('web1'), 'web').map((m) => m.id);
      const { events, final } = await h.deploy('web1', TOML('  max_unavailable = 2'), { image: 'ok-image-2' });
      assert.equal(final['status'], 'succeeded', messages(events));
      const batches = events.filter((e) => e.type === 'phase' && e['phase'] === 'batch').map((e) => e['machines'] as string[]);
      assert.deepEqual(batches.map((b) => b.length), [2, 2, 2], 'five web Machines and the worker, two at a time');
      // No Machine of a batch is touched before every Machine of the batch before it is healthy.
      for (let i = 1; i < batches.length; i++) {
        const firstUpdate = events.findIndex((e) => e.type === 'machine' && e['step'] === 'update' && batches[i]!.includes(e.machine ?? ''));
        for (const id of batches[i - 1]!) {
          const healthy = events.findIndex((e) => e.type === 'health' && e['healthy'] === true && e.machine === id);
          assert.ok(healthy !== -1 && healthy < firstUpdate, `${id} of batch ${i} was healthy before batch ${i + 1} began\n${messages(events)}`);
        }
      }
      const after = live(await h.machines('web1'), 'web');
      assert.deepEqual(after.map((m) => m.id), before, 'updated in place: the same Machines');
      assert.deepEqual(new Set(digests(after)), new Set([V2]));
    });
  });

  test('immediate updates every Machine at once with no health wait', async () => {
    await withHarness(undefined, async (h, gate) => {
      await h.deploy('web1', TOML());
      const calls = gate.calls.length;
      const { final, events } = await h.deploy('web1', TOML(), { image: 'ok-image-2', strategy: 'immediate' });
      assert.equal(final['status'], 'succeeded', messages(events));
      assert.equal(final['strategy'], 'immediate');
      assert.equal(gate.calls.length, calls, 'no check was waited for');
      assert.equal(events.filter((e) => e['step'] === 'update').length, 2);
    });
  });

  test('canary: one extra Machine first, destroyed after; then every Machine updated in place', async () => {
    await withHarness(undefined, async (h) => {
      await h.deploy('web1', TOML());
      const before = (await h.machines('web1')).map((m) => m.id).sort();
      const { final, events } = await h.deploy('web1', TOML(), { image: 'ok-image-2', strategy: 'canary' });
      assert.equal(final['status'], 'succeeded', messages(events));
      const created = events.find((e) => e['step'] === 'create');
      assert.match(created!.message, /created canary/);
      const destroyed = events.findIndex((e) => e['step'] === 'destroy' && e.machine === created!.machine);
      const firstUpdate = events.findIndex((e) => e['step'] === 'update');
      assert.ok(destroyed !== -1 && destroyed < firstUpdate, messages(events));
      const after = await h.machines('web1');
      assert.deepEqual(after.map((m) => m.id).sort(), before, 'the canary is gone; the Machines are the same');
      assert.deepEqual(new Set(digests(after)), new Set([V2]));
    });
  });

  test('a failed canary leaves every old Machine untouched, and the canary is destroyed', async () => {
    await withHarness((m) => (m.config.metadata?.['aloft_role'] === 'canary' ? failing : { outcome: 'passing' }), async (h) => {
      await h.deploy('web1', TOML());
      const before = await h.machines('web1');
      const { final, events } = await h.deploy('web1', TOML(), { image: 'ok-image-2', strategy: 'canary' });
      assert.equal(final['status'], 'failed');
      assert.match(String(final['reason']), /canary|must start and pass its checks within 20s: got still failing: http: critical \(HTTP 500\)/);
      assert.ok(events.some((e) => e.type === 'logs' && (e['lines'] as string[]).includes(`line 3 of ${e.machine}`)), 'the canary’s last log lines are shown');
      assert.equal(events.filter((e) => e['step'] === 'update').length, 0);
      const after = await h.machines('web1');
      assert.deepEqual(after.map((m) => [m.id, m.instanceId, m.state, m.imageRef.digest]), before.map((m) => [m.id, m.instanceId, 'started', V1]));
    });
  });

  test('bluegreen: a full green set, healthy, routing switched, then blue stopped and destroyed', async () => {
    await withHarness(undefined, async (h) => {
      await h.deploy('web1', TOML());
      const blue = await h.machines('web1');
      const { final, events } = await h.deploy('web1', TOML(), { image: 'ok-image-2', strategy: 'bluegreen' });
      assert.equal(final['status'], 'succeeded', messages(events));
      const green = await h.machines('web1');
      assert.equal(green.length, 2);
      assert.ok(green.every((m) => !blue.some((b) => b.id === m.id) && m.imageRef.digest === V2 && m.state === 'started'));
      const switched = events.findIndex((e) => e['phase'] === 'switch');
      const lastHealthy = events.map((e) => e['healthy'] === true).lastIndexOf(true);
      const firstBlueGone = events.findIndex((e) => e['step'] === 'destroy');
      assert.ok(lastHealthy < switched && switched < firstBlueGone, messages(events));
      for (const b of blue) {
        const record = await h.store.getMachine(b.id);
        assert.equal(record?.state, 'destroyed');
        assert.equal(record?.cordoned, true, 'cordoned before it was stopped');
      }
    });
  });

  test('bluegreen: when a green fails, every green is destroyed and blue keeps serving untouched', async () => {
    let greens = 0;
    await withHarness((m) => (m.config.metadata?.['aloft_release'] === '2' && ++greens === 2 ? failing : { outcome: 'passing' }), async (h) => {
      await h.deploy('web1', TOML());
      const blue = await h.machines('web1');
      const { final, events } = await h.deploy('web1', TOML(), { image: 'ok-image-2', strategy: 'bluegreen' });
      assert.equal(final['status'], 'failed');
      assert.ok(events.some((e) => e['phase'] === 'green-failed'), messages(events));
      const after = await h.machines('web1');
      assert.deepEqual(after.map((m) => [m.id, m.instanceId, m.state, m.cordoned ?? false]), blue.map((m) => [m.id, m.instanceId, 'started', false]));
      const created = events.filter((e) => e['step'] === 'create').map((e) => e.machine!);
      assert.equal(created.length, 2);
      for (const id of created) assert.equal((await h.store.getMachine(id))?.state, 'destroyed');
    });
  });

  test('a process group dropped from the config has its Machines destroyed', async () => {
    await withHarness(undefined, async (h) => {
      await h.deploy('web1', TOML());
      const worker = live(await h.machines('web1'), 'worker')[0]!;
      const { final } = await h.deploy('web1', TOML().replace('  worker = "sleep infinity"\n', ''));
      assert.equal(final['status'], 'succeeded');
      assert.equal((await h.store.getMachine(worker.id))?.state, 'destroyed');
      assert.equal((await h.machines('web1')).length, 1);
    });
  });

  test('a VM size change is shown in the plan before any Machine is touched', async () => {
    await withHarness(undefined, async (h) => {
      await h.deploy('web1', TOML());
      const { events } = await h.deploy('web1', `${TOML()}\n[[vm]]\n  size = "shared-cpu-2x"\n`);
      const change = events.findIndex((e) => e.type === 'plan' && /VM size of .* \[web\] changes: shared 1x 256MB -> shared 2x 512MB/.test(e.message));
      const firstStep = events.findIndex((e) => e.type === 'machine');
      assert.ok(change !== -1 && change < firstStep, messages(events));
      assert.ok((await h.machines('web1')).every((m) => m.config.guest?.cpus === 2));
    });
  });
});

describe('exit during checks', () => {
  test('a Machine that exits while its checks run fails the deploy at once, with its exit code and last log lines (Fly #2653)', async () => {
    // The real gate (agent/checks) over the store; the fake agent makes every v2 Machine exit 3 right after it starts.
    const h = await openDeployHarness({ gate: checksHealthGate, onStart: (m) => (m.imageRef.digest === V2 ? { exitCode: 3 } : undefined) });
    try {
      await h.createApp('web1');
      const first = await h.deploy('web1', TOML());
      assert.equal(first.final['status'], 'succeeded', messages(first.events));
      const started = Date.now();
      // wait_timeout 60s and checks that never pass: only the exit can end this early.
      const { final, events } = await h.deploy('web1', TOML('  wait_timeout = "60s"\n[checks.alive]\n  type = "tcp"\n  port = 8080\n  interval = "1s"').replace('  wait_timeout = "20s"\n', ''), { image: 'ok-image-2' });
      assert.ok(Date.now() - started < 15_000, 'it did not wait out the 60 s');
      assert.equal(final['status'], 'failed');
      assert.match(String(final['reason']), /must keep running through its start and checks: got it stopped with exit code 3/);
      assert.match(String(final['reason']), /line 3 of/);
      const done = events.at(-1)!;
      assert.equal(done.type, 'done');
      assert.equal(done['code'], 'DEPLOY_FAILED');
      assert.equal(events.filter((e) => e['step'] === 'update').length, 1, 'the rollout stopped at the first Machine');
    } finally {
      await h.close();
    }
  });
});

describe('Machines at rest and volumes', () => {
  test('a Machine stopped on purpose takes the new config and stays stopped; one that crashed is started on it', async () => {
    await withHarness(undefined, async (h) => {
      await h.deploy('web1', TOML());
      await addWebMachines(h, 'web1', 1);
      const [stoppedByUser, crashed] = live(await h.machines('web1'), 'web');
      assert.equal((await h.call('POST', `/apps/web1/machines/${stoppedByUser!.id}/stop`)).status, 200);
      await h.call('GET', `/apps/web1/machines/${stoppedByUser!.id}/wait?state=stopped&instance_id=${stoppedByUser!.instanceId}&timeout=10`);
      await exitMachine(h.store, crashed!.id, 1);
      const { final, events } = await h.deploy('web1', TOML(), { image: 'ok-image-2' });
      assert.equal(final['status'], 'succeeded', messages(events));
      const after = new Map((await h.machines('web1')).map((m) => [m.id, m]));
      assert.deepEqual([after.get(stoppedByUser!.id)!.state, after.get(stoppedByUser!.id)!.imageRef.digest], ['stopped', V2]);
      assert.deepEqual([after.get(crashed!.id)!.state, after.get(crashed!.id)!.imageRef.digest], ['started', V2]);
      assert.match(events.find((e) => e.machine === stoppedByUser!.id && e['step'] === 'update')!.message, /stopped on purpose and stays stopped/);
    });
  });

  const VOLUME_TOML = 'app = "web1"\nprimary_region = "local"\n[mounts]\n  source = "data"\n  destination = "/data"\n';

  test('a new Machine that mounts a volume gets a free one of that name; an update keeps its volume', async () => {
    await withHarness(undefined, async (h) => {
      const volume = await h.call('POST', '/apps/web1/volumes', { name: 'data', size_gb: 1, region: 'local' });
      assert.equal(volume.status, 200, JSON.stringify(volume.body));
      const { final } = await h.deploy('web1', VOLUME_TOML);
      assert.equal(final['status'], 'succeeded');
      const [machine] = await h.machines('web1');
      assert.deepEqual(machine!.config.mounts, [{ path: '/data', name: 'data', volume: volume.body['id'] }]);
      assert.equal((await h.store.getVolume(String(volume.body['id'])))?.attachedMachineId, machine!.id);
      await h.deploy('web1', VOLUME_TOML, { image: 'ok-image-2' });
      const [updated] = await h.machines('web1');
      assert.deepEqual([updated!.id, updated!.config.mounts?.[0]?.volume], [machine!.id, volume.body['id']]);
    });
  });

  test('without a free volume, or with a strategy that needs a second Machine per volume, the deploy is refused up front', async () => {
    await withHarness(undefined, async (h) => {
      const none = await h.startDeploy('web1', VOLUME_TOML);
      assert.deepEqual([none.status, none.body.code], [422, 'DEPLOY_FAILED']);
      assert.match(none.body.error!, /must have a free volume named "data" in local to mount at \/data: got none \(create one: aloft volumes create data --app web1\)/);
      await h.call('POST', '/apps/web1/volumes', { name: 'data', size_gb: 1, region: 'local' });
      await h.deploy('web1', VOLUME_TOML);
      for (const strategy of ['bluegreen', 'canary']) {
        const refused = await h.startDeploy('web1', VOLUME_TOML, { strategy });
        assert.deepEqual([refused.status, refused.body.code], [400, 'INVALID_ARGUMENT']);
        assert.match(refused.body.error!, new RegExp(`'deploy.strategy' must be rolling or immediate when process group app's Machines mount a volume .*: got ${strategy}`));
      }
    });
  });
});
