import { invalidField } from '../lib/errors.ts';

/**
 * How many Machines a rolling deploy may take down at once: `max_unavailable` as a
 * whole number, or as a fraction of the Machines being replaced (rounded up, at least
 * one). Default 1: one at a time.
 */
export function batchSize(maxUnavailable: number | undefined, total: number): number {
  if (maxUnavailable === undefined) return 1;
  if (!Number.isFinite(maxUnavailable) || maxUnavailable <= 0 || (maxUnavailable >= 1 && !Number.isInteger(maxUnavailable))) {
    throw invalidField('deploy', 'deploy.max_unavailable', 'a fraction between 0 and 1, or a whole number of Machines', maxUnavailable);
  }
  if (maxUnavailable >= 1) return maxUnavailable;
  return Math.max(1, Math.ceil(maxUnavailable * total));
}

/** `items` cut into batches of `size`, in order. */
export function inBatches<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
