import type { AgentImages } from '../agent/ports.ts';
import { AloftError } from '../lib/errors.ts';
import type { ImageStore } from '../image/index.ts';
import type { Store } from '../store/store.ts';

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
  readonly #fetching = new Map<string, Promise<void>>();

  constructor(images: ImageStore, store: Store, hostId: string) {
    this.#images = images;
    this.#store = store;
    this.#hostId = hostId;
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
    const resolved = await this.#images.resolve(ref);
    if (resolved.digest !== digest) {
      throw new AloftError('IMAGE_NOT_FOUND', `Cannot fetch image ${digest} for machine ${machine.id} as '${ref}' must still be that image on this host: got ${resolved.digest}`);
    }
  }
}
