/** net/peers: user WireGuard peers (`aloft wireguard create`): configs, the gateway that serves them, and `_peer.internal`. */
export { createUserPeer, peerAllowedIps, type CreatePeerRequest, type CreatedPeer } from './create-peer.ts';
export { orgNetwork } from './org-network.ts';
export { parseWgQuickConfig, renderWgQuickConfig, type WgQuickConfig } from './wg-quick-config.ts';
export { peerPrefix, planPeers, type PeerChanges } from './peer-plan.ts';
export { PeerGateway, type PeerGatewayOptions, type PeerGatewayStore } from './peer-gateway.ts';
export { PeerDirectory, type PeerDirectorySource } from './peer-directory.ts';
