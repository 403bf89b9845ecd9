/**
 * aloft's own OpenAPI document (GET /v1/openapi.json), compiled with ajv (JSON Schema
 * 2020-12), so a test can check that each answer is what the document promises.
 */
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { ValidateFunction } from 'ajv';

interface Operation {
  operationId: string;
  responses: Record<string, { content?: Record<string, { schema?: object }> }>;
}

export class AloftSchema {
  readonly #ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });
  readonly #ops: { method: string; pattern: RegExp; op: Operation }[] = [];
  readonly #compiled = new Map<string, ValidateFunction>();

  constructor(doc: { paths: Record<string, Record<string, Operation>>; components: object }) {
    this.#ajv.addSchema({ components: doc.components }, 'aloft');
    for (const [template, item] of Object.entries(doc.paths)) {
      const pattern = new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`);
      for (const [method, op] of Object.entries(item)) this.#ops.push({ method: method.toUpperCase(), pattern, op });
    }
  }

  /** Problems with `body` as the documented answer; an undocumented operation is one. */
  check(method: string, path: string, status: number, body: unknown): string[] {
    const bare = path.split('?')[0]!;
    const found = this.#ops.find((o) => o.method === method && o.pattern.test(bare));
    if (!found) return [`${method} ${bare}: not in aloft's OpenAPI document`];
    const response = found.op.responses[String(status)] ?? (status >= 400 ? found.op.responses['default'] : undefined);
    if (!response) return [`${found.op.operationId}: answered ${status}, which the document does not list`];
    const schema = response.content?.['application/json']?.schema;
    if (!schema) return [];
    const key = `${found.op.operationId} ${status}`;
    let validate = this.#compiled.get(key);
    if (!validate) {
      validate = this.#ajv.compile(JSON.parse(JSON.stringify(schema).replaceAll('"#/components/', '"aloft#/components/')) as object);
      this.#compiled.set(key, validate);
    }
    if (validate(body)) return [];
    return (validate.errors ?? []).map((e) => `${found.op.operationId} ${status}: ${e.instancePath || '(body)'} ${e.message ?? ''}`);
  }
}
