import { heartbeatMoved, hostDown, hostNotFound, hostNumberTaken } from '../host-errors.ts';
import { hostRole, type HostFilter, type HostRecord, type HostRegistration, type HostStore, type RoleLease } from '../host-store.ts';
import { getJson, listJson, type EtcdContext } from './context.ts';
import { compareText } from './order.ts';
import type { Tx } from './transaction.ts';

/**
 * The HostStore half of EtcdStore. A host's record is `hosts/<id>` (watched: each put is
 * a host Change); its heartbeats go to `host-beats/<id>` instead, which publishes
 * nothing (see host-store.ts for why), and reads merge the two. `idx/host-number/<n>`
 * keeps 6PN numbers unique; roles are `roles/<role>`.
 */
export class EtcdHosts implements HostStore {
  readonly #c: EtcdContext;

  constructor(context: EtcdContext) {
    this.#c = context;
  }

  async registerHost(registration: HostRegistration, now: number): Promise<HostRecord> {
    return this.#c.write('register host', async (tx) => {
      const numberKey = this.#numberKey(registration.number);
      const holder = (await tx.get(numberKey))?.value.toString();
      if (holder !== undefined && holder !== registration.id) throw hostNumberTaken(registration.id, registration.number, holder);
      const previous = await getJson<HostRecord>(tx, this.#key(registration.id));
      if (previous && previous.number !== registration.number) tx.delete(this.#numberKey(previous.number));
      if (holder === undefined) tx.put(numberKey, registration.id);
      const host: HostRecord = { ...registration, registeredAt: now, heartbeatAt: now, status: 'up' };
      tx.putJson(this.#beatKey(host.id), now);
      tx.putJson(this.#key(host.id), host);
      return host;
    });
  }

  async getHost(id: string): Promise<HostRecord | undefined> {
    return this.#c.read('get host', (tx) => this.#read(tx, id));
  }

  async listHosts(filter: HostFilter = {}): Promise<HostRecord[]> {
    const hosts = await this.#c.read('list hosts', async (tx) => {
      const records = await listJson<HostRecord>(tx, this.#c.keys.dir('hosts'));
      const beats = new Map((await tx.list(this.#c.keys.dir('host-beats'))).map((kv) => [kv.key, Number(kv.value.toString())]));
      return records.map((h) => ({ ...h, heartbeatAt: beats.get(this.#beatKey(h.id)) ?? h.heartbeatAt }));
    });
    return hosts
      .filter((h) => (filter.region === undefined || h.region === filter.region) && (filter.status === undefined || h.status === filter.status) && (filter.role === undefined || hostRole(h) === filter.role))
      .sort((a, b) => compareText(a.id, b.id));
  }

  async heartbeatHost(id: string, now: number): Promise<HostRecord> {
    return this.#c.write('record a heartbeat of host', async (tx) => {
      const host = await this.#read(tx, id);
      if (!host) throw hostNotFound('record a heartbeat of', id);
      if (host.status === 'down') throw hostDown('record a heartbeat of', id, host.downReason);
      tx.putJson(this.#beatKey(id), now);
      return { ...host, heartbeatAt: now };
    });
  }

  async markHostDown(id: string, change: { reason: string; expectHeartbeatAt: number }): Promise<HostRecord> {
    return this.#c.write('mark host down', async (tx) => {
      const host = await this.#read(tx, id);
      if (!host) throw hostNotFound('mark down', id);
      if (host.status === 'down') return host;
      // The beat key was read in this transaction: a beat landing before the commit fails it, and the retry sees the beat.
      if (host.heartbeatAt !== change.expectHeartbeatAt) throw heartbeatMoved(id, change.expectHeartbeatAt, host.heartbeatAt);
      const down: HostRecord = { ...host, status: 'down', downReason: change.reason };
      tx.putJson(this.#key(id), down);
      return down;
    });
  }

  async removeHost(id: string): Promise<void> {
    await this.#c.write('remove host', async (tx) => {
      const host = await getJson<HostRecord>(tx, this.#key(id));
      if (!host) throw hostNotFound('remove', id);
      tx.delete(this.#numberKey(host.number));
      tx.delete(this.#beatKey(id));
      tx.delete(this.#key(id));
    });
  }

  async claimRole(request: { role: string; holder: string; ttlMs: number; now: number }): Promise<RoleLease | undefined> {
    const { role, holder, now } = request;
    return this.#c.write('claim role', async (tx) => {
      const current = await getJson<RoleLease>(tx, this.#roleKey(role));
      // Another holder's unexpired claim stands; a free, expired or own role is (re)taken.
      if (current && current.holder !== holder && current.expiresAt > now) return undefined;
      const lease: RoleLease = { role, holder, expiresAt: now + request.ttlMs };
      tx.putJson(this.#roleKey(role), lease);
      return lease;
    });
  }

  async releaseRole(role: string, holder: string): Promise<void> {
    await this.#c.write('release role', async (tx) => {
      const current = await getJson<RoleLease>(tx, this.#roleKey(role));
      if (current?.holder === holder) tx.delete(this.#roleKey(role));
    });
  }

  /** The record with its latest heartbeat. */
  async #read(tx: Tx, id: string): Promise<HostRecord | undefined> {
    const host = await getJson<HostRecord>(tx, this.#key(id));
    if (!host) return undefined;
    const beat = await getJson<number>(tx, this.#beatKey(id));
    return { ...host, heartbeatAt: beat ?? host.heartbeatAt };
  }

  #key(id: string): string {
    return this.#c.keys.key('hosts', id);
  }

  #beatKey(id: string): string {
    return this.#c.keys.key('host-beats', id);
  }

  #numberKey(n: number): string {
    return this.#c.keys.key('idx', 'host-number', n);
  }

  #roleKey(role: string): string {
    return this.#c.keys.key('roles', role);
  }
}
