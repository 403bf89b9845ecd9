import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import type { Machine } from '../model/index.ts';
import { Scheduler, fixedCapacity, type HostInfo } from '../scheduler/index.ts';
import { openSqliteStore, type Store } from '../store/index.ts';
import { createApiApp } from './server.ts';
import { fakeImages as images } from './testing/fake-images.ts';
import { waitForState } from './wait.ts';

const TOKEN = 'test-token';
type Body = Record<string, unknown> & { error?: string; code?: string };
type Group = { process_group: string; count: number; regions: Record<string, number>; vm_sizes: Record<string, number>; memory_mb: Record<string, number>; machines: { id: string; host: string; region: string; memory_mb: number; state: string }[] };

const host = (id: string, region: string, n: number): HostInfo => ({ id, region, number: n, ipv4Subnet: `172.${20 + n}.0.0/16`, drivers: ['runsc'] });
const HOSTS = [host('l1', 'local', 1), host('l2', 'local', 2), host('f1', 'fra', 3)];
const roomy = { cpus: 8, memoryMb: 4096, diskGb: 100, gpus: 0 };

/**
 * `aloft scale` through the API, in process: three simulated hosts (two in local, one
 * in fra) with fixed capacity, and a stand-in agent that answers each start or update
 * intent with `started`, as the real agent records it.
 */
describe('Scale API', () => {
  let store: Store;
  let call: (method: string, path: string, body?: unknown) => Promise<{ status: number; body: Body }>;
  let unwatch: () => void;
  /** The stand-in agent fails starts of Machines whose memory is this (to test a roll that stops). */
  let failAtMemory: number | undefined;
  let app = 'web';
  let appCounter = 0;

  const machine = async (config: Record<string, unknown> = {}, region = 'local'): Promise<string> => {
    const created = await call('POST', `/apps/${app}/machines`, { region, config: { image: 'ok-image', guest: { cpu_kind: 'shared', cpus: 1, memory_mb: 256 }, ...config } });
    assert.equal(created.status, 200, created.body.error);
    const id = created.body['id'] as string;
    await waitForState(store, { machineId: id, state: 'started', timeoutMs: 5000 });
    return id;
  };
  const show = async (): Promise<Group[]> => (await call('GET', `/apps/${app}/scale`)).body as unknown as Group[];
  const live = async (): Promise<Machine[]> =>
    (await store.listMachines({ appName: app })).filter((m) => m.state !== 'destroying' && m.state !== 'destroyed');

  // A fresh store per test: each test's hosts start empty.
  beforeEach(async () => {
    store = await openSqliteStore({ path: ':memory:' });
    const scheduler = new Scheduler(HOSTS, { capacity: fixedCapacity({ l1: roomy, l2: roomy, f1: { ...roomy, memoryMb: 1024 } }) });
    const api = createApiApp({ store, images, scheduler, token: TOKEN, rateLimits: false });
    call = async (method, path, body) => {
      const response = await api.request(`/v1${path}`, { method, headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
      const text = await response.text();
      return { status: response.status, body: (text ? JSON.parse(text) : undefined) as Body };
    };
    unwatch = store.watch((change) => {
      if (change.kind !== 'machine' || change.op !== 'put') return;
      const m = change.machine;
      if (m.state !== 'starting' && m.state !== 'updating') return;
      const to = failAtMemory !== undefined && m.config.guest?.memory_mb === failAtMemory ? 'failed' : 'started';
      void store.updateMachine(m.id, { patch: { state: to }, expectState: [m.state] }).catch(() => undefined);
    });
  });
  beforeEach(async () => {
    failAtMemory = undefined;
    app = `web${++appCounter}`;
    assert.equal((await call('POST', '/apps', { app_name: app })).status, 201);
  });
  afterEach(() => {
    unwatch();
    return store.close();
  });

  test('GET /platform/regions: every region with its group and EU flag, and how many hosts each has', async () => {
    const regions = (await call('GET', '/platform/regions')).body as unknown as { code: string; group: string; eu: boolean; hosts: number }[];
    assert.ok(regions.length > 30);
    assert.deepEqual(regions.find((r) => r.code === 'fra'), { code: 'fra', name: 'Frankfurt, Germany', group: 'europe', group_name: 'Europe', eu: true, hosts: 1 });
    assert.equal(regions.find((r) => r.code === 'local')!.hosts, 2);
    assert.equal(regions.find((r) => r.code === 'lhr')!.eu, false);
    assert.equal(regions.find((r) => r.code === 'syd')!.hosts, 0);
  });

  test('count up: clones the newest Machine, spread evenly over the regions asked and over hosts', async () => {
    const first = await machine({ env: { A: '1' }, metadata: { fly_process_group: 'app' } });
    const answer = await call('POST', `/apps/${app}/scale/count`, { count: 4, regions: ['local', 'fra'] });
    assert.equal(answer.status, 200, answer.body.error);
    assert.deepEqual(answer.body['before'], { local: 1 });
    assert.deepEqual(answer.body['after'], { local: 2, fra: 2 });
    const machines = await live();
    assert.equal(machines.length, 4);
    assert.deepEqual(machines.map((m) => m.hostId).sort(), ['f1', 'f1', 'l1', 'l2']);
    for (const m of machines) assert.deepEqual(m.config.env, { A: '1' }, `${m.id} is a copy of ${first}`);
    const groups = await show();
    assert.deepEqual(groups.map((g) => [g.process_group, g.count, g.regions]), [['app', 4, { local: 2, fra: 2 }]]);
  });

  test('count down: stopped Machines go first, then the newest', async () => {
    const ids = [await machine(), await machine(), await machine()];
    await store.updateMachine(ids[0]!, { patch: { state: 'stopped' } });
    const answer = await call('POST', `/apps/${app}/scale/count`, { count: 1 });
    assert.equal(answer.status, 200, answer.body.error);
    const destroyed = (answer.body['destroyed'] as { id: string }[]).map((d) => d.id);
    assert.deepEqual(destroyed, [ids[0], ids[2]]);
    assert.deepEqual((await live()).map((m) => m.id), [ids[1]]);
  });

  test('dry_run plans without writing anything', async () => {
    await machine();
    const answer = await call('POST', `/apps/${app}/scale/count`, { count: 3, dry_run: true });
    assert.equal(answer.status, 200, answer.body.error);
    assert.deepEqual(answer.body['after'], { local: 3 });
    assert.equal((await live()).length, 1);
  });

  test('an unknown region is an error naming the value, with a did-you-mean', async () => {
    await machine();
    const answer = await call('POST', `/apps/${app}/scale/count`, { count: 2, regions: ['fr'] });
    assert.equal(answer.status, 400);
    assert.equal(answer.body.code, 'REGION_UNKNOWN');
    assert.equal(answer.body.error, `Cannot scale count as 'regions' must be a region code from 'aloft regions list': got "fr"; did you mean "fra" (Frankfurt, Germany)?`);
  });

  test('capacity short: all or nothing, and the message names the resource and the host', async () => {
    await machine({ guest: { cpu_kind: 'shared', cpus: 1, memory_mb: 512 } }, 'fra');
    const answer = await call('POST', `/apps/${app}/scale/count`, { count: 3, regions: ['fra', 'syd'] });
    assert.equal(answer.status, 412);
    assert.equal(answer.body.code, 'CAPACITY_EXHAUSTED');
    assert.match(answer.body.error!, /only 1 of 2 fit; host f1 in fra has 0 MB memory free, 512 MB memory needed; region syd has no host/);
    assert.equal((await live()).length, 1);
  });

  test('max_per_region caps each region', async () => {
    await machine();
    const answer = await call('POST', `/apps/${app}/scale/count`, { count: 3, regions: ['local', 'fra'], max_per_region: 1 });
    assert.equal(answer.status, 412);
    assert.match(answer.body.error!, /region local already has 1 \(max-per-region\)/);
  });

  test('an app with two groups must name one; a group with no Machine has nothing to clone', async () => {
    await machine({ metadata: { fly_process_group: 'app' } });
    await machine({ metadata: { fly_process_group: 'worker' } });
    const unnamed = await call('POST', `/apps/${app}/scale/count`, { count: 2 });
    assert.equal(unnamed.status, 400);
    assert.match(unnamed.body.error!, /'process_group' must name one of the app's groups \(app, worker\): got nothing/);
    const empty = await call('POST', `/apps/${app}/scale/count`, { count: 1, process_group: 'cron' });
    assert.equal(empty.body.code, 'SCALE_NOTHING_TO_CLONE');
    const worker = await call('POST', `/apps/${app}/scale/count`, { count: 2, process_group: 'worker' });
    assert.equal(worker.status, 200, worker.body.error);
    assert.deepEqual((await show()).map((g) => [g.process_group, g.count]), [['app', 1], ['worker', 2]]);
  });

  test('a Machine with a volume is cloned with a new volume of the same name and size on the clone’s host', async () => {
    const volume = await call('POST', `/apps/${app}/volumes`, { name: 'data', region: 'local', size_gb: 3 });
    await machine({ mounts: [{ volume: volume.body['id'], path: '/data' }] });
    const answer = await call('POST', `/apps/${app}/scale/count`, { count: 2 });
    assert.equal(answer.status, 200, answer.body.error);
    const [created] = answer.body['created'] as { id: string; host: string; volume: string }[];
    const made = await store.getVolume(created!.volume);
    assert.equal(made?.name, 'data');
    assert.equal(made?.sizeGb, 3);
    assert.equal(made?.hostId, created!.host);
    assert.equal(made?.attachedMachineId, created!.id);
    assert.notEqual(made?.id, volume.body['id']);
  });

  test('a Machine leased by a deploy stops a scale-down before anything is removed', async () => {
    const ids = [await machine(), await machine()];
    const lease = await call('POST', `/apps/${app}/machines/${ids[1]}/lease`, { ttl: 60 });
    assert.equal(lease.status, 200, lease.body.error);
    const answer = await call('POST', `/apps/${app}/scale/count`, { count: 0 });
    assert.equal(answer.status, 409);
    assert.equal(answer.body.code, 'MACHINE_LEASED');
    assert.equal((await live()).length, 2);
  });

  test('scale memory: before and after for each Machine, a rolling update, stopped Machines stay stopped', async () => {
    const ids = [await machine(), await machine()];
    await store.updateMachine(ids[1]!, { patch: { state: 'stopped' } });
    const plan = await call('POST', `/apps/${app}/scale/vm`, { memory_mb: 1024, dry_run: true });
    assert.equal(plan.status, 200, plan.body.error);
    const rows = plan.body['machines'] as { before: { memory_mb: number }; after: { memory_mb: number; size: string } }[];
    assert.deepEqual(rows.map((r) => [r.before.memory_mb, r.after.memory_mb, r.after.size]), [[256, 1024, 'shared-cpu-1x'], [256, 1024, 'shared-cpu-1x']]);
    assert.equal((await show())[0]!.memory_mb['256'], 2);
    const done = await call('POST', `/apps/${app}/scale/vm`, { memory_mb: 1024 });
    assert.equal(done.status, 200, done.body.error);
    assert.deepEqual(done.body['updated'], ids);
    const after = await live();
    assert.deepEqual(after.map((m) => [m.state, m.config.guest?.memory_mb]), [['started', 1024], ['stopped', 1024]]);
  });

  test('scale vm: a named size sets cpus and its memory; memory outside the size’s range is refused', async () => {
    await machine();
    const done = await call('POST', `/apps/${app}/scale/vm`, { size: 'shared-cpu-2x' });
    assert.equal(done.status, 200, done.body.error);
    assert.deepEqual((await show())[0]!.vm_sizes, { 'shared-cpu-2x': 1 });
    assert.deepEqual((await show())[0]!.memory_mb, { '512': 1 });
    const bad = await call('POST', `/apps/${app}/scale/vm`, { memory_mb: 300 });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error, `Cannot scale memory as 'memory_mb' must be a multiple of 256 from 512 to 4096 for shared-cpu-2x: got 300`);
    const unknown = await call('POST', `/apps/${app}/scale/vm`, { size: 'shared-cpu-3x' });
    assert.match(unknown.body.error!, /'size' must be one of shared-cpu-1x, .*: got "shared-cpu-3x"/);
  });

  test('scale memory beyond a host’s free memory names the host, and changes nothing', async () => {
    await machine({}, 'fra');
    const answer = await call('POST', `/apps/${app}/scale/vm`, { memory_mb: 2048 });
    assert.equal(answer.status, 412);
    assert.equal(answer.body.error, `Cannot scale memory as host f1 in fra must have 1792 MB memory free for its machines to grow: got 768 MB memory free`);
    assert.equal((await live())[0]!.config.guest?.memory_mb, 256);
  });

  test('a Machine that fails to come back stops the roll; the error says how far it got', async () => {
    const ids = [await machine(), await machine()];
    failAtMemory = 512;
    const answer = await call('POST', `/apps/${app}/scale/vm`, { memory_mb: 512 });
    assert.equal(answer.status, 412, answer.body.error);
    assert.match(answer.body.error!, new RegExp(`machine ${ids[0]} as it must come back started with its new size: got failed; scale memory stopped after updating 0 of 2 machines, the rest unchanged`));
    assert.equal((await store.getMachine(ids[1]!))?.config.guest?.memory_mb, 256);
  });
});
