import { Readable } from 'node:stream';
import { AloftError } from '../lib/errors.ts';
import { sha256Digest } from './digest.ts';
import type { BlobSource, SourceImage } from './image-source.ts';
import { isIndexMediaType, isManifestMediaType, MEDIA_TYPES } from './media-types.ts';
import { imageIndexSchema, parseJson, type Descriptor } from './oci-schemas.ts';
import { formatPlatform, matchesPlatform, type Platform } from './platform.ts';
import { bearerChallenge } from './registry-auth-challenge.ts';
import { fetchWithRetry, unreachable, type FetchPolicy } from './registry-fetch.ts';
import { formatRegistryRef, type RegistryImageRef } from './registry-ref.ts';
import { RegistryTokens, type TokenRequest } from './registry-tokens.ts';

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
  /** Bearer tokens, shared by the pulls of one store; default: a cache for this pull only. */
  tokens?: RegistryTokens;
  /** Timeouts and retries; defaults in FetchPolicy. */
  policy?: FetchPolicy;
}

const MAX_MANIFEST = 4 << 20;
const ACCEPT = [MEDIA_TYPES.ociManifest, MEDIA_TYPES.ociIndex, MEDIA_TYPES.dockerManifest, MEDIA_TYPES.dockerManifestList].join(', ');
// An index may point at an index (e.g. attestations wrapped around a platform index); more than this is a loop or abuse.
const MAX_INDEX_DEPTH = 4;

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
  for (let depth = 0; isIndexMediaType(manifest.descriptor.mediaType); depth++) {
    const what = `image index ${manifest.descriptor.digest} of '${client.name}'`;
    if (depth >= MAX_INDEX_DEPTH) {
      throw new AloftError('IMAGE_INVALID', `Cannot pull image '${client.name}' as its indexes must nest at most ${MAX_INDEX_DEPTH} deep: got more (at ${manifest.descriptor.digest})`);
    }
    const index = parseJson(manifest.bytes, imageIndexSchema, what);
    // A manifest for the platform first; else a nested index for it (or for any platform, as nested indexes often name none).
    const chosen =
      index.manifests.find((d) => isManifestMediaType(d.mediaType) && matchesPlatform(d, options.platform)) ??
      index.manifests.find((d) => isIndexMediaType(d.mediaType) && (d.platform === undefined || matchesPlatform(d, options.platform)));
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

/** The HTTP side of one pull: URLs, credentials, Bearer tokens, status codes into AloftErrors. */
class RegistryClient {
  readonly name: string;
  private readonly base: string;
  private readonly repoKey: string;
  private readonly creds: RegistryCredentials | undefined;
  private readonly fetch: typeof fetch;
  private readonly tokens: RegistryTokens;
  private readonly policy: FetchPolicy;
  private readonly insecureHosts: readonly string[];

  constructor(
    private readonly ref: RegistryImageRef,
    options: PullOptions,
  ) {
    this.name = formatRegistryRef(ref);
    const plain = isLoopback(ref.host) || (options.insecureHosts ?? []).includes(ref.host);
    this.base = `${plain ? 'http' : 'https'}://${ref.host}/v2/${ref.repository}`;
    this.repoKey = `${ref.host}/${ref.repository}`;
    this.creds = options.credentials?.(ref.host);
    this.insecureHosts = options.insecureHosts ?? [];
    this.fetch = options.fetch ?? fetch;
    this.policy = options.policy ?? {};
    this.tokens = options.tokens ?? new RegistryTokens({ fetch: this.fetch, policy: this.policy });
  }

  async manifest(reference: string): Promise<FetchedManifest> {
    const res = await this.get(`manifests/${reference}`, { accept: ACCEPT });
    if (res.status !== 200) {
      await res.body?.cancel();
      throw new AloftError(res.status >= 500 ? 'IMAGE_PULL_FAILED' : 'IMAGE_NOT_FOUND', `Cannot pull image '${this.name}' as manifest '${reference}' must exist in registry ${this.ref.host}: got HTTP ${res.status}`, {
        details: { ref: this.name, status: res.status },
      });
    }
    const bytes = await readCapped(res, `manifest '${reference}' of '${this.name}'`).catch((err: unknown) => {
      throw unreachable(err, `pull manifest '${reference}' of '${this.name}'`, this.ref.host);
    });
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
          const code = res.status === 404 ? 'IMAGE_INVALID' : res.status >= 500 ? 'IMAGE_PULL_FAILED' : 'IMAGE_NOT_FOUND';
          throw new AloftError(code, `Cannot pull image '${this.name}' as blob ${digest} must be in registry ${this.ref.host}: got HTTP ${res.status}`, {
            details: { digest, status: res.status },
          });
        }
        return Readable.from(this.bodyOf(res, `pull blob ${digest} of '${this.name}'`), { objectMode: false });
      },
    };
  }

  /** The body's chunks, a stall or a reset raised as an AloftError naming the blob. */
  private async *bodyOf(res: Response, action: string): AsyncGenerator<Uint8Array> {
    try {
      yield* res.body as AsyncIterable<Uint8Array>;
    } catch (err) {
      throw unreachable(err, action, this.ref.host);
    }
  }

  /**
   * GETs `path` of the repository. Sends a Bearer token when the repository asked for
   * one before (this pull or an earlier one sharing the token cache), else the Basic
   * credentials if any. A 401 with a Bearer challenge gets a token from its realm and
   * one retry; a 401 after that is IMAGE_PULL_UNAUTHORIZED.
   */
  private async get(path: string, headers: Record<string, string>): Promise<Response> {
    const known = this.tokens.challengeFor(this.repoKey);
    let sent = known === undefined ? undefined : await this.tokens.get(known, this.creds);
    let res = await this.send(path, headers, sent);
    if (res.status !== 401) return res;
    const challenge = bearerChallenge(res.headers.get('www-authenticate'));
    if (challenge === undefined) return res;
    await res.body?.cancel();
    // A registry that gives no scope still wants one for this repository.
    const request: TokenRequest = { ...challenge, scope: challenge.scope ?? `repository:${this.ref.repository}:pull` };
    this.checkRealm(request.realm);
    if (sent !== undefined && known !== undefined) this.tokens.invalidate(known, this.creds, sent);
    this.tokens.remember(this.repoKey, request);
    sent = await this.tokens.get(request, this.creds);
    res = await this.send(path, headers, sent);
    if (res.status === 401) {
      await res.body?.cancel();
      throw new AloftError('IMAGE_PULL_UNAUTHORIZED', `Cannot pull image '${this.name}' as registry ${this.ref.host} must accept the token from ${request.realm} (scope ${request.scope}): got HTTP 401`, {
        details: { ref: this.name, realm: request.realm, status: 401 },
      });
    }
    return res;
  }

  /**
   * The registry names the realm, so a hostile one could ask for our password over plain
   * http anywhere: credentials go only to https realms, or http on loopback or on a host
   * the operator marked insecure.
   */
  private checkRealm(realm: string): void {
    if (this.creds === undefined) return;
    let url: URL | undefined;
    try {
      url = new URL(realm);
    } catch {
      return; // RegistryTokens reports it
    }
    if (url.protocol === 'https:' || isLoopback(url.host) || this.insecureHosts.includes(url.host)) return;
    throw new AloftError('IMAGE_PULL_UNAUTHORIZED', `Cannot pull image '${this.name}' as the token realm must be https to be sent credentials: got ${realm}`, {
      details: { ref: this.name, realm },
    });
  }

  private async send(path: string, headers: Record<string, string>, token: string | undefined): Promise<Response> {
    const auth: Record<string, string> = {};
    if (token !== undefined) auth.authorization = `Bearer ${token}`;
    else if (this.creds !== undefined) auth.authorization = `Basic ${Buffer.from(`${this.creds.username}:${this.creds.password}`).toString('base64')}`;
    try {
      return await fetchWithRetry(this.fetch, `${this.base}/${path}`, { ...headers, ...auth }, this.policy);
    } catch (err) {
      throw unreachable(err, `pull image '${this.name}'`, this.ref.host);
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
