import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { AloftError, invalidField } from '../../lib/errors.ts';
import { prepareBuildahEnv, type BuildahEnv } from './buildah-env.ts';
import { requireTool } from './host-tool.ts';
import { parseImageName, registryHost, type RegistryTarget } from './registry-target.ts';
import { spawnLines } from './spawn-lines.ts';

/** What a Dockerfile build is told. */
export interface DockerfileBuildOptions {
  /** The image name, "acme/web:v1" (tag defaults to latest): the repository it is pushed to. */
  tag: string;
  /** Buildah's storage: `buildahStorageDir(dataDir)`, one per aloft data dir. */
  storageDir: string;
  /** Default `<context>/Dockerfile`. */
  dockerfile?: string;
  /** The aloft registry: FROM images come from it; `push` sends the result to it. */
  registry?: RegistryTarget;
  /** Push to `<registry>/<repo>:<tag>` with `buildah push`. */
  push?: boolean;
  /** Also (or instead) write the image into the OCI layout at this dir, under the tag. */
  layoutDir?: string;
  /** Each line buildah prints, as it prints it. */
  onLine?: (line: string) => void;
  /** Reuse cached layers (buildah --layers); default true. */
  layers?: boolean;
  /** Created timestamps (image and history) at these epoch seconds, for reproducible builds. */
  sourceDateEpoch?: number;
  buildArgs?: Record<string, string>;
  /** Default 30 minutes for the build, 10 for each push. */
  timeoutMs?: number;
}

/** What a Dockerfile build produced. */
export interface DockerfileBuildResult {
  /** "acme/web:v1" */
  tag: string;
  /** The manifest digest: of the pushed image when pushed, else of the layout's. */
  digest: string;
  /** "127.0.0.1:5000/acme/web:v1" when pushed. */
  reference?: string;
  /** Digest in the layout, when one was written (its compression may differ from the push). */
  layoutDigest?: string;
  layout?: string;
  durationMs: number;
}

/**
 * Builds a Dockerfile with buildah (Debian's `buildah`, chroot isolation, vfs storage
 * of its own under `storageDir`) and pushes the result to the aloft registry and/or
 * writes it to an OCI layout. Base images come from the aloft registry (see
 * prepareBuildahEnv for how names are rewritten). Output streams to `onLine`; a failed
 * build is BUILD_FAILED carrying the log's last lines; no buildah: BUILD_TOOL_MISSING.
 */
export async function buildDockerfile(contextDir: string, options: DockerfileBuildOptions): Promise<DockerfileBuildResult> {
  const started = Date.now();
  const buildah = requireTool('buildah', 'buildah', 'build a Dockerfile');
  const { repo, tag } = parseImageName(options.tag, 'build image');
  const context = resolve(contextDir);
  const dockerfile = options.dockerfile === undefined ? join(context, 'Dockerfile') : isAbsolute(options.dockerfile) ? options.dockerfile : join(context, options.dockerfile);
  if (!(await stat(dockerfile).catch(() => undefined))?.isFile()) throw invalidField('build image', 'dockerfile', 'an existing file', dockerfile);
  if (options.push && options.registry === undefined) throw invalidField('build image', 'registry', 'set to push', undefined);
  if (!options.push && options.layoutDir === undefined) throw invalidField('build image', 'output', 'a registry push or an OCI layout dir', undefined);
  if (options.sourceDateEpoch !== undefined && !(Number.isInteger(options.sourceDateEpoch) && options.sourceDateEpoch >= 0)) {
    throw invalidField('build image', 'sourceDateEpoch', 'a whole number of seconds since 1970', options.sourceDateEpoch);
  }
  const timeoutMs = options.timeoutMs ?? 30 * 60_000;
  const env = await prepareBuildahEnv(options.storageDir, options.registry);
  // A local name of its own, so a build never overwrites a base image's name in storage.
  const localName = `localhost/aloft-build/${repo}:${tag}`;
  try {
    const bud = [
      ...env.globalArgs,
      'bud',
      ...env.transportArgs,
      '--isolation',
      'chroot',
      '--format',
      'oci',
      '--force-rm',
      '--retry',
      '0',
      `--layers=${options.layers ?? true}`,
      ...(options.sourceDateEpoch === undefined ? [] : ['--timestamp', String(options.sourceDateEpoch)]),
      ...Object.entries(options.buildArgs ?? {}).flatMap(([k, v]) => ['--build-arg', `${k}=${v}`]),
      '-f',
      dockerfile,
      '-t',
      localName,
      context,
    ];
    const built = await spawnLines(buildah, bud, { env: env.env, cwd: context, timeoutMs, errorCode: 'BUILD_FAILED', ...(options.onLine ? { onLine: options.onLine } : {}) });
    if (built.code !== 0) {
      throw new AloftError('BUILD_FAILED', `Cannot build image '${repo}:${tag}' as the Dockerfile must build: buildah exited ${built.code}:\n${built.tail.join('\n')}`, {
        details: { exitCode: built.code, log: built.tail },
      });
    }
    const result: DockerfileBuildResult = { tag: `${repo}:${tag}`, digest: '', durationMs: 0 };
    if (options.layoutDir !== undefined) {
      const layout = resolve(options.layoutDir);
      result.layoutDigest = await push(buildah, env, localName, `oci:${layout}:${tag}`, options);
      result.layout = layout;
      result.digest = result.layoutDigest;
    }
    if (options.push && options.registry !== undefined) {
      const reference = `${registryHost(options.registry)}/${repo}:${tag}`;
      result.digest = await push(buildah, env, localName, `docker://${reference}`, options);
      result.reference = reference;
    }
    result.durationMs = Date.now() - started;
    return result;
  } finally {
    await env.cleanUp();
  }
}

/** `buildah push` to a destination; returns the digest buildah wrote. */
async function push(buildah: string, env: BuildahEnv, image: string, destination: string, options: DockerfileBuildOptions): Promise<string> {
  const scratch = await mkdtemp(join(env.env['TMPDIR'] ?? options.storageDir, 'push-'));
  try {
    const digestFile = join(scratch, 'digest');
    const args = [...env.globalArgs, 'push', ...env.transportArgs, '--retry', '0', '--digestfile', digestFile, image, destination];
    const pushed = await spawnLines(buildah, args, { env: env.env, timeoutMs: 10 * 60_000, errorCode: 'IMAGE_PUSH_FAILED', ...(options.onLine ? { onLine: options.onLine } : {}) });
    if (pushed.code !== 0) {
      throw new AloftError('IMAGE_PUSH_FAILED', `Cannot push image to ${destination} as buildah push must succeed: exit ${pushed.code}:\n${pushed.tail.slice(-10).join('\n')}`);
    }
    return (await readFile(digestFile, 'utf8')).trim();
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/**
 * Empties buildah's storage: working containers, images and layers, then the dirs.
 * For tests and `aloft images prune`-style cleanup; vfs leaves no mounts behind.
 */
export async function removeBuildahStorage(storageDir: string): Promise<void> {
  const env = await prepareBuildahEnv(storageDir);
  try {
    const buildah = requireTool('buildah', 'buildah', 'clean build storage');
    for (const sub of [['rm', '--all'], ['rmi', '--all', '--force']]) {
      await spawnLines(buildah, [...env.globalArgs, ...sub], { env: env.env, timeoutMs: 120_000, errorCode: 'BUILD_FAILED' });
    }
  } finally {
    await env.cleanUp();
  }
  await rm(storageDir, { recursive: true, force: true });
}
