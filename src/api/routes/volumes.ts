import { Hono } from 'hono';
import { z } from 'zod';
import type { VolumeOps } from '../volume-ops.ts';
import { createVolumeRequestSchema, extendVolumeRequestSchema, updateVolumeRequestSchema } from '../volume-ops.ts';
import { renderSnapshot, renderVolume } from '../render-volume.ts';
import { readJson } from '../read-json.ts';
import { documentRoute } from '../openapi/registry.ts';
import { errorResponseSchema } from '../schemas/common.ts';
import { extendVolumeResponseSchema, volumeResponseSchema, volumeSnapshotResponseSchema } from '../schemas/volume.ts';

const VOLUMES = '/apps/{app_name}/volumes';
const VOLUME = `${VOLUMES}/{volume_id}`;
const error = (description: string): { description: string; schema: z.ZodType } => ({ description, schema: errorResponseSchema });
const notFound = { 404: error('No such app or volume') };
const tags = ['Volumes'];
const updateDoc = { summary: "Change a volume's snapshot retention or daily backups.", tags, body: updateVolumeRequestSchema, responses: { 200: { description: 'The volume', schema: volumeResponseSchema }, 400: error('Invalid field'), ...notFound, 412: error('Destroyed or being destroyed') } };
documentRoute({ method: 'get', path: VOLUMES, operationId: 'Volumes_list', summary: "List an app's volumes (not destroyed ones).", tags, responses: { 200: { description: 'Volumes', schema: z.array(volumeResponseSchema) }, ...notFound } });
documentRoute({ method: 'post', path: VOLUMES, operationId: 'Volumes_create', summary: "Create a volume on a host's disk in the region (empty, from a snapshot, or a fork of a volume).", tags, body: createVolumeRequestSchema, responses: { 200: { description: 'The volume, being created', schema: volumeResponseSchema }, 400: error('Invalid name, region, size or source'), ...notFound } });
documentRoute({ method: 'get', path: VOLUME, operationId: 'Volumes_get_by_id', summary: 'One volume.', tags, responses: { 200: { description: 'The volume', schema: volumeResponseSchema }, ...notFound } });
// Fly's spec has POST; its docs and flyctl use PUT: both are served.
documentRoute({ method: 'post', path: VOLUME, operationId: 'Volumes_update', ...updateDoc });
documentRoute({ method: 'put', path: VOLUME, operationId: 'Volumes_update_put', ...updateDoc });
documentRoute({ method: 'delete', path: VOLUME, operationId: 'Volume_delete', summary: 'Destroy a volume and its snapshots (refused while a machine that is not destroyed has it).', tags, responses: { 200: { description: 'The volume, being destroyed', schema: volumeResponseSchema }, ...notFound, 409: error('A machine that is not destroyed has it'), 412: error('Already being destroyed') } });
documentRoute({ method: 'put', path: `${VOLUME}/extend`, operationId: 'Volumes_extend', summary: 'Grow a volume (never shrink): its file and its filesystem.', tags, body: extendVolumeRequestSchema, responses: { 200: { description: 'The volume, being extended', schema: extendVolumeResponseSchema }, 400: error('size_gb not larger than now'), ...notFound, 412: error('Not in state created') } });
documentRoute({ method: 'get', path: `${VOLUME}/snapshots`, operationId: 'Volumes_list_snapshots', summary: "A volume's snapshots, newest first.", tags, responses: { 200: { description: 'Snapshots', schema: z.array(volumeSnapshotResponseSchema) }, ...notFound } });
documentRoute({ method: 'post', path: `${VOLUME}/snapshots`, operationId: 'createVolumeSnapshot', summary: "Snapshot a volume: a copy of its image, taken with the filesystem frozen while mounted.", tags, responses: { 200: { description: 'The snapshot, being taken', schema: volumeSnapshotResponseSchema }, ...notFound, 412: error('Not in state created or extending') } });

/** `/v1/apps/:app/volumes`: list, create, show, update, destroy, extend, snapshots. */
export function volumeRoutes(ops: VolumeOps): Hono {
  const routes = new Hono();

  routes.get('/:app/volumes', async (c) => c.json((await ops.list(c.req.param('app'))).map(renderVolume)));

  routes.post('/:app/volumes', async (c) => c.json(renderVolume(await ops.create(c.req.param('app'), await readJson(c)))));

  routes.get('/:app/volumes/:id', async (c) => c.json(renderVolume(await ops.requireVolume(c.req.param('app'), c.req.param('id')))));

  routes.on(['POST', 'PUT'], '/:app/volumes/:id', async (c) =>
    c.json(renderVolume(await ops.update(c.req.param('app'), c.req.param('id'), await readJson(c)))),
  );

  routes.delete('/:app/volumes/:id', async (c) => c.json(renderVolume(await ops.destroy(c.req.param('app'), c.req.param('id')))));

  routes.put('/:app/volumes/:id/extend', async (c) => {
    const { volume, needsRestart } = await ops.extend(c.req.param('app'), c.req.param('id'), await readJson(c));
    return c.json({ volume: renderVolume(volume), needs_restart: needsRestart });
  });

  routes.get('/:app/volumes/:id/snapshots', async (c) => c.json((await ops.listSnapshots(c.req.param('app'), c.req.param('id'))).map(renderSnapshot)));

  routes.post('/:app/volumes/:id/snapshots', async (c) => c.json(renderSnapshot(await ops.createSnapshot(c.req.param('app'), c.req.param('id')))));

  return routes;
}
