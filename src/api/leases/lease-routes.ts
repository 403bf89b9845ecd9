import { Hono } from 'hono';
import { z } from 'zod';
import type { Clock } from '../../lib/clock.ts';
import { AloftError } from '../../lib/errors.ts';
import type { Store } from '../../store/store.ts';
import { leaseNotFound } from '../../store/store-errors-auth.ts';
import { principalOf } from '../auth/principal.ts';
import type { MachineOps } from '../machine-ops.ts';
import { documentRoute } from '../openapi/registry.ts';
import { readJson } from '../read-json.ts';
import { errorResponseSchema, okResponseSchema } from '../schemas/common.ts';
import { parseInput } from '../validate.ts';
import { LEASE_NONCE_HEADER } from './nonce-header.ts';
import { leaseResponseSchema, renderLease } from './render-lease.ts';
import { DEFAULT_LEASE_TTL_S, takeLease } from './take-lease.ts';

/** Fly's `CreateLeaseRequest`; `ttl` in seconds, at most a day. */
const createLeaseSchema = z.looseObject({
  ttl: z.number().int().min(1).max(86_400).optional(),
  description: z.string().max(500).optional(),
});

const PATH = '/apps/{app_name}/machines/{machine_id}/lease';
const error = (description: string) => ({ description, schema: errorResponseSchema });

documentRoute({
  method: 'post',
  path: PATH,
  operationId: 'Machines_create_lease',
  summary: `Take the Machine's lease, or refresh it (same nonce, new expiry) with its nonce in ${LEASE_NONCE_HEADER}.`,
  tags: ['Machines'],
  body: createLeaseSchema,
  responses: { 200: { description: 'The lease', schema: leaseResponseSchema }, 404: error('No such app or Machine'), 409: error('Another holder has an unexpired lease (MACHINE_LEASED)') },
});
documentRoute({
  method: 'get',
  path: PATH,
  operationId: 'Machines_show_lease',
  summary: "Show the Machine's unexpired lease.",
  tags: ['Machines'],
  responses: { 200: { description: 'The lease', schema: leaseResponseSchema }, 404: error('No such app or Machine, or no unexpired lease (LEASE_NOT_FOUND)') },
});
documentRoute({
  method: 'delete',
  path: PATH,
  operationId: 'Machines_release_lease',
  summary: `Release the Machine's lease; needs its nonce in ${LEASE_NONCE_HEADER}.`,
  tags: ['Machines'],
  responses: {
    200: { description: 'Released', schema: okResponseSchema },
    404: error('No unexpired lease (LEASE_NOT_FOUND)'),
    409: error('The nonce is missing or not the lease’s (MACHINE_LEASED)'),
  },
});

/** `/v1/apps/:app/machines/:id/lease`: take or refresh, show, release. */
export function leaseRoutes(store: Store, ops: MachineOps, clock: Clock): Hono {
  const routes = new Hono();

  routes.post('/:app/machines/:id/lease', async (c) => {
    const body = parseInput(createLeaseSchema, (await readJson(c)) ?? {}, 'take lease');
    const machine = await ops.requireMachine(c.req.param('app'), c.req.param('id'));
    const heldNonce = c.req.header(LEASE_NONCE_HEADER);
    const lease = await takeLease(store, clock, {
      machineId: machine.id,
      ttlSeconds: body.ttl ?? DEFAULT_LEASE_TTL_S,
      owner: principalOf(c).owner,
      ...(body.description === undefined ? {} : { description: body.description }),
      ...(heldNonce === undefined ? {} : { heldNonce }),
    });
    return c.json(renderLease(lease));
  });

  routes.get('/:app/machines/:id/lease', async (c) => {
    const machine = await ops.requireMachine(c.req.param('app'), c.req.param('id'));
    const lease = await store.getLease(machine.id, clock.now());
    if (!lease) throw leaseNotFound('show', machine.id);
    return c.json(renderLease(lease));
  });

  routes.delete('/:app/machines/:id/lease', async (c) => {
    const machine = await ops.requireMachine(c.req.param('app'), c.req.param('id'));
    const nonce = c.req.header(LEASE_NONCE_HEADER);
    if (nonce === undefined) {
      const lease = await store.getLease(machine.id, clock.now());
      if (!lease) throw leaseNotFound('release', machine.id);
      throw new AloftError(
        'MACHINE_LEASED',
        `Cannot release the lease of machine ${machine.id} as '${LEASE_NONCE_HEADER}' must be the lease's nonce: got nothing`,
      );
    }
    await store.releaseLease(machine.id, nonce, clock.now());
    return c.json({ ok: true as const });
  });

  return routes;
}
