import { mkdir, readFile, rename, rm, stat, writeFile, chmod } from 'node:fs/promises';
import { basename, join, resolve as resolvePath } from 'node:path';
import { AloftError } from '../lib/errors.ts';
import { silentLogger, type Logger } from '../lib/log.ts';
import { BlobStore } from './blob-store.ts';
import { digestHex, sha256Digest } from './digest.ts';
import { resolveDockerArchive, stageArchive } from './docker-archive.ts';
import { buildExt4Image, type Ext4ImageOptions } from './ext4-image.ts';
import { toImageConfig } from './image-config.ts';
import { parseLocalRef } from './image-ref.ts';
import { directoryFiles, type SourceImage } from './image-source.ts';
import { isLayerMediaType, isManifestMediaType, MEDIA_TYPES } from './media-types.ts';
import { resolveLayout } from './oci-layout.ts';
import { imageConfigSchema, imageManifestSchema, parseJson, type ImageManifest, type OciImageConfig } from './oci-schemas.ts';
import { formatPlatform, hostPlatform, type Platform } from './platform.ts';
import { resolveRemote, type RegistryCredentials } from './pull.ts';
import type { FetchPolicy } from './registry-fetch.ts';
import { RegistryTokens } from './registry-tokens.ts';
import { formatRegistryRef, parseRegistryRef, type RegistryImageRef } from './registry-ref.ts';
import type { ImageConfig, ResolvedImage } from './types.ts';
import { unpackLayer } from './unpack-layer.ts';
import { UnpackBudget, type UnpackLimits } from './unpack-limits.ts';

/** Options of an ImageStore. */
export interface ImageStoreOptions {
  /** The platform to pick from image indexes; default: this host's (linux/amd64 here). */
  platform?: Platform;
  /** Let layers create device nodes (trusted images only). */
  allowDevices?: boolean;
  /** Bounds on unpacking one image; default DEFAULT_UNPACK_LIMITS. */
  unpackLimits?: Partial<UnpackLimits>;
  /** Credentials for a registry host ("host:port" as in refs), sent as HTTP Basic. */
  credentials?: (host: string) => RegistryCredentials | undefined;
  /** Registry hosts reached over plain http; loopback ones always are. */
  insecureRegistries?: readonly string[];
  /** The fetch used to pull; tests inject one. */
  fetch?: typeof fetch;
  /** Timeouts and retries of pulls; defaults in FetchPolicy. */
  pullPolicy?: FetchPolicy;
  /** How ext4Image builds base images (headroom, inodes, the command runner). */
  ext4?: Ext4ImageOptions;
  log?: Logger;
}

/** What the store knows of an image it holds, read back from its blobs. */
export interface StoredImage {
  config: ImageConfig;
  /** Layer digests as in the manifest, bottom first. */
  layers: string[];
}

const MAX_JSON_BLOB = 4 << 20;

/**
 * The images of one host, under `dir`:
 * - `blobs/sha256/<hex>`: verified blobs (manifests, configs, layers), shared by images;
 * - `refs/<hash of ref>.json`: which manifest a reference last resolved to;
 * - `unpacked/<manifest hex>/`: an image's root filesystem, read-only by convention
 *   (Machines get an overlay on top, see rootfs.ts);
 * - `ext4/<manifest hex>.ext4`: the same root as an ext4 image for microVMs, read-only
 *   (Machines get a copy, see ext4-disk.ts);
 * - `tmp/`: staging; nothing there is ever referenced.
 */
export class ImageStore {
  readonly blobs: BlobStore;
  private readonly platform: Platform;
  private readonly log: Logger;
  private readonly unpacking = new Map<string, Promise<string>>();
  private readonly building = new Map<string, Promise<string>>();
  // One token cache for every pull of this store, so concurrent pulls fetch one token.
  private readonly tokens: RegistryTokens;

  constructor(
    readonly dir: string,
    private readonly options: ImageStoreOptions = {},
  ) {
    this.blobs = new BlobStore(dir);
    this.platform = options.platform ?? hostPlatform();
    this.log = (options.log ?? silentLogger).child({ part: 'image' });
    this.tokens = new RegistryTokens({
      ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
      ...(options.pullPolicy === undefined ? {} : { policy: options.pullPolicy }),
    });
  }

  /**
   * Resolves a local reference ("path", "path:tag", "path@sha256:…"; path an OCI
   * layout directory or a docker-archive tarball) or a registry one
   * ("host[:port]/repo[:tag|@sha256:…]", pulled), imports its blobs (verified; present
   * ones are not copied or fetched again) and records the reference.
   */
  async resolve(ref: string): Promise<ResolvedImage> {
    const remote = await registryRefOf(ref);
    if (remote !== undefined) return this.pull(ref, remote);
    const { path, tag, digest } = await locate(ref);
    const want = { ...(tag === undefined ? {} : { tag }), ...(digest === undefined ? {} : { digest }) };
    let image: SourceImage;
    let imported: { manifest: ImageManifest; config: OciImageConfig };
    if ((await stat(path)).isDirectory()) {
      image = await resolveLayout(directoryFiles(path), want, this.platform);
      imported = await this.importImage(image);
    } else {
      const stageDir = await this.blobs.tmpPath('stage');
      try {
        image = await resolveDockerArchive(await stageArchive(path, stageDir), want, this.platform);
        imported = await this.importImage(image);
      } finally {
        await rm(stageDir, { recursive: true, force: true });
      }
    }
    const resolved: ResolvedImage = {
      ref,
      digest: image.manifest.digest,
      registry: 'local',
      repository: basename(path).replace(/(\.tar|\.tar\.gz|\.tgz)$/, ''),
      tag: image.tag ?? (digest === undefined ? 'latest' : ''),
      config: toImageConfig(imported.config),
      layers: imported.manifest.layers.map((l) => l.digest),
    };
    await this.recordRef(refKey(path, want), resolved.digest);
    this.log.debug({ ref, digest: resolved.digest }, 'image resolved');
    return resolved;
  }

  /** The manifest digest `ref` last resolved to here, if any (no image is read). */
  async lookup(ref: string): Promise<string | undefined> {
    const remote = await registryRefOf(ref);
    let key: string;
    if (remote === undefined) {
      const parsed = parseLocalRef(ref);
      key = refKey(parsed.path, parsed);
    } else {
      key = remoteKey(remote);
    }
    const record = await readFile(this.refPath(key), 'utf8').catch(() => undefined);
    return record === undefined ? undefined : (JSON.parse(record) as { digest: string }).digest;
  }

  /** Pulls a registry image: the manifest always (tags move), blobs only when absent. */
  private async pull(ref: string, remote: RegistryImageRef): Promise<ResolvedImage> {
    const o = this.options;
    const image = await resolveRemote(remote, {
      platform: this.platform,
      tokens: this.tokens,
      ...(o.pullPolicy === undefined ? {} : { policy: o.pullPolicy }),
      ...(o.credentials === undefined ? {} : { credentials: o.credentials }),
      ...(o.insecureRegistries === undefined ? {} : { insecureHosts: o.insecureRegistries }),
      ...(o.fetch === undefined ? {} : { fetch: o.fetch }),
    });
    const imported = await this.importImage(image);
    const resolved: ResolvedImage = {
      ref,
      digest: image.manifest.digest,
      registry: remote.host,
      repository: remote.repository,
      tag: remote.tag ?? '',
      config: toImageConfig(imported.config),
      layers: imported.manifest.layers.map((l) => l.digest),
    };
    await this.recordRef(remoteKey(remote), resolved.digest);
    this.log.debug({ ref, digest: resolved.digest }, 'image pulled');
    return resolved;
  }

  /** The config and layers of an image this store holds, by manifest digest. */
  async get(digest: string): Promise<StoredImage> {
    const { manifest, config } = await this.readStored(digest);
    return { config: toImageConfig(config), layers: manifest.layers.map((l) => l.digest) };
  }

  /**
   * The directory holding the image's root filesystem, unpacked once: into a temp dir,
   * renamed into place when complete. Concurrent calls for one digest share the work.
   */
  unpack(digest: string): Promise<string> {
    const hex = digestHex(digest, 'image digest');
    let pending = this.unpacking.get(hex);
    if (pending === undefined) {
      pending = this.unpackOnce(digest, hex).finally(() => this.unpacking.delete(hex));
      this.unpacking.set(hex, pending);
    }
    return pending;
  }

  private async unpackOnce(digest: string, hex: string): Promise<string> {
    const parent = join(this.dir, 'unpacked');
    const target = join(parent, hex);
    if (await isDir(target)) return target;
    const { manifest } = await this.readStored(digest);
    // 0700 parents: unpacked images hold setuid files no host user should reach.
    await mkdir(parent, { recursive: true, mode: 0o700 });
    await chmod(parent, 0o700);
    const tmp = await this.blobs.tmpPath(`unpack-${hex.slice(0, 12)}`);
    await chmod(join(this.dir, 'tmp'), 0o700);
    await mkdir(tmp, { mode: 0o755 });
    // One budget for all layers: the limits are per image.
    const budget = new UnpackBudget(this.options.unpackLimits);
    try {
      for (const layer of manifest.layers) {
        const opts = { digest: layer.digest, budget, ...(this.options.allowDevices === undefined ? {} : { allowDevices: this.options.allowDevices }) };
        await unpackLayer(tmp, await this.blobs.open(layer.digest), opts);
      }
      await rename(tmp, target);
    } catch (err) {
      await rm(tmp, { recursive: true, force: true });
      // Another process finished the same image first: theirs is as good as ours.
      const code = (err as NodeJS.ErrnoException).code;
      if ((code === 'ENOTEMPTY' || code === 'EEXIST') && (await isDir(target))) return target;
      throw err;
    }
    this.log.info({ digest, layers: manifest.layers.length }, 'image unpacked');
    return target;
  }

  /**
   * The path of a read-only ext4 image of the image's root filesystem (for microVM
   * Machines, which copy it: prepareExt4Disk), built once per manifest digest from the
   * unpacked root. Concurrent calls for one digest share one build; a failed build
   * leaves no file behind, and the next call tries again.
   */
  ext4Image(digest: string): Promise<string> {
    const hex = digestHex(digest, 'image digest');
    let pending = this.building.get(hex);
    if (pending === undefined) {
      pending = this.buildExt4Once(digest, hex).finally(() => this.building.delete(hex));
      this.building.set(hex, pending);
    }
    return pending;
  }

  private async buildExt4Once(digest: string, hex: string): Promise<string> {
    const parent = join(this.dir, 'ext4');
    const target = join(parent, `${hex}.ext4`);
    if (await exists(target)) return target;
    const root = await this.unpack(digest);
    // 0700 like unpacked/: the images hold the same setuid files.
    await mkdir(parent, { recursive: true, mode: 0o700 });
    await chmod(parent, 0o700);
    // Read-only: Machines write to their copies (prepareExt4Disk), never to the base.
    const built = await buildExt4Image(root, target, { ...this.options.ext4, mode: 0o444 });
    this.log.info({ digest, bytes: built.bytes, inodes: built.inodes }, 'ext4 image built');
    return target;
  }

  /** Copies manifest, config and layers into the blob store, verifying each. */
  private async importImage(image: SourceImage): Promise<{ manifest: ImageManifest; config: OciImageConfig }> {
    const desc = image.manifest;
    const what = `image manifest ${desc.digest}`;
    if (desc.size > MAX_JSON_BLOB) throw new AloftError('IMAGE_INVALID', `Cannot read ${what} as it must be at most 4 MiB: got ${desc.size} bytes`);
    await this.blobs.put(desc, what, () => image.source.open(desc.digest));
    const manifest = parseJson(await this.blobs.read(desc.digest), imageManifestSchema, what);
    if (manifest.mediaType !== undefined && !isManifestMediaType(manifest.mediaType)) {
      throw new AloftError('IMAGE_INVALID', `Cannot read ${what} as 'mediaType' must be an image manifest type: got ${manifest.mediaType}`);
    }
    const configDesc = manifest.config;
    if (configDesc.mediaType !== MEDIA_TYPES.ociConfig && configDesc.mediaType !== MEDIA_TYPES.dockerConfig) {
      throw new AloftError('IMAGE_INVALID', `Cannot read ${what} as 'config.mediaType' must be an image config type: got ${configDesc.mediaType}`);
    }
    if (configDesc.size > MAX_JSON_BLOB) throw new AloftError('IMAGE_INVALID', `Cannot read config ${configDesc.digest} as it must be at most 4 MiB: got ${configDesc.size} bytes`);
    await this.blobs.put(configDesc, `image config ${configDesc.digest}`, () => image.source.open(configDesc.digest));
    const config = this.checkConfig(parseJson(await this.blobs.read(configDesc.digest), imageConfigSchema, `image config ${configDesc.digest}`), manifest, configDesc.digest);
    let copied = 0;
    for (const [i, layer] of manifest.layers.entries()) {
      if (!isLayerMediaType(layer.mediaType)) {
        throw new AloftError('IMAGE_INVALID', `Cannot read ${what} as 'layers.${i}.mediaType' must be a layer type: got ${layer.mediaType}`);
      }
      if (await this.blobs.put(layer, `layer ${layer.digest}`, () => image.source.open(layer.digest))) copied++;
    }
    this.log.debug({ digest: desc.digest, layers: manifest.layers.length, copied }, 'image imported');
    return { manifest, config };
  }

  private checkConfig(config: OciImageConfig, manifest: ImageManifest, digest: string): OciImageConfig {
    const what = `image config ${digest}`;
    if (config.os !== this.platform.os || config.architecture !== this.platform.architecture) {
      throw new AloftError('IMAGE_INVALID', `Cannot use ${what} as its platform must be ${formatPlatform(this.platform)}: got ${formatPlatform(config)}`);
    }
    if (config.rootfs.diff_ids.length !== manifest.layers.length) {
      throw new AloftError('IMAGE_INVALID', `Cannot use ${what} as 'rootfs.diff_ids' must have one entry per layer (${manifest.layers.length}): got ${config.rootfs.diff_ids.length}`);
    }
    return config;
  }

  private async readStored(digest: string): Promise<{ manifest: ImageManifest; config: OciImageConfig }> {
    const manifest = parseJson(await this.blobs.read(digest), imageManifestSchema, `image manifest ${digest}`);
    const config = parseJson(await this.blobs.read(manifest.config.digest), imageConfigSchema, `image config ${manifest.config.digest}`);
    return { manifest, config };
  }

  private async recordRef(key: string, digest: string): Promise<void> {
    const path = this.refPath(key);
    await mkdir(join(this.dir, 'refs'), { recursive: true });
    const tmp = await this.blobs.tmpPath('ref');
    await writeFile(tmp, JSON.stringify({ ref: key, digest, at: new Date().toISOString() }));
    await rename(tmp, path);
  }

  // One file per reference, so concurrent resolves of different refs never collide.
  private refPath(key: string): string {
    return join(this.dir, 'refs', `${digestHex(sha256Digest(key))}.json`);
  }
}

/** Finds the file a reference names; IMAGE_NOT_FOUND naming the path when none. */
async function locate(ref: string): Promise<{ path: string; tag?: string; digest?: string }> {
  const parsed = parseLocalRef(ref);
  if (await exists(parsed.path)) return parsed;
  // A colon may belong to the file name itself ("/images/app:v1" with no tag).
  if (parsed.path !== ref && (await exists(ref))) return { path: ref };
  throw new AloftError('IMAGE_NOT_FOUND', `Cannot resolve image '${ref}' as path ${parsed.path} must exist: got nothing there`, {
    details: { path: parsed.path },
  });
}

/**
 * The registry reference `ref` is, or undefined when it is local: a path that exists,
 * or starts with "/" or ".", stays local even when it looks like "host/repo".
 */
async function registryRefOf(ref: string): Promise<RegistryImageRef | undefined> {
  let remote: RegistryImageRef | undefined;
  let malformed: unknown;
  try {
    remote = parseRegistryRef(ref);
  } catch (err) {
    malformed = err;
  }
  if (remote === undefined && malformed === undefined) return undefined;
  if ((await exists(ref)) || (await exists(localPath(ref)))) return undefined;
  if (malformed !== undefined) throw malformed;
  return remote;
}

function localPath(ref: string): string {
  try {
    return parseLocalRef(ref).path;
  } catch {
    return ref;
  }
}

// Prefixed so no local path's key can equal a registry ref's.
function remoteKey(remote: RegistryImageRef): string {
  return `registry:${formatRegistryRef(remote)}`;
}

function refKey(path: string, want: { tag?: string | undefined; digest?: string | undefined }): string {
  return `${resolvePath(path)}${want.tag === undefined ? '' : `:${want.tag}`}${want.digest === undefined ? '' : `@${want.digest}`}`;
}

async function exists(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined)) !== undefined;
}

async function isDir(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isDirectory() ?? false;
}
