/**
 * `aloft volumes fork` and a full host, as a user meets them: a real API over HTTP (in
 * process, SQLite) with two simulated hosts, h1 with 10 GB of disk and h2 with 100 GB.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createApiApp, listenApi } from '../../src/api/index.ts';
import { fakeImages } from '../../src/api/testing/fake-images.ts';
import { Scheduler, fixedCapacity } from '../../src/scheduler/index.ts';
import { openSqliteStore, type Store } from '../../src/store/index.ts';
import { fails, json, runAloft, type Run } from './cli-runner.ts';

const OPERATOR = 'cli-fork-operator-token';

describe('aloft volumes fork, and a full host', () => {
  let store: Store;
  let api: Awaited<ReturnType<typeof listenApi>>;
  const aloft = (args: string[]): Promise<Run> => runAloft(args, { ALOFT_API_URL: `http://127.0.0.1:${api.port}`, ALOFT_API_TOKEN: OPERATOR });

  before(async () => {
    store = await openSqliteStore({ path: ':memory:' });
    const scheduler = new Scheduler(
      [
        { id: 'h1', region: 'local', number: 1, ipv4Subnet: '172.21.0.0/16', drivers: ['runsc'] },
        { id: 'h2', region: 'local', number: 2, ipv4Subnet: '172.22.0.0/16', drivers: ['runsc'] },
      ],
      { capacity: fixedCapacity({ h1: { cpus: 4, memoryMb: 8192, diskGb: 10, gpus: 0 }, h2: { cpus: 4, memoryMb: 8192, diskGb: 100, gpus: 0 } }) },
    );
    api = await listenApi(createApiApp({ store, images: fakeImages, scheduler, token: OPERATOR, rateLimits: false }), { host: '127.0.0.1', port: 0 });
    await store.createApp({ id: 'app_forky', name: 'forky', orgSlug: 'personal', network: 78, status: 'deployed', createdAt: Date.now() });
  });
  after(async () => {
    await api.close();
    await store.close();
  });

  test('extend past the host’s free disk says so in one line, with the fork to run; the fork goes to that host', async () => {
    const volume = json<{ id: string; zone: string }>(await aloft(['volumes', 'create', 'pgdata', '--app', 'forky', '--size', '8', '--host', 'h1', '--json']));
    assert.equal(volume.zone, 'h1');
    await store.updateVolume(volume.id, { patch: { state: 'created' } });

    const full = await aloft(['volumes', 'extend', volume.id, '--app', 'forky', '--size', '20']);
    fails(full, new RegExp(`host h1 \\(local\\) must have 12 GB of disk free: got 2 GB free\\. A volume cannot move off its host, but a fork can: aloft volumes fork ${volume.id} --host h2 --size 20`));

    const fork = await aloft(['volumes', 'fork', volume.id, '--app', 'forky', '--host', 'h2', '--size', '20']);
    assert.equal(fork.code, 0, fork.stderr);
    assert.match(fork.stdout, new RegExp(`^Forking volume ${volume.id} \\(h1, local\\) into vol_\\w+ \\(pgdata, 20 GB\\) on host h2 in local$`, 'm'));
    const list = json<{ name: string; zone: string; size_gb: number }[]>(await aloft(['volumes', 'list', '--app', 'forky', '--json']));
    assert.deepEqual(list.map((v) => [v.name, v.zone, v.size_gb]), [['pgdata', 'h1', 8], ['pgdata', 'h2', 20]]);
  });

  test('a region typo is refused before anything is sent, with a did-you-mean', async () => {
    fails(await aloft(['volumes', 'create', 'x', '--app', 'forky', '--region', 'lcoal']), /'region' must be a region code from 'aloft regions list': got "lcoal"; did you mean "local"/);
  });
});
