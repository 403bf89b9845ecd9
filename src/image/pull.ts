import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { AloftError } from '../lib/errors.ts';
import { sha256Digest } from './digest.ts';
import type { BlobSource, SourceImage } from './image-source.ts';
import { isIndexMediaType, isManifestMediaType, MEDIA_TYPES } from './media-types.ts';
import { imageIndexSchema, parseJson, type Descriptor } from './oci-schemas.ts';
import { formatPlatform, matchesPlatform, type Platform } from './platform.ts';
import { formatRegistryRef, type RegistryImageRef } from './registry-ref.ts';

/** A username and password (or token) sent as HTTP Basic to one registry. */
export interface RegistryCredentials {
  username: string;
  password: string;
}

/** How to reach registries when pulling. */
export interface PullOptions {
  /** The platform to pick from an index or manifest list. */
  platform: Platform;
  /** Credentials for a registry host ("host" or "host:port"), or undefined for none. */
  credentials?: (host: string) => RegistryCredentials | undefined;
  /** Hosts ("host:port" as in the ref) reached over plain http; loopback always is. */
  insecureHosts?: readonly string[];
  /** The fetch to use; tests inject one. Default: the global (undici) fetch. */
  fetch?: typeof fetch;
}

const MAX_MANIFEST = 4 << 20;
const ACCEPT = [MEDIA_TYPES.ociManifest, MEDIA_TYPES.ociIndex, MEDIA_TYPES.dockerManifest, MEDIA_TYPES.dockerManifestList].join(', ');
// Manifests are small: a registry that takes longer than this is as good as down.
const MANIFEST_TIMEOUT_MS = 30_000;

/**
 * Fetches the manifest `ref` names from its registry (descending an index or manifest
 * list to the one for `options.platform`) and verifies its digest: against the ref when
 * pulled by digest, against the index entry when reached through one. The returned
 * source fetches blobs from the registry; the caller stores them verified (see
 * ImageStore), and only those it lacks.
 */
export async function resolveRemote(ref: RegistryImageRef, options: PullOptions): Promise<SourceImage> {
  const client = new RegistryClient(ref, options);
  let manifest = await client.manifest(ref.digest ?? ref.tag ?? 'latest');
  if (ref.digest !== undefined && manifest.descriptor.digest !== ref.digest) {
    throw new AloftError('IMAGE_INVALID', `Cannot verify image '${client.name}' as its manifest digest must be ${ref.digest}: got ${manifest.descriptor.digest}`, {
      details: { digest: ref.digest, actual: manifest.descriptor.digest },
    });
  }
  if (isIndexMediaType(manifest.descriptor.mediaType)) {
    const index = parseJson(manifest.bytes, imageIndexSchema, `image index ${manifest.descriptor.digest} of '${client.name}'`);
    const chosen = index.manifests.find((d) => isManifestMediaType(d.mediaType) && matchesPlatform(d, options.platform));
    if (chosen === undefined) {
      const got = index.manifests.map((d) => (d.platform ? formatPlatform(d.platform) : d.mediaType)).join(', ') || 'none';
      throw new AloftError('IMAGE_NOT_FOUND', `Cannot pull image '${client.name}' as its index must have a manifest for ${formatPlatform(options.platform)}: got ${got}`);
    }
    manifest = await client.manifest(chosen.digest);
    if (manifest.descriptor.digest !== chosen.digest || manifest.descriptor.size !== chosen.size) {
      throw new AloftError('IMAGE_INVALID', `Cannot verify image '${client.name}' as its manifest for ${formatPlatform(options.platform)} must be ${chosen.digest} (${chosen.size} bytes): got ${manifest.descriptor.digest} (${manifest.descriptor.size} bytes)`);
    }
  }
  if (!isManifestMediaType(manifest.descriptor.mediaType)) {
    throw new AloftError('IMAGE_INVALID', `Cannot pull image '${client.name}' as its manifest must be an image manifest type: got ${manifest.descriptor.mediaType}`);
  }
  return { source: client.blobs(manifest), manifest: manifest.descriptor, tag: ref.tag };
}

interface FetchedManifest {
  bytes: Buffer;
  /** Digest and size computed from the bytes; the media type as the manifest says. */
  descriptor: Descriptor;
}

/** The HTTP side of one pull: URLs, credentials, status codes into AloftErrors. */
class RegistryClient {
  readonly name: string;
  private readonly base: string;
  private readonly headers: Record<string, string> = {};
  private readonly fetch: typeof fetch;

  constructor(
    private readonly ref: RegistryImageRef,
    options: PullOptions,
  ) {
    this.name = formatRegistryRef(ref);
    const plain = isLoopback(ref.host) || (options.insecureHosts ?? []).includes(ref.host);
    this.base = `${plain ? 'http' : 'https'}://${ref.host}/v2/${ref.repository}`;
    const creds = options.credentials?.(ref.host);
    if (creds !== undefined) this.headers.authorization = `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`;
    this.fetch = options.fetch ?? fetch;
  }

  async manifest(reference: string): Promise<FetchedManifest> {
    const res = await this.get(`manifests/${reference}`, { accept: ACCEPT }, AbortSignal.timeout(MANIFEST_TIMEOUT_MS));
    if (res.status !== 200) {
      await res.body?.cancel();
      throw new AloftError('IMAGE_NOT_FOUND', `Cannot pull image '${this.name}' as manifest '${reference}' must exist in registry ${this.ref.host}: got HTTP ${res.status}`, {
        details: { ref: this.name, status: res.status },
      });
    }
    const bytes = await readCapped(res, `manifest '${reference}' of '${this.name}'`);
    const digest = sha256Digest(bytes);
    // A registry names the digest it serves; one that disagrees with the bytes is lying or broken.
    const claimed = res.headers.get('docker-content-digest');
    if (claimed !== null && claimed !== digest) {
      throw new AloftError('IMAGE_INVALID', `Cannot verify manifest '${reference}' of '${this.name}' as its digest must be ${claimed} as the registry says: got ${digest}`);
    }
    return { bytes, descriptor: { mediaType: mediaTypeOf(bytes) ?? contentType(res) ?? '', digest, size: bytes.length } };
  }

  /** Blobs of this repository; the manifest itself comes from memory (already verified). */
  blobs(manifest: FetchedManifest): BlobSource {
    return {
      origin: `registry ${this.ref.host}/${this.ref.repository}`,
      open: async (digest) => {
        if (digest === manifest.descriptor.digest) return Readable.from([manifest.bytes]);
        const res = await this.get(`blobs/${digest}`, {});
        if (res.status !== 200 || res.body === null) {
          await res.body?.cancel();
          // The manifest names the blob, so its absence is a broken image, not a missing one.
          const code = res.status === 404 ? 'IMAGE_INVALID' : 'IMAGE_NOT_FOUND';
          throw new AloftError(code, `Cannot pull image '${this.name}' as blob ${digest} must be in registry ${this.ref.host}: got HTTP ${res.status}`, {
            details: { digest, status: res.status },
          });
        }
        return Readable.fromWeb(res.body as WebReadableStream<Uint8Array>);
      },
    };
  }

  private async get(path: string, headers: Record<string, string>, signal?: AbortSignal): Promise<Response> {
    const url = `${this.base}/${path}`;
    try {
      return await this.fetch(url, { headers: { ...this.headers, ...headers }, ...(signal === undefined ? {} : { signal }) });
    } catch (err) {
      const cause = err instanceof Error ? ((err.cause as Error | undefined)?.message ?? err.message) : String(err);
      throw new AloftError('IMAGE_NOT_FOUND', `Cannot pull image '${this.name}' as registry ${this.ref.host} must be reachable: got ${cause}`, { cause: err });
    }
  }
}

async function readCapped(res: Response, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  if (res.body === null) return Buffer.alloc(0);
  for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
    size += chunk.length;
    // Leaving the loop by a throw cancels the body.
    if (size > MAX_MANIFEST) {
      throw new AloftError('IMAGE_INVALID', `Cannot read ${what} as it must be at most 4 MiB: got more`);
    }
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks);
}

function mediaTypeOf(bytes: Buffer): string | undefined {
  try {
    const value = JSON.parse(bytes.toString('utf8')) as { mediaType?: unknown };
    return typeof value.mediaType === 'string' ? value.mediaType : undefined;
  } catch {
    return undefined; // parsed again, with a proper error, by whoever stores it
  }
}

function contentType(res: Response): string | undefined {
  return res.headers.get('content-type')?.split(';')[0]?.trim() || undefined;
}

/** True for hosts on this machine, reached over plain http as docker does. */
function isLoopback(host: string): boolean {
  const name = host.replace(/:[0-9]+$/, '');
  return name === 'localhost' || name === '[::1]' || /^127\.[0-9.]+$/.test(name);
}
