import { expandIpv6, machineIpv6 } from '../net/sixpn.ts';
import { orgNetwork } from '../net/peers/org-network.ts';
import { appNotFound } from '../store/store-errors.ts';
import type { AppIp } from '../store/peer-store.ts';
import type { Store } from '../store/store.ts';
import { requireRegion } from '../model/regions.ts';

/**
 * Host slot 0 of an org network holds its Flycast addresses: no host is numbered 0 (it is
 * not in any host's mesh prefixes), so a Flycast address is never a Machine's, and a
 * Machine's or peer's packets to it go to their own host, whose proxy answers it.
 */
export const FLYCAST_HOST = 0;

/** The n-th Flycast address of an org network: fdaa:<net>:0:0:<n>::2 in 6PN's layout. */
export function flycastAddress(network: number, n: number): string {
  return machineIpv6(network, FLYCAST_HOST, n);
}

/** True when `address` sits in some org's Flycast slot. */
export function isFlycastAddress(address: string): boolean {
  const groups = expandIpv6(address);
  return groups !== null && groups[0] === 0xfdaa && groups[3] === 0 && groups[4] === 0 && ((groups[1] ?? 0) !== 0 || (groups[2] ?? 0) !== 0);
}

/**
 * Allocates the app a private IPv6 (Flycast) address in its org's network: the next number
 * of the org's own counter, so no address is handed out twice, even after a release.
 */
export async function allocateFlycastIp(store: Store, request: { app: string; region?: string | undefined; now?: number }): Promise<AppIp> {
  const action = 'allocate a private IPv6 address for';
  const app = await store.getApp(request.app);
  if (app === undefined) throw appNotFound(action, request.app);
  const region = request.region === undefined ? 'global' : requireRegion(request.region, 'allocate private IPv6 address').code;
  const network = app.network > 0 ? app.network : await orgNetwork(store, app.orgSlug);
  const n = await store.nextSequence(`org:${app.orgSlug}:flycast-number`);
  const ip: AppIp = { address: flycastAddress(network, n), app: app.name, org: app.orgSlug, type: 'private_v6', region, createdAt: request.now ?? Date.now() };
  return store.createIp(ip);
}
