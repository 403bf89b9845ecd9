import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readNodeApp } from '../image/build/node-entry.ts';

/** Where a Node app listens, as far as its files tell. */
export interface NodePort {
  port: number;
  /** Why: "package.json config.port", "process.env.PORT in server.js", "listen(3000) in server.js", "default". */
  from: string;
  /** The app reads PORT: set it, so it listens where the service sends traffic. */
  setPortEnv: boolean;
}

/** Fly's default internal port, used when the app does not say. */
export const DEFAULT_INTERNAL_PORT = 8080;

/**
 * The port of the Node app in `dir`: `config.port` in package.json (the Node builder
 * exposes it and sets PORT), else PORT read by its entry file (given 8080), else a
 * literal `listen(N)` there, else 8080 with PORT set. The entry is the one the Node
 * builder would start (scripts.start, main, server.js, index.js).
 */
export async function nodeAppPort(dir: string): Promise<NodePort> {
  const app = await readNodeApp(dir, () => true).catch(() => undefined);
  if (app?.port !== undefined) return { port: app.port, from: 'package.json config.port', setPortEnv: false };
  const entry = app?.args.find((a) => !a.startsWith('-'));
  const source = entry === undefined ? '' : await readFile(join(dir, entry), 'utf8').catch(() => '');
  if (/process\.env(?:\.PORT\b|\[\s*['"]PORT['"]\s*\])/.test(source)) {
    return { port: DEFAULT_INTERNAL_PORT, from: `process.env.PORT in ${entry}`, setPortEnv: true };
  }
  const literal = /\.listen\(\s*(\d{2,5})\s*[,)]/.exec(source);
  const n = literal ? Number(literal[1]) : NaN;
  if (n >= 1 && n <= 65535) return { port: n, from: `listen(${n}) in ${entry}`, setPortEnv: false };
  return { port: DEFAULT_INTERNAL_PORT, from: 'default', setPortEnv: true };
}
