import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { digestHex, sha256Digest } from './digest.ts';
import { MEDIA_TYPES } from './media-types.ts';
import { imageIndexSchema, parseJson, type Descriptor } from './oci-schemas.ts';
import type { Platform } from './platform.ts';

const REF_NAME = 'org.opencontainers.image.ref.name';

/**
 * Writes blobs and a manifest into the OCI image layout at `dir` and files the
 * manifest under `tag` in index.json (replacing what that tag named). Each file is
 * written whole, then renamed, so readers never see a partial blob or index.
 * Returns the manifest digest.
 */
export async function addToLayout(
  dir: string,
  image: { manifest: Buffer; blobs: Buffer[]; tag: string; platform: Platform },
): Promise<string> {
  await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
  for (const blob of [...image.blobs, image.manifest]) await writeBlob(dir, blob);
  await writeAtomic(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  const indexPath = join(dir, 'index.json');
  const existing = await readFile(indexPath).catch(() => undefined);
  const manifests: Descriptor[] = existing === undefined ? [] : parseJson(existing, imageIndexSchema, `index.json in ${dir}`).manifests;
  const digest = sha256Digest(image.manifest);
  const entry: Descriptor = {
    mediaType: MEDIA_TYPES.ociManifest,
    digest,
    size: image.manifest.length,
    platform: { architecture: image.platform.architecture, os: image.platform.os },
    annotations: { [REF_NAME]: image.tag },
  };
  const kept = manifests.filter((d) => d.annotations?.[REF_NAME] !== image.tag);
  await writeAtomic(indexPath, JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_TYPES.ociIndex, manifests: [...kept, entry] }));
  return digest;
}

async function writeBlob(dir: string, blob: Buffer): Promise<void> {
  const path = join(dir, 'blobs', 'sha256', digestHex(sha256Digest(blob)));
  if ((await stat(path).catch(() => undefined))?.size === blob.length) return;
  await writeAtomic(path, blob);
}

async function writeAtomic(path: string, data: string | Buffer): Promise<void> {
  const tmp = `${path}.tmp-${randomBytes(6).toString('hex')}`;
  await writeFile(tmp, data, { mode: 0o644 });
  await rename(tmp, path);
}
