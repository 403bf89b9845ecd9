import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { buildHelloImage } from '../../examples/hello/build.ts';
import type { ApiClient, ApiError } from '../../src/cli/api-client.ts';
import { startTestPlatform, type PlatformProcess, type TestPlatform } from './platform-process.ts';

/**
 * A volume end to end: `aloft up`, a Machine under runsc that mounts a volume at /data
 * and appends to a file there on every start, stopped and started: the second run sees
 * the first run's line, and the volume is unmounted on the host while the Machine is stopped.
 */
describe('volumes: a Machine under runsc keeps its data across stop and start', { timeout: 120_000 }, () => {
  let dataDir: string;
  let platform: PlatformProcess;
  let client: ApiClient;
  let imagePath: string;
  let volumeId: string;
  let machineId: string;
  let machineIds: Set<string>;

  /** Waits (bounded) for the Machine's own write to reach the host: the sandbox runs apart from us, so there is no event to wait on. */
  const until = async <T>(what: string, probe: () => Promise<T | undefined>): Promise<T> => {
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      const value = await probe().catch(() => undefined);
      if (value !== undefined) return value;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`${what} did not happen within 30s\n${platform.output}`);
  };
  const mountPath = (): string => join(dataDir, 'volumes', 'mnt', volumeId);
  const mounted = (): boolean => readFileSync('/proc/mounts', 'utf8').split('\n').some((l) => l.split(' ')[1] === mountPath());

  let harness: TestPlatform | undefined;

  before(async () => {
    harness = await startTestPlatform('vol');
    ({ platform, client, dataDir, machineIds } = harness);
    imagePath = await buildHelloImage(join(dataDir, 'hello-image'));
  });

  after(async () => {
    await harness?.close();
  });

  test('a volume is created on the host and a Machine mounting it starts', async () => {
    await client.post('/apps', { app_name: 'vols', org_slug: 'personal' });
    volumeId = (await client.post<{ id: string }>('/apps/vols/volumes', { name: 'data', size_gb: 1 })).id;
    const machine = await client.post<{ id: string }>('/apps/vols/machines', {
      config: {
        image: imagePath,
        init: { exec: ['/bin/sh', '-c', 'echo run >> /data/runs && cat /data/runs > /data/seen && exec sleep 3600'] },
        mounts: [{ volume: volumeId, path: '/data' }],
        stop_config: { signal: 'SIGKILL', timeout: '1s' },
      },
    });
    machineId = machine.id;
    machineIds.add(machineId);
    await client.get(`/apps/vols/machines/${machineId}/wait?state=started&timeout=60`);
    assert.equal(await until('the first write', async () => ((await readFile(join(mountPath(), 'seen'), 'utf8')) === 'run\n' ? true : undefined)), true);
  });

  test('stopped: the volume is unmounted; started again: the Machine sees the first run’s data', async () => {
    await client.post(`/apps/vols/machines/${machineId}/stop`);
    await until('the stop', async () => ((await client.get<{ state: string }>(`/apps/vols/machines/${machineId}`)).state === 'stopped' ? true : undefined));
    // The agent records `stopped` first, then frees the sandbox, the root and the volume.
    await until('the unmount', async () => (mounted() ? undefined : true));
    await client.post(`/apps/vols/machines/${machineId}/start`);
    await client.get(`/apps/vols/machines/${machineId}/wait?state=started&timeout=60`);
    assert.equal(await until('the second write', async () => ((await readFile(join(mountPath(), 'seen'), 'utf8')) === 'run\nrun\n' ? true : undefined)), true);
  });

  test('the volume cannot be destroyed while its Machine lives; after the Machine, it can', async () => {
    await assert.rejects(client.delete(`/apps/vols/volumes/${volumeId}`), (err: ApiError) => err.status === 409);
    await client.delete(`/apps/vols/machines/${machineId}?force=true`);
    await client.get(`/apps/vols/machines/${machineId}/wait?state=destroyed&timeout=60`);
    assert.equal(mounted(), false);
    await client.delete(`/apps/vols/volumes/${volumeId}`);
    await until('the volume destroyed', async () => {
      const gone = await client.get(`/apps/vols/volumes/${volumeId}`).then(() => undefined, (err: ApiError) => (err.status === 404 ? true : undefined));
      return gone;
    });
  });
});
