import { Hono } from 'hono';
import { z } from 'zod';
import type { Clock } from '../../lib/clock.ts';
import { invalidField } from '../../lib/errors.ts';
import { shortId } from '../../lib/ids.ts';
import type { ApiToken, Org } from '../../store/auth-store.ts';
import type { Store } from '../../store/store.ts';
import { orgNotFound } from '../../store/store-errors-auth.ts';
import { documentRoute } from '../openapi/registry.ts';
import { readJson } from '../read-json.ts';
import { errorResponseSchema } from '../schemas/common.ts';
import { parseInput } from '../validate.ts';
import { operatorOnly } from './scope.ts';
import { hashTokenSecret, newTokenSecret } from './secret.ts';

const slug = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'an org slug: lowercase letters, digits and dashes, at most 63 long');

const createOrgSchema = z.looseObject({ slug, name: z.string().min(1).max(100).optional() });
const createTokenSchema = z.looseObject({
  name: z.string().min(1).max(100).optional(),
  org: slug.default('personal'),
  app: z.string().min(1).optional(),
  read_only: z.boolean().default(false),
});
const listTokensQuery = z.object({ org: slug.optional() });

const orgResponse = z.object({ slug: z.string(), name: z.string(), created_at: z.string() }).meta({ title: 'Org' });
const tokenResponse = z
  .object({
    id: z.string(),
    name: z.string(),
    org_slug: z.string(),
    app_name: z.string().nullable(),
    read_only: z.boolean(),
    created_at: z.string(),
    revoked_at: z.string().nullable(),
  })
  .meta({ title: 'ApiToken' });
const createdTokenResponse = tokenResponse.extend({ token: z.string().meta({ description: 'The secret; shown only here, once.' }) });
const idParamError = { 404: { description: 'No token by that id', schema: errorResponseSchema } };
const operatorError = { 403: { description: "The token is not the operator's", schema: errorResponseSchema } };

documentRoute({ method: 'get', path: '/orgs', operationId: 'Orgs_list', summary: 'List orgs (operator only).', tags: ['Orgs'], responses: { 200: { description: 'Orgs', schema: z.array(orgResponse) }, ...operatorError } });
documentRoute({ method: 'post', path: '/orgs', operationId: 'Orgs_create', summary: 'Create an org (operator only).', tags: ['Orgs'], body: createOrgSchema, responses: { 201: { description: 'Created', schema: orgResponse }, 409: { description: 'Slug taken', schema: errorResponseSchema }, ...operatorError } });
documentRoute({ method: 'get', path: '/tokens', operationId: 'Tokens_list', summary: 'List API tokens, without secrets (operator only).', tags: ['Tokens'], query: listTokensQuery, responses: { 200: { description: 'Tokens', schema: z.array(tokenResponse) }, ...operatorError } });
documentRoute({ method: 'post', path: '/tokens', operationId: 'Tokens_create', summary: 'Create an API token scoped to an org, optionally one app and reads only; the secret is shown once (operator only).', tags: ['Tokens'], body: createTokenSchema, responses: { 201: { description: 'Created, with its secret', schema: createdTokenResponse }, 404: { description: 'No such org', schema: errorResponseSchema }, ...operatorError } });
documentRoute({ method: 'delete', path: '/tokens/{token_id}', operationId: 'Tokens_revoke', summary: 'Revoke an API token; it is refused (401) from then on (operator only).', tags: ['Tokens'], responses: { 200: { description: 'Revoked', schema: tokenResponse }, ...idParamError, ...operatorError } });

function renderOrg(org: Org): z.infer<typeof orgResponse> {
  return { slug: org.slug, name: org.name, created_at: new Date(org.createdAt).toISOString() };
}

function renderToken(token: ApiToken): z.infer<typeof tokenResponse> {
  return {
    id: token.id,
    name: token.name,
    org_slug: token.orgSlug,
    app_name: token.appName ?? null,
    read_only: token.readOnly,
    created_at: new Date(token.createdAt).toISOString(),
    revoked_at: token.revokedAt === undefined ? null : new Date(token.revokedAt).toISOString(),
  };
}

/** `/v1/orgs` and `/v1/tokens`: aloft's own admin API (not in Fly's), for the operator alone. */
export function adminRoutes(store: Store, clock: Clock): Hono {
  const routes = new Hono();
  routes.use('/orgs', operatorOnly);
  routes.use('/orgs/*', operatorOnly);
  routes.use('/tokens', operatorOnly);
  routes.use('/tokens/*', operatorOnly);

  routes.get('/orgs', async (c) => c.json((await store.listOrgs()).map(renderOrg)));

  routes.post('/orgs', async (c) => {
    const body = parseInput(createOrgSchema, await readJson(c), 'create org');
    const org = await store.createOrg({ slug: body.slug, name: body.name ?? body.slug, createdAt: clock.now() });
    return c.json(renderOrg(org), 201);
  });

  routes.get('/tokens', async (c) => {
    const query = parseInput(listTokensQuery, c.req.query(), 'list tokens');
    return c.json((await store.listTokens(query.org ? { orgSlug: query.org } : {})).map(renderToken));
  });

  routes.post('/tokens', async (c) => {
    const body = parseInput(createTokenSchema, (await readJson(c)) ?? {}, 'create token');
    if (!(await store.getOrg(body.org))) throw orgNotFound('create token', body.org);
    if (body.app !== undefined && (await store.getApp(body.app))?.orgSlug !== body.org) {
      throw invalidField('create token', 'app', `an app of org "${body.org}"`, body.app);
    }
    const id = shortId(6);
    const secret = newTokenSecret();
    const token = await store.createToken({
      id,
      name: body.name ?? `token-${id}`,
      orgSlug: body.org,
      ...(body.app === undefined ? {} : { appName: body.app }),
      readOnly: body.read_only,
      hash: hashTokenSecret(secret),
      createdAt: clock.now(),
    });
    return c.json({ ...renderToken(token), token: secret }, 201);
  });

  routes.delete('/tokens/:id', async (c) => c.json(renderToken(await store.revokeToken(c.req.param('id'), clock.now()))));

  return routes;
}
