import type { z } from 'zod';
import { lineOf, type TomlSource } from './toml-source.ts';

/** A key the schema does not know: reported, never silently dropped. */
export interface ConfigWarning {
  file: string;
  line: number;
  /** Key path, e.g. "http_service.forse_https". */
  path: string;
  message: string;
}

/** The parts of zod's internal definition this walk reads (zod 4's `_zod.def`). */
interface Def {
  type: string;
  innerType?: z.ZodType;
  in?: z.ZodType;
  out?: z.ZodType;
  shape?: Record<string, z.ZodType>;
  element?: z.ZodType;
  valueType?: z.ZodType;
}

function defOf(schema: z.ZodType): Def {
  return (schema as unknown as { _zod: { def: Def } })._zod.def;
}

/** Looks through optional/default/pipe wrappers to the schema that reads the value. */
function unwrap(schema: z.ZodType): z.ZodType {
  for (;;) {
    const def = defOf(schema);
    if ((def.type === 'optional' || def.type === 'default' || def.type === 'nullable') && def.innerType) schema = def.innerType;
    else if (def.type === 'pipe' && def.in && def.out) schema = defOf(def.in).type === 'transform' ? def.out : def.in;
    else return schema;
  }
}

/**
 * Walks the raw TOML beside the schema and returns a warning for every key the schema
 * has no place for, with its line and the closest known key at that level ("did you
 * mean …?"). Tables the schema leaves open (env, build.args, [processes], check names)
 * take any key.
 */
export function unknownKeys(source: TomlSource, schema: z.ZodType): ConfigWarning[] {
  const warnings: ConfigWarning[] = [];
  const walk = (value: unknown, node: z.ZodType, path: string, pathForLines: string): void => {
    const def = defOf(unwrap(node));
    if (def.type === 'array' && def.element) {
      const items = Array.isArray(value) ? value : value !== null && typeof value === 'object' ? [value] : [];
      // A table written once where a list is allowed is indexed without "[0]".
      items.forEach((item, i) => walk(item, def.element!, `${path}[${i}]`, Array.isArray(value) ? `${pathForLines}[${i}]` : pathForLines));
      return;
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return;
    if (def.type === 'record' && def.valueType) {
      for (const [key, item] of Object.entries(value)) walk(item, def.valueType, `${path}.${key}`, `${pathForLines}.${key}`);
      return;
    }
    if (def.type !== 'object' || !def.shape) return;
    const known = Object.keys(def.shape);
    for (const [key, item] of Object.entries(value)) {
      const keyPath = path === '' ? key : `${path}.${key}`;
      const keyLinePath = pathForLines === '' ? key : `${pathForLines}.${key}`;
      const child = def.shape[key];
      if (child) {
        walk(item, child, keyPath, keyLinePath);
        continue;
      }
      const line = lineOf(source.lines, keyLinePath);
      const hint = HINTS[key];
      const guess = hint ? undefined : suggest(key, known);
      const where = path === '' ? 'at the top level' : `in '${path}'`;
      warnings.push({
        file: source.file,
        line,
        path: keyPath,
        message: `${source.file}:${line}: unknown key '${key}' ${where} is ignored${hint ? `; ${hint}` : guess ? `; did you mean '${guess}'?` : ''}`,
      });
    }
  };
  walk(source.raw, schema, '', '');
  return warnings;
}

/**
 * Keys seen in real files that Fly never had, where the nearest known key would be a
 * wrong guess (max_… → min_…): say what to do instead.
 */
const HINTS: Readonly<Record<string, string>> = {
  max_machines_running: 'there is no upper bound in the config; set the count with `aloft scale count`',
  max_per_region: 'use `aloft scale count N --max-per-region M`',
  mounts: 'mounts go in a top-level [mounts] or [[mounts]] table',
};

/** The known key nearest to `key` by edit distance (or one it is a part of), if close enough. */
export function suggest(key: string, known: readonly string[]): string | undefined {
  const lower = key.toLowerCase();
  let best: { name: string; distance: number } | undefined;
  for (const name of known) {
    const distance = editDistance(lower, name.toLowerCase());
    if (!best || distance < best.distance) best = { name, distance };
  }
  if (best && best.distance <= Math.max(2, Math.floor(key.length / 3))) return best.name;
  return known.find((name) => name.startsWith(`${lower}_`) || lower.startsWith(`${name}_`));
}

/** Levenshtein distance with adjacent swaps counted as one edit (Damerau, restricted). */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}
