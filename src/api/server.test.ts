import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { machineEvent } from '../model/index.ts';
import { openSqliteStore, type Store } from '../store/index.ts';
import { createApiApp } from './server.ts';
import { fakeImages as images } from './testing/fake-images.ts';
import { singleHostScheduler } from '../scheduler/testing.ts';

const TOKEN = 'test-token';


describe('Machines API', () => {
  let store: Store;
  let app: ReturnType<typeof createApiApp>;

  const call = async (method: string, path: string, body?: unknown, token: string | null = TOKEN) => {
    const response = await app.request(`/v1${path}`, {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    const text = await response.text();
    return { status: response.status, body: (text ? JSON.parse(text) : undefined) as Record<string, unknown> & { error?: string } };
  };

  /** Plays the agent: moves a machine from an intent to its resting state. */
  const settle = async (id: string, from: 'starting' | 'stopping' | 'destroying', to: 'started' | 'stopped' | 'destroyed' | 'failed') => {
    await store.updateMachine(id, { patch: { state: to }, expectState: [from], events: [machineEvent(from, to, 'flyd')] });
  };

  before(async () => {
    store = await openSqliteStore({ path: ':memory:' });
    app = createApiApp({ store, images, scheduler: singleHostScheduler(), token: TOKEN });
  });
  after(() => store.close());

  test('requests without the bearer token are refused with 401 and a JSON error', async () => {
    const none = await call('GET', '/apps', undefined, null);
    assert.equal(none.status, 401);
    assert.match(none.body.error!, /Authorization/);
    assert.equal((await call('GET', '/apps', undefined, 'wrong')).status, 401);
  });

  test('apps: create, duplicate, bad name, list, show, unknown', async () => {
    const created = await call('POST', '/apps', { app_name: 'web', org_slug: 'personal' });
    assert.equal(created.status, 201);
    assert.equal(created.body['name'], 'web');
    assert.equal((await call('POST', '/apps', { app_name: 'web' })).status, 409);
    const bad = await call('POST', '/apps', { app_name: 'Bad Name!' });
    assert.equal(bad.status, 400);
    assert.match(bad.body.error!, /'app_name' must be lowercase letters.*got "Bad Name!"/);
    const list = await call('GET', '/apps?org_slug=personal');
    assert.equal(list.body['total_apps'], 1);
    assert.equal((await call('GET', '/apps/web')).body['machine_count'], 0);
    const missing = await call('GET', '/apps/nope');
    assert.equal(missing.status, 404);
    assert.equal(missing.body['code'], 'APP_NOT_FOUND');
  });

  test('malformed JSON is a 400 that says so', async () => {
    const response = await call('POST', '/apps/web/machines', '{"config": ');
    assert.equal(response.status, 400);
    assert.equal(response.body['code'], 'MALFORMED_JSON');
  });

  test('a config that fails validation is a 400 naming the field, and creates nothing', async () => {
    const noImage = await call('POST', '/apps/web/machines', { config: {} });
    assert.equal(noImage.status, 400);
    assert.match(noImage.body.error!, /'config\.image'/);
    const badPort = await call('POST', '/apps/web/machines', { config: { image: 'ok-image', services: [{ internal_port: 70000 }] } });
    assert.equal(badPort.status, 400);
    assert.match(badPort.body.error!, /'config\.services\.0\.internal_port' must be at most 65535: got 70000/);
    assert.equal((await store.listMachines({ appName: 'web', includeDestroyed: true })).length, 0);
  });

  test('an image that does not exist is a 400 and leaves no machine behind', async () => {
    const response = await call('POST', '/apps/web/machines', { config: { image: '/no/such/image' } });
    assert.equal(response.status, 400);
    assert.equal(response.body['code'], 'IMAGE_NOT_FOUND');
    assert.equal((await store.listMachines({ appName: 'web', includeDestroyed: true })).length, 0);
  });

  test('a machine goes created → starting → started → stopping → stopped → destroying → destroyed', async () => {
    const created = await call('POST', '/apps/web/machines', { config: { image: 'ok-image', services: [{ internal_port: 8080 }] }, region: 'local' });
    assert.equal(created.status, 200);
    const id = created.body['id'] as string;
    assert.match(id, /^[0-9a-f]{14}$/);
    assert.equal(created.body['state'], 'created');
    assert.match(created.body['private_ip'] as string, /^fdaa:/);
    assert.equal((await store.getMachine(id))?.state, 'starting', 'the API records the intent for the agent');

    const waiting = call('GET', `/apps/web/machines/${id}/wait?state=started&timeout=5`);
    await settle(id, 'starting', 'started');
    assert.deepEqual((await waiting).body, { ok: true, state: 'started' });

    const shown = await call('GET', `/apps/web/machines/${id}`);
    assert.equal(shown.body['state'], 'started');
    const events = shown.body['events'] as { type: string; status: string }[];
    assert.deepEqual(events.map((e) => `${e.type}:${e.status}`).slice(0, 3), ['starting:started', 'start:requested', 'launch:created']);

    const deleteStarted = await call('DELETE', `/apps/web/machines/${id}`);
    assert.equal(deleteStarted.status, 412);
    assert.match(deleteStarted.body.error!, /must be stopped or created unless 'force' is true: got started/);

    assert.equal((await call('POST', `/apps/web/machines/${id}/stop`, { signal: 'SIGTERM' })).status, 200);
    await settle(id, 'stopping', 'stopped');
    const stopAgain = await call('POST', `/apps/web/machines/${id}/stop`);
    assert.equal(stopAgain.status, 412);
    assert.match(stopAgain.body.error!, /Cannot stop machine .* must be one of started, starting, suspended: got stopped/);

    assert.equal((await call('POST', `/apps/web/machines/${id}/start`)).body['previous_state'], 'stopped');
    await settle(id, 'starting', 'started');
    assert.equal((await call('DELETE', `/apps/web/machines/${id}?force=true`)).status, 200);
    await settle(id, 'destroying', 'destroyed');
    assert.equal((await call('POST', `/apps/web/machines/${id}/start`)).status, 412);
    assert.equal((await call('GET', '/apps/web/machines')).body.length, 0);
    assert.equal(((await call('GET', '/apps/web/machines?include_deleted=true')).body as unknown as unknown[]).length, 1);
  });

  test('wait answers 408 when the state is not reached in time, and rejects a bad timeout', async () => {
    const created = await call('POST', '/apps/web/machines', { config: { image: 'ok-image' }, skip_launch: true });
    const id = created.body['id'] as string;
    assert.equal((await store.getMachine(id))?.state, 'created', 'skip_launch leaves it created');
    const timedOut = await call('GET', `/apps/web/machines/${id}/wait?state=started&timeout=1`);
    assert.equal(timedOut.status, 408);
    const bad = await call('GET', `/apps/web/machines/${id}/wait?state=started&timeout=600`);
    assert.equal(bad.status, 400);
    assert.match(bad.body.error!, /'timeout' must be at most 60: got "600"/);
  });

  test('a wait for started ends at once, with the state, when the Machine fails instead', async () => {
    const created = await call('POST', '/apps/web/machines', { config: { image: 'ok-image' } });
    const id = created.body['id'] as string;
    const began = Date.now();
    const waiting = call('GET', `/apps/web/machines/${id}/wait?state=started&timeout=30`);
    await settle(id, 'starting', 'failed');
    const answer = await waiting;
    assert.equal(answer.status, 409);
    assert.match(answer.body.error!, new RegExp(`Cannot wait for machine ${id} to be started as it must not come to rest first: got failed`));
    assert.ok(Date.now() - began < 5000, 'not at the timeout');
    // Waited for once it is already failed: at once too.
    assert.equal((await call('GET', `/apps/web/machines/${id}/wait?state=started&timeout=30`)).status, 409);
  });

  test('unknown machines and routes are 404 JSON errors', async () => {
    const machine = await call('GET', '/apps/web/machines/0123456789abcd');
    assert.equal(machine.status, 404);
    assert.equal(machine.body['code'], 'MACHINE_NOT_FOUND');
    assert.equal((await call('GET', '/apps/web/machines/not-an-id')).status, 404);
    assert.equal((await call('GET', '/nowhere')).status, 404);
  });

  test('an unknown region is a 400 naming the region', async () => {
    const response = await call('POST', '/apps/web/machines', { config: { image: 'ok-image' }, region: 'ams' });
    assert.equal(response.status, 400);
    assert.match(response.body.error!, /'region' must be one of this platform's regions \(local\): got "ams"/);
  });

  test('a generated name that is taken is replaced, a chosen one is refused (regression: random names collided)', async () => {
    const names = ['taken-name', 'taken-name', 'fresh-name'];
    const crowded = createApiApp({
      store,
      images,
      scheduler: singleHostScheduler(),
      token: TOKEN,
      machineNames: () => names.shift() ?? 'spare-name',
    });
    const post = async (body: unknown) => {
      const response = await crowded.request('/v1/apps/web/machines', { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    };
    assert.equal((await post({ config: { image: 'ok-image' }, skip_launch: true })).body['name'], 'taken-name');
    const second = await post({ config: { image: 'ok-image' }, skip_launch: true });
    assert.equal(second.status, 200);
    assert.equal(second.body['name'], 'fresh-name', 'the clash with a generated name is solved, not reported');
    const chosen = await post({ name: 'taken-name', config: { image: 'ok-image' }, skip_launch: true });
    assert.equal(chosen.status, 409);
    assert.equal(chosen.body['code'], 'MACHINE_NAME_TAKEN');
  });

  test('an app with machines cannot be deleted until they are destroyed', async () => {
    const response = await call('DELETE', '/apps/web');
    assert.equal(response.status, 409);
    assert.equal(response.body['code'], 'APP_HAS_MACHINES');
  });
});
