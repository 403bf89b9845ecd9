import { WIREGUARD_MTU } from '../wireguard/tunnel-interface.ts';
import { DEFAULT_KEEPALIVE_SECONDS } from '../wireguard/mesh-plan.ts';

/** What a user peer's wg-quick file holds. */
export interface WgQuickConfig {
  /** The peer's private key, base64 (generated for the user, never stored). */
  privateKey: string;
  /** The peer's 6PN address (a /128). */
  address: string;
  /** The org's resolver, reached through the gateway. */
  dns: string;
  gatewayPublicKey: string;
  /** `host:port` of the gateway. */
  endpoint: string;
  /** What the laptop routes through the tunnel: the org's /48 and the resolver. */
  allowedIps: readonly string[];
}

/**
 * A standard wg-quick(8) file: `wg-quick up ./peer.conf` (or the WireGuard app's import)
 * brings it up as is. MTU 1420 and keepalive 25 s, as Fly's configs have.
 */
export function renderWgQuickConfig(config: WgQuickConfig): string {
  return [
    '[Interface]',
    `PrivateKey = ${config.privateKey}`,
    `Address = ${config.address}/128`,
    `DNS = ${config.dns}`,
    `MTU = ${WIREGUARD_MTU}`,
    '',
    '[Peer]',
    `PublicKey = ${config.gatewayPublicKey}`,
    `AllowedIPs = ${config.allowedIps.join(', ')}`,
    `Endpoint = ${config.endpoint}`,
    `PersistentKeepalive = ${DEFAULT_KEEPALIVE_SECONDS}`,
    '',
  ].join('\n');
}

/** The fields of a wg-quick file, read back (for tests and for bringing a peer up without wg-quick). */
export function parseWgQuickConfig(text: string): Record<'Interface' | 'Peer', Record<string, string>> {
  const out: Record<'Interface' | 'Peer', Record<string, string>> = { Interface: {}, Peer: {} };
  let section: Record<string, string> | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    if (line === '[Interface]' || line === '[Peer]') {
      section = out[line.slice(1, -1) as 'Interface' | 'Peer'];
      continue;
    }
    const eq = line.indexOf('=');
    if (section !== undefined && eq > 0) section[line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
  }
  return out;
}
