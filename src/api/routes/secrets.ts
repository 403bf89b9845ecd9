import { Hono, type Context } from 'hono';
import { z } from 'zod';
import { AloftError, isAloftError } from '../../lib/errors.ts';
import type { App } from '../../model/index.ts';
import type { AppSecrets, SecretsChangeResult } from '../../secrets/index.ts';
import type { StoredSecret } from '../../store/secret-store.ts';
import type { Store } from '../../store/store.ts';
import { documentRoute } from '../openapi/registry.ts';
import { readJson } from '../read-json.ts';
import { errorResponseSchema } from '../schemas/common.ts';
import { parseInput } from '../validate.ts';

/** A secret as the API shows it: never its value. */
export const secretResponseSchema = z
  .object({
    name: z.string(),
    digest: z.string().nullable().meta({ description: '16 hex of an HMAC of the value under a key derived from the org\'s data key (compare values without seeing them); null for a staged unset.' }),
    status: z.enum(['deployed', 'staged', 'staged_unset']),
    staged: z.boolean().meta({ description: 'True until a rollout has given it to the app\'s Machines (`aloft secrets deploy`).' }),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .meta({ title: 'Secret' });

const changeResponseSchema = z
  .object({
    secrets: z.array(secretResponseSchema),
    restarted: z.array(z.object({ id: z.string(), instance_id: z.string() })).nullable().meta({ description: 'The Machines restarted one by one with the new secrets; null when staged.' }),
  })
  .meta({ title: 'SecretsChange' });

/** `POST …/secrets`; values are checked by hand (secrets/names.ts) so no error can echo one. */
export const setSecretsRequestSchema = z.object({
  secrets: z.record(z.string(), z.string()).meta({ description: 'NAME → value. Names: [A-Za-z_][A-Za-z0-9_]*, not FLY_…; values: 1 byte to 64 KiB, no NUL.' }),
  stage: z.boolean().optional().meta({ description: 'Only store them: no Machine restarts until `POST …/secrets/deploy` (Machines that boot meanwhile get them).' }),
});

const stageQuerySchema = z.object({ stage: z.enum(['true', 'false', '1', '0']).optional() });
const unsetQuerySchema = stageQuerySchema.extend({ names: z.string().min(1).meta({ description: 'Comma-separated names, e.g. A,B' }) });

const SECRETS = '/apps/{app_name}/secrets';
const tags = ['Secrets'];
const error = (description: string): { description: string; schema: z.ZodType } => ({ description, schema: errorResponseSchema });
const changed = { 200: { description: "The app's secrets after the change, and the Machines restarted", schema: changeResponseSchema } };
const failures = { 404: error('No such app or secret'), 409: error('A Machine is leased by another holder'), 422: error('A Machine did not start again; the secrets stay staged') };
documentRoute({ method: 'get', path: SECRETS, operationId: 'Secrets_list', summary: "List an app's secrets: names, digests, times and whether staged. Never values.", tags, responses: { 200: { description: 'Secrets by name', schema: z.array(secretResponseSchema) }, 404: error('No such app') } });
documentRoute({ method: 'post', path: SECRETS, operationId: 'Secrets_set', summary: 'Set secrets (sealed at once), then restart the app\'s started Machines one at a time unless `stage`.', tags, body: setSecretsRequestSchema, responses: { ...changed, 400: error('Invalid name or value'), ...failures } });
documentRoute({ method: 'delete', path: SECRETS, operationId: 'Secrets_unset', summary: 'Unset several secrets (`names=A,B`), then restart the app\'s started Machines unless `stage=true`.', tags, query: unsetQuerySchema, responses: { ...changed, 400: error('Invalid name'), ...failures } });
documentRoute({ method: 'delete', path: `${SECRETS}/{secret_name}`, operationId: 'Secret_delete', summary: 'Unset one secret, then restart the app\'s started Machines unless `stage=true`.', tags, query: stageQuerySchema, responses: { ...changed, 400: error('Invalid name'), ...failures } });
documentRoute({ method: 'post', path: `${SECRETS}/deploy`, operationId: 'Secrets_deploy', summary: 'Restart the app\'s started Machines one at a time to apply staged secrets (nothing when none is staged).', tags, responses: { ...changed, ...failures } });

/** `/v1/apps/:app/secrets`: list, set, unset (one or several), deploy. Scopes come from the /v1/apps/:app/* middleware. */
export function secretRoutes(store: Store, secrets: AppSecrets): Hono {
  const routes = new Hono();
  const app = async (c: Context): Promise<App> => {
    const name = c.req.param('app') ?? '';
    const found = await store.getApp(name);
    if (!found) throw new AloftError('APP_NOT_FOUND', `Cannot find app "${name}": no app by that name`);
    return found;
  };

  routes.get('/:app/secrets', async (c) => c.json((await secrets.list(await app(c))).map(renderSecret)));

  routes.post('/:app/secrets', async (c) => {
    const request = readSetRequest(await readBody(c));
    return c.json(renderChange(await secrets.set(await app(c), request.secrets, { stage: request.stage })));
  });

  routes.delete('/:app/secrets', async (c) => {
    const query = parseInput(unsetQuerySchema, c.req.query(), 'unset secrets');
    const names = query.names.split(',').map((n) => n.trim()).filter((n) => n !== '');
    return c.json(renderChange(await secrets.unset(await app(c), names, { stage: isTrue(query.stage) })));
  });

  routes.delete('/:app/secrets/:name', async (c) => {
    const query = parseInput(stageQuerySchema, c.req.query(), 'unset secret');
    return c.json(renderChange(await secrets.unset(await app(c), [c.req.param('name')], { stage: isTrue(query.stage) })));
  });

  routes.post('/:app/secrets/deploy', async (c) => c.json(renderChange(await secrets.deploy(await app(c)))));

  return routes;
}

const isTrue = (value: string | undefined): boolean => value === 'true' || value === '1';

/** The body as JSON; a malformed one is refused without the parser's excerpt of it, which could hold a value. */
async function readBody(c: Context): Promise<unknown> {
  try {
    return await readJson(c);
  } catch (err) {
    if (isAloftError(err, 'MALFORMED_JSON')) throw new AloftError('MALFORMED_JSON', 'Cannot set secrets as the request body must be valid JSON: got text that does not parse (not shown: it may hold a secret)');
    throw err;
  }
}

/**
 * Checks `{secrets: {NAME: value}, stage?}` by hand rather than with parseInput, whose
 * messages quote the value they refuse. Names and values are checked by the vault.
 */
function readSetRequest(body: unknown): { secrets: Record<string, string>; stage: boolean } {
  const refuse = (field: string, rule: string, got: string): AloftError =>
    new AloftError('SECRET_INVALID', `Cannot set secrets as '${field}' must be ${rule}: got ${got}`, { details: { field } });
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw refuse('(body)', 'an object {"secrets": {NAME: value}}', describe(body));
  const { secrets, stage, ...rest } = body as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length > 0) throw refuse('(body)', 'free of unknown keys', `${unknown.map((k) => JSON.stringify(k)).join(', ')}`);
  if (stage !== undefined && typeof stage !== 'boolean') throw refuse('stage', 'a boolean', describe(stage));
  if (secrets === null || typeof secrets !== 'object' || Array.isArray(secrets)) throw refuse('secrets', 'an object of NAME → value', describe(secrets));
  for (const [name, value] of Object.entries(secrets)) {
    if (typeof value !== 'string') throw refuse(`secrets.${name}`, 'a string', describe(value));
  }
  return { secrets: secrets as Record<string, string>, stage: stage === true };
}

/** A value's kind, never its content. */
function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

function renderSecret(secret: StoredSecret): z.infer<typeof secretResponseSchema> {
  return {
    name: secret.name,
    digest: secret.sealed?.digest ?? null,
    status: secret.status,
    staged: secret.status !== 'deployed',
    created_at: new Date(secret.createdAt).toISOString(),
    updated_at: new Date(secret.updatedAt).toISOString(),
  };
}

function renderChange(result: SecretsChangeResult): z.infer<typeof changeResponseSchema> {
  return {
    secrets: result.secrets.map(renderSecret),
    restarted: result.rollout ? result.rollout.machines.map((m) => ({ id: m.id, instance_id: m.instanceId })) : null,
  };
}
