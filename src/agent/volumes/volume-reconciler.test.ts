import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { openSqliteStore, type Store } from '../../store/index.ts';
import { sampleApp, sampleMachine } from '../../store/testing.ts';
import { sampleSnapshot, sampleVolume } from '../../store/volume-samples.ts';
import type { Volume } from '../../model/index.ts';
import type { HostInfo } from '../../scheduler/index.ts';
import { HostVolumes } from './host-volumes.ts';
import { MachineVolumes } from './machine-volumes.ts';
import { VolumeReconciler } from './volume-reconciler.ts';

const skip = process.getuid?.() !== 0 ? 'needs root for loop mounts' : false;
const UNIT = 16 * 1024 * 1024;
const host: HostInfo = { id: 'host-1', region: 'ams', number: 1, ipv4Subnet: '172.19.0.0/16', drivers: ['runsc'] };

describe('the agent’s volumes, on a real disk and store', { skip }, () => {
  let dir: string;
  let store: Store;
  let disk: HostVolumes;
  let reconciler: VolumeReconciler;
  let machines: MachineVolumes;
  const appName = 'vols';
  const made: string[] = [];

  /** Waits for the volume's reconcile to finish (no sleeps: the queue tells us). */
  const settled = async (id: string): Promise<Volume> => (await reconciler.settle(id))!;

  const newVolume = async (overrides: Partial<Volume> = {}): Promise<Volume> => {
    const volume = await store.createVolume(sampleVolume({ appName, hostId: host.id, ...overrides }));
    made.push(volume.id);
    return volume;
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'aloft-volume-agent-'));
    store = await openSqliteStore({ path: ':memory:' });
    await store.createApp(sampleApp({ name: appName }));
    disk = new HostVolumes({ dataDir: dir, bytesPerGb: UNIT });
    reconciler = new VolumeReconciler({ host, store, volumes: disk });
    machines = new MachineVolumes({ store, volumes: disk, reconciler, hostId: host.id });
    await machines.start();
  });
  after(async () => {
    await machines.stop();
    for (const id of made) await disk.unmount(id).catch(() => undefined);
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('a volume recorded as creating becomes an image file and state created', async () => {
    const volume = await newVolume();
    assert.equal((await settled(volume.id)).state, 'created');
    assert.equal((await stat(disk.imagePath(volume.id))).size, UNIT);
  });

  test('attach mounts a machine’s volume for its RunSpec; detach unmounts; data persists between runs', async () => {
    const volume = await newVolume();
    const machine = await store.createMachine(sampleMachine({ appName, hostId: host.id, config: { image: 'x', mounts: [{ volume: volume.id, path: '/data' }] } }));
    await store.updateVolume(volume.id, { patch: { attachedMachineId: machine.id } });
    // Attach does not wait for anyone: it finishes a volume still being created itself.
    const mounts = await machines.attach(machine);
    assert.deepEqual(mounts, [{ source: disk.mountPath(volume.id), destination: '/data' }]);
    await writeFile(join(mounts[0]!.source, 'kept.txt'), 'across runs');
    await machines.detach(machine.id);
    assert.equal(await disk.isMounted(volume.id), false);
    await machines.attach(machine);
    assert.equal(await readFile(join(disk.mountPath(volume.id), 'kept.txt'), 'utf8'), 'across runs');

    // A snapshot of the mounted volume is taken frozen and records its size and digest.
    const snapshot = await store.createSnapshot(sampleSnapshot(volume));
    await settled(volume.id);
    const taken = await store.getSnapshot(snapshot.id);
    assert.equal(taken?.status, 'created');
    assert.match(taken?.digest ?? '', /^sha256:/);
    assert.ok((taken?.size ?? 0) > 0);

    // Extend while mounted: the file grows now; the filesystem online or at the next mount.
    await store.updateVolume(volume.id, { patch: { state: 'extending', sizeGb: 2 } });
    assert.equal((await settled(volume.id)).state, 'created');
    assert.equal((await stat(disk.imagePath(volume.id))).size, 2 * UNIT);
    await machines.detach(machine.id);

    // Restore the snapshot into a new volume: it has the file.
    const restored = await newVolume({ source: { kind: 'snapshot', id: snapshot.id } });
    assert.equal((await settled(restored.id)).state, 'created');
    await disk.mount(restored.id);
    assert.equal(await readFile(join(disk.mountPath(restored.id), 'kept.txt'), 'utf8'), 'across runs');
    await disk.unmount(restored.id);

    // Destroy deletes the image and the snapshot files.
    await store.updateVolume(volume.id, { patch: { state: 'destroying' } });
    assert.equal((await settled(volume.id)).state, 'destroyed');
    assert.equal(await disk.exists(volume.id), false);
    await assert.rejects(stat(disk.snapshotPath(snapshot.id)));
  });

  test('attach refuses a volume not attached to the machine', async () => {
    const volume = await newVolume();
    const machine = sampleMachine({ appName, hostId: host.id, config: { image: 'x', mounts: [{ volume: volume.id, path: '/data' }] } });
    await assert.rejects(machines.attach(machine), /must name a volume on this host attached to it/);
  });

  test('a volume whose source is gone fails with the reason recorded', async () => {
    const volume = await newVolume({ source: { kind: 'snapshot', id: 'vs_missing' } });
    const failed = await settled(volume.id);
    assert.equal(failed.state, 'failed');
    assert.match(failed.error ?? '', /cp/);
  });
});
