import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { buildHelloImage } from '../../examples/hello/build.ts';
import type { ApiClient } from '../../src/cli/api-client.ts';
import { json, runAloft, type Run } from '../cli/cli-runner.ts';
import { startTestPlatform, type TestPlatform } from './platform-process.ts';

interface MachineView {
  id: string;
  state: string;
  instance_id: string;
  config: { guest?: { memory_mb?: number }; mounts?: { volume: string }[] };
}

/**
 * `aloft scale` and `aloft volumes fork` on `aloft up` with real Machines under runsc: a
 * Machine with a volume is cloned (a new volume for the clone), both are resized by a
 * rolling update and come back started, its volume is forked with its data, and the
 * group is scaled back down to one.
 */
describe('scale and fork with real Machines', { timeout: 240_000 }, () => {
  let harness: TestPlatform | undefined;
  let client: ApiClient;
  let dataDir: string;
  let image: string;
  let first: string;
  let volume: string;
  const aloft = (args: string[]): Promise<Run> => runAloft(args, { ALOFT_API_URL: `http://127.0.0.1:${harness!.platform.options.apiPort}`, ALOFT_API_TOKEN: harness!.platform.token });
  const machines = async (): Promise<MachineView[]> => client.get<MachineView[]>('/apps/scaled/machines');
  const waitFor = (id: string, state: string): Promise<unknown> => client.get(`/apps/scaled/machines/${id}/wait?state=${state}&timeout=60`);
  /** The Machine's own write reaches the host file with no event to wait on: probe, bounded. */
  const until = async <T>(what: string, probe: () => Promise<T | undefined>): Promise<T> => {
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      const value = await probe().catch(() => undefined);
      if (value !== undefined) return value;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`${what} did not happen within 30s\n${harness!.platform.output}`);
  };
  const track = (id: string): string => (harness!.machineIds.add(id), id);

  before(async () => {
    harness = await startTestPlatform('scale');
    ({ client, dataDir } = harness);
    image = await buildHelloImage(join(dataDir, 'hello-image'));
    await client.post('/apps', { app_name: 'scaled', org_slug: 'personal' });
  });
  after(async () => {
    await harness?.close();
  });

  test('scale count 2 clones the Machine with a volume of its own; both run', async () => {
    volume = (await client.post<{ id: string }>('/apps/scaled/volumes', { name: 'data', size_gb: 1 })).id;
    first = track(
      (
        await client.post<{ id: string }>('/apps/scaled/machines', {
          config: {
            image,
            init: { exec: ['/bin/sh', '-c', 'echo "$FLY_MACHINE_ID" >> /data/ids && exec sleep 3600'] },
            mounts: [{ volume, path: '/data' }],
            stop_config: { signal: 'SIGKILL', timeout: '1s' },
            metadata: { fly_process_group: 'app' },
          },
        })
      ).id,
    );
    await waitFor(first, 'started');
    const up = await aloft(['scale', 'count', '2', '--app', 'scaled', '--yes', '--json']);
    const result = json<{ created: { id: string; volume: string }[] }>(up);
    assert.equal(result.created.length, 1);
    const clone = track(result.created[0]!.id);
    await waitFor(clone, 'started');
    assert.notEqual(result.created[0]!.volume, volume);
    const clonesFile = join(dataDir, 'volumes', 'mnt', result.created[0]!.volume, 'ids');
    assert.equal(await until('the clone writing to its own volume', async () => ((await readFile(clonesFile, 'utf8')) === `${clone}\n` ? true : undefined)), true);
  });

  test('scale memory 512: a rolling update; every Machine comes back started with the new memory', async () => {
    const before = await machines();
    const resized = await aloft(['scale', 'memory', '512', '--app', 'scaled', '--yes']);
    assert.equal(resized.code, 0, `${resized.stderr}\n${harness!.platform.output}`);
    assert.match(resized.stdout, /Updated 2 machine\(s\) of group app/);
    const after = await machines();
    for (const m of after) {
      assert.equal(m.state, 'started');
      assert.equal(m.config.guest?.memory_mb, 512);
      assert.notEqual(m.instance_id, before.find((b) => b.id === m.id)?.instance_id);
    }
    const firstIds = join(dataDir, 'volumes', 'mnt', volume, 'ids');
    assert.equal(await until('the first Machine restarted on its volume', async () => ((await readFile(firstIds, 'utf8')) === `${first}\n${first}\n` ? true : undefined)), true);
  });

  test('volumes fork copies a volume in use; a Machine mounting the fork reads the data', async () => {
    const fork = json<{ id: string }>(await aloft(['volumes', 'fork', volume, '--app', 'scaled', '--name', 'copy', '--json']));
    const reader = track(
      (
        await client.post<{ id: string }>('/apps/scaled/machines', {
          config: { image, init: { exec: ['/bin/sh', '-c', 'cp /data/ids /data/seen && exec sleep 3600'] }, mounts: [{ volume: fork.id, path: '/data' }], stop_config: { signal: 'SIGKILL', timeout: '1s' }, metadata: { fly_process_group: 'reader' } },
        })
      ).id,
    );
    await waitFor(reader, 'started');
    const seen = join(dataDir, 'volumes', 'mnt', fork.id, 'seen');
    assert.equal(await until('the reader copying the forked data', async () => ((await readFile(seen, 'utf8')).startsWith(`${first}\n`) ? true : undefined)), true);
  });

  test('scale count 1 destroys one Machine of the group and keeps its volume', async () => {
    const down = json<{ destroyed: { id: string }[]; volumes_kept: string[] }>(await aloft(['scale', 'count', '1', '--app', 'scaled', '--process-group', 'app', '--yes', '--json']));
    assert.equal(down.destroyed.length, 1);
    assert.equal(down.volumes_kept.length, 1);
    await waitFor(down.destroyed[0]!.id, 'destroyed');
    const shown = json<{ process_group: string; count: number }[]>(await aloft(['scale', 'show', '--app', 'scaled', '--json']));
    assert.deepEqual(shown.map((g) => [g.process_group, g.count]), [['app', 1], ['reader', 1]]);
  });
});
