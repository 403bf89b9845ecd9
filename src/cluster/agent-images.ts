import type { AgentImages } from '../agent/ports.ts';
import { AloftError, invalidField, isAloftError } from '../lib/errors.ts';
import type { ImageStore, ImageStoreOptions } from '../image/index.ts';
import type { Store } from '../store/store.ts';

/** How an agent reaches the platform's own registry (`aloft registry` or `aloft up`'s). */
export interface PlatformRegistryAccess {
  /** `host:port` as image refs name it (what the API recorded in `imageRef.registry`). */
  host: string;
  /** Options for the agent's ImageStore: the operator token for that host only, plain http when its URL is http. */
  imageStoreOptions: Pick<ImageStoreOptions, 'credentials' | 'insecureRegistries'>;
}

/**
 * The agent's access to the platform's registry at `url` (e.g. `http://10.0.0.5:5000`):
 * it is behind the API's tokens, so pulls from it carry the operator token the agent
 * already holds (as `aloft up` does for its own). The token goes to that host:port and
 * nowhere else: any other registry a Machine names gets no credentials from aloft.
 */
export function platformRegistryAccess(url: string, operatorToken: string, action = 'start the agent'): PlatformRegistryAccess {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw invalidField(action, 'registry', "the platform registry's URL, e.g. http://10.0.0.5:5000", url);
  }
  if ((parsed.protocol !== 'http:' && parsed.protocol !== 'https:') || (parsed.pathname !== '/' && parsed.pathname !== '') || parsed.username !== '' || parsed.search !== '') {
    throw invalidField(action, 'registry', "an http:// or https:// URL of host and port only, e.g. http://10.0.0.5:5000", url);
  }
  const host = parsed.host;
  return {
    host,
    imageStoreOptions: {
      credentials: (registryHost) => (registryHost === host ? { username: 'aloft', password: operatorToken } : undefined),
      // aloft's registry serves plain http; its URL says so, as for `aloft images build`.
      ...(parsed.protocol === 'http:' ? { insecureRegistries: [host] } : {}),
    },
  };
}

/**
 * The images of a cluster host. The API resolved each Machine's image into its own
 * ImageStore; this host fetches it into its own the first time a Machine here needs
 * it: a registry image by `registry/repository@digest` (never a tag, which may have
 * moved), a local one (an OCI layout or archive path on a shared disk) by the
 * reference the Machine was created with, checked to be the same digest.
 */
export class ClusterAgentImages implements Pick<AgentImages, 'imageConfig' | 'unpack' | 'ext4Image'> {
  readonly #images: ImageStore;
  readonly #store: Store;
  readonly #hostId: string;
  readonly #platformRegistry: string | undefined;
  readonly #fetching = new Map<string, Promise<void>>();

  /** `platformRegistry`: the host:port the ImageStore sends the operator token to, for messages. */
  constructor(images: ImageStore, store: Store, hostId: string, platformRegistry?: string) {
    this.#images = images;
    this.#store = store;
    this.#hostId = hostId;
    this.#platformRegistry = platformRegistry;
  }

  async imageConfig(digest: string): Promise<Awaited<ReturnType<AgentImages['imageConfig']>>> {
    await this.#present(digest);
    return (await this.#images.get(digest)).config;
  }

  async unpack(digest: string): Promise<string> {
    await this.#present(digest);
    return this.#images.unpack(digest);
  }

  async ext4Image(digest: string): Promise<string> {
    await this.#present(digest);
    return this.#images.ext4Image(digest);
  }

  /** Fetches the image once when this host does not hold it yet; concurrent asks share it. */
  #present(digest: string): Promise<void> {
    let pending = this.#fetching.get(digest);
    if (pending === undefined) {
      pending = this.#fetch(digest).finally(() => this.#fetching.delete(digest));
      this.#fetching.set(digest, pending);
    }
    return pending;
  }

  async #fetch(digest: string): Promise<void> {
    const held = await this.#images.get(digest).then(
      () => true,
      () => false,
    );
    if (held) return;
    const machine = (await this.#store.listMachines({ hostId: this.#hostId })).find((m) => m.imageRef.digest === digest);
    if (!machine) throw new AloftError('IMAGE_NOT_FOUND', `Cannot fetch image ${digest} as a Machine on host ${this.#hostId} must use it: got none`);
    const { registry, repository } = machine.imageRef;
    const ref = registry === 'local' ? machine.config.image : `${registry}/${repository}@${digest}`;
    const resolved = await this.#images.resolve(ref).catch((err: unknown) => {
      throw this.#refused(err, ref, registry, machine.id);
    });
    if (resolved.digest !== digest) {
      throw new AloftError('IMAGE_NOT_FOUND', `Cannot fetch image ${digest} for machine ${machine.id} as '${ref}' must still be that image on this host: got ${resolved.digest}`);
    }
  }

  /**
   * A registry's 401 said plainly: which registry, and whether this agent sent it the
   * operator token (only the platform's own registry, given by `--registry`, gets it).
   */
  #refused(err: unknown, ref: string, registry: string, machineId: string): unknown {
    if (!isAloftError(err) || (err.details?.['status'] !== 401 && err.code !== 'IMAGE_PULL_UNAUTHORIZED')) return err;
    const own = this.#platformRegistry;
    const what =
      registry === own
        ? `the operator token this agent sends it (--token-file): got HTTP 401 (is the file the API's api-token, which the registry checks?)`
        : `this agent's pull: got HTTP 401 without credentials (${own === undefined ? "the operator token goes only to the platform's registry, given to the agent as --registry URL" : `the operator token goes only to the platform's registry ${own}`})`;
    return new AloftError('IMAGE_PULL_UNAUTHORIZED', `Cannot fetch image '${ref}' for machine ${machineId} as registry ${registry} must accept ${what}`, {
      cause: err,
      details: { ref, registry, machine: machineId },
    });
  }
}
