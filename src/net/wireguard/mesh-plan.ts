import { invalidField } from '../../lib/errors.ts';
import { keyBytes } from './keys.ts';
import { checkEndpoint, normalizeCidr, type UapiDeviceState, type UapiPeerConfig } from './uapi-protocol.ts';

/**
 * One other host in the mesh, as the host registry will publish it (a plain array for
 * now; cluster mode reads it from the store).
 */
export interface MeshPeer {
  /** The host's id (for logs and errors). */
  id: string;
  /** Its WireGuard public key, base64. */
  publicKey: string;
  /** Where its wireguard-go listens: `ip:port` or `[ipv6]:port`. */
  endpoint: string;
  /** Its 6PN prefixes (see `hostPrefixes`): what it may send from and what is routed to it. */
  prefixes: readonly string[];
}

/** What a reconcile changed. */
export interface MeshChanges {
  /** Host ids of peers added. */
  added: string[];
  /** Public keys of peers removed (the device knows no host ids). */
  removed: string[];
  /** Host ids of peers whose endpoint, keepalive or prefixes changed. */
  updated: string[];
}

/** Fly's and wg-quick's usual keepalive: keeps NAT and conntrack entries open. */
export const DEFAULT_KEEPALIVE_SECONDS = 25;

/**
 * The one UAPI `set` that turns the device's current peers into `desired`: removes
 * peers no longer wanted, adds new ones, and for existing ones sends only what differs
 * (endpoint, keepalive, allowed IPs replaced as a whole). Empty `peers` means in sync.
 * Unknown peers (by public key) are removed, so the device holds only the mesh.
 */
export function planMesh(
  current: UapiDeviceState,
  desired: readonly MeshPeer[],
  options: { keepalive?: number; selfPublicKey?: string } = {},
): { peers: UapiPeerConfig[]; changes: MeshChanges } {
  const keepalive = options.keepalive ?? DEFAULT_KEEPALIVE_SECONDS;
  const wanted = checkPeers(desired, options.selfPublicKey);
  const peers: UapiPeerConfig[] = [];
  const changes: MeshChanges = { added: [], removed: [], updated: [] };
  const have = new Map(current.peers.map((peer) => [peer.publicKey, peer]));
  for (const peer of current.peers) {
    if (!wanted.has(peer.publicKey)) {
      peers.push({ publicKey: peer.publicKey, remove: true });
      changes.removed.push(peer.publicKey);
    }
  }
  for (const [publicKey, want] of wanted) {
    const now = have.get(publicKey);
    if (now === undefined) {
      peers.push({ publicKey, endpoint: want.endpoint, persistentKeepalive: keepalive, replaceAllowedIps: true, allowedIps: want.prefixes });
      changes.added.push(want.id);
      continue;
    }
    const change: UapiPeerConfig = { publicKey, updateOnly: true };
    if (now.endpoint !== want.endpoint) change.endpoint = want.endpoint;
    if (now.persistentKeepalive !== keepalive) change.persistentKeepalive = keepalive;
    if (!sameSet(now.allowedIps, want.prefixes)) {
      change.replaceAllowedIps = true;
      change.allowedIps = want.prefixes;
    }
    if (Object.keys(change).length > 2) {
      peers.push(change);
      changes.updated.push(want.id);
    }
  }
  return { peers, changes };
}

/** Every prefix the desired peers own (the routes the tunnel should carry). */
export function meshPrefixes(desired: readonly MeshPeer[]): string[] {
  return [...checkPeers(desired, undefined).values()].flatMap((peer) => peer.prefixes).sort();
}

/** Validates and normalises the desired peers, keyed by public key. */
function checkPeers(desired: readonly MeshPeer[], selfPublicKey: string | undefined): Map<string, MeshPeer> {
  const action = 'reconcile WireGuard mesh';
  if (!Array.isArray(desired as unknown)) throw invalidField(action, 'peers', 'an array of hosts', desired);
  const byKey = new Map<string, MeshPeer>();
  const owner = new Map<string, string>();
  desired.forEach((peer, i) => {
    const field = (name: string): string => `peers[${i}].${name}`;
    if (typeof peer.id !== 'string' || peer.id === '') throw invalidField(action, field('id'), 'a non-empty host id', peer.id);
    keyBytes(action, field('publicKey'), peer.publicKey);
    if (peer.publicKey === selfPublicKey) throw invalidField(action, field('publicKey'), "another host's key, not this host's own", peer.publicKey);
    if (byKey.has(peer.publicKey)) throw invalidField(action, field('publicKey'), 'unique across hosts', peer.publicKey);
    if (!Array.isArray(peer.prefixes as unknown)) throw invalidField(action, field('prefixes'), 'an array of IPv6 CIDRs', peer.prefixes);
    const prefixes = [...new Set(peer.prefixes.map((prefix, j) => normalizeCidr(action, `${field('prefixes')}[${j}]`, prefix)))].sort();
    for (const prefix of prefixes) {
      // WireGuard gives an allowed IP to the last peer that names it: two hosts claiming one
      // prefix would silently steal each other's traffic.
      const other = owner.get(prefix);
      if (other !== undefined) throw invalidField(action, field('prefixes'), `prefixes no other host has (${other} has ${prefix})`, peer.prefixes);
      owner.set(prefix, peer.id);
    }
    byKey.set(peer.publicKey, { id: peer.id, publicKey: peer.publicKey, endpoint: checkEndpoint(action, field('endpoint'), peer.endpoint), prefixes });
  });
  return byKey;
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  const left = new Set(a);
  return left.size === new Set(b).size && b.every((item) => left.has(item));
}
