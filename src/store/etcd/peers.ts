import { ipNotFound, ipTaken, peerExists, peerNotFound, peerTaken } from '../peer-errors.ts';
import type { AppIp, IpFilter, PeerFilter, PeerGatewayRecord, PeerStore, UserPeer } from '../peer-store.ts';
import { appNotFound } from '../store-errors.ts';
import { getJson, listJson, type EtcdContext } from './context.ts';
import { compareText } from './order.ts';

/**
 * The PeerStore half of EtcdStore. Peers are `peers/<org>/<name>` (watched: `peer`
 * Changes keyed `<org>/<name>`), unique by address and public key through
 * `idx/peer-address/…` and `idx/peer-key/…`; apps' IPs are `ips/<address>` (watched:
 * `ip` Changes), indexed by app so deleteApp removes them; gateways are
 * `peer-gateways/<host>` (publish nothing, as in the SQLite store).
 */
export class EtcdPeers implements PeerStore {
  readonly #c: EtcdContext;

  constructor(context: EtcdContext) {
    this.#c = context;
  }

  async putPeerGateway(gateway: PeerGatewayRecord): Promise<PeerGatewayRecord> {
    return this.#c.write('record WireGuard gateway', async (tx) => {
      tx.putJson(this.#c.keys.key('peer-gateways', gateway.hostId), gateway);
      return gateway;
    });
  }

  async listPeerGateways(filter: { region?: string } = {}): Promise<PeerGatewayRecord[]> {
    const gateways = await this.#c.read('list WireGuard gateways', (tx) => listJson<PeerGatewayRecord>(tx, this.#c.keys.dir('peer-gateways')));
    return gateways.filter((g) => filter.region === undefined || g.region === filter.region).sort((a, b) => compareText(a.hostId, b.hostId));
  }

  async createPeer(peer: UserPeer): Promise<UserPeer> {
    return this.#c.write('create WireGuard peer', async (tx) => {
      if (await tx.get(this.#peerKey(peer.org, peer.name))) throw peerExists(peer.org, peer.name);
      const addressKey = this.#c.keys.key('idx', 'peer-address', peer.address);
      const publicKeyKey = this.#c.keys.key('idx', 'peer-key', peer.publicKey);
      const byAddress = (await tx.get(addressKey))?.value.toString();
      if (byAddress !== undefined) throw peerTaken('address', peer.address, byAddress);
      const byKey = (await tx.get(publicKeyKey))?.value.toString();
      if (byKey !== undefined) throw peerTaken('publicKey', peer.publicKey, byKey);
      const holder = `${peer.org}/${peer.name}`;
      tx.put(addressKey, holder);
      tx.put(publicKeyKey, holder);
      tx.putJson(this.#peerKey(peer.org, peer.name), peer);
      return peer;
    });
  }

  async getPeer(org: string, name: string): Promise<UserPeer | undefined> {
    return this.#c.read('get WireGuard peer', (tx) => getJson<UserPeer>(tx, this.#peerKey(org, name)));
  }

  async listPeers(filter: PeerFilter = {}): Promise<UserPeer[]> {
    const dir = filter.org === undefined ? this.#c.keys.dir('peers') : this.#c.keys.dir('peers', filter.org);
    const peers = await this.#c.read('list WireGuard peers', (tx) => listJson<UserPeer>(tx, dir));
    return peers
      .filter((p) => (filter.org === undefined || p.org === filter.org) && (filter.gatewayHostId === undefined || p.gatewayHostId === filter.gatewayHostId))
      .sort((a, b) => compareText(a.org, b.org) || compareText(a.name, b.name));
  }

  async deletePeer(org: string, name: string): Promise<void> {
    await this.#c.write('remove WireGuard peer', async (tx) => {
      const peer = await getJson<UserPeer>(tx, this.#peerKey(org, name));
      if (!peer) throw peerNotFound('remove', org, name);
      // Its address and key may then be given out again.
      tx.delete(this.#c.keys.key('idx', 'peer-address', peer.address));
      tx.delete(this.#c.keys.key('idx', 'peer-key', peer.publicKey));
      tx.delete(this.#peerKey(org, name));
    });
  }

  async createIp(ip: AppIp): Promise<AppIp> {
    return this.#c.write('allocate IP address', async (tx) => {
      if (!(await tx.get(this.#c.keys.app(ip.app)))) throw appNotFound('allocate an IP address for', ip.app);
      const holder = await getJson<AppIp>(tx, this.#ipKey(ip.address));
      if (holder) throw ipTaken(ip.address, holder.app);
      tx.put(this.#c.keys.key('idx', 'ip-app', ip.app, ip.address), '');
      tx.putJson(this.#ipKey(ip.address), ip);
      return ip;
    });
  }

  async getIp(address: string): Promise<AppIp | undefined> {
    return this.#c.read('get IP address', (tx) => getJson<AppIp>(tx, this.#ipKey(address)));
  }

  async listIps(filter: IpFilter = {}): Promise<AppIp[]> {
    const ips = await this.#c.read('list IP addresses', (tx) => listJson<AppIp>(tx, this.#c.keys.dir('ips')));
    return ips
      .filter((ip) => (filter.app === undefined || ip.app === filter.app) && (filter.org === undefined || ip.org === filter.org))
      .sort((a, b) => compareText(a.app, b.app) || compareText(a.address, b.address));
  }

  async deleteIp(address: string): Promise<void> {
    await this.#c.write('release IP address', async (tx) => {
      const ip = await getJson<AppIp>(tx, this.#ipKey(address));
      if (!ip) throw ipNotFound('release', address);
      tx.delete(this.#c.keys.key('idx', 'ip-app', ip.app, address));
      tx.delete(this.#ipKey(address));
    });
  }

  #peerKey(org: string, name: string): string {
    return this.#c.keys.key('peers', org, name);
  }

  #ipKey(address: string): string {
    return this.#c.keys.key('ips', address);
  }
}
