import { toAloftError } from '../../lib/errors.ts';
import { silentLogger, type Logger } from '../../lib/log.ts';
import type { UserPeer } from '../../store/peer-store.ts';
import type { Change, Store } from '../../store/store.ts';

/** What the directory reads from the store. */
export type PeerDirectorySource = Pick<Store, 'revision' | 'listPeers' | 'watch'>;

/**
 * Every org's user peers, kept current from the store's watch, for answers that must be
 * synchronous: the DNS server's `_peer.internal` (`startDnsServer({ peers:
 * directory.txt })`). Loaded as the DNS view is: revision, list, then a watch from it.
 */
export class PeerDirectory {
  readonly #store: PeerDirectorySource;
  readonly #log: Logger;
  /** `org/name` → peer. */
  readonly #peers = new Map<string, UserPeer>();
  #unwatch: (() => void) | undefined;

  constructor(store: PeerDirectorySource, options: { log?: Logger } = {}) {
    this.#store = store;
    this.#log = options.log ?? silentLogger;
  }

  /** Loads and follows the store. Throws STORE_FAILED when the first load fails. */
  async start(): Promise<void> {
    try {
      const revision = await this.#store.revision();
      for (const peer of await this.#store.listPeers()) this.#peers.set(`${peer.org}/${peer.name}`, peer);
      this.#unwatch = this.#store.watch((change) => this.#apply(change), {
        fromRevision: revision,
        onError: (err) => this.#log.error({ err }, 'peers: store watch fell behind; _peer.internal may be stale until restart'),
      });
    } catch (err) {
      throw toAloftError(err, 'STORE_FAILED');
    }
  }

  stop(): void {
    this.#unwatch?.();
    this.#unwatch = undefined;
  }

  /** The org's peers, by name. */
  peersOf(org: string): UserPeer[] {
    return [...this.#peers.values()].filter((p) => p.org === org).sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  /** `_peer.internal` TXT strings for `org`: its peers' names (Fly's answer). Pass as the DNS server's `peers`. */
  readonly txt = (org: string): string[] => this.peersOf(org).map((p) => p.name);

  #apply(change: Change): void {
    if (change.kind !== 'peer') return;
    if (change.op === 'put') this.#peers.set(change.key, change.peer);
    else this.#peers.delete(change.key);
  }
}
