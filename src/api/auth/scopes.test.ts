import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ManualClock } from '../../lib/clock.ts';
import { openSqliteStore, type Store } from '../../store/index.ts';
import { testApi } from '../testing-api.ts';
import { hashTokenSecret } from './secret.ts';

describe('API tokens and org scopes', () => {
  let store: Store;
  let call: ReturnType<typeof testApi>['call'];
  /** Secrets by role, made through the admin API as an operator would. */
  const tokens: Record<string, { secret: string; id: string }> = {};

  const makeToken = async (role: string, body: Record<string, unknown>) => {
    const created = await call('POST', '/tokens', { body: { name: role, ...body } });
    assert.equal(created.status, 201, created.body.error);
    tokens[role] = { secret: created.body['token'] as string, id: created.body['id'] as string };
  };
  const as = (role: string) => ({ token: tokens[role]!.secret });

  before(async () => {
    store = await openSqliteStore({ path: ':memory:' });
    ({ call } = testApi(store, new ManualClock(1_700_000_000_000)));
    assert.equal((await call('POST', '/orgs', { body: { slug: 'acme', name: 'Acme' } })).status, 201);
    assert.equal((await call('POST', '/apps', { body: { app_name: 'mine', org_slug: 'personal' } })).status, 201);
    assert.equal((await call('POST', '/apps', { body: { app_name: 'secret-plans', org_slug: 'acme' } })).status, 201);
    await makeToken('org', { org: 'personal' });
    await makeToken('reader', { org: 'personal', read_only: true });
    await makeToken('app', { org: 'personal', app: 'mine' });
    await makeToken('acme', { org: 'acme' });
  });
  after(() => store.close());

  test('no token and a bad token are 401', async () => {
    assert.equal((await call('GET', '/apps', { token: null })).status, 401);
    const bad = await call('GET', '/apps', { token: 'aloft_not-a-token' });
    assert.equal(bad.status, 401);
    assert.equal(bad.body.code, 'UNAUTHORIZED');
  });

  test('the token secret is shown once: never in lists, and stored only as a hash', async () => {
    const listed = (await call('GET', '/tokens')).body as unknown as Record<string, unknown>[];
    assert.equal(listed.length, 4);
    for (const t of listed) assert.equal(t['token'], undefined);
    const stored = await store.listTokens();
    assert.deepEqual(new Set(stored.map((t) => t.hash)), new Set(Object.values(tokens).map((t) => hashTokenSecret(t.secret))));
  });

  test('a revoked token is refused at once', async () => {
    await makeToken('doomed', { org: 'personal' });
    assert.equal((await call('GET', '/apps', as('doomed'))).status, 200);
    const revoked = await call('DELETE', `/tokens/${tokens['doomed']!.id}`);
    assert.equal(revoked.status, 200);
    assert.equal(typeof revoked.body['revoked_at'], 'string');
    assert.equal((await call('GET', '/apps', as('doomed'))).status, 401);
  });

  test("another org's app answers exactly as a missing app, on every route", async () => {
    for (const path of ['/apps/secret-plans', '/apps/secret-plans/machines', '/apps/secret-plans/machines/0123456789abcd/lease']) {
      const foreign = await call('GET', path, as('org'));
      const missing = await call('GET', path.replace('secret-plans', 'no-such-app'), as('org'));
      assert.equal(foreign.status, 404, path);
      assert.deepEqual(foreign.body, { ...missing.body, error: missing.body.error!.replace('no-such-app', 'secret-plans') }, path);
    }
    assert.equal((await call('DELETE', '/apps/secret-plans', as('org'))).status, 404);
    assert.equal((await call('POST', '/apps/secret-plans/machines', { ...as('org'), body: { config: { image: 'ok-image' } } })).status, 404);
  });

  test("lists show only the token's apps; another org's slug lists nothing, like an unknown one", async () => {
    const names = async (path: string, role: string) =>
      ((await call('GET', path, as(role))).body['apps'] as { name: string }[]).map((a) => a.name);
    assert.deepEqual(await names('/apps', 'org'), ['mine']);
    assert.deepEqual(await names('/apps?org_slug=acme', 'org'), []);
    assert.deepEqual(await names('/apps?org_slug=nope', 'org'), []);
    assert.deepEqual(await names('/apps', 'acme'), ['secret-plans']);
    const all = ((await call('GET', '/apps')).body['apps'] as { name: string }[]).map((a) => a.name);
    assert.deepEqual(all, ['mine', 'secret-plans'], 'the operator sees every org');
  });

  test('read-only tokens read but get 403 on every mutation', async () => {
    assert.equal((await call('GET', '/apps/mine', as('reader'))).status, 200);
    assert.equal((await call('GET', '/apps/mine/machines', as('reader'))).status, 200);
    const refused = await call('POST', '/apps/mine/machines', { ...as('reader'), body: { config: { image: 'ok-image' } } });
    assert.equal(refused.status, 403);
    assert.equal(refused.body.code, 'FORBIDDEN');
    assert.match(refused.body.error!, /must allow writes: got read-only token/);
    assert.equal((await call('POST', '/apps', { ...as('reader'), body: { app_name: 'nope-ro' } })).status, 403);
    assert.equal((await call('DELETE', '/apps/mine', as('reader'))).status, 403);
  });

  test('an app-scoped token sees and changes only its app, and creates no apps', async () => {
    assert.equal((await call('GET', '/apps/mine', as('app'))).status, 200);
    const created = await call('POST', '/apps/mine/machines', { ...as('app'), body: { config: { image: 'ok-image' }, skip_launch: true } });
    assert.equal(created.status, 200);
    assert.equal((await call('POST', '/apps', { ...as('org'), body: { app_name: 'other-mine' } })).status, 201);
    assert.equal((await call('GET', '/apps/other-mine', as('app'))).status, 404);
    assert.deepEqual(((await call('GET', '/apps', as('app'))).body['apps'] as { name: string }[]).map((a) => a.name), ['mine']);
    assert.equal((await call('POST', '/apps', { ...as('app'), body: { app_name: 'sneaky' } })).status, 403);
  });

  test("org tokens create apps in their org by default and cannot create in another", async () => {
    const made = await call('POST', '/apps', { ...as('acme'), body: { app_name: 'acme-web' } });
    assert.equal(made.status, 201);
    assert.equal((made.body['organization'] as { slug: string }).slug, 'acme');
    const elsewhere = await call('POST', '/apps', { ...as('acme'), body: { app_name: 'acme-x', org_slug: 'personal' } });
    assert.equal(elsewhere.status, 403);
    assert.match(elsewhere.body.error!, /'org_slug' must be the token's org "acme": got "personal"/);
    assert.equal((await call('POST', '/apps', { body: { app_name: 'ghost', org_slug: 'ghost-org' } })).body.code, 'ORG_NOT_FOUND');
  });

  test('the admin routes are the operator’s: org tokens get 403; bad input is 400/404/409', async () => {
    assert.equal((await call('GET', '/orgs', as('org'))).status, 403);
    assert.equal((await call('POST', '/tokens', { ...as('org'), body: { org: 'personal' } })).status, 403);
    assert.equal((await call('DELETE', `/tokens/${tokens['acme']!.id}`, as('org'))).status, 403);
    assert.deepEqual(((await call('GET', '/orgs')).body as unknown as { slug: string }[]).map((o) => o.slug), ['acme', 'personal']);
    assert.equal((await call('POST', '/orgs', { body: { slug: 'acme' } })).status, 409);
    assert.equal((await call('POST', '/orgs', { body: { slug: 'Bad Slug' } })).status, 400);
    assert.equal((await call('POST', '/tokens', { body: { org: 'ghost' } })).status, 404);
    const wrongApp = await call('POST', '/tokens', { body: { org: 'personal', app: 'secret-plans' } });
    assert.equal(wrongApp.status, 400);
    assert.match(wrongApp.body.error!, /'app' must be an app of org "personal": got "secret-plans"/);
    assert.equal((await call('DELETE', '/tokens/nope')).status, 404);
    assert.deepEqual(((await call('GET', '/tokens?org=acme')).body as unknown as { name: string }[]).map((t) => t.name), ['acme']);
  });

  test("a token's leases are owned by it", async () => {
    const id = (await call('POST', '/apps/mine/machines', { ...as('org'), body: { config: { image: 'ok-image' }, skip_launch: true } })).body['id'] as string;
    const taken = await call('POST', `/apps/mine/machines/${id}/lease`, { ...as('org'), body: { ttl: 5 } });
    assert.equal((taken.body['data'] as { owner: string }).owner, `token:${tokens['org']!.id}`);
  });
});
