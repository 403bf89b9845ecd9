import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RunSpec } from './driver.ts';
import { buildOciConfig } from './oci-bundle.ts';

const spec: RunSpec = {
  machineId: 'm1',
  rootfs: '/data/machines/m1/rootfs',
  workDir: '/data/machines/m1',
  hostname: 'm1',
  process: { args: ['/app'], env: {}, cwd: '/', uid: 0, gid: 0, additionalGids: [] },
  limits: { cpus: 1, memoryMb: 256 },
  netnsPath: null,
  files: [],
  logPath: '/data/machines/m1/log',
};

test('volume mounts become read-write bind mounts, after the standard ones', () => {
  const config = buildOciConfig({ ...spec, mounts: [{ source: '/data/volumes/mnt/vol_x', destination: '/data' }] }, { runtime: 'runsc', cgroupsPath: '/x' });
  assert.deepEqual(config.mounts.at(-1), { destination: '/data', type: 'bind', source: '/data/volumes/mnt/vol_x', options: ['rbind', 'rw'] });
  const without = buildOciConfig(spec, { runtime: 'runsc', cgroupsPath: '/x' });
  assert.equal(config.mounts.length, without.mounts.length + 1);
});
