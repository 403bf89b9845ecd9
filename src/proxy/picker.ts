import type { ProxyContext } from './context.ts';
import type { RouteEntry } from './route-entry.ts';

/**
 * Chooses which of an app's routable Machines takes a request; undefined when none
 * of them can take it now (all at their hard limit: the forward step then queues).
 * Its own seam so forwarding does not know the rules; the proxy's default is the
 * balancer's least-loaded, closest choice (balance/choose.ts). `candidates` is never
 * empty.
 */
export type Picker = (candidates: readonly RouteEntry[], ctx: ProxyContext) => RouteEntry | undefined;

/** Any candidate, uniformly at random (no limits: for tests and comparisons). */
export const randomPicker: Picker = (candidates) =>
  candidates[Math.floor(Math.random() * candidates.length)] ?? candidates[0]!;
