import { lstat, readFile, rm, stat } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { AloftError, invalidField } from '../../lib/errors.ts';
import { sha256Digest } from '../digest.ts';
import { MEDIA_TYPES } from '../media-types.ts';
import { hostPlatform } from '../platform.ts';
import { addToLayout } from '../write-layout.ts';
import { collectTree } from './app-tree.ts';
import { hostRuntimeEntries, NODE_PATH, NODE_UID } from './host-runtime.ts';
import { IgnoreRules } from './ignore-rules.ts';
import { readNodeApp } from './node-entry.ts';
import { writeLayer, type WrittenLayer } from './reproducible-tar.ts';

/** Options of buildNodeApp. */
export interface NodeAppBuildOptions {
  /** The tag in the layout's index.json; default "latest". */
  tag?: string;
  /** Seconds since the epoch for every mtime and `created`; default $SOURCE_DATE_EPOCH, else 0. */
  sourceDateEpoch?: number;
  /** The Node binary to ship; default this process's (process.execPath). */
  nodeBinary?: string;
}

/** What buildNodeApp wrote. */
export interface NodeAppImage {
  /** The manifest digest. */
  digest: string;
  tag: string;
  /** 3, or 2 when the app has no node_modules and needs none. */
  layers: number;
}

/** The image's PATH: /usr/local/bin holds node. */
const PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

// The OCI distribution spec's tag grammar.
const TAG = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;

/**
 * Builds an OCI image of the Node.js app in `appDir` without Docker or a network, into
 * the OCI layout at `outLayoutDir` (created, or added to: other tags stay). Layers:
 * 1. the Node runtime from this host (host-runtime.ts): node, its libraries and loader,
 *    passwd/group with a `node` user (1000:1000), /tmp, the CA bundle;
 * 2. `node_modules` exactly as present in the app (never installed here: with a
 *    package-lock.json or dependencies and no node_modules, it fails and says to run
 *    `npm ci`); left out when the app has neither;
 * 3. the app's files at /app, except node_modules, .git, the output layout if it lies
 *    inside the app, and what `.aloftignore` lists (or, without one, `.dockerignore`).
 *    The ignore file does not apply to layer 2: the builder ships the modules the app
 *    has, where a Docker build would install them.
 * The config runs `node` with the arguments node-entry.ts picks from package.json, in
 * WorkingDir /app, as user 1000:1000, with PATH and NODE_ENV=production (and PORT and
 * the exposed port when package.json has `config.port`).
 * Reproducible: the same app, Node binary and epoch give the same digest, byte for byte.
 */
export async function buildNodeApp(appDir: string, outLayoutDir: string, options: NodeAppBuildOptions = {}): Promise<NodeAppImage> {
  const tag = options.tag ?? 'latest';
  if (!TAG.test(tag)) throw invalidField('build a Node app image', 'tag', 'a tag of letters, digits, "_", "." and "-" (at most 128, not starting with "." or "-")', tag);
  const epoch = sourceDateEpoch(options.sourceDateEpoch);
  const mtime = new Date(epoch * 1000);
  const dir = resolve(appDir);
  const out = resolve(outLayoutDir);
  if ((await stat(dir).catch(() => undefined))?.isDirectory() !== true) {
    throw invalidField('build a Node app image', 'appDir', 'a directory', appDir);
  }
  const rules = new IgnoreRules(await ignoreFile(dir));
  const outInside = relative(dir, out);
  const inside = outInside !== '' && !outInside.startsWith('..') && !isAbsolute(outInside) ? outInside : undefined;
  const skip = (rel: string): boolean => {
    const top = rel.split('/')[0];
    if (top === 'node_modules' || top === '.git') return true;
    if (inside !== undefined && (rel === inside || rel.startsWith(`${inside}/`))) return true;
    return rules.ignores(rel);
  };
  const app = await readNodeApp(dir, (rel) => !skip(rel));
  const modulesDir = join(dir, 'node_modules');
  const modules = await lstat(modulesDir).catch(() => undefined);
  if (modules !== undefined && !modules.isDirectory()) {
    throw new AloftError('BUILD_FAILED', `Cannot build a Node app as '${modulesDir}' must be a directory: got ${modules.isSymbolicLink() ? 'a symlink' : 'something else'}`);
  }
  if (modules === undefined) await assertNeedsNoModules(dir, app.hasDependencies);

  const existed = (await stat(out).catch(() => undefined)) !== undefined;
  try {
    const written: WrittenLayer[] = [];
    written.push(await writeLayer(out, await hostRuntimeEntries(options.nodeBinary ?? process.execPath), mtime));
    if (modules !== undefined) written.push(await writeLayer(out, await collectTree(modulesDir, { imagePath: '/app/node_modules' }), mtime));
    written.push(await writeLayer(out, await collectTree(dir, { imagePath: '/app', skip, descendIgnored: rules.hasExceptions }), mtime));
    const created = mtime.toISOString();
    const what = ['node runtime from the build host', ...(modules === undefined ? [] : ['node_modules as present in the app']), 'app files'];
    const platform = hostPlatform();
    const config = Buffer.from(
      JSON.stringify({
        created,
        architecture: platform.architecture,
        os: platform.os,
        ...(platform.variant === undefined ? {} : { variant: platform.variant }),
        config: {
          User: `${NODE_UID}:${NODE_UID}`,
          Env: [`PATH=${PATH}`, 'NODE_ENV=production', ...(app.port === undefined ? [] : [`PORT=${app.port}`])],
          Cmd: [NODE_PATH, ...app.args],
          WorkingDir: '/app',
          ...(app.port === undefined ? {} : { ExposedPorts: { [`${app.port}/tcp`]: {} } }),
          Labels: { 'org.opencontainers.image.created': created },
        },
        rootfs: { type: 'layers', diff_ids: written.map((l) => l.diffId) },
        history: what.map((w) => ({ created, created_by: `aloft build (node app): ${w}` })),
      }),
    );
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MEDIA_TYPES.ociManifest,
        config: { mediaType: MEDIA_TYPES.ociConfig, digest: sha256Digest(config), size: config.length },
        layers: written.map((l) => ({ mediaType: MEDIA_TYPES.ociLayerGzip, digest: l.digest, size: l.size })),
      }),
    );
    const digest = await addToLayout(out, { manifest, blobs: [config], tag, platform });
    return { digest, tag, layers: written.length };
  } catch (err) {
    // A layout this build created is removed whole; one that existed keeps its index
    // untouched (only complete, unreferenced blobs may remain).
    if (!existed) await rm(out, { recursive: true, force: true });
    throw err;
  }
}

/** The epoch in seconds: the option, else $SOURCE_DATE_EPOCH, else 0. */
function sourceDateEpoch(given: number | undefined): number {
  const env = process.env['SOURCE_DATE_EPOCH'];
  const field = given !== undefined ? 'sourceDateEpoch' : 'SOURCE_DATE_EPOCH';
  const value = given ?? (env === undefined || env === '' ? 0 : /^\d+$/.test(env) ? Number(env) : env);
  // tar's ustar mtime field holds 11 octal digits.
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0 || value > 0o77777777777) {
    throw invalidField('build a Node app image', field, 'whole seconds since 1970, 0 or more', value);
  }
  return value;
}

/** `.aloftignore` if the app has one, else `.dockerignore`, else nothing. */
async function ignoreFile(dir: string): Promise<string> {
  for (const name of ['.aloftignore', '.dockerignore']) {
    const text = await readFile(join(dir, name), 'utf8').catch(() => undefined);
    if (text !== undefined) return text;
  }
  return '';
}

/** Without node_modules the app must need none: no lock file and no dependencies. */
async function assertNeedsNoModules(dir: string, hasDependencies: boolean): Promise<void> {
  for (const lock of ['package-lock.json', 'npm-shrinkwrap.json']) {
    if ((await stat(join(dir, lock)).catch(() => undefined)) !== undefined || hasDependencies) {
      const why = hasDependencies ? "package.json has 'dependencies'" : `${lock} exists`;
      throw new AloftError(
        'BUILD_FAILED',
        `Cannot build a Node app as '${join(dir, 'node_modules')}' must exist when ${why}: got nothing. Run \`npm ci --omit=dev\` in ${dir} first; the builder never fetches packages`,
        { details: { path: join(dir, 'node_modules') } },
      );
    }
  }
}
