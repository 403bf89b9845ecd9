import type { RouteEntry } from '../route-entry.ts';
import type { RouteTable } from '../route-table.ts';
import type { ReplayDirective } from './directive.ts';
import type { ReplayFailure } from './src-header.ts';

/** One group of Machines to try; the next tier is tried only if none of these could be reached. */
export interface ReplayTier {
  app: string;
  accept: (entry: RouteEntry) => boolean;
}

/** Where a replay goes: tiers in order of preference, or why there is nowhere. */
export type ReplayPlan =
  | { readonly ok: true; readonly app: string; readonly tiers: ReplayTier[] }
  | { readonly ok: false; readonly app: string; readonly reason: ReplayFailure };

/** What the plan needs beyond the table: the org of an app, for the same-org rule. */
export type OrgOf = (app: string) => Promise<string | undefined>;

/** The started Machines of `app` that `accept` lets through. */
export function candidatesOf(table: RouteTable, tier: ReplayTier): readonly RouteEntry[] {
  const routes = table.lookup(tier.app);
  return routes.known ? routes.started.filter(tier.accept) : [];
}

/**
 * Turns a directive into tiers of candidate filters, leaving the final choice in each
 * tier to the proxy's picker (least loaded, closest). Order of preference:
 * `instance` (only it), else `prefer_instance` (it, then the rest), each region of
 * `region` in the order given (`any`: every region), and `elsewhere` removing the
 * Machine that answered from every tier. `app` must be of the answering app's org;
 * without `app`, an `instance` may be of any app of that org (found by its id).
 */
export async function planReplay(
  directive: ReplayDirective,
  source: RouteEntry,
  table: RouteTable,
  orgOf: OrgOf,
): Promise<ReplayPlan> {
  let app = directive.app ?? source.appName;
  if (directive.instance !== undefined && directive.app === undefined) {
    app = table.entry(directive.instance)?.appName ?? app;
  }
  if (app !== source.appName) {
    const [fromOrg, toOrg] = await Promise.all([orgOf(source.appName), orgOf(app)]);
    if (toOrg === undefined || toOrg !== fromOrg || !table.lookup(app).known) {
      return { ok: false, app, reason: 'app_not_found' };
    }
  }
  const notSelf = directive.elsewhere ? (e: RouteEntry) => e.machineId !== source.machineId : () => true;
  const regionTiers: ((e: RouteEntry) => boolean)[] = (directive.regions ?? ['any']).map((region) =>
    region === 'any' ? () => true : (e: RouteEntry) => e.region.toLowerCase() === region,
  );
  let tiers: ReplayTier[];
  if (directive.instance !== undefined) {
    const id = directive.instance;
    tiers = [{ app, accept: (e) => e.machineId === id && notSelf(e) }];
  } else {
    tiers = regionTiers.map((inRegion) => ({ app, accept: (e: RouteEntry) => inRegion(e) && notSelf(e) }));
    if (directive.preferInstance !== undefined) {
      const id = directive.preferInstance;
      tiers.unshift({ app, accept: (e) => e.machineId === id && notSelf(e) });
    }
  }
  const live = tiers.filter((tier) => candidatesOf(table, tier).length > 0);
  if (live.length === 0) {
    return { ok: false, app, reason: directive.instance !== undefined ? 'instance_not_found' : 'no_machines' };
  }
  return { ok: true, app, tiers: live };
}

/**
 * The tiers of Fly's `fallback`: `force_self` only the Machine that answered;
 * `prefer_self` it first, then any other of its app.
 */
export function fallbackTiers(fallback: 'force_self' | 'prefer_self', source: RouteEntry): ReplayTier[] {
  const self: ReplayTier = { app: source.appName, accept: (e) => e.machineId === source.machineId };
  if (fallback === 'force_self') return [self];
  return [self, { app: source.appName, accept: (e) => e.machineId !== source.machineId }];
}
