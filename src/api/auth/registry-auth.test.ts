import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { errorCode, pushImage, startTestRegistry, type TestRegistry } from '../../image/registry/test-fixture.ts';
import { openSqliteStore, type Store } from '../../store/index.ts';
import { registryAccess } from './registry-auth.ts';
import { hashTokenSecret, newTokenSecret } from './secret.ts';

const OPERATOR_TOKEN = 'operator-secret-for-tests';

describe('registry access with API tokens', () => {
  let store: Store;
  let reg: TestRegistry;
  /** Secrets by role. */
  const secrets: Record<string, string> = {};
  let tokenCount = 0;

  const makeToken = async (role: string, orgSlug: string, extra: { appName?: string; readOnly?: boolean } = {}): Promise<string> => {
    const secret = newTokenSecret();
    tokenCount++;
    await store.createToken({ id: `tok${tokenCount}`, name: role, orgSlug, readOnly: extra.readOnly ?? false, hash: hashTokenSecret(secret), createdAt: 1, ...(extra.appName === undefined ? {} : { appName: extra.appName }) });
    secrets[role] = secret;
    return secret;
  };
  const bearer = (role: string) => ({ Authorization: `Bearer ${role === 'operator' ? OPERATOR_TOKEN : secrets[role]}` });
  const basic = (role: string) => ({ Authorization: `Basic ${Buffer.from(`anyone:${secrets[role]}`).toString('base64')}` });
  const get = (path: string, headers: Record<string, string> = {}, method = 'GET') => fetch(`${reg.base}${path}`, { method, headers });
  const pushStatus = async (repo: string, headers: Record<string, string>) => (await fetch(`${reg.base}/v2/${repo}/blobs/uploads/`, { method: 'POST', headers })).status;

  before(async () => {
    store = await openSqliteStore({ path: ':memory:' });
    await store.createOrg({ slug: 'acme', name: 'Acme', createdAt: 1 });
    await store.createOrg({ slug: 'other', name: 'Other', createdAt: 1 });
    await makeToken('acme', 'acme');
    await makeToken('reader', 'acme', { readOnly: true });
    await makeToken('web', 'acme', { appName: 'web' });
    await makeToken('other', 'other');
    await makeToken('revoked', 'acme');
    await store.revokeToken(`tok${tokenCount}`, 2);
    const access = registryAccess({ operatorToken: OPERATOR_TOKEN, store });
    reg = await startTestRegistry(access.authorize, { filterCatalog: access.filterCatalog });
    await pushImage(reg.base, 'other/secret', 'latest', 'o', bearer('operator'));
  });
  after(async () => {
    await reg.close();
    await store.close();
  });

  test('no credentials are a 401 with a Basic challenge, on the base endpoint and on a push', async () => {
    for (const res of [await get('/v2/'), await fetch(`${reg.base}/v2/acme/x/blobs/uploads/`, { method: 'POST' })]) {
      assert.equal(res.status, 401);
      assert.equal(res.headers.get('www-authenticate'), 'Basic realm="aloft"');
      assert.equal(await errorCode(res), 'UNAUTHORIZED');
    }
  });

  test('unknown and revoked tokens, and Basic without a secret, are 401', async () => {
    assert.equal((await get('/v2/', { Authorization: 'Bearer aloft_nope' })).status, 401);
    assert.equal((await get('/v2/', basic('revoked'))).status, 401);
    assert.equal((await get('/v2/', { Authorization: `Basic ${Buffer.from('justauser').toString('base64')}` })).status, 401);
    assert.equal((await get('/v2/acme/hello/tags/list', bearer('revoked'))).status, 401);
  });

  test('the operator token may do everything', async () => {
    assert.equal((await get('/v2/', bearer('operator'))).status, 200);
    await pushImage(reg.base, 'anywhere/at-all', 'v1', 'op', bearer('operator'));
    assert.equal((await get('/v2/other/secret/manifests/latest', bearer('operator'))).status, 200);
  });

  test('an org token pushes and pulls its org, with Bearer or Basic credentials', async () => {
    assert.equal((await get('/v2/', basic('acme'))).status, 200);
    await pushImage(reg.base, 'acme/hello', 'latest', 'a', basic('acme'));
    await pushImage(reg.base, 'acme/deep/name', 'latest', 'd', bearer('acme'));
    assert.equal((await get('/v2/acme/hello/manifests/latest', basic('acme'))).status, 200);
  });

  test("outside its scope: a push is 403 DENIED, a pull answers as a missing repository", async () => {
    const push = await fetch(`${reg.base}/v2/other/hello/blobs/uploads/`, { method: 'POST', headers: basic('acme') });
    assert.equal(push.status, 403);
    assert.equal(await errorCode(push), 'DENIED');
    // A repository of another org that exists and one that does not get the same answer.
    for (const path of ['/v2/other/secret/tags/list', '/v2/other/nothing/tags/list', '/v2/other/secret/manifests/latest']) {
      const res = await get(path, basic('acme'));
      assert.equal(res.status, 404, path);
      assert.equal(await errorCode(res), 'NAME_UNKNOWN', path);
    }
    // The org's bare name is not under `<org>/`.
    assert.equal((await get('/v2/acme/tags/list', basic('acme'))).status, 404);
    assert.equal((await get('/v2/acme/hello/tags/list', basic('other'))).status, 404);
  });

  test('a read-only token pulls but may not push or delete', async () => {
    assert.equal((await get('/v2/acme/hello/manifests/latest', basic('reader'))).status, 200);
    assert.equal(await pushStatus('acme/hello', basic('reader')), 403);
    const del = await get('/v2/acme/hello/manifests/latest', basic('reader'), 'DELETE');
    assert.equal(del.status, 403);
    assert.equal(await errorCode(del), 'DENIED');
  });

  test('an app-scoped token touches only <org>/<app> and below', async () => {
    await pushImage(reg.base, 'acme/web', 'latest', 'w', basic('web'));
    await pushImage(reg.base, 'acme/web/worker', 'latest', 'ww', basic('web'));
    assert.equal(await pushStatus('acme/hello', basic('web')), 403);
    assert.equal(await pushStatus('acme/webby', basic('web')), 403);
    assert.equal((await get('/v2/acme/hello/tags/list', basic('web'))).status, 404);
  });

  test('the catalog lists only what the token may see, and pages through that', async () => {
    const catalog = async (role: string, query = '') => ((await (await get(`/v2/_catalog${query}`, role === 'operator' ? bearer(role) : basic(role))).json()) as { repositories: string[] }).repositories;
    const all = await catalog('operator');
    assert.ok(all.includes('other/secret') && all.includes('anywhere/at-all'));
    assert.deepEqual(await catalog('acme'), ['acme/deep/name', 'acme/hello', 'acme/web', 'acme/web/worker']);
    assert.deepEqual(await catalog('reader'), ['acme/deep/name', 'acme/hello', 'acme/web', 'acme/web/worker']);
    assert.deepEqual(await catalog('web'), ['acme/web', 'acme/web/worker']);
    assert.deepEqual(await catalog('other'), ['other/secret']);
    assert.deepEqual(await catalog('acme', '?n=1&last=acme/hello'), ['acme/web']);
    assert.equal((await get('/v2/_catalog')).status, 401);
  });
});
