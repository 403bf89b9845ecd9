import { execCommand, mustRun, type CommandOptions, type CommandRunner } from '../../lib/command.ts';
import { invalidField } from '../../lib/errors.ts';
import { normalizeCidr } from './uapi-protocol.ts';

/** WireGuard's usual MTU: 1500 minus the 80 bytes an IPv6 underlay adds. */
export const WIREGUARD_MTU = 1420;

/** Options of {@link TunnelInterface}. */
export interface TunnelInterfaceOptions {
  /** The interface wireguard-go made. */
  iface: string;
  /** Its network namespace (a name under /var/run/netns); the root one when absent. */
  netns?: string | undefined;
  /** Runs `ip`; injected by unit tests. */
  run?: CommandRunner;
}

const IP: CommandOptions = { timeoutMs: 15_000, errorCode: 'WIREGUARD_FAILED' };
/** Routes aloft adds to the tunnel carry this protocol, so only they are ever removed. */
const ROUTE_PROTO = 'static';

/**
 * The kernel side of a WireGuard tunnel, with iproute2: MTU, the host's own address,
 * and one route per peer prefix. A restarted wireguard-go makes a new interface without
 * any of these, so `configure` is idempotent and re-run after every start.
 */
export class TunnelInterface {
  readonly iface: string;
  readonly netns: string | undefined;
  readonly #run: CommandRunner;

  constructor(options: TunnelInterfaceOptions) {
    this.iface = options.iface;
    this.netns = options.netns;
    this.#run = options.run ?? execCommand;
  }

  /** MTU 1420, the host's 6PN address as a /128 (routes say where the rest is), link up. */
  async configure(address: string): Promise<void> {
    const host = normalizeCidr('configure WireGuard interface', 'address', `${address}/128`);
    await this.#ip(['link', 'set', this.iface, 'mtu', String(WIREGUARD_MTU)]);
    // nodad: a tentative address cannot be a source for ~1 s, and a tunnel has no neighbours.
    await this.#ip(['-6', 'addr', 'replace', host, 'dev', this.iface, 'nodad']);
    await this.#ip(['link', 'set', this.iface, 'up']);
  }

  /** The prefixes routed over the tunnel by aloft (normalised CIDRs, sorted). */
  async routes(): Promise<string[]> {
    const out = await this.#ip(['-j', '-6', 'route', 'show', 'dev', this.iface, 'proto', ROUTE_PROTO]);
    const entries = (out.trim() === '' ? [] : JSON.parse(out)) as { dst?: unknown }[];
    return entries
      .map((entry) => (typeof entry.dst === 'string' ? entry.dst : ''))
      .filter((dst) => dst !== '' && dst !== 'default')
      .map((dst) => normalizeCidr('read WireGuard routes', 'dst', dst.includes('/') ? dst : `${dst}/128`))
      .sort();
  }

  /**
   * Makes aloft's routes over the tunnel exactly `prefixes`: adds the missing ones,
   * removes the rest, touches nothing else. Returns what it changed.
   */
  async setRoutes(prefixes: readonly string[]): Promise<{ added: string[]; removed: string[] }> {
    const want = new Set(prefixes.map((prefix, i) => normalizeCidr('route WireGuard prefixes', `prefixes[${i}]`, prefix)));
    for (const prefix of want) {
      if (!prefix.includes(':')) throw invalidField('route WireGuard prefixes', 'prefixes', 'IPv6 CIDRs (6PN is IPv6 only)', prefix);
    }
    const have = new Set(await this.routes());
    const added = [...want].filter((prefix) => !have.has(prefix)).sort();
    const removed = [...have].filter((prefix) => !want.has(prefix)).sort();
    for (const prefix of added) await this.#ip(['-6', 'route', 'replace', prefix, 'dev', this.iface, 'proto', ROUTE_PROTO]);
    for (const prefix of removed) await this.#ip(['-6', 'route', 'del', prefix, 'dev', this.iface, 'proto', ROUTE_PROTO]);
    return { added, removed };
  }

  #ip(args: string[]): Promise<string> {
    return mustRun(this.#run, 'ip', this.netns === undefined ? args : ['-n', this.netns, ...args], IP);
  }
}
