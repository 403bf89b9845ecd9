import { createWriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { gunzipSync } from 'node:zlib';
import { pack } from 'tar-stream';
import { digestHex, sha256Digest } from './digest.ts';
import { directoryFiles } from './image-source.ts';
import { MEDIA_TYPES } from './media-types.ts';
import { resolveLayout } from './oci-layout.ts';
import { imageManifestSchema, parseJson } from './oci-schemas.ts';
import { hostPlatform } from './platform.ts';

/** How to write the archive: as `docker save` did before Docker 25, or as it does since. */
export type DockerArchiveFormat = 'legacy' | 'oci';

/**
 * Exports one image of an OCI layout as a `docker save` tarball, loadable by
 * `docker load`. "legacy": manifest.json, `<config hex>.json` and uncompressed
 * `<diff id hex>/layer.tar`; "oci": the OCI layout itself plus manifest.json. Layers
 * are held in memory while written: meant for small images (examples, tests).
 */
export async function writeDockerArchive(
  layoutDir: string,
  file: string,
  options: { tag?: string; repository: string; format: DockerArchiveFormat },
): Promise<void> {
  const tag = options.tag ?? 'latest';
  const image = await resolveLayout(directoryFiles(layoutDir), { tag }, hostPlatform());
  const blob = (digest: string): Promise<Buffer> => readFile(join(layoutDir, 'blobs', 'sha256', digestHex(digest)));
  const manifestBytes = await blob(image.manifest.digest);
  const manifest = parseJson(manifestBytes, imageManifestSchema, `image manifest ${image.manifest.digest}`);
  const repoTag = `${options.repository}:${tag}`;
  const files: [string, Buffer][] = [];
  if (options.format === 'legacy') {
    const configName = `${digestHex(manifest.config.digest)}.json`;
    files.push([configName, await blob(manifest.config.digest)]);
    const layers: string[] = [];
    for (const layer of manifest.layers) {
      const compressed = await blob(layer.digest);
      const tar = layer.mediaType === MEDIA_TYPES.ociLayer ? compressed : gunzipSync(compressed);
      const name = `${digestHex(sha256Digest(tar))}/layer.tar`;
      files.push([name, tar]);
      layers.push(name);
    }
    files.push(['manifest.json', Buffer.from(JSON.stringify([{ Config: configName, RepoTags: [repoTag], Layers: layers }]))]);
  } else {
    const blobName = (digest: string): string => `blobs/sha256/${digestHex(digest)}`;
    for (const digest of [image.manifest.digest, manifest.config.digest, ...manifest.layers.map((l) => l.digest)]) {
      files.push([blobName(digest), await blob(digest)]);
    }
    files.push(['oci-layout', Buffer.from(JSON.stringify({ imageLayoutVersion: '1.0.0' }))]);
    const annotations = { 'io.containerd.image.name': `docker.io/library/${repoTag}`, 'org.opencontainers.image.ref.name': tag };
    files.push(['index.json', Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_TYPES.ociIndex, manifests: [{ ...image.manifest, annotations }] }))]);
    const entry = { Config: blobName(manifest.config.digest), RepoTags: [repoTag], Layers: manifest.layers.map((l) => blobName(l.digest)) };
    files.push(['manifest.json', Buffer.from(JSON.stringify([entry]))]);
  }
  const tar = pack();
  const written = pipeline(tar, createWriteStream(file));
  for (const [name, data] of files) {
    await new Promise<void>((resolve, reject) => tar.entry({ name, size: data.length, mode: 0o644, mtime: new Date(0) }, data, (err) => (err ? reject(err) : resolve())));
  }
  tar.finalize();
  await written;
}
