import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { labDown } from './lab-down.ts';
import { labFail, labHeal } from './lab-faults.ts';
import { namespacesWithPrefix } from './lab-network.ts';
import { isRunning } from './lab-processes.ts';
import { RTT_PROBE } from './lab-scripts.ts';
import { statePath, type LabState } from './lab-state.ts';
import { labStatus } from './lab-status.ts';
import { labUp } from './lab-up.ts';
import { sessionsDown, waitConverged } from './lab-wait.ts';
import { measureFailover } from './failover.ts';
import { birdAt } from './lab-state.ts';

const run = promisify(execFile);

/** A node one-liner in a namespace: GET `url`, print the answering edge's region. */
async function regionFrom(ns: string, url: string): Promise<string> {
  const script = `fetch(process.argv[1], { signal: AbortSignal.timeout(3000) }).then((r) => r.json()).then((j) => console.log(j.region), (e) => console.log('error ' + e.message))`;
  const { stdout } = await run('ip', ['netns', 'exec', ns, process.execPath, '-e', script, url]);
  return stdout.trim();
}

/** The median of `count` UDP round trips from `ns` to `address` (an edge's responder). */
async function medianRtt(ns: string, address: string, count = 7): Promise<number> {
  const { stdout } = await run('ip', ['netns', 'exec', ns, process.execPath, '-e', RTT_PROBE, address, String(count)]);
  const rtts = (JSON.parse(stdout) as number[]).sort((a, b) => a - b);
  assert.equal(rtts.length, count, `every probe to ${address} answered`);
  return rtts[Math.floor(count / 2)]!;
}

describe('aloft lab: three regions, anycast edges on bird2, delayed backbone (real namespaces)', () => {
  const name = `t${randomBytes(3).toString('hex').slice(0, 5)}`;
  let state: LabState;
  const figures: Record<string, number> = {};

  before(async () => {
    state = await labUp({ name, regions: 'ams,iad,sin', hostsPerRegion: 1, platform: false });
  });

  after(async () => {
    // A no-op when the last test already took it down; the safety net when a test failed.
    await labDown(name).catch(() => undefined);
    if (Object.keys(figures).length > 0) console.log(`lab figures: ${JSON.stringify(figures)}`);
  });

  it('answers a client near each region from that region\'s own edge, over IPv4 and IPv6 anycast', async () => {
    for (const region of state.plan.regions) {
      assert.equal(await regionFrom(region.client.ns, `http://${state.plan.anycast.ipv4}/`), region.code);
      assert.equal(await regionFrom(region.client.ns, `http://[${state.plan.anycast.ipv6}]/`), region.code);
    }
  });

  it('delays the backbone by about the configured RTT', async () => {
    const [ams, iad, sin] = state.plan.regions;
    for (const [from, to, rtt] of [
      [ams!, iad!, 80],
      [ams!, sin!, 160],
      [iad!, sin!, 220],
    ] as const) {
      const median = await medianRtt(from.client.ns, to.edge.addresses.ipv4.far);
      figures[`rtt_${from.code}_${to.code}_ms`] = Math.round(median);
      // The floor is the configured delay; the ceiling leaves room for a busy 2-core machine.
      assert.ok(median >= rtt * 0.97 && median <= rtt + 40, `${from.code}→${to.code}: median ${median.toFixed(1)} ms for ${rtt} ms configured`);
    }
    const local = await medianRtt(ams!.client.ns, ams!.edge.addresses.ipv4.far);
    assert.ok(local < 10, `within a region: ${local.toFixed(1)} ms`);
  });

  it('moves the ams client to the next-nearest edge (iad) when the ams edge drains, losing nothing', async () => {
    const result = await measureFailover(state, 'ams', async () => {
      await labFail(name, { kind: 'edge', target: 'ams' });
    });
    figures['failover_drain_ms'] = result.failoverMs;
    assert.equal(result.from, 'ams');
    assert.equal(result.to, 'iad', 'iad (80 ms) is nearer than sin (160 ms)');
    assert.equal(result.lost, 0, 'a birdc disable withdraws with a Cease: no probe lost');
    assert.ok(result.failoverMs < 1000, `drained in ${result.failoverMs} ms`);
    assert.equal((await labStatus(name)).regions.find((r) => r.region === 'ams')!.anycastVia, 'iad (backbone)');
    await labHeal(name);
    await waitConverged(state.plan, state.dir, 15_000);
    assert.equal(await regionFrom(state.plan.regions[0]!.client.ns, `http://${state.plan.anycast.ipv4}/`), 'ams');
  });

  it('routes around an edge that dies silently, by BFD, in a few hundred ms', async () => {
    const result = await measureFailover(state, 'sin', async () => {
      await labFail(name, { kind: 'edge', target: 'sin', silent: true });
    });
    figures['failover_bfd_ms'] = result.failoverMs;
    figures['failover_bfd_lost_probes_5ms'] = result.lost;
    assert.equal(result.from, 'sin');
    assert.equal(result.to, 'ams', 'ams (160 ms) is nearer to sin than iad (220 ms)');
    // 50 ms × 3 detection plus the route change; the floor proves it was BFD, not a Cease.
    assert.ok(result.failoverMs >= 100 && result.failoverMs < 1000, `failed over in ${result.failoverMs} ms`);
    assert.ok(result.lost > 0, 'a silent death loses the probes sent before BFD notices');
    const down = await sessionsDown(birdAt(state, 'sin-router'));
    assert.ok(down.some((s) => s.startsWith('edge_v4') && /BFD/.test(s)), `the router names BFD: ${down.join('; ')}`);
    await labHeal(name);
    await waitConverged(state.plan, state.dir, 15_000);
  });

  it('cuts a backbone link silently and heals it', async () => {
    await labFail(name, { kind: 'link', target: 'iad-ams' });
    const before = Date.now();
    for (;;) {
      const down = await sessionsDown(birdAt(state, 'ams-router'));
      if (down.some((s) => s.startsWith('peer_iad_v4'))) break;
      assert.ok(Date.now() - before < 5000, 'BFD notices the cut link');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.deepEqual((await labStatus(name)).faults, [{ kind: 'link', link: 'iad-ams' }]);
    await labHeal(name);
    await waitConverged(state.plan, state.dir, 15_000);
    assert.deepEqual((await labStatus(name)).faults, []);
  });

  it('takes a whole region off the internet and brings it back', async () => {
    await labFail(name, { kind: 'region', target: 'iad' });
    const start = Date.now();
    for (;;) {
      const down = [...(await sessionsDown(birdAt(state, 'ams-router'))), ...(await sessionsDown(birdAt(state, 'sin-router')))];
      if (['peer_iad_v4', 'peer_iad_v6'].every((p) => down.filter((s) => s.startsWith(p)).length === 2)) break;
      assert.ok(Date.now() - start < 5000, `BFD notices iad is gone: ${down.join('; ')}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    // The other regions still answer their own clients.
    assert.equal(await regionFrom(state.plan.regions[0]!.client.ns, `http://${state.plan.anycast.ipv4}/`), 'ams');
    await labHeal(name);
    await waitConverged(state.plan, state.dir, 15_000);
    assert.equal(await regionFrom(state.plan.regions[1]!.client.ns, `http://${state.plan.anycast.ipv4}/`), 'iad');
  });

  it('down leaves no namespace, interface, process, socket or state file behind', async () => {
    const status = await labStatus(name);
    assert.ok(status.processes.length >= 16 && status.processes.every((p) => p.running));
    await labDown(name);
    assert.deepEqual(await namespacesWithPrefix(state.plan.prefix), []);
    for (const proc of state.processes) assert.equal(await isRunning(proc), false, `${proc.role}@${proc.place} (${proc.pid}) is gone`);
    assert.equal(existsSync(statePath(name)), false);
    assert.equal(existsSync(state.dir), false);
    // Every lab interface lived in a lab namespace: none in the root one.
    const { stdout } = await run('ip', ['-o', 'link', 'show']);
    for (const ifname of ['bb-', ' k1a', ' t1a', ' b1a']) assert.ok(!stdout.includes(ifname), `no ${ifname.trim()} in the root namespace`);
  });
});
