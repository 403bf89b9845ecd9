import { toAloftError } from '../lib/errors.ts';
import { silentLogger, type Logger } from '../lib/log.ts';
import { expandIpv6, formatIpv6 } from '../net/sixpn.ts';
import type { AppIp } from '../store/peer-store.ts';
import type { Change, Store } from '../store/store.ts';

/** What the directory reads from the store. */
export type FlycastSource = Pick<Store, 'revision' | 'listIps' | 'watch'>;

/**
 * Every Flycast address and its app, kept current from the store's watch (revision,
 * list, then a watch from it, so nothing falls between). Synchronous lookups for the
 * proxy's listeners (`appOf`) and the DNS server's `<app>.flycast` (`addressesOf`).
 * An app's delete drops its addresses (the SQLite store removes them with the app
 * without an `ip` change of their own).
 */
export class FlycastDirectory {
  readonly #store: FlycastSource;
  readonly #log: Logger;
  readonly #byAddress = new Map<string, AppIp>();
  readonly #listeners = new Set<() => void>();
  #unwatch: (() => void) | undefined;

  constructor(store: FlycastSource, options: { log?: Logger } = {}) {
    this.#store = store;
    this.#log = options.log ?? silentLogger;
  }

  /** Loads and follows the store. Throws STORE_FAILED when the first load fails. */
  async start(): Promise<void> {
    try {
      const revision = await this.#store.revision();
      for (const ip of await this.#store.listIps()) if (ip.type === 'private_v6') this.#byAddress.set(canonical(ip.address), ip);
      this.#unwatch = this.#store.watch((change) => this.#apply(change), {
        fromRevision: revision,
        onError: (err) => this.#log.error({ err }, 'flycast: store watch fell behind; addresses may be stale until restart'),
      });
    } catch (err) {
      throw toAloftError(err, 'STORE_FAILED');
    }
  }

  stop(): void {
    this.#unwatch?.();
    this.#unwatch = undefined;
  }

  /** The app a Flycast address belongs to (any IPv6 spelling), or undefined. */
  appOf(address: string): string | undefined {
    return this.#byAddress.get(canonical(address))?.app;
  }

  /** The app's Flycast addresses, sorted. Pass `(app) => directory.addressesOf(app)` as the DNS server's `flycast`. */
  addressesOf(app: string): string[] {
    return [...this.#byAddress.values()]
      .filter((ip) => ip.app === app)
      .map((ip) => canonical(ip.address))
      .sort();
  }

  /** Every Flycast address held now, sorted. */
  addresses(): string[] {
    return [...this.#byAddress.keys()].sort();
  }

  /** Calls `listener` after each change to the addresses. */
  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => void this.#listeners.delete(listener);
  }

  #apply(change: Change): void {
    if (change.kind === 'ip') {
      if (change.op === 'put' && change.ip.type === 'private_v6') this.#byAddress.set(canonical(change.ip.address), change.ip);
      else this.#byAddress.delete(canonical(change.key));
    } else if (change.kind === 'app' && change.op === 'delete') {
      for (const [address, ip] of this.#byAddress) if (ip.app === change.key) this.#byAddress.delete(address);
    } else {
      return;
    }
    for (const listener of this.#listeners) listener();
  }
}

/** RFC 5952 text, so `fdaa:0:7:0:0:1:0:2` and `fdaa:0:7::1:0:2` are one key. */
function canonical(address: string): string {
  const groups = expandIpv6(address);
  return groups === null ? address : formatIpv6(groups);
}
