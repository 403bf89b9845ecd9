/**
 * `aloft regions` and `aloft scale` as a user runs them, against a real API over HTTP (in
 * process, SQLite, three simulated hosts) with a stand-in agent that records each start
 * or update intent as `started`, as the host agent does.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createApiApp, listenApi } from '../../src/api/index.ts';
import { fakeImages } from '../../src/api/testing/fake-images.ts';
import { waitForState } from '../../src/api/wait.ts';
import { Scheduler, fixedCapacity } from '../../src/scheduler/index.ts';
import { openSqliteStore, type Store } from '../../src/store/index.ts';
import { fails, json, runAloft, type Run } from './cli-runner.ts';

const OPERATOR = 'cli-scale-operator-token';
const roomy = { cpus: 4, memoryMb: 8192, diskGb: 50, gpus: 0 };

describe('aloft regions and aloft scale', () => {
  let store: Store;
  let api: Awaited<ReturnType<typeof listenApi>>;
  let unwatch: () => void;
  const aloft = (args: string[]): Promise<Run> => runAloft(args, { ALOFT_API_URL: `http://127.0.0.1:${api.port}`, ALOFT_API_TOKEN: OPERATOR });

  before(async () => {
    store = await openSqliteStore({ path: ':memory:' });
    const scheduler = new Scheduler(
      [
        { id: 'h1', region: 'local', number: 1, ipv4Subnet: '172.21.0.0/16', drivers: ['runsc'] },
        { id: 'h2', region: 'local', number: 2, ipv4Subnet: '172.22.0.0/16', drivers: ['runsc'] },
        { id: 'h3', region: 'ams', number: 3, ipv4Subnet: '172.23.0.0/16', drivers: ['runsc'] },
      ],
      { capacity: fixedCapacity({ h1: roomy, h2: roomy, h3: roomy }) },
    );
    api = await listenApi(createApiApp({ store, images: fakeImages, scheduler, token: OPERATOR, rateLimits: false }), { host: '127.0.0.1', port: 0 });
    unwatch = store.watch((change) => {
      if (change.kind !== 'machine' || change.op !== 'put') return;
      const m = change.machine;
      if (m.state === 'starting' || m.state === 'updating') void store.updateMachine(m.id, { patch: { state: 'started' }, expectState: [m.state] }).catch(() => undefined);
    });
    await store.createApp({ id: 'app_scale', name: 'scaly', orgSlug: 'personal', network: 77, status: 'deployed', createdAt: Date.now() });
  });
  after(async () => {
    unwatch();
    await api.close();
    await store.close();
  });

  test('regions list: every region with its group; * marks the ones with hosts; --json for scripts', async () => {
    const list = json<{ code: string; hosts: number; eu: boolean; group: string }[]>(await aloft(['regions', 'list', '--json']));
    assert.deepEqual(list.filter((r) => r.hosts > 0).map((r) => [r.code, r.hosts]), [['ams', 1], ['local', 2]]);
    const human = await aloft(['regions', 'list']);
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stdout, /^\*\s+ams\s+Amsterdam, Netherlands\s+Europe\s+yes\s+1$/m);
    assert.match(human.stdout, /^\s+lhr\s+London, United Kingdom\s+Europe\s+0$/m);
  });

  test('scale count: a typo in --region is one line naming it, with a did-you-mean', async () => {
    fails(await aloft(['scale', 'count', '3', '--app', 'scaly', '--region', 'local,amz']), /'region' must be a region code from 'aloft regions list': got "amz"; did you mean "ams" \(Amsterdam, Netherlands\)\?/);
  });

  test('scale count up, show, scale memory with before/after, scale count down with --yes', async () => {
    const created = await fetch(`http://127.0.0.1:${api.port}/v1/apps/scaly/machines`, {
      method: 'POST',
      headers: { authorization: `Bearer ${OPERATOR}`, 'content-type': 'application/json' },
      body: JSON.stringify({ region: 'local', config: { image: 'ok-image', metadata: { fly_process_group: 'web' } } }),
    });
    const first = ((await created.json()) as { id: string }).id;
    await waitForState(store, { machineId: first, state: 'started', timeoutMs: 5000 });

    const up = await aloft(['scale', 'count', '4', '--app', 'scaly', '--region', 'local,ams']);
    assert.equal(up.code, 0, up.stderr);
    assert.match(up.stdout, /^Group web: local 1 → 2, ams 0 → 2$/m);
    assert.equal(up.stdout.match(/^Created [0-9a-f]{14} in (local|ams) on host h[123]$/gm)?.length, 3);

    const shown = json<{ process_group: string; count: number; regions: Record<string, number>; memory_mb: Record<string, number> }[]>(await aloft(['scale', 'show', '--app', 'scaly', '--json']));
    assert.deepEqual(shown.map((g) => [g.process_group, g.count, g.regions]), [['web', 4, { local: 2, ams: 2 }]]);
    const table = await aloft(['scale', 'show', '--app', 'scaly']);
    assert.match(table.stdout, /^web\s+4\s+local×2, ams×2\s+shared-cpu-1x×4\s+256×4$/m);

    for (const m of await store.listMachines({ appName: 'scaly' })) await waitForState(store, { machineId: m.id, state: 'started', timeoutMs: 5000 });
    fails(await aloft(['scale', 'memory', '512', '--app', 'scaly']), /'--yes' must be given when not at a terminal/);
    const memory = await aloft(['scale', 'memory', '512', '--app', 'scaly', '--yes']);
    assert.equal(memory.code, 0, memory.stderr);
    assert.equal(memory.stdout.match(/shared-cpu-1x 256 MB\s+shared-cpu-1x 512 MB/g)?.length, 4);
    assert.match(memory.stdout, /^Updated 4 machine\(s\) of group web$/m);

    fails(await aloft(['scale', 'count', '1', '--app', 'scaly']), /'--yes' must be given when not at a terminal/);
    assert.equal((await store.listMachines({ appName: 'scaly' })).filter((m) => m.state === 'started').length, 4, 'nothing destroyed without --yes');
    const down = await aloft(['scale', 'count', '1', '--app', 'scaly', '--yes', '--json']);
    const result = json<{ destroyed: { region: string }[]; after: Record<string, number> }>(down);
    assert.equal(result.destroyed.length, 3);
    assert.equal(Object.values(result.after).reduce((a, b) => a + b, 0), 1);
  });
});
