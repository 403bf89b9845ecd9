import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { AloftError } from '../lib/errors.ts';
import { exposedPort } from './exposed-port.ts';
import { DEFAULT_INTERNAL_PORT, nodeAppPort } from './node-port.ts';
import { findStaticRoot, STATIC_PORT, STATIC_ROOTS } from './static-site.ts';

/** How the project is built into an image. */
export type ProjectKind = 'dockerfile' | 'node' | 'static';

/** What `aloft launch` found in a directory. */
export interface DetectedProject {
  kind: ProjectKind;
  /** The file detection went by: "Dockerfile", "package.json", "public/index.html". */
  source: string;
  /** The port the app listens on inside the Machine: the http_service's internal_port. */
  internalPort: number;
  /** Where that port came from ("EXPOSE in Dockerfile", "default"…), for what launch prints. */
  portFrom: string;
  /** The Dockerfile to build (relative): the project's own, or the one launch writes for a static site. */
  dockerfile?: string;
  /** Static sites: the directory served ('.' for the project itself). */
  staticRoot?: string;
  /** Environment the app needs, e.g. PORT for a Node app that reads it. */
  env: Record<string, string>;
}

const DOCKERFILES = ['Dockerfile', 'Containerfile'] as const;

/**
 * Detects the project in `dir`, in the order the image builder uses: a Dockerfile (or
 * Containerfile), else a package.json (a Node app), else an index.html in the project or
 * in one of public/, dist/, build/, _site/, site/, www/ (a static site). Throws
 * INVALID_ARGUMENT naming what was looked for when none is there.
 */
export async function detectProject(dir: string): Promise<DetectedProject> {
  for (const name of DOCKERFILES) {
    const text = await readFile(join(dir, name), 'utf8').catch(() => undefined);
    if (text === undefined) continue;
    const port = exposedPort(text);
    return {
      kind: 'dockerfile',
      source: name,
      internalPort: port ?? DEFAULT_INTERNAL_PORT,
      portFrom: port === undefined ? 'default (no EXPOSE)' : `EXPOSE in ${name}`,
      dockerfile: name,
      env: {},
    };
  }
  if ((await stat(join(dir, 'package.json')).catch(() => undefined))?.isFile()) {
    const node = await nodeAppPort(dir);
    return { kind: 'node', source: 'package.json', internalPort: node.port, portFrom: node.from, env: node.setPortEnv ? { PORT: String(node.port) } : {} };
  }
  const root = await findStaticRoot(dir);
  if (root !== undefined) {
    return {
      kind: 'static',
      source: root === '.' ? 'index.html' : `${root}/index.html`,
      internalPort: STATIC_PORT,
      portFrom: 'the static-site image',
      dockerfile: 'Dockerfile',
      staticRoot: root,
      env: {},
    };
  }
  const lookedFor = [...DOCKERFILES, 'package.json', ...STATIC_ROOTS.map((r) => (r === '.' ? 'index.html' : `${r}/index.html`))];
  throw new AloftError('INVALID_ARGUMENT', `Cannot launch an app as '${dir}' must hold a Dockerfile, a package.json or an index.html: got none of ${lookedFor.join(', ')}`, {
    details: { dir, lookedFor },
  });
}
