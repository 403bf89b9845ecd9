import { Hono } from 'hono';
import { z } from 'zod';
import type { MachineState } from '../../model/index.ts';
import type { Store } from '../../store/store.ts';
import type { MachineOps } from '../machine-ops.ts';
import { renderMachine } from '../render.ts';
import { parseInput } from '../validate.ts';
import { readJson } from '../read-json.ts';
import { waitForState } from '../wait.ts';

const listQuerySchema = z.object({
  region: z.string().optional(),
  include_deleted: z.enum(['true', 'false', '1', '0']).optional(),
});

const waitQuerySchema = z.object({
  state: z.enum(['started', 'stopped', 'suspended', 'destroyed']).default('started'),
  instance_id: z.string().optional(),
  timeout: z.coerce.number().int().min(1).max(60).default(60),
});

const deleteQuerySchema = z.object({ force: z.enum(['true', 'false', '1', '0']).optional() });

/** How many events a Machine response carries (newest first), as Fly's do. */
const EVENTS_IN_RESPONSE = 10;

/** `/v1/apps/:app/machines`: list, create, show, delete, start, stop, wait. */
export function machineRoutes(store: Store, ops: MachineOps): Hono {
  const routes = new Hono();

  routes.get('/:app/machines', async (c) => {
    const appName = c.req.param('app');
    await ops.requireApp(appName);
    const query = parseInput(listQuerySchema, c.req.query(), 'list machines');
    const includeDestroyed = query.include_deleted === 'true' || query.include_deleted === '1';
    const machines = await store.listMachines({ appName, includeDestroyed, ...(query.region ? { region: query.region } : {}) });
    return c.json(machines.map((m) => renderMachine(m)));
  });

  routes.post('/:app/machines', async (c) => {
    const machine = await ops.create(c.req.param('app'), await readJson(c));
    return c.json(renderMachine(machine, await store.listEvents(machine.id, { limit: EVENTS_IN_RESPONSE })));
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
    const reached = await waitForState(
      store,
      { machineId: machine.id, state: query.state as MachineState, instanceId: query.instance_id, timeoutMs: query.timeout * 1000 },
      c.req.raw.signal,
    );
    return c.json({ ok: true, state: reached?.state ?? 'destroyed' });
  });

  return routes;
}
