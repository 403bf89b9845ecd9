import { BirdClient, type BirdProtocol } from '../edge/bgp/index.ts';
import { AloftError } from '../lib/errors.ts';
import { ip } from './lab-network.ts';
import type { LabPlan } from './lab-plan.ts';
import { birdSocket } from './lab-state.ts';

/** The BGP sessions of a bird that are not established, as `name (info)`. */
export async function sessionsDown(client: BirdClient): Promise<string[]> {
  const rows: BirdProtocol[] = await client.protocols();
  return rows.filter((r) => r.proto === 'BGP' && !(r.state === 'up' && r.info.startsWith('Established'))).map((r) => `${r.name} (${r.state} ${r.info})`);
}

/** The kernel's next hop for the anycast address in a region's router (`ip route get`'s `via`), or "" when unroutable. */
export async function anycastNextHop(plan: LabPlan, regionCode: string, family: 'ipv4' | 'ipv6' = 'ipv4'): Promise<string> {
  const region = plan.regions.find((r) => r.code === regionCode);
  if (!region) throw new AloftError('INVALID_ARGUMENT', `Cannot look up a route as 'region' must be one of the lab's: got "${regionCode}"`);
  const out = await ip('-n', region.routerNs, ...(family === 'ipv6' ? ['-6'] : []), 'route', 'show', family === 'ipv4' ? `${plan.anycast.ipv4}/32` : `${plan.anycast.ipv6}/128`);
  return /via (\S+)/.exec(out)?.[1] ?? '';
}

/**
 * Waits until every bird's BGP sessions are established and every router routes the
 * anycast addresses (both families) to its own edge: the lab is then converged.
 * LAB_FAILED names what was still down at the deadline.
 */
export async function waitConverged(plan: LabPlan, dir: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let missing: string[] = [];
  while (Date.now() < deadline) {
    missing = [];
    for (const region of plan.regions) {
      for (const place of [`${region.code}-router`, region.edge.place]) {
        for (const name of await sessionsDown(new BirdClient(birdSocket(dir, place)))) missing.push(`${place}: ${name}`);
      }
      if ((await anycastNextHop(plan, region.code, 'ipv4')) !== region.edge.addresses.ipv4.far) missing.push(`${region.code}-router: IPv4 anycast not via its edge`);
      if ((await anycastNextHop(plan, region.code, 'ipv6')) !== region.edge.addresses.ipv6.far) missing.push(`${region.code}-router: IPv6 anycast not via its edge`);
    }
    if (missing.length === 0) return;
    // BGP sessions come up within a second or two of bird starting; poll gently.
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new AloftError('LAB_FAILED', `Cannot bring lab '${plan.name}' up as routing must converge within ${timeoutMs} ms: still down: ${missing.slice(0, 8).join('; ')}`, {
    details: { missing },
  });
}
