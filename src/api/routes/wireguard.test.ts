import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Scheduler } from '../../scheduler/index.ts';
import { openSqliteStore, type Store } from '../../store/index.ts';
import { parseWgQuickConfig } from '../../net/peers/wg-quick-config.ts';
import { hashTokenSecret } from '../auth/secret.ts';
import { createApiApp } from '../server.ts';
import { fakeImages as images } from '../testing/fake-images.ts';

const TOKEN = 'test-token';
const OTHER_ORG_TOKEN = 'other-org-token';

type Body = Record<string, unknown> & { error?: string; code?: string };

describe('WireGuard peers and IPs API', () => {
  let store: Store;
  let app: ReturnType<typeof createApiApp>;

  const call = async (method: string, path: string, body?: unknown, token = TOKEN): Promise<{ status: number; body: Body & Body[] }> => {
    const response = await app.request(`/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return { status: response.status, body: (text ? JSON.parse(text) : undefined) as Body & Body[] };
  };

  before(async () => {
    store = await openSqliteStore({ path: ':memory:' });
    app = createApiApp({ store, images, scheduler: new Scheduler([{ id: 'h1', region: 'ams', number: 1, ipv4Subnet: '172.19.0.0/16', drivers: ['runsc'] }]), token: TOKEN, rateLimits: false });
    assert.equal((await call('POST', '/apps', { app_name: 'web' })).status, 201);
    await store.createOrg({ slug: 'other', name: 'Other', createdAt: Date.now() });
    await store.createToken({ id: 'tok_other', name: 'other', orgSlug: 'other', readOnly: false, hash: hashTokenSecret(OTHER_ORG_TOKEN), createdAt: Date.now() });
  });
  after(() => store.close());

  test('create without a gateway is NO_PEER_GATEWAY naming the regions that have one', async () => {
    const res = await call('POST', '/wireguard/peers', { region: 'ams', name: 'laptop' });
    assert.equal(res.status, 412);
    assert.equal(res.body.code, 'NO_PEER_GATEWAY');
    assert.match(res.body.error ?? '', /'region' must have a gateway host: got ams; regions with one: none/);
  });

  test('create, list and remove a peer; the config is wg-quick; names are unique; bad input is refused', async () => {
    await store.putPeerGateway({ hostId: 'h1', region: 'ams', hostNumber: 1, publicKey: 'g'.repeat(43) + '=', endpoint: '192.0.2.1:51821', updatedAt: Date.now() });
    const created = await call('POST', '/wireguard/peers', { region: 'ams', name: 'laptop' });
    assert.equal(created.status, 201, created.body.error);
    const peer = created.body['peer'] as Record<string, string>;
    assert.equal(peer['org'], 'personal');
    const config = parseWgQuickConfig(created.body['config'] as string);
    assert.equal(config.Interface['Address'], `${peer['address']}/128`);
    assert.equal(config.Peer['Endpoint'], '192.0.2.1:51821');
    assert.ok(!JSON.stringify(await store.listPeers()).includes(config.Interface['PrivateKey'] ?? '?'));

    assert.equal((await call('POST', '/wireguard/peers', { name: 'laptop' })).body.code, 'PEER_EXISTS');
    const bad = await call('POST', '/wireguard/peers', { name: 'Bad Name' });
    assert.equal(bad.status, 400);
    assert.match(bad.body.error ?? '', /Cannot create WireGuard peer as 'name' must be lowercase letters/);
    assert.equal((await call('POST', '/wireguard/peers', { region: 'xyz' })).body.code, 'REGION_UNKNOWN');
    assert.equal((await call('POST', '/wireguard/peers', { region: 'syd' })).body.code, 'NO_PEER_GATEWAY');

    const listed = await call('GET', '/wireguard/peers');
    assert.deepEqual(listed.body.map((p) => p['name']), ['laptop']);
    // Another org's token neither sees nor removes it, nor acts in another org.
    assert.deepEqual((await call('GET', '/wireguard/peers', undefined, OTHER_ORG_TOKEN)).body, []);
    assert.equal((await call('DELETE', '/wireguard/peers/laptop', undefined, OTHER_ORG_TOKEN)).body.code, 'PEER_NOT_FOUND');
    assert.equal((await call('GET', '/wireguard/peers?org=personal', undefined, OTHER_ORG_TOKEN)).status, 403);

    assert.equal((await call('DELETE', '/wireguard/peers/laptop')).status, 200);
    const again = await call('DELETE', '/wireguard/peers/laptop');
    assert.equal(again.status, 404);
    assert.equal(again.body.code, 'PEER_NOT_FOUND');
  });

  test('allocate, list and release a private IPv6; another app or org cannot release it', async () => {
    const allocated = await call('POST', '/apps/web/ips', { type: 'private_v6' });
    assert.equal(allocated.status, 201, allocated.body.error);
    const address = allocated.body['address'] as string;
    assert.match(address, /^fdaa:/);
    assert.deepEqual((await call('GET', '/apps/web/ips')).body.map((ip) => ip['address']), [address]);
    assert.equal((await call('POST', '/apps/web/ips', { type: 'public_v6' })).status, 400);
    assert.equal((await call('GET', '/apps/web/ips', undefined, OTHER_ORG_TOKEN)).body.code, 'APP_NOT_FOUND');
    const unknown = await call('DELETE', `/apps/web/ips/${encodeURIComponent('fdaa::1')}`);
    assert.equal(unknown.body.code, 'IP_NOT_FOUND');
    assert.equal((await call('DELETE', `/apps/web/ips/${encodeURIComponent(address)}`)).status, 200);
    assert.deepEqual((await call('GET', '/apps/web/ips')).body, []);
  });
});
