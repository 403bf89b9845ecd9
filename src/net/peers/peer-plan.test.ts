import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { UserPeer } from '../../store/peer-store.ts';
import type { UapiPeerState } from '../wireguard/uapi-protocol.ts';
import { planPeers } from './peer-plan.ts';
import { parseWgQuickConfig, renderWgQuickConfig } from './wg-quick-config.ts';

const key = (c: string): string => c.repeat(43) + '=';
const peer = (name: string, k: string, address: string): UserPeer => ({ org: 'acme', name, region: 'ams', gatewayHostId: 'h1', publicKey: key(k), address, createdAt: 0 });
const state = (k: string, allowedIps: string[]): UapiPeerState => ({ publicKey: key(k), endpoint: '10.0.0.2:1234', allowedIps, persistentKeepalive: 0, lastHandshakeMs: 0, rxBytes: 0, txBytes: 0 });

test('planPeers sends only the differences: adds, removes, re-addresses, and nothing for peers already right', () => {
  const current = { hasPrivateKey: true, listenPort: 51821, peers: [state('a', ['fdaa:0:7:0:1:0:5:2/128']), state('b', ['fdaa:0:7:0:1:0:6:2/128']), state('x', ['fdaa:0:7:0:1:0:9:2/128'])] };
  const desired = [peer('a', 'a', 'fdaa:0:7:0:1:0:5:2'), peer('b', 'b', 'fdaa:0:7:0:1:0:7:2'), peer('c', 'c', 'fdaa:0:7:0:1:0:8:2')];
  const { peers, changes } = planPeers(current, desired);
  assert.deepEqual(changes, { added: ['acme/c'], removed: [key('x')], updated: ['acme/b'] });
  assert.deepEqual(peers, [
    { publicKey: key('x'), remove: true },
    { publicKey: key('b'), replaceAllowedIps: true, allowedIps: ['fdaa:0:7:0:1:0:7:2/128'], updateOnly: true },
    { publicKey: key('c'), replaceAllowedIps: true, allowedIps: ['fdaa:0:7:0:1:0:8:2/128'] },
  ]);
  assert.deepEqual(planPeers({ ...current, peers: [state('a', ['fdaa:0:7:0:1:0:5:2/128'])] }, [desired[0]!]).peers, []);
});

test('the wg-quick file has every field wg-quick needs, and reads back', () => {
  const text = renderWgQuickConfig({ privateKey: key('p'), address: 'fdaa:0:7:0:1:0:5:2', dns: 'fdaa::3', gatewayPublicKey: key('g'), endpoint: '192.0.2.1:51821', allowedIps: ['fdaa:0:7::/48', 'fdaa::3/128'] });
  assert.equal(
    text,
    `[Interface]\nPrivateKey = ${key('p')}\nAddress = fdaa:0:7:0:1:0:5:2/128\nDNS = fdaa::3\nMTU = 1420\n\n[Peer]\nPublicKey = ${key('g')}\nAllowedIPs = fdaa:0:7::/48, fdaa::3/128\nEndpoint = 192.0.2.1:51821\nPersistentKeepalive = 25\n`,
  );
  assert.deepEqual(parseWgQuickConfig(text).Peer['AllowedIPs'], 'fdaa:0:7::/48, fdaa::3/128');
});
