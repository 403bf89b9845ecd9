import type { Statement } from 'better-sqlite3';
import type { AppIp, IpFilter, PeerFilter, PeerGatewayRecord, PeerStore, UserPeer } from '../peer-store.ts';
import { appNotFound } from '../store-errors.ts';
import { ipNotFound, ipTaken, peerExists, peerNotFound, peerTaken } from '../peer-errors.ts';
import type { ChangeLog } from './change-log.ts';

/** How SqliteStore lends its transactions, statement cache and change log. */
export interface SqlitePeersDeps {
  write<T>(action: string, fn: () => T): Promise<T>;
  read<T>(action: string, fn: () => T): T;
  sql<P extends unknown[] = unknown[], R = unknown>(text: string): Statement<P, R>;
  changes: ChangeLog;
  appExists(name: string): boolean;
}

/** The change key of a peer: names are unique per org only. */
export function peerKey(org: string, name: string): string {
  return `${org}/${name}`;
}

/**
 * The PeerStore half of SqliteStore: records as JSON beside the columns that are
 * filtered on or must be unique; each write and its `peer` or `ip` Change commit together.
 */
export class SqlitePeers implements PeerStore {
  readonly #d: SqlitePeersDeps;

  constructor(deps: SqlitePeersDeps) {
    this.#d = deps;
  }

  async putPeerGateway(gateway: PeerGatewayRecord): Promise<PeerGatewayRecord> {
    return this.#d.write('record WireGuard gateway', () => {
      this.#d
        .sql('INSERT OR REPLACE INTO peer_gateways (host_id, region, record) VALUES (?, ?, ?)')
        .run(gateway.hostId, gateway.region, JSON.stringify(gateway));
      return gateway;
    });
  }

  async listPeerGateways(filter: { region?: string } = {}): Promise<PeerGatewayRecord[]> {
    return this.#d.read('list WireGuard gateways', () => {
      const rows =
        filter.region === undefined
          ? this.#d.sql<[], string>('SELECT record FROM peer_gateways ORDER BY host_id').pluck().all()
          : this.#d.sql<[string], string>('SELECT record FROM peer_gateways WHERE region = ? ORDER BY host_id').pluck().all(filter.region);
      return rows.map((json) => JSON.parse(json) as PeerGatewayRecord);
    });
  }

  async createPeer(peer: UserPeer): Promise<UserPeer> {
    return this.#d.write('create WireGuard peer', () => {
      if (this.#peerRecord(peer.org, peer.name) !== undefined) throw peerExists(peer.org, peer.name);
      const holder = this.#d.sql<[string, string], { org: string; name: string; address: string }>(
        'SELECT org, name, address FROM peers WHERE address = ? OR public_key = ?',
      ).get(peer.address, peer.publicKey);
      if (holder !== undefined) {
        const field = holder.address === peer.address ? 'address' : 'publicKey';
        throw peerTaken(field, field === 'address' ? peer.address : peer.publicKey, peerKey(holder.org, holder.name));
      }
      this.#d
        .sql('INSERT INTO peers (org, name, gateway_host_id, public_key, address, record) VALUES (?, ?, ?, ?, ?, ?)')
        .run(peer.org, peer.name, peer.gatewayHostId, peer.publicKey, peer.address, JSON.stringify(peer));
      this.#d.changes.append('peer', 'put', peerKey(peer.org, peer.name), peer);
      return peer;
    });
  }

  async getPeer(org: string, name: string): Promise<UserPeer | undefined> {
    return this.#d.read('get WireGuard peer', () => this.#peerRecord(org, name));
  }

  async listPeers(filter: PeerFilter = {}): Promise<UserPeer[]> {
    return this.#d.read('list WireGuard peers', () => {
      const where: string[] = [];
      const params: string[] = [];
      if (filter.org !== undefined) {
        where.push('org = ?');
        params.push(filter.org);
      }
      if (filter.gatewayHostId !== undefined) {
        where.push('gateway_host_id = ?');
        params.push(filter.gatewayHostId);
      }
      const sql = `SELECT record FROM peers${where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY org, name`;
      return this.#d.sql<string[], string>(sql).pluck().all(...params).map((json) => JSON.parse(json) as UserPeer);
    });
  }

  async deletePeer(org: string, name: string): Promise<void> {
    await this.#d.write('remove WireGuard peer', () => {
      if (this.#peerRecord(org, name) === undefined) throw peerNotFound('remove', org, name);
      this.#d.sql('DELETE FROM peers WHERE org = ? AND name = ?').run(org, name);
      this.#d.changes.append('peer', 'delete', peerKey(org, name));
    });
  }

  async createIp(ip: AppIp): Promise<AppIp> {
    return this.#d.write('allocate IP address', () => {
      if (!this.#d.appExists(ip.app)) throw appNotFound('allocate an IP address for', ip.app);
      const holder = this.#ipRecord(ip.address);
      if (holder !== undefined) throw ipTaken(ip.address, holder.app);
      this.#d.sql('INSERT INTO ips (address, app, org, record) VALUES (?, ?, ?, ?)').run(ip.address, ip.app, ip.org, JSON.stringify(ip));
      this.#d.changes.append('ip', 'put', ip.address, ip);
      return ip;
    });
  }

  async getIp(address: string): Promise<AppIp | undefined> {
    return this.#d.read('get IP address', () => this.#ipRecord(address));
  }

  async listIps(filter: IpFilter = {}): Promise<AppIp[]> {
    return this.#d.read('list IP addresses', () => {
      const where: string[] = [];
      const params: string[] = [];
      if (filter.app !== undefined) {
        where.push('app = ?');
        params.push(filter.app);
      }
      if (filter.org !== undefined) {
        where.push('org = ?');
        params.push(filter.org);
      }
      const sql = `SELECT record FROM ips${where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY app, address`;
      return this.#d.sql<string[], string>(sql).pluck().all(...params).map((json) => JSON.parse(json) as AppIp);
    });
  }

  async deleteIp(address: string): Promise<void> {
    await this.#d.write('release IP address', () => {
      if (this.#ipRecord(address) === undefined) throw ipNotFound('release', address);
      this.#d.sql('DELETE FROM ips WHERE address = ?').run(address);
      this.#d.changes.append('ip', 'delete', address);
    });
  }

  #peerRecord(org: string, name: string): UserPeer | undefined {
    const json = this.#d.sql<[string, string], string>('SELECT record FROM peers WHERE org = ? AND name = ?').pluck().get(org, name);
    return json === undefined ? undefined : (JSON.parse(json) as UserPeer);
  }

  #ipRecord(address: string): AppIp | undefined {
    const json = this.#d.sql<[string], string>('SELECT record FROM ips WHERE address = ?').pluck().get(address);
    return json === undefined ? undefined : (JSON.parse(json) as AppIp);
  }
}
