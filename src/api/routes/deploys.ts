import { Hono } from 'hono';
import { z } from 'zod';
import { parseAppConfigSources } from '../../config/index.ts';
import { readToml } from '../../config/toml-source.ts';
import type { Deployer } from '../../deploy/index.ts';
import { DEPLOY_STRATEGIES } from '../../store/release-store.ts';
import { documentRoute } from '../openapi/registry.ts';
import { readJson } from '../read-json.ts';
import { errorResponseSchema } from '../schemas/index.ts';
import { parseInput } from '../validate.ts';
import { releaseResponseSchema, renderRelease, requester } from './releases.ts';

/**
 * `POST /v1/apps/:app/deploys`'s body. The config travels as the files the user has
 * (fly.toml, then any environment file over it), not as JSON: the API reads them with
 * the same parser as `aloft config validate`, so the release records exactly what the
 * files say.
 */
export const createDeployRequestSchema = z.looseObject({
  image: z.string().min(1).max(1024).meta({ description: 'The image: a registry reference (the platform registry’s, after a push) or an OCI layout path on the host' }),
  strategy: z.enum(DEPLOY_STRATEGIES).optional().meta({ description: 'Overrides [deploy] strategy' }),
  config: z
    .array(z.object({ name: z.string().min(1).max(255), text: z.string().max(512 * 1024) }))
    .min(1)
    .max(4)
    .meta({ description: 'The config files, base first (fly.toml or aloft.toml), then an environment file merged over it' }),
});

const error = (description: string): { description: string; schema: z.ZodType } => ({ description, schema: errorResponseSchema });
documentRoute({
  method: 'post',
  path: '/apps/{app_name}/deploys',
  operationId: 'Deploys_create',
  summary: "Deploy the app (aloft's addition): the release is recorded and runs in the API; follow GET …/releases/{version}/events?follow=true.",
  tags: ['Releases'],
  body: createDeployRequestSchema,
  responses: {
    201: { description: 'The release, pending', schema: releaseResponseSchema },
    400: error('Invalid body, config (CONFIG_INVALID) or image'),
    404: error('No such app'),
    409: error('Another deploy of the app is running (DEPLOY_CONFLICT)'),
  },
});

/** `/v1/apps/:app/deploys`: start a deploy. */
export function deployRoutes(deployer: Deployer): Hono {
  const routes = new Hono();

  routes.post('/:app/deploys', async (c) => {
    const body = parseInput(createDeployRequestSchema, await readJson(c), 'deploy');
    const { config } = parseAppConfigSources(body.config.map((f) => readToml(f.text, f.name)));
    const release = await deployer.deploy({
      appName: c.req.param('app'),
      config,
      image: body.image,
      ...(body.strategy ? { strategy: body.strategy } : {}),
      createdBy: requester(c),
    });
    return c.json(renderRelease(release), 201);
  });

  return routes;
}
