import { z } from 'zod';
import { errorResponseSchema } from '../schemas/common.ts';
import type { RouteDoc } from './registry.ts';

/** The version of the API's shape (Fly's document says "1.0"; aloft answers the same paths). */
export const API_DOC_VERSION = '1.0';

type JsonSchema = Record<string, unknown>;
type Io = 'input' | 'output';

/**
 * Builds the OpenAPI 3.1 document of the given routes. Schemas come from zod 4's
 * `z.toJSONSchema` (JSON Schema 2020-12, which OpenAPI 3.1 uses as is): request bodies
 * and query parameters as the client may send them (`io: 'input'`, so defaulted fields
 * are optional), responses as the server writes them (`io: 'output'`).
 */
export function buildOpenApiDocument(routes: readonly RouteDoc[]): Record<string, unknown> {
  const cache = new Map<string, WeakMap<z.ZodType, JsonSchema>>([
    ['input', new WeakMap()],
    ['output', new WeakMap()],
  ]);
  const toSchema = (schema: z.ZodType, io: Io): JsonSchema => {
    const byIo = cache.get(io)!;
    let json = byIo.get(schema);
    if (!json) {
      // `any` for what JSON Schema cannot say (transforms, custom refinements): the
      // document then promises less than the code checks, never more.
      const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, { target: 'draft-2020-12', io, unrepresentable: 'any' }) as JsonSchema;
      json = rest;
      byIo.set(schema, json);
    }
    return json;
  };
  const errorContent = { 'application/json': { schema: { $ref: '#/components/schemas/ErrorResponse' } } };

  const paths: Record<string, Record<string, unknown>> = {};
  const tags = new Set<string>();
  for (const route of routes) {
    route.tags.forEach((t) => tags.add(t));
    const parameters: Record<string, unknown>[] = [...route.path.matchAll(/\{([^}]+)\}/g)].map((m) => ({
      name: m[1],
      in: 'path',
      required: true,
      schema: { type: 'string' },
    }));
    for (const [name, field] of Object.entries(route.query?.shape ?? {})) {
      const schema = field as z.ZodType;
      parameters.push({ name, in: 'query', required: !schema.safeParse(undefined).success, schema: toSchema(schema, 'input') });
    }
    const responses: Record<string, unknown> = {};
    for (const [status, response] of Object.entries(route.responses)) {
      responses[status] = {
        description: response.description,
        ...(response.schema ? { content: { 'application/json': { schema: toSchema(response.schema, 'output') } } } : {}),
      };
    }
    responses['default'] = { description: 'An error: 400 bad input, 401 no or wrong token, 404 not found, 412 wrong state, 413 body too large, 429 rate limited.', content: errorContent };
    (paths[route.path] ??= {})[route.method] = {
      operationId: route.operationId,
      summary: route.summary,
      tags: route.tags,
      ...(parameters.length > 0 ? { parameters } : {}),
      ...(route.body ? { requestBody: { required: true, content: { 'application/json': { schema: toSchema(route.body, 'input') } } } } : {}),
      responses,
      ...(route.public ? { security: [] } : {}),
    };
  }

  return {
    openapi: '3.1.0',
    info: {
      title: 'aloft Machines API',
      version: API_DOC_VERSION,
      description: "Fly.io's Machines API, served by aloft. Every route needs `Authorization: Bearer <token>` except this document.",
      license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
    },
    servers: [{ url: '/v1' }],
    security: [{ bearer: [] }],
    tags: [...tags].sort().map((name) => ({ name })),
    paths,
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: { ErrorResponse: toSchema(errorResponseSchema, 'output') },
    },
  };
}
