/**
 * Fly's Machines API document (shared/reference/fly-machines-openapi.yaml, OpenAPI 3.0),
 * read at test time and compiled with ajv, so aloft's answers are checked against Fly's
 * own shapes. Extra fields are allowed (Fly's schemas do not forbid them); the fields Fly
 * describes must have its types. OpenAPI 3.0's `nullable` is an ajv keyword; `$ref`s to
 * components resolve inside the document, which is added to ajv whole.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv, type ValidateFunction } from 'ajv';
import { parse } from 'yaml';

/** Beside the repository: /work/shared/reference when the repository is /work/main. */
export const FLY_OPENAPI_PATH = fileURLToPath(new URL('../../../shared/reference/fly-machines-openapi.yaml', import.meta.url));

interface Operation {
  operationId: string;
  responses: Record<string, { content?: Record<string, { schema?: object }> }>;
}

export class FlySchema {
  readonly #ajv: Ajv;
  readonly #ops: { method: string; pattern: RegExp; template: string; op: Operation }[] = [];
  readonly #compiled = new Map<string, ValidateFunction>();
  /** operationIds of the Fly operations a response was checked against. */
  readonly covered = new Set<string>();

  constructor(path: string = FLY_OPENAPI_PATH) {
    if (!existsSync(path)) {
      throw new Error(`Cannot check Fly compatibility as Fly's OpenAPI document must be at ${path}: it is missing (it lives in the shared reference folder beside the repository)`);
    }
    const doc = parse(readFileSync(path, 'utf8')) as { paths: Record<string, Record<string, Operation>>; components: object };
    this.#ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
    this.#ajv.addSchema({ components: doc.components }, 'fly');
    for (const [template, item] of Object.entries(doc.paths)) {
      const pattern = new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`);
      for (const [method, op] of Object.entries(item)) this.#ops.push({ method: method.toUpperCase(), pattern, template, op });
    }
  }

  /**
   * Problems with `body` as Fly's answer to `method path` (path under /v1, query string
   * allowed) with `status`; empty when it fits. Errors (4xx/5xx) must be `ErrorResponse`.
   */
  check(method: string, path: string, status: number, body: unknown): string[] {
    const bare = path.split('?')[0]!;
    const found = this.#ops.find((o) => o.method === method && o.pattern.test(bare));
    if (!found) return [`${method} ${bare}: Fly has no such operation`];
    this.covered.add(found.op.operationId);
    let ref: string | undefined;
    let schema: object | undefined;
    if (status >= 400) ref = '#/components/schemas/ErrorResponse';
    else schema = found.op.responses[String(status)]?.content?.['application/json']?.schema;
    if (status < 400 && !found.op.responses[String(status)]) return [`${found.op.operationId}: Fly never answers ${status}`];
    if (!ref && !schema) return [];
    const key = `${found.op.operationId} ${status}`;
    let validate = this.#compiled.get(key);
    if (!validate) {
      const rewrite = (s: unknown): object => JSON.parse(JSON.stringify(s).replaceAll('"#/components/', '"fly#/components/')) as object;
      validate = this.#ajv.compile(ref ? { $ref: `fly${ref}` } : rewrite(schema));
      this.#compiled.set(key, validate);
    }
    if (validate(body)) return [];
    return (validate.errors ?? []).map((e) => `${found.op.operationId} ${status}: ${e.instancePath || '(body)'} ${e.message ?? ''} (${JSON.stringify(e.params)})`);
  }
}
