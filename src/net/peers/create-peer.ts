import { shortId } from '../../lib/ids.ts';
import { AloftError, invalidField } from '../../lib/errors.ts';
import type { PeerGatewayRecord, UserPeer } from '../../store/peer-store.ts';
import type { Store } from '../../store/store.ts';
import { peerExists } from '../../store/peer-errors.ts';
import { orgNotFound } from '../../store/store-errors-auth.ts';
import { requireRegion } from '../../model/regions.ts';
import { DNS_PRIVATE_ADDRESS } from '../../dns/server.ts';
import { machineIpv6 } from '../sixpn.ts';
import { generateKeyPair } from '../wireguard/keys.ts';
import { networkPrefix } from '../wireguard/prefixes.ts';
import { orgNetwork } from './org-network.ts';
import { renderWgQuickConfig } from './wg-quick-config.ts';

/** Fly's peer names: letters, digits and dashes, starting with a letter. */
const PEER_NAME = /^[a-z][a-z0-9-]{0,62}$/;

export interface CreatePeerRequest {
  org: string;
  /** The gateway's region; default the first region that has one. */
  region?: string | undefined;
  /** Default `peer-<random>`. */
  name?: string | undefined;
  now?: number;
}

export interface CreatedPeer {
  peer: UserPeer;
  /** The wg-quick file, private key included: shown once, stored nowhere. */
  config: string;
}

/**
 * Makes a user peer: a fresh key pair (the private key goes only into the returned
 * config), a gateway of the region, and a 6PN address in the org's network from the
 * gateway host's machine-number counter, so it can never collide with a Machine there
 * and is never handed out twice. The laptop routes the org's /48 and the resolver
 * through the gateway.
 */
export async function createUserPeer(store: Store, request: CreatePeerRequest): Promise<CreatedPeer> {
  const action = 'create WireGuard peer';
  const name = request.name ?? `peer-${shortId(4)}`;
  if (!PEER_NAME.test(name)) throw invalidField(action, 'name', 'lowercase letters, digits and dashes, starting with a letter, at most 63', name);
  if (request.region !== undefined) requireRegion(request.region, action);
  if (!(await store.getOrg(request.org))) throw orgNotFound(action, request.org);
  // Checked before anything is allocated; createPeer checks again inside its transaction.
  if (await store.getPeer(request.org, name)) throw peerExists(request.org, name);
  const gateway = await pickGateway(store, request.region);
  const network = await orgNetwork(store, request.org);
  const slot = await store.nextSequence(`host:${gateway.hostId}:machine-number`);
  const keys = generateKeyPair();
  const peer: UserPeer = {
    org: request.org,
    name,
    region: gateway.region,
    gatewayHostId: gateway.hostId,
    publicKey: keys.publicKey,
    address: machineIpv6(network, gateway.hostNumber, slot),
    createdAt: request.now ?? Date.now(),
  };
  await store.createPeer(peer);
  const config = renderWgQuickConfig({
    privateKey: keys.privateKey,
    address: peer.address,
    dns: DNS_PRIVATE_ADDRESS,
    gatewayPublicKey: gateway.publicKey,
    endpoint: gateway.endpoint,
    allowedIps: peerAllowedIps(network),
  });
  return { peer, config };
}

/** What a peer routes through its gateway: the org's network and the resolver. */
export function peerAllowedIps(network: number): string[] {
  return [networkPrefix(network), `${DNS_PRIVATE_ADDRESS}/128`];
}

async function pickGateway(store: Store, region: string | undefined): Promise<PeerGatewayRecord> {
  const all = await store.listPeerGateways();
  const found = region === undefined ? all[0] : all.find((g) => g.region === region);
  if (found !== undefined) return found;
  const regions = [...new Set(all.map((g) => g.region))].sort();
  throw new AloftError(
    'NO_PEER_GATEWAY',
    `Cannot create WireGuard peer as 'region' must have a gateway host: got ${region ?? '(any)'}; regions with one: ${regions.length === 0 ? 'none (no host runs a peer gateway)' : regions.join(', ')}`,
    { details: { region, regions } },
  );
}
