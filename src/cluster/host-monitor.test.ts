import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { ManualClock } from '../lib/clock.ts';
import { Scheduler } from '../scheduler/index.ts';
import { sampleHostRegistration } from '../store/host-samples.ts';
import { openSqliteStore, type Store } from '../store/index.ts';
import { sampleApp, sampleMachine } from '../store/testing.ts';
import { HostDirectory } from './host-directory.ts';
import { HostMonitor } from './host-monitor.ts';

const T0 = 1_700_000_000_000;
const BEAT = 1000;

describe('HostMonitor', () => {
  let store: Store;
  let clock: ManualClock;
  let directory: HostDirectory;
  let scheduler: Scheduler;
  let monitors: HostMonitor[] = [];

  beforeEach(async () => {
    store = await openSqliteStore({ path: ':memory:' });
    clock = new ManualClock(T0);
    directory = new HostDirectory(store);
    await directory.start();
    scheduler = new Scheduler(directory, { capacity: directory.capacity });
  });
  afterEach(async () => {
    for (const m of monitors) await m.stop();
    monitors = [];
    directory.stop();
    await store.close();
  });

  function monitor(holder = 'api-1'): HostMonitor {
    const m = new HostMonitor({ store, scheduler, heartbeatIntervalMs: BEAT, missedHeartbeats: 3, clock, holder, rtt: { ams: { fra: 10, iad: 80 } } });
    monitors.push(m);
    return m;
  }

  async function host(id: string, region: string): Promise<void> {
    await store.registerHost(sampleHostRegistration({ id, region }), clock.now());
  }

  /** Makes the store's next role claims take `ms` (an etcd election holds every write). */
  function stallClaims(ms: number): () => void {
    const claim = store.claimRole.bind(store);
    store.claimRole = async (request) => {
      clock.advance(ms);
      return claim(request);
    };
    return () => {
      store.claimRole = claim;
    };
  }

  test('silence while the store took no writes (an etcd election: no one could beat) marks no host down', async () => {
    await host('a', 'ams');
    await host('b', 'ams');
    const m = monitor();
    assert.deepEqual((await m.sweep()).markedDown, []);
    const unstall = stallClaims(5 * BEAT);
    assert.deepEqual((await m.sweep()).markedDown, [], 'every host as silent as the store itself');
    // Still slow (say, the calls that meet a dead member), but b beats again and a does not.
    await store.heartbeatHost('b', clock.now());
    assert.deepEqual((await m.sweep()).markedDown, ['a'], 'a is 5 intervals behind b: down');
    unstall();
  });

  test('after a stall, a host that beats within the window of the others stays up', async () => {
    await host('a', 'ams');
    await host('b', 'ams');
    const m = monitor();
    assert.deepEqual((await m.sweep()).markedDown, []);
    const unstall = stallClaims(5 * BEAT);
    await store.heartbeatHost('b', clock.now() + 5 * BEAT);
    assert.deepEqual((await m.sweep()).markedDown, []);
    unstall();
    await store.heartbeatHost('a', clock.now());
    await store.heartbeatHost('b', clock.now());
    assert.deepEqual((await m.sweep()).markedDown, []);
  });

  test('a host is marked down only after the missed heartbeats, and a beat in time keeps it up', async () => {
    await host('a', 'ams');
    await host('b', 'ams');
    const m = monitor();
    clock.advance(3 * BEAT);
    await store.heartbeatHost('b', clock.now());
    assert.deepEqual((await m.sweep()).markedDown, [], 'exactly 3 intervals is not yet down');
    clock.advance(1);
    const result = await m.sweep();
    assert.equal(result.acting, true);
    assert.deepEqual(result.markedDown, ['a']);
    const a = await store.getHost('a');
    assert.equal(a?.status, 'down');
    assert.match(a?.downReason ?? '', /no heartbeat for 3 s \(down after 3 s\)/);
    assert.equal((await store.getHost('b'))?.status, 'up');
    // The scheduler stops placing there at once.
    assert.deepEqual(scheduler.hosts().map((h) => h.id), ['b']);
    assert.equal(scheduler.host('a')?.id, 'a', 'a down host is still known by id');
  });

  test('only restartable Machines without volumes are re-placed, on a host of the same region', async () => {
    await host('dead', 'ams');
    await host('same', 'ams');
    await host('far', 'iad');
    const app = await store.createApp(sampleApp());
    const on = (overrides: Parameters<typeof sampleMachine>[0]) => store.createMachine(sampleMachine({ appName: app.name, hostId: 'dead', region: 'ams', ...overrides }));
    const base = sampleMachine().config;
    const started = await on({ state: 'started', name: 'web' });
    const always = await on({ state: 'stopped', config: { ...base, restart: { policy: 'always' } } });
    const never = await on({ state: 'started', config: { ...base, restart: { policy: 'no' } } });
    const withVolume = await on({ state: 'started', config: { ...base, mounts: [{ volume: 'vol_123', path: '/data' }] } });
    const elsewhere = await store.createMachine(sampleMachine({ appName: app.name, hostId: 'same', region: 'ams', state: 'started' }));
    await store.heartbeatHost('same', T0 + 5 * BEAT);
    await store.heartbeatHost('far', T0 + 5 * BEAT);
    clock.advance(5 * BEAT);

    const result = await monitor().sweep();
    assert.deepEqual(result.markedDown, ['dead']);
    const byId = new Map(result.outcomes.map((o) => [o.machineId, o]));
    assert.equal(byId.get(never.id)?.skipped, "its restart policy is 'no'");
    assert.equal(byId.get(withVolume.id)?.skipped, 'it mounts a volume, which stays on its host');
    assert.equal(byId.has(elsewhere.id), false);

    for (const [old, expectState] of [[started, 'starting'], [always, 'created']] as const) {
      const moved = byId.get(old.id)?.replacement;
      assert.equal(moved?.hostId, 'same', 'same region first');
      const gone = await store.getMachine(old.id);
      assert.equal(gone?.state, 'migrated');
      const [event] = await store.listEvents(old.id, { limit: 1 });
      assert.equal(event?.type, 'migrate');
      assert.match(String(event?.request?.['reason']), /host dead is down \(no heartbeat/);
      assert.equal(event?.request?.['replacement'], moved?.id);
      const fresh = await store.getMachine(moved!.id);
      assert.equal(fresh?.state, expectState, 'started again only when it was meant to run');
      assert.equal(fresh?.name, old.name);
      assert.deepEqual(fresh?.config, old.config);
      assert.equal(fresh?.region, 'ams');
      assert.notDeepEqual(fresh?.addresses, old.addresses);
    }
    assert.equal((await store.getMachine(never.id))?.state, 'started', 'left as it was');
    assert.equal((await store.getMachine(withVolume.id))?.state, 'started', 'left as it was');

    // A second sweep finds nothing more to move.
    const again = await monitor().sweep();
    assert.deepEqual(again.outcomes.filter((o) => o.replacement), []);
  });

  test('with no other host in its region a Machine goes to the nearest region by RTT', async () => {
    await host('dead', 'ams');
    await host('iad-1', 'iad');
    await host('fra-1', 'fra');
    const app = await store.createApp(sampleApp());
    const m = await store.createMachine(sampleMachine({ appName: app.name, hostId: 'dead', region: 'ams', state: 'started' }));
    await store.heartbeatHost('iad-1', T0 + 5 * BEAT);
    await store.heartbeatHost('fra-1', T0 + 5 * BEAT);
    clock.advance(5 * BEAT);
    const result = await monitor().sweep();
    const moved = result.outcomes.find((o) => o.machineId === m.id)?.replacement;
    assert.equal(moved?.hostId, 'fra-1');
    assert.equal((await store.getMachine(moved!.id))?.region, 'fra');
  });

  test('a Machine that fits nowhere stays where it was, and moves once a host has room', async () => {
    await host('dead', 'ams');
    const app = await store.createApp(sampleApp());
    const m = await store.createMachine(sampleMachine({ appName: app.name, hostId: 'dead', region: 'ams', state: 'started' }));
    clock.advance(5 * BEAT);
    const first = await monitor().sweep();
    assert.match(first.outcomes[0]?.skipped ?? '', /at least one host must be up|Cannot place/);
    assert.equal((await store.getMachine(m.id))?.state, 'started');
    await host('new', 'ams');
    const second = await monitor().sweep();
    assert.equal(second.outcomes.find((o) => o.machineId === m.id)?.replacement?.hostId, 'new');
  });

  test('of two monitors only the one holding the role acts, until it stops', async () => {
    await host('a', 'ams');
    await host('b', 'ams');
    const one = monitor('api-1');
    const two = monitor('api-2');
    clock.advance(5 * BEAT);
    await store.heartbeatHost('b', clock.now() - 4 * BEAT);
    assert.deepEqual((await two.sweep()).markedDown, ['a', 'b']);
    await store.registerHost(sampleHostRegistration({ id: 'b', region: 'ams', number: (await store.getHost('b'))!.number }), T0);
    // b is silent again, but api-2's role lease has not expired: api-1 does nothing.
    clock.advance(BEAT);
    assert.deepEqual(await one.sweep(), { acting: false, markedDown: [], outcomes: [] });
    assert.equal((await store.getHost('b'))?.status, 'up', 'the idle monitor changed nothing');
    // Stopping gives the role up, and the other takes over at its next sweep.
    await two.stop();
    const took = await one.sweep();
    assert.equal(took.acting, true);
    assert.deepEqual(took.markedDown, ['b']);
  });

  test('a holder that stops renewing loses the role once its lease expires', async () => {
    await host('a', 'ams');
    const one = monitor('api-1');
    const two = monitor('api-2');
    assert.equal((await two.sweep()).acting, true);
    clock.advance(3 * BEAT - 1);
    assert.equal((await one.sweep()).acting, false);
    clock.advance(1);
    assert.equal((await one.sweep()).acting, true);
  });

  test('the timer sweeps every check interval', async () => {
    await host('a', 'ams');
    const m = monitor();
    m.start();
    clock.advance(4 * BEAT);
    // Each timer sweep is async: wait for the down change rather than sleeping.
    await new Promise<void>((resolve) => {
      const stop = store.watch((c) => {
        if (c.kind === 'host' && c.op === 'put' && c.host.status === 'down') {
          stop();
          resolve();
        }
      });
    });
    assert.equal((await store.getHost('a'))?.status, 'down');
  });
});
