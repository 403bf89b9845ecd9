import { DEFAULT_BFD, renderBirdConfig, type BirdConfigSpec } from './bird-config.ts';

/** The platform's anycast addresses: one IPv4 /32 and one IPv6 /128, held on every edge's `lo`. */
export interface AnycastAddresses {
  ipv4: string;
  ipv6: string;
}

/** What an edge's bird needs: its uplink to the region's router, over IPv4 and IPv6. */
export interface EdgeBgpOptions {
  routerId: string;
  /** The platform's AS number: every edge announces from the same one, as real anycast does. */
  localAs: number;
  /** The region router's AS number. */
  routerAs: number;
  ipv4: { local: string; router: string };
  ipv6: { local: string; router: string };
  anycast: AnycastAddresses;
  logFile?: string;
  bfd?: { intervalMs: number; multiplier: number };
}

/** The names of the edge's export sessions: disabling them withdraws the anycast routes. */
export const EDGE_UPLINKS = ['uplink_v4', 'uplink_v6'] as const;

/**
 * The bird2 config of an edge: two eBGP sessions to its region's router (one per
 * family, BFD on) that take nothing in and announce only the anycast /32 and /128.
 * The addresses themselves live on `lo`; the static routes here only originate them.
 */
export function edgeBirdConfig(options: EdgeBgpOptions): string {
  const spec: BirdConfigSpec = {
    routerId: options.routerId,
    ...(options.logFile === undefined ? {} : { logFile: options.logFile }),
    kernel: false,
    bfd: options.bfd ?? DEFAULT_BFD,
    statics: [
      { name: 'anycast_v4', family: 'ipv4', prefixes: [`${options.anycast.ipv4}/32`] },
      { name: 'anycast_v6', family: 'ipv6', prefixes: [`${options.anycast.ipv6}/128`] },
    ],
    sessions: [
      {
        name: EDGE_UPLINKS[0],
        family: 'ipv4',
        localAddress: options.ipv4.local,
        localAs: options.localAs,
        neighborAddress: options.ipv4.router,
        neighborAs: options.routerAs,
        bfd: true,
        import: { kind: 'none' },
        exportFrom: ['anycast_v4'],
      },
      {
        name: EDGE_UPLINKS[1],
        family: 'ipv6',
        localAddress: options.ipv6.local,
        localAs: options.localAs,
        neighborAddress: options.ipv6.router,
        neighborAs: options.routerAs,
        bfd: true,
        import: { kind: 'none' },
        exportFrom: ['anycast_v6'],
      },
    ],
  };
  return renderBirdConfig(spec);
}
