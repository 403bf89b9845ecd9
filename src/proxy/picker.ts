import type { ProxyContext } from './context.ts';
import type { RouteEntry } from './route-entry.ts';

/**
 * Chooses which of an app's routable Machines takes a request. Its own seam so that
 * the least-loaded, closest picker (PLATFORM.md, "The proxy") can replace the random
 * one without touching forwarding. `candidates` is never empty.
 */
export type Picker = (candidates: readonly RouteEntry[], ctx: ProxyContext) => RouteEntry;

/** Any candidate, uniformly at random. */
export const randomPicker: Picker = (candidates) =>
  candidates[Math.floor(Math.random() * candidates.length)] ?? candidates[0]!;
