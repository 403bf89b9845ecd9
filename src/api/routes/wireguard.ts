import { Hono, type Context } from 'hono';
import { z } from 'zod';
import { AloftError } from '../../lib/errors.ts';
import { allocateFlycastIp } from '../../flycast/flycast-address.ts';
import { createUserPeer } from '../../net/peers/create-peer.ts';
import { expandIpv6, formatIpv6 } from '../../net/sixpn.ts';
import { peerNotFound } from '../../store/peer-errors.ts';
import type { AppIp, UserPeer } from '../../store/peer-store.ts';
import type { Store } from '../../store/store.ts';
import { principalOf } from '../auth/principal.ts';
import { documentRoute } from '../openapi/registry.ts';
import { readJson } from '../read-json.ts';
import { errorResponseSchema } from '../schemas/common.ts';
import { parseInput } from '../validate.ts';

export const peerResponseSchema = z
  .object({
    org: z.string(),
    name: z.string(),
    region: z.string(),
    gateway_host_id: z.string(),
    public_key: z.string(),
    address: z.string().meta({ description: "The peer's 6PN address (a /128 in the org's network)." }),
    created_at: z.string(),
  })
  .meta({ title: 'WireguardPeer' });

const createdPeerSchema = z
  .object({ peer: peerResponseSchema, config: z.string().meta({ description: 'The wg-quick file, private key included: shown once, stored nowhere.' }) })
  .meta({ title: 'WireguardPeerCreated' });

export const createPeerRequestSchema = z.object({
  org: z.string().min(1).optional().meta({ description: "Default: the token's org (the operator's: personal)." }),
  region: z.string().min(1).optional().meta({ description: 'The gateway region; default the first region with a gateway.' }),
  name: z.string().min(1).optional().meta({ description: 'Unique in the org; default peer-<random>.' }),
});
const orgQuerySchema = z.object({ org: z.string().min(1).optional() });

export const ipResponseSchema = z
  .object({ address: z.string(), app: z.string(), type: z.literal('private_v6'), region: z.string(), created_at: z.string() })
  .meta({ title: 'IPAddress' });
export const allocateIpRequestSchema = z.object({
  type: z.literal('private_v6').meta({ description: 'Only private (Flycast) IPv6 for now.' }),
  region: z.string().min(1).optional(),
});

const tags = ['WireGuard'];
const error = (description: string): { description: string; schema: z.ZodType } => ({ description, schema: errorResponseSchema });
documentRoute({ method: 'post', path: '/wireguard/peers', operationId: 'Wireguard_create', summary: "Create a user peer: a key pair, an address in the org's network, and its wg-quick config.", tags, body: createPeerRequestSchema, responses: { 201: { description: 'The peer and its config', schema: createdPeerSchema }, 400: error('Invalid name or region'), 404: error('No such org'), 409: error('The name is taken'), 412: error('No gateway in the region') } });
documentRoute({ method: 'get', path: '/wireguard/peers', operationId: 'Wireguard_list', summary: "List an org's user peers.", tags, query: orgQuerySchema, responses: { 200: { description: 'Peers by name', schema: z.array(peerResponseSchema) } } });
documentRoute({ method: 'delete', path: '/wireguard/peers/{name}', operationId: 'Wireguard_delete', summary: 'Remove a user peer (its gateway drops it at once).', tags, query: orgQuerySchema, responses: { 200: { description: 'Removed' }, 404: error('No such peer') } });
documentRoute({ method: 'get', path: '/apps/{app_name}/ips', operationId: 'Ips_list', summary: "List an app's private (Flycast) IPv6 addresses.", tags: ['IPs'], responses: { 200: { description: 'Addresses', schema: z.array(ipResponseSchema) }, 404: error('No such app') } });
documentRoute({ method: 'post', path: '/apps/{app_name}/ips', operationId: 'Ips_allocate', summary: "Allocate a private (Flycast) IPv6 address in the org's network, served by the proxy.", tags: ['IPs'], body: allocateIpRequestSchema, responses: { 201: { description: 'The address', schema: ipResponseSchema }, 404: error('No such app') } });
documentRoute({ method: 'delete', path: '/apps/{app_name}/ips/{address}', operationId: 'Ips_release', summary: 'Release one of the app’s addresses.', tags: ['IPs'], responses: { 200: { description: 'Released' }, 404: error('No such app or address') } });

/**
 * `/v1/wireguard/peers` (user peers, per org) and `/v1/apps/:app/ips` (Flycast addresses;
 * the /v1/apps/:app/* scope middleware applies). Mount at `/v1`.
 */
export function wireguardRoutes(store: Store): Hono {
  const routes = new Hono();

  routes.post('/wireguard/peers', async (c) => {
    const body = parseInput(createPeerRequestSchema, await readJson(c), 'create WireGuard peer');
    const created = await createUserPeer(store, { org: peerOrg(c, body.org, 'create WireGuard peer'), region: body.region, name: body.name });
    return c.json({ peer: renderPeer(created.peer), config: created.config }, 201);
  });

  routes.get('/wireguard/peers', async (c) => {
    const query = parseInput(orgQuerySchema, c.req.query(), 'list WireGuard peers');
    return c.json((await store.listPeers({ org: peerOrg(c, query.org, 'list WireGuard peers') })).map(renderPeer));
  });

  routes.delete('/wireguard/peers/:name', async (c) => {
    const query = parseInput(orgQuerySchema, c.req.query(), 'remove WireGuard peer');
    const org = peerOrg(c, query.org, 'remove WireGuard peer');
    const name = c.req.param('name');
    if (!(await store.getPeer(org, name))) throw peerNotFound('remove', org, name);
    await store.deletePeer(org, name);
    return c.json({ ok: true });
  });

  routes.get('/apps/:app/ips', async (c) => {
    const app = await existingApp(store, c.req.param('app'));
    return c.json((await store.listIps({ app })).map(renderIp));
  });

  routes.post('/apps/:app/ips', async (c) => {
    const body = parseInput(allocateIpRequestSchema, await readJson(c), 'allocate IP address');
    const ip = await allocateFlycastIp(store, { app: await existingApp(store, c.req.param('app')), region: body.region });
    return c.json(renderIp(ip), 201);
  });

  routes.delete('/apps/:app/ips/:address', async (c) => {
    const app = await existingApp(store, c.req.param('app'));
    const given = c.req.param('address');
    const groups = expandIpv6(given);
    const address = groups === null ? given : formatIpv6(groups);
    const ip = await store.getIp(address);
    // Another app's address answers as a missing one.
    if (ip === undefined || ip.app !== app) {
      throw new AloftError('IP_NOT_FOUND', `Cannot release IP address as 'address' must be allocated to app ${app}: got ${address}`, { details: { address, app } });
    }
    await store.deleteIp(ip.address);
    return c.json({ ok: true });
  });

  return routes;
}

/** The org a peer request acts in: the one asked for, else the token's; org tokens act only in their org, app tokens not at all. */
function peerOrg(c: Context, requested: string | undefined, action: string): string {
  const principal = principalOf(c);
  if (principal.kind === 'operator') return requested ?? 'personal';
  const { token } = principal;
  if (token.appName !== undefined) throw new AloftError('FORBIDDEN', `Cannot ${action} as the token must not be scoped to one app: got token ${token.id} for app "${token.appName}"`);
  if (requested !== undefined && requested !== token.orgSlug) throw new AloftError('FORBIDDEN', `Cannot ${action} as 'org' must be the token's org "${token.orgSlug}": got "${requested}"`);
  return token.orgSlug;
}

async function existingApp(store: Store, name: string): Promise<string> {
  if (!(await store.getApp(name))) throw new AloftError('APP_NOT_FOUND', `Cannot find app "${name}": no app by that name`);
  return name;
}

function renderPeer(peer: UserPeer): z.infer<typeof peerResponseSchema> {
  return { org: peer.org, name: peer.name, region: peer.region, gateway_host_id: peer.gatewayHostId, public_key: peer.publicKey, address: peer.address, created_at: new Date(peer.createdAt).toISOString() };
}

function renderIp(ip: AppIp): z.infer<typeof ipResponseSchema> {
  return { address: ip.address, app: ip.app, type: ip.type, region: ip.region, created_at: new Date(ip.createdAt).toISOString() };
}
