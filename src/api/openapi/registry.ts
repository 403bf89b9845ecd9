import type { z } from 'zod';

/**
 * Every API route describes itself here, next to where it is defined, with the same zod
 * schemas that validate its input. The OpenAPI document at /v1/openapi.json is generated
 * from this registry, so the description cannot drift from what the code accepts.
 */
export interface RouteDoc {
  method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  /** OpenAPI-style path under /v1, e.g. "/apps/{app_name}/machines/{machine_id}". */
  path: string;
  /** Fly's operationId where Fly has the operation (e.g. "Machines_create"). */
  operationId: string;
  summary: string;
  tags: string[];
  /** Query parameters, as validated. */
  query?: z.ZodObject;
  /** Request body, as validated. */
  body?: z.ZodType;
  /** Responses by status; `schema` omitted for empty bodies. */
  responses: Record<number, { description: string; schema?: z.ZodType }>;
  /** True for the few routes served without a bearer token (the OpenAPI document itself). */
  public?: boolean;
}

const docs = new Map<string, RouteDoc>();

/** Records a route's description. Registering the same method and path twice is a bug. */
export function documentRoute(doc: RouteDoc): void {
  const key = `${doc.method} ${doc.path}`;
  if (docs.has(key)) throw new Error(`route ${key} is documented twice`);
  docs.set(key, doc);
}

/** Every documented route, in registration order. */
export function documentedRoutes(): RouteDoc[] {
  return [...docs.values()];
}
