import { Hono, type Context } from 'hono';
import { z } from 'zod';
import type { Deployer } from '../../deploy/index.ts';
import { AloftError } from '../../lib/errors.ts';
import type { Release, ReleaseEvent } from '../../store/release-store.ts';
import type { Store } from '../../store/store.ts';
import { principalOf } from '../auth/principal.ts';
import { documentRoute } from '../openapi/registry.ts';
import { errorResponseSchema } from '../schemas/index.ts';
import { parseInput } from '../validate.ts';

export const releaseResponseSchema = z
  .object({
    id: z.string(),
    version: z.number().int(),
    app_name: z.string(),
    status: z.enum(['pending', 'running', 'succeeded', 'failed', 'rolled_back']),
    strategy: z.enum(['rolling', 'immediate', 'canary', 'bluegreen']),
    image_ref: z.string(),
    image_digest: z.string(),
    created_by: z.string(),
    created_at: z.string(),
    updated_at: z.string(),
    finished_at: z.string().optional(),
    reason: z.string().optional(),
    rollback_of: z.number().int().optional(),
    config: z.unknown().optional().meta({ description: 'The normalised app config (only when one release is shown)' }),
  })
  .meta({ title: 'Release' });

export const releaseEventSchema = z
  .object({ seq: z.number().int(), time: z.string(), type: z.string(), message: z.string(), release: z.number().int() })
  .loose()
  .meta({ title: 'ReleaseEvent' });

const eventsQuerySchema = z.object({
  follow: z.enum(['true', 'false', '1', '0']).optional().meta({ description: 'Stream events as NDJSON (application/x-ndjson) until the release ends' }),
  after: z.coerce.number().int().min(0).optional().meta({ description: 'Only events after this seq (to resume a stream)' }),
});

const error = (description: string): { description: string; schema: z.ZodType } => ({ description, schema: errorResponseSchema });
const tags = ['Releases'];
const RELEASE = '/apps/{app_name}/releases/{version}';
documentRoute({ method: 'get', path: '/apps/{app_name}/releases', operationId: 'Releases_list', summary: "An app's releases, newest first (aloft's addition).", tags, responses: { 200: { description: 'Releases', schema: z.object({ releases: z.array(releaseResponseSchema) }) }, 404: error('No such app') } });
documentRoute({ method: 'get', path: RELEASE, operationId: 'Releases_show', summary: 'One release, with its config.', tags, responses: { 200: { description: 'The release', schema: releaseResponseSchema }, 404: error('No such app or release') } });
documentRoute({
  method: 'get',
  path: `${RELEASE}/events`,
  operationId: 'Releases_events',
  summary: "A release's deploy progress, oldest first; with follow=true one JSON line each as they come, ending with the `done` event.",
  tags,
  query: eventsQuerySchema,
  responses: { 200: { description: 'Events', schema: z.array(releaseEventSchema) }, 404: error('No such app or release') },
});
documentRoute({
  method: 'post',
  path: `${RELEASE}/rollback`,
  operationId: 'Releases_rollback',
  summary: 'Redeploy this release (its image, config and strategy) as a new release; `previous` names the last succeeded release before the current one.',
  tags,
  responses: { 201: { description: 'The new release, pending', schema: releaseResponseSchema }, 404: error('No such app or release, or nothing to roll back to'), 409: error('Another deploy is running (DEPLOY_CONFLICT)') },
});

/** A release in the API's shape (snake_case, ISO times); `withConfig` adds the config. */
export function renderRelease(release: Release, withConfig = false): z.infer<typeof releaseResponseSchema> {
  const iso = (ms: number): string => new Date(ms).toISOString();
  return {
    id: release.id,
    version: release.version,
    app_name: release.appName,
    status: release.status,
    strategy: release.strategy,
    image_ref: release.image.ref,
    image_digest: release.image.digest,
    created_by: release.createdBy,
    created_at: iso(release.createdAt),
    updated_at: iso(release.updatedAt),
    ...(release.finishedAt === undefined ? {} : { finished_at: iso(release.finishedAt) }),
    ...(release.reason === undefined ? {} : { reason: release.reason }),
    ...(release.rollbackOf === undefined ? {} : { rollback_of: release.rollbackOf }),
    ...(withConfig ? { config: release.config } : {}),
  };
}

function renderEvent(event: ReleaseEvent): Record<string, unknown> {
  return { seq: event.seq, time: new Date(event.time).toISOString(), ...event.data };
}

/** Who a deploy is recorded as started by: the operator, or a token's name and id. */
export function requester(c: Context): string {
  const principal = principalOf(c);
  return principal.kind === 'operator' ? 'operator' : `${principal.token.name} (${principal.owner})`;
}

async function requireRelease(store: Store, appName: string, version: string): Promise<Release> {
  const n = Number(version);
  const release = /^[1-9][0-9]{0,9}$/.test(version) ? await store.getRelease(appName, n) : undefined;
  if (!release) throw new AloftError('RELEASE_NOT_FOUND', `Cannot find release ${JSON.stringify(version)} of app ${appName}: it must be the number of one of its releases (aloft releases lists them)`, { details: { appName, version } });
  return release;
}

/** `/v1/apps/:app/releases`: list, show, events (followed as NDJSON), rollback. */
export function releaseRoutes(deployer: Deployer, store: Store): Hono {
  const routes = new Hono();

  routes.get('/:app/releases', async (c) => {
    const app = c.req.param('app');
    if (!(await store.getApp(app))) throw new AloftError('APP_NOT_FOUND', `Cannot find app "${app}": no app by that name`);
    return c.json({ releases: (await store.listReleases(app)).map((r) => renderRelease(r)) });
  });

  routes.get('/:app/releases/:version', async (c) => c.json(renderRelease(await requireRelease(store, c.req.param('app'), c.req.param('version')), true)));

  routes.get('/:app/releases/:version/events', async (c) => {
    const release = await requireRelease(store, c.req.param('app'), c.req.param('version'));
    const query = parseInput(eventsQuerySchema, c.req.query(), 'read release events');
    if (query.follow !== 'true' && query.follow !== '1') return c.json((await store.listReleaseEvents(release.id, query.after ?? 0)).map(renderEvent));
    return new Response(ndjson(deployer.follow(release, query.after ?? 0, c.req.raw.signal)), {
      headers: { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' },
    });
  });

  routes.post('/:app/releases/:version/rollback', async (c) => {
    const app = c.req.param('app');
    const asked = c.req.param('version');
    const version = asked === 'previous' ? undefined : (await requireRelease(store, app, asked)).version;
    return c.json(renderRelease(await deployer.rollback(app, version, requester(c))), 201);
  });

  return routes;
}

/** One JSON line per event; cancelling the body (the client went away) ends the follow. */
function ndjson(events: AsyncGenerator<ReleaseEvent>): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const next = await events.next();
        if (next.done) controller.close();
        else controller.enqueue(encoder.encode(`${JSON.stringify(renderEvent(next.value))}\n`));
      } catch (err) {
        controller.error(err);
      }
    },
    async cancel() {
      await events.return(undefined);
    },
  });
}
