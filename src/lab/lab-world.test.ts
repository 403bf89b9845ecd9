import { after, before, describe, it } from 'node:test';
import { tmpdir } from 'node:os';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { buildHelloImage } from '../../examples/hello/build.ts';
import type { MachineView } from '../cli/api-client.ts';
import { labDown } from './lab-down.ts';
import { labFail, labHeal } from './lab-faults.ts';
import { labUp } from './lab-up.ts';
import type { LabState } from './lab-state.ts';
import { labAloft, labGet, retryingClient } from './testing/lab-client.ts';

const run = promisify(execFile);
const APP = 'hello';
const REGIONS = ['ams', 'iad', 'sin'] as const;

/**
 * The world, end to end: a lab of three regions running the whole platform —
 * a 3-member etcd spread over them, the API and the registry, an agent per host with
 * real gVisor Machines, an `aloft proxy` per anycast edge reaching Machines over the
 * WireGuard backhaul — and what its users see when things go right and wrong.
 */
describe('aloft lab: the platform across three regions (anycast edges, etcd, agents, real Machines)', { timeout: 900_000 }, () => {
  const name = `w${randomBytes(3).toString('hex').slice(0, 5)}`;
  let state: LabState;
  const host = (): string => `${APP}.${state.platform!.domain}`;
  const machines = async (): Promise<MachineView[]> => JSON.parse(await labAloft(state, 'ams-h1', ['machine', 'list', '-a', APP, '--json'])) as MachineView[];
  const figures: Record<string, number> = {};
  /** Runs a new Machine in `region` (an API write), waits until that region's edge routes to it (the watch), then destroys it. */
  const runAndSeeRouted = async (region: string): Promise<void> => {
    const before = new Set((await machines()).map((m) => m.id));
    await labAloft(state, 'ams-h1', ['machine', 'run', `${new URL(state.platform!.registry.url).host}/personal/hello:1`, '-a', APP, '-p', '8080', '-r', region]);
    const added = (await machines()).find((m) => !before.has(m.id))!;
    assert.equal(added.state, 'started');
    // Two Machines in the region now: its edge balances over both, so the new one answers soon.
    let seen = false;
    for (let i = 0; i < 40 && !seen; i++) seen = (await labGet(state, region, host())).body.includes(`machine=${added.id}`);
    assert.ok(seen, `the ${region} edge routes to the new Machine ${added.id}`);
    await labAloft(state, 'ams-h1', ['machine', 'destroy', added.id, '-a', APP, '--force']);
  };

  before(async () => {
    state = await labUp({ name, regions: REGIONS.join(','), hostsPerRegion: 1 });
    const platform = state.platform!;
    // The example image, pushed to the lab's registry; every host pulls it from there.
    const image = await buildHelloImage(join(state.dir, 'hello-image'));
    const token = (await readFile(join(platform.api.dataDir, 'api-token'), 'utf8')).trim();
    const registry = new URL(platform.registry.url).host;
    await run('ip', ['netns', 'exec', platform.api.ns, 'skopeo', 'copy', '--quiet', '--dest-tls-verify=false', '--dest-creds', `aloft:${token}`, `oci:${image}:latest`, `docker://${registry}/personal/hello:1`]);
    await labAloft(state, 'ams-h1', ['apps', 'create', APP]);
    for (const region of REGIONS) {
      await labAloft(state, 'ams-h1', ['machine', 'run', `${registry}/personal/hello:1`, '-a', APP, '-p', '8080', '-r', region, '--autostart']);
    }
  });

  let failed = false;
  /** `it`, noting a failure: then the lab's logs are kept (copied out before `down` removes them) for whoever reads CI's output. */
  const step = (title: string, fn: () => Promise<void>): void => {
    it(title, async () => {
      try {
        await fn();
      } catch (err) {
        failed = true;
        throw err;
      }
    });
  };

  after(async () => {
    if (state !== undefined && Object.keys(figures).length > 0) console.log(`lab world figures: ${JSON.stringify(figures)}`);
    if (state !== undefined && failed) {
      const keep = join(tmpdir(), `aloft-lab-${name}-logs`);
      await mkdir(keep, { recursive: true });
      for (const file of (await readdir(state.dir)).filter((f) => f.endsWith('.log'))) await copyFile(join(state.dir, file), join(keep, file));
      console.log(`lab world: a step failed; the lab's logs are kept in ${keep}`);
    }
    await labDown(name).catch((err: unknown) => console.error('lab down failed', err));
  });

  step('gives a client near each region that region\'s edge (anycast, IPv4 and IPv6) and a Machine in its own region', async () => {
    for (const region of REGIONS) {
      for (const family of [4, 6] as const) {
        const answer = await labGet(state, region, host(), '/', family);
        assert.equal(answer.status, 200, JSON.stringify(answer));
        assert.equal(answer.edge, region, `${region} client, IPv${family}: answered by the ${answer.edge} edge`);
        assert.match(answer.body, new RegExp(`region=${region}\\b`), `${region} client, IPv${family}: ${answer.body}`);
      }
    }
  });

  step('answers a `fly-replay: region=iad` from the Machine in ams from iad (over the backhaul)', async () => {
    const answer = await labGet(state, 'ams', host(), '/cgi-bin/replay?region=iad');
    assert.equal(answer.status, 200, JSON.stringify(answer));
    assert.equal(answer.edge, 'ams', 'the ams edge took the request and replayed it');
    assert.match(answer.body, /region=iad\b/, answer.body);
  });

  step('wakes the stopped Machine in ams for an ams client instead of crossing the ocean to iad', async () => {
    const ams = (await machines()).find((m) => m.region === 'ams')!;
    await labAloft(state, 'ams-h1', ['machine', 'stop', ams.id, '-a', APP]);
    assert.equal((await machines()).find((m) => m.id === ams.id)?.state, 'stopped');
    const began = Date.now();
    const answer = await labGet(state, 'ams', host());
    figures['autostart_local_ms'] = Date.now() - began;
    assert.equal(answer.status, 200, JSON.stringify(answer));
    assert.match(answer.body, new RegExp(`machine=${ams.id} region=ams\\b`), answer.body);
    assert.equal((await machines()).find((m) => m.id === ams.id)?.state, 'started');
  });

  step('changes nothing visible when one etcd member is killed; without a quorum, Machines keep serving and the platform catches up after', async () => {
    await labFail(name, { kind: 'etcd', target: 'iad' });
    try {
      for (const region of REGIONS) assert.match((await labGet(state, region, host())).body, new RegExp(`region=${region}\\b`));
      // A write (through the API) and the watch (the edges learn of the new Machine) still work.
      await runAndSeeRouted('iad');

      // A second member down: no quorum, no writes. What runs keeps serving everywhere.
      await labFail(name, { kind: 'etcd', target: 'sin' });
      const quorumLostAt = Date.now();
      while (Date.now() - quorumLostAt < 5000) {
        for (const region of REGIONS) {
          const answer = await labGet(state, region, host());
          assert.equal(answer.status, 200, `${region} without a quorum: ${JSON.stringify(answer)}`);
          assert.match(answer.body, new RegExp(`region=${region}\\b`));
        }
      }
    } finally {
      await labHeal(name);
    }
    // Back: writes go through and are routed again (the agents and edges caught up).
    await runAndSeeRouted('sin');
    const stuck = (await machines()).filter((m) => m.state !== 'started' && m.state !== 'destroying');
    assert.deepEqual(stuck.map((m) => [m.id, m.state]), [], 'no Machine left stuck or failed by the outage');
  });

  step("moves an edge's clients to the next-nearest edge within a second when its proxy is killed, with no failed request for a retrying client", async () => {
    const client = retryingClient(state, 'ams', host(), 5000);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const killedAt = Date.now();
    await labFail(name, { kind: 'proxy', target: 'ams' });
    let requests: Awaited<typeof client>;
    try {
      requests = await client;
    } finally {
      await labHeal(name);
    }
    const failed = requests.filter((r) => r.status !== 200);
    assert.deepEqual(failed, [], 'every request was answered in the end');
    assert.ok(requests.some((r) => r.doneMs < killedAt && r.edge === 'ams'), 'served by the ams edge before');
    const moved = requests.find((r) => r.doneMs >= killedAt && r.edge === 'iad');
    assert.ok(moved !== undefined, `served by iad (80 ms away, nearer than sin) after the kill: ${JSON.stringify(requests.slice(-3))}`);
    figures['proxy_kill_moved_ms'] = moved.doneMs - killedAt;
    figures['proxy_kill_max_attempts'] = Math.max(...requests.map((r) => r.attempts));
    figures['proxy_kill_requests'] = requests.length;
    assert.ok(moved.doneMs - killedAt < 1000, `clients moved ${moved.doneMs - killedAt} ms after the kill`);
    // The iad edge sends it to the Machine nearest itself: iad's own.
    assert.match(moved.body, /region=iad\b/, moved.body);
    let back = '';
    for (let i = 0; i < 50 && back !== 'ams'; i++) back = (await labGet(state, 'ams', host())).edge;
    assert.equal(back, 'ams', 'healed: the restarted proxy is announced again');
  });

  step('re-places the Machines of a host that dies (its sandboxes killed, its link silent) and keeps serving its region', async () => {
    const before = await machines();
    const lost = before.find((m) => m.region === 'sin' && m.state === 'started');
    assert.ok(lost !== undefined, `a started Machine in sin: ${JSON.stringify(before.map((m) => [m.id, m.region, m.state]))}`);
    const diedAt = Date.now();
    await labFail(name, { kind: 'host', target: 'sin-h1' });
    // Nothing else makes Machines now: a new started one is the replacement.
    let replacement: MachineView | undefined;
    for (let i = 0; i < 60 && replacement === undefined; i++) {
      replacement = (await machines()).find((m) => !before.some((b) => b.id === m.id) && m.state === 'started');
      if (replacement === undefined) await new Promise((resolve) => setTimeout(resolve, 500));
    }
    assert.ok(replacement !== undefined, `a Machine replacing ${lost.id} started: ${JSON.stringify((await machines()).map((m) => [m.id, m.region, m.state]))}`);
    const old = (JSON.parse(await labAloft(state, 'ams-h1', ['machine', 'status', lost.id, '-a', APP, '--json'])) as MachineView);
    assert.equal(old.state, 'migrated');
    figures['host_replaced_ms'] = Date.now() - diedAt;
    // No host is left in sin: the nearest region with room takes it (ams, 160 ms; iad is 220).
    assert.equal(replacement.region, 'ams');
    const answer = await labGet(state, 'sin', host());
    assert.equal(answer.status, 200, JSON.stringify(answer));
    assert.equal(answer.edge, 'sin');
  });
});
