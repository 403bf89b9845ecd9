import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { Readable } from 'node:stream';
import { extract } from 'tar-stream';
import { AloftError, isAloftError } from '../lib/errors.ts';
import { decompress, detectCompression } from './decompress.ts';
import { sha256Digest, type BlobRef } from './digest.ts';
import { readSmall, type BlobSource, type LayoutFiles, type SourceImage } from './image-source.ts';
import { MEDIA_TYPES } from './media-types.ts';
import { resolveLayout } from './oci-layout.ts';
import { dockerArchiveManifestSchema, imageConfigSchema, parseJson, type Descriptor } from './oci-schemas.ts';
import type { Platform } from './platform.ts';

/** One regular file of a staged archive: where it was copied, and its hash. */
interface StagedFile extends BlobRef {
  path: string;
}

/** The files of a tarball, copied out once so they can be read in any order. */
export interface StagedArchive extends LayoutFiles {
  /** The staged file for an archive name, following the archive's symlinks. */
  lookup(name: string): StagedFile | undefined;
  /** The staged file with this digest. */
  byDigest(digest: string): StagedFile | undefined;
}

/**
 * Copies every regular file of a (possibly gzipped) tarball into `stageDir` under a
 * counter name, hashing as it goes. Archive names never become paths, so a hostile
 * archive cannot write anywhere; symlinks are kept as a name map (`docker save` links
 * duplicate layers to the first copy).
 */
export async function stageArchive(file: string, stageDir: string): Promise<StagedArchive> {
  await mkdir(stageDir, { recursive: true });
  const files = new Map<string, StagedFile>();
  const links = new Map<string, string>();
  const tar = extract();
  try {
    const input = await decompress(createReadStream(file), `archive ${file}`);
    input.on('error', (err) => tar.destroy(err));
    input.pipe(tar);
    for await (const entry of tar) {
      const name = clean(entry.header.name);
      const type = entry.header.type ?? 'file';
      if (name !== undefined && (type === 'file' || type === 'contiguous-file')) {
        const path = join(stageDir, String(files.size));
        const hash = createHash('sha256');
        const out = await open(path, 'wx', 0o600);
        let size = 0;
        try {
          for await (const chunk of entry as AsyncIterable<Buffer>) {
            hash.update(chunk);
            size += chunk.length;
            await out.write(chunk);
          }
        } finally {
          await out.close();
        }
        files.set(name, { path, size, digest: `sha256:${hash.digest('hex')}` });
      } else if (name !== undefined && type === 'symlink' && entry.header.linkname) {
        const target = entry.header.linkname.startsWith('/') ? entry.header.linkname : posix.join(posix.dirname(name), entry.header.linkname);
        const cleaned = clean(target);
        if (cleaned !== undefined) links.set(name, cleaned);
      }
      entry.resume();
    }
  } catch (err) {
    tar.destroy();
    if (isAloftError(err)) throw err;
    throw new AloftError('IMAGE_INVALID', `Cannot read image at ${file} as it must be an OCI layout directory or a docker-archive tarball: got ${(err as Error).message}`, {
      cause: err,
    });
  }
  const lookup = (name: string): StagedFile | undefined => {
    let current = clean(name);
    for (let hops = 0; current !== undefined && hops < 16; hops++) {
      const found = files.get(current);
      if (found !== undefined) return found;
      current = links.get(current);
    }
    return undefined;
  };
  return {
    origin: file,
    lookup,
    byDigest: (digest) => [...files.values()].find((f) => f.digest === digest),
    async open(name) {
      const found = lookup(name);
      return found === undefined ? undefined : createReadStream(found.path);
    },
  };
}

/**
 * Resolves an image in a staged `docker save` archive: the OCI layout that Docker 25+
 * writes inside it when present, else the legacy `manifest.json` form, for which an
 * OCI manifest is written from the archive (its digest is that of aloft's manifest;
 * uncompressed layers are checked against the config's diff_ids).
 */
export async function resolveDockerArchive(
  staged: StagedArchive,
  want: { tag?: string; digest?: string },
  platform: Platform,
): Promise<SourceImage> {
  if (staged.lookup('oci-layout') !== undefined && staged.lookup('index.json') !== undefined) {
    return resolveLayout(staged, want, platform);
  }
  const origin = staged.origin;
  const manifestFile = await readSmall(staged, 'manifest.json');
  if (manifestFile === undefined) {
    throw new AloftError('IMAGE_INVALID', `Cannot read image at ${origin} as a docker-archive must have 'manifest.json' or 'index.json': got neither`);
  }
  const entries = parseJson(manifestFile, dockerArchiveManifestSchema, `manifest.json in ${origin}`);
  const entry = want.tag === undefined ? entries[0] : entries.find((e) => e.RepoTags?.some((t) => repoTagTag(t) === want.tag));
  if (entry === undefined) {
    const tags = entries.flatMap((e) => e.RepoTags ?? []).join(', ') || 'none';
    throw new AloftError('IMAGE_NOT_FOUND', `Cannot resolve image at ${origin} as tag '${want.tag}' must be in its manifest.json: got ${tags}`);
  }
  const config = mustFind(staged, entry.Config, 'config');
  const named = /([a-f0-9]{64})(?:\.json)?$/.exec(entry.Config)?.[1];
  if (named !== undefined && `sha256:${named}` !== config.digest) {
    throw new AloftError('IMAGE_INVALID', `Cannot verify config ${entry.Config} in ${origin} as its digest must be sha256:${named}: got ${config.digest}`);
  }
  const configJson = parseJson((await readSmall(staged, entry.Config)) ?? Buffer.alloc(0), imageConfigSchema, `config ${entry.Config} in ${origin}`);
  const diffIds = configJson.rootfs.diff_ids;
  if (diffIds.length !== entry.Layers.length) {
    throw new AloftError('IMAGE_INVALID', `Cannot read image at ${origin} as its config must list one diff_id per layer: got ${diffIds.length} for ${entry.Layers.length} layers`);
  }
  const layers: Descriptor[] = [];
  for (const [i, name] of entry.Layers.entries()) {
    const layer = mustFind(staged, name, 'layer');
    const compression = detectCompression(await head(layer.path));
    if (compression === 'none' && layer.digest !== diffIds[i]) {
      throw new AloftError('IMAGE_INVALID', `Cannot verify layer ${name} in ${origin} as its digest must be ${diffIds[i]} as rootfs.diff_ids[${i}] says: got ${layer.digest}`);
    }
    const mediaType = compression === 'gzip' ? MEDIA_TYPES.ociLayerGzip : compression === 'zstd' ? MEDIA_TYPES.ociLayerZstd : MEDIA_TYPES.ociLayer;
    layers.push({ mediaType, digest: layer.digest, size: layer.size });
  }
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.ociManifest,
      config: { mediaType: MEDIA_TYPES.ociConfig, digest: config.digest, size: config.size },
      layers,
    }),
  );
  const manifestRef = { mediaType: MEDIA_TYPES.ociManifest, digest: sha256Digest(manifest), size: manifest.length };
  // Docker calls the config digest the image id, so either pins the image.
  if (want.digest !== undefined && want.digest !== manifestRef.digest && want.digest !== config.digest) {
    throw new AloftError('IMAGE_NOT_FOUND', `Cannot resolve image at ${origin} as digest ${want.digest} must be its manifest or image id: got ${manifestRef.digest}`);
  }
  const source: BlobSource = {
    origin,
    async open(digest) {
      if (digest === manifestRef.digest) return Readable.from([manifest]);
      const found = staged.byDigest(digest);
      if (found === undefined) throw new AloftError('IMAGE_INVALID', `Cannot import image from ${origin} as blob ${digest} must be in the archive: got none`);
      return createReadStream(found.path);
    },
  };
  const firstTag = entry.RepoTags?.[0];
  return { source, manifest: manifestRef, tag: want.tag ?? (firstTag === undefined ? undefined : repoTagTag(firstTag)) };
}

function mustFind(staged: StagedArchive, name: string, what: string): StagedFile {
  const found = staged.lookup(name);
  if (found === undefined) {
    throw new AloftError('IMAGE_INVALID', `Cannot read image at ${staged.origin} as its ${what} '${name}' must be in the archive: got no such file`);
  }
  return found;
}

/** "hello:latest" → "latest"; "registry:5000/hello" → undefined. */
function repoTagTag(repoTag: string): string | undefined {
  const colon = repoTag.lastIndexOf(':');
  return colon > repoTag.lastIndexOf('/') ? repoTag.slice(colon + 1) : undefined;
}

/** A tar name made relative and clean; undefined when it climbs out with "..". */
function clean(name: string): string | undefined {
  const normal = posix.normalize(`/${name}`).slice(1).replace(/\/$/, '');
  return normal === '' || normal.split('/').includes('..') ? undefined : normal;
}

async function head(path: string): Promise<Buffer> {
  const file = await open(path, 'r');
  try {
    const buf = Buffer.alloc(4);
    const { bytesRead } = await file.read(buf, 0, 4, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await file.close();
  }
}
