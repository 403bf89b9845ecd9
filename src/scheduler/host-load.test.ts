import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { openSqliteStore } from '../store/index.ts';
import { sampleApp, sampleMachine } from '../store/testing.ts';
import { sampleVolume } from '../store/volume-samples.ts';
import { fixedCapacity, hostLoads, localCapacity } from './host-load.ts';
import type { HostInfo } from './scheduler.ts';

const h1: HostInfo = { id: 'h1', region: 'ams', number: 1, ipv4Subnet: '172.21.0.0/16', drivers: ['runsc'] };
const h2: HostInfo = { id: 'h2', region: 'ams', number: 2, ipv4Subnet: '172.22.0.0/16', drivers: ['runsc'] };

describe('host loads: totals less what Machines and volumes hold', () => {
  test('Machines that are not destroyed (stopped ones too) and every volume count; destroyed ones do not', async () => {
    const store = await openSqliteStore({ path: ':memory:' });
    try {
      await store.createApp(sampleApp({ name: 'app' }));
      const guest = { cpu_kind: 'performance' as const, cpus: 1, memory_mb: 2048 };
      await store.createMachine(sampleMachine({ hostId: 'h1', state: 'started', config: { image: 'x', guest } }), []);
      await store.createMachine(sampleMachine({ hostId: 'h1', state: 'stopped', config: { image: 'x', guest: { cpu_kind: 'shared', cpus: 2, memory_mb: 512 } } }), []);
      await store.createMachine(sampleMachine({ hostId: 'h1', state: 'destroyed', config: { image: 'x', guest } }), []);
      await store.createMachine(sampleMachine({ hostId: 'h2', state: 'started', config: { image: 'x', guest: { cpu_kind: 'performance', cpus: 8, memory_mb: 32_768, gpu_kind: 'a10' } } }), []);
      await store.createVolume(sampleVolume({ appName: 'app', hostId: 'h1', sizeGb: 30 }));
      const total = { cpus: 16, memoryMb: 65_536, diskGb: 100, gpus: 1 };
      const [one, two] = await hostLoads(store, [h1, h2], fixedCapacity({ h1: total, h2: total }));
      assert.deepEqual(one!.free, { cpus: 16 - 1 - 2 / 16, memoryMb: 65_536 - 2048 - 512, diskGb: 70, gpus: 1 });
      assert.deepEqual(two!.free, { cpus: 8, memoryMb: 32_768, diskGb: 100, gpus: 0 });
    } finally {
      await store.close();
    }
  });

  test('this machine: cores, memory and the data dir’s disk as the OS reports them; free disk never above what statfs says is available', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'aloft-capacity-'));
    const store = await openSqliteStore({ path: ':memory:' });
    try {
      const totals = await localCapacity(dir).totals(h1);
      assert.ok(totals.resources.cpus >= 1);
      assert.ok(totals.resources.memoryMb > 256);
      assert.ok(totals.resources.diskGb > 0);
      assert.ok(totals.diskAvailableGb! <= totals.resources.diskGb);
      const [load] = await hostLoads(store, [h1], localCapacity(dir));
      assert.ok(load!.free.diskGb <= totals.diskAvailableGb! + 0.01);
    } finally {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
