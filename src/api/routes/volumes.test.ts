import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { machineEvent } from '../../model/index.ts';
import { Scheduler } from '../../scheduler/index.ts';
import { openSqliteStore, type Store } from '../../store/index.ts';
import { createApiApp } from '../server.ts';
import { fakeImages as images } from '../testing/fake-images.ts';

const TOKEN = 'test-token';


type Body = Record<string, unknown> & { error?: string; code?: string };

describe('Volumes API', () => {
  let store: Store;
  let app: ReturnType<typeof createApiApp>;

  const call = async (method: string, path: string, body?: unknown): Promise<{ status: number; body: Body }> => {
    const response = await app.request(`/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return { status: response.status, body: (text ? JSON.parse(text) : undefined) as Body };
  };

  /** Plays the host's agent for a volume: the intent's resting state. */
  const settle = async (id: string, from: 'creating' | 'extending' | 'destroying', to: 'created' | 'destroyed') => {
    await store.updateVolume(id, { patch: { state: to }, expectState: [from] });
  };

  const createVolume = async (body: Record<string, unknown> = {}): Promise<string> => {
    const created = await call('POST', '/apps/web/volumes', { name: 'data', region: 'local', size_gb: 1, ...body });
    assert.equal(created.status, 200, created.body.error);
    return created.body['id'] as string;
  };

  before(async () => {
    store = await openSqliteStore({ path: ':memory:' });
    const scheduler = new Scheduler([
      { id: 'h1', region: 'local', number: 1, ipv4Subnet: '172.19.0.0/16', drivers: ['runsc'] },
      { id: 'h2', region: 'local', number: 2, ipv4Subnet: '172.20.0.0/16', drivers: ['runsc'] },
      { id: 'h3', region: 'fra', number: 3, ipv4Subnet: '172.21.0.0/16', drivers: ['runsc'] },
    ]);
    app = createApiApp({ store, images, scheduler, token: TOKEN, rateLimits: false });
    assert.equal((await call('POST', '/apps', { app_name: 'web' })).status, 201);
    assert.equal((await call('POST', '/apps', { app_name: 'other' })).status, 201);
  });
  after(() => store.close());

  test('create answers a Fly Volume being created on a host of the region; get and list show it', async () => {
    const created = await call('POST', '/apps/web/volumes', { name: 'pg_data', region: 'fra', size_gb: 3, snapshot_retention: 7 });
    assert.equal(created.status, 200);
    const volume = created.body;
    assert.match(volume['id'] as string, /^vol_[a-z0-9]{16}$/);
    assert.equal(volume['state'], 'creating');
    assert.equal(volume['zone'], 'h3');
    assert.equal(volume['size_gb'], 3);
    assert.equal(volume['snapshot_retention'], 7);
    assert.equal(volume['encrypted'], false);
    assert.equal(volume['fstype'], 'ext4');
    assert.equal(volume['attached_machine_id'], null);
    assert.deepEqual((await call('GET', `/apps/web/volumes/${volume['id'] as string}`)).body, volume);
    const list = (await call('GET', '/apps/web/volumes')).body as unknown as Body[];
    assert.deepEqual(list.map((v) => v['id']), [volume['id']]);
    assert.deepEqual((await call('GET', '/apps/other/volumes')).body, []);
  });

  test('create refuses a bad name, size, region or encryption, naming the field', async () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ name: 'Bad-Name', size_gb: 1 }, /'name' must be lowercase letters, digits and underscores.*got "Bad-Name"/],
      [{ name: 'd', size_gb: 0 }, /'size_gb' must be at least 1: got 0/],
      [{ name: 'd', size_gb: 501 }, /'size_gb' must be at most 500: got 501/],
      [{ name: 'd', size_gb: 1.5 }, /'size_gb' must be an int: got 1.5/],
      [{ name: 'd', region: 'syd' }, /'region' must be one of this platform's regions \(local, fra\): got "syd"/],
      [{ name: 'd', encrypted: true }, /'encrypted' must be false, as this platform does not encrypt volumes at rest yet: got true/],
      [{ name: 'd', fstype: 'xfs' }, /'fstype' must be one of "ext4": got "xfs"/],
      [{ name: 'd', snapshot_id: 'vs_nope' }, /'snapshot_id' must name a finished snapshot.*got "vs_nope"/],
      [{ name: 'd', source_volume_id: 'vol_nope' }, /'source_volume_id' must name a created volume of app web: got "vol_nope"/],
    ];
    for (const [body, message] of cases) {
      const response = await call('POST', '/apps/web/volumes', body);
      assert.equal(response.status, 400, JSON.stringify(body));
      assert.equal(response.body.code, 'INVALID_ARGUMENT');
      assert.match(response.body.error!, message);
    }
    assert.equal((await call('POST', '/apps/nope/volumes', { name: 'd' })).status, 404);
  });

  test('unknown volumes, and volumes of another app, are 404 VOLUME_NOT_FOUND', async () => {
    const id = await createVolume();
    for (const path of ['/apps/web/volumes/vol_aaaaaaaaaaaaaaaa', '/apps/web/volumes/not-an-id', `/apps/other/volumes/${id}`]) {
      const response = await call('GET', path);
      assert.equal(response.status, 404, path);
      assert.equal(response.body.code, 'VOLUME_NOT_FOUND');
    }
  });

  test('update changes snapshot retention and backups by PUT or POST, and validates them', async () => {
    const id = await createVolume();
    const put = await call('PUT', `/apps/web/volumes/${id}`, { snapshot_retention: 10, auto_backup_enabled: false });
    assert.equal(put.status, 200);
    assert.equal(put.body['snapshot_retention'], 10);
    assert.equal(put.body['auto_backup_enabled'], false);
    assert.equal((await call('POST', `/apps/web/volumes/${id}`, { snapshot_retention: 2 })).body['snapshot_retention'], 2);
    const bad = await call('PUT', `/apps/web/volumes/${id}`, { snapshot_retention: 0 });
    assert.equal(bad.status, 400);
    assert.match(bad.body.error!, /'snapshot_retention' must be at least 1: got 0/);
  });

  test('extend grows only: a size not larger is a 400 naming size_gb; extending needs state created', async () => {
    const id = await createVolume({ size_gb: 2 });
    const early = await call('PUT', `/apps/web/volumes/${id}/extend`, { size_gb: 3 });
    assert.equal(early.status, 412);
    assert.match(early.body.error!, /Cannot extend volume .* must be one of created: got creating/);
    await settle(id, 'creating', 'created');
    for (const size of [2, 1]) {
      const smaller = await call('PUT', `/apps/web/volumes/${id}/extend`, { size_gb: size });
      assert.equal(smaller.status, 400);
      assert.match(smaller.body.error!, new RegExp(`'size_gb' must be larger than its current size of 2 \\(volumes only grow\\): got ${size}`));
    }
    const grown = await call('PUT', `/apps/web/volumes/${id}/extend`, { size_gb: 5 });
    assert.equal(grown.status, 200);
    assert.deepEqual([grown.body['needs_restart'], (grown.body['volume'] as Body)['size_gb'], (grown.body['volume'] as Body)['state']], [false, 5, 'extending']);
    assert.equal((await call('PUT', `/apps/web/volumes/${id}/extend`, {})).status, 400);
  });

  test('snapshots: refused until created, then recorded for the agent and listed newest first', async () => {
    const id = await createVolume();
    const early = await call('POST', `/apps/web/volumes/${id}/snapshots`);
    assert.equal(early.status, 412);
    assert.equal(early.body.code, 'VOLUME_ILLEGAL_STATE');
    await settle(id, 'creating', 'created');
    const first = await call('POST', `/apps/web/volumes/${id}/snapshots`);
    assert.equal(first.status, 200);
    assert.match(first.body['id'] as string, /^vs_[a-z0-9]{16}$/);
    assert.equal(first.body['status'], 'creating');
    const second = await call('POST', `/apps/web/volumes/${id}/snapshots`);
    const list = (await call('GET', `/apps/web/volumes/${id}/snapshots`)).body as unknown as Body[];
    assert.deepEqual(list.map((s) => s['id']), [second.body['id'], first.body['id']]);

    // A finished snapshot restores into a new volume on the same host, at least as large.
    await store.updateSnapshot(first.body['id'] as string, { status: 'created', size: 4096, digest: 'sha256:x' });
    const small = await call('POST', '/apps/web/volumes', { name: 'restored', snapshot_id: first.body['id'], size_gb: 1 });
    assert.equal(small.status, 200);
    const restored = small.body;
    assert.equal(restored['zone'], (await store.getVolume(id))?.hostId);
    assert.deepEqual((await store.getVolume(restored['id'] as string))?.source, { kind: 'snapshot', id: first.body['id'] });
    const fork = await call('POST', '/apps/web/volumes', { name: 'fork', source_volume_id: id, size_gb: 3 });
    assert.equal(fork.status, 200);
    assert.equal(fork.body['size_gb'], 3);
    // A fork may go to another region (its host's agent copies it); a restore may not.
    const elsewhere = await call('POST', '/apps/web/volumes', { name: 'fork', source_volume_id: id, region: 'fra' });
    assert.equal(elsewhere.status, 200, elsewhere.body.error);
    assert.equal(elsewhere.body['zone'], 'h3');
    const wrongRegion = await call('POST', '/apps/web/volumes', { name: 'restored', snapshot_id: first.body['id'], region: 'fra' });
    assert.equal(wrongRegion.status, 400);
    assert.match(wrongRegion.body.error!, /a restore of 'snapshot_id' must be on the snapshot's host h[12] \(local\): got region "fra"; restore there, then fork the new volume to move it/);
  });

  test('a machine mounting a volume runs on its host, and takes it for itself alone', async () => {
    const id = await createVolume({ region: 'fra' });
    const volumeHost = (await store.getVolume(id))!.hostId;
    const machine = await call('POST', '/apps/web/machines', { config: { image: 'ok-image', mounts: [{ volume: id, path: '/data' }] } });
    assert.equal(machine.status, 200, machine.body.error);
    const machineId = machine.body['id'] as string;
    assert.equal((await store.getMachine(machineId))?.hostId, volumeHost);
    assert.equal(machine.body['region'], 'fra');
    assert.equal((await call('GET', `/apps/web/volumes/${id}`)).body['attached_machine_id'], machineId);

    const second = await call('POST', '/apps/web/machines', { config: { image: 'ok-image', mounts: [{ volume: id, path: '/data' }] } });
    assert.equal(second.status, 409);
    assert.equal(second.body.code, 'VOLUME_IN_USE');
    assert.match(second.body.error!, new RegExp(`must not be attached to a machine that is not destroyed: got machine ${machineId}`));

    const destroy = await call('DELETE', `/apps/web/volumes/${id}`);
    assert.equal(destroy.status, 409);
    assert.equal(destroy.body.code, 'VOLUME_IN_USE');

    // Once that machine is destroyed the volume is free again: for a new machine, or to destroy.
    await store.updateMachine(machineId, { patch: { state: 'destroyed' }, events: [machineEvent('destroy', 'destroyed', 'flyd')] });
    const third = await call('POST', '/apps/web/machines', { config: { image: 'ok-image', mounts: [{ volume: id, path: '/data' }] }, skip_launch: true });
    assert.equal(third.status, 200, third.body.error);
    await store.updateMachine(third.body['id'] as string, { patch: { state: 'destroyed' } });
    assert.equal((await call('DELETE', `/apps/web/volumes/${id}`)).status, 200);
  });

  test('machine mounts that name no volume of the app, the wrong region, or two volumes are 400s that create nothing', async () => {
    const id = await createVolume({ region: 'local' });
    const otherApp = (await call('POST', '/apps/other/volumes', { name: 'x', region: 'local' })).body['id'] as string;
    const before = (await store.listMachines({ appName: 'web', includeDestroyed: true })).length;
    const cases: [unknown, RegExp][] = [
      [{ config: { image: 'ok-image', mounts: [{ volume: 'vol_nope', path: '/data' }] } }, /'config\.mounts\.0\.volume' must name a volume of app web: got "vol_nope"/],
      [{ config: { image: 'ok-image', mounts: [{ volume: otherApp, path: '/data' }] } }, /'config\.mounts\.0\.volume' must name a volume of app web/],
      [{ config: { image: 'ok-image', mounts: [{ path: '/data' }] } }, /'config\.mounts\.0\.volume' must name a volume of app web: got null/],
      [{ config: { image: 'ok-image', mounts: [{ volume: id, path: '/data' }] }, region: 'fra' }, /'region' must be the region of volume .* \(local\): got "fra"/],
      [{ config: { image: 'ok-image', mounts: [{ volume: id, path: '/a' }, { volume: id, path: '/b' }] } }, /'config\.mounts' must have at most 1 entry/],
    ];
    for (const [body, message] of cases) {
      const response = await call('POST', '/apps/web/machines', body);
      assert.equal(response.status, 400, JSON.stringify(body));
      assert.match(response.body.error!, message);
    }
    assert.equal((await store.listMachines({ appName: 'web', includeDestroyed: true })).length, before);
    assert.equal((await store.getVolume(id))?.attachedMachineId, null);
  });

  test('destroy records the intent; a destroyed volume is gone from list and get', async () => {
    const id = await createVolume();
    const destroyed = await call('DELETE', `/apps/web/volumes/${id}`);
    assert.equal(destroyed.status, 200);
    assert.equal(destroyed.body['state'], 'destroying');
    const again = await call('DELETE', `/apps/web/volumes/${id}`);
    assert.equal(again.status, 412);
    assert.equal((await call('PUT', `/apps/web/volumes/${id}/extend`, { size_gb: 9 })).status, 412);
    await settle(id, 'destroying', 'destroyed');
    assert.equal((await call('GET', `/apps/web/volumes/${id}`)).status, 404);
    const list = (await call('GET', '/apps/web/volumes')).body as unknown as Body[];
    assert.ok(!list.some((v) => v['id'] === id));
  });

  test('an app with a volume that is not destroyed cannot be deleted; afterwards its records go with it', async () => {
    assert.equal((await call('POST', '/apps', { app_name: 'keeper' })).status, 201);
    const created = await call('POST', '/apps/keeper/volumes', { name: 'data', region: 'local', size_gb: 1 });
    const id = created.body['id'] as string;
    const refused = await call('DELETE', '/apps/keeper');
    assert.equal(refused.status, 409);
    assert.equal(refused.body['code'], 'APP_HAS_VOLUMES');
    assert.match(String(refused.body['error']), new RegExp(id));
    await call('DELETE', `/apps/keeper/volumes/${id}`);
    await settle(id, 'destroying', 'destroyed');
    assert.equal((await call('DELETE', '/apps/keeper')).status, 202);
    assert.equal((await call('POST', '/apps', { app_name: 'keeper' })).status, 201);
    assert.deepEqual(await store.listVolumes({ appName: 'keeper', includeDestroyed: true }), [], 'a new app of that name inherits nothing');
  });
});
