import { Hono } from 'hono';
import { z } from 'zod';
import type { Store } from '../../store/store.ts';
import type { MachineOps } from '../machine-ops.ts';
import { execRequestSchema, psQuerySchema, restartQuerySchema, signalRequestSchema } from '../machine-actions.ts';
import { checkMetadataKey, metadataValueSchema } from '../machine-metadata.ts';
import { renderVersion, updateMachineRequestSchema } from '../machine-update.ts';
import { documentRoute, type RouteDoc } from '../openapi/registry.ts';
import { renderEvent, renderMachine } from '../render.ts';
import { errorResponseSchema, machineEventResponseSchema, machineResponseSchema, okResponseSchema } from '../schemas/index.ts';
import { readJson } from '../read-json.ts';
import { parseInput } from '../validate.ts';

const eventsQuerySchema = z.object({ limit: z.coerce.number().int().min(1).max(1000).optional() });
/** How many events a Machine response carries (newest first), as Fly's do. */
const EVENTS_IN_RESPONSE = 10;

const MACHINE = '/apps/{app_name}/machines/{machine_id}';
const error = (description: string): { description: string; schema: z.ZodType } => ({ description, schema: errorResponseSchema });
const refused = { 404: error('No such app or machine'), 412: error('Not allowed in the machine’s current state') };
const doc = (d: Omit<RouteDoc, 'tags'>): void => documentRoute({ ...d, tags: ['Machines'] });

const versionSchema = z
  .object({ version: z.string(), user_config: z.looseObject({}), created_at: z.string(), replaced_at: z.string().optional() })
  .meta({ title: 'MachineVersion' });
const processStatSchema = z
  .object({
    pid: z.number().int(),
    command: z.string(),
    cpu: z.number(),
    rss: z.number(),
    rtime: z.number(),
    stime: z.number(),
    directory: z.string(),
    listen_sockets: z.array(z.object({ address: z.string(), proto: z.string() })),
  })
  .meta({ title: 'ProcessStat' });
const execResponseSchema = z.object({ stdout: z.string(), stderr: z.string(), exit_code: z.number().int() }).meta({ title: 'ExecResponse' });

doc({ method: 'post', path: MACHINE, operationId: 'Machines_update', summary: 'Replace the config: a new version (instance_id); a running machine is restarted on it.', body: updateMachineRequestSchema, responses: { 200: { description: 'The updated machine', schema: machineResponseSchema }, 400: error('Invalid config, or name/region changed'), 409: error('current_version is not the live version'), ...refused } });
doc({ method: 'get', path: `${MACHINE}/versions`, operationId: 'Machines_list_versions', summary: 'Every config version, newest first.', responses: { 200: { description: 'Versions', schema: z.array(versionSchema) }, 404: refused[404] } });
doc({ method: 'post', path: `${MACHINE}/restart`, operationId: 'Machines_restart', summary: 'Stop and start a started machine (state restarting).', query: restartQuerySchema, responses: { 200: { description: 'Restart requested', schema: okResponseSchema }, 400: error('Bad timeout or signal'), ...refused } });
doc({ method: 'post', path: `${MACHINE}/suspend`, operationId: 'Machines_suspend', summary: 'Freeze a started machine in place (suspending → suspended); start resumes it.', responses: { 200: { description: 'Suspend requested', schema: okResponseSchema }, ...refused } });
doc({ method: 'post', path: `${MACHINE}/signal`, operationId: 'Machines_signal', summary: "Send a signal to a started machine's main process.", body: signalRequestSchema, responses: { 200: { description: 'Sent', schema: okResponseSchema }, 400: error('Unknown signal'), ...refused } });
doc({ method: 'post', path: `${MACHINE}/exec`, operationId: 'Machines_exec', summary: 'Run a command in a started machine (as root) and answer its output.', body: execRequestSchema, responses: { 200: { description: 'How the command ended', schema: execResponseSchema }, 400: error('No command'), 408: error('The command ran past its timeout'), ...refused } });
doc({ method: 'get', path: `${MACHINE}/ps`, operationId: 'Machines_list_processes', summary: "A started machine's processes.", query: psQuerySchema, responses: { 200: { description: 'Processes', schema: z.array(processStatSchema) }, ...refused } });
doc({ method: 'post', path: `${MACHINE}/cordon`, operationId: 'Machines_cordon', summary: 'Keep new proxy traffic away from the machine.', responses: { 200: { description: 'Cordoned', schema: okResponseSchema }, ...refused } });
doc({ method: 'post', path: `${MACHINE}/uncordon`, operationId: 'Machines_uncordon', summary: 'Let the proxy route to the machine again.', responses: { 200: { description: 'Uncordoned', schema: okResponseSchema }, ...refused } });
doc({ method: 'get', path: `${MACHINE}/events`, operationId: 'Machines_list_events', summary: "The machine's events, newest first.", query: eventsQuerySchema, responses: { 200: { description: 'Events', schema: z.array(machineEventResponseSchema) }, 404: refused[404] } });
doc({ method: 'get', path: `${MACHINE}/metadata`, operationId: 'Machines_show_metadata', summary: "The machine's metadata (config.metadata).", responses: { 200: { description: 'Metadata', schema: z.record(z.string(), z.string()) }, 404: refused[404] } });
doc({ method: 'post', path: `${MACHINE}/metadata/{key}`, operationId: 'Machines_update_metadata', summary: 'Set one metadata key (no new version, no restart).', body: metadataValueSchema, responses: { 204: { description: 'Set' }, 400: error('Bad key or value'), ...refused } });
doc({ method: 'delete', path: `${MACHINE}/metadata/{key}`, operationId: 'Machines_delete_metadata', summary: 'Delete one metadata key.', responses: { 204: { description: 'Deleted' }, 404: error('No such machine or key'), 412: refused[412] } });

/** `/v1/apps/:app/machines/:id/…`: update, versions, actions (restart, suspend, signal, exec, cordon), reads (ps, events) and metadata. */
export function machineActionRoutes(store: Store, ops: MachineOps): Hono {
  const routes = new Hono();
  const ids = (c: { req: { param(name: string): string } }): [string, string] => [c.req.param('app'), c.req.param('id')];

  routes.post('/:app/machines/:id', async (c) => {
    const machine = await ops.update(...ids(c), await readJson(c));
    return c.json(renderMachine(machine, await store.listEvents(machine.id, { limit: EVENTS_IN_RESPONSE })));
  });

  routes.get('/:app/machines/:id/versions', async (c) => {
    const machine = await ops.requireMachine(...ids(c));
    return c.json((await store.listMachineVersions(machine.id)).map(renderVersion));
  });

  routes.post('/:app/machines/:id/restart', async (c) => {
    await ops.restart(...ids(c), c.req.query());
    return c.json({ ok: true });
  });

  routes.post('/:app/machines/:id/suspend', async (c) => {
    await ops.suspend(...ids(c));
    return c.json({ ok: true });
  });

  routes.post('/:app/machines/:id/signal', async (c) => {
    await ops.signal(...ids(c), await readJson(c));
    return c.json({ ok: true });
  });

  routes.post('/:app/machines/:id/exec', async (c) => c.json(await ops.exec(...ids(c), await readJson(c))));

  routes.get('/:app/machines/:id/ps', async (c) => c.json(await ops.ps(...ids(c), c.req.query())));

  routes.post('/:app/machines/:id/cordon', async (c) => {
    await ops.cordon(...ids(c), true);
    return c.json({ ok: true });
  });

  routes.post('/:app/machines/:id/uncordon', async (c) => {
    await ops.cordon(...ids(c), false);
    return c.json({ ok: true });
  });

  routes.get('/:app/machines/:id/events', async (c) => {
    const machine = await ops.requireMachine(...ids(c));
    const query = parseInput(eventsQuerySchema, c.req.query(), 'list machine events');
    const events = await store.listEvents(machine.id, query.limit === undefined ? {} : { limit: query.limit });
    return c.json(events.map(renderEvent));
  });

  routes.get('/:app/machines/:id/metadata', async (c) => {
    const machine = await ops.requireMachine(...ids(c));
    return c.json(machine.config.metadata ?? {});
  });

  routes.post('/:app/machines/:id/metadata/:key', async (c) => {
    await ops.setMetadata(...ids(c), checkMetadataKey('set machine metadata', c.req.param('key')), await readJson(c));
    return c.body(null, 204);
  });

  routes.delete('/:app/machines/:id/metadata/:key', async (c) => {
    await ops.deleteMetadata(...ids(c), checkMetadataKey('delete machine metadata', c.req.param('key')));
    return c.body(null, 204);
  });

  return routes;
}
