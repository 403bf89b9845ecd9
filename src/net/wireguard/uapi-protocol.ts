import { isIPv4, isIPv6 } from 'node:net';
import { AloftError, invalidField } from '../../lib/errors.ts';
import { expandIpv6, formatIpv6 } from '../sixpn.ts';
import { hexToKey, keyToHex } from './keys.ts';

/**
 * The WireGuard cross-platform userspace API (wireguard.com/xplatform): a client writes
 * `set=1\n` or `get=1\n`, then `key=value` lines, then an empty line; the daemon answers
 * (for get, its own `key=value` lines and) `errno=N` and an empty line. Keys are hex.
 * A `public_key=` line starts a peer's section; the lines after it are that peer's.
 * This file is the text only, so it is tested without a daemon.
 */

/** One peer in a `set`. Fields left out are left as the device has them. */
export interface UapiPeerConfig {
  /** The peer's public key, base64. */
  publicKey: string;
  /** Remove the peer (the other fields are then ignored). */
  remove?: boolean;
  /** Change the peer only if it exists; never create it. */
  updateOnly?: boolean;
  /** `ip:port` or `[ipv6]:port`. */
  endpoint?: string;
  /** Seconds between keepalives when otherwise idle; 0 turns them off. */
  persistentKeepalive?: number;
  /** Replace the peer's allowed IPs with `allowedIps` instead of adding to them. */
  replaceAllowedIps?: boolean;
  /** CIDRs this peer may send from and that are sent to it. */
  allowedIps?: readonly string[];
}

/** One `set`: device fields, then peers. */
export interface UapiDeviceConfig {
  /** The device's private key, base64. */
  privateKey?: string;
  /** UDP port to listen on; 0 picks one. */
  listenPort?: number;
  /** Remove every peer not named in `peers`. */
  replacePeers?: boolean;
  peers?: readonly UapiPeerConfig[];
}

/** A peer as `get` reports it. */
export interface UapiPeerState {
  publicKey: string;
  endpoint: string | undefined;
  allowedIps: string[];
  persistentKeepalive: number;
  /** Milliseconds since the epoch of the last completed handshake; 0 when none. */
  lastHandshakeMs: number;
  rxBytes: number;
  txBytes: number;
}

/** A device as `get` reports it (never its private key: only whether it has one). */
export interface UapiDeviceState {
  hasPrivateKey: boolean;
  listenPort: number;
  peers: UapiPeerState[];
}

const MAX_PORT = 65_535;

/** The request text of a `set`; INVALID_ARGUMENT for any bad field, before anything is sent. */
export function encodeSet(config: UapiDeviceConfig): string {
  const action = 'configure WireGuard device';
  const lines = ['set=1'];
  if (config.privateKey !== undefined) lines.push(`private_key=${keyToHex(action, 'privateKey', config.privateKey)}`);
  if (config.listenPort !== undefined) lines.push(`listen_port=${checkPort(action, 'listenPort', config.listenPort)}`);
  if (config.replacePeers === true) lines.push('replace_peers=true');
  (config.peers ?? []).forEach((peer, i) => {
    const field = (name: string): string => `peers[${i}].${name}`;
    lines.push(`public_key=${keyToHex(action, field('publicKey'), peer.publicKey)}`);
    if (peer.remove === true) {
      lines.push('remove=true');
      return;
    }
    if (peer.updateOnly === true) lines.push('update_only=true');
    if (peer.endpoint !== undefined) lines.push(`endpoint=${checkEndpoint(action, field('endpoint'), peer.endpoint)}`);
    if (peer.persistentKeepalive !== undefined) {
      lines.push(`persistent_keepalive_interval=${checkPort(action, field('persistentKeepalive'), peer.persistentKeepalive)}`);
    }
    if (peer.replaceAllowedIps === true) lines.push('replace_allowed_ips=true');
    for (const [j, cidr] of (peer.allowedIps ?? []).entries()) lines.push(`allowed_ip=${normalizeCidr(action, `${field('allowedIps')}[${j}]`, cidr)}`);
  });
  return `${lines.join('\n')}\n\n`;
}

/** The request text of a `get`. */
export const GET_REQUEST = 'get=1\n\n';

/** The errno of a reply (the last `errno=` line); WIREGUARD_FAILED when there is none. */
export function replyErrno(reply: string): number {
  const match = /(?:^|\n)errno=(-?\d+)\n\n$/.exec(reply);
  if (!match) throw new AloftError('WIREGUARD_FAILED', `Cannot read WireGuard UAPI reply as it must end with "errno=N": got ${JSON.stringify(reply.slice(-80))}`);
  return Number(match[1]);
}

/** Parses a `get` reply; throws WIREGUARD_FAILED when errno is not 0. */
export function parseGet(reply: string): UapiDeviceState {
  const errno = replyErrno(reply);
  if (errno !== 0) throw new AloftError('WIREGUARD_FAILED', `Cannot read WireGuard device as the UAPI answered errno=${errno}`, { details: { errno } });
  const device: UapiDeviceState = { hasPrivateKey: false, listenPort: 0, peers: [] };
  let peer: UapiPeerState | undefined;
  let handshakeSec = 0;
  for (const line of reply.split('\n')) {
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    const key = line.slice(0, eq);
    const value = line.slice(eq + 1);
    if (key === 'public_key') {
      peer = { publicKey: hexToKey(value), endpoint: undefined, allowedIps: [], persistentKeepalive: 0, lastHandshakeMs: 0, rxBytes: 0, txBytes: 0 };
      handshakeSec = 0;
      device.peers.push(peer);
      continue;
    }
    if (peer === undefined) {
      if (key === 'private_key') device.hasPrivateKey = /^[0-9a-f]{64}$/.test(value) && /[1-9a-f]/.test(value);
      else if (key === 'listen_port') device.listenPort = Number(value);
      continue;
    }
    switch (key) {
      case 'endpoint':
        peer.endpoint = value;
        break;
      case 'allowed_ip':
        peer.allowedIps.push(value);
        break;
      case 'persistent_keepalive_interval':
        peer.persistentKeepalive = Number(value);
        break;
      case 'last_handshake_time_sec':
        handshakeSec = Number(value);
        peer.lastHandshakeMs = handshakeSec * 1000;
        break;
      case 'last_handshake_time_nsec':
        peer.lastHandshakeMs = handshakeSec * 1000 + Math.floor(Number(value) / 1e6);
        break;
      case 'rx_bytes':
        peer.rxBytes = Number(value);
        break;
      case 'tx_bytes':
        peer.txBytes = Number(value);
        break;
    }
  }
  return device;
}

/**
 * A CIDR in the form the daemon reports it: host bits cleared, IPv6 in RFC 5952 text,
 * so desired and reported allowed IPs compare as strings.
 */
export function normalizeCidr(action: string, field: string, cidr: string): string {
  const slash = typeof cidr === 'string' ? cidr.lastIndexOf('/') : -1;
  const address = slash > 0 ? cidr.slice(0, slash) : '';
  const bitsText = slash > 0 ? cidr.slice(slash + 1) : '';
  const bits = /^\d{1,3}$/.test(bitsText) ? Number(bitsText) : -1;
  if (isIPv4(address) && bits >= 0 && bits <= 32) {
    const value = address.split('.').reduce((acc, part) => acc * 256 + Number(part), 0);
    const masked = bits === 0 ? 0 : value - (value % 2 ** (32 - bits));
    return `${[24, 16, 8, 0].map((shift) => Math.floor(masked / 2 ** shift) % 256).join('.')}/${bits}`;
  }
  const groups = isIPv6(address) ? expandIpv6(address) : null;
  if (groups !== null && bits >= 0 && bits <= 128) {
    const masked = groups.map((group, i) => {
      const keep = Math.max(0, Math.min(16, bits - i * 16));
      return keep === 0 ? 0 : group & (0xffff << (16 - keep)) & 0xffff;
    });
    return `${formatIpv6(masked)}/${bits}`;
  }
  throw invalidField(action, field, 'an IPv4 or IPv6 CIDR such as fdaa:0:1:0:2::/80', cidr);
}

/** `ip:port` or `[ipv6]:port`, as WireGuard wants an endpoint, in canonical text. */
export function checkEndpoint(action: string, field: string, endpoint: string): string {
  const match = typeof endpoint === 'string' ? /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(endpoint) : null;
  const host = match?.[1] ?? match?.[2] ?? '';
  const port = Number(match?.[3] ?? -1);
  const ok = match !== null && port >= 1 && port <= MAX_PORT && (match[1] !== undefined ? isIPv6(host) : isIPv4(host));
  if (!ok) throw invalidField(action, field, 'an endpoint "ipv4:port" or "[ipv6]:port" with a port from 1 to 65535', endpoint);
  // Canonical text, as the daemon reports it, so desired and current compare as strings.
  const groups = match[1] !== undefined ? expandIpv6(host) : null;
  return groups === null ? `${host}:${port}` : `[${formatIpv6(groups)}]:${port}`;
}

function checkPort(action: string, field: string, value: number): number {
  if (!Number.isInteger(value) || value < 0 || value > MAX_PORT) throw invalidField(action, field, 'an integer from 0 to 65535', value);
  return value;
}
