import { z } from 'zod';

/** An App as the API renders it (src/api/render.ts `renderApp`): Fly's `App` plus `network`. */
export const appResponseSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    status: z.enum(['pending', 'deployed', 'suspended']),
    organization: z.object({ name: z.string(), slug: z.string() }),
    network: z.object({ id: z.number().int() }).meta({ description: "The org's 6PN network (Fly's ListApp has it as an object)." }),
    machine_count: z.number().int().min(0).optional(),
  })
  .meta({ title: 'App' });

/** `GET /v1/apps`: Fly's `ListAppsResponse`. */
export const listAppsResponseSchema = z
  .object({
    total_apps: z.number().int().min(0),
    apps: z.array(appResponseSchema),
  })
  .meta({ title: 'ListAppsResponse' });
