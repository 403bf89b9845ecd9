import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { Scheduler, fixedCapacity, type HostInfo } from '../scheduler/index.ts';
import { openSqliteStore, type Store } from '../store/index.ts';
import { createApiApp } from './server.ts';
import { fakeImages as images } from './testing/fake-images.ts';

const TOKEN = 'test-token';
type Body = Record<string, unknown> & { error?: string; code?: string };
const host = (id: string, region: string, n: number): HostInfo => ({ id, region, number: n, ipv4Subnet: `172.${20 + n}.0.0/16`, drivers: ['runsc'] });
const disk = (diskGb: number) => ({ cpus: 8, memoryMb: 16_384, diskGb, gpus: 0 });

/**
 * Volumes and the disk of their hosts (simulated: h1 has 10 GB, h2 100 GB, both in
 * local; f1 in fra has 50 GB): a full host is named with its free space and the fork
 * that gets out of it; forks and new volumes go where there is room; a Machine that
 * mounts a volume is placed on the volume's host.
 */
describe('volumes on hosts with little disk', () => {
  let store: Store;
  let call: (method: string, path: string, body?: unknown) => Promise<{ status: number; body: Body }>;

  const volume = async (body: Record<string, unknown>): Promise<Body> => {
    const made = await call('POST', '/apps/web/volumes', { name: 'data', ...body });
    assert.equal(made.status, 200, made.body.error);
    await store.updateVolume(made.body['id'] as string, { patch: { state: 'created' }, expectState: ['creating'] });
    return made.body;
  };

  beforeEach(async () => {
    store = await openSqliteStore({ path: ':memory:' });
    const scheduler = new Scheduler([host('h1', 'local', 1), host('h2', 'local', 2), host('f1', 'fra', 3)], { capacity: fixedCapacity({ h1: disk(10), h2: disk(100), f1: disk(50) }) });
    const api = createApiApp({ store, images, scheduler, token: TOKEN, rateLimits: false });
    call = async (method, path, body) => {
      const response = await api.request(`/v1${path}`, { method, headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
      const text = await response.text();
      return { status: response.status, body: (text ? JSON.parse(text) : undefined) as Body };
    };
    assert.equal((await call('POST', '/apps', { app_name: 'web' })).status, 201);
  });
  afterEach(() => store.close());

  test('extending beyond the host’s free disk: VOLUME_HOST_FULL names the host, its free space, and the fork onto a host with room', async () => {
    const v = await volume({ host: 'h1', size_gb: 8 });
    const answer = await call('PUT', `/apps/web/volumes/${v['id']}/extend`, { size_gb: 20 });
    assert.equal(answer.status, 412);
    assert.equal(answer.body.code, 'VOLUME_HOST_FULL');
    assert.equal(
      answer.body.error,
      `Cannot extend volume ${v['id']} from 8 to 20 GB as host h1 (local) must have 12 GB of disk free: got 2 GB free. A volume cannot move off its host, but a fork can: aloft volumes fork ${v['id']} --host h2 --size 20, then point its machine at the fork (h2 in local has 100 GB free; f1 in fra has 50 GB free)`,
    );
    assert.equal((await store.getVolume(v['id'] as string))?.sizeGb, 8, 'nothing changed');

    const fork = await call('POST', '/apps/web/volumes', { name: 'data', source_volume_id: v['id'], host: 'h2', size_gb: 20 });
    assert.equal(fork.status, 200, fork.body.error);
    assert.equal(fork.body['zone'], 'h2');
    assert.deepEqual((await store.getVolume(fork.body['id'] as string))?.source, { kind: 'volume', id: v['id'] });
  });

  test('a volume pinned to a full host (--host, or a fork or restore on its source host) is VOLUME_HOST_FULL; no host with room says so', async () => {
    await volume({ host: 'h1', size_gb: 9 });
    const pinned = await call('POST', '/apps/web/volumes', { name: 'more', host: 'h1', size_gb: 5 });
    assert.equal(pinned.status, 412);
    assert.match(pinned.body.error!, /^Cannot create volume more of 5 GB as host h1 \(local\) must have 5 GB of disk free: got 1 GB free\. Create it on a host with room instead, e\.g\. --host h2/);
    const big = await volume({ host: 'h2', size_gb: 90 });
    const sameHostFork = await call('POST', '/apps/web/volumes', { name: 'copy', source_volume_id: big['id'] });
    assert.equal(sameHostFork.status, 412);
    assert.match(sameHostFork.body.error!, /as host h2 \(local\) must have 90 GB of disk free: got 10 GB free\. No other host has 90 GB free either: free disk on h2 \(destroy volumes or snapshots you no longer need\) or add a host$/);
  });

  test('without --host, a new volume goes to a host of the region with room; none with room is CAPACITY_EXHAUSTED naming each host', async () => {
    assert.equal((await volume({ region: 'local', size_gb: 30 }))['zone'], 'h2');
    const none = await call('POST', '/apps/web/volumes', { name: 'huge', region: 'local', size_gb: 80 });
    assert.equal(none.status, 412);
    assert.equal(none.body.code, 'CAPACITY_EXHAUSTED');
    assert.match(none.body.error!, /host h1 in local has 10 GB disk free, 80 GB disk needed; host h2 in local has 70 GB disk free, 80 GB disk needed/);
  });

  test('volumes of an app spread over hosts; a fork to another region goes to a host there', async () => {
    const zones = [];
    for (let i = 0; i < 2; i++) zones.push((await volume({ region: 'local', size_gb: 1 }))['zone']);
    assert.deepEqual(zones.sort(), ['h1', 'h2']);
    const fork = await call('POST', '/apps/web/volumes', { name: 'data', source_volume_id: (await store.listVolumes({ appName: 'web' }))[0]!.id, region: 'fra' });
    assert.equal(fork.body['zone'], 'f1');
  });

  test('regions and hosts are checked: a typo gets a did-you-mean; a host not in the region is refused', async () => {
    const typo = await call('POST', '/apps/web/volumes', { name: 'd', region: 'frs' });
    assert.equal(typo.status, 400);
    assert.equal(typo.body.code, 'REGION_UNKNOWN');
    assert.match(typo.body.error!, /'region' must be a region code from 'aloft regions list': got "frs"; did you mean "fra"/);
    const paris = await call('POST', '/apps/web/volumes', { name: 'd', region: 'paris' });
    assert.match(paris.body.error!, /got "paris"; did you mean "cdg" \(Paris, France\)\?/);
    const wrong = await call('POST', '/apps/web/volumes', { name: 'd', region: 'fra', host: 'h1' });
    assert.equal(wrong.body.error, `Cannot create volume as 'host' must be in 'region' fra: got "h1", which is in local`);
    const missing = await call('POST', '/apps/web/volumes', { name: 'd', host: 'h9' });
    assert.equal(missing.body.error, `Cannot create volume as 'host' must be one of this platform's hosts (h1, h2, f1): got "h9"`);
  });

  test('a Machine that mounts a volume is placed on the volume’s host, whatever region spread would pick', async () => {
    for (const [hostId, region] of [['h1', 'local'], ['h2', 'local'], ['f1', 'fra']] as const) {
      const v = await volume({ host: hostId, size_gb: 1 });
      const machine = await call('POST', '/apps/web/machines', { config: { image: 'ok-image', mounts: [{ volume: v['id'], path: '/data' }] } });
      assert.equal(machine.status, 200, machine.body.error);
      const stored = await store.getMachine(machine.body['id'] as string);
      assert.equal(stored?.hostId, hostId);
      assert.equal(stored?.region, region);
    }
  });
});
