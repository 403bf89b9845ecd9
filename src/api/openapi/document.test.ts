import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { fields, openHarness, type Harness } from '../../../test/api/harness.ts';
import { documentedRoutes } from './registry.ts';

/** "/v1/apps/:app/machines/:id" and "/apps/{app_name}/machines/{machine_id}" both become "/apps/{}/machines/{}". */
const servedKey = (method: string, path: string): string => `${method.toUpperCase()} ${path.replace(/^\/v1/, '').replace(/:[^/]+/g, '{}')}`;
const documentedKey = (method: string, path: string): string => `${method.toUpperCase()} ${path.replace(/\{[^}]+\}/g, '{}')}`;

describe('the OpenAPI document at /v1/openapi.json', () => {
  let h: Harness;
  let doc: Record<string, unknown>;

  before(async () => {
    h = await openHarness();
    const answer = await h.call('GET', '/openapi.json', undefined, null);
    assert.equal(answer.status, 200, answer.text);
    assert.match(answer.headers.get('content-type') ?? '', /application\/json/);
    doc = fields(answer);
  });
  after(() => h.close());

  test('is served without a token, as OpenAPI 3.1 with info, tags and paths', () => {
    assert.equal(doc['openapi'], '3.1.0');
    const info = doc['info'] as Record<string, unknown>;
    assert.equal(typeof info['title'], 'string');
    assert.equal(typeof info['version'], 'string');
    assert.ok(Array.isArray(doc['tags']));
    assert.ok(Object.keys(doc['paths'] as object).length > 0);
  });

  test('every operation has an operationId (unique), tags, responses and a parameter per path placeholder', () => {
    const ids = new Set<string>();
    for (const [path, item] of Object.entries(doc['paths'] as Record<string, Record<string, Record<string, unknown>>>)) {
      for (const [method, op] of Object.entries(item)) {
        const where = `${method} ${path}`;
        const id = op['operationId'] as string;
        assert.ok(id && !ids.has(id), `${where}: operationId ${id} missing or repeated`);
        ids.add(id);
        assert.ok(Array.isArray(op['tags']) && (op['tags'] as unknown[]).length > 0, `${where}: tags`);
        assert.ok(Object.keys(op['responses'] as object).some((s) => /^2\d\d$/.test(s)), `${where}: a 2xx response`);
        const params = ((op['parameters'] ?? []) as { name: string; in: string }[]).filter((p) => p.in === 'path').map((p) => p.name);
        assert.deepEqual(params, [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]), `${where}: path parameters`);
      }
    }
  });

  test('every schema in it compiles as JSON Schema 2020-12 (what OpenAPI 3.1 uses)', () => {
    const ajv = new Ajv2020({ strict: false, validateFormats: false });
    const components = (doc['components'] as { schemas: Record<string, unknown> }).schemas;
    const resolve = (schema: unknown): unknown => JSON.parse(JSON.stringify(schema).replaceAll('"#/components/schemas/', '"components#/')) as unknown;
    ajv.addSchema({ $id: 'components', $defs: {}, ...components }, 'components');
    let compiled = 0;
    const walk = (node: unknown, key: string): void => {
      if (node === null || typeof node !== 'object') return;
      if (key === 'schema') {
        ajv.compile(resolve(node) as object);
        compiled++;
        return;
      }
      for (const [k, v] of Object.entries(node)) walk(v, k);
    };
    walk(doc['paths'], '');
    assert.ok(compiled > 0);
  });

  test('lists every route the app serves, and nothing it does not (an undocumented route fails here)', () => {
    const served = new Set(
      h.app.routes.filter((r) => r.method !== 'ALL' && r.path.startsWith('/v1/')).map((r) => servedKey(r.method, r.path)),
    );
    const documented = new Set(documentedRoutes().map((r) => documentedKey(r.method, r.path)));
    assert.deepEqual([...served].filter((k) => !documented.has(k)).sort(), [], 'served but not documented (add documentRoute beside the route)');
    assert.deepEqual([...documented].filter((k) => !served.has(k)).sort(), [], 'documented but not served');
  });
});
