import { readFile } from 'node:fs/promises';
import { posix } from 'node:path';
import { gzipSync } from 'node:zlib';
import { pack, type Header } from 'tar-stream';
import { AloftError, invalidField } from '../lib/errors.ts';
import { sha256Digest } from './digest.ts';
import { MEDIA_TYPES } from './media-types.ts';
import { hostPlatform, type Platform } from './platform.ts';
import type { ImageConfig } from './types.ts';
import { addToLayout } from './write-layout.ts';

/** One entry of the single layer writeOciLayout builds. */
export interface ImageFile {
  /** Path inside the image, e.g. "/bin/busybox". Missing parent dirs are added (0755). */
  path: string;
  /** Default "file". */
  type?: 'file' | 'dir' | 'symlink';
  /** A file's bytes; or give `sourcePath` to copy a host file. */
  content?: string | Buffer;
  sourcePath?: string;
  /** Default 0644 for files, 0755 for dirs. */
  mode?: number;
  /** A symlink's target, kept as written. */
  linkTarget?: string;
  uid?: number;
  gid?: number;
}

/** What to build: files, the run config and the tag to file it under. */
export interface OciLayoutSpec {
  files: ImageFile[];
  config: Partial<ImageConfig>;
  /** Default "latest". An existing layout keeps its other tags. */
  tag?: string;
  /** Default: this host's platform. */
  platform?: Platform;
  /** The image's creation time and every entry's mtime; default the epoch, so builds are reproducible. */
  created?: Date;
}

/** What writeOciLayout wrote. */
export interface BuiltImage {
  /** The layout directory. */
  path: string;
  tag: string;
  /** The manifest digest. */
  digest: string;
}

/**
 * Builds an image without Docker: one gzip layer from `files`, its config and
 * manifest, filed under `tag` in the OCI image layout at `dir` (created or added to).
 * The same spec always gives the same digests.
 */
export async function writeOciLayout(dir: string, spec: OciLayoutSpec): Promise<BuiltImage> {
  const platform = spec.platform ?? hostPlatform();
  const tag = spec.tag ?? 'latest';
  const created = spec.created ?? new Date(0);
  const tar = await buildTar(spec.files, created);
  const layer = gzipSync(tar, { level: 9 });
  const c = spec.config;
  const config = Buffer.from(
    JSON.stringify({
      created: created.toISOString(),
      architecture: platform.architecture,
      os: platform.os,
      ...(platform.variant === undefined ? {} : { variant: platform.variant }),
      config: {
        ...(c.entrypoint === undefined ? {} : { Entrypoint: c.entrypoint }),
        ...(c.cmd === undefined ? {} : { Cmd: c.cmd }),
        ...(c.env === undefined ? {} : { Env: c.env }),
        ...(c.workingDir === undefined ? {} : { WorkingDir: c.workingDir }),
        ...(c.user === undefined ? {} : { User: c.user }),
        ...(c.exposedPorts === undefined ? {} : { ExposedPorts: Object.fromEntries(c.exposedPorts.map((p) => [`${p}/tcp`, {}])) }),
      },
      rootfs: { type: 'layers', diff_ids: [sha256Digest(tar)] },
      history: [{ created: created.toISOString(), created_by: 'aloft writeOciLayout' }],
    }),
  );
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.ociManifest,
      config: { mediaType: MEDIA_TYPES.ociConfig, digest: sha256Digest(config), size: config.length },
      layers: [{ mediaType: MEDIA_TYPES.ociLayerGzip, digest: sha256Digest(layer), size: layer.length }],
    }),
  );
  const digest = await addToLayout(dir, { manifest, blobs: [config, layer], tag, platform });
  return { path: dir, tag, digest };
}

/** The layer as an uncompressed tar: parents first, sorted, fixed mtimes. */
async function buildTar(files: ImageFile[], mtime: Date): Promise<Buffer> {
  const entries = new Map<string, ImageFile>();
  for (const file of files) {
    const name = cleanPath(file.path);
    for (let parent = posix.dirname(name); parent !== '.'; parent = posix.dirname(parent)) {
      if (!entries.has(parent)) entries.set(parent, { path: parent, type: 'dir' });
    }
    entries.set(name, file);
  }
  const tar = pack();
  const chunks: Buffer[] = [];
  tar.on('data', (chunk: unknown) => {
    chunks.push(chunk as Buffer);
  });
  const done = new Promise<void>((resolve, reject) => {
    tar.on('end', () => resolve());
    tar.on('error', reject);
  });
  for (const name of [...entries.keys()].sort()) {
    const file = entries.get(name) as ImageFile;
    const type = file.type ?? 'file';
    const header: Header = {
      name: type === 'dir' ? `${name}/` : name,
      mode: file.mode ?? (type === 'file' ? 0o644 : 0o755),
      uid: file.uid ?? 0,
      gid: file.gid ?? 0,
      mtime,
      type: type === 'dir' ? 'directory' : type,
      linkname: '',
      size: 0,
      uname: '',
      gname: '',
      devmajor: 0,
      devminor: 0,
    };
    if (type === 'symlink') {
      if (!file.linkTarget) throw invalidField('build image', `files['${file.path}'].linkTarget`, 'set for a symlink', file.linkTarget);
      header.linkname = file.linkTarget;
    }
    const body = type === 'file' ? await contentOf(file) : Buffer.alloc(0);
    header.size = body.length;
    await new Promise<void>((resolve, reject) => tar.entry(header, body, (err) => (err ? reject(err) : resolve())));
  }
  tar.finalize();
  await done;
  return Buffer.concat(chunks);
}

async function contentOf(file: ImageFile): Promise<Buffer> {
  if (file.sourcePath !== undefined) return readFile(file.sourcePath);
  if (file.content === undefined) throw invalidField('build image', `files['${file.path}']`, 'given content or sourcePath', undefined);
  return typeof file.content === 'string' ? Buffer.from(file.content) : file.content;
}

function cleanPath(path: string): string {
  const parts = path.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.length === 0 || parts.includes('..')) {
    throw new AloftError('INVALID_ARGUMENT', `Cannot build image as a file 'path' must name something below / without '..': got ${JSON.stringify(path)}`);
  }
  return parts.join('/');
}
