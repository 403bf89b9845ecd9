import { takeLease } from '../api/leases/take-lease.ts';
import type { Clock } from '../lib/clock.ts';
import { AloftError, isAloftError } from '../lib/errors.ts';
import type { Machine } from '../model/index.ts';
import type { LeaseStore } from '../store/lease-store.ts';

/** How long each lease lasts; refreshed at a third of that, so a dead API frees Machines within it. */
export const DEPLOY_LEASE_TTL_S = 60;

/**
 * The Fly-style leases a deploy holds on every Machine it touches, for its whole run:
 * a concurrent deploy (or anyone changing a Machine through the API without the nonce)
 * is refused, naming the holder. Leases are refreshed while the deploy runs and
 * released at its end, also when it fails; should the API process die, they lapse
 * after DEPLOY_LEASE_TTL_S.
 */
export class DeployLeases {
  readonly #store: LeaseStore;
  readonly #clock: Clock;
  readonly #owner: string;
  readonly #description: string;
  readonly #held = new Map<string, string>();
  #timer: NodeJS.Timeout | undefined;

  constructor(store: LeaseStore, clock: Clock, owner: string, description: string) {
    this.#store = store;
    this.#clock = clock;
    this.#owner = owner;
    this.#description = description;
  }

  /** What a Machine create passes as its lease owner; the deploy adopts the nonce the create answers. */
  get owner(): string {
    return this.#owner;
  }

  /** The Machine ids leased now. */
  held(): string[] {
    return [...this.#held.keys()];
  }

  /**
   * Leases every Machine, or none: when one is held by someone else, the ones taken
   * are released and DEPLOY_CONFLICT names the Machine, the holder and the expiry.
   */
  async takeAll(machines: readonly Machine[]): Promise<void> {
    for (const machine of machines) {
      try {
        const lease = await takeLease(this.#store, this.#clock, { machineId: machine.id, ttlSeconds: DEPLOY_LEASE_TTL_S, owner: this.#owner, description: this.#description });
        this.#held.set(machine.id, lease.nonce);
      } catch (err) {
        await this.releaseAll();
        if (!isAloftError(err, 'MACHINE_LEASED')) throw err;
        throw leasedBy(machine, String(err.details?.['owner'] ?? 'someone else'), Number(err.details?.['expiresAt'] ?? 0), err);
      }
    }
    this.#startRefreshing();
  }

  /**
   * Refuses up front (before a release is recorded) when any Machine is leased by
   * someone: DEPLOY_CONFLICT naming the holder. takeAll still decides, race-free.
   */
  static async refuseIfLeased(store: LeaseStore, clock: Clock, machines: readonly Machine[]): Promise<void> {
    for (const machine of machines) {
      const lease = await store.getLease(machine.id, clock.now());
      if (lease) throw leasedBy(machine, lease.owner, lease.expiresAt);
    }
  }

  /** Records a lease a create took (`lease_ttl`), so it is refreshed and released with the rest. */
  adopt(machineId: string, nonce: string): void {
    this.#held.set(machineId, nonce);
    this.#startRefreshing();
  }

  /** Forgets a destroyed Machine's lease (it went with the Machine). */
  forget(machineId: string): void {
    this.#held.delete(machineId);
  }

  /** Releases every lease held; ones that already lapsed or went with their Machine are skipped. */
  async releaseAll(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    const held = [...this.#held];
    this.#held.clear();
    await Promise.all(
      held.map(([id, nonce]) =>
        this.#store.releaseLease(id, nonce, this.#clock.now()).catch((err: unknown) => {
          if (!isAloftError(err, 'LEASE_NOT_FOUND') && !isAloftError(err, 'MACHINE_NOT_FOUND')) throw err;
        }),
      ),
    );
  }

  #startRefreshing(): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => void this.#refresh(), (DEPLOY_LEASE_TTL_S * 1000) / 3);
    this.#timer.unref();
  }

  async #refresh(): Promise<void> {
    for (const [id, nonce] of [...this.#held]) {
      await takeLease(this.#store, this.#clock, { machineId: id, ttlSeconds: DEPLOY_LEASE_TTL_S, owner: this.#owner, description: this.#description, heldNonce: nonce }).catch(() => {
        // A destroyed Machine's lease is gone with it; nothing to refresh.
        this.#held.delete(id);
      });
    }
  }
}

function leasedBy(machine: Machine, holder: string, expiresAt: number, cause?: unknown): AloftError {
  return new AloftError(
    'DEPLOY_CONFLICT',
    `Cannot deploy app ${machine.appName} as machine ${machine.id} must not be leased by anyone else: got a lease held by ${holder} until ${new Date(expiresAt).toISOString()} (another deploy is running, or release the lease)`,
    { cause, details: { machineId: machine.id, holder, expiresAt } },
  );
}
