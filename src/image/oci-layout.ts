import { AloftError } from '../lib/errors.ts';
import { readVerified } from './digest.ts';
import { layoutBlobs, readSmall, type BlobSource, type LayoutFiles, type SourceImage } from './image-source.ts';
import { isIndexMediaType, isManifestMediaType } from './media-types.ts';
import { imageIndexSchema, ociLayoutFileSchema, parseJson, type Descriptor } from './oci-schemas.ts';
import { formatPlatform, matchesPlatform, type Platform } from './platform.ts';

const REF_NAME = 'org.opencontainers.image.ref.name';
const CONTAINERD_NAME = 'io.containerd.image.name';
// Indexes nest (a tag's index, then per-platform manifests); deeper is a loop or abuse.
const MAX_DEPTH = 4;

/**
 * Finds the manifest an OCI image layout holds for a tag or digest (or its only or
 * "latest" image), descending image indexes to the manifest for `platform`. Every
 * index read on the way is verified against its descriptor.
 */
export async function resolveLayout(
  files: LayoutFiles,
  want: { tag?: string; digest?: string },
  platform: Platform,
): Promise<SourceImage> {
  const origin = files.origin;
  const layoutFile = await readSmall(files, 'oci-layout');
  if (layoutFile === undefined) {
    throw new AloftError('IMAGE_INVALID', `Cannot read image at ${origin} as it must be an OCI image layout or a docker-archive: got no 'oci-layout' file`);
  }
  parseJson(layoutFile, ociLayoutFileSchema, `oci-layout in ${origin}`);
  const indexFile = await readSmall(files, 'index.json');
  if (indexFile === undefined) {
    throw new AloftError('IMAGE_INVALID', `Cannot read image at ${origin} as an OCI image layout must have 'index.json': got none`);
  }
  const index = parseJson(indexFile, imageIndexSchema, `index.json in ${origin}`);
  const blobs = layoutBlobs(files);

  if (want.digest !== undefined) {
    const found = await findDigest(blobs, index.manifests, want.digest, 0);
    if (found === undefined) {
      throw new AloftError('IMAGE_NOT_FOUND', `Cannot resolve image at ${origin} as digest ${want.digest} must be listed in its index: got no such manifest`);
    }
    return { source: blobs, manifest: await pick(blobs, [found], platform, origin, 0), tag: tagOf(found) };
  }
  let candidates = index.manifests;
  if (want.tag !== undefined) {
    candidates = candidates.filter((d) => tagOf(d) === want.tag);
    if (candidates.length === 0) {
      throw new AloftError('IMAGE_NOT_FOUND', `Cannot resolve image at ${origin} as tag '${want.tag}' must be in its index: got tags ${listTags(index.manifests)}`, {
        details: { tag: want.tag },
      });
    }
  } else if (new Set(candidates.map(tagOf)).size > 1) {
    // Several images and no tag asked for: "latest" is what a bare name means elsewhere.
    candidates = candidates.filter((d) => tagOf(d) === 'latest');
    if (candidates.length === 0) {
      throw new AloftError('IMAGE_NOT_FOUND', `Cannot resolve image at ${origin} as it holds several images, so the reference must name a tag: got none (tags ${listTags(index.manifests)})`);
    }
  }
  const first = candidates[0];
  const tag = want.tag ?? (first === undefined ? undefined : tagOf(first));
  return { source: blobs, manifest: await pick(blobs, candidates, platform, origin, 0), tag };
}

/** The tag an index entry carries: a bare ref name, or the tag of a full one. */
export function tagOf(descriptor: Descriptor): string | undefined {
  const name = descriptor.annotations?.[REF_NAME] ?? descriptor.annotations?.[CONTAINERD_NAME];
  if (name === undefined) return undefined;
  const colon = name.lastIndexOf(':');
  if (colon < 0) return name.includes('/') ? undefined : name;
  return colon > name.lastIndexOf('/') ? name.slice(colon + 1) : undefined;
}

async function pick(blobs: BlobSource, candidates: Descriptor[], platform: Platform, where: string, depth: number): Promise<Descriptor> {
  const usable = candidates.filter((d) => isIndexMediaType(d.mediaType) || isManifestMediaType(d.mediaType));
  const only = usable.length === 1 ? usable[0] : undefined;
  const chosen = usable.find((d) => matchesPlatform(d, platform)) ?? (only && !only.platform ? only : undefined);
  if (chosen === undefined) {
    const got = usable.map((d) => (d.platform ? formatPlatform(d.platform) : d.mediaType)).join(', ') || 'none';
    throw new AloftError('IMAGE_NOT_FOUND', `Cannot resolve image in ${where} as it must have a manifest for ${formatPlatform(platform)}: got ${got}`);
  }
  if (isManifestMediaType(chosen.mediaType)) return chosen;
  const index = await readIndex(blobs, chosen, depth);
  return pick(blobs, index.manifests, platform, `image index ${chosen.digest}`, depth + 1);
}

async function findDigest(blobs: BlobSource, manifests: Descriptor[], digest: string, depth: number): Promise<Descriptor | undefined> {
  const direct = manifests.find((d) => d.digest === digest);
  if (direct !== undefined) return direct;
  for (const d of manifests) {
    if (!isIndexMediaType(d.mediaType)) continue;
    const found = await findDigest(blobs, (await readIndex(blobs, d, depth)).manifests, digest, depth + 1);
    if (found !== undefined) return found;
  }
  return undefined;
}

async function readIndex(blobs: BlobSource, descriptor: Descriptor, depth: number) {
  const what = `image index ${descriptor.digest}`;
  if (depth >= MAX_DEPTH) throw new AloftError('IMAGE_INVALID', `Cannot read ${what} as indexes must nest at most ${MAX_DEPTH} deep: got deeper`);
  if (descriptor.size > 4 << 20) throw new AloftError('IMAGE_INVALID', `Cannot read ${what} as it must be at most 4 MiB: got ${descriptor.size} bytes`);
  return parseJson(await readVerified(await blobs.open(descriptor.digest), descriptor, what), imageIndexSchema, what);
}

function listTags(manifests: Descriptor[]): string {
  const tags = manifests.map(tagOf).filter((t) => t !== undefined);
  return tags.length === 0 ? 'none' : tags.map((t) => `'${t}'`).join(', ');
}
