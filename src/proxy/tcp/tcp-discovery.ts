import type { Logger } from '../../lib/log.ts';
import type { RouteTable } from '../route-table.ts';
import type { TcpListener, TcpService } from './tcp-listener.ts';

export interface TcpDiscoveryOptions {
  table: RouteTable;
  /** Makes (not starts) the listener for one app's TCP service port. */
  listenerFor(service: TcpService): TcpListener;
  /** Ports the edge uses itself (HTTP, TLS): never given to an app. */
  reserved: () => readonly number[];
  log: Logger;
}

/**
 * Raw TCP services found in Machines' configs: every edge port without the `http`
 * handler (plain TCP, `tls`, `proxy_proto`) gets a listener of its own while some
 * Machine of the app declares it, and loses it when none does. An edge port is one
 * number on the edge's address, so two apps cannot both have it: the first app to
 * declare it keeps it and the other is logged (Fly gives such apps their own IPs;
 * aloft's edge has one address). Listener changes run one at a time, in order.
 */
export class TcpDiscovery {
  readonly #options: TcpDiscoveryOptions;
  readonly #listeners = new Map<number, TcpListener>();
  /** Apps refused a port (taken): logged once, and given another look when it frees. */
  readonly #refused = new Map<number, Set<string>>();
  #queue: Promise<void> = Promise.resolve();
  #unsubscribe: (() => void) | undefined;
  #closed = false;

  constructor(options: TcpDiscoveryOptions) {
    this.#options = options;
  }

  /** Opens listeners for what the table holds now, then follows its changes. */
  async start(): Promise<void> {
    this.#unsubscribe = this.#options.table.onChange((app) => this.#enqueue(app));
    for (const app of this.#options.table.appNames()) this.#enqueue(app);
    await this.#queue;
  }

  /** `app:port` → the port bound, for every service listening now. */
  ports(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [port, listener] of this.#listeners) out[`${listener.service.app}:${listener.service.port}`] = port;
    return out;
  }

  /** Resolves once the changes seen so far are applied (for tests). */
  settled(): Promise<void> {
    return this.#queue;
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#unsubscribe?.();
    await this.#queue;
    const listeners = [...this.#listeners.values()];
    this.#listeners.clear();
    await Promise.all(listeners.map((l) => l.close()));
  }

  #enqueue(app: string): void {
    this.#queue = this.#queue.then(() => this.#reconcile(app)).catch((err: unknown) => this.#options.log.error({ err, app }, 'proxy: TCP service discovery failed'));
  }

  async #reconcile(app: string): Promise<void> {
    if (this.#closed) return;
    const { table, log } = this.#options;
    const wanted = new Set(table.servicePorts(app).filter((p) => !p.handlers.includes('http')).map((p) => p.port));
    for (const [port, listener] of this.#listeners) {
      if (listener.service.app === app && !wanted.has(port)) {
        this.#listeners.delete(port);
        await listener.close();
        log.info({ app, port }, 'proxy: TCP service port closed');
        for (const waiting of this.#refused.get(port) ?? []) this.#enqueue(waiting);
        this.#refused.delete(port);
      }
    }
    const reserved = new Set(this.#options.reserved());
    for (const port of wanted) {
      const holder = this.#listeners.get(port);
      if (holder?.service.app === app) continue;
      if (holder !== undefined || reserved.has(port)) {
        const refused = this.#refused.get(port) ?? new Set<string>();
        this.#refused.set(port, refused);
        if (!refused.has(app)) {
          refused.add(app);
          log.warn({ app, port, holder: holder?.service.app ?? 'the edge itself' }, 'proxy: TCP service port is taken; not served for this app');
        }
        continue;
      }
      const listener = this.#options.listenerFor({ app, port });
      try {
        await listener.listen();
        this.#listeners.set(port, listener);
        log.info({ app, port }, 'proxy: TCP service port open');
      } catch (err) {
        log.warn({ err, app, port }, 'proxy: cannot listen for a TCP service port');
      }
    }
  }
}
