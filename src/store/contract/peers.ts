import assert from 'node:assert/strict';
import { describe } from 'node:test';
import type { AppIp, PeerGatewayRecord, UserPeer } from '../peer-store.ts';
import { ChangeRecorder } from '../testing.ts';
import { givenApp, rejectsWith, storeTest, type OpenStore } from './helpers.ts';

const T0 = 1_700_000_000_000;
const key = (c: string): string => c.repeat(43) + '=';

function samplePeer(overrides: Partial<UserPeer> = {}): UserPeer {
  return {
    org: 'acme',
    name: 'laptop',
    region: 'ams',
    gatewayHostId: 'host-1',
    publicKey: key('a'),
    address: 'fdaa:0:7:0:1:0:10:2',
    createdAt: T0,
    ...overrides,
  };
}

function sampleGateway(overrides: Partial<PeerGatewayRecord> = {}): PeerGatewayRecord {
  return { hostId: 'host-1', region: 'ams', hostNumber: 1, publicKey: key('g'), endpoint: '192.0.2.1:51821', updatedAt: T0, ...overrides };
}

/** User peers, their gateways and apps' private IPs: create, read, list, delete, uniqueness, watch. */
export function peersContract(open: OpenStore): void {
  describe('peers and ips', () => {
    storeTest(open, 'gateways are recorded, replaced by host id and filtered by region', async (store) => {
      await store.putPeerGateway(sampleGateway());
      await store.putPeerGateway(sampleGateway({ hostId: 'host-0', region: 'iad', hostNumber: 2 }));
      const moved = await store.putPeerGateway(sampleGateway({ endpoint: '192.0.2.9:51821' }));
      assert.deepEqual((await store.listPeerGateways()).map((g) => g.hostId), ['host-0', 'host-1']);
      assert.deepEqual(await store.listPeerGateways({ region: 'ams' }), [moved]);
      assert.deepEqual(await store.listPeerGateways({ region: 'syd' }), []);
    });

    storeTest(open, 'a peer is stored, listed by org and gateway, and removed; names are unique per org', async (store) => {
      const peer = await store.createPeer(samplePeer());
      const other = await store.createPeer(samplePeer({ org: 'beta', publicKey: key('b'), address: 'fdaa:0:8:0:1:0:11:2', gatewayHostId: 'host-2' }));
      assert.deepEqual(await store.getPeer('acme', 'laptop'), peer);
      assert.equal(await store.getPeer('beta', 'nope'), undefined);
      assert.deepEqual(await store.listPeers(), [peer, other]);
      assert.deepEqual(await store.listPeers({ org: 'beta' }), [other]);
      assert.deepEqual(await store.listPeers({ gatewayHostId: 'host-1' }), [peer]);
      await rejectsWith(store.createPeer(samplePeer({ publicKey: key('c'), address: 'fdaa:0:7:0:1:0:12:2' })), 'PEER_EXISTS', /'name' must be unique in org acme: got laptop/);
      await store.deletePeer('acme', 'laptop');
      assert.equal(await store.getPeer('acme', 'laptop'), undefined);
      await rejectsWith(store.deletePeer('acme', 'laptop'), 'PEER_NOT_FOUND', /laptop/);
    });

    storeTest(open, 'two peers can never hold one address or one public key', async (store) => {
      await store.createPeer(samplePeer());
      await rejectsWith(store.createPeer(samplePeer({ name: 'b', publicKey: key('b') })), 'STORE_CONFLICT', /'address' must be unused/);
      await rejectsWith(store.createPeer(samplePeer({ name: 'c', address: 'fdaa:0:7:0:1:0:99:2' })), 'STORE_CONFLICT', /'publicKey' must be unused/);
      assert.equal((await store.listPeers()).length, 1);
    });

    storeTest(open, 'a private IP belongs to an existing app, is unique, listed by app and released', async (store) => {
      const app = await givenApp(store, { orgSlug: 'acme' });
      const ip: AppIp = { address: 'fdaa:0:7::1:2', app: app.name, org: 'acme', type: 'private_v6', region: 'ams', createdAt: T0 };
      assert.deepEqual(await store.createIp(ip), ip);
      await rejectsWith(store.createIp(ip), 'STORE_CONFLICT', /'address' must be unused: got fdaa:0:7::1:2/);
      await rejectsWith(store.createIp({ ...ip, address: 'fdaa:0:7::2:2', app: 'no-such-app' }), 'APP_NOT_FOUND');
      assert.deepEqual(await store.getIp(ip.address), ip);
      assert.deepEqual(await store.listIps({ app: app.name }), [ip]);
      assert.deepEqual(await store.listIps({ org: 'other' }), []);
      await store.deleteIp(ip.address);
      assert.deepEqual(await store.listIps(), []);
      await rejectsWith(store.deleteIp(ip.address), 'IP_NOT_FOUND', /got fdaa:0:7::1:2/);
    });

    storeTest(open, 'peer and ip writes are published to watchers', async (store) => {
      const app = await givenApp(store, { orgSlug: 'acme' });
      const recorder = new ChangeRecorder(store);
      const peer = await store.createPeer(samplePeer());
      await store.deletePeer(peer.org, peer.name);
      const ip: AppIp = { address: 'fdaa:0:7::1:2', app: app.name, org: 'acme', type: 'private_v6', region: 'ams', createdAt: T0 };
      await store.createIp(ip);
      await store.deleteIp(ip.address);
      const changes = await recorder.waitFor((c) => c.length >= 4);
      recorder.stop();
      assert.deepEqual(
        changes.map((c) => `${c.kind} ${c.op} ${c.key}`),
        ['peer put acme/laptop', 'peer delete acme/laptop', 'ip put fdaa:0:7::1:2', 'ip delete fdaa:0:7::1:2'],
      );
      const put = changes[0];
      assert.ok(put?.kind === 'peer' && put.op === 'put');
      assert.deepEqual(put.peer, peer);
    });
  });
}
