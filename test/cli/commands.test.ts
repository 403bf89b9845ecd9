/**
 * The `aloft` command as a user runs it, against a real API over HTTP (in process, on a
 * SQLite store, no agent): orgs and scoped tokens, leases, update and versions,
 * volumes. Each check reads what the CLI printed and what it exited with; an error is
 * one line on stderr with exit code 1.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createApiApp, listenApi } from '../../src/api/index.ts';
import { fakeImages } from '../../src/api/testing/fake-images.ts';
import { openSqliteStore, type Store } from '../../src/store/index.ts';
import { fails, json, runAloft, type Run } from './cli-runner.ts';
import { singleHostScheduler } from '../../src/scheduler/testing.ts';

const OPERATOR = 'cli-test-operator-token';

describe('the aloft CLI against a live API', () => {
  let store: Store;
  let api: Awaited<ReturnType<typeof listenApi>>;
  let machineId: string;

  /** Runs `aloft …` with the given token; never throws, the caller checks the exit code. */
  const aloft = (args: string[], token = OPERATOR): Promise<Run> => runAloft(args, { ALOFT_API_URL: `http://127.0.0.1:${api.port}`, ALOFT_API_TOKEN: token });

  before(async () => {
    store = await openSqliteStore({ path: ':memory:' });
    const scheduler = singleHostScheduler();
    api = await listenApi(createApiApp({ store, images: fakeImages, scheduler, token: OPERATOR, rateLimits: false }), { host: '127.0.0.1', port: 0 });
  });
  after(async () => {
    await api.close();
    await store.close();
  });

  test('orgs and tokens: a read-only token cannot change anything; a revoked one is refused at once', async () => {
    assert.equal(json<{ slug: string }>(await aloft(['orgs', 'create', 'acme', '--json'])).slug, 'acme');
    assert.ok(json<{ slug: string }[]>(await aloft(['orgs', 'list', '--json'])).some((o) => o.slug === 'acme'));

    const token = json<{ id: string; token: string }>(await aloft(['tokens', 'create', '--org', 'acme', '--read-only', '--json']));
    assert.match(token.token, /^aloft_/);
    assert.equal(json<unknown[]>(await aloft(['apps', 'list', '--json'], token.token)).length, 0, 'it reads');
    fails(await aloft(['apps', 'create', 'ro-app', '--org', 'acme'], token.token), /read/i);

    const listed = json<{ id: string; token?: string }[]>(await aloft(['tokens', 'list', '--json']));
    assert.ok(listed.some((t) => t.id === token.id && t.token === undefined), 'listed, never with its secret');
    assert.equal((await aloft(['tokens', 'revoke', token.id])).code, 0);
    fails(await aloft(['apps', 'list'], token.token), /token/);
  });

  test('leases: a leased machine refuses changes without the nonce; release frees it', async () => {
    assert.equal((await aloft(['apps', 'create', 'web'])).code, 0);
    const created = await fetch(`http://127.0.0.1:${api.port}/v1/apps/web/machines`, {
      method: 'POST',
      headers: { authorization: `Bearer ${OPERATOR}`, 'content-type': 'application/json' },
      body: JSON.stringify({ config: { image: 'ok-image' }, skip_launch: true }),
    });
    machineId = ((await created.json()) as { id: string }).id;

    const lease = json<{ nonce: string }>(await aloft(['machine', 'lease', 'acquire', machineId, '--app', 'web', '--ttl', '60', '--json']));
    assert.match((await aloft(['machine', 'lease', 'show', machineId, '--app', 'web'])).stdout, new RegExp(machineId));
    fails(await aloft(['machine', 'cordon', machineId, '--app', 'web']), /lease/i);
    assert.equal((await aloft(['machine', 'lease', 'release', machineId, '--app', 'web', '--nonce', lease.nonce])).code, 0);
    assert.equal((await aloft(['machine', 'cordon', machineId, '--app', 'web'])).code, 0);
    assert.equal((await aloft(['machine', 'uncordon', machineId, '--app', 'web'])).code, 0);
  });

  test('update makes a new version; versions lists both, newest first', async () => {
    const before = (await store.getMachine(machineId))!;
    const updated = json<{ instance_id: string; config: { env?: Record<string, string> } }>(
      await aloft(['machine', 'update', machineId, '--app', 'web', '--env', 'COLOUR=blue', '--skip-start', '--json']),
    );
    assert.notEqual(updated.instance_id, before.instanceId);
    assert.equal(updated.config.env?.['COLOUR'], 'blue');
    const versions = json<{ version: string; replaced_at?: string }[]>(await aloft(['machine', 'versions', machineId, '--app', 'web', '--json']));
    assert.deepEqual(versions.map((v) => v.version), [updated.instance_id, before.instanceId]);
  });

  test('volumes: create and list; a bad size is one clear line', async () => {
    const volume = json<{ id: string; name: string; size_gb: number }>(await aloft(['volumes', 'create', 'data', '--app', 'web', '--size', '2', '--json']));
    assert.deepEqual([volume.name, volume.size_gb], ['data', 2]);
    assert.deepEqual(json<{ id: string }[]>(await aloft(['volumes', 'list', '--app', 'web', '--json'])).map((v) => v.id), [volume.id]);
    fails(await aloft(['volumes', 'create', 'big', '--app', 'web', '--size', '0']), /size/);
  });
});
