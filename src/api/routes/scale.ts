import { Hono } from 'hono';
import { z } from 'zod';
import { REGION_GROUPS, REGIONS } from '../../model/index.ts';
import type { Scheduler } from '../../scheduler/index.ts';
import type { ScaleOps } from '../scale-ops.ts';
import { scaleCountRequestSchema, scaleVmRequestSchema } from '../scale-ops.ts';
import { readJson } from '../read-json.ts';
import { documentRoute } from '../openapi/registry.ts';
import { errorResponseSchema } from '../schemas/common.ts';

const tags = ['Scale'];
const SCALE = '/apps/{app_name}/scale';
const error = (description: string): { description: string; schema: z.ZodType } => ({ description, schema: errorResponseSchema });
const counts = z.record(z.string(), z.number().int());
const scaled = z.object({ id: z.string(), region: z.string(), host: z.string(), state: z.string(), volume: z.string().optional() });
const guest = z.object({ size: z.string(), cpu_kind: z.string(), cpus: z.number(), memory_mb: z.number().int(), gpu_kind: z.string().optional() });

const regionSchema = z.object({ code: z.string(), name: z.string(), group: z.string(), group_name: z.string(), eu: z.boolean(), hosts: z.number().int() }).meta({ title: 'PlatformRegion' });
const groupSchema = z
  .object({ process_group: z.string(), count: z.number().int(), regions: counts, vm_sizes: counts, memory_mb: counts, machines: z.array(z.looseObject({ id: z.string() })) })
  .meta({ title: 'ScaleGroup' });
const countResponse = z
  .object({ process_group: z.string(), dry_run: z.boolean(), before: counts, after: counts, created: z.array(scaled), destroyed: z.array(scaled), volumes_kept: z.array(z.string()) })
  .meta({ title: 'ScaleCountResult' });
const vmResponse = z
  .object({
    process_group: z.string(),
    dry_run: z.boolean(),
    machines: z.array(z.object({ id: z.string(), name: z.string(), region: z.string(), host: z.string(), state: z.string(), before: guest, after: guest, changed: z.boolean() })),
    updated: z.array(z.string()),
  })
  .meta({ title: 'ScaleVmResult' });

documentRoute({ method: 'get', path: '/platform/regions', operationId: 'Platform_regions', summary: 'Every region code aloft knows, with its area, EU flag and how many hosts this platform has there.', tags, responses: { 200: { description: 'Regions', schema: z.array(regionSchema) } } });
documentRoute({ method: 'get', path: SCALE, operationId: 'Scale_show', summary: "An app's Machines per process group: count per region, VM sizes, memory.", tags, responses: { 200: { description: 'Groups', schema: z.array(groupSchema) }, 404: error('No such app') } });
documentRoute({
  method: 'post',
  path: `${SCALE}/count`,
  operationId: 'Scale_count',
  summary: "Sets a process group's Machine count: clones its newest Machine onto hosts spread over the regions, or destroys the idlest extras. All placed before any is made.",
  tags,
  body: scaleCountRequestSchema,
  responses: { 200: { description: 'What was (or with dry_run, would be) made and removed', schema: countResponse }, 400: error('Invalid count, group or region'), 404: error('No such app'), 409: error('Leased by a deploy, or the image tag moved'), 412: error('Not enough capacity (the message says which resource, where), or nothing to clone') },
});
documentRoute({
  method: 'post',
  path: `${SCALE}/vm`,
  operationId: 'Scale_vm',
  summary: "Sets a process group's VM size and/or memory: a rolling update, one Machine at a time, each started again before the next.",
  tags,
  body: scaleVmRequestSchema,
  responses: { 200: { description: 'Each Machine before and after, and those updated', schema: vmResponse }, 400: error('Invalid size or memory'), 404: error('No such app'), 408: error('A Machine did not come back in time'), 409: error('Leased by a deploy'), 412: error('Not enough capacity on a host, or a Machine not at rest') },
});

/** `/v1/platform/regions` and `/v1/apps/:app/scale[/count|/vm]`. */
export function scaleRoutes(ops: ScaleOps, scheduler: Scheduler): Hono {
  const routes = new Hono();

  routes.get('/platform/regions', (c) => {
    const hosts = scheduler.hosts();
    return c.json(REGIONS.map((r) => ({ code: r.code, name: r.name, group: r.group, group_name: REGION_GROUPS[r.group], eu: r.eu, hosts: hosts.filter((h) => h.region === r.code).length })));
  });

  routes.get('/apps/:app/scale', async (c) => c.json(await ops.show(c.req.param('app'))));

  routes.post('/apps/:app/scale/count', async (c) => c.json(await ops.count(c.req.param('app'), await readJson(c))));

  routes.post('/apps/:app/scale/vm', async (c) => c.json(await ops.vm(c.req.param('app'), await readJson(c))));

  return routes;
}
