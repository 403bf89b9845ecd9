import { parse, TomlError } from 'smol-toml';
import { AloftError } from '../lib/errors.ts';

/** A parsed TOML file: its table, and where each key sits. */
export interface TomlSource {
  file: string;
  raw: Record<string, unknown>;
  /** Line (1-based) of each key path, e.g. "services[1].ports[0].port" → 23. */
  lines: ReadonlyMap<string, number>;
}

/**
 * Parses TOML with smol-toml. A syntax error becomes CONFIG_INVALID naming the file,
 * line and column: "Cannot read fly.toml as it is not valid TOML (line 3, column 5): …".
 */
export function readToml(source: string, file: string): TomlSource {
  let raw: Record<string, unknown>;
  try {
    raw = parse(source, { unsafeKeyBehaviour: 'throw' }) as Record<string, unknown>;
  } catch (err) {
    if (!(err instanceof TomlError)) throw err;
    // smol-toml's message is "Invalid TOML document: <why>" then a code block: keep the why.
    const why = (err.message.split('\n')[0] ?? '').replace(/^Invalid TOML document:\s*/, '');
    throw new AloftError('CONFIG_INVALID', `Cannot read ${file} as it must be valid TOML (line ${err.line}, column ${err.column}): ${why}`, {
      cause: err,
      details: { file, line: err.line, column: err.column },
    });
  }
  return { file, raw, lines: indexKeyLines(source) };
}

/**
 * smol-toml gives values, not positions, so this is a light line-by-line pass over the
 * source that follows `[table]` and `[[array]]` headers (counting array entries) and
 * `key = …` lines (dotted and quoted keys too), recording the line of each key path in
 * the same spelling `pathText` uses. Keys inside inline tables and multi-line arrays are
 * not indexed; `lineOf` falls back to their parent's line.
 */
export function indexKeyLines(source: string): Map<string, number> {
  const lines = new Map<string, number>();
  const arrayCounts = new Map<string, number>();
  let table = '';
  let inMultiline: string | undefined;
  source.split(/\r?\n/).forEach((text, i) => {
    const lineNo = i + 1;
    if (inMultiline) {
      if (text.includes(inMultiline)) inMultiline = undefined;
      return;
    }
    const header = /^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$/.exec(text);
    if (header) {
      const segments = splitKey(header[2]!);
      let current = '';
      segments.forEach((segment, n) => {
        const path = join(current, segment);
        const last = n === segments.length - 1;
        if (last && header[1] === '[[') {
          const count = (arrayCounts.get(path) ?? 0) + 1;
          arrayCounts.set(path, count);
          current = `${path}[${count - 1}]`;
          if (!lines.has(path)) lines.set(path, lineNo);
        } else {
          const count = arrayCounts.get(path);
          current = count === undefined ? path : `${path}[${count - 1}]`;
        }
        if (!lines.has(current)) lines.set(current, lineNo);
      });
      table = current;
      return;
    }
    const assignment = /^\s*((?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*'))*)\s*=(.*)$/.exec(text);
    if (!assignment) return;
    let path = table;
    for (const segment of splitKey(assignment[1]!)) {
      path = join(path, segment);
      if (!lines.has(path)) lines.set(path, lineNo);
    }
    const value = assignment[2]!;
    for (const quote of ['"""', "'''"]) {
      if (value.split(quote).length === 2) inMultiline = quote;
    }
  });
  return lines;
}

/** The line of a key path, or of its nearest indexed parent (0 when none is). */
export function lineOf(lines: ReadonlyMap<string, number>, path: string): number {
  for (let p = path; p !== ''; p = parentPath(p)) {
    for (const candidate of withoutFirstIndexes(p)) {
      const line = lines.get(candidate);
      if (line !== undefined) return line;
    }
  }
  return 0;
}

/**
 * The path, then the path with each combination of "[0]" removed: a table written
 * once where a list is allowed (`[mounts]`, `[services.http_checks]`) is read as a
 * one-item list, but its source has no "[0]".
 */
function withoutFirstIndexes(path: string): string[] {
  const parts = path.split('[0]');
  let out = [parts[0]!];
  for (const part of parts.slice(1)) out = out.flatMap((prefix) => [`${prefix}[0]${part}`, `${prefix}${part}`]);
  return out;
}

/** Joins a zod-style path (["services", 1, "ports"]) into "services[1].ports". */
export function pathText(path: readonly PropertyKey[]): string {
  let text = '';
  for (const segment of path) {
    text = typeof segment === 'number' ? `${text}[${segment}]` : join(text, String(segment));
  }
  return text;
}

function parentPath(path: string): string {
  const match = /^(.*)(\.[^.[\]]+|\[\d+\])$/.exec(path);
  return match ? match[1]! : '';
}

function join(parent: string, key: string): string {
  return parent === '' ? key : `${parent}.${key}`;
}

function splitKey(key: string): string[] {
  const parts: string[] = [];
  const re = /\s*("([^"]*)"|'([^']*)'|[^.\s]+)\s*(\.|$)/g;
  for (const m of key.matchAll(re)) {
    if (m[0] === '') break;
    parts.push(m[2] ?? m[3] ?? m[1]!);
  }
  return parts;
}
