import type { UapiDeviceState, UapiPeerConfig } from '../wireguard/uapi-protocol.ts';
import { normalizeCidr } from '../wireguard/uapi-protocol.ts';
import type { UserPeer } from '../../store/peer-store.ts';

/** What a gateway reconcile changed, by peer (`org/name` for added, public keys for removed). */
export interface PeerChanges {
  added: string[];
  removed: string[];
  updated: string[];
}

/** The /128 a user peer may send from and that is routed to it. */
export function peerPrefix(peer: Pick<UserPeer, 'address'>): string {
  return normalizeCidr('plan WireGuard peers', 'address', `${peer.address}/128`);
}

/**
 * The one UAPI `set` that turns the gateway device's peers into `desired`: peers not
 * wanted are removed, new ones added with their /128, and existing ones whose address
 * changed get it replaced; nothing is sent for peers already right. No endpoint and no
 * keepalive on this side: laptops roam and keep the tunnel open themselves.
 */
export function planPeers(current: UapiDeviceState, desired: readonly UserPeer[]): { peers: UapiPeerConfig[]; changes: PeerChanges } {
  const wanted = new Map(desired.map((peer) => [peer.publicKey, peer]));
  const have = new Map(current.peers.map((peer) => [peer.publicKey, peer]));
  const peers: UapiPeerConfig[] = [];
  const changes: PeerChanges = { added: [], removed: [], updated: [] };
  for (const peer of current.peers) {
    if (wanted.has(peer.publicKey)) continue;
    peers.push({ publicKey: peer.publicKey, remove: true });
    changes.removed.push(peer.publicKey);
  }
  for (const [publicKey, peer] of wanted) {
    const prefix = peerPrefix(peer);
    const now = have.get(publicKey);
    if (now !== undefined && now.allowedIps.length === 1 && now.allowedIps[0] === prefix) continue;
    peers.push({ publicKey, replaceAllowedIps: true, allowedIps: [prefix], ...(now === undefined ? {} : { updateOnly: true }) });
    (now === undefined ? changes.added : changes.updated).push(`${peer.org}/${peer.name}`);
  }
  return { peers, changes };
}
