import type { Clock } from '../../lib/clock.ts';
import { shortId } from '../../lib/ids.ts';
import type { Lease, LeaseStore } from '../../store/lease-store.ts';

/** A lease's length when the request names none, in seconds (as flyctl's). */
export const DEFAULT_LEASE_TTL_S = 30;

/**
 * Takes (or, with `heldNonce`, refreshes) a Machine's lease at the clock's now; shared
 * by `POST .../lease` and Machine create's `lease_ttl`. Throws what the store throws
 * (MACHINE_LEASED, MACHINE_NOT_FOUND).
 */
export function takeLease(
  store: LeaseStore,
  clock: Clock,
  request: { machineId: string; ttlSeconds: number; owner: string; description?: string; heldNonce?: string },
): Promise<Lease> {
  return store.acquireLease({
    machineId: request.machineId,
    newNonce: shortId(16),
    ...(request.heldNonce === undefined ? {} : { heldNonce: request.heldNonce }),
    owner: request.owner,
    description: request.description ?? '',
    ttlMs: request.ttlSeconds * 1000,
    now: clock.now(),
  });
}
