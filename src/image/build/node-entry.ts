import { readFile, stat } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { AloftError } from '../../lib/errors.ts';

/** What package.json says about running and shipping the app. */
export interface NodeAppManifest {
  /** The arguments after `node`, e.g. ["server.js"] or ["--enable-source-maps", "dist/main.js"]. */
  args: string[];
  /** Which rule chose them, for messages and logs. */
  from: 'scripts.start' | 'main' | 'server.js' | 'index.js';
  /** `config.port` when it is a port number: exposed and given to the app as PORT. */
  port?: number;
  /** Whether package.json lists dependencies, so node_modules must exist. */
  hasDependencies: boolean;
}

// A start script is taken only if it is `node` and words a shell would pass unchanged:
// anything with quoting, variables, pipes, `&&` or globs needs a shell the image lacks.
const SHELL_SYNTAX = /[;&|<>$`'"\\*?(){}[\]!#~]/;

/**
 * Reads `<appDir>/package.json` and decides how the image starts the app, in order:
 * 1. `scripts.start` when it is a plain `node [flags] FILE [args]` command;
 * 2. else `main` (a file in the app);
 * 3. else `server.js`, then `index.js`, whichever exists.
 * The file chosen must exist and not be left out by the ignore file (`isShipped`).
 * Errors name package.json and the field that failed.
 */
export async function readNodeApp(appDir: string, isShipped: (relative: string) => boolean): Promise<NodeAppManifest> {
  const file = join(appDir, 'package.json');
  const text = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    throw new AloftError('BUILD_FAILED', `Cannot build a Node app as '${file}' must exist: got ${err.code ?? err.message}`, { cause: err });
  });
  let pkg: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
    pkg = parsed as Record<string, unknown>;
  } catch (err) {
    throw new AloftError('BUILD_FAILED', `Cannot build a Node app as '${file}' must be a JSON object: got ${(err as Error).message}`, { cause: err });
  }
  const fail = (field: string, rule: string, value: unknown): AloftError =>
    new AloftError('BUILD_FAILED', `Cannot build a Node app as package.json '${field}' must be ${rule}: got ${JSON.stringify(value) ?? 'nothing'}`, { details: { file, field } });
  const exists = async (relative: string): Promise<boolean> => {
    const clean = posix.normalize(relative);
    if (clean.startsWith('..') || posix.isAbsolute(clean) || !isShipped(clean)) return false;
    return (await stat(join(appDir, clean)).catch(() => undefined))?.isFile() === true;
  };
  const port = portOf(pkg, fail);
  const deps = pkg['dependencies'];
  const hasDependencies = typeof deps === 'object' && deps !== null && Object.keys(deps).length > 0;
  const base = { hasDependencies, ...(port === undefined ? {} : { port }) };

  const scripts = pkg['scripts'];
  const start = typeof scripts === 'object' && scripts !== null ? (scripts as Record<string, unknown>)['start'] : undefined;
  if (start !== undefined && typeof start !== 'string') throw fail('scripts.start', 'a string', start);
  const words = start?.trim().split(/\s+/) ?? [];
  if (words[0] === 'node' && words.length > 1 && words.every((w) => !SHELL_SYNTAX.test(w))) {
    const args = words.slice(1);
    const script = args.find((a) => !a.startsWith('-'));
    if (script !== undefined && !(await exists(script))) throw fail('scripts.start', 'a `node FILE` command whose FILE is in the app', start);
    return { ...base, args, from: 'scripts.start' };
  }
  const main = pkg['main'];
  if (main !== undefined) {
    if (typeof main !== 'string' || main === '') throw fail('main', 'a non-empty string', main);
    const candidates = [main, `${main}.js`, `${main}/index.js`];
    for (const candidate of candidates) {
      if (await exists(candidate)) return { ...base, args: [posix.normalize(candidate)], from: 'main' };
    }
    throw fail('main', 'a file in the app (not left out by the ignore file)', main);
  }
  for (const name of ['server.js', 'index.js'] as const) {
    if (await exists(name)) return { ...base, args: [name], from: name };
  }
  throw fail('scripts.start', 'a plain `node FILE` command, or \'main\' a file, or server.js or index.js exist', start);
}

function portOf(pkg: Record<string, unknown>, fail: (field: string, rule: string, value: unknown) => AloftError): number | undefined {
  const config = pkg['config'];
  if (typeof config !== 'object' || config === null) return undefined;
  const port = (config as Record<string, unknown>)['port'];
  if (port === undefined) return undefined;
  const n = typeof port === 'string' && /^\d+$/.test(port) ? Number(port) : port;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 65535) throw fail('config.port', 'a port number 1-65535', port);
  return n;
}
