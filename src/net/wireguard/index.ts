/** net/wireguard: the host mesh — keys, the UAPI client, the wireguard-go supervisor, the tunnel and the peer reconciler. */
export { generateKeyPair, keyBytes, loadOrCreateHostKey, publicKeyOf, type WireguardKeyPair } from './keys.ts';
export { UapiClient, type UapiClientOptions } from './uapi-client.ts';
export {
  encodeSet,
  normalizeCidr,
  parseGet,
  type UapiDeviceConfig,
  type UapiDeviceState,
  type UapiPeerConfig,
  type UapiPeerState,
} from './uapi-protocol.ts';
export { findWireguardGo } from './find-binary.ts';
export { WireguardSupervisor, type WireguardSupervisorEvents, type WireguardSupervisorOptions } from './supervisor.ts';
export { TunnelInterface, WIREGUARD_MTU, type TunnelInterfaceOptions } from './tunnel-interface.ts';
export { DEFAULT_KEEPALIVE_SECONDS, meshPrefixes, planMesh, type MeshChanges, type MeshPeer } from './mesh-plan.ts';
export { MeshNode, type MeshNodeOptions } from './mesh-node.ts';
export { hostNetworkPrefix, hostPrefixes, hostSixpnAddress, INFRA_NETWORK, networkPrefix, SIXPN_PREFIX } from './prefixes.ts';
