/**
 * Machine leases: a short, exclusive claim on one Machine (Fly's `Lease`), so that two
 * deployers cannot change it at once. Time is passed in (`now`, in ms) rather than read
 * from a clock here: the API owns the clock, and expiry is checked at use, so no timer
 * has to fire for a lease to lapse.
 */

/** A lease as stored. `expiresAt` is in ms since the epoch. */
export interface Lease {
  machineId: string;
  /** The app of the leased Machine (joined in, so callers can check scope). */
  appName: string;
  nonce: string;
  owner: string;
  description: string;
  expiresAt: number;
  /** The Machine's version when the lease was read. */
  machineVersion: number;
}

export interface AcquireLeaseRequest {
  machineId: string;
  /** The nonce a new lease gets (callers generate it; the store only records it). */
  newNonce: string;
  /** The nonce the caller holds: with it, an unexpired lease is refreshed instead of refused. */
  heldNonce?: string;
  owner: string;
  description: string;
  /** Lifetime from `now`, in ms. */
  ttlMs: number;
  now: number;
}

/** The part of the Store that keeps Machine leases. */
export interface LeaseStore {
  /**
   * Takes the Machine's lease, or refreshes it when `heldNonce` is the current nonce
   * (same nonce, new expiry and description). Atomic: of many concurrent acquirers of a
   * free Machine exactly one wins. Throws MACHINE_LEASED when another unexpired lease is
   * held and `heldNonce` is not its nonce; MACHINE_NOT_FOUND when there is no Machine.
   */
  acquireLease(request: AcquireLeaseRequest): Promise<Lease>;
  /** The Machine's lease, or undefined when it has none or it expired before `now`. */
  getLease(machineId: string, now: number): Promise<Lease | undefined>;
  /**
   * Releases the lease whose nonce is `nonce`. Throws LEASE_NOT_FOUND when there is no
   * unexpired lease, MACHINE_LEASED when `nonce` is not its nonce.
   */
  releaseLease(machineId: string, nonce: string, now: number): Promise<void>;
}
