import { Hono } from 'hono';
import { z } from 'zod';
import { AloftError } from '../../lib/errors.ts';
import { shortId } from '../../lib/ids.ts';
import type { App } from '../../model/index.ts';
import type { Store } from '../../store/store.ts';
import { renderApp } from '../render.ts';
import { parseInput } from '../validate.ts';
import { readJson } from '../read-json.ts';

const createAppSchema = z.looseObject({
  app_name: z.string().regex(/^[a-z0-9][a-z0-9-]{1,62}$/, 'lowercase letters, digits and dashes, 2 to 63 long, not starting with a dash'),
  org_slug: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'an org slug such as "personal"').default('personal'),
  network: z.string().optional(),
});

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
    const app: App = {
      id: shortId(),
      name: body.app_name,
      orgSlug: body.org_slug,
      network: await orgNetwork(store, body.org_slug),
      status: 'pending',
      createdAt: Date.now(),
    };
    await store.createApp(app);
    return c.json(renderApp(app), 201);
  });

  routes.get('/', async (c) => {
    const orgSlug = c.req.query('org_slug');
    const apps = await store.listApps(orgSlug ? { orgSlug } : {});
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
    await store.deleteApp(name);
    return c.body(null, 202);
  });

  return routes;
}
