import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunSpec } from './driver.ts';
import { buildOciConfig, DEFAULT_CAPABILITIES, DEFAULT_PIDS_LIMIT, RUNSC_PIDS_ALLOWANCE, writeBundle } from './oci-bundle.ts';

const spec: RunSpec = {
  machineId: 'm1',
  rootfs: '/data/machines/m1/rootfs',
  workDir: '/data/machines/m1',
  hostname: 'm1-host',
  process: { args: ['/app', '--port', '8080'], env: { PATH: '/bin', FOO: 'a=b' }, cwd: '/srv', uid: 1000, gid: 1001, additionalGids: [27] },
  limits: { cpus: 1.5, memoryMb: 256 },
  netnsPath: '/var/run/netns/aloft-m1',
  files: [],
  logPath: '/data/machines/m1/log',
};

describe('oci-bundle', () => {
  const config = buildOciConfig(spec, { runtime: 'runc', cgroupsPath: '/aloft/m1-abc' });

  it('carries the process: args, env as KEY=VAL, cwd, user, no new privileges, no terminal', () => {
    assert.deepEqual(config.process.args, ['/app', '--port', '8080']);
    assert.deepEqual(config.process.env, ['PATH=/bin', 'FOO=a=b']);
    assert.equal(config.process.cwd, '/srv');
    assert.deepEqual(config.process.user, { uid: 1000, gid: 1001, additionalGids: [27] });
    assert.equal(config.process.noNewPrivileges, true);
    assert.equal(config.process.terminal, false);
  });

  it("gives Docker's default capabilities and nothing that reaches the host", () => {
    assert.deepEqual(config.process.capabilities.bounding, [...DEFAULT_CAPABILITIES]);
    assert.ok(!config.process.capabilities.effective.includes('CAP_SYS_ADMIN'));
    assert.ok(!config.process.capabilities.effective.includes('CAP_NET_ADMIN'));
  });

  it('uses the writable rootfs, hostname and the standard mounts', () => {
    assert.deepEqual(config.root, { path: '/data/machines/m1/rootfs', readonly: false });
    assert.equal(config.hostname, 'm1-host');
    assert.deepEqual(
      config.mounts.map((mount) => mount.destination),
      ['/proc', '/dev', '/dev/pts', '/dev/shm', '/dev/mqueue', '/sys', '/sys/fs/cgroup'],
    );
    assert.ok(config.mounts.find((mount) => mount.destination === '/sys')?.options?.includes('ro'));
    assert.ok(config.linux.maskedPaths.includes('/proc/kcore'));
    assert.ok(config.linux.readonlyPaths.includes('/proc/sys'));
  });

  it('joins the machine netns by path, or gets a fresh one', () => {
    assert.deepEqual(config.linux.namespaces, [
      { type: 'pid' },
      { type: 'ipc' },
      { type: 'uts' },
      { type: 'mount' },
      { type: 'network', path: '/var/run/netns/aloft-m1' },
    ]);
    const isolated = buildOciConfig({ ...spec, netnsPath: null }, { runtime: 'runc', cgroupsPath: '/x' });
    assert.deepEqual(isolated.linux.namespaces.at(-1), { type: 'network' });
  });

  it('sets memory, cpu and pids limits under the run’s own cgroup', () => {
    assert.equal(config.linux.cgroupsPath, '/aloft/m1-abc');
    assert.equal(config.linux.resources.memory.limit, 256 * 1024 * 1024);
    assert.deepEqual(config.linux.resources.cpu, { shares: 1536, quota: 150_000, period: 100_000 });
    assert.equal(config.linux.resources.pids.limit, DEFAULT_PIDS_LIMIT);
    const limited = buildOciConfig({ ...spec, limits: { cpus: 1, memoryMb: 64, pids: 50 } }, { runtime: 'runc', cgroupsPath: '/x' });
    assert.equal(limited.linux.resources.pids.limit, 50);
  });

  it("leaves room in runsc's pids limit for runsc's own threads", () => {
    const runsc = buildOciConfig({ ...spec, limits: { cpus: 1, memoryMb: 64, pids: 50 } }, { runtime: 'runsc', cgroupsPath: '/x' });
    assert.equal(runsc.linux.resources.pids.limit, 50 + RUNSC_PIDS_ALLOWANCE);
  });

  it('leaves additionalGids out when there are none', () => {
    const plain = buildOciConfig({ ...spec, process: { ...spec.process, additionalGids: [] } }, { runtime: 'runc', cgroupsPath: '/x' });
    assert.deepEqual(plain.process.user, { uid: 1000, gid: 1001 });
  });

  describe('writeBundle', () => {
    let dir: string | undefined;
    after(async () => {
      if (dir !== undefined) await rm(dir, { recursive: true, force: true });
    });

    it('writes config.json into the bundle dir', async () => {
      dir = await mkdtemp(join(tmpdir(), 'aloft-bundle-'));
      const bundle = await writeBundle(spec, join(dir, 'bundle'), { runtime: 'runsc', cgroupsPath: '/aloft/m1-x' });
      const written = JSON.parse(await readFile(join(bundle, 'config.json'), 'utf8')) as unknown;
      assert.deepEqual(written, buildOciConfig(spec, { runtime: 'runsc', cgroupsPath: '/aloft/m1-x' }));
    });
  });
});
