import type { Machine } from '../../model/index.ts';
import type { AcquireLeaseRequest, Lease, LeaseStore } from '../lease-store.ts';
import { leaseNotFound, machineLeased } from '../store-errors-auth.ts';
import { machineNotFound } from '../store-errors.ts';
import { getJson, type EtcdContext } from './context.ts';
import type { Tx } from './transaction.ts';

/** A lease as kept at `leases/<machine>`; the app and version are joined in from the machine at read. */
interface LeaseRecord {
  nonce: string;
  owner: string;
  description: string;
  expiresAt: number;
}

/**
 * The LeaseStore half of EtcdStore. Expiry is checked at use against the caller's `now`
 * (as in the SQLite store), not with etcd leases: the API owns the clock. Acquiring
 * reads the machine and its lease and commits only if neither changed, so of many
 * concurrent acquirers of a free machine exactly one commits; the others read again,
 * see its lease, and get MACHINE_LEASED.
 */
export class EtcdLeases implements LeaseStore {
  readonly #c: EtcdContext;

  constructor(context: EtcdContext) {
    this.#c = context;
  }

  async acquireLease(request: AcquireLeaseRequest): Promise<Lease> {
    const { machineId, now } = request;
    return this.#c.write('acquire lease', async (tx) => {
      const machine = await getJson<Machine>(tx, this.#c.keys.machine(machineId));
      if (!machine) throw machineNotFound('lease', machineId);
      const current = await this.#current(tx, machineId, now);
      if (current && current.nonce !== request.heldNonce) throw machineLeased('lease', machineId, current.owner, current.expiresAt);
      // A refresh keeps the nonce the holder already has; a fresh lease gets a new one.
      const record: LeaseRecord = {
        nonce: current ? current.nonce : request.newNonce,
        owner: current ? current.owner : request.owner,
        description: request.description,
        expiresAt: now + request.ttlMs,
      };
      tx.putJson(this.#c.keys.key('leases', machineId), record);
      return toLease(machineId, record, machine);
    });
  }

  async getLease(machineId: string, now: number): Promise<Lease | undefined> {
    return this.#c.read('get lease', async (tx) => {
      const record = await this.#current(tx, machineId, now);
      if (!record) return undefined;
      const machine = await getJson<Machine>(tx, this.#c.keys.machine(machineId));
      return machine && toLease(machineId, record, machine);
    });
  }

  async releaseLease(machineId: string, nonce: string, now: number): Promise<void> {
    await this.#c.write('release lease', async (tx) => {
      const current = await this.#current(tx, machineId, now);
      if (!current) throw leaseNotFound('release', machineId);
      if (current.nonce !== nonce) throw machineLeased('release the lease of', machineId, current.owner, current.expiresAt);
      tx.delete(this.#c.keys.key('leases', machineId));
    });
  }

  /** The unexpired lease record at `now`, if any. */
  async #current(tx: Tx, machineId: string, now: number): Promise<LeaseRecord | undefined> {
    const record = await getJson<LeaseRecord>(tx, this.#c.keys.key('leases', machineId));
    return record && record.expiresAt > now ? record : undefined;
  }
}

function toLease(machineId: string, record: LeaseRecord, machine: Machine): Lease {
  return {
    machineId,
    appName: machine.appName,
    nonce: record.nonce,
    owner: record.owner,
    description: record.description,
    expiresAt: record.expiresAt,
    machineVersion: machine.version,
  };
}
