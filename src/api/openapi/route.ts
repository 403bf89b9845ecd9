import { Hono } from 'hono';
import { z } from 'zod';
import { buildOpenApiDocument } from './document.ts';
import { documentedRoutes, documentRoute } from './registry.ts';

documentRoute({
  method: 'get',
  path: '/openapi.json',
  operationId: 'OpenAPI_show',
  summary: 'This document: the OpenAPI 3.1 description of every route, generated from the schemas that validate them.',
  tags: ['Meta'],
  responses: { 200: { description: 'The OpenAPI document', schema: z.looseObject({ openapi: z.string(), paths: z.record(z.string(), z.unknown()) }) } },
  public: true,
});

/**
 * `GET /v1/openapi.json`, served without a token: the document describes the API, holds
 * no data, and clients generate code from it before they have a token. Built on first
 * request, once every route module has registered itself.
 */
export function openApiRoute(): Hono {
  const routes = new Hono();
  let document: string | undefined;
  routes.get('/openapi.json', (c) => {
    document ??= JSON.stringify(buildOpenApiDocument(documentedRoutes()));
    return c.body(document, 200, { 'content-type': 'application/json; charset=utf-8' });
  });
  return routes;
}
