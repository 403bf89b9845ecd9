import { homedir } from 'node:os';
import { join } from 'node:path';
import { invalidField } from '../lib/errors.ts';
import { requireRegion } from '../model/regions.ts';

/** Everything the embedded platform can be told, with the defaults of `aloft up`. */
export interface PlatformSettings {
  dataDir: string;
  apiHost: string;
  apiPort: number;
  proxyHost: string;
  proxyPort: number;
  /** The image registry (OCI Distribution, org tokens); port 0 picks a free one. */
  registryHost: string;
  registryPort: number;
  /** Apps are served at `<app>.<domain>`. */
  domain: string;
  region: string;
  runtime: 'runsc' | 'runc';
  bridge: string;
  netnsPrefix: string;
  /** Host-local IPv4 subnet for Machines. */
  ipv4Subnet: string;
  /** This host's number in 6PN addresses. */
  hostNumber: number;
  /**
   * The guest kernel, init and initramfs of microVM Machines: host-wide, shared by every
   * data dir, since they depend only on the kernel package (ALOFT_GUEST_CACHE).
   */
  guestCacheDir: string;
  /** How often the proxy's autostop looks for idle excess Machines, in ms (0: never). Default 5 min. */
  autostopIntervalMs: number;
  /**
   * The proxy's TLS port (SNI picks the app; HTTP/2 by ALPN; certificates under
   * `<dataDir>/certs`, self-signed per app when none is stored); 0: any free port; null: none.
   */
  tlsPort: number | null;
  /** The UDP port of this host's WireGuard (the private network's mesh); 0: any free one. */
  meshPort: number;
}

/** The data dir: ALOFT_DATA_DIR, else /var/lib/aloft for root, else ~/.local/share/aloft. */
export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env['ALOFT_DATA_DIR']) return env['ALOFT_DATA_DIR'];
  return process.getuid?.() === 0 ? '/var/lib/aloft' : join(homedir(), '.local', 'share', 'aloft');
}

export function defaultSettings(env: NodeJS.ProcessEnv = process.env): PlatformSettings {
  return {
    dataDir: defaultDataDir(env),
    apiHost: '127.0.0.1',
    apiPort: 4280,
    proxyHost: '127.0.0.1',
    proxyPort: 8080,
    registryHost: '127.0.0.1',
    registryPort: 5000,
    domain: 'localhost',
    region: 'local',
    runtime: env['ALOFT_RUNTIME'] === 'runc' ? 'runc' : 'runsc',
    bridge: 'aloft0',
    netnsPrefix: 'aloft-',
    ipv4Subnet: '172.19.0.0/16',
    hostNumber: 1,
    guestCacheDir: env['ALOFT_GUEST_CACHE'] || '/var/cache/aloft/guest',
    autostopIntervalMs: 300_000,
    tlsPort: 8443,
    meshPort: 51820,
  };
}

/** Checks settings given on the command line; errors name the flag and the rule. */
export function checkSettings(s: PlatformSettings): PlatformSettings {
  for (const [field, port] of [['api-port', s.apiPort], ['proxy-port', s.proxyPort], ['registry-port', s.registryPort], ['tls-port', s.tlsPort ?? 0], ['mesh-port', s.meshPort]] as const) {
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw invalidField('start aloft', field, 'a port number from 0 to 65535', port);
  }
  if (s.runtime !== 'runsc' && s.runtime !== 'runc') throw invalidField('start aloft', 'runtime', 'one of "runsc", "runc"', s.runtime);
  requireRegion(s.region, 'start aloft'); // one catalogue of regions (model/regions.ts): a typo is named, with a did-you-mean
  if (!/^[a-zA-Z0-9_-]{1,15}$/.test(s.bridge)) throw invalidField('start aloft', 'bridge', 'an interface name of at most 15 characters', s.bridge);
  if (!Number.isInteger(s.hostNumber) || s.hostNumber < 1 || s.hostNumber > 0xffffffff) {
    throw invalidField('start aloft', 'host-number', 'an integer from 1 to 4294967295', s.hostNumber);
  }
  if (!Number.isInteger(s.autostopIntervalMs) || s.autostopIntervalMs < 0) {
    throw invalidField('start aloft', 'autostop-interval', 'a duration such as "5m", "30s" or "500ms" (0: off)', s.autostopIntervalMs);
  }
  return s;
}
