import { renderBirdConfig, type BirdSession } from '../edge/bgp/index.ts';
import type { LabPlan, RegionPlan } from './lab-plan.ts';

/** A region's own edge always wins over any other region's announcement. */
const EDGE_LOCAL_PREF = 2000;
/** Other regions rank by distance: nearer is higher (1000 − RTT). */
const FAR_LOCAL_PREF_BASE = 1000;

/**
 * The bird2 config of a region's router: eBGP to its edge (takes only the anycast
 * routes, BFD on) and to every other region's router across the backbone (takes all,
 * ranked by RTT, so with its own edge gone a region's clients go to the next-nearest
 * edge; exports only its own region's prefixes and its own edge's anycast, never
 * another region's routes, so nothing transits a third region). Best routes go to the kernel.
 */
export function routerBirdConfig(plan: LabPlan, region: RegionPlan, logFile?: string): string {
  const sessions: BirdSession[] = [];
  const anycast = { ipv4: [`${plan.anycast.ipv4}/32`], ipv6: [`${plan.anycast.ipv6}/128`] };
  for (const family of ['ipv4', 'ipv6'] as const) {
    const v = family === 'ipv4' ? 'v4' : 'v6';
    const edge = region.edge.addresses[family];
    sessions.push({
      name: `edge_${v}`,
      family,
      localAddress: edge.near,
      localAs: region.routerAs,
      neighborAddress: edge.far,
      neighborAs: plan.edgeAs,
      bfd: true,
      import: { kind: 'prefixes', prefixes: anycast[family], localPref: EDGE_LOCAL_PREF },
      exportFrom: [],
    });
    for (const link of plan.backbone) {
      if (link.a !== region.code && link.b !== region.code) continue;
      const weAreA = link.a === region.code;
      const other = plan.regions.find((r) => r.code === (weAreA ? link.b : link.a))!;
      const addresses = link.addresses[family];
      sessions.push({
        name: `peer_${other.code}_${v}`,
        family,
        localAddress: weAreA ? addresses.near : addresses.far,
        localAs: region.routerAs,
        neighborAddress: weAreA ? addresses.far : addresses.near,
        neighborAs: other.routerAs,
        bfd: true,
        import: { kind: 'all', localPref: Math.max(1, FAR_LOCAL_PREF_BASE - Math.round(link.rttMs)) },
        exportFrom: [`region_${v}`, `edge_${v}`],
      });
    }
  }
  return renderBirdConfig({
    routerId: region.routerId,
    ...(logFile === undefined ? {} : { logFile }),
    kernel: true,
    statics: [
      { name: 'region_v4', family: 'ipv4', prefixes: [region.prefixes.ipv4] },
      { name: 'region_v6', family: 'ipv6', prefixes: [region.prefixes.ipv6] },
    ],
    sessions,
  });
}
