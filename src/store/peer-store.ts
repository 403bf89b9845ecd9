/**
 * User WireGuard peers (`aloft wireguard create`), the gateways they connect through, and
 * apps' private IPv6 addresses (Flycast, `aloft ips allocate-v6 --private`). Part of
 * `Store`; the contract is contract/peers.ts.
 *
 * A peer's private key is generated for the user and never reaches the store: only its
 * public key and its 6PN address. Peer and IP writes publish `peer` and `ip` Changes, so
 * a gateway keeps its WireGuard device and the proxy its Flycast listeners in step.
 */

/** A host that accepts user peers: its own WireGuard device for them (not the host mesh's). */
export interface PeerGatewayRecord {
  /** The host's id in the registry. */
  hostId: string;
  region: string;
  /** The host's 32-bit 6PN number: its peers' addresses sit in its slot of the org network. */
  hostNumber: number;
  /** The gateway device's x25519 public key, base64. */
  publicKey: string;
  /** Where laptops reach it: `host:port` or `[ipv6]:port`. */
  endpoint: string;
  updatedAt: number;
}

/** One user peer. Times are ms since the epoch. */
export interface UserPeer {
  org: string;
  /** Unique in its org. */
  name: string;
  region: string;
  /** The gateway host it connects through. */
  gatewayHostId: string;
  /** The peer's x25519 public key, base64 (its private key is never stored). */
  publicKey: string;
  /** Its 6PN address in the org's network (a /128 on the gateway). */
  address: string;
  createdAt: number;
}

/** An app's private (Flycast) IPv6 address. */
export interface AppIp {
  /** RFC 5952 text; unique. */
  address: string;
  app: string;
  org: string;
  /** Only `private_v6` (Flycast) for now; public addresses are the edge's. */
  type: 'private_v6';
  region: string;
  createdAt: number;
}

export interface PeerFilter {
  org?: string;
  gatewayHostId?: string;
}

export interface IpFilter {
  app?: string;
  org?: string;
}

export interface PeerStore {
  /** Records (or replaces) the gateway of `hostId`. */
  putPeerGateway(gateway: PeerGatewayRecord): Promise<PeerGatewayRecord>;
  /** By host id; only `region`'s when given. */
  listPeerGateways(filter?: { region?: string }): Promise<PeerGatewayRecord[]>;

  /** Throws PEER_EXISTS when the org has a peer of that name, STORE_CONFLICT when the address or key is taken. */
  createPeer(peer: UserPeer): Promise<UserPeer>;
  getPeer(org: string, name: string): Promise<UserPeer | undefined>;
  /** By org, then name. */
  listPeers(filter?: PeerFilter): Promise<UserPeer[]>;
  /** Throws PEER_NOT_FOUND. Its address may then be given out again. */
  deletePeer(org: string, name: string): Promise<void>;

  /** Throws APP_NOT_FOUND, or STORE_CONFLICT when the address is taken. */
  createIp(ip: AppIp): Promise<AppIp>;
  getIp(address: string): Promise<AppIp | undefined>;
  /** By app, then address. */
  listIps(filter?: IpFilter): Promise<AppIp[]>;
  /** Throws IP_NOT_FOUND. */
  deleteIp(address: string): Promise<void>;
}
