import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { sampleMachine } from '../store/testing.ts';
import { chooseExtras, chooseGroup, nextGuest, vmSizeName } from './scale-plan.ts';

describe('scale plans', () => {
  test('chooseExtras: idle Machines first, then from the most crowded region, then the newest', () => {
    const m = (id: string, region: string, state: 'started' | 'stopped', createdAt: number) => sampleMachine({ id, region, state, createdAt });
    const machines = [m('a1', 'ams', 'started', 1), m('a2', 'ams', 'started', 2), m('a3', 'ams', 'started', 3), m('f1', 'fra', 'started', 4), m('f2', 'fra', 'stopped', 5)];
    assert.deepEqual(chooseExtras(machines, 1).map((x) => x.id), ['f2']);
    assert.deepEqual(chooseExtras(machines, 3).map((x) => x.id), ['f2', 'a3', 'a2']);
    assert.deepEqual(chooseExtras(machines, 9).length, 5);
  });

  test('nextGuest: a size sets cpus and its memory; memory follows Fly’s per-cpu range in steps of 256', () => {
    assert.deepEqual(nextGuest({ cpu_kind: 'shared', cpus: 1, memory_mb: 256 }, { size: 'performance-2x' }, 'scale vm'), { cpu_kind: 'performance', cpus: 2, memory_mb: 4096 });
    assert.deepEqual(nextGuest({ cpu_kind: 'shared', cpus: 1, memory_mb: 256 }, { size: 'shared-cpu-2x', memoryMb: 1024 }, 'scale vm'), { cpu_kind: 'shared', cpus: 2, memory_mb: 1024 });
    assert.deepEqual(nextGuest(undefined, { memoryMb: 2048 }, 'scale memory'), { memory_mb: 2048 });
    assert.throws(() => nextGuest(undefined, { memoryMb: 4096 }, 'scale memory'), /'memory_mb' must be a multiple of 256 from 256 to 2048 for shared-cpu-1x: got 4096/);
    assert.throws(() => nextGuest({ cpu_kind: 'performance', cpus: 1 }, { memoryMb: 1024 }, 'scale memory'), /from 2048 to 16384 for performance-1x: got 1024/);
    assert.deepEqual(nextGuest({ cpu_kind: 'shared', cpus: 1, memory_mb: 256 }, { size: 'a10' }, 'scale vm'), { cpu_kind: 'performance', cpus: 8, memory_mb: 32768, gpu_kind: 'a10', gpus: 1 });
    // Leaving a GPU size drops the GPU.
    assert.deepEqual(nextGuest({ cpu_kind: 'performance', cpus: 8, memory_mb: 32768, gpu_kind: 'a10', gpus: 1 }, { size: 'performance-1x' }, 'scale vm'), { cpu_kind: 'performance', cpus: 1, memory_mb: 2048 });
  });

  test('vmSizeName names sizes as Fly does, GPU sizes too', () => {
    assert.equal(vmSizeName(undefined), 'shared-cpu-1x');
    assert.equal(vmSizeName({ cpu_kind: 'performance', cpus: 4, memory_mb: 8192 }), 'performance-4x');
    assert.equal(vmSizeName({ cpu_kind: 'performance', cpus: 8, gpu_kind: 'a100-pcie-40gb' }), 'a100-40gb');
    assert.equal(vmSizeName({ cpu_kind: 'shared', cpus: 6 }), 'shared-cpu-6x');
  });

  test('chooseGroup: the only group, or the one named; several groups and none named is an error listing them', () => {
    const web = sampleMachine({ config: { image: 'x', metadata: { fly_process_group: 'web' } } });
    const worker = sampleMachine({ config: { image: 'x', metadata: { fly_process_group: 'worker' } } });
    assert.equal(chooseGroup([web], undefined, 'scale count'), 'web');
    assert.equal(chooseGroup([], undefined, 'scale count'), 'app');
    assert.equal(chooseGroup([web, worker], 'worker', 'scale count'), 'worker');
    assert.throws(() => chooseGroup([web, worker], undefined, 'scale count'), /'process_group' must name one of the app's groups \(web, worker\): got nothing/);
  });
});
