import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { machineEvent } from '../../model/index.ts';
import { SecretVault } from '../../secrets/index.ts';
import { FakeAgent } from '../../secrets/testing.ts';
import { openSqliteStore, type Store } from '../../store/index.ts';
import { sampleMachine } from '../../store/testing.ts';
import { singleHostScheduler } from '../../scheduler/testing.ts';
import { hashTokenSecret } from '../auth/secret.ts';
import { createApiApp } from '../server.ts';
import { fakeImages as images } from '../testing/fake-images.ts';

const TOKEN = 'test-token';
const VALUES = { DATABASE_URL: 'postgres://u:pw-4a1f9c@db/app', API_KEY: 'sk_live_7f3e2d1c0b' };

type Body = Record<string, unknown> & { error?: string; code?: string; secrets?: Record<string, unknown>[]; restarted?: { id: string }[] | null };

describe('Secrets API: /v1/apps/:app/secrets', () => {
  let store: Store;
  let agent: FakeAgent;
  let app: ReturnType<typeof createApiApp>;
  let machineIds: string[];
  const texts: string[] = [];

  const call = async (method: string, path: string, body?: unknown, token = TOKEN, api = app): Promise<{ status: number; body: Body }> => {
    const response = await api.request(`/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    const text = await response.text();
    texts.push(text);
    return { status: response.status, body: (text ? JSON.parse(text) : undefined) as Body };
  };
  const names = (body: Body): unknown[] => (body.secrets ?? (body as unknown as Record<string, unknown>[])).map((s) => [s['name'], s['status']]);

  before(async () => {
    store = await openSqliteStore({ path: ':memory:' });
    const vault = new SecretVault(store, randomBytes(32));
    agent = new FakeAgent(store, { secrets: vault, fail: (m) => m.config.env?.['CRASH'] === '1' });
    app = createApiApp({ store, images, scheduler: singleHostScheduler(), token: TOKEN, rateLimits: false, secretVault: vault });
    for (const name of ['web', 'other', 'crashy']) assert.equal((await call('POST', '/apps', { app_name: name })).status, 201);
    machineIds = [];
    for (const state of ['started', 'started', 'stopped'] as const) {
      machineIds.push((await store.createMachine(sampleMachine({ appName: 'web', state }), [machineEvent('launch', 'created', 'user')])).id);
    }
    await store.createMachine(sampleMachine({ appName: 'crashy', state: 'started', config: { ...sampleMachine().config, env: { CRASH: '1' } } }));
  });
  after(async () => {
    agent.stop();
    await store.close();
    // No answer of this whole file carried a value.
    for (const text of texts) for (const value of [...Object.values(VALUES), 'hunter2']) assert.equal(text.includes(value), false, `an answer held a value: ${text}`);
  });

  test('set restarts the started Machines one at a time, with the values in their env; the answer has names and digests only', async () => {
    const set = await call('POST', '/apps/web/secrets', { secrets: VALUES });
    assert.equal(set.status, 200, set.body.error);
    assert.deepEqual(names(set.body), [['API_KEY', 'deployed'], ['DATABASE_URL', 'deployed']]);
    assert.deepEqual(set.body.restarted?.map((m) => m.id), machineIds.slice(0, 2));
    assert.deepEqual(agent.boots.map((b) => b.env), [VALUES, VALUES]);
    const listed = await call('GET', '/apps/web/secrets');
    assert.equal(listed.status, 200);
    const [first] = listed.body as unknown as Record<string, unknown>[];
    assert.deepEqual(Object.keys(first!).sort(), ['created_at', 'digest', 'name', 'staged', 'status', 'updated_at']);
    assert.match(first!['digest'] as string, /^[0-9a-f]{16}$/);
    assert.equal(first!['staged'], false);
  });

  test('--stage stores without restarting; deploy then restarts and marks them deployed; deploying again restarts nothing', async () => {
    const boots = agent.boots.length;
    const staged = await call('POST', '/apps/web/secrets', { secrets: { FEATURE: 'on' }, stage: true });
    assert.equal(staged.status, 200, staged.body.error);
    assert.equal(staged.body.restarted, null);
    assert.deepEqual(names(staged.body), [['API_KEY', 'deployed'], ['DATABASE_URL', 'deployed'], ['FEATURE', 'staged']]);
    assert.equal(agent.boots.length, boots);
    const deployed = await call('POST', '/apps/web/secrets/deploy');
    assert.equal(deployed.status, 200, deployed.body.error);
    assert.equal(deployed.body.restarted?.length, 2);
    assert.deepEqual(names(deployed.body), [['API_KEY', 'deployed'], ['DATABASE_URL', 'deployed'], ['FEATURE', 'deployed']]);
    assert.equal(agent.boots.at(-1)?.env['FEATURE'], 'on');
    assert.deepEqual((await call('POST', '/apps/web/secrets/deploy')).body.restarted, []);
  });

  test('unset one (DELETE …/:name) or several (?names=A,B), staged or not; an unknown name is SECRET_NOT_FOUND', async () => {
    const one = await call('DELETE', '/apps/web/secrets/FEATURE?stage=true');
    assert.equal(one.status, 200, one.body.error);
    assert.equal(one.body.restarted, null);
    const feature = one.body.secrets!.find((s) => s['name'] === 'FEATURE')!;
    assert.deepEqual([feature['status'], feature['digest']], ['staged_unset', null]);
    const missing = await call('DELETE', '/apps/web/secrets?names=API_KEY,NOPE');
    assert.equal(missing.status, 404);
    assert.equal(missing.body.code, 'SECRET_NOT_FOUND');
    const bulk = await call('DELETE', '/apps/web/secrets?names=API_KEY,DATABASE_URL');
    assert.equal(bulk.status, 200, bulk.body.error);
    assert.deepEqual(bulk.body.secrets, [], 'the staged unset went with this rollout too');
    assert.deepEqual(agent.boots.at(-1)?.env, {});
  });

  test('bad names, values and bodies are 400s that never echo a value', async () => {
    const cases: [unknown, RegExp][] = [
      [{ secrets: { 'BAD-NAME': 'hunter2' } }, /'name' must be an environment variable name/],
      [{ secrets: { FLY_APP_NAME: 'hunter2' } }, /must not start with FLY_/],
      [{ secrets: { OK: 'hunter2\u0000' } }, /'secrets.OK' must be free of NUL bytes/],
      [{ secrets: { OK: ['hunter2'] } }, /'secrets.OK' must be a string: got an array/],
      [{ secrets: 'OK=hunter2' }, /'secrets' must be an object of NAME → value: got a string/],
      [{ secrets: {} }, /must name at least one secret/],
      [{ secrets: { OK: 'hunter2' }, stage: 'yes' }, /'stage' must be a boolean: got a string/],
      [{ secrets: { OK: 'hunter2' }, extra: 'hunter2' }, /free of unknown keys: got "extra"/],
      ['{"secrets": {"OK": hunter2}}', /must be valid JSON: got text that does not parse/],
    ];
    for (const [body, message] of cases) {
      const answer = await call('POST', '/apps/web/secrets', body);
      assert.equal(answer.status, 400, JSON.stringify(answer.body));
      assert.match(answer.body.error!, message);
    }
    assert.equal((await call('POST', '/apps/nope/secrets', { secrets: { OK: 'x' } })).body.code, 'APP_NOT_FOUND');
  });

  test("token scopes: read-only tokens list but cannot set; another app's token sees no app", async () => {
    const token = async (secret: string, extra: { appName?: string; readOnly?: boolean }) =>
      store.createToken({ id: `tok_${secret}`, name: secret, orgSlug: 'personal', readOnly: extra.readOnly ?? false, hash: hashTokenSecret(secret), createdAt: 1, ...(extra.appName ? { appName: extra.appName } : {}) });
    await token('ro-secret', { readOnly: true });
    await token('other-app-secret', { appName: 'other' });
    assert.equal((await call('GET', '/apps/web/secrets', undefined, 'ro-secret')).status, 200);
    const refused = await call('POST', '/apps/web/secrets', { secrets: { X: 'hunter2' } }, 'ro-secret');
    assert.deepEqual([refused.status, refused.body.code], [403, 'FORBIDDEN']);
    assert.deepEqual((await call('GET', '/apps/web/secrets', undefined, 'other-app-secret')).body.code, 'APP_NOT_FOUND');
    assert.equal((await call('POST', '/apps/other/secrets', { secrets: { X: 'y' }, stage: true }, 'other-app-secret')).status, 200);
  });

  test('a Machine that does not start again is a 422 SECRETS_DEPLOY_FAILED; the secret stays staged for deploy', async () => {
    const failed = await call('POST', '/apps/crashy/secrets', { secrets: { DATABASE_URL: VALUES.DATABASE_URL } });
    assert.equal(failed.status, 422);
    assert.equal(failed.body.code, 'SECRETS_DEPLOY_FAILED');
    assert.match(failed.body.error!, /got failed \(exit code 3/);
    assert.deepEqual(names((await call('GET', '/apps/crashy/secrets')).body), [['DATABASE_URL', 'staged']]);
  });

  test('an API without the secrets key lists and unsets but refuses to set (SECRETS_KEY_INVALID)', async () => {
    const keyless = createApiApp({ store, images, scheduler: singleHostScheduler(), token: TOKEN, rateLimits: false });
    assert.equal((await call('GET', '/apps/web/secrets', undefined, TOKEN, keyless)).status, 200);
    const set = await call('POST', '/apps/web/secrets', { secrets: { X: 'hunter2' } }, TOKEN, keyless);
    assert.deepEqual([set.status, set.body.code], [500, 'SECRETS_KEY_INVALID']);
  });
});
