import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { AloftError, invalidField } from '../../lib/errors.ts';
import { buildDockerfile } from './buildah.ts';
import { buildNodeApp } from './node-app.ts';
import { pushLayoutImage } from './push-layout.ts';
import { parseImageName, registryHost, type RegistryTarget } from './registry-target.ts';

/** What to build a directory into. */
export interface BuildImageOptions {
  /** "acme/web:v1" (tag defaults to latest): the repository pushed to, and the layout's tag. */
  tag: string;
  /** Buildah's storage (`buildahStorageDir(dataDir)`); only Dockerfile builds use it. */
  storageDir: string;
  /** The aloft registry: base images of Dockerfiles, and where `push` sends the result. */
  registry?: RegistryTarget;
  push?: boolean;
  /** Write the image into this OCI layout dir (under the tag part of `tag`). */
  layoutDir?: string;
  onLine?: (line: string) => void;
  /** Timestamps for reproducible builds, epoch seconds. */
  sourceDateEpoch?: number;
}

/** What buildImage made, and how. */
export interface BuildImageResult {
  builder: 'dockerfile' | 'node';
  /** "acme/web:v1" */
  tag: string;
  digest: string;
  /** "127.0.0.1:5000/acme/web:v1" when pushed. */
  reference?: string;
  layout?: string;
  durationMs: number;
}

/** The files buildImage looks for, in order. */
export const BUILD_SOURCES = ['Dockerfile', 'Containerfile', 'package.json'] as const;

/**
 * Builds the image a directory describes: a `Dockerfile` (or `Containerfile`) with
 * buildah; else a `package.json` as a Node app (buildNodeApp); else an error naming
 * what was looked for. An app whose fly.toml says `[build] image = "…"` is not built
 * at all: callers use that image as it is and never call this.
 */
export async function buildImage(dir: string, options: BuildImageOptions): Promise<BuildImageResult> {
  const started = Date.now();
  const root = resolve(dir);
  if (!(await stat(root).catch(() => undefined))?.isDirectory()) throw invalidField('build image', 'dir', 'an existing directory', dir);
  const { repo, tag } = parseImageName(options.tag, 'build image');
  if (options.push && options.registry === undefined) throw invalidField('build image', 'registry', 'set to push', undefined);
  if (!options.push && options.layoutDir === undefined) throw invalidField('build image', 'output', 'a registry push or an OCI layout dir', undefined);
  const found = await firstFile(root, BUILD_SOURCES);
  if (found === undefined) {
    throw new AloftError('INVALID_ARGUMENT', `Cannot build image as '${dir}' must hold one of ${BUILD_SOURCES.join(', ')}: got none of them`, {
      details: { dir: root, lookedFor: BUILD_SOURCES },
    });
  }
  if (found !== 'package.json') {
    const built = await buildDockerfile(root, { ...options, dockerfile: join(root, found) });
    return { builder: 'dockerfile', ...built };
  }
  // A Node app: its layout, then (when asked) a push of it as it is.
  const scratch = options.layoutDir === undefined ? await mkdtemp(join(tmpdir(), 'aloft-build-')) : undefined;
  try {
    const layout = options.layoutDir === undefined ? join(scratch ?? '', 'layout') : resolve(options.layoutDir);
    const built = await buildNodeApp(root, layout, { tag, ...(options.sourceDateEpoch === undefined ? {} : { sourceDateEpoch: options.sourceDateEpoch }) });
    options.onLine?.(`built ${repo}:${built.tag} (${built.layers} layers) ${built.digest}`);
    const result: BuildImageResult = { builder: 'node', tag: `${repo}:${tag}`, digest: built.digest, durationMs: 0 };
    if (options.layoutDir !== undefined) result.layout = layout;
    if (options.push && options.registry !== undefined) {
      const pushed = await pushLayoutImage(layout, built.tag, options.registry, repo, tag);
      options.onLine?.(`pushed ${pushed.reference} ${pushed.digest}`);
      result.reference = `${registryHost(options.registry)}/${repo}:${tag}`;
      result.digest = pushed.digest;
    }
    result.durationMs = Date.now() - started;
    return result;
  } finally {
    if (scratch !== undefined) await rm(scratch, { recursive: true, force: true });
  }
}

async function firstFile(dir: string, names: readonly string[]): Promise<string | undefined> {
  for (const name of names) {
    if ((await stat(join(dir, name)).catch(() => undefined))?.isFile()) return name;
  }
  return undefined;
}
