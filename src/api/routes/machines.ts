import { Hono } from 'hono';
import { z } from 'zod';
import type { MachineState } from '../../model/index.ts';
import type { Store } from '../../store/store.ts';
import type { MachineOps } from '../machine-ops.ts';
import { renderMachine } from '../render.ts';
import { parseInput } from '../validate.ts';
import { readJson } from '../read-json.ts';
import { principalOf } from '../auth/principal.ts';
import { waitForState } from '../wait.ts';
import { AloftError } from '../../lib/errors.ts';
import { matchesMetadata, metadataFilters } from '../machine-metadata.ts';
import { createMachineRequestSchema, stopRequestSchema } from '../machine-ops.ts';
import { documentRoute } from '../openapi/registry.ts';
import {
  errorResponseSchema,
  listMachinesResponseSchema,
  machineResponseSchema,
  okResponseSchema,
  startResponseSchema,
  waitResponseSchema,
} from '../schemas/index.ts';

const listQuerySchema = z.object({
  region: z.string().optional(),
  include_deleted: z.enum(['true', 'false', '1', '0']).optional(),
  // Documented here; `metadata.KEY=VALUE` filters are read from the raw query.
  'metadata.{key}': z.string().optional().meta({ description: 'Only machines whose config.metadata has KEY=VALUE (any number of metadata.KEY params)' }),
});

const waitQuerySchema = z.object({
  state: z.enum(['started', 'stopped', 'suspended', 'destroyed']).default('started'),
  instance_id: z.string().optional(),
  timeout: z.coerce.number().int().min(1).max(60).default(60),
});

const deleteQuerySchema = z.object({ force: z.enum(['true', 'false', '1', '0']).optional() });

const MACHINES = '/apps/{app_name}/machines';
const MACHINE = `${MACHINES}/{machine_id}`;
const error = (description: string): { description: string; schema: z.ZodType } => ({ description, schema: errorResponseSchema });
const notFound = { 404: error('No such app or machine') };
const refused = { ...notFound, 412: error('Not allowed in the machine’s current state') };
const tags = ['Machines'];
documentRoute({ method: 'get', path: MACHINES, operationId: 'Machines_list', summary: "List an app's machines, optionally by region and metadata.", tags, query: listQuerySchema, responses: { 200: { description: 'Machines', schema: listMachinesResponseSchema }, 400: error('Bad filter'), ...notFound } });
documentRoute({ method: 'post', path: MACHINES, operationId: 'Machines_create', summary: 'Create a machine and (unless skip_launch) start it.', tags, body: createMachineRequestSchema, responses: { 200: { description: 'The machine as created', schema: machineResponseSchema }, 400: error('Invalid request, image or region'), ...notFound } });
documentRoute({ method: 'get', path: MACHINE, operationId: 'Machines_show', summary: 'One machine with its latest events.', tags, responses: { 200: { description: 'The machine', schema: machineResponseSchema }, ...notFound } });
documentRoute({ method: 'delete', path: MACHINE, operationId: 'Machines_delete', summary: 'Destroy a machine (force=true for a running one).', tags, query: deleteQuerySchema, responses: { 200: { description: 'Destroy requested', schema: okResponseSchema }, ...refused } });
documentRoute({ method: 'post', path: `${MACHINE}/start`, operationId: 'Machines_start', summary: 'Start a created, stopped, suspended (resumes) or failed machine.', tags, responses: { 200: { description: 'Start requested', schema: startResponseSchema }, ...refused } });
documentRoute({ method: 'post', path: `${MACHINE}/stop`, operationId: 'Machines_stop', summary: 'Stop a machine: its stop signal, then SIGKILL after the timeout.', tags, body: stopRequestSchema, responses: { 200: { description: 'Stop requested', schema: okResponseSchema }, 400: error('Bad signal or timeout'), ...refused } });
documentRoute({ method: 'get', path: `${MACHINE}/wait`, operationId: 'Machines_wait', summary: 'Wait until the machine reaches a state (instance_id required for stopped).', tags, query: waitQuerySchema, responses: { 200: { description: 'The state reached', schema: waitResponseSchema }, 400: error('Bad state, timeout or missing instance_id'), 408: error('Not reached in time'), ...notFound } });

/** How many events a Machine response carries (newest first), as Fly's do. */
const EVENTS_IN_RESPONSE = 10;

/** `/v1/apps/:app/machines`: list, create, show, delete, start, stop, wait. */
export function machineRoutes(store: Store, ops: MachineOps): Hono {
  const routes = new Hono();

  routes.get('/:app/machines', async (c) => {
    const appName = c.req.param('app');
    await ops.requireApp(appName);
    const query = parseInput(listQuerySchema, c.req.query(), 'list machines');
    const filters = metadataFilters(c.req.query());
    const includeDestroyed = query.include_deleted === 'true' || query.include_deleted === '1';
    const machines = await store.listMachines({ appName, includeDestroyed, ...(query.region ? { region: query.region } : {}) });
    return c.json(machines.filter((m) => matchesMetadata(m, filters)).map((m) => renderMachine(m)));
  });

  routes.post('/:app/machines', async (c) => {
    const machine = await ops.create(c.req.param('app'), await readJson(c), principalOf(c).owner);
    const rendered = renderMachine(machine, await store.listEvents(machine.id, { limit: EVENTS_IN_RESPONSE }));
    return c.json(machine.nonce === undefined ? rendered : { ...rendered, nonce: machine.nonce });
  });

  routes.get('/:app/machines/:id', async (c) => {
    const machine = await ops.requireMachine(c.req.param('app'), c.req.param('id'));
    return c.json(renderMachine(machine, await store.listEvents(machine.id, { limit: EVENTS_IN_RESPONSE })));
  });

  routes.delete('/:app/machines/:id', async (c) => {
    const query = parseInput(deleteQuerySchema, c.req.query(), 'destroy machine');
    await ops.destroy(c.req.param('app'), c.req.param('id'), query.force === 'true' || query.force === '1');
    return c.json({ ok: true });
  });

  routes.post('/:app/machines/:id/start', async (c) => {
    const result = await ops.start(c.req.param('app'), c.req.param('id'));
    return c.json({ ok: true, ...result });
  });

  routes.post('/:app/machines/:id/stop', async (c) => {
    await ops.stop(c.req.param('app'), c.req.param('id'), await readJson(c));
    return c.json({ ok: true });
  });

  routes.get('/:app/machines/:id/wait', async (c) => {
    const machine = await ops.requireMachine(c.req.param('app'), c.req.param('id'));
    const query = parseInput(waitQuerySchema, c.req.query(), 'wait for machine');
    // Fly's rule: "stopped" is ambiguous across versions (an update stops the old one).
    if (query.state === 'stopped' && query.instance_id === undefined) {
      throw new AloftError('INVALID_ARGUMENT', "Cannot wait for machine as 'instance_id' must be given when waiting for state stopped: got nothing", {
        details: { field: 'instance_id' },
      });
    }
    const reached = await waitForState(
      store,
      { machineId: machine.id, state: query.state as MachineState, instanceId: query.instance_id, timeoutMs: query.timeout * 1000 },
      c.req.raw.signal,
    );
    return c.json({ ok: true, state: reached?.state ?? 'destroyed' });
  });

  return routes;
}
