import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isAloftError } from '../../lib/errors.ts';
import { meshPrefixes, planMesh, type MeshPeer } from './mesh-plan.ts';
import { hostNetworkPrefix, hostPrefixes, hostSixpnAddress, networkPrefix } from './prefixes.ts';
import type { UapiDeviceState, UapiPeerState } from './uapi-protocol.ts';

const key = (n: number): string => Buffer.alloc(32, n).toString('base64');
const host = (n: number, endpoint = `10.0.0.${n}:51820`): MeshPeer => ({ id: `h${n}`, publicKey: key(n), endpoint, prefixes: hostPrefixes(n, [7, 8]) });
const state = (peers: Partial<UapiPeerState>[]): UapiDeviceState => ({
  hasPrivateKey: true,
  listenPort: 51820,
  peers: peers.map((peer) => ({ publicKey: '', endpoint: undefined, allowedIps: [], persistentKeepalive: 0, lastHandshakeMs: 0, rxBytes: 0, txBytes: 0, ...peer })),
});
/** A device that already has `peer` exactly as desired (order of allowed IPs as the daemon keeps it). */
const synced = (peer: MeshPeer): Partial<UapiPeerState> => ({ publicKey: peer.publicKey, endpoint: peer.endpoint, allowedIps: [...peer.prefixes].reverse(), persistentKeepalive: 25 });

describe('6PN host prefixes', () => {
  it('gives a host its own /80 in network 0 and one /80 per org network', () => {
    assert.equal(hostSixpnAddress(2), 'fdaa::2:0:0:1');
    assert.equal(hostNetworkPrefix(70_001, 3), 'fdaa:1:1171:0:3::/80');
    assert.equal(networkPrefix(7), 'fdaa:0:7::/48');
    assert.deepEqual(hostPrefixes(2, [8, 7, 8]), ['fdaa::2:0:0:0/80', 'fdaa:0:7:0:2::/80', 'fdaa:0:8:0:2::/80']);
    assert.throws(() => hostPrefixes(2, [0]), (err) => isAloftError(err, 'INVALID_ARGUMENT'));
    assert.throws(() => hostSixpnAddress(-1), (err) => isAloftError(err, 'INVALID_ARGUMENT'));
  });
});

describe('planMesh', () => {
  it('adds every desired host to an empty device with keepalive 25 and its prefixes', () => {
    const { peers, changes } = planMesh(state([]), [host(2), host(3)]);
    assert.deepEqual(changes, { added: ['h2', 'h3'], removed: [], updated: [] });
    assert.deepEqual(peers[0], { publicKey: key(2), endpoint: '10.0.0.2:51820', persistentKeepalive: 25, replaceAllowedIps: true, allowedIps: hostPrefixes(2, [7, 8]).sort() });
  });

  it('sends nothing when the device already matches', () => {
    const { peers, changes } = planMesh(state([synced(host(2)), synced(host(3))]), [host(3), host(2)]);
    assert.deepEqual(peers, []);
    assert.deepEqual(changes, { added: [], removed: [], updated: [] });
  });

  it('removes peers no longer wanted (unknown ones too) and updates only what differs', () => {
    const moved = host(3, '10.0.9.3:51820');
    const grown: MeshPeer = { ...host(4), prefixes: hostPrefixes(4, [7, 8, 9]) };
    const current = state([synced(host(2)), synced(host(3)), synced(host(4)), { publicKey: key(99) }]);
    const { peers, changes } = planMesh(current, [moved, grown]);
    assert.deepEqual(changes, { added: [], removed: [key(2), key(99)], updated: ['h3', 'h4'] });
    assert.deepEqual(peers, [
      { publicKey: key(2), remove: true },
      { publicKey: key(99), remove: true },
      { publicKey: key(3), updateOnly: true, endpoint: '10.0.9.3:51820' },
      { publicKey: key(4), updateOnly: true, replaceAllowedIps: true, allowedIps: hostPrefixes(4, [7, 8, 9]).sort() },
    ]);
  });

  it('restores a keepalive someone changed, and compares endpoints in canonical form', () => {
    const peer = host(2, '[fd00::2]:51820');
    const { peers } = planMesh(state([{ ...synced(peer), endpoint: '[fd00::2]:51820', persistentKeepalive: 0 }]), [{ ...peer, endpoint: '[FD00:0::2]:51820' }]);
    assert.deepEqual(peers, [{ publicKey: key(2), updateOnly: true, persistentKeepalive: 25 }]);
  });

  it('refuses bad desired sets before planning anything', () => {
    const cases: [MeshPeer[], RegExp][] = [
      [[host(2), { ...host(3), publicKey: key(2) }], /'peers\[1\]\.publicKey' must be unique across hosts/],
      [[host(2), { ...host(3), prefixes: [hostNetworkPrefix(7, 2)] }], /'peers\[1\]\.prefixes' must be prefixes no other host has \(h2 has fdaa:0:7:0:2::\/80\)/],
      [[{ ...host(2), endpoint: 'h2:51820' }], /'peers\[0\]\.endpoint'/],
      [[{ ...host(2), publicKey: 'short' }], /'peers\[0\]\.publicKey' must be a WireGuard key/],
      [[{ ...host(2), id: '' }], /'peers\[0\]\.id'/],
      [[{ ...host(2), prefixes: ['fdaa::/200'] }], /'peers\[0\]\.prefixes\[0\]'/],
    ];
    for (const [desired, message] of cases) {
      assert.throws(() => planMesh(state([]), desired), (err) => isAloftError(err, 'INVALID_ARGUMENT') && message.test(err.message), String(message));
    }
    assert.throws(() => planMesh(state([]), [host(2)], { selfPublicKey: key(2) }), /another host's key/);
  });

  it('lists the routes the tunnel should carry: every desired prefix', () => {
    assert.deepEqual(meshPrefixes([host(3), host(2)]), [...hostPrefixes(2, [7, 8]), ...hostPrefixes(3, [7, 8])].sort());
  });
});
