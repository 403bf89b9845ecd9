import { Hono } from 'hono';
import { z } from 'zod';
import { AloftError } from '../../lib/errors.ts';
import { shortId } from '../../lib/ids.ts';
import type { App } from '../../model/index.ts';
import type { Store } from '../../store/store.ts';
import { renderApp } from '../render.ts';
import { parseInput } from '../validate.ts';
import { readJson } from '../read-json.ts';
import { documentRoute } from '../openapi/registry.ts';
import { appResponseSchema, errorResponseSchema, listAppsResponseSchema } from '../schemas/index.ts';
import { canSeeApp, principalOf } from '../auth/principal.ts';
import { orgForNewApp } from '../auth/scope.ts';
import { orgNotFound } from '../../store/store-errors-auth.ts';

const createAppSchema = z.looseObject({
  app_name: z.string().regex(/^[a-z0-9][a-z0-9-]{1,62}$/, 'lowercase letters, digits and dashes, 2 to 63 long, not starting with a dash'),
  // No default here: an org token's apps default to its org (auth/scope.ts orgForNewApp).
  org_slug: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'an org slug such as "personal"').optional(),
  network: z.string().optional(),
});

const listAppsQuerySchema = z.object({ org_slug: z.string().optional() });
const appError = (description: string): { description: string; schema: z.ZodType } => ({ description, schema: errorResponseSchema });
const tags = ['Apps'];
documentRoute({ method: 'post', path: '/apps', operationId: 'Apps_create', summary: "Create an app (on its org's private network).", tags, body: createAppSchema, responses: { 201: { description: 'The app', schema: appResponseSchema }, 400: appError('Invalid name or org'), 409: appError('The name is taken') } });
documentRoute({ method: 'get', path: '/apps', operationId: 'Apps_list', summary: 'List apps, optionally of one org.', tags, query: listAppsQuerySchema, responses: { 200: { description: 'Apps', schema: listAppsResponseSchema } } });
documentRoute({ method: 'get', path: '/apps/{app_name}', operationId: 'Apps_show', summary: 'One app with its machine count.', tags, responses: { 200: { description: 'The app', schema: appResponseSchema }, 404: appError('No such app') } });
documentRoute({ method: 'delete', path: '/apps/{app_name}', operationId: 'Apps_delete', summary: 'Delete an app that has no live machines.', tags, responses: { 202: { description: 'Deleted' }, 404: appError('No such app'), 409: appError('The app still has machines') } });

/**
 * The org's 6PN network number: one per org, allocated on its first app and never
 * reused, so every app of the org shares one private network.
 */
async function orgNetwork(store: Store, orgSlug: string): Promise<number> {
  const key = `org:${orgSlug}:network`;
  const existing = await store.getMeta(key);
  if (existing !== undefined) return Number(existing);
  const n = await store.nextSequence('org-network');
  await store.setMeta(key, String(n));
  return n;
}

/** `/v1/apps`: create, list, show, delete. */
export function appRoutes(store: Store): Hono {
  const routes = new Hono();

  routes.post('/', async (c) => {
    const body = parseInput(createAppSchema, await readJson(c), 'create app');
    const orgSlug = orgForNewApp(c, body.org_slug);
    if (!(await store.getOrg(orgSlug))) throw orgNotFound('create app', orgSlug);
    const app: App = {
      id: shortId(),
      name: body.app_name,
      orgSlug,
      network: await orgNetwork(store, orgSlug),
      status: 'pending',
      createdAt: Date.now(),
    };
    await store.createApp(app);
    return c.json(renderApp(app), 201);
  });

  routes.get('/', async (c) => {
    const orgSlug = c.req.query('org_slug');
    // Only what the token may see: another org's slug lists nothing, as an unknown one does.
    const apps = (await store.listApps(orgSlug ? { orgSlug } : {})).filter((a) => canSeeApp(principalOf(c), a));
    const rendered = await Promise.all(
      apps.map(async (app) => renderApp(app, (await store.listMachines({ appName: app.name })).length)),
    );
    return c.json({ total_apps: rendered.length, apps: rendered });
  });

  routes.get('/:app', async (c) => {
    const app = await store.getApp(c.req.param('app'));
    if (!app) throw new AloftError('APP_NOT_FOUND', `Cannot find app "${c.req.param('app')}": no app by that name`);
    return c.json(renderApp(app, (await store.listMachines({ appName: app.name })).length));
  });

  routes.delete('/:app', async (c) => {
    const name = c.req.param('app');
    const app = await store.getApp(name);
    if (!app) throw new AloftError('APP_NOT_FOUND', `Cannot find app "${name}": no app by that name`);
    const live = await store.listMachines({ appName: name });
    if (live.length > 0) {
      throw new AloftError(
        'APP_HAS_MACHINES',
        `Cannot delete app "${name}" as it must have no machines left: got ${live.length} (${live.map((m) => `${m.id} ${m.state}`).join(', ')}); destroy them first`,
      );
    }
    // A volume is a slice of a host's disk holding the user's data: never dropped as a
    // side effect of deleting its app.
    const volumes = await store.listVolumes({ appName: name });
    if (volumes.length > 0) {
      throw new AloftError(
        'APP_HAS_VOLUMES',
        `Cannot delete app "${name}" as it must have no volumes left: got ${volumes.length} (${volumes.map((v) => `${v.id} ${v.state}`).join(', ')}); destroy them first`,
      );
    }
    await store.deleteApp(name);
    return c.body(null, 202);
  });

  return routes;
}
