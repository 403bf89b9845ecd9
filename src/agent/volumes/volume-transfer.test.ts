import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { openSqliteStore, type Store } from '../../store/index.ts';
import { sampleApp } from '../../store/testing.ts';
import { sampleVolume } from '../../store/volume-samples.ts';
import type { Volume } from '../../model/index.ts';
import type { HostInfo } from '../../scheduler/index.ts';
import { HostVolumes } from './host-volumes.ts';
import { VolumeReconciler } from './volume-reconciler.ts';
import { SharedDiskTransfer } from './volume-transfer.ts';

const skip = process.getuid?.() !== 0 ? 'needs root for loop mounts' : false;
const UNIT = 16 * 1024 * 1024;
const hostA: HostInfo = { id: 'host-a', region: 'ams', number: 1, ipv4Subnet: '172.19.0.0/16', drivers: ['runsc'] };
const hostB: HostInfo = { id: 'host-b', region: 'fra', number: 2, ipv4Subnet: '172.20.0.0/16', drivers: ['runsc'] };

/**
 * A fork onto another host (Fly's way out of a full host, superfly/flyctl#2871): two
 * hosts with their own disks, one store; host B's agent copies host A's volume, taken
 * frozen while it is mounted and written to, and the copy has the data.
 */
describe('volume forks onto another host', { skip }, () => {
  let dir: string;
  let store: Store;
  const disks = new Map<string, HostVolumes>();
  let agentA: VolumeReconciler;
  let agentB: VolumeReconciler;
  const made: { disk: HostVolumes; id: string }[] = [];

  const newVolume = async (host: HostInfo, overrides: Partial<Volume> = {}): Promise<Volume> => {
    const volume = await store.createVolume(sampleVolume({ appName: 'vols', hostId: host.id, region: host.region, ...overrides }));
    made.push({ disk: disks.get(host.id)!, id: volume.id });
    return volume;
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'aloft-volume-transfer-'));
    store = await openSqliteStore({ path: ':memory:' });
    await store.createApp(sampleApp({ name: 'vols' }));
    for (const host of [hostA, hostB]) disks.set(host.id, new HostVolumes({ dataDir: join(dir, host.id), bytesPerGb: UNIT }));
    const transfer = new SharedDiskTransfer(disks);
    agentA = new VolumeReconciler({ host: hostA, store, volumes: disks.get(hostA.id)!, transfer });
    agentB = new VolumeReconciler({ host: hostB, store, volumes: disks.get(hostB.id)!, transfer });
    await agentA.start();
    await agentB.start();
  });
  after(async () => {
    await agentA.stop();
    await agentB.stop();
    for (const { disk, id } of made) await disk.unmount(id).catch(() => undefined);
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('host B forks a mounted volume of host A, larger, with its data; no staging copy is left on A', async () => {
    const source = await newVolume(hostA);
    assert.equal((await agentA.settle(source.id))?.state, 'created');
    const diskA = disks.get(hostA.id)!;
    const mountA = await diskA.mount(source.id);
    await writeFile(join(mountA, 'hello.txt'), 'from host a\n');

    const fork = await newVolume(hostB, { sizeGb: 2, source: { kind: 'volume', id: source.id } });
    const done = await agentB.settle(fork.id);
    assert.equal(done?.state, 'created', done?.error ?? '');
    const diskB = disks.get(hostB.id)!;
    const mountB = await diskB.mount(fork.id);
    assert.equal(await readFile(join(mountB, 'hello.txt'), 'utf8'), 'from host a\n');
    await diskB.unmount(fork.id);
    await diskA.unmount(source.id);
    assert.deepEqual(await readdir(join(dir, hostA.id, 'volumes', 'snapshots')), []);
  });

  test('an agent with no way to the source host fails the fork, naming the host', async () => {
    const lonely = new VolumeReconciler({ host: hostB, store, volumes: disks.get(hostB.id)! });
    const source = await newVolume(hostA);
    await agentA.settle(source.id);
    await agentB.stop(); // only `lonely` works on host B's volumes now
    try {
      const fork = await newVolume(hostB, { source: { kind: 'volume', id: source.id } });
      const failed = await lonely.settle(fork.id);
      assert.equal(failed?.state, 'failed');
      assert.match(failed?.error ?? '', /Cannot fork volume vol_\w+ onto host host-b as its host host-a must be reachable from this one/);
    } finally {
      await agentB.start();
    }
  });
});
