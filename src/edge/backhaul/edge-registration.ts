import { hostNetworkPrefix, INFRA_NETWORK } from '../../net/wireguard/index.ts';
import type { HostRegistration } from '../../store/host-store.ts';

/** What an edge on the backhaul tells the host registry. */
export interface EdgeIdentity {
  id: string;
  region: string;
  /** Its number in 6PN network 0 (unique among hosts and edges): it dials from `fdaa:0:0:<n>::1`. */
  number: number;
  /** Its x25519 public key (base64). */
  wireguardPublicKey: string;
  /** `address:port` hosts dial its wireguard-go at. */
  underlay: string;
}

/**
 * An edge's registry entry: role `edge` (the scheduler never places on it, the
 * HostMonitor re-places nothing for it), no capacity, drivers, IPv4 subnet or control
 * RPC; its WireGuard key and underlay endpoint so every host peers with it; its own /80
 * in network 0 as its 6PN prefix.
 */
export function edgeRegistration(edge: EdgeIdentity): HostRegistration {
  return {
    id: edge.id,
    role: 'edge',
    region: edge.region,
    number: edge.number,
    ipv4Subnet: '',
    capacity: { cpus: 0, memoryMb: 0, diskGb: 0, gpus: [] },
    drivers: [],
    wireguardPublicKey: edge.wireguardPublicKey,
    addresses: { underlay: edge.underlay, sixpnPrefix: hostNetworkPrefix(INFRA_NETWORK, edge.number) },
    controlUrl: null,
  };
}
